// Renders the "Sign-in under attack" section of docs/benchmarks.md from the JSON of bench/sign-in.mjs.

/** The docs/benchmarks.md section for a result. */
export function signInSection(r) {
  const rows = r.bounded.floods
    .map((f, i) => `| ${i + 1} | ${f.knownNetwork.status}, ${f.knownNetwork.ms} | ${f.newAddress.status}${f.newAddress.limit ? ` (${f.newAddress.limit})` : ''}, ${f.newAddress.ms} | ${f.flood.checked401} / ${f.flood.refused429} | ${f.flood.p50Ms} / ${f.flood.maxMs} |`)
    .join('\n')
  const u = r.unbounded.floods[0]
  return `## Sign-in under attack (bench/sign-in.mjs)

Measured${r.machine.date ? ` ${r.machine.date}` : ''} on ${r.machine.cores} cores, Node ${r.machine.node ?? process.version}; one-minute load average at the end: ${r.machine.loadAverage1m}.
Default scrypt cost (N = ${r.scryptCost.N}, r = ${r.scryptCost.r}, p = ${r.scryptCost.p}); the service alone in its process; clients from different 127.x source addresses.
Method: see the comment at the top of \`bench/sign-in.mjs\`. Reproduce: \`npm run bench -- --only signin\` (or \`npm run build && node bench/sign-in.mjs --update-doc\`).

- Baseline: ann's sign-in from a known network, nothing else going on: median ${r.bounded.baselineMedianMs} ms.
- 20 wrong passwords for ann from one address (${Object.entries(r.bounded.lockout.wrongStatuses).map(([s, n]) => `${n} × ${s}`).join(', ')}), then the right one from another address: ${r.bounded.lockout.rightPasswordFromAnotherAddress}.
- 300 wrong sign-ins from 10 addresses at once, ${r.bounded.floods.length} rounds, ann signing in meanwhile (target: a good sign-in answered within 1 s — ${r.target.met ? 'met' : 'NOT met'}):

| round | ann from a known network: status, ms | ann from a new address: status, ms | flood 401 checked / 429 refused | flood answer p50 / max (ms) |
|---|---|---|---|---|
${rows}

Median for ann from a known network under the flood: ${r.bounded.knownNetworkMedianMs} ms (${r.ratioKnownNetworkUnderFloodToBaseline}x the baseline).
Floor on this machine: a GET /v1/meta sent 50 ms after 300 others at once is answered after ${r.bounded.metaUnderMetaFloodMedianMs} ms (median); one-minute load average at the end of the run: ${r.machine.loadAverage1m} on ${r.machine.cores} cores.
Hashing peaks over the run: shared lane ${r.bounded.hashing.shared.peakActive} running / ${r.bounded.hashing.shared.peakQueued} waiting (refused ${r.bounded.hashing.shared.refused}); reserved lane ${r.bounded.hashing.reserved.peakActive} / ${r.bounded.hashing.reserved.peakQueued}.

For comparison, the same flood with hashing unbounded (as before the bound): ann from a known network ${u.knownNetwork.status} after ${u.knownNetwork.ms} ms (${r.ratioUnboundedToBaseline}x the baseline); the flood's answers p50 ${u.flood.p50Ms} ms, max ${u.flood.maxMs} ms.
`
}
