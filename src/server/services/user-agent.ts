/**
 * A small user-agent classifier for usage reports: the client library or
 * browser family (`okhttp`, `curl`, `Chrome`, …) and the OS family. Rules are
 * ordered: HTTP libraries and tools first (their strings are short and
 * distinctive), then browsers from the most specific token (`Edg/`, `OPR/`,
 * `SamsungBrowser/`) to the generic (`Chrome/`, `Safari/`), as in RFC 9110
 * §10.1.5 product tokens. Anything else is `other`; no version numbers are kept.
 */

/** Families of a user agent. */
export interface UserAgentFamily {
  /** Library, tool or browser family, e.g. `okhttp`, `curl`, `Chrome`, or `other` / `none`. */
  family: string
  /** OS family, e.g. `Android`, `iOS`, `Windows`, `macOS`, `Linux`, or `other` / `none`. */
  os: string
}

const LIBRARIES: Array<[RegExp, string]> = [
  [/\bokhttp\//i, 'okhttp'],
  [/^curl\//i, 'curl'],
  [/^Wget\//i, 'Wget'],
  [/\bpython-requests\//i, 'python-requests'],
  [/\bpython-httpx\//i, 'python-httpx'],
  [/\baiohttp\//i, 'aiohttp'],
  [/^Python-urllib\//i, 'Python-urllib'],
  [/^Go-http-client\//i, 'Go-http-client'],
  [/\baxios\//i, 'axios'],
  [/\bnode-fetch\b/i, 'node-fetch'],
  [/^undici\b|^node$/i, 'undici'],
  [/\bgot\b.*sindresorhus/i, 'got'],
  [/^PostmanRuntime\//i, 'Postman'],
  [/^insomnia\//i, 'Insomnia'],
  [/^Apache-HttpClient\//i, 'Apache-HttpClient'],
  [/^Java\//i, 'Java'],
  [/^Dalvik\//i, 'Dalvik'],
  [/\bCFNetwork\//i, 'CFNetwork'],
  [/^Dart\//i, 'Dart'],
  [/^(Ruby|Faraday)\b/i, 'Ruby'],
  [/^libwww-perl\//i, 'libwww-perl'],
  [/^Guzzle/i, 'Guzzle'],
  [/^RestSharp\//i, 'RestSharp'],
  [/\bHeadlessChrome\//, 'HeadlessChrome'],
  [/\b(bot|crawler|spider)\b/i, 'bot'],
]

const BROWSERS: Array<[RegExp, string]> = [
  [/\bEdg(e|A|iOS)?\//, 'Edge'],
  [/\bOPR\/|\bOpera\b/, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\b(Firefox|FxiOS)\//, 'Firefox'],
  [/\b(Chrome|CriOS|Chromium)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
  [/\bMobile\/\w+.*AppleWebKit|AppleWebKit.*\bMobile\//, 'WebView'],
]

const SYSTEMS: Array<[RegExp, string]> = [
  [/\bAndroid\b|\bDalvik\//, 'Android'],
  [/\b(iPhone|iPad|iPod|iOS)\b|\bCFNetwork\/.*Darwin/, 'iOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bLinux\b|\bX11\b/, 'Linux'],
]

/** Longest user agent classified, in characters (longer ones are cut before matching). */
export const MAX_USER_AGENT_LENGTH = 512

/**
 * Classifies a `User-Agent` value. Empty or absent → `{family: 'none', os: 'none'}`.
 * Pure and cheap (a few regular expressions); callers may cache by string.
 */
export function userAgentFamily(userAgent: string | null | undefined): UserAgentFamily {
  if (userAgent === undefined || userAgent === null || userAgent.trim() === '') return {family: 'none', os: 'none'}
  const ua = userAgent.slice(0, MAX_USER_AGENT_LENGTH)
  const family = LIBRARIES.find(([re]) => re.test(ua))?.[1] ?? BROWSERS.find(([re]) => re.test(ua))?.[1] ?? 'other'
  const os = SYSTEMS.find(([re]) => re.test(ua))?.[1] ?? 'other'
  return {family, os}
}
