/**
 * Build metadata of a CI job, attached to its per-build key (builds are told
 * apart): CI provider, build number and URL, commit, branch,
 * repository URL and version.
 *
 * The provider's name comes from `ci-info`; the values from the provider's
 * documented variables (GitHub Actions, GitLab CI, CircleCI, Jenkins,
 * Buildkite, Azure Pipelines, Bitbucket), then from git itself
 * (`git rev-parse HEAD`, the branch, the `origin` remote) for whatever is
 * still missing. Credentials in remote URLs are removed.
 */
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import type {KeyMetadata} from '../../core/wire.js'
import type {Env} from '../../lib/io.js'

/** Where each metadata value came from (for `--json` and `--debug`). */
export type MetadataSource = 'ci' | 'git' | 'package.json' | 'flag'

/** Result of {@link detectBuildMetadata}. */
export interface DetectedMetadata {
  metadata: KeyMetadata
  sources: Partial<Record<keyof KeyMetadata, MetadataSource>>
}

type Reader = (env: Env) => Partial<KeyMetadata>

const v = (env: Env, name: string): string | undefined => {
  const value = env[name]
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}

/** Provider readers, keyed by ci-info's vendor id. */
const PROVIDERS: Record<string, Reader> = {
  GITHUB_ACTIONS: (env) => {
    const server = v(env, 'GITHUB_SERVER_URL') ?? 'https://github.com'
    const repo = v(env, 'GITHUB_REPOSITORY')
    const runId = v(env, 'GITHUB_RUN_ID')
    const attempt = v(env, 'GITHUB_RUN_ATTEMPT')
    return {
      commit: v(env, 'GITHUB_SHA'),
      branch: v(env, 'GITHUB_HEAD_REF') ?? v(env, 'GITHUB_REF_NAME'),
      build: v(env, 'GITHUB_RUN_NUMBER'),
      buildUrl: repo && runId ? `${server}/${repo}/actions/runs/${runId}${attempt && attempt !== '1' ? `/attempts/${attempt}` : ''}` : undefined,
      repository: repo ? `${server}/${repo}` : undefined,
    }
  },
  GITLAB: (env) => ({
    commit: v(env, 'CI_COMMIT_SHA'),
    branch: v(env, 'CI_COMMIT_BRANCH') ?? v(env, 'CI_COMMIT_REF_NAME') ?? v(env, 'CI_MERGE_REQUEST_SOURCE_BRANCH_NAME'),
    build: v(env, 'CI_PIPELINE_IID') ?? v(env, 'CI_PIPELINE_ID'),
    buildUrl: v(env, 'CI_JOB_URL') ?? v(env, 'CI_PIPELINE_URL'),
    repository: v(env, 'CI_PROJECT_URL'),
  }),
  CIRCLE: (env) => ({
    commit: v(env, 'CIRCLE_SHA1'),
    branch: v(env, 'CIRCLE_BRANCH'),
    build: v(env, 'CIRCLE_BUILD_NUM'),
    buildUrl: v(env, 'CIRCLE_BUILD_URL'),
    repository: v(env, 'CIRCLE_REPOSITORY_URL'),
  }),
  JENKINS: (env) => ({
    commit: v(env, 'GIT_COMMIT'),
    branch: v(env, 'BRANCH_NAME') ?? v(env, 'GIT_BRANCH'),
    build: v(env, 'BUILD_NUMBER'),
    buildUrl: v(env, 'BUILD_URL'),
    repository: v(env, 'GIT_URL'),
  }),
  BUILDKITE: (env) => ({
    commit: v(env, 'BUILDKITE_COMMIT'),
    branch: v(env, 'BUILDKITE_BRANCH'),
    build: v(env, 'BUILDKITE_BUILD_NUMBER'),
    buildUrl: v(env, 'BUILDKITE_BUILD_URL'),
    repository: v(env, 'BUILDKITE_REPO'),
  }),
  AZURE_PIPELINES: (env) => {
    const collection = v(env, 'SYSTEM_COLLECTIONURI')
    const project = v(env, 'SYSTEM_TEAMPROJECT')
    const buildId = v(env, 'BUILD_BUILDID')
    return {
      commit: v(env, 'BUILD_SOURCEVERSION'),
      branch: v(env, 'BUILD_SOURCEBRANCHNAME'),
      build: v(env, 'BUILD_BUILDNUMBER'),
      buildUrl: collection && project && buildId ? `${collection}${project}/_build/results?buildId=${buildId}` : undefined,
      repository: v(env, 'BUILD_REPOSITORY_URI'),
    }
  },
  BITBUCKET: (env) => {
    const origin = v(env, 'BITBUCKET_GIT_HTTP_ORIGIN')
    const build = v(env, 'BITBUCKET_BUILD_NUMBER')
    return {
      commit: v(env, 'BITBUCKET_COMMIT'),
      branch: v(env, 'BITBUCKET_BRANCH'),
      build,
      buildUrl: origin && build ? `${origin}/addon/pipelines/home#!/results/${build}` : undefined,
      repository: origin,
    }
  },
}

/**
 * Removes credentials from a URL: user info, and the values of query
 * parameters named like credentials (`token`, `access_token`, `password`, …);
 * scp-like `git@host:org/repo` is kept.
 */
export function stripCredentials(url: string): string {
  try {
    const parsed = new URL(url)
    let changed = false
    if (parsed.username !== '' || parsed.password !== '') {
      parsed.username = ''
      parsed.password = ''
      changed = true
    }
    for (const name of [...parsed.searchParams.keys()]) {
      if (/^(?:token|access_token|private_token|job_token|password|passwd|secret|key|api_key|apikey|sig|signature|code|auth)$/i.test(name)) {
        parsed.searchParams.delete(name)
        changed = true
      }
    }
    return changed ? parsed.href : url
  } catch {
    return url.replace(/\/\/[^/@\s]*@/, '//')
  }
}

/** Options of {@link detectBuildMetadata}. */
export interface DetectOptions {
  env: Env
  /** Directory of the checkout (git and package.json are looked up there). */
  cwd: string
  /** `--version`, else package.json's `version`. */
  version?: string
  /** ci-info's view of the environment: `{id, name}` of the detected vendor, or nulls. */
  ci: {id: string | null; name: string | null}
  /** Runs git (`runGit` from lib/git) — injected for tests. */
  git: (args: string[]) => Promise<string | undefined>
}

/**
 * Detects the metadata of the current build. Never throws: a value that
 * cannot be found is left out.
 */
export async function detectBuildMetadata(options: DetectOptions): Promise<DetectedMetadata> {
  const metadata: KeyMetadata = {}
  const sources: DetectedMetadata['sources'] = {}
  const set = (field: keyof KeyMetadata, value: string | undefined, source: MetadataSource): void => {
    if (value === undefined || value === '' || metadata[field] !== undefined) return
    metadata[field] = value
    sources[field] = source
  }
  if (options.ci.name !== null) set('ciProvider', options.ci.name, 'ci')
  const reader = options.ci.id === null ? undefined : PROVIDERS[options.ci.id]
  if (reader) {
    for (const [field, value] of Object.entries(reader(options.env)) as Array<[keyof KeyMetadata, string | undefined]>) {
      // Any URL-valued field (repository, buildUrl, …) loses its credentials.
      set(field, value !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? stripCredentials(value) : value, 'ci')
    }
  }
  if (metadata.commit === undefined) set('commit', await options.git(['rev-parse', 'HEAD']), 'git')
  if (metadata.branch === undefined) {
    const branch = await options.git(['rev-parse', '--abbrev-ref', 'HEAD'])
    set('branch', branch === 'HEAD' ? undefined : branch, 'git')
  }
  if (metadata.repository === undefined) {
    const remote = await options.git(['remote', 'get-url', 'origin'])
    set('repository', remote === undefined ? undefined : stripCredentials(remote), 'git')
  }
  if (options.version !== undefined) set('version', options.version, 'flag')
  else {
    const pkg = await readFile(join(options.cwd, 'package.json'), 'utf8')
      .then((text) => JSON.parse(text) as {version?: unknown})
      .catch(() => undefined)
    if (typeof pkg?.version === 'string') set('version', pkg.version, 'package.json')
  }
  return {metadata, sources}
}
