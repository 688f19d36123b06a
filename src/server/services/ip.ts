/**
 * Client addresses: parsing, canonical form and network prefixes, with no
 * dependency beyond `node:net`. IPv4-mapped IPv6 (`::ffff:192.0.2.7`) is the
 * IPv4 address it carries (RFC 4291 §2.5.5.2); IPv6 text forms (`::`, leading
 * zeros, embedded IPv4, zone ids) all parse to the same 16 bytes (RFC 5952
 * describes the canonical text, which {@link formatIpv6} writes).
 */
import {isIP} from 'node:net'

/** A parsed address: 4 bytes (IPv4) or 16 bytes (IPv6, never IPv4-mapped). */
export type ParsedIp = {version: 4; bytes: number[]} | {version: 6; bytes: number[]}

/**
 * Parses an IPv4 or IPv6 address (zone id `%eth0` dropped). IPv4-mapped IPv6
 * comes back as IPv4. Returns undefined for anything else (host names, CIDRs, garbage).
 */
export function parseIp(input: string): ParsedIp | undefined {
  const text = input.trim().replace(/%.*$/, '').replace(/^\[(.*)\]$/, '$1')
  const kind = isIP(text)
  if (kind === 4) return {version: 4, bytes: text.split('.').map(Number)}
  if (kind !== 6) return undefined
  const bytes = ipv6Bytes(text)
  if (bytes === undefined) return undefined
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff
  return mapped ? {version: 4, bytes: bytes.slice(12)} : {version: 6, bytes}
}

function ipv6Bytes(input: string): number[] | undefined {
  let text = input
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (tail.includes('.')) {
    // Embedded IPv4 (`::ffff:192.0.2.7`, `64:ff9b::192.0.2.1`): rewrite as two hex groups.
    const v4 = tail.split('.').map(Number)
    if (v4.length !== 4 || v4.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) return undefined
    text = `${text.slice(0, lastColon + 1)}${(((v4[0] ?? 0) << 8) | (v4[1] ?? 0)).toString(16)}:${(((v4[2] ?? 0) << 8) | (v4[3] ?? 0)).toString(16)}`
  }
  const [left = '', right, extra] = text.split('::')
  if (extra !== undefined) return undefined
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : Number.NaN)))
  const l = groups(left)
  const r = right === undefined ? [] : groups(right)
  const missing = 8 - l.length - r.length
  if (missing < 0 || (right === undefined && missing !== 0)) return undefined
  const words = [...l, ...Array<number>(missing).fill(0), ...r]
  if (words.some((w) => !Number.isInteger(w))) return undefined
  return words.flatMap((w) => [w >> 8, w & 0xff])
}

/** RFC 5952 text of 16 IPv6 bytes (lower case, longest zero run as `::`). */
export function formatIpv6(bytes: number[]): string {
  const words: number[] = []
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0))
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && words[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = words.map((w) => w.toString(16))
  if (bestStart < 0) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`
}

/** Canonical text of an address (IPv4 dotted quad; IPv6 per RFC 5952; IPv4-mapped → IPv4), or undefined when it does not parse. */
export function canonicalIp(input: string): string | undefined {
  const ip = parseIp(input)
  if (ip === undefined) return undefined
  return ip.version === 4 ? ip.bytes.join('.') : formatIpv6(ip.bytes)
}

/**
 * The network of an address as `prefix/len`, with the host bits cleared: IPv4 by
 * `v4Bits` (default /24), IPv6 by `v6Bits` (default /48). Undefined when it does not parse.
 * Examples: `192.0.2.7` → `192.0.2.0/24`; `2001:db8:1:2::1` → `2001:db8:1::/48`.
 */
export function networkOf(input: string, v4Bits = 24, v6Bits = 48): string | undefined {
  const ip = parseIp(input)
  if (ip === undefined) return undefined
  const bits = ip.version === 4 ? v4Bits : v6Bits
  const masked = ip.bytes.map((byte, i) => {
    const keep = Math.max(0, Math.min(8, bits - i * 8))
    return keep === 0 ? 0 : byte & (0xff << (8 - keep)) & 0xff
  })
  return ip.version === 4 ? `${masked.join('.')}/${bits}` : `${formatIpv6(masked)}/${bits}`
}
