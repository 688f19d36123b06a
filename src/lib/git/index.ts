/**
 * Git safety checks for secrets files: ask git whether a file is tracked or
 * ignored, and add the narrowest `.gitignore` rule when needed.
 */
export {
  type AddedGitignoreRule,
  ensureIgnored,
  type EnsureIgnoredOptions,
  type EnsureIgnoredResult,
  explainIneffectiveRules,
  gitignoreRuleFor,
} from './ensure.js'
export {
  checkGitSafety,
  describeIgnoreRule,
  type GitSafetyOptions,
  type GitSafetyVerdict,
  type IgnoreRule,
  type IgnoreRuleKind,
  isTracked,
  locateInRepo,
  normaliseInputPath,
  type RepoLocation,
} from './safety.js'
export {DEFAULT_GIT_TIMEOUT_MS, GIT_LOCATION_VARIABLES, gitEnvironment, GitSpawnError, type GitRunResult, runGit, type RunGitOptions} from './run.js'
