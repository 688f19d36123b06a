#!/usr/bin/env node
// Child process of bench/hotpath.mjs: the key service (log level from the start message, log
// lines to this process's stderr, which the parent sends to a file), or a bare node:http server
// that answers every POST with a fixed body (message {type: 'bare', body}). Reports its URL over IPC.
import http from 'node:http'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

let server
process.on('message', async (message) => {
  try {
    if (message.type === 'start') {
      const {startServer} = await import(pathToFileURL(join(message.dist, 'server/main.js')).href)
      server = await startServer({dbPath: message.dbPath, port: 0, pepper: message.pepper, logLevel: message.logLevel ?? 'warn', settings: message.settings})
      process.send({type: 'started', url: server.url})
    } else if (message.type === 'bare') {
      const body = Buffer.from(message.body)
      const bare = http.createServer((request, response) => {
        request.resume()
        request.on('end', () => {
          response.writeHead(200, {'content-type': 'application/json; charset=utf-8', 'content-length': body.length})
          response.end(body)
        })
      })
      bare.listen(0, '127.0.0.1', () => process.send({type: 'started', url: `http://127.0.0.1:${bare.address().port}`}))
    } else if (message.type === 'stop') {
      await server?.close()
      process.send({type: 'stopped'})
      process.exit(0)
    }
  } catch (error) {
    process.send({type: 'error', message: String(error?.stack ?? error)})
  }
})
process.on('disconnect', () => process.exit(0))
