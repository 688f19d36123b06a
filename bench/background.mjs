#!/usr/bin/env node
// Child process of bench/usage.mjs: background work against the service while the bench
// process measures /v1/verify, in its own process so it does not slow the load generator.
//
// Message in: {type: 'start', mode, url, ...}; out: {type: 'started'}. Then {type: 'stop'} →
// {type: 'stopped', stats: {requests, non2xx, perSecond, p50Ms, maxMs, events?}} once in-flight work ended.
//   mode 'usage':  `clients` clients each POST /v1/usage batches of `batch` new-row events (count 1) in a loop (verifier token)
//   mode 'issue':  one client POSTs /v1/apps/{app}/keys {env: 'prod'} in a loop (session token)
//   mode 'report': one client GETs /v1/apps/{app}/usage?since&until in a loop (session token)
import {newRowEvents} from './usage-events.mjs'

let stopping = false
process.on('message', async (m) => {
  if (m.type === 'stop') {
    stopping = true
    return
  }
  if (m.type !== 'start') return
  process.send({type: 'started'})
  const latencies = []
  let non2xx = 0
  let events = 0
  const began = performance.now()
  const timed = async (fn) => {
    const t = performance.now()
    const res = await fn()
    await res.arrayBuffer()
    latencies.push(performance.now() - t)
    if (!res.ok) non2xx++
    return res
  }
  const loops = []
  if (m.mode === 'usage') {
    for (let c = 0; c < (m.clients ?? 2); c++) {
      loops.push(
        (async () => {
          while (!stopping) {
            const body = JSON.stringify({events: newRowEvents(m.keyIds, m.batch ?? 1000, Date.now(), process.pid * 7 + c)})
            const res = await timed(() => fetch(`${m.url}/v1/usage`, {method: 'POST', headers: {authorization: `Bearer ${m.verifier}`, 'content-type': 'application/json'}, body}))
            if (res.ok) events += m.batch ?? 1000
          }
        })(),
      )
    }
  } else if (m.mode === 'issue') {
    loops.push(
      (async () => {
        while (!stopping) {
          await timed(() => fetch(`${m.url}/v1/apps/${m.app}/keys`, {method: 'POST', headers: {authorization: `Bearer ${m.session}`, 'content-type': 'application/json'}, body: JSON.stringify({env: 'prod', name: 'bench'})}))
        }
      })(),
    )
  } else if (m.mode === 'report') {
    loops.push(
      (async () => {
        while (!stopping) {
          await timed(() => fetch(`${m.url}/v1/apps/${m.app}/usage?since=${m.since}&until=${m.until}`, {headers: {authorization: `Bearer ${m.session}`}}))
        }
      })(),
    )
  } else {
    process.send({type: 'error', message: `background: unknown mode ${m.mode}`})
    return
  }
  await Promise.all(loops).catch((error) => process.send({type: 'error', message: String(error?.stack ?? error)}))
  const seconds = (performance.now() - began) / 1000
  latencies.sort((a, b) => a - b)
  process.send({
    type: 'stopped',
    stats: {
      requests: latencies.length,
      non2xx,
      perSecond: Math.round((latencies.length / seconds) * 10) / 10,
      p50Ms: Math.round(latencies[Math.floor(latencies.length / 2)] ?? 0),
      maxMs: Math.round(latencies[latencies.length - 1] ?? 0),
      ...(m.mode === 'usage' ? {eventsPerSec: Math.round(events / seconds)} : {}),
    },
  })
})
process.on('disconnect', () => process.exit(0))
