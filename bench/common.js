'use strict'
// Small helpers shared by the benchmark scripts.
const { spawn } = require('node:child_process')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')

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
 * Starts the fake server (testing/cli.js `args`) in its own process, with
 * `nodeArgs` before the script, `env` added to the environment and, with
 * `ipc`, an IPC channel. Resolves { child, url, exited, stop } once it printed
 * its URL line: `exited` resolves { code, signal } when it exits; `stop()`
 * sends SIGTERM (SIGKILL after 5 s) and resolves the same.
 */
async function startFakeServerProcess({ args = [], nodeArgs = [], env, ipc = false } = {}) {
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'testing', 'cli.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
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
  const url = new Promise((resolve, reject) => {
    child.once('error', reject)
    exited.then(({ code, signal }) => reject(new Error(`the fake server exited early (code ${code}, signal ${signal})`)))
    // readline keeps reading (and dropping) any later output.
    readline.createInterface({ input: child.stdout }).once('line', (line) => {
      try {
        resolve(JSON.parse(line).url)
      } catch {
        reject(new Error(`unexpected first line from testing/cli.js: ${line}`))
      }
    })
  })
  try {
    return { child, url: await withTimeout(url, 15_000, 'the fake server did not start within 15 s'), exited, stop }
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
}

module.exports = { ROOT, envInfo, envLine, median, scoringPayload, withTimeout, startFakeServerProcess }
