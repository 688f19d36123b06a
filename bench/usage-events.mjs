// Usage events as verifier libraries report them (POST /v1/usage), with a realistic mix of
// dimension values (documented in docs/benchmarks.md through MIX below), and events that
// always make new rows (for ingestion: each carries a client network never sent before).
import {rng} from './lib.mjs'

const RESOURCES = ['orders', 'users', 'products', 'carts', 'payments', 'invoices', 'shipments', 'reviews', 'search', 'inventory']
/** 40 route templates; popularity falls as 1/rank (Zipf). */
export const ROUTES = RESOURCES.flatMap((r) => [`/v1/${r}`, `/v1/${r}/:id`, `/v1/${r}/:id/history`, `/v2/${r}`])
/** Client apps, each with 3 versions and its own user agent. */
export const CLIENTS = [
  {app: 'com.example.shop.ios', versions: ['4.2.0', '4.2.1', '4.3.0'], userAgent: 'Shop/4.2 (iPhone; iOS 17.5; Scale/3.00)'},
  {app: 'com.example.shop.android', versions: ['4.1.9', '4.2.0', '4.3.0'], userAgent: 'okhttp/4.12.0'},
  {app: 'web-frontend', versions: ['2026.11.2', '2026.11.3', '2026.12.1'], userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'},
  {app: 'partner-sync', versions: ['1.0.3', '1.1.0', '1.1.1'], userAgent: 'python-requests/2.32.3'},
]
/** Client networks (IPv4 /24) in the mix. */
export const NETWORKS = 300
/** Outcome codes and their shares. */
export const CODES = [
  ['VALID', 0.96],
  ['RATE_LIMITED', 0.02],
  ['EXPIRED', 0.01],
  ['REVOKED', 0.01],
]
/** Verifications one event stands for (`count`), drawn uniformly from this list: mean 10. */
export const COUNTS = [1, 1, 1, 2, 3, 5, 8, 13, 20, 46]
export const MEAN_COUNT = COUNTS.reduce((a, b) => a + b, 0) / COUNTS.length

/** Share of a key's events from a network outside its own few (travel, new egress, sharing). */
export const STRAY_SHARE = 0.02

/** The mix as one sentence for docs/benchmarks.md. */
export function describeMix(keys) {
  return `one app with ${keys.toLocaleString('en-US')} keys, each event of a uniformly chosen key; each key belongs to one of ${CLIENTS.length} client apps (each with its own user agent), which sends its newest version 70% of the time and one of two older ones otherwise, from the key's own 3 of ${NETWORKS} client networks (/24), or ${STRAY_SHARE * 100}% of the time from any of them; ${ROUTES.length} route templates (Zipf: the n-th is 1/n as frequent); codes ${CODES.map(([c, p]) => `${c} ${p * 100}%`).join(', ')}; each event stands for ${COUNTS.join('/')} verifications (\`count\`, mean ${MEAN_COUNT}), at a uniformly random instant of its hour`
}

const zipfTable = (n) => {
  const weights = Array.from({length: n}, (_, i) => 1 / (i + 1))
  const total = weights.reduce((a, b) => a + b, 0)
  let acc = 0
  return weights.map((w) => (acc += w / total))
}
const ROUTE_CDF = zipfTable(ROUTES.length)
const pickCdf = (cdf, x) => {
  let lo = 0
  let hi = cdf.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (cdf[mid] < x) lo = mid + 1
    else hi = mid
  }
  return lo
}
const CODE_CDF = (() => {
  let acc = 0
  return CODES.map(([, p]) => (acc += p))
})()

/** A generator of mixed events over `keyIds`, seeded. */
export function mixedEvents(keyIds, seed = 1) {
  const random = rng(seed)
  return {
    /** `n` events at random instants of [from, from + spanMs). */
    events(n, from, spanMs) {
      const out = new Array(n)
      for (let i = 0; i < n; i++) {
        const k = Math.floor(random() * keyIds.length)
        // A key's client app and networks follow from its index (the same on every run).
        const client = CLIENTS[k % CLIENTS.length]
        const net = random() < STRAY_SHARE ? Math.floor(random() * NETWORKS) : ((Math.imul(k, 2654435761) >>> 0) + Math.floor(random() * 3) * 97) % NETWORKS
        const v = random()
        out[i] = {
          keyId: keyIds[k],
          app: 'bench-app',
          code: CODES[pickCdf(CODE_CDF, random())][0],
          route: ROUTES[pickCdf(ROUTE_CDF, random())],
          clientApp: client.app,
          appVersion: client.versions[v < 0.7 ? 2 : v < 0.85 ? 1 : 0],
          userAgent: client.userAgent,
          clientIp: `198.${18 + (net >> 8)}.${net & 255}.${1 + Math.floor(random() * 250)}`,
          at: from + Math.floor(random() * spanMs),
          count: COUNTS[Math.floor(random() * COUNTS.length)],
        }
      }
      return out
    },
  }
}

let fresh = 0
/**
 * `n` events of count 1 that each make a new row: each comes from a client network no
 * earlier call of this process used (a counter spread over the /24s of 11.0.0.0–74.255.255.0).
 * @param salt keeps processes apart (e.g. the process id); at: when, ms.
 */
export function newRowEvents(keyIds, n, at, salt = 0) {
  const out = new Array(n)
  for (let i = 0; i < n; i++) {
    const c = (fresh++ + salt * 1_000_003) % 0xffffff
    const client = CLIENTS[c % CLIENTS.length]
    out[i] = {
      keyId: keyIds[c % keyIds.length],
      app: 'bench-app',
      code: 'VALID',
      route: ROUTES[c % ROUTES.length],
      clientApp: client.app,
      appVersion: client.versions[c % 3],
      userAgent: client.userAgent,
      clientIp: `${11 + ((c >> 16) & 63)}.${(c >> 8) & 255}.${c & 255}.7`,
      at: at - (i % 50),
    }
  }
  return out
}
