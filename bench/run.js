#!/usr/bin/env node
'use strict'
/**
 * Benchmark orchestrator: `node bench/run.js` (or `npm run bench`).
 *
 *   1. cached token ns/call and 2. cold calls  -> bench/token.js (one child process)
 *   3. scoring throughput and client CPU        -> fake server in its own process
 *      (testing/cli.js), each client variant in its own bench/scoring-client.js
 *      process, and the floors (bench/scoring_floor.rs: reqwest and bare hyper
 *      alone in Rust) in theirs, rounds in ABC CBA order.
 *
 * Prints a table with ratios and "goal met"/"goal missed", writes
 * bench/results.json and bench/RESULTS.md. Exits non-zero only when something
 * broke (a child failed, or a variant had request errors), never on a missed goal.
 *
 * Knobs (env): BENCH_SCORING_ROUNDS (2), BENCH_WARMUP_MS (2000), BENCH_MEASURE_MS (8000),
 * BENCH_CONCURRENCY (32), BENCH_ROUNDS (5), BENCH_ROUND_MS (300), BENCH_SKIP=token|scoring.
 */
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { ROOT, envInfo, envLine, scoringPayload, startFakeServerProcess } = require('./common')

const SCORING_ROUNDS = Number(process.env.BENCH_SCORING_ROUNDS) || 2
const VARIANTS = ['ours', 'undici', 'fetch', 'floor', 'floor-hyper']
const FLOOR_STACK = { floor: 'reqwest', 'floor-hyper': 'hyper' }
const SKIP = new Set((process.env.BENCH_SKIP || '').split(',').filter(Boolean))
const GOALS = {
  cachedOursOverAnchor: 1.0, // ours ns/call / anchor ns/call <= 1.0
  cpuOursOverUndici: 0.75, // CPU µs/req ours / undici <= 0.75
  cpuOursOverFetch: 0.25, // CPU µs/req ours / fetch <= 0.25
  rpsOursOverUndici: 1.0, // req/s ours / undici >= 1.0
}

const problems = [] // things that actually broke: make the exit code non-zero
const firstLine = (s) => String(s).split('\n')[0]

// ---------------------------------------------------------------- children

/**
 * Runs `node args...`, passes its stderr through, and resolves with the last
 * stdout line parsed as JSON. Killed (and rejected) after timeoutMs.
 */
function runJsonChild(args, timeoutMs, env, command = process.execPath) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d) => { out += d })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${args.join(' ')}: timed out after ${timeoutMs} ms`))
    }, timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`${args.join(' ')}: exited with ${code ?? signal}`))
      const line = out.trim().split('\n').pop()
      try {
        resolve(JSON.parse(line))
      } catch {
        reject(new Error(`${args.join(' ')}: no JSON result line (got ${JSON.stringify(out.slice(-200))})`))
      }
    })
  })
}

/** user+system CPU of a process in µs from /proc (Linux), or null. */
function procCpuUs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[11], [12] = utime, stime in clock ticks (USER_HZ, 100 on Linux)
    return (Number(fields[11]) + Number(fields[12])) * 1e4
  } catch {
    return null
  }
}

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

async function scoringPhase() {
  console.error('\n== scoring throughput and client CPU ==')
  const floor = await buildFloor()
  const { url, child, stop } = await startFakeServerProcess()
  const runs = Object.fromEntries(VARIANTS.map((v) => [v, []]))
  let unavailable = null
  try {
    // ABC CBA ...: every variant sees the server early and late alike.
    const order = []
    for (let r = 0; r < SCORING_ROUNDS; r++) order.push(...(r % 2 ? [...VARIANTS].reverse() : VARIANTS))
    for (const v of order) {
      if (v === 'ours' && unavailable) continue
      if (FLOOR_STACK[v] && !floor) continue
      const serverCpu0 = procCpuUs(child.pid)
      let res
      try {
        res = FLOOR_STACK[v]
          ? await runJsonChild([url, JSON.stringify(scoringPayload()), FLOOR_STACK[v]], 60_000, {}, floor)
          : await runJsonChild([path.join(__dirname, 'scoring-client.js'), v, url], 60_000)
      } catch (err) {
        problems.push(`scoring ${v}: ${err.message}`)
        console.error(`[scoring] ${v}: ${err.message}`)
        continue
      }
      if (res.unavailable) {
        unavailable = res.unavailable
        console.error(`[scoring] ours: ${res.unavailable}`)
        continue
      }
      const serverCpu1 = procCpuUs(child.pid)
      // Server CPU over the whole child run (warm-up included), per request completed: for information.
      if (serverCpu0 !== null && serverCpu1 !== null && res.totalCompleted) res.serverCpuUsPerReq = +((serverCpu1 - serverCpu0) / res.totalCompleted).toFixed(1)
      console.error(`[scoring] ${v}: ${res.rps} req/s, ${res.cpuUsPerReq} µs CPU/req, max RSS ${res.maxRssMB} MB, ${res.errors} errors`)
      if (res.errors > 0) problems.push(`scoring ${v}: ${res.errors} request errors (first: ${firstLine(res.firstError)})`)
      if (!res.drained) problems.push(`scoring ${v}: callers did not finish after the window`)
      runs[v].push(res)
    }
  } finally {
    await stop()
  }

  // Per variant: throughput = mean of the rounds; CPU/req = total CPU / total requests.
  const variants = {}
  for (const v of VARIANTS) {
    const rs = runs[v]
    if (!rs.length) {
      let why = 'no successful run'
      if (v === 'ours' && unavailable) why = unavailable
      if (FLOOR_STACK[v] && !floor) why = 'cargo could not build bench/scoring_floor.rs'
      variants[v] = { unavailable: why }
      continue
    }
    const req = rs.reduce((a, r) => a + r.requests, 0)
    const cpu = rs.reduce((a, r) => a + r.cpuUserUs + r.cpuSystemUs, 0)
    variants[v] = {
      rounds: rs.length,
      requests: req,
      rps: +(rs.reduce((a, r) => a + r.rps, 0) / rs.length).toFixed(1),
      cpuUsPerReq: req ? +(cpu / req).toFixed(2) : null,
      maxRssMB: Math.max(...rs.map((r) => r.maxRssMB)),
      serverCpuUsPerReq: rs.every((r) => r.serverCpuUsPerReq != null)
        ? +(rs.reduce((a, r) => a + r.serverCpuUsPerReq, 0) / rs.length).toFixed(1) : null,
      errors: rs.reduce((a, r) => a + r.errors, 0),
      runs: rs,
    }
  }
  const cfg = runs.undici[0] || runs.fetch[0] || {}
  return { concurrency: cfg.concurrency, warmupMs: cfg.warmupMs, measureSec: cfg.seconds, rounds: SCORING_ROUNDS, variants }
}

// ---------------------------------------------------------------- ratios and report

/** num / den against a goal (`cmp` '<=' or '>='); without a goal, for information. */
function ratio(num, den, goal, cmp) {
  const target = goal === undefined ? 'information' : `${cmp} ${goal}`
  if (num == null || den == null || !den) return { value: null, goal: target, met: null }
  const value = +(num / den).toFixed(3)
  return { value, goal: target, met: goal === undefined ? null : cmp === '<=' ? value <= goal : value >= goal }
}

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
    const ours = s.ours || {}
    r.cpuOursOverUndici = ratio(ours.cpuUsPerReq, s.undici.cpuUsPerReq, GOALS.cpuOursOverUndici, '<=')
    r.cpuOursOverFetch = ratio(ours.cpuUsPerReq, s.fetch.cpuUsPerReq, GOALS.cpuOursOverFetch, '<=')
    r.rpsOursOverUndici = ratio(ours.rps, s.undici.rps, GOALS.rpsOursOverUndici, '>=')
    if (!s.floor.unavailable) {
      r.cpuFloorOverUndici = ratio(s.floor.cpuUsPerReq, s.undici.cpuUsPerReq)
      r.cpuOursOverFloor = ratio(ours.cpuUsPerReq, s.floor.cpuUsPerReq)
    }
    if (!s['floor-hyper'].unavailable) r.cpuHyperOverUndici = ratio(s['floor-hyper'].cpuUsPerReq, s.undici.cpuUsPerReq)
  }
  return r
}

const verdict = (x) => (x.met == null ? 'n/a' : x.met ? 'goal met' : 'goal missed')
const fmtRatio = (x) => (x.value == null ? 'n/a' : `${x.value.toFixed(2)}x`)

/** Renders rows (arrays of cells) as an aligned text table. */
function textTable(head, rows) {
  const all = [head, ...rows].map((row) => row.map(String))
  const w = head.map((_, i) => Math.max(...all.map((row) => row[i].length)))
  const line = (row) => row.map((cell, i) => (i === 0 ? cell.padEnd(w[i]) : cell.padStart(w[i]))).join('  ')
  return [line(all[0]), w.map((n) => '-'.repeat(n)).join('  '), ...all.slice(1).map(line)].join('\n')
}

function mdTable(head, rows) {
  const esc = (s) => String(s).replace(/\|/g, '\\|')
  return [`| ${head.map(esc).join(' | ')} |`, `|${head.map((_, i) => (i ? ' ---: ' : ' --- ')).join('|')}|`,
    ...rows.map((row) => `| ${row.map(esc).join(' | ')} |`)].join('\n')
}

/** The report as sections of { title, head, rows, notes }, rendered both as text and markdown. */
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
    const names = {
      ours: 'ours WmlClient.score',
      undici: '(b) undici Pool + sdk-core auth',
      fetch: '(a) fetch + sdk-core auth',
      floor: 'floor: our reqwest client alone, in Rust, no JS',
      'floor-hyper': 'floor: bare hyper (1 connection per caller), in Rust',
    }
    out.push({
      title: `Scoring: ${s.concurrency} concurrent callers, 20-row payload, ${s.warmupMs / 1000} s warm-up + ${s.measureSec != null ? Math.round(s.measureSec) : '?'} s measured, ${s.rounds} round(s) per variant`,
      head: ['variant', 'req/s', 'client CPU µs/req', 'max RSS MB', 'server CPU µs/req', 'errors'],
      rows: VARIANTS.map((v) => {
        const x = s.variants[v]
        if (x.unavailable) return [names[v], '—', '—', '—', '—', '—']
        return [names[v], x.rps.toFixed(0), x.cpuUsPerReq == null ? 'n/a' : x.cpuUsPerReq.toFixed(1), x.maxRssMB.toFixed(0), x.serverCpuUsPerReq ?? 'n/a', x.errors]
      }),
      notes: [
        ...VARIANTS.filter((v) => s.variants[v].unavailable).map((v) => `${v}: ${s.variants[v].unavailable}`),
        `CPU/req ours / undici: ${fmtRatio(r.cpuOursOverUndici)} (goal ${r.cpuOursOverUndici.goal}): ${verdict(r.cpuOursOverUndici)}`,
        `CPU/req ours / fetch: ${fmtRatio(r.cpuOursOverFetch)} (goal ${r.cpuOursOverFetch.goal}): ${verdict(r.cpuOursOverFetch)}`,
        `req/s ours / undici: ${fmtRatio(r.rpsOursOverUndici)} (goal ${r.rpsOursOverUndici.goal}): ${verdict(r.rpsOursOverUndici)}`,
        ...(r.cpuFloorOverUndici ? [
          `CPU/req floor / undici: ${fmtRatio(r.cpuFloorOverUndici)}; ours / floor: ${fmtRatio(r.cpuOursOverFloor)} (information: what the HTTP stack costs before any JS; ` +
            'a JS caller adds at least JSON.stringify + JSON.parse and a promise on top)',
        ] : []),
        ...(r.cpuHyperOverUndici ? [
          `CPU/req bare hyper / undici: ${fmtRatio(r.cpuHyperOverUndici)} (information: the same requests without reqwest's layers, pool, proxy or TLS support)`,
        ] : []),
      ],
    })
  }
  return out
}

function printReport(results) {
  console.log(`\nwml-native benchmarks — ${envLine(results.env)}`)
  for (const sec of sections(results)) {
    console.log(`\n${sec.title}\n`)
    console.log(textTable(sec.head, sec.rows))
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
  ]
  for (const sec of sections(results)) {
    parts.push('', `## ${sec.title}`, '', mdTable(sec.head, sec.rows), '', ...sec.notes.map((n) => `- ${n}`))
  }
  parts.push('', '## Method', '',
    '- **Cached token**: one process with the fake server in-process; each candidate is warmed up, then timed over sequential `await`ed calls ' +
      '(`getIamToken(apikey, { url })`, our `IamAuthenticator#getToken()`, and ibm-cloud-sdk-core 5.x `IamAuthenticator.tokenManager.getToken()`), ' +
      'rounds interleaved in rotating order; tokens live 1 h, so the anchor neither refreshes nor expires mid-run (checked: no IAM request while timing).',
    '- **Cold calls**: all calls are started in one synchronous loop, keys interleaved, before any can resolve; the IAM count is what the fake server received.',
    '- **Scoring**: the fake server runs in its own process (`testing/cli.js`); each variant runs in its own child process; ' +
      'client CPU per request = `process.cpuUsage()` (user + system) over the measured window / requests completed in it. ' +
      'The baselines get their token from sdk-core on every request, `JSON.stringify` the payload and parse the JSON answer; every variant checks the 20 predictions. ' +
      'Server CPU per request is read from `/proc` for information. The machine is shared by the server and the client, so throughput is bounded by it.',
    '- **Floor**: `bench/scoring_floor.rs` (built by cargo as an example, without the napi layer) sends the same requests with the package\'s own pooled reqwest client ' +
      '(`http::client`), 32 tasks on one single-threaded tokio runtime, parses each answer with serde_json and checks the 20 predictions; ' +
      'CPU from `/proc/self/stat` (10 ms ticks). No JS, no N-API, no hand-off between threads: the cost of the HTTP stack itself, for information. ' +
      'The second floor sends the same requests with hyper\'s bare HTTP/1.1 connection API (one connection per caller; no pool, proxy or TLS): what reqwest\'s own layers cost.',
  )
  if (problems.length) parts.push('', '## Problems', '', ...problems.map((p) => `- ${p}`))
  return parts.join('\n') + '\n'
}

// ---------------------------------------------------------------- main

async function main() {
  const results = { env: envInfo() }
  console.log(envLine(results.env))

  if (!SKIP.has('token')) {
    try {
      results.token = await tokenPhase()
      const cold = results.token.cold
      for (const k of ['ours', 'anchor']) {
        if (cold[k].errors) problems.push(`cold ${k}: ${cold[k].errors} errors (first: ${firstLine(cold[k].firstError)})`)
      }
    } catch (err) {
      problems.push(`token benchmarks: ${err.message}`)
    }
  }
  if (!SKIP.has('scoring')) {
    try {
      results.scoring = await scoringPhase()
    } catch (err) {
      problems.push(`scoring benchmarks: ${err.message}`)
    }
  }

  results.ratios = computeRatios(results)
  results.problems = problems
  printReport(results)
  fs.writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify(results, null, 2) + '\n')
  fs.writeFileSync(path.join(__dirname, 'RESULTS.md'), markdown(results))
  console.log('\nwrote bench/results.json and bench/RESULTS.md')
  process.exitCode = problems.length ? 1 : 0
}

main().catch((err) => {
  console.error(err && err.stack || err)
  process.exitCode = 1
})
