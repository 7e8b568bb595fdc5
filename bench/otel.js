'use strict'
/**
 * What OpenTelemetry support costs on the hot paths.
 *
 *   node --expose-gc bench/otel.js   -> one JSON line on stdout (progress on stderr)
 *
 * Three forms of the package:
 *
 *   before   the JS layer of the last commit without telemetry (BASE_COMMIT, taken
 *            with `git archive` into a temporary directory) over this build's addon:
 *            the code path as it was, with no telemetry code at all;
 *   off      this package with OpenTelemetry absent (no global registry): the
 *            state of every user who does not use it;
 *   on       this package with a tracer provider (AlwaysOn, a batch processor
 *            whose exporter drops the spans) and a meter provider registered
 *            globally: what a traced call costs (information).
 *
 * Each form runs in processes of its own (two copies of the JS layer in one
 * process colour each other's figures; the providers of `on` are registered
 * once at its start, as an application does), PASSES passes in ABC CBA order.
 *
 * Measured: the cached token (ns per awaited call: getIamToken's memo hit and
 * IamAuthenticator#getToken's), and scoring (main-thread CPU µs per request,
 * 32 callers over plain HTTP against the fake server in its own process).
 *
 * Knobs (env): BENCH_OTEL_PASSES (4), BENCH_ROUNDS (3 per process), BENCH_ROUND_MS (300),
 * BENCH_OTEL_SCORE_WINDOWS (2 per process), BENCH_OTEL_SCORE_MS (2000), BENCH_CONCURRENCY (32).
 */
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { childEnv } = require('../__test__/helpers/child-env.js')
const { ROOT, median, driveCallers, scoringPayload, startFakeServerProcess, mainThreadCpuUs, loopGetIamToken, loopAuthenticator, timeCandidates } = require('./common')

/** The last commit whose JS layer has no telemetry code. */
const BASE_COMMIT = '78f7a1a'
const ROUNDS = Number(process.env.BENCH_ROUNDS) || 3
const ROUND_NS = (Number(process.env.BENCH_ROUND_MS) || 300) * 1e6
const SCORE_MS = Number(process.env.BENCH_OTEL_SCORE_MS) || 2000
const SCORE_WINDOWS = Number(process.env.BENCH_OTEL_SCORE_WINDOWS) || 2
const PASSES = Number(process.env.BENCH_OTEL_PASSES) || 4
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY) || 32
const GLOBAL = Symbol.for('opentelemetry.js.api.1')

const log = (...a) => process.stderr.write(`[otel] ${a.join(' ')}\n`)

/**
 * The package as of BASE_COMMIT (its JS files) over this build's addon, or
 * { unavailable } when git or the commit is not there.
 */
function basePackage() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wml-native-base-'))
  try {
    const tar = execFileSync('git', ['archive', BASE_COMMIT, 'index.js', 'lib', 'package.json'], { cwd: ROOT, maxBuffer: 64 << 20 })
    execFileSync('tar', ['-x', '-C', dir], { input: tar })
  } catch (e) {
    return { unavailable: `git archive ${BASE_COMMIT} failed (${String(e.message).split('\n')[0]})` }
  }
  // The same addon and loader: native.js and the .node file, linked.
  for (const f of fs.readdirSync(ROOT).filter((f) => f === 'native.js' || f.endsWith('.node'))) {
    fs.symlinkSync(path.join(ROOT, f), path.join(dir, f))
  }
  return { module: require(dir), dir }
}

/** Registers a tracer and a meter provider globally, as an application does at its start. */
function registerProviders() {
  const api = require('@opentelemetry/api')
  const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base')
  const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics')
  const drop = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} }
  class Reader extends MetricReader {
    async onForceFlush() {}
    async onShutdown() {}
  }
  api.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(drop, { maxQueueSize: 100_000 })] }))
  api.metrics.setGlobalMeterProvider(new MeterProvider({ readers: [new Reader()] }))
}

/** Cached token ns/call samples of package `m`: { getIamToken: [...], IamAuthenticator: [...] }. */
async function cachedToken(m, iamUrl) {
  const key = `otel-bench-fn-${process.pid}`
  const auth = new m.IamAuthenticator({ apikey: `otel-bench-auth-${process.pid}`, url: iamUrl })
  const candidates = [
    { name: 'getIamToken', run: (n) => loopGetIamToken(m, n, key, iamUrl), first: () => m.getIamToken(key, { url: iamUrl }) },
    { name: 'IamAuthenticator', run: (n) => loopAuthenticator(n, auth), first: () => auth.getToken() },
  ]
  for (const c of candidates) await c.first()
  await timeCandidates(candidates, { rounds: ROUNDS, roundNs: ROUND_NS })
  return Object.fromEntries(candidates.map((c) => [c.name, c.samples.map((x) => +x.toFixed(2))]))
}

/** Scoring main-thread µs/req of package `m`, one figure per window. */
async function scoring(m) {
  const server = await startFakeServerProcess()
  try {
    const payload = scoringPayload()
    const client = new m.WmlClient({ url: server.url, iamUrl: server.url, apikey: `otel-bench-score-${process.pid}` })
    const out = { mainThreadUs: [], rps: [] }
    for (let i = 0; i < SCORE_WINDOWS; i++) {
      const r = await driveCallers(() => client.score('bench-dep', payload), { concurrency: CONCURRENCY, warmupMs: i ? 300 : 1500, measureMs: SCORE_MS, rows: 20 })
      if (r.errors) throw new Error(`score: ${r.errors} errors (first: ${r.firstError})`)
      out.mainThreadUs.push(r.mainThreadUsPerReq)
      out.rps.push(r.rps)
    }
    return out
  } finally {
    await server.stop()
  }
}

/** One form, in this process: `--form before|off|on [--base dir]`. */
async function child(form, baseDir) {
  const m = require(form === 'before' ? baseDir : ROOT)
  if (form === 'on') registerProviders()
  const { startFakeServer } = require(path.join(ROOT, 'testing'))
  const iam = await startFakeServer({ tokenLifetimeSec: 3600 })
  let cached
  try {
    cached = await cachedToken(m, iam.url)
  } finally {
    await iam.close()
  }
  const score = await scoring(m)
  if (form !== 'on' && globalThis[GLOBAL] !== undefined) throw new Error('the OpenTelemetry registry appeared in a process without it')
  return { cached, score }
}

function runChild(form, baseDir) {
  const args = ['--expose-gc', __filename, '--form', form, ...(baseDir ? ['--base', baseDir] : [])]
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 240_000, env: childEnv() })
  if (r.status !== 0) throw new Error(`bench/otel.js --form ${form} exited with ${r.status ?? r.signal}`)
  return JSON.parse(r.stdout.trim().split('\n').pop())
}

async function main() {
  if (!mainThreadCpuUs()) throw new Error('no /proc/self/task/<pid>/stat (Linux only)')
  const arg = (name) => {
    const i = process.argv.indexOf(name)
    return i < 0 ? undefined : process.argv[i + 1]
  }
  const form = arg('--form')
  if (form) {
    process.stdout.write(JSON.stringify(await child(form, arg('--base'))) + '\n')
    return
  }
  const base = basePackage()
  const forms = [...(base.dir ? ['before'] : []), 'off', 'on']
  const order = []
  for (let p = 0; p < PASSES; p++) order.push(...(p % 2 ? [...forms].reverse() : forms))
  const runs = Object.fromEntries(forms.map((f) => [f, []]))
  try {
    for (const f of order) {
      const r = runChild(f, base.dir)
      log(`${f}: getIamToken ${r.cached.getIamToken.join(' / ')} ns, IamAuthenticator ${r.cached.IamAuthenticator.join(' / ')} ns, ` +
        `score main thread ${r.score.mainThreadUs.join(' / ')} µs/req`)
      runs[f].push(r)
    }
  } finally {
    if (base.dir) fs.rmSync(base.dir, { recursive: true, force: true })
  }
  const all = (f, pick) => runs[f].flatMap(pick)
  // The median, and the best (the figure a burst of other work on the shared machine disturbed least).
  const stat = (xs) => ({ median: +median(xs).toFixed(2), best: Math.min(...xs) })
  const figures = Object.fromEntries(forms.map((f) => [f, {
    getIamTokenNs: stat(all(f, (r) => r.cached.getIamToken)),
    authenticatorNs: stat(all(f, (r) => r.cached.IamAuthenticator)),
    mainThreadUsPerReq: stat(all(f, (r) => r.score.mainThreadUs)),
    rps: +median(all(f, (r) => r.score.rps)).toFixed(1),
    runs: runs[f],
  }]))
  process.stdout.write(JSON.stringify({ baseCommit: BASE_COMMIT, baseUnavailable: base.unavailable, passes: PASSES, rounds: ROUNDS, concurrency: CONCURRENCY, windowMs: SCORE_MS, windows: SCORE_WINDOWS, forms: figures }) + '\n')
}

/**
 * The report section (for bench/run.js): rows of the three forms, and the
 * ratios off / before.
 */
function sections(r) {
  const f = r.forms
  const forms = ['before', 'off', 'on'].filter((x) => f[x])
  const label = { before: `before telemetry (${r.baseCommit} JS layer)`, off: 'OpenTelemetry absent', on: 'tracer + meter provider registered' }
  const ratio = (a, b) => (a != null && b ? `${(a / b).toFixed(2)}x` : 'n/a')
  const both = (x) => `${x.median.toFixed(1)} (${x.best.toFixed(1)})`
  const rows = forms.map((x) => [label[x], both(f[x].getIamTokenNs), both(f[x].authenticatorNs), both(f[x].mainThreadUsPerReq), f[x].rps.toFixed(0)])
  const notes = []
  const vs = (a, b) => `${ratio(a.median, b.median)} (best ${ratio(a.best, b.best)})`
  if (f.before) {
    notes.push(
      `OpenTelemetry absent / before: getIamToken ${vs(f.off.getIamTokenNs, f.before.getIamTokenNs)}, IamAuthenticator ${vs(f.off.authenticatorNs, f.before.authenticatorNs)}, ` +
        `scoring main thread ${vs(f.off.mainThreadUsPerReq, f.before.mainThreadUsPerReq)} (goal: no measurable cost)`,
    )
  } else {
    notes.push(`before: unavailable (${r.baseUnavailable})`)
  }
  notes.push(
    `with providers / absent: scoring main thread ${vs(f.on.mainThreadUsPerReq, f.off.mainThreadUsPerReq)}, req/s ${ratio(f.on.rps, f.off.rps)} ` +
      '(information: a span with its events, the trace context, the metrics per call; the cached token paths do not look at OpenTelemetry at all)',
  )
  return [{
    title: `OpenTelemetry: the hot paths with and without it (each form in its own process, ${r.passes} passes in ABC CBA order; ` +
      `cached token: median of ${r.rounds} rounds per pass; scoring: ${r.concurrency} callers over HTTP, median of ${r.windows} windows of ${r.windowMs / 1000} s per pass)`,
    head: ['form', 'getIamToken ns/call, median (best)', 'IamAuthenticator ns/call, median (best)', 'score main-thread µs/req, median (best)', 'score req/s'],
    rows,
    notes,
  }]
}

const METHOD = '**OpenTelemetry** (`bench/otel.js`): three forms of the package, each in processes of its own (two copies of the JS layer in one process ' +
  'colour each other\'s figures): the JS layer of the last commit without telemetry (`git archive`, over this build\'s addon), this package with no ' +
  'OpenTelemetry global registry, and this package with a tracer provider (AlwaysOn sampler, a batch processor whose exporter drops the spans) and a meter ' +
  'provider registered at its start. Each process times the cached token as in the cached token section (its two candidates interleaved), then drives scoring ' +
  'as in the scoring section (main-thread CPU from /proc) over plain HTTP against the fake server in its own process; the forms run in ABC CBA order; ' +
  'each figure is the median of all rounds or windows of its form, and in brackets the best of them (on a shared machine, the one other work disturbed least).'

module.exports = { sections, METHOD }

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`[otel] failed: ${err && err.stack || err}\n`)
      process.exit(1)
    },
  )
}
