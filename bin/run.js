#!/usr/bin/env node
// The start-up path is bundled (scripts/bundle.mjs) and loaded by src/load-bundle.ts: `--version` and
// `whoami --offline KEY` run in the fast path (src/fast-path.ts, dist/cli/fast.cjs) without oclif;
// everything else, or with APIKEY_NO_FAST_PATH set, runs through oclif (src/start.ts, dist/cli/main.cjs).
import {fileURLToPath} from 'node:url'
import {loadBundle} from '../dist/load-bundle.js'

const argv = process.argv.slice(2)
const fast = process.env.APIKEY_NO_FAST_PATH === undefined && (argv[0] === 'whoami' || argv[0] === '--version' || argv[0] === '-v')
if (!(fast && (await loadBundle('fast').fastPath(argv, new URL('../package.json', import.meta.url))))) {
  await loadBundle('main').main(argv, fileURLToPath(new URL('..', import.meta.url)))
}
