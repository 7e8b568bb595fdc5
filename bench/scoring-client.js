'use strict'
/**
 * One scoring client variant, run in its own process so that its
 * process.cpuUsage() is its own. Started by bench/run.js:
 *
 *   node bench/scoring-client.js <ours|undici|fetch> <server url> [<CA certificate path>]
 *
 * CONCURRENCY callers loop: get a token, POST the 20-row payload to
 * /ml/v4/deployments/bench-dep/predictions, parse the JSON answer, check it.
 * After WARMUP_MS, requests completed and CPU used (whole process, and the
 * main JS thread alone from /proc) are counted for MEASURE_MS.
 * Prints one JSON line with the figures (or {"unavailable": ...}).
 *
 * HTTPS (an https:// URL and the CA path): ours gets the CA as `caCert`, the
 * undici Pool as `connect: { ca }`; `fetch` and sdk-core's IamAuthenticator
 * (axios over Node's https) have no CA option and trust it through
 * NODE_EXTRA_CA_CERTS, which bench/run.js sets in their environment.
 *
 * Knobs (env): BENCH_CONCURRENCY (32), BENCH_WARMUP_MS (2000), BENCH_MEASURE_MS (8000),
 * BENCH_OURS_MODULE (the module "ours" takes WmlClient from; default: this package, for harness testing).
 */
const fs = require('node:fs')
const { ROOT, scoringPayload, driveCallers } = require('./common')

const USAGE = 'usage: node bench/scoring-client.js <ours|undici|fetch> <url> [<CA certificate path>]'
const [variant, url, caPath] = process.argv.slice(2)
const ca = caPath ? fs.readFileSync(caPath, 'utf8') : undefined
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY) || 32
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS) || 2000
const MEASURE_MS = Number(process.env.BENCH_MEASURE_MS) || 8000

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
      const client = new WmlClient({ url, apikey: APIKEY, iamUrl: url, ...(ca && { caCert: ca }) })
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
      const pool = new Pool(url, { connections: CONCURRENCY, ...(ca && { connect: { ca } }) })
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
  if (!variant || !url) fail(USAGE)
  const v = makeVariant(variant)
  if (v === null) {
    process.stdout.write(JSON.stringify({ variant, unavailable: 'WmlClient not available yet' }) + '\n')
    return
  }
  const res = await driveCallers(v.score, { concurrency: CONCURRENCY, warmupMs: WARMUP_MS, measureMs: MEASURE_MS, rows: ROWS })
  try {
    await (v.close && v.close())
  } catch {}
  process.stdout.write(JSON.stringify({ variant, tls: Boolean(caPath), ...res }) + '\n')
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`[scoring ${variant}] failed: ${err && err.stack || err}\n`)
    process.exit(1)
  },
)
