'use strict'
/**
 * One scoring client variant, run in its own process so that its
 * process.cpuUsage() is its own. Started by bench/run.js:
 *
 *   node bench/scoring-client.js <ours|undici|fetch> <server url>
 *
 * CONCURRENCY callers loop: get a token, POST the 20-row payload to
 * /ml/v4/deployments/bench-dep/predictions, parse the JSON answer, check it.
 * After WARMUP_MS, requests completed and CPU used are counted for MEASURE_MS.
 * Prints one JSON line with the figures (or {"unavailable": ...}).
 *
 * Knobs (env): BENCH_CONCURRENCY (32), BENCH_WARMUP_MS (2000), BENCH_MEASURE_MS (8000),
 * BENCH_OURS_MODULE (the module "ours" takes WmlClient from; default: this package, for harness testing).
 */
const { ROOT, scoringPayload } = require('./common')

const [variant, url] = process.argv.slice(2)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY) || 32
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS) || 2000
const MEASURE_MS = Number(process.env.BENCH_MEASURE_MS) || 8000
const DRAIN_TIMEOUT_MS = 10_000

const DEPLOYMENT = 'bench-dep'
const VERSION = '2021-05-01'
const PATH = `/ml/v4/deployments/${DEPLOYMENT}/predictions?version=${VERSION}`
const APIKEY = `bench-scoring-${variant}`
const ROWS = 20
const payload = scoringPayload()

function fail(message) {
  process.stderr.write(`[scoring ${variant}] ${message}\n`)
  process.exit(2)
}

/** An sdk-core IamAuthenticator's token manager, as a user of IBM's SDK core would hold one. */
function sdkTokenManager() {
  const { IamAuthenticator } = require('ibm-cloud-sdk-core')
  return new IamAuthenticator({ apikey: APIKEY, url }).tokenManager
}

/** Returns { score: () => Promise<response object>, close?: () => any } for the variant, or null if unavailable. */
function makeVariant(name) {
  switch (name) {
    case 'ours': {
      const { WmlClient } = require(process.env.BENCH_OURS_MODULE || ROOT)
      if (typeof WmlClient !== 'function') return null
      const client = new WmlClient({ url, apikey: APIKEY, iamUrl: url })
      return {
        score: () => client.score(DEPLOYMENT, payload),
        close: () => typeof client.close === 'function' && client.close(),
      }
    }
    case 'fetch': {
      // (a) Node's global fetch + sdk-core IamAuthenticator.
      const tm = sdkTokenManager()
      const endpoint = url + PATH
      return {
        async score() {
          const token = await tm.getToken()
          const res = await fetch(endpoint, {
            method: 'POST',
            headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
            body: JSON.stringify(payload),
          })
          const json = await res.json()
          if (!res.ok) throw new Error(`HTTP ${res.status}: ${JSON.stringify(json).slice(0, 200)}`)
          return json
        },
      }
    }
    case 'undici': {
      // (b) undici Pool (one connection per caller) + sdk-core IamAuthenticator.
      const { Pool } = require('undici')
      const tm = sdkTokenManager()
      const pool = new Pool(url, { connections: CONCURRENCY })
      return {
        async score() {
          const token = await tm.getToken()
          const { statusCode, body } = await pool.request({
            path: PATH,
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
            body: JSON.stringify(payload),
          })
          const json = await body.json()
          if (statusCode !== 200) throw new Error(`HTTP ${statusCode}: ${JSON.stringify(json).slice(0, 200)}`)
          return json
        },
        close: () => pool.close(),
      }
    }
    default:
      fail(`unknown variant ${name} (ours|undici|fetch)`)
  }
}

async function main() {
  if (!variant || !url) fail('usage: node bench/scoring-client.js <ours|undici|fetch> <url>')
  const v = makeVariant(variant)
  if (v === null) {
    process.stdout.write(JSON.stringify({ variant, unavailable: 'WmlClient not available yet' }) + '\n')
    return
  }

  let completed = 0
  let errors = 0
  let firstError
  let stopping = false

  async function caller() {
    while (!stopping) {
      try {
        const res = await v.score()
        // Same cheap check for every variant: the parsed answer has our 20 predictions.
        const block = res && res.predictions && res.predictions[0]
        if (!block || !Array.isArray(block.values) || block.values.length !== ROWS) {
          throw new Error(`unexpected response: ${JSON.stringify(res).slice(0, 200)}`)
        }
        completed++
      } catch (err) {
        errors++
        if (firstError === undefined) firstError = String(err && err.stack || err).slice(0, 500)
        // Do not spin on a persistent failure.
        await new Promise((r) => setTimeout(r, 10))
      }
    }
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
  const callers = Array.from({ length: CONCURRENCY }, caller)

  await sleep(WARMUP_MS)
  // Measured window: requests completed and CPU used between these two points.
  // Requests in flight at either edge are counted at one edge only, so they balance.
  const c0 = completed
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  await sleep(MEASURE_MS)
  const cpu = process.cpuUsage(cpu0)
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const requests = completed - c0

  stopping = true
  let drained = true
  await Promise.race([Promise.all(callers), sleep(DRAIN_TIMEOUT_MS).then(() => { drained = false })])
  try {
    await (v.close && v.close())
  } catch {}

  const cpuUs = cpu.user + cpu.system
  process.stdout.write(JSON.stringify({
    variant,
    concurrency: CONCURRENCY,
    warmupMs: WARMUP_MS,
    seconds: +seconds.toFixed(3),
    requests,
    rps: +(requests / seconds).toFixed(1),
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    cpuUsPerReq: requests ? +(cpuUs / requests).toFixed(2) : null,
    maxRssMB: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
    totalCompleted: completed,
    errors,
    firstError,
    drained,
  }) + '\n')
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`[scoring ${variant}] failed: ${err && err.stack || err}\n`)
    process.exit(1)
  },
)
