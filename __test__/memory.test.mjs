// The token cache stays within its bound however many distinct keys go
// through it, and memory does not grow from one 100,000-key cycle to the next.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { useFakeServer, keyMaker } from './helpers/fake.mjs'
import { childEnv } from './helpers/child-env.js'

const require = createRequire(import.meta.url)
const m = require('../index.js')

const HERE = path.dirname(fileURLToPath(import.meta.url))
const DEFAULT_CAPACITY = 10_000
// Two 100,000-key cycles in the child: three would not fit this file's time budget (~60 s on 2 cores)
// next to the 100,000-key test that runs at the same time.
const CYCLES = 2
const MB = 1024 * 1024
const mb = (b) => `${(b / MB).toFixed(1)} MB`

let server
useFakeServer((s) => (server = s))
const freshKey = keyMaker('mem')
let cycles // the child process of the RSS test, started in before() so that it overlaps the first test

/** Runs worker-memory-cycles.js with --expose-gc; resolves { code, signal, lines, stderr }. */
function runCycles(cycles, keys) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', path.join(HERE, 'fixtures', 'worker-memory-cycles.js'), String(cycles), String(keys)], {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const killer = setTimeout(() => child.kill('SIGKILL'), 180_000)
    child.on('close', (code, signal) => {
      clearTimeout(killer)
      const lines = stdout.split('\n').filter(Boolean).map((l) => {
        try {
          return JSON.parse(l)
        } catch {
          return { unparsed: l }
        }
      })
      resolve({ code, signal, lines, stderr })
    })
  })
}

before(() => {
  cycles = runCycles(CYCLES, 100_000)
})
after(() => {
  m.configureTokenCache({ maxEntries: DEFAULT_CAPACITY })
})

const opts = () => ({ url: server.url })

test('100,000 distinct API keys stay within the default bound of 10,000 entries', { timeout: 120_000 }, async (t) => {
  m.clearTokenCache()
  const start = m.tokenCacheStats()
  assert.equal(start.capacity, DEFAULT_CAPACITY)
  assert.equal(start.size, 0)
  const iam0 = server.stats.iam
  const rss0 = process.memoryUsage().rss
  const N = 100_000
  const BATCH = 250
  const prefix = freshKey()
  const key = (i) => `${prefix}-${i}`
  let maxSize = 0
  let maxRss = rss0
  const t0 = Date.now()
  for (let b = 0; b < N; b += BATCH) {
    const n = Math.min(BATCH, N - b)
    const tokens = await Promise.all(Array.from({ length: n }, (_, i) => m.getIamToken(key(b + i), opts())))
    for (const tok of tokens) assert.equal(typeof tok, 'string')
    const s = m.tokenCacheStats()
    maxSize = Math.max(maxSize, s.size)
    assert.ok(s.size <= s.capacity, `size ${s.size} > capacity ${s.capacity} after ${b + n} keys`)
    if ((b + n) % 25_000 === 0) {
      const rss = process.memoryUsage().rss
      maxRss = Math.max(maxRss, rss)
      t.diagnostic(`${b + n} keys: ${s.size} entries (capacity ${s.capacity}), rss ${mb(rss)}, ${Date.now() - t0} ms`)
    }
  }
  const end = m.tokenCacheStats()
  assert.equal(end.size, DEFAULT_CAPACITY, 'the cache is full, not over-full')
  assert.ok(maxSize <= DEFAULT_CAPACITY)
  assert.equal(end.requests - start.requests, N, 'the cache started one IAM request per key')
  assert.equal(server.stats.iam - iam0, N, 'the fake server saw exactly one request per key')
  let mine = 0
  for (const [k, count] of server.stats.iamByKey) {
    if (!k.startsWith(prefix + '-')) continue
    mine++
    assert.equal(count, 1, 'one request per key')
  }
  assert.equal(mine, N)

  // Least recently used out: the last 10,000 keys are cached, the first ones are not.
  // (getIamTokenInfo always asks the native cache, never the JS memo.)
  const before = server.stats.iam
  await m.getIamTokenInfo(key(N - 1), opts())
  await m.getIamTokenInfo(key(N - DEFAULT_CAPACITY), opts())
  assert.equal(server.stats.iam - before, 0, 'the most recent 10,000 keys are still cached')
  await m.getIamTokenInfo(key(0), opts())
  assert.equal(server.stats.iam - before, 1, 'the oldest key was evicted')
  assert.equal(m.tokenCacheStats().size, DEFAULT_CAPACITY)

  const rss = process.memoryUsage().rss
  t.diagnostic(`after ${N} keys: ${end.size} entries of ${end.capacity}; ${server.stats.iam - iam0} IAM requests; ` +
    `rss ${mb(rss0)} -> ${mb(rss)} (max ${mb(Math.max(maxRss, rss))}); ${Date.now() - t0} ms`)

  m.clearTokenCache()
  assert.equal(m.tokenCacheStats().size, 0)
  // and the cache still works after the clear
  const t1 = await m.getIamToken(key(1), opts())
  assert.equal(typeof t1, 'string')
  assert.equal(server.iamRequestsFor(key(1)), 2)
  assert.equal(m.tokenCacheStats().size, 1)
})

test('RSS does not grow from one 100,000-key cycle to the next (clearTokenCache, child process, --expose-gc)', { timeout: 180_000 }, async (t) => {
  const r = await cycles
  for (const l of r.lines) t.diagnostic(JSON.stringify(l))
  assert.equal(r.signal, null, `the child was killed by ${r.signal}; stderr: ${r.stderr}`)
  assert.equal(r.code, 0, `the child exited with ${r.code}; stderr: ${r.stderr}`)
  const done = r.lines.filter((l) => l.cycle >= 1)
  assert.equal(done.length, CYCLES)
  assert.deepEqual(r.lines.at(-1), { done: true })
  for (const c of done) {
    assert.equal(c.bad, 0, `cycle ${c.cycle}: every call gave a token`)
    assert.equal(c.capacity, DEFAULT_CAPACITY)
    assert.ok(c.maxSize <= DEFAULT_CAPACITY, `cycle ${c.cycle}: ${c.maxSize} entries`)
    assert.equal(c.sizeFilled, DEFAULT_CAPACITY)
    assert.equal(c.requests, 100_000, `cycle ${c.cycle}: one IAM request per key`)
    assert.equal(c.sizeCleared, 0, `cycle ${c.cycle}: clearTokenCache() empties the cache`)
  }
  const first = done[0]
  const last = done.at(-1)
  const keysAfterFirst = 100_000 * (done.length - 1)
  t.diagnostic(`rss after each cycle: ${done.map((c) => mb(c.rss)).join(' / ')}; heapUsed ${done.map((c) => mb(c.heapUsed)).join(' / ')}; ` +
    `${done.map((c) => c.ms).join(' / ')} ms; rss change after the first cycle: ${((last.rss - first.rss) / keysAfterFirst).toFixed(1)} bytes per key`)
  assert.ok(last.rss <= first.rss * 1.3, `rss grew from ${mb(first.rss)} after cycle 1 to ${mb(last.rss)} after cycle ${last.cycle} (> +30%)`)
  assert.ok(last.heapUsed <= first.heapUsed * 1.3 + 2 * MB, `heapUsed grew from ${mb(first.heapUsed)} to ${mb(last.heapUsed)}`)
})

test('configureTokenCache({ maxEntries: 100 }) bounds the cache, least recently used out', async () => {
  m.clearTokenCache()
  const prefix = freshKey()
  const key = (i) => `${prefix}-${i}`
  const requests = (i) => server.iamRequestsFor(key(i))
  const info = (i) => m.getIamTokenInfo(key(i), opts())
  try {
    m.configureTokenCache({ maxEntries: 100 })
    assert.deepEqual(
      { size: m.tokenCacheStats().size, capacity: m.tokenCacheStats().capacity },
      { size: 0, capacity: 100 },
    )
    const requests0 = m.tokenCacheStats().requests
    for (let b = 0; b < 1000; b += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => m.getIamToken(key(b + i), opts())))
      assert.ok(m.tokenCacheStats().size <= 100)
    }
    assert.equal(m.tokenCacheStats().size, 100)
    assert.equal(m.tokenCacheStats().requests - requests0, 1000)

    // keys 900..999 are cached; 900 is the least recently used
    await info(900) // touch: now the most recently used
    await info(1000) // new: evicts the least recently used, 901
    assert.equal(m.tokenCacheStats().size, 100)
    await info(900)
    assert.equal(requests(900), 1, 'a touched key stays')
    await info(901)
    assert.equal(requests(901), 2, 'the least recently used key was evicted')

    // shrinking evicts at once, keeping the most recently used
    m.configureTokenCache({ maxEntries: 10 })
    assert.deepEqual(
      { size: m.tokenCacheStats().size, capacity: m.tokenCacheStats().capacity },
      { size: 10, capacity: 10 },
    )
    // most recent first: 901, 900, 1000, 999, 998, ..., 993
    for (const i of [901, 900, 1000, 999, 993]) {
      const before = requests(i)
      await info(i)
      assert.equal(requests(i), before, `key ${i} is still cached`)
    }
    await info(992)
    assert.equal(requests(992), 2, 'key 992 was dropped by the shrink')

    // 1,000 concurrent distinct keys through a 100-entry cache: entries are
    // evicted while their request is in flight, and every caller still gets its token
    m.configureTokenCache({ maxEntries: 100 })
    const iam0 = server.stats.iam
    const tokens = await Promise.all(Array.from({ length: 1000 }, (_, i) => m.getIamTokenInfo(key(10_000 + i), opts())))
    assert.equal(tokens.length, 1000)
    assert.ok(tokens.every((x) => typeof x.accessToken === 'string' && x.accessToken.split('.').length === 3))
    assert.equal(new Set(tokens.map((x) => x.accessToken)).size, 1000)
    assert.equal(server.stats.iam - iam0, 1000)
    assert.equal(m.tokenCacheStats().size, 100)

    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 32, '100']) {
      assert.throws(() => m.configureTokenCache({ maxEntries: bad }), (e) => e.code === 'ERR_INVALID_ARG', `maxEntries ${String(bad)}`)
    }
    assert.equal(m.tokenCacheStats().capacity, 100, 'a rejected setting changes nothing')
  } finally {
    m.configureTokenCache({ maxEntries: DEFAULT_CAPACITY })
  }
  assert.equal(m.tokenCacheStats().capacity, DEFAULT_CAPACITY)
  assert.equal(m.tokenCacheStats().size, 100, 'growing the bound keeps the entries')
  m.clearTokenCache()
  assert.equal(m.tokenCacheStats().size, 0)
})
