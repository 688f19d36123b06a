import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    disableConsoleIntercept: true,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Every file removes its temporary directories; the run fails if any is left behind.
    setupFiles: ['test/setup/temp-cleanup.ts'],
    globalSetup: ['test/setup/leftovers.ts'],
    // One worker per core: vitest's default leaves one core to its main process,
    // which has little to do; on 2 cores that would run one file at a time.
    maxWorkers: '100%',
    // The built CLI is loaded natively (as oclif loads its commands), so that an
    // in-process run (test/helpers/in-process.ts) shares its modules with it.
    server: {deps: {external: [/\/dist\//]}},
  },
})
