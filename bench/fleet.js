#!/usr/bin/env node
'use strict'
/**
 * The fleet token store (Redis) figures: `node bench/fleet.js [--json]`
 * (also a part of `node bench/run.js`).
 *
 *   1. first token in a new process: with a warm store vs without a store,
 *      the fake IAM answering in 300 ms; each sample is a new process
 *      (forked, the package loaded), timed from its first `getIamToken` call
 *      to the token (the Redis connection is made within that time);
 *   2. IAM requests for 20 processes started together, cold, with one key
 *      and with 50 keys, without and with the store;
 *   3. refresh: 10 processes calling every 25 ms for several lifetimes of
 *      3 s tokens, without and with the store: IAM requests per refresh.
 *
 * A real redis-server (started here on a free 127.0.0.1 port, no
 * persistence) and the fake IAM in this process; the fleet processes are
 * `__test__/fixtures/fleet-process.js` (as in the tests). Prints a report;
 * with `--json`, one JSON line last (what bench/run.js reads).
 *
 * Knobs (env): BENCH_FLEET_SAMPLES (7), BENCH_FLEET_LATENCY_MS (300).
 */
const path = require('node:path')
const { startFakeServer } = require('../testing')
const { startFleet } = require('../__test__/fixtures/fleet-driver.js')
const { median, sleep } = require('./common')

const SAMPLES = Number(process.env.BENCH_FLEET_SAMPLES) || 7
const LATENCY_MS = Number(process.env.BENCH_FLEET_LATENCY_MS) || 300
const COLD_PROCESSES = 20
const REFRESH_PROCESSES = 10
const LIFETIME_SEC = 3
/** The cache refreshes past 80% of the life counted a second short (whole-second timestamps). */
const REFRESH_EVERY_MS = Math.round((LIFETIME_SEC * 0.8 - 1) * 1000)
const REFRESH_RUN_MS = 4 * REFRESH_EVERY_MS + REFRESH_EVERY_MS / 2

let n = 0
const newKey = () => `bench-fleet-${process.pid}-${++n}`

async function firstToken(server, storeEnv) {
  const key = newKey()
  // Warm the store: one process gets the token (and publishes it).
  const warmer = await startFleet(1, { env: storeEnv, args: { iamUrl: server.url } })
  await warmer.ask({ cmd: 'tokens', keys: [key] })
  await warmer.stop()
  const sample = async (env) => {
    const f = await startFleet(1, { env, args: { iamUrl: server.url } })
    try {
      const [r] = await f.ask({ cmd: 'tokens', keys: [key] })
      return r
    } finally {
      await f.stop()
    }
  }
  const noStore = []
  const warmStore = []
  let warmIam = 0
  for (let i = 0; i < SAMPLES; i++) {
    // Alternate, so that both see the machine alike.
    noStore.push((await sample({})).ms)
    const r = await sample(storeEnv)
    warmStore.push(r.ms)
    warmIam += r.stats.requests
  }
  const summary = (xs) => ({ medianMs: +median(xs).toFixed(2), samplesMs: xs.map((x) => +x.toFixed(2)) })
  return { latencyMs: LATENCY_MS, samples: SAMPLES, noStore: summary(noStore), warmStore: { ...summary(warmStore), iamRequests: warmIam } }
}

/** IAM requests for `COLD_PROCESSES` processes started together, each asking for `keys`. */
async function cold(server, env, keyCount) {
  const keys = Array.from({ length: keyCount }, newKey)
  const f = await startFleet(COLD_PROCESSES, { env, args: { iamUrl: server.url } })
  try {
    await f.ask({ cmd: 'tokens', keys })
  } finally {
    await f.stop()
  }
  const counts = keys.map((k) => server.iamRequestsFor(k))
  return { iamRequests: counts.reduce((a, b) => a + b, 0), maxPerKey: Math.max(...counts) }
}

async function refresh(server, env) {
  const key = newKey()
  const f = await startFleet(REFRESH_PROCESSES, { env, args: { iamUrl: server.url } })
  let reports
  const started = Date.now()
  try {
    await f.ask({ cmd: 'loop', keys: [key], everyMs: 25 })
    await sleep(REFRESH_RUN_MS)
    reports = await f.ask({ cmd: 'report' })
  } finally {
    await f.stop()
  }
  const runMs = Date.now() - started
  return {
    runMs,
    iamRequests: server.iamRequestsFor(key),
    calls: reports.reduce((a, r) => a + r.calls, 0),
    failures: reports.reduce((a, r) => a + r.failures, 0),
  }
}

async function main() {
  const json = process.argv.includes('--json')
  const log = (...a) => console.error(...a)
  const { startRedis } = await import(path.join(__dirname, '..', '__test__', 'helpers', 'redis.mjs'))
  const redis = await startRedis()
  const server = await startFakeServer()
  const storeEnv = { WML_NATIVE_TOKEN_STORE: redis.url }
  const out = { processesCold: COLD_PROCESSES }
  try {
    server.fault({ route: 'iam', latencyMs: LATENCY_MS })
    log(`[fleet] first token in a new process (${SAMPLES} samples each, IAM latency ${LATENCY_MS} ms)`)
    out.firstToken = await firstToken(server, storeEnv)

    out.cold = []
    for (const keys of [1, 50]) {
      log(`[fleet] ${COLD_PROCESSES} cold processes, ${keys} key(s)`)
      out.cold.push({ keys, noStore: await cold(server, {}, keys), store: await cold(server, storeEnv, keys) })
    }
    server.clearFaults()

    log(`[fleet] refresh: ${REFRESH_PROCESSES} processes, ${LIFETIME_SEC} s tokens, ${(REFRESH_RUN_MS / 1000).toFixed(1)} s each`)
    server.options.tokenLifetimeSec = LIFETIME_SEC
    out.refresh = {
      processes: REFRESH_PROCESSES,
      lifetimeSec: LIFETIME_SEC,
      refreshEveryMs: REFRESH_EVERY_MS,
      noStore: await refresh(server, {}),
      store: await refresh(server, storeEnv),
    }
  } finally {
    await server.close()
    await redis.stop()
  }
  report(out, log)
  if (json) console.log(JSON.stringify(out))
}

/** Lines for people (stderr, so that --json's stdout is the one line). */
function report(out, log) {
  const f = out.firstToken
  log(`\nfirst token in a new process (IAM latency ${f.latencyMs} ms, median of ${f.samples}):`)
  log(`  without a store: ${f.noStore.medianMs} ms   warm store: ${f.warmStore.medianMs} ms   ratio ${(f.warmStore.medianMs / f.noStore.medianMs).toFixed(3)}x`)
  log(`  IAM requests of the warm-store processes: ${f.warmStore.iamRequests}`)
  for (const c of out.cold) {
    log(`${out.processesCold} cold processes, ${c.keys} key(s): IAM requests without a store ${c.noStore.iamRequests}, with ${c.store.iamRequests} (max per key ${c.store.maxPerKey})`)
  }
  const r = out.refresh
  for (const k of ['noStore', 'store']) {
    const x = r[k]
    log(`refresh, ${r.processes} processes over ${(x.runMs / 1000).toFixed(1)} s (a refresh every ${r.refreshEveryMs} ms): ${x.iamRequests} IAM requests ` +
      `${k === 'store' ? 'with' : 'without'} a store, ${x.calls} calls, ${x.failures} failed`)
  }
}

main().catch((err) => {
  console.error(err && err.stack || err)
  process.exitCode = 1
})
