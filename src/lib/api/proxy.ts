/**
 * Proxy selection from the conventional environment variables, read from an injected environment record — never from
 * `process.env` directly.
 *
 * Conventions (curl, Go's `net/http`, `proxy-from-env`):
 * - `https_proxy` / `HTTPS_PROXY` for `https:` URLs, `http_proxy` / `HTTP_PROXY`
 *   for `http:` URLs, then `all_proxy` / `ALL_PROXY`; the lower-case name wins
 *   when both are set; an empty value counts as unset;
 * - a proxy value without a scheme means `http://` (as curl; `proxy-from-env`
 *   would reuse the target's scheme, which turns `HTTPS_PROXY=proxy:3128` into a
 *   TLS connection to a plain-HTTP proxy);
 * - `no_proxy` / `NO_PROXY`: `*` bypasses every host; otherwise a comma- or
 *   space-separated list of host names (`example.com` matches the host and its
 *   subdomains; `.example.com` and `*.example.com` likewise), IP addresses,
 *   CIDR blocks (`10.0.0.0/8`), each optionally with `:port`.
 */
import http from 'node:http'
import https from 'node:https'
import {BlockList, isIP} from 'node:net'
import {ProxyAgent} from 'proxy-agent'

/** Environment variables as a plain record. */
export type EnvRecord = Record<string, string | undefined>

/** The proxy chosen for one URL. */
export interface ProxyChoice {
  /** Proxy URL as configured (may contain credentials: redact before showing). */
  url: string
  /** The variable it came from, e.g. `HTTPS_PROXY` or `https_proxy`. */
  envVar: string
}

const DEFAULT_PORTS: Record<string, number> = {'http:': 80, 'https:': 443}

/** Reads `name` in lower then upper case; empty counts as unset. */
function readEnv(env: EnvRecord, name: string): {value: string; envVar: string} | undefined {
  for (const envVar of [name.toLowerCase(), name.toUpperCase()]) {
    const value = env[envVar]?.trim()
    if (value) return {value, envVar}
  }
  return undefined
}

/** Does `NO_PROXY` exclude `hostname` (lower case, IPv6 without brackets) on `port`? */
export function isNoProxy(hostname: string, port: number, env: EnvRecord): boolean {
  const noProxy = readEnv(env, 'no_proxy')?.value.toLowerCase()
  if (!noProxy) return false
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '')
  for (const raw of noProxy.split(/[\s,]+/)) {
    if (!raw) continue
    if (raw === '*') return true
    let entry = raw
    let entryPort = 0
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry)
    if (v6) {
      entry = v6[1] ?? ''
      entryPort = Number(v6[2] ?? 0)
    } else {
      const hp = /^(.*):(\d+)$/.exec(entry)
      if (hp && isIP(entry) !== 6) {
        entry = hp[1] ?? ''
        entryPort = Number(hp[2])
      }
    }
    if (entryPort && entryPort !== port) continue
    if (entry.includes('/')) {
      const [net, bits] = entry.split('/')
      const family = isIP(net ?? '')
      const hostFamily = isIP(host)
      if (family && hostFamily === family) {
        const list = new BlockList()
        try {
          list.addSubnet(net ?? '', Number(bits), family === 6 ? 'ipv6' : 'ipv4')
          if (list.check(host, family === 6 ? 'ipv6' : 'ipv4')) return true
        } catch {
          // An invalid CIDR entry matches nothing.
        }
      }
      continue
    }
    const name = entry.replace(/^\*?\.?/, '').replace(/\.$/, '')
    if (!name) continue
    if (host === name || host.endsWith(`.${name}`)) return true
  }
  return false
}

/**
 * The proxy to use for `target`, or `undefined` for a direct connection.
 *
 * @param target - absolute `http:` or `https:` URL of the request.
 * @param env - environment record (a copy of `process.env` in production).
 * @returns the proxy URL (scheme added when missing) and the variable it came
 *   from. The value is not validated here; see {@link validateProxyUrl}.
 */
export function resolveProxy(target: string | URL, env: EnvRecord): ProxyChoice | undefined {
  let url: URL
  try {
    url = new URL(typeof target === 'string' ? target : target.href)
  } catch {
    return undefined
  }
  const scheme = url.protocol.replace(':', '')
  if (scheme !== 'http' && scheme !== 'https') return undefined
  const port = Number(url.port) || DEFAULT_PORTS[url.protocol] || 0
  if (isNoProxy(url.hostname, port, env)) return undefined
  const found = readEnv(env, `${scheme}_proxy`) ?? readEnv(env, 'all_proxy')
  if (!found) return undefined
  const proxyUrl = found.value.includes('://') ? found.value : `http://${found.value}`
  return {url: proxyUrl, envVar: found.envVar}
}

/** Proxy schemes the agent supports. */
export const SUPPORTED_PROXY_SCHEMES = ['http:', 'https:', 'socks:', 'socks4:', 'socks4a:', 'socks5:', 'socks5h:'] as const

/**
 * Checks a proxy URL before use.
 *
 * @returns `undefined` when usable, otherwise the reason (without the URL).
 */
export function validateProxyUrl(proxyUrl: string): string | undefined {
  let url: URL
  try {
    url = new URL(proxyUrl)
  } catch {
    return 'it is not a valid URL'
  }
  if (!(SUPPORTED_PROXY_SCHEMES as readonly string[]).includes(url.protocol)) {
    return `the scheme "${url.protocol}" is not supported (use http://, https:// or socks5://)`
  }
  if (!url.hostname) return 'it has no host'
  return undefined
}

/**
 * One agent for HTTP and HTTPS requests that routes each request by
 * {@link resolveProxy} over `env`: direct, through an HTTP(S) proxy (absolute
 * URI for `http:` targets, `CONNECT` tunnel for `https:` targets), or SOCKS.
 *
 * Direct connections are kept alive between the calls of a command; proxied
 * ones are not (see the note in the body).
 *
 * No `ca` option is set, so Node's default CA store — including certificates
 * added with `NODE_EXTRA_CA_CERTS` — verifies both the server and an
 * `https://` proxy.
 *
 * @param env - environment record to read proxy variables from.
 */
export function createProxyAgent(env: EnvRecord): ProxyAgent {
  // Keep-alive only on the direct agents: a keep-alive ProxyAgent reuses pooled
  // sockets without asking the HTTP proxy agent again, which then sends
  // origin-form paths (`GET /v1/me`) to the proxy instead of absolute URIs.
  return new ProxyAgent({
    httpAgent: new http.Agent({keepAlive: true}),
    httpsAgent: new https.Agent({keepAlive: true}),
    getProxyForUrl: (url: string) => resolveProxy(url, env)?.url ?? '',
  })
}
