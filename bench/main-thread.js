'use strict'
/**
 * Where OUR main-thread time per scoring request goes, over HTTPS.
 *
 *   node bench/main-thread.js          -> a small table on stdout
 *   node bench/main-thread.js --json   -> one JSON line on stdout (bench/run.js uses it)
 *
 * One client process (this one) against the fake server in its own process
 * (`testing/cli.js --tls`, so none of the server's work lands on this main
 * thread). Only public API is used, so it keeps working whatever the internals:
 *
 *   total      `WmlClient.score(id, payload)` with CONCURRENCY callers, as in the
 *              scoring benchmark: main-thread CPU (/proc/self/task/<pid>/stat,
 *              user + system) over the window / requests completed in it;
 *   stringify  `JSON.stringify` of the 20-row payload alone, in a loop;
 *   parse      `JSON.parse` of the server's real answer text alone, in a loop
 *              (the text is fetched once with node:https);
 *   the rest   total - stringify - parse: the N-API call, the hand-off to and
 *              from the I/O thread, the completion and the promise machinery.
 *
 * Cross-check (information): `score(id, bytes)` with the payload serialised once
 * beforehand; total - that is the stringify as paid in place.
 *
 * Knobs (env): BENCH_CONCURRENCY (32), BENCH_WARMUP_MS (2000),
 * BENCH_MAIN_THREAD_MS (measured window per score run, 2000),
 * BENCH_MAIN_THREAD_BLOCKS (ABBA blocks of score runs, 2: four runs of each form),
 * BENCH_LOOP_MS (time per JSON loop, 1000).
 * Linux only (the main thread's CPU comes from /proc); elsewhere it says so.
 */
const https = require('node:https')
const fs = require('node:fs')
const {
  ROOT, scoringPayload, mainThreadCpuUs, driveCallers, combineRuns, startFakeServerProcess, textTable,
} = require('./common')

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY) || 32
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS) || 2000
const MEASURE_MS = Number(process.env.BENCH_MAIN_THREAD_MS) || 2000
const BLOCKS = Number(process.env.BENCH_MAIN_THREAD_BLOCKS) || 2
const LOOP_MS = Number(process.env.BENCH_LOOP_MS) || 1000
const DEPLOYMENT = 'bench-dep'
const APIKEY = 'bench-main-thread'
const ROWS = 20

const log = (...a) => process.stderr.write(`[main-thread] ${a.join(' ')}\n`)

/** One HTTPS request trusting `ca`; resolves { status, text }. */
function httpsText(url, { method = 'GET', headers = {}, body, ca }) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca, agent: false, timeout: 10_000 }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (d) => { text += d }).on('end', () => resolve({ status: res.statusCode, text }))
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timed out`)))
    req.on('error', reject)
    req.end(body)
  })
}

/** The server's answer to the benchmark's scoring request, as text. */
async function answerText(url, ca, payloadText) {
  const form = new URLSearchParams({ grant_type: 'urn:ibm:params:oauth:grant-type:apikey', apikey: APIKEY }).toString()
  const iam = await httpsText(`${url}/identity/token`, {
    method: 'POST', ca, body: form, headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
  })
  if (iam.status !== 200) throw new Error(`IAM answered ${iam.status}`)
  const { access_token: token } = JSON.parse(iam.text)
  const res = await httpsText(`${url}/ml/v4/deployments/${DEPLOYMENT}/predictions?version=2023-05-29`, {
    method: 'POST',
    ca,
    body: payloadText,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
  })
  if (res.status !== 200) throw new Error(`scoring answered ${res.status}: ${res.text.slice(0, 200)}`)
  return res.text
}

/**
 * Main-thread CPU µs per call of the synchronous `fn`, run in batches for
 * LOOP_MS after a short warm-up. Every result feeds `sink` so that no call
 * can be dropped as dead code.
 */
function loopCpuUs(fn, sink) {
  const batch = 1000
  const run = (ms) => {
    let calls = 0
    const end = process.hrtime.bigint() + BigInt(ms) * 1_000_000n
    while (process.hrtime.bigint() < end) {
      for (let i = 0; i < batch; i++) sink(fn())
      calls += batch
    }
    return calls
  }
  run(Math.min(200, LOOP_MS))
  const c0 = mainThreadCpuUs()
  const calls = run(LOOP_MS)
  const c1 = mainThreadCpuUs()
  return +((c1.user + c1.system - c0.user - c0.system) / calls).toFixed(2)
}

/**
 * Scores with `score()` driven as in the benchmark for one measured window,
 * after `warmupMs`; the figures of bench/common.js driveCallers.
 */
async function drive(label, score, warmupMs) {
  const r = await driveCallers(score, { concurrency: CONCURRENCY, warmupMs, measureMs: MEASURE_MS, rows: ROWS })
  log(`${label}: ${r.rps} req/s, main thread ${r.mainThreadUsPerReq} µs/req, process ${r.cpuUsPerReq} µs/req, ${r.errors} errors`)
  if (r.errors) throw new Error(`${label}: ${r.errors} request errors (first: ${r.firstError})`)
  return r
}

async function measure() {
  if (!mainThreadCpuUs()) return { unavailable: 'no /proc/self/task/<pid>/stat (Linux only)' }
  const { WmlClient } = require(process.env.BENCH_OURS_MODULE || ROOT)
  const payload = scoringPayload()
  const payloadText = JSON.stringify(payload)
  const server = await startFakeServerProcess({ args: ['--tls'] })
  try {
    const ca = fs.readFileSync(server.ca, 'utf8')
    const answer = await answerText(server.url, ca, payloadText)
    const parsed = JSON.parse(answer)
    if (parsed.predictions[0].values.length !== ROWS) throw new Error('the answer does not hold 20 predictions')

    const client = new WmlClient({ url: server.url, iamUrl: server.url, apikey: APIKEY, caCert: ca })
    const bytes = Buffer.from(payloadText)
    const runs = { payload: [], bytes: [] }
    const score = { payload: () => client.score(DEPLOYMENT, payload), bytes: () => client.score(DEPLOYMENT, bytes) }
    // ABBA blocks: both forms see the machine early and late alike, and a burst of
    // other work on the (shared) machine is spread over several short windows.
    // Only the first run warms up long.
    const order = Array.from({ length: BLOCKS }, () => ['payload', 'bytes', 'bytes', 'payload']).flat()
    for (const [i, form] of order.entries()) {
      runs[form].push(await drive(`score(${form})`, score[form], i ? 500 : WARMUP_MS))
    }
    const total = combineRuns(runs.payload)
    const preSerialised = combineRuns(runs.bytes)

    // The JSON loops last, so that their garbage and JIT work do not colour the score runs.
    let sunk = 0
    const stringifyUs = loopCpuUs(() => JSON.stringify(payload), (s) => { sunk += s.length })
    const parseUs = loopCpuUs(() => JSON.parse(answer), (o) => { sunk += o.predictions.length })
    log(`JSON.stringify ${stringifyUs} µs, JSON.parse ${parseUs} µs (${sunk > 0 ? 'ran' : '?'})`)

    return {
      concurrency: CONCURRENCY,
      warmupMs: WARMUP_MS,
      measureMs: MEASURE_MS,
      blocks: BLOCKS,
      loopMs: LOOP_MS,
      payloadBytes: Buffer.byteLength(payloadText),
      answerBytes: Buffer.byteLength(answer),
      stringifyUs,
      parseUs,
      restUs: +(total.mainThreadUsPerReq - stringifyUs - parseUs).toFixed(2),
      total,
      preSerialised,
      runs,
    }
  } finally {
    await server.stop()
  }
}

/** The accounting as { head, rows, notes } (bench/run.js renders it into RESULTS.md too). */
function accounting(m) {
  const t = m.total
  const pre = m.preSerialised
  const us = (x) => x.toFixed(1)
  const share = (x) => `${((100 * x) / t.mainThreadUsPerReq).toFixed(0)}%`
  const split = `user ${us(t.mainThreadUserUsPerReq)} + system ${us(t.mainThreadSystemUsPerReq)}`
  return {
    head: ['part of WmlClient.score', 'main-thread µs/req', 'share'],
    rows: [
      [`JSON.stringify of the 20-row payload (${m.payloadBytes} B), alone`, us(m.stringifyUs), share(m.stringifyUs)],
      [`JSON.parse of the answer text (${m.answerBytes} B), alone`, us(m.parseUs), share(m.parseUs)],
      ['the rest: N-API call, hand-offs, completion, promise (difference)', us(m.restUs), share(m.restUs)],
      [`total: ${m.concurrency} callers over HTTPS (${split})`, us(t.mainThreadUsPerReq), '100%'],
    ],
    notes: [
      `${t.rps.toFixed(0)} req/s; process CPU (all threads) ${us(t.cpuUsPerReq)} µs/req, ` +
        `of which the main thread ${((100 * t.mainThreadUsPerReq) / t.cpuUsPerReq).toFixed(0)}%`,
      `cross-check: score() with the payload pre-serialised to bytes: ${us(pre.mainThreadUsPerReq)} µs/req on the main thread, ` +
        `${pre.rps.toFixed(0)} req/s (total minus this: ${us(t.mainThreadUsPerReq - pre.mainThreadUsPerReq)} µs, ` +
        `against ${us(m.stringifyUs)} µs for JSON.stringify alone)`,
      'method: one process against the fake server in another (testing/cli.js --tls); main-thread CPU from ' +
        `/proc/self/task/<pid>/stat over ${2 * m.blocks} x ${m.measureMs / 1000} s per form (ABBA blocks, ${m.warmupMs / 1000} s warm-up first); ` +
        `JSON loops timed alone for ${m.loopMs / 1000} s each; the rest is total minus the two, so it also carries ` +
        'the difference between a JSON call in a tight loop and in place',
    ],
  }
}

async function main() {
  const m = await measure()
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(m) + '\n')
    return
  }
  if (m.unavailable) {
    process.stdout.write(`main-thread accounting unavailable: ${m.unavailable}\n`)
    return
  }
  const a = accounting(m)
  process.stdout.write(`\nWhere our main-thread time per scoring request goes (HTTPS)\n\n${textTable(a.head, a.rows)}\n`)
  for (const n of a.notes) process.stdout.write(`  ${n}\n`)
}

module.exports = { accounting }

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`[main-thread] failed: ${err && err.stack || err}\n`)
      process.exit(1)
    },
  )
}
