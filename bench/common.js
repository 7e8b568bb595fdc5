'use strict'
// Small helpers shared by the benchmark scripts.
const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { childEnv } = require('../__test__/helpers/child-env.js')

/** Repository root (the package under test). */
const ROOT = path.resolve(__dirname, '..')

/** One line describing where the figures come from. */
function envInfo() {
  const cpus = os.cpus()
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: (cpus[0] && cpus[0].model || 'unknown').trim(),
    cores: cpus.length,
    date: new Date().toISOString(),
  }
}

/** The environment of envInfo() on one line. */
function envLine(env) {
  return `node ${env.node} · ${env.platform} · ${env.cpu} · ${env.cores} cores`
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** The 20-row, 4-field WML scoring payload every scoring variant sends. */
function scoringPayload() {
  const professions = ['Student', 'Executive', 'Retired', 'Hospitality', 'Sales']
  const values = []
  for (let i = 0; i < 20; i++) {
    values.push([i % 2 ? 'M' : 'F', 20 + i * 2, i % 3 ? 'Single' : 'Married', professions[i % professions.length]])
  }
  return { input_data: [{ fields: ['GENDER', 'AGE', 'MARITAL_STATUS', 'PROFESSION'], values }] }
}

let ticksPerSec
/** Clock ticks per second of /proc CPU figures (`getconf CLK_TCK`; 100 if that cannot run). */
function clockTicks() {
  if (ticksPerSec === undefined) {
    try {
      ticksPerSec = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticksPerSec = 100
    }
  }
  return ticksPerSec
}

/**
 * { user, system } CPU in µs from a Linux /proc stat file (a process:
 * `/proc/<pid>/stat`, one thread: `/proc/<pid>/task/<tid>/stat`), or null
 * where there is none. Resolution: one clock tick (10 ms at 100 Hz).
 */
function statCpuUs(statPath) {
  try {
    const stat = fs.readFileSync(statPath, 'utf8')
    // After "pid (comm) ": fields[11], [12] = utime, stime in clock ticks.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const us = 1e6 / clockTicks()
    return { user: Number(fields[11]) * us, system: Number(fields[12]) * us }
  } catch {
    return null
  }
}

/** user + system CPU in µs of process `pid`, or null. */
function procCpuUs(pid) {
  const c = statCpuUs(`/proc/${pid}/stat`)
  return c && c.user + c.system
}

/** { user, system } CPU in µs of this process's main (JS) thread, whose tid is the pid; null off Linux. */
function mainThreadCpuUs() {
  return statCpuUs(`/proc/self/task/${process.pid}/stat`)
}

/** Renders rows (arrays of cells) as an aligned text table. */
function textTable(head, rows) {
  const all = [head, ...rows].map((row) => row.map(String))
  const w = head.map((_, i) => Math.max(...all.map((row) => row[i].length)))
  const line = (row) => row.map((cell, i) => (i === 0 ? cell.padEnd(w[i]) : cell.padStart(w[i]))).join('  ')
  return [line(all[0]), w.map((n) => '-'.repeat(n)).join('  '), ...all.slice(1).map(line)].join('\n')
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// Cached-token loops: one hand-written loop per candidate, so that each call
// site stays monomorphic and no candidate pays for another's shape.
async function loopGetIamToken(m, n, apikey, url) {
  for (let i = 0; i < n; i++) await m.getIamToken(apikey, { url })
}
async function loopAuthenticator(n, auth) {
  for (let i = 0; i < n; i++) await auth.getToken()
}

/** Times `run(n)` (after a gc when exposed), returning ns per call. */
async function nsPerCall(run, n) {
  if (typeof global.gc === 'function') global.gc()
  const t0 = process.hrtime.bigint()
  await run(n)
  return Number(process.hrtime.bigint() - t0) / n
}

/**
 * Times `candidates` (`{ name, run(n) }`: n calls) against each other: each
 * is warmed up (50,000 calls) and calibrated to about `roundNs` per round
 * (100,000 to 3,000,000 calls), then timed `rounds` times, the order rotated
 * every round so that none always runs first or last. Sets each candidate's
 * `n` and `samples` (ns per call, one per round); `onCalibrated(c, estNs)`
 * and `onRound(r)` (r from 0) report progress.
 */
async function timeCandidates(candidates, { rounds, roundNs, onCalibrated = () => {}, onRound = () => {} }) {
  for (const c of candidates) {
    await c.run(50_000)
    const est = await nsPerCall(c.run, 100_000)
    c.n = Math.max(100_000, Math.min(3_000_000, Math.round(roundNs / est)))
    c.samples = []
    onCalibrated(c, est)
  }
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < candidates.length; k++) {
      const c = candidates[(r + k) % candidates.length]
      c.samples.push(await nsPerCall(c.run, c.n))
    }
    onRound(r)
  }
}

/** The check of a scoring answer: its first block holds `rows` predictions. */
function predictionsCheck(rows) {
  return (res) => {
    const block = res && res.predictions && res.predictions[0]
    return Boolean(block && Array.isArray(block.values) && block.values.length === rows)
  }
}

/**
 * Drives `concurrency` callers that loop on `score()` (a promise of the parsed
 * answer; `check(answer)` must hold: by default, it holds `rows` predictions)
 * for `warmupMs`, then counts the requests completed and the CPU used over
 * `measureMs`: process CPU (`process.cpuUsage()`) and main-thread CPU (/proc,
 * null off Linux). Then stops the callers (waiting up to 10 s). Resolves the
 * figures.
 */
async function driveCallers(score, { concurrency, warmupMs, measureMs, rows = 20, check = predictionsCheck(rows) }) {
  let completed = 0
  let errors = 0
  let firstError
  let stopping = false

  async function caller() {
    while (!stopping) {
      try {
        const res = await score()
        // Same cheap check for every variant of a benchmark.
        if (!check(res)) throw new Error(`unexpected response: ${JSON.stringify(res).slice(0, 200)}`)
        completed++
      } catch (err) {
        errors++
        if (firstError === undefined) firstError = String(err && err.stack || err).slice(0, 500)
        // Do not spin on a persistent failure.
        await sleep(10)
      }
    }
  }

  const callers = Array.from({ length: concurrency }, caller)
  await sleep(warmupMs)
  // Measured window: requests completed and CPU used between these two points.
  // Requests in flight at either edge are counted at one edge only, so they balance.
  const c0 = completed
  const main0 = mainThreadCpuUs()
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  await sleep(measureMs)
  const cpu = process.cpuUsage(cpu0)
  const main1 = mainThreadCpuUs()
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const requests = completed - c0

  stopping = true
  let drained = true
  await Promise.race([Promise.all(callers), sleep(10_000).then(() => { drained = false })])

  const perReq = (us) => (requests && us != null ? +(us / requests).toFixed(2) : null)
  const mainUser = main0 && main1 ? main1.user - main0.user : null
  const mainSystem = main0 && main1 ? main1.system - main0.system : null
  return {
    concurrency,
    warmupMs,
    seconds: +seconds.toFixed(3),
    requests,
    rps: +(requests / seconds).toFixed(1),
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    cpuUsPerReq: perReq(cpu.user + cpu.system),
    mainThreadUserUs: mainUser,
    mainThreadSystemUs: mainSystem,
    mainThreadUsPerReq: perReq(mainUser == null ? null : mainUser + mainSystem),
    maxRssMB: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
    totalCompleted: completed,
    errors,
    firstError,
    drained,
  }
}

/**
 * Several runs of one variant (figures as driveCallers gives them) as one:
 * req/s = mean of the runs; CPU per request = total CPU / total requests
 * (main-thread figures null when a run has none, e.g. the Rust floors).
 */
function combineRuns(rs) {
  const sum = (k) => rs.reduce((a, r) => a + r[k], 0)
  const requests = sum('requests')
  const perReq = (us) => (requests && us != null ? +(us / requests).toFixed(2) : null)
  const main = rs.every((r) => r.mainThreadUserUs != null)
  return {
    rounds: rs.length,
    requests,
    rps: +(sum('rps') / rs.length).toFixed(1),
    cpuUsPerReq: perReq(sum('cpuUserUs') + sum('cpuSystemUs')),
    mainThreadUsPerReq: main ? perReq(sum('mainThreadUserUs') + sum('mainThreadSystemUs')) : null,
    mainThreadUserUsPerReq: main ? perReq(sum('mainThreadUserUs')) : null,
    mainThreadSystemUsPerReq: main ? perReq(sum('mainThreadSystemUs')) : null,
    maxRssMB: Math.max(...rs.map((r) => r.maxRssMB)),
    errors: sum('errors'),
  }
}

/** num / den against a goal (`cmp` '<=' or '>='); without a goal, for information. */
function ratio(num, den, goal, cmp) {
  const target = goal === undefined ? 'information' : `${cmp} ${goal}`
  if (num == null || den == null || !den) return { value: null, goal: target, met: null }
  const value = +(num / den).toFixed(3)
  return { value, goal: target, met: goal === undefined ? null : cmp === '<=' ? value <= goal : value >= goal }
}

/** "goal met", "goal missed" or "n/a" for a `ratio`. */
const verdict = (x) => (x.met == null ? 'n/a' : x.met ? 'goal met' : 'goal missed')
/** A `ratio` as `0.42x`. */
const fmtRatio = (x) => (x.value == null ? 'n/a' : `${x.value.toFixed(2)}x`)
/** `label: 0.42x (goal <= 0.5): goal met` */
const goalLine = (label, x) => `${label}: ${fmtRatio(x)} (goal ${x.goal}): ${verdict(x)}`

/** Rejects after `ms` with `message` unless `promise` settles first (the timer never keeps the process alive). */
function withTimeout(promise, ms, message) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
    timer.unref()
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Runs `command args...` (node by default) in the repository root with
 * childEnv(env) (without the developer's WML_*, IBMCLOUD_* and proxy
 * settings, with the loopback-only guard), passes its stderr through, and resolves with the last stdout line
 * parsed as JSON. Killed (and rejected) after timeoutMs.
 */
function runJsonChild(args, timeoutMs, env, command = process.execPath) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: childEnv(env) })
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

/**
 * Starts the fake server (testing/cli.js `args`) in its own process, with
 * `nodeArgs` before the script, childEnv(env) as its environment and, with
 * `ipc`, an IPC channel. Resolves { child, url, ca, exited, stop } once it
 * printed its URL line (`ca`: the CA certificate's path with `--tls`): `exited` resolves { code, signal } when it exits; `stop()`
 * sends SIGTERM (SIGKILL after 5 s) and resolves the same.
 */
async function startFakeServerProcess({ args = [], nodeArgs = [], env, ipc = false } = {}) {
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'testing', 'cli.js'), ...args], {
    cwd: ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'inherit', ...(ipc ? ['ipc'] : [])],
  })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return exited
    child.kill('SIGTERM')
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    const r = await exited
    clearTimeout(killer)
    return r
  }
  const info = new Promise((resolve, reject) => {
    child.once('error', reject)
    exited.then(({ code, signal }) => reject(new Error(`the fake server exited early (code ${code}, signal ${signal})`)))
    // readline keeps reading (and dropping) any later output.
    readline.createInterface({ input: child.stdout }).once('line', (line) => {
      try {
        const { url, ca } = JSON.parse(line)
        resolve({ url, ca })
      } catch {
        reject(new Error(`unexpected first line from testing/cli.js: ${line}`))
      }
    })
  })
  try {
    return { child, ...await withTimeout(info, 15_000, 'the fake server did not start within 15 s'), exited, stop }
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
}

module.exports = {
  ROOT,
  envInfo,
  envLine,
  median,
  scoringPayload,
  procCpuUs,
  mainThreadCpuUs,
  textTable,
  sleep,
  loopGetIamToken,
  loopAuthenticator,
  timeCandidates,
  driveCallers,
  combineRuns,
  withTimeout,
  runJsonChild,
  startFakeServerProcess,
  ratio,
  verdict,
  fmtRatio,
  goalLine,
}
