#!/usr/bin/env node
// Child process of bench/service.mjs (fastifyFloor): a bare Fastify app with one GET and one
// POST route answering the same small fixed object; sends its URL over IPC.
import Fastify from 'fastify'

const app = Fastify({logger: false})
const answer = {service: 'apikey', keyPrefix: 'ak', environments: ['dev', 'test', 'stage', 'prod', 'ci']}
app.get('/get', async () => answer)
app.post('/post', async () => answer)
await app.listen({port: 0, host: '127.0.0.1'})
process.send(`http://127.0.0.1:${app.server.address().port}`)
process.on('disconnect', () => process.exit(0))
