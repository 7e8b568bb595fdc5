'use strict'
/**
 * Token benchmarks. Everything runs in this one process, against an
 * in-process fake IAM server (wml-native/testing):
 *
 *   1. cached token, ns per call: getIamToken(), our IamAuthenticator#getToken()
 *      and ibm-cloud-sdk-core's IamAuthenticator tokenManager.getToken() (the
 *      anchor), interleaved over several rounds;
 *   2. cold calls: 20,000 concurrent calls over 1,000 never-seen keys with
 *      ~20 ms IAM latency, ours vs the anchor (one sdk-core authenticator per key).
 *
 *   node --expose-gc bench/token.js   -> one JSON line on stdout (progress on stderr)
 *
 * Knobs (env): BENCH_ROUNDS (5), BENCH_ROUND_MS (target ms per candidate per round, 300).
 */
const path = require('node:path')
const { ROOT, median, withTimeout, loopGetIamToken, loopAuthenticator, timeCandidates } = require('./common')
const wml = require(ROOT)
const { startFakeServer } = require(path.join(ROOT, 'testing'))
const sdk = require('ibm-cloud-sdk-core')

const ROUNDS = Number(process.env.BENCH_ROUNDS) || 5
const ROUND_NS = (Number(process.env.BENCH_ROUND_MS) || 300) * 1e6
const COLD_KEYS = 1000
const COLD_CALLS_PER_KEY = 20
const COLD_LATENCY_MS = 20
const COLD_TIMEOUT_MS = 60_000
// Long-lived tokens: sdk-core refreshes at 80% of the life (48 min here), so
// the anchor can neither expire nor start a background refresh during the run.
const TOKEN_LIFETIME_SEC = 3600

const log = (...a) => process.stderr.write(`[token] ${a.join(' ')}\n`)
const gc = typeof global.gc === 'function' ? global.gc : () => {}
const now = () => process.hrtime.bigint()

async function loopAnchor(n, tokenManager) {
  for (let i = 0; i < n; i++) await tokenManager.getToken()
}

async function cachedToken(server) {
  const url = server.url
  const keys = { fn: 'bench-cached-fn', auth: 'bench-cached-auth', anchor: 'bench-cached-anchor' }
  const oursAuth = new wml.IamAuthenticator({ apikey: keys.auth, url })
  const anchorAuth = new sdk.IamAuthenticator({ apikey: keys.anchor, url })
  const tm = anchorAuth.tokenManager

  const candidates = [
    { name: 'ours getIamToken', run: (n) => loopGetIamToken(wml, n, keys.fn, url) },
    { name: 'ours IamAuthenticator', run: (n) => loopAuthenticator(n, oursAuth) },
    { name: 'anchor sdk-core', run: (n) => loopAnchor(n, tm) },
  ]

  // First calls fetch the tokens; check they are real and the anchor is warm.
  const first = [await wml.getIamToken(keys.fn, { url }), await oursAuth.getToken(), await tm.getToken()]
  for (const t of first) if (typeof t !== 'string' || t.split('.').length !== 3) throw new Error(`not a JWT: ${t}`)
  const anchorRefreshInSec = tm.refreshTime - Math.floor(Date.now() / 1000)
  if (anchorRefreshInSec < 600) throw new Error(`anchor token refreshes in ${anchorRefreshInSec}s: too soon`)

  // The warm-up and calibration make no IAM request either: count from before them.
  const iamBefore = server.stats.iam
  await timeCandidates(candidates, {
    rounds: ROUNDS,
    roundNs: ROUND_NS,
    onCalibrated: (c, est) => log(`${c.name}: warm-up ${est.toFixed(1)} ns/call, N=${c.n} per round`),
    onRound: (r) => log(`round ${r + 1}/${ROUNDS}: ` + candidates.map((c) => `${c.name} ${c.samples[r].toFixed(1)}`).join(', ')),
  })
  const iamDuringTiming = server.stats.iam - iamBefore

  const out = { rounds: ROUNDS, iamRequestsDuringTiming: iamDuringTiming, anchorRefreshInSec, candidates: {} }
  for (const c of candidates) {
    out.candidates[c.name] = { n: c.n, samplesNs: c.samples.map((x) => +x.toFixed(2)), medianNs: +median(c.samples).toFixed(2) }
  }
  return out
}

/** Starts calls * keys getters (all before any can resolve), awaits them all. */
async function coldRun(server, label, getterForKey) {
  server.reset() // zero the counters (also drops faults, so add ours after)
  server.fault({ route: 'iam', latencyMs: COLD_LATENCY_MS })
  const keys = Array.from({ length: COLD_KEYS }, (_, i) => `cold-${label}-${process.pid}-${i}`)
  const getters = keys.map(getterForKey) // one sdk-core authenticator per key for the anchor
  gc()
  const total = COLD_KEYS * COLD_CALLS_PER_KEY
  const promises = new Array(total)
  const t0 = now()
  // Interleave the keys (k0, k1, ..., k999, k0, ...), so duplicate calls are not adjacent.
  for (let j = 0; j < total; j++) promises[j] = getters[j % COLD_KEYS]()
  const settled = await withTimeout(Promise.allSettled(promises), COLD_TIMEOUT_MS, `${label}: cold calls timed out`)
  const wallMs = Number(now() - t0) / 1e6

  const rejected = settled.filter((s) => s.status === 'rejected')
  const bad = settled.filter((s) => s.status === 'fulfilled' && (typeof s.value !== 'string' || !s.value)).length
  let maxPerKey = 0
  for (const k of keys) maxPerKey = Math.max(maxPerKey, server.iamRequestsFor(k))
  const res = {
    calls: total,
    keys: COLD_KEYS,
    iamRequests: server.stats.iam,
    maxRequestsPerKey: maxPerKey,
    wallMs: +wallMs.toFixed(1),
    errors: rejected.length + bad,
    firstError: rejected.length ? String(rejected[0].reason && rejected[0].reason.message || rejected[0].reason) : undefined,
  }
  server.clearFaults()
  log(`cold ${label}: ${res.iamRequests} IAM requests, ${res.wallMs} ms, ${res.errors} errors`)
  return res
}

async function main() {
  const server = await startFakeServer({ tokenLifetimeSec: TOKEN_LIFETIME_SEC })
  try {
    const cached = await cachedToken(server)
    const url = server.url
    const coldOurs = await coldRun(server, 'ours', (apikey) => () => wml.getIamToken(apikey, { url }))
    const coldAnchor = await coldRun(server, 'anchor', (apikey) => {
      const tm = new sdk.IamAuthenticator({ apikey, url }).tokenManager
      return () => tm.getToken()
    })
    const cacheStats = wml.tokenCacheStats()
    process.stdout.write(JSON.stringify({
      cached,
      cold: { latencyMs: COLD_LATENCY_MS, ours: coldOurs, anchor: coldAnchor, oursCacheStats: cacheStats },
    }) + '\n')
  } finally {
    await server.close()
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`[token] failed: ${err && err.stack || err}\n`)
    process.exit(1)
  },
)
