#!/usr/bin/env node
// Child process of the bench scripts: runs the key service alone in its process (so the
// load generator does not share its event loop) and answers over IPC.
//
// Messages in → out:
//   {type: 'start', dist, dbPath, pepper, settings, clockAt?, logLevel?} → {type: 'started', url, rollup: boolean}
//       logLevel: default warn; null = the service's default.
//       The service gets an injected clock: the wall clock plus an offset, 0 until a 'clock'
//       message moves it (clockAt sets it at start). rollup = whether the service has rollupUsage().
//   {type: 'clock', at} → {type: 'clocked', at}   the service's clock now reads `at` (ms) and runs on from there
//   {type: 'rollup'} → {type: 'rolledUp', available, result?}   runs the service's usage rollup job if it has one
//   {type: 'flush'} → {type: 'flushed'}
//   {type: 'stats'} → {type: 'stats', stats}   sign-in counters
//   {type: 'eld-reset'} → {type: 'eld-reset'}   starts a new event-loop delay window
//   {type: 'eld'} → {type: 'eld', eld: {p50Ms, p99Ms, maxMs, meanMs}}   event-loop delay since the last reset
//   {type: 'stop'} → {type: 'stopped'}
// Any failure → {type: 'error', message}.
import {join} from 'node:path'
import {monitorEventLoopDelay} from 'node:perf_hooks'
import {pathToFileURL} from 'node:url'

let server
let offset = 0
/** The service's clock: wall time moved by `offset` (set over IPC), so time still passes. */
const clock = {now: () => Date.now() + offset}
// Event-loop delay of this process (the service's only event loop), sampled every 10 ms.
const eld = monitorEventLoopDelay({resolution: 10})
eld.enable()
const ms = (ns) => Math.round((ns / 1e6) * 100) / 100

process.on('message', async (message) => {
  try {
    if (message.type === 'start') {
      if (message.clockAt !== undefined) offset = message.clockAt - Date.now()
      const {startServer} = await import(pathToFileURL(join(message.dist, 'server/main.js')).href)
      server = await startServer({dbPath: message.dbPath, port: 0, pepper: message.pepper, ...(message.logLevel === null ? {} : {logLevel: message.logLevel ?? 'warn'}), settings: message.settings, clock})
      process.send({type: 'started', url: server.url, rollup: typeof server.rollupUsage === 'function'})
    } else if (message.type === 'clock') {
      offset = message.at - Date.now()
      process.send({type: 'clocked', at: clock.now()})
    } else if (message.type === 'rollup') {
      if (typeof server.rollupUsage !== 'function') process.send({type: 'rolledUp', available: false})
      else {
        const result = await server.rollupUsage()
        process.send({type: 'rolledUp', available: true, result: result === undefined ? null : JSON.parse(JSON.stringify(result))})
      }
    } else if (message.type === 'flush') {
      await server.flushUsage()
      process.send({type: 'flushed'})
    } else if (message.type === 'stats') {
      process.send({type: 'stats', stats: server.signInStats()})
    } else if (message.type === 'eld-reset') {
      eld.reset()
      process.send({type: 'eld-reset'})
    } else if (message.type === 'eld') {
      process.send({type: 'eld', eld: {p50Ms: ms(eld.percentile(50)), p99Ms: ms(eld.percentile(99)), maxMs: ms(eld.max), meanMs: ms(eld.mean)}})
    } else if (message.type === 'stop') {
      await server.close()
      process.send({type: 'stopped'})
      process.exit(0)
    }
  } catch (error) {
    process.send({type: 'error', message: String(error?.stack ?? error)})
  }
})
// The bench process is gone (crashed or interrupted): do not linger.
process.on('disconnect', () => process.exit(0))
