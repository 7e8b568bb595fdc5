// The addon in several worker_threads and the main thread at once: one
// process-wide token cache, clean worker exits (also terminate() with
// requests in flight), and a process that exits without a crash.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { spawn } from 'node:child_process'
import { Worker } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { sleep } from './helpers/secrets.mjs'
import { keyMaker } from './helpers/fake.mjs'
import { childEnv } from './helpers/child-env.js'

const require = createRequire(import.meta.url)
const m = require('../index.js')
const { startFakeServer } = require('../testing/index.js')

const HERE = path.dirname(fileURLToPath(import.meta.url))
const freshKey = keyMaker('workers-key')
const SCENARIO = path.join(HERE, 'fixtures', 'worker-scenario.js')
const WORKER = path.join(HERE, 'fixtures', 'worker-thread.js')

/** One scenario run in its own process: { code, signal, stdout, stderr, ms }. */
function runScenario(workers, terminated) {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const child = spawn(process.execPath, [SCENARIO, String(workers), String(terminated)], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000) // the scenario bounds itself at 20 s
    child.on('close', (code, signal) => {
      clearTimeout(killer)
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 })
    })
  })
}

/**
 * Starts fixtures/worker-thread.js with `workerData`: { w, errors (its 'error'
 * events), exit (resolves with its exit code), next(type) (resolves with its
 * next message of that type; rejects on an 'error' message) }.
 */
function startWorker(workerData) {
  const w = new Worker(WORKER, { workerData })
  const errors = []
  w.on('error', (e) => errors.push(e))
  const exit = new Promise((resolve) => w.once('exit', resolve))
  const next = (type) =>
    new Promise((resolve, reject) => {
      const onMessage = (msg) => {
        if (msg.type !== type && msg.type !== 'error') return
        w.off('message', onMessage)
        if (msg.type === 'error') reject(new Error(`worker: ${msg.code} ${msg.message}`))
        else resolve(msg)
      }
      w.on('message', onMessage)
    })
  return { w, errors, exit, next }
}

test('50 runs of the worker scenario (5 workers; 2 terminated with requests and a stream in flight) all exit 0', { timeout: 120_000 }, async (t) => {
  const RUNS = 50
  const PARALLEL = 10
  const results = []
  let next = 0
  const lane = async () => {
    while (next < RUNS) {
      const i = next++
      results[i] = await runScenario(5, 2)
    }
  }
  const t0 = Date.now()
  await Promise.all(Array.from({ length: PARALLEL }, lane))
  const bad = []
  for (const [i, r] of results.entries()) {
    const last = r.stdout.trim().split('\n').at(-1)
    let out
    try {
      out = JSON.parse(last)
    } catch {
      out = null
    }
    const ok =
      r.signal === null &&
      r.code === 0 &&
      out !== null &&
      out.ok === true &&
      JSON.stringify(out.exits) === JSON.stringify([1, 1, 0, 0, 0]) &&
      out.problems.length === 0 &&
      !/panicked|FATAL|Segmentation|Aborted|core dumped/i.test(r.stderr)
    if (!ok) bad.push({ run: i, code: r.code, signal: r.signal, stdout: r.stdout.slice(-1000), stderr: r.stderr.slice(-2000) })
  }
  const times = results.map((r) => r.ms).sort((a, b) => a - b)
  t.diagnostic(`${RUNS} runs, ${PARALLEL} at a time: ${Date.now() - t0} ms in all; per run median ${times[RUNS >> 1]} ms, max ${times.at(-1)} ms`)
  assert.deepEqual(bad, [], `${bad.length} of ${RUNS} runs failed`)
})

test('a worker terminated before its calls left its thread: they are dropped with it, its stream closes, nothing is sent later', { timeout: 30_000 }, async () => {
  const server = await startFakeServer({ streamIntervalMs: 20 })
  let worker
  try {
    const url = server.url
    const hangKey = freshKey()
    for (const k of [hangKey, `${hangKey}-auth`, `${hangKey}-info`]) server.fault({ route: 'iam', apikey: k, hang: true })
    const key = freshKey()
    worker = startWorker({ url, mode: 'terminate', key, hangKey, spin: true })
    const inflight = await worker.next('inflight')
    assert.equal(inflight.pending, 12, 'a stream read, three token requests and eight scores pending')
    assert.equal(server.stats.streamsOpen, 1, 'the stream is open when the worker is terminated')
    // the main thread of this process makes no call now: nothing else would start the worker's queued calls
    assert.equal(await worker.w.terminate(), 1)
    assert.equal(await worker.exit, 1)
    assert.deepEqual(worker.errors, [])
    const t0 = Date.now()
    while (server.stats.streamsOpen > 0 && Date.now() - t0 < 2_000) await sleep(10)
    assert.equal(server.stats.streamsOpen, 0, 'the terminated worker\'s stream is closed')
    assert.equal(server.stats.streamsClosedByClient, 1)
    assert.equal(server.stats.predictions, 0, 'scores queued by the terminated worker were never sent')
    // the next call from this thread hands over its own work only: the dead worker's is gone
    const client = new m.WmlClient({ url, apikey: key, iamUrl: url })
    const r = await client.score('dep', { input_data: [{ fields: ['A'], values: [[1]] }] })
    assert.equal(r.predictions[0].values.length, 1)
    await sleep(50)
    assert.equal(server.stats.predictions, 1, 'only the main thread\'s score reached the server')
  } finally {
    if (worker) await worker.w.terminate()
    await server.close()
  }
})

test('one process-wide cache across threads: 6 workers + the main thread, one IAM request per key and token', { timeout: 30_000 }, async () => {
  const server = await startFakeServer()
  const workers = []
  try {
    const url = server.url
    const shared = freshKey()
    server.fault({ route: 'iam', apikey: shared, latencyMs: 200, times: 1 })
    const N = 6
    for (let i = 0; i < N; i++) workers.push(startWorker({ url, mode: 'same-key', shared }))
    const [mainToken, firsts] = await Promise.all([m.getIamToken(shared, { url }), Promise.all(workers.map((r) => r.next('first')))])
    assert.equal(server.iamRequestsFor(shared), 1, 'one IAM request for 6 workers and the main thread')
    for (const f of firsts) {
      assert.equal(f.token, mainToken)
      assert.equal(f.authToken, mainToken)
      assert.equal(f.rows, 20)
    }
    assert.equal(await m.getIamToken(shared, { url }), mainToken)
    assert.equal(server.iamRequestsFor(shared), 1)

    // clearTokenCache() in the main thread reaches every thread's hot-path memo:
    // the next round in the workers fetches one new token, shared again
    m.clearTokenCache()
    const seconds = workers.map((r) => r.next('second'))
    for (const r of workers) r.w.postMessage('again')
    const again = await Promise.all(seconds)
    assert.equal(server.iamRequestsFor(shared), 2, 'one more IAM request after the clear, for all threads')
    const newToken = again[0].token
    assert.notEqual(newToken, mainToken)
    for (const s of again) {
      assert.equal(s.token, newToken)
      assert.equal(s.authToken, newToken)
      assert.equal(s.rows, 20)
    }
    assert.equal(await m.getIamToken(shared, { url }), newToken)
    assert.equal(server.iamRequestsFor(shared), 2)

    // every worker then ends by itself
    const codes = await Promise.all(workers.map((r) => r.exit))
    assert.deepEqual(codes, Array(N).fill(0))
    for (const r of workers) assert.deepEqual(r.errors, [])
  } finally {
    await Promise.all(workers.map((r) => r.w.terminate()))
    await server.close()
  }
})
