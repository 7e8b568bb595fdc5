#!/usr/bin/env node
'use strict'
/**
 * Benchmark orchestrator: `node bench/run.js [flags]` (or `npm run bench`).
 *
 * Parts, in this order:
 *   token        cached token ns/call and cold calls -> bench/token.js (one child process)
 *   scoring      scoring over plain HTTP: the fake server in its own process
 *                (testing/cli.js), each client variant in its own
 *                bench/scoring-client.js process, and the floors
 *                (bench/scoring_floor.rs: reqwest and bare hyper alone in Rust)
 *                in theirs, rounds in ABC CBA order (information)
 *   scoring-tls  the same over HTTPS (testing/cli.js --tls; ours trusts the CA
 *                through `caCert`, undici through `connect: { ca }`, fetch and
 *                sdk-core through NODE_EXTRA_CA_CERTS), against the goals
 *   main-thread  where our main-thread time per scoring request goes, over
 *                HTTPS -> bench/main-thread.js (one child process); reported
 *                under the HTTPS section
 *   inference    watsonx.ai chat and embeddings against @ibm-cloud/watsonx-ai
 *                over HTTPS -> bench/inference.js (which runs each client in
 *                its own bench/inference-client.js process)
 *   fleet        the token store shared through Redis: first token in a new
 *                process with a warm store vs without, IAM requests of cold
 *                and refreshing fleets -> bench/fleet.js (it starts its own
 *                redis-server and fleet processes)
 *   otel         the cached token and scoring with OpenTelemetry absent, with
 *                providers registered, and as before telemetry existed ->
 *                bench/otel.js (one child process)
 *
 * Flags:
 *   --only <part,...>  run only these parts; `--only scoring-tls` also runs
 *                      main-thread (its section); `--only main-thread` runs it alone
 *   --skip <part,...>  run all but these (BENCH_SKIP=<part,...> does the same)
 *   --write            also write bench/results.json and bench/RESULTS.md after a
 *                      partial run: its parts replace theirs in the record, the
 *                      others stay as they were (a full run always writes them;
 *                      a partial one without --write only prints)
 *   --help
 *
 * Prints a table with ratios and "goal met"/"goal missed", writes
 * bench/results.json and bench/RESULTS.md. Exits non-zero only when something
 * broke (a child failed, or a variant had request errors), never on a missed goal.
 *
 * Knobs (env): BENCH_SCORING_ROUNDS (2), BENCH_WARMUP_MS (2000), BENCH_MEASURE_MS (8000),
 * BENCH_CONCURRENCY (32), BENCH_ROUNDS (5), BENCH_ROUND_MS (300), BENCH_MAIN_THREAD_MS (2000),
 * BENCH_MAIN_THREAD_BLOCKS (2), BENCH_LOOP_MS (1000).
 */
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { parseArgs } = require('node:util')
const {
  ROOT, envInfo, envLine, scoringPayload, procCpuUs, combineRuns, textTable, startFakeServerProcess, runJsonChild, ratio, verdict, fmtRatio, goalLine,
} = require('./common')
const { accounting } = require('./main-thread')
const inference = require('./inference')
const otel = require('./otel')

const SCORING_ROUNDS = Number(process.env.BENCH_SCORING_ROUNDS) || 2
const VARIANTS = ['ours', 'undici', 'fetch', 'floor', 'floor-hyper']
const TLS_VARIANTS = ['ours', 'undici', 'fetch']
const FLOOR_STACK = { floor: 'reqwest', 'floor-hyper': 'hyper' }
const PARTS = ['token', 'scoring', 'scoring-tls', 'main-thread', 'inference', 'fleet', 'otel']
const GOALS = {
  cachedOursOverAnchor: 1.0, // ours ns/call / anchor ns/call <= 1.0
  // Scoring over HTTPS, ours / undici Pool + sdk-core:
  tlsMainThreadOursOverUndici: 0.25, // main-thread CPU µs/req <= 0.25
  tlsCpuOursOverUndici: 0.65, // process CPU µs/req <= 0.65
  tlsRpsOursOverUndici: 1.2, // req/s >= 1.2
  fleetWarmOverIam: 0.1, // first token in a new process, warm store / IAM path <= 0.1
}

const problems = [] // things that actually broke: make the exit code non-zero
const firstLine = (s) => String(s).split('\n')[0]

// ---------------------------------------------------------------- children

// ---------------------------------------------------------------- phases

async function tokenPhase() {
  console.error('\n== token benchmarks (cached ns/call, cold calls) ==')
  return runJsonChild(['--expose-gc', path.join(__dirname, 'token.js')], 120_000)
}

/**
 * Builds the floor program (bench/scoring_floor.rs) with cargo; resolves
 * its path, or null (with the reason logged) if it cannot be built.
 */
function buildFloor() {
  const args = ['build', '--release', '--quiet', '--no-default-features', '--example', 'scoring_floor']
  return new Promise((resolve) => {
    const child = spawn('cargo', args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] })
    // A cargo that cannot start emits 'error' and then 'close': one reason is logged.
    let failed = false
    child.on('error', (err) => {
      failed = true
      console.error(`[scoring] floor unavailable: cargo: ${err.message}`)
      resolve(null)
    })
    child.on('close', (code) => {
      if (code !== 0 && !failed) console.error(`[scoring] floor unavailable: cargo ${args.join(' ')} exited with ${code}`)
      resolve(code === 0 ? path.join(ROOT, 'target', 'release', 'examples', 'scoring_floor') : null)
    })
  })
}

/**
 * Scoring over plain HTTP (`tls` false: our client, the two anchors and the
 * floors) or over HTTPS (`tls` true: our client and the two anchors).
 */
async function scoringPhase({ tls }) {
  const tag = tls ? 'scoring-tls' : 'scoring'
  console.error(tls ? '\n== scoring over HTTPS: throughput, process and main-thread CPU ==' : '\n== scoring over HTTP: throughput and client CPU ==')
  const variants = tls ? TLS_VARIANTS : VARIANTS
  const floor = tls ? null : await buildFloor()
  const { url, ca, child, stop } = await startFakeServerProcess({ args: tls ? ['--tls'] : [] })
  const runs = Object.fromEntries(variants.map((v) => [v, []]))
  let unavailable = null
  try {
    // ABC CBA ...: every variant sees the server early and late alike.
    const order = []
    for (let r = 0; r < SCORING_ROUNDS; r++) order.push(...(r % 2 ? [...variants].reverse() : variants))
    for (const v of order) {
      if (v === 'ours' && unavailable) continue
      if (FLOOR_STACK[v] && !floor) continue
      const serverCpu0 = procCpuUs(child.pid)
      let res
      try {
        if (FLOOR_STACK[v]) {
          res = await runJsonChild([url, JSON.stringify(scoringPayload()), FLOOR_STACK[v]], 60_000, {}, floor)
        } else {
          // Over HTTPS, the anchors (fetch, and sdk-core's token call through axios) trust the CA
          // through NODE_EXTRA_CA_CERTS; ours is given it as caCert, undici as connect.ca.
          const env = tls && v !== 'ours' ? { NODE_EXTRA_CA_CERTS: ca } : {}
          res = await runJsonChild([path.join(__dirname, 'scoring-client.js'), v, url, ...(tls ? [ca] : [])], 60_000, env)
        }
      } catch (err) {
        problems.push(`${tag} ${v}: ${err.message}`)
        console.error(`[${tag}] ${v}: ${err.message}`)
        continue
      }
      if (res.unavailable) {
        unavailable = res.unavailable
        console.error(`[${tag}] ours: ${res.unavailable}`)
        continue
      }
      const serverCpu1 = procCpuUs(child.pid)
      // Server CPU over the whole child run (warm-up included), per request completed: for information.
      if (serverCpu0 !== null && serverCpu1 !== null && res.totalCompleted) res.serverCpuUsPerReq = +((serverCpu1 - serverCpu0) / res.totalCompleted).toFixed(1)
      console.error(`[${tag}] ${v}: ${res.rps} req/s, ${res.cpuUsPerReq} µs CPU/req (main thread ${res.mainThreadUsPerReq ?? 'n/a'}), ` +
        `max RSS ${res.maxRssMB} MB, ${res.errors} errors`)
      if (res.errors > 0) problems.push(`${tag} ${v}: ${res.errors} request errors (first: ${firstLine(res.firstError)})`)
      if (!res.drained) problems.push(`${tag} ${v}: callers did not finish after the window`)
      runs[v].push(res)
    }
  } finally {
    await stop()
  }

  // Per variant: throughput = mean of the rounds; CPU/req = total CPU / total requests.
  const out = {}
  for (const v of variants) {
    const rs = runs[v]
    if (!rs.length) {
      let why = 'no successful run'
      if (v === 'ours' && unavailable) why = unavailable
      if (FLOOR_STACK[v] && !floor) why = 'cargo could not build bench/scoring_floor.rs'
      out[v] = { unavailable: why }
      continue
    }
    out[v] = {
      ...combineRuns(rs),
      serverCpuUsPerReq: rs.every((r) => r.serverCpuUsPerReq != null)
        ? +(rs.reduce((a, r) => a + r.serverCpuUsPerReq, 0) / rs.length).toFixed(1) : null,
      runs: rs,
    }
  }
  const cfg = runs.undici[0] || runs.fetch[0] || {}
  return { tls, concurrency: cfg.concurrency, warmupMs: cfg.warmupMs, measureSec: cfg.seconds, rounds: SCORING_ROUNDS, variants: out }
}

async function fleetPhase() {
  console.error('\n== fleet token store (Redis): new processes, cold and refreshing fleets ==')
  return runJsonChild([path.join(__dirname, 'fleet.js'), '--json'], 300_000)
}

async function inferencePhase() {
  console.error('\n== watsonx.ai inference against @ibm-cloud/watsonx-ai (HTTPS) ==')
  const res = await runJsonChild([path.join(__dirname, 'inference.js'), '--json'], 1_800_000)
  problems.push(...res.problems.map((p) => `inference: ${p}`))
  return res
}

async function otelPhase() {
  console.error('\n== OpenTelemetry: the hot paths with and without it ==')
  return runJsonChild(['--expose-gc', path.join(__dirname, 'otel.js')], 300_000)
}

async function mainThreadPhase() {
  console.error('\n== where our main-thread time goes (HTTPS) ==')
  return runJsonChild([path.join(__dirname, 'main-thread.js'), '--json'], 120_000)
}

// ---------------------------------------------------------------- ratios and report

function computeRatios(results) {
  const r = {}
  const c = results.token && results.token.cached.candidates
  if (c) {
    const anchor = c['anchor sdk-core'].medianNs
    r.cachedGetIamTokenOverAnchor = ratio(c['ours getIamToken'].medianNs, anchor, GOALS.cachedOursOverAnchor, '<=')
    r.cachedAuthenticatorOverAnchor = ratio(c['ours IamAuthenticator'].medianNs, anchor, GOALS.cachedOursOverAnchor, '<=')
  }
  const cold = results.token && results.token.cold
  if (cold) {
    r.coldIamRequests = { value: cold.ours.iamRequests, goal: `== ${cold.ours.keys}`, met: cold.ours.iamRequests === cold.ours.keys }
  }
  const s = results.scoring && results.scoring.variants
  if (s) {
    // Plain HTTP: information (the goals are set on the HTTPS run).
    const ours = s.ours || {}
    r.mainThreadOursOverUndici = ratio(ours.mainThreadUsPerReq, s.undici.mainThreadUsPerReq)
    r.cpuOursOverUndici = ratio(ours.cpuUsPerReq, s.undici.cpuUsPerReq)
    r.cpuOursOverFetch = ratio(ours.cpuUsPerReq, s.fetch.cpuUsPerReq)
    r.rpsOursOverUndici = ratio(ours.rps, s.undici.rps)
    if (!s.floor.unavailable) {
      r.cpuFloorOverUndici = ratio(s.floor.cpuUsPerReq, s.undici.cpuUsPerReq)
      r.cpuOursOverFloor = ratio(ours.cpuUsPerReq, s.floor.cpuUsPerReq)
    }
    if (!s['floor-hyper'].unavailable) r.cpuHyperOverUndici = ratio(s['floor-hyper'].cpuUsPerReq, s.undici.cpuUsPerReq)
  }
  const tls = results.scoringTls && results.scoringTls.variants
  if (tls) {
    const ours = tls.ours || {}
    r.tlsMainThreadOursOverUndici = ratio(ours.mainThreadUsPerReq, tls.undici.mainThreadUsPerReq, GOALS.tlsMainThreadOursOverUndici, '<=')
    r.tlsCpuOursOverUndici = ratio(ours.cpuUsPerReq, tls.undici.cpuUsPerReq, GOALS.tlsCpuOursOverUndici, '<=')
    r.tlsRpsOursOverUndici = ratio(ours.rps, tls.undici.rps, GOALS.tlsRpsOursOverUndici, '>=')
    r.tlsMainThreadOursOverFetch = ratio(ours.mainThreadUsPerReq, tls.fetch.mainThreadUsPerReq)
    r.tlsCpuOursOverFetch = ratio(ours.cpuUsPerReq, tls.fetch.cpuUsPerReq)
  }
  const fl = results.fleet
  if (fl) {
    r.fleetWarmOverIam = ratio(fl.firstToken.warmStore.medianMs, fl.firstToken.noStore.medianMs, GOALS.fleetWarmOverIam, '<=')
    // One IAM request per key per token life across the fleet: cold (one life), and over the refreshes.
    const perKey = fl.cold.every((c) => c.store.iamRequests === c.keys && c.store.maxPerKey === 1)
    r.fleetColdIamRequests = { value: fl.cold.map((c) => c.store.iamRequests).join(' / '), goal: `== ${fl.cold.map((c) => c.keys).join(' / ')}`, met: perKey }
    const lives = 1 + Math.floor(fl.refresh.store.runMs / fl.refresh.refreshEveryMs)
    r.fleetRefreshIamRequests = { value: fl.refresh.store.iamRequests, goal: `<= ${lives} (1 + refreshes)`, met: fl.refresh.store.iamRequests <= lives }
  }
  return r
}


function mdTable(head, rows) {
  const esc = (s) => String(s).replace(/\|/g, '\\|')
  return [`| ${head.map(esc).join(' | ')} |`, `|${head.map((_, i) => (i ? ' ---: ' : ' --- ')).join('|')}|`,
    ...rows.map((row) => `| ${row.map(esc).join(' | ')} |`)].join('\n')
}

const VARIANT_NAMES = {
  ours: 'ours WmlClient.score',
  undici: '(b) undici Pool + sdk-core auth',
  fetch: '(a) fetch + sdk-core auth',
  floor: 'floor: our reqwest client alone, in Rust, no JS',
  'floor-hyper': 'floor: bare hyper (1 connection per caller), in Rust',
}

/** The table of one scoring phase (`proto` 'HTTP' or 'HTTPS'), with `notes` after the unavailable variants. */
function scoringSection(s, proto, notes) {
  const us = (x) => (x == null ? '—' : x.toFixed(1))
  const names = Object.keys(s.variants)
  return {
    title: `Scoring over ${proto}: ${s.concurrency} concurrent callers, 20-row payload, ${s.warmupMs / 1000} s warm-up + ` +
      `${s.measureSec != null ? Math.round(s.measureSec) : '?'} s measured, ${s.rounds} round(s) per variant`,
    head: ['variant', 'req/s', 'process CPU µs/req', 'main-thread CPU µs/req', 'max RSS MB', 'server CPU µs/req', 'errors'],
    rows: names.map((v) => {
      const x = s.variants[v]
      if (x.unavailable) return [VARIANT_NAMES[v], '—', '—', '—', '—', '—', '—']
      return [VARIANT_NAMES[v], x.rps.toFixed(0), us(x.cpuUsPerReq), us(x.mainThreadUsPerReq), x.maxRssMB.toFixed(0), x.serverCpuUsPerReq ?? 'n/a', x.errors]
    }),
    notes: [...names.filter((v) => s.variants[v].unavailable).map((v) => `${v}: ${s.variants[v].unavailable}`), ...notes],
  }
}

/**
 * The report as sections of { title, level (2 unless given), head, rows, notes },
 * rendered both as text and markdown; a section without rows has notes only.
 */
function sections(results) {
  const out = []
  const r = results.ratios
  const t = results.token
  if (t) {
    const c = t.cached.candidates
    out.push({
      title: `Cached token: ns per awaited call (median of ${t.cached.rounds} interleaved rounds)`,
      head: ['candidate', 'median ns/call', 'rounds (ns/call)', 'calls/round'],
      rows: Object.entries(c).map(([name, x]) => [name, x.medianNs.toFixed(1), x.samplesNs.map((v) => v.toFixed(1)).join(' / '), x.n]),
      notes: [
        `ours getIamToken / anchor: ${fmtRatio(r.cachedGetIamTokenOverAnchor)} (goal ${r.cachedGetIamTokenOverAnchor.goal}): ${verdict(r.cachedGetIamTokenOverAnchor)}`,
        `ours IamAuthenticator / anchor: ${fmtRatio(r.cachedAuthenticatorOverAnchor)} (goal ${r.cachedAuthenticatorOverAnchor.goal}): ${verdict(r.cachedAuthenticatorOverAnchor)}`,
        `IAM requests during the timed rounds: ${t.cached.iamRequestsDuringTiming} (anchor refresh due in ${t.cached.anchorRefreshInSec} s)`,
      ],
    })
    const cold = t.cold
    out.push({
      title: `Cold calls: ${cold.ours.calls} concurrent calls over ${cold.ours.keys} new keys, IAM latency ${cold.latencyMs} ms`,
      head: ['candidate', 'IAM requests', 'max per key', 'wall ms', 'errors'],
      rows: [
        ['ours getIamToken (process-wide cache)', cold.ours.iamRequests, cold.ours.maxRequestsPerKey, cold.ours.wallMs.toFixed(0), cold.ours.errors],
        ['anchor sdk-core (1 authenticator per key)', cold.anchor.iamRequests, cold.anchor.maxRequestsPerKey, cold.anchor.wallMs.toFixed(0), cold.anchor.errors],
      ],
      notes: [
        `ours IAM requests: ${r.coldIamRequests.value} (goal ${r.coldIamRequests.goal}): ${verdict(r.coldIamRequests)}`,
        `wall time ours / anchor: ${(cold.ours.wallMs / cold.anchor.wallMs).toFixed(2)}x (information; the fake server shares the process)`,
      ],
    })
  }
  const s = results.scoring
  if (s) {
    out.push(scoringSection(s, 'HTTP', [
      `main-thread CPU/req ours / undici: ${fmtRatio(r.mainThreadOursOverUndici)}; process CPU/req ours / undici: ${fmtRatio(r.cpuOursOverUndici)}, ` +
        `ours / fetch: ${fmtRatio(r.cpuOursOverFetch)}; req/s ours / undici: ${fmtRatio(r.rpsOursOverUndici)} (information: the goals are set on the HTTPS run)`,
      ...(r.cpuFloorOverUndici ? [
        `CPU/req floor / undici: ${fmtRatio(r.cpuFloorOverUndici)}; ours / floor: ${fmtRatio(r.cpuOursOverFloor)} (information: what the HTTP stack costs before any JS; ` +
          'a JS caller adds at least JSON.stringify + JSON.parse and a promise on top)',
      ] : []),
      ...(r.cpuHyperOverUndici ? [
        `CPU/req bare hyper / undici: ${fmtRatio(r.cpuHyperOverUndici)} (information: the same requests without reqwest's layers, pool, proxy or TLS support)`,
      ] : []),
      ...(s.variants.floor && !s.variants.floor.unavailable ? ['floors: no JS thread, so no main-thread figure; their tasks run on one single-threaded tokio runtime'] : []),
    ]))
  }
  const tls = results.scoringTls
  if (tls) {
    out.push(scoringSection(tls, 'HTTPS', [
      goalLine('main-thread CPU/req ours / undici', r.tlsMainThreadOursOverUndici),
      goalLine('process CPU/req ours / undici', r.tlsCpuOursOverUndici),
      goalLine('req/s ours / undici', r.tlsRpsOursOverUndici),
      `main-thread CPU/req ours / fetch: ${fmtRatio(r.tlsMainThreadOursOverFetch)}; process CPU/req ours / fetch: ${fmtRatio(r.tlsCpuOursOverFetch)} (information)`,
    ]))
  }
  const fl = results.fleet
  if (fl) {
    const f = fl.firstToken
    const ms = (x) => x.toFixed(1)
    out.push({
      title: `Fleet token store (Redis): first token in a new process, IAM latency ${f.latencyMs} ms (median of ${f.samples} processes each)`,
      head: ['new process', 'median ms', 'samples (ms)', 'IAM requests'],
      rows: [
        ['without a store (IAM)', ms(f.noStore.medianMs), f.noStore.samplesMs.map(ms).join(' / '), f.samples],
        ['warm store', ms(f.warmStore.medianMs), f.warmStore.samplesMs.map(ms).join(' / '), f.warmStore.iamRequests],
      ],
      notes: [`warm store / IAM path: ${fmtRatio(r.fleetWarmOverIam)} (goal ${r.fleetWarmOverIam.goal}): ${verdict(r.fleetWarmOverIam)}`],
    })
    const rf = fl.refresh
    out.push({
      title: `Fleet token store: IAM requests of ${fl.processesCold} cold processes started together, and of ${rf.processes} processes over several ${rf.lifetimeSec} s token lives`,
      head: ['case', 'without a store', 'with the store', 'max per key (store)'],
      rows: [
        ...fl.cold.map((c) => [`${fl.processesCold} cold processes, ${c.keys} key(s)`, c.noStore.iamRequests, c.store.iamRequests, c.store.maxPerKey]),
        [`${rf.processes} processes, ${(rf.store.runMs / 1000).toFixed(1)} s, a refresh every ${rf.refreshEveryMs} ms`, rf.noStore.iamRequests, rf.store.iamRequests, '—'],
      ],
      notes: [
        `cold IAM requests with the store: ${r.fleetColdIamRequests.value} (goal ${r.fleetColdIamRequests.goal}, one per key): ${verdict(r.fleetColdIamRequests)}`,
        `refreshing fleet, IAM requests with the store: ${r.fleetRefreshIamRequests.value} (goal ${r.fleetRefreshIamRequests.goal}): ${verdict(r.fleetRefreshIamRequests)}`,
        `failed calls while refreshing: ${rf.noStore.failures} without a store, ${rf.store.failures} with it (of ${rf.noStore.calls} and ${rf.store.calls})`,
      ],
    })
  }
  const m = results.mainThread
  if (m) {
    const title = 'Where our main-thread time per scoring request goes (HTTPS, `bench/main-thread.js`)'
    if (m.unavailable) out.push({ title, level: 3, notes: [`unavailable: ${m.unavailable}`] })
    else {
      const acc = accounting(m)
      acc.notes.push('what "the rest" is made of (a context switch per wake-up is its largest item), what was cut and what was tried: bench/MAIN-THREAD.md')
      out.push({ title, level: 3, ...acc })
    }
  }
  if (results.inference) out.push(...inference.sections(results.inference))
  if (results.otel) out.push(...otel.sections(results.otel))
  return out
}

function printReport(results) {
  console.log(`\nwml-native benchmarks — ${envLine(results.env)}`)
  for (const sec of sections(results)) {
    console.log(`\n${sec.title}\n`)
    if (sec.rows) console.log(textTable(sec.head, sec.rows))
    for (const n of sec.notes) console.log(`  ${n}`)
  }
  if (problems.length) {
    console.log('\nPROBLEMS:')
    for (const p of problems) console.log(`  - ${p}`)
  }
}

function markdown(results) {
  const parts = [
    '# wml-native benchmark results',
    '',
    `Generated by \`npm run bench\` (\`node bench/run.js\`) on ${results.env.date.slice(0, 10)}.`,
    `Environment: ${envLine(results.env)}. All traffic goes to the local fake IAM/WML server (\`wml-native/testing\`) on 127.0.0.1.`,
    ...(results.updated || []).map((u) => `Run again on ${u.date.slice(0, 10)} (\`--only ${u.parts.join(',')} --write\`): ${u.parts.join(', ')}.`),
  ]
  for (const sec of sections(results)) {
    parts.push('', `${'#'.repeat(sec.level || 2)} ${sec.title}`, '', ...(sec.rows ? [mdTable(sec.head, sec.rows), ''] : []), ...sec.notes.map((n) => `- ${n}`))
  }
  parts.push('', '## Method', '',
    '- **Cached token**: one process with the fake server in-process; each candidate is warmed up, then timed over sequential `await`ed calls ' +
      '(`getIamToken(apikey, { url })`, our `IamAuthenticator#getToken()`, and ibm-cloud-sdk-core 5.x `IamAuthenticator.tokenManager.getToken()`), ' +
      'rounds interleaved in rotating order; tokens live 1 h, so the anchor neither refreshes nor expires mid-run (checked: no IAM request while timing).',
    '- **Cold calls**: all calls are started in one synchronous loop, keys interleaved, before any can resolve; the IAM count is what the fake server received.',
    '- **Scoring**: the fake server runs in its own process (`testing/cli.js`); each variant runs in its own child process; ' +
      'process CPU per request = `process.cpuUsage()` (user + system) over the measured window / requests completed in it; ' +
      'main-thread CPU per request = utime + stime of the main (JS) thread, whose tid is the pid, from `/proc/self/task/<pid>/stat` ' +
      '(clock ticks of `getconf CLK_TCK`) over the same window / the same requests. ' +
      'The baselines get their token from sdk-core on every request, `JSON.stringify` the payload and parse the JSON answer; every variant checks the 20 predictions. ' +
      'Server CPU per request is read from `/proc` for information. The machine (2 cores) is shared by the server and the client, and with other work, ' +
      'so throughput is bounded by it and figures move between runs.',
    '- **Scoring over HTTPS**: the same, with the fake server on TLS (`testing/cli.js --tls`: a leaf certificate signed by a private CA, ' +
      '`testing/fixtures/ca.pem`). Ours is given the CA as `new WmlClient({ url, iamUrl: url, apikey, caCert })` (its TLS, rustls, runs on its I/O thread); ' +
      'the undici `Pool` gets `connect: { ca }` (Node\'s TLS runs on the JS thread); `fetch` has no CA option, so its process runs with ' +
      '`NODE_EXTRA_CA_CERTS=<ca path>`; sdk-core\'s `IamAuthenticator` (axios over Node\'s https) has none either, so both anchor processes run with ' +
      '`NODE_EXTRA_CA_CERTS` (ours does not need it). Every client keeps its connections alive; their TLS handshakes happen (almost all) in the warm-up.',
    '- **Where our main-thread time goes**: `bench/main-thread.js`, one process against the fake server over HTTPS in another: ' +
      '`WmlClient.score` with 32 callers (main-thread CPU per request over several short windows, in ABBA blocks with the same calls on a pre-serialised payload); ' +
      '`JSON.stringify` of the payload and `JSON.parse` of the server\'s real answer text, each timed alone in a loop; the rest is the difference.',
    '- **Floor**: `bench/scoring_floor.rs` (built by cargo as an example, without the napi layer) sends the same requests with the package\'s own pooled reqwest client ' +
      '(`http::client`), 32 tasks on one single-threaded tokio runtime, parses each answer with serde_json and checks the 20 predictions; ' +
      'CPU from `/proc/self/stat` (10 ms ticks). No JS, no N-API, no hand-off between threads: the cost of the HTTP stack itself, for information. ' +
      'The second floor sends the same requests with hyper\'s bare HTTP/1.1 connection API (one connection per caller; no pool, proxy or TLS): what reqwest\'s own layers cost.',
    `- ${inference.METHOD}`,
    `- ${otel.METHOD}`,
  )
  parts.push(
    '- **Fleet token store**: `bench/fleet.js` starts a redis-server (no persistence, a free 127.0.0.1 port) and the fake IAM in the bench/fleet.js process, ' +
      'and forks fleet processes (`__test__/fixtures/fleet-process.js`, the package loaded, the store named by `WML_NATIVE_TOKEN_STORE`). ' +
      'First token: each sample is a new process, timed from its first `getIamToken` call to the token (its Redis connection is made in that time), ' +
      'without a store and with a store a process warmed earlier, alternately, with every IAM answer delayed 300 ms. ' +
      'Cold: 20 processes get the keys at once (released together once all have loaded). Refresh: 10 processes call `getIamToken` every 25 ms with 3 s tokens; ' +
      'the IAM counts are what the fake server received per key. The fleet processes, the server and Redis share the 2 cores with everything else on the machine.',
  )
  if (problems.length) parts.push('', '## Problems', '', ...problems.map((p) => `- ${p}`))
  return parts.join('\n') + '\n'
}

// ---------------------------------------------------------------- main

/** The parts to run and whether to write the files, from the flags (and BENCH_SKIP). */
function options() {
  const { values } = parseArgs({
    options: { only: { type: 'string' }, skip: { type: 'string' }, write: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  })
  if (values.help) {
    console.log('usage: node bench/run.js [--only <part,...>] [--skip <part,...>] [--write]\nparts: ' + PARTS.join(', '))
    process.exit(0)
  }
  const list = (v) => (v || '').split(',').map((x) => x.trim()).filter(Boolean)
  const named = [...list(values.only), ...list(values.skip), ...list(process.env.BENCH_SKIP)]
  const unknown = named.filter((p) => !PARTS.includes(p))
  if (unknown.length) {
    console.error(`unknown part(s) ${unknown.join(', ')} (parts: ${PARTS.join(', ')})`)
    process.exit(2)
  }
  const only = list(values.only)
  if (only.includes('scoring-tls')) only.push('main-thread')
  const skip = new Set([...list(values.skip), ...list(process.env.BENCH_SKIP)])
  const run = new Set(PARTS.filter((p) => (!only.length || only.includes(p)) && !skip.has(p)))
  return { run, write: run.size === PARTS.length || Boolean(values.write) }
}

/** The keys of results[] each part writes. */
const PART_KEYS = { token: 'token', scoring: 'scoring', 'scoring-tls': 'scoringTls', 'main-thread': 'mainThread', inference: 'inference', otel: 'otel' }

/**
 * A partial run written to the record: the parts not run keep the figures
 * (and the environment) of bench/results.json; `results.updated` says which
 * parts were run again, and when.
 */
function mergeRecord(results) {
  let old
  try {
    old = JSON.parse(fs.readFileSync(path.join(__dirname, 'results.json'), 'utf8'))
  } catch {
    return
  }
  const fresh = results.parts
  for (const [part, key] of Object.entries(PART_KEYS)) {
    if (!fresh.includes(part) && old[key] !== undefined) results[key] = old[key]
  }
  const kept = (old.problems || []).filter((p) => !fresh.some((part) => p.startsWith(part)))
  problems.unshift(...kept)
  results.updated = [...(old.updated || []).filter((u) => !u.parts.every((p) => fresh.includes(p))), { parts: fresh, date: results.env.date }]
  results.env = old.env
  results.parts = [...new Set([...(old.parts || []), ...fresh])]
}

/** Runs `phase` and stores its result as results[key]; a failure is a problem, not a crash. */
async function part(results, key, label, phase) {
  try {
    results[key] = await phase()
  } catch (err) {
    problems.push(`${label}: ${err.message}`)
  }
}

async function main() {
  const { run, write } = options()
  const results = { env: envInfo(), parts: [...run] }
  console.log(envLine(results.env))

  if (run.has('token')) {
    await part(results, 'token', 'token benchmarks', tokenPhase)
    const cold = results.token && results.token.cold
    for (const k of cold ? ['ours', 'anchor'] : []) {
      if (cold[k].errors) problems.push(`cold ${k}: ${cold[k].errors} errors (first: ${firstLine(cold[k].firstError)})`)
    }
  }
  if (run.has('scoring')) await part(results, 'scoring', 'scoring benchmarks', () => scoringPhase({ tls: false }))
  if (run.has('scoring-tls')) await part(results, 'scoringTls', 'scoring-tls benchmarks', () => scoringPhase({ tls: true }))
  if (run.has('main-thread')) await part(results, 'mainThread', 'main-thread accounting', mainThreadPhase)
  if (run.has('inference')) await part(results, 'inference', 'inference benchmarks', inferencePhase)
  if (run.has('fleet')) {
    await part(results, 'fleet', 'fleet benchmarks', fleetPhase)
    const rf = results.fleet && results.fleet.refresh
    for (const k of rf ? ['noStore', 'store'] : []) {
      if (rf[k].failures) problems.push(`fleet refresh ${k}: ${rf[k].failures} failed calls`)
    }
  }
  if (run.has('otel')) await part(results, 'otel', 'OpenTelemetry benchmarks', otelPhase)

  const partial = run.size !== PARTS.length
  if (partial && write) mergeRecord(results)
  results.ratios = computeRatios(results)
  results.problems = problems
  printReport(results)
  if (write) {
    fs.writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify(results, null, 2) + '\n')
    fs.writeFileSync(path.join(__dirname, 'RESULTS.md'), markdown(results))
    console.log('\nwrote bench/results.json and bench/RESULTS.md')
  } else {
    console.log('\npartial run: bench/results.json and bench/RESULTS.md left as they were (--write to replace them)')
  }
  process.exitCode = problems.length ? 1 : 0
}

main().catch((err) => {
  console.error(err && err.stack || err)
  process.exitCode = 1
})
