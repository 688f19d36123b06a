#!/usr/bin/env node
// Fast path for `--version` and `whoami --offline KEY` (no oclif load); see src/fast-path.ts.
const argv = process.argv.slice(2)
let handled = false
if (process.env.APIKEY_NO_FAST_PATH === undefined && (argv[0] === 'whoami' || argv[0] === '--version' || argv[0] === '-v')) {
  const {fastPath} = await import('../dist/fast-path.js')
  handled = await fastPath(argv, new URL('../package.json', import.meta.url))
}
if (!handled) {
  // The key service plugin (@apikey/server) is loaded only where it is installed; see src/lib/plugins.ts.
  const [{execute}, {cliLoadOptions}, {fileURLToPath}] = await Promise.all([import('@oclif/core'), import('../dist/lib/plugins.js'), import('node:url')])
  await execute({loadOptions: await cliLoadOptions(fileURLToPath(new URL('..', import.meta.url)))})
}
