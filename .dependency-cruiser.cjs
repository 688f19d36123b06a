/**
 * Import rules of the codebase (docs/architecture.md), checked by
 * test/architecture/import-rules.test.ts in `npm test`:
 *
 * - core imports nothing of ours (src/core is shared by the CLI, the service and the verifier);
 * - the CLI never imports the service: only the `server …` commands (the server plugin) may;
 * - the verifier library imports only core, and no npm package (it installs with no dependencies);
 * - SQL only under repositories: only src/server/repositories and src/server/db use the
 *   database libraries (type-only imports of their types are fine).
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-nothing-of-ours',
      comment: 'src/core is the shared base of the CLI, the service and the verifier: it imports only other core modules.',
      severity: 'error',
      from: {path: '^src/core/'},
      to: {path: '^src/', pathNot: '^src/core/'},
    },
    {
      name: 'cli-never-imports-the-service',
      comment: 'The CLI (commands, services, lib, views, hooks, the fast path) never imports src/server; only src/commands/server/** (the server plugin) does.',
      severity: 'error',
      from: {path: '^src/(commands/|services/|lib/|views/|hooks/|fast-path\\.ts$|start\\.ts$|load-bundle\\.ts$|index\\.ts$)', pathNot: '^src/commands/server/'},
      to: {path: '^src/server/'},
    },
    {
      name: 'verify-imports-only-core',
      comment: 'The verifier library (apikey/verify) imports only src/core and itself.',
      severity: 'error',
      from: {path: '^src/verify/'},
      to: {path: '^src/', pathNot: '^src/(core|verify)/'},
    },
    {
      name: 'verify-has-no-npm-dependencies',
      comment: 'The verifier library installs with no runtime dependencies: node: built-ins only.',
      severity: 'error',
      from: {path: '^src/verify/'},
      to: {dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown']},
    },
    {
      name: 'sql-only-in-repositories',
      comment: 'Queries live in src/server/repositories (and the connection and migrations in src/server/db); everything else calls a repository.',
      severity: 'error',
      from: {pathNot: '^src/server/(repositories|db)/'},
      to: {path: 'node_modules/(kysely|better-sqlite3)/', dependencyTypesNot: ['type-only']},
    },
    {
      name: 'not-to-unresolvable',
      comment: 'Every import resolves (a typo in a relative path would hide it from the rules above).',
      severity: 'error',
      from: {},
      to: {couldNotResolve: true},
    },
  ],
  options: {
    doNotFollow: {path: 'node_modules'},
    tsPreCompilationDeps: true,
    tsConfig: {fileName: 'tsconfig.json'},
    enhancedResolveOptions: {exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.json']},
  },
}
