#!/usr/bin/env node
// The start-up path is one bundle (src/start.ts, built by scripts/bundle.mjs, loaded by src/load-bundle.ts).
import {fileURLToPath} from 'node:url'
import {loadBundle} from '../dist/load-bundle.js'

await loadBundle('main').main(process.argv.slice(2), fileURLToPath(new URL('..', import.meta.url)))
