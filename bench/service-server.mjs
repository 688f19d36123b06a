#!/usr/bin/env node
// Child process of bench/service.mjs: runs the key service alone in its process (so the
// load generator does not share its event loop) and reports its URL over IPC.
// Message in: {dist, dbPath, pepper, settings}. Messages out: {url} | {flushed} | {stats} (sign-in counters) | {error}.
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

let server
process.on('message', async (message) => {
  try {
    if (message.type === 'start') {
      const {startServer} = await import(pathToFileURL(join(message.dist, 'server/main.js')).href)
      server = await startServer({dbPath: message.dbPath, port: 0, pepper: message.pepper, logLevel: 'warn', settings: message.settings})
      process.send({type: 'started', url: server.url})
    } else if (message.type === 'flush') {
      await server.flushUsage()
      process.send({type: 'flushed'})
    } else if (message.type === 'stats') {
      process.send({type: 'stats', stats: server.signInStats()})
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
