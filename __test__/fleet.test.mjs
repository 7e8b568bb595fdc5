// The fleet token store end to end: real Node processes (forked, each with
// its own addon, cache and Redis connection) sharing one real redis-server
// and one fake IAM. See README "Sharing tokens across a fleet".
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import util from 'node:util'
import path from 'node:path'
import { tmpdir } from 'node:os'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { useFakeServer, keyMaker } from './helpers/fake.mjs'
import { useRedis, command, commandRaw } from './helpers/redis.mjs'
import { sleep } from './helpers/secrets.mjs'

const require = createRequire(import.meta.url)
const { startFleet } = require('./fixtures/fleet-driver.js')
const m = require('../index.js')

let server
let redis
useFakeServer((s) => (server = s))
useRedis((r) => (redis = r))
const newKey = keyMaker('fleet')

/** `n` processes sharing the store through WML_NATIVE_TOKEN_STORE. */
const fleets = []
async function fleet(n, env = {}) {
  const f = await startFleet(n, {
    env: { WML_NATIVE_TOKEN_STORE: redis.url, ...env },
    args: { iamUrl: server.url },
  })
  fleets.push(f)
  return f
}
after(() => Promise.all(fleets.map((f) => f.stop())))

const sum = (replies, field) => replies.reduce((n, r) => n + r.stats[field], 0)

/** Every key in Redis with its value (Buffers). */
async function dump() {
  const names = await commandRaw(redis.port, 'KEYS', '*')
  return Promise.all(names.map(async (name) => ({ name, value: await commandRaw(redis.port, 'GET', name) })))
}

/** The names of the token entries (not leases) in Redis. */
async function entryNames() {
  return (await command(redis.port, 'KEYS', 'wmln:v1:t:*')).sort()
}

test('20 processes started together make 1 IAM request for one key, and 50 for 50 keys', async () => {
  const f = await fleet(20)
  // Slow IAM: the whole herd is waiting while the one request runs.
  server.fault({ route: 'iam', latencyMs: 300 })
  const one = newKey()
  const replies = await f.ask({ cmd: 'tokens', keys: [one] })
  assert.equal(server.iamRequestsFor(one), 1)
  assert.equal(new Set(replies.map((r) => r.tokens[0])).size, 1, 'every process got the same token')
  assert.equal(sum(replies, 'leasesWon'), 1)
  assert.equal(sum(replies, 'storeHits'), 19)
  assert.equal(sum(replies, 'requests'), 1)
  assert.equal(sum(replies, 'storeErrors'), 0)
  for (const r of replies) assert.equal(r.stats.store, redis.url)

  const keys = Array.from({ length: 50 }, newKey)
  const many = await f.ask({ cmd: 'tokens', keys })
  for (const k of keys) assert.equal(server.iamRequestsFor(k), 1, 'one request per key')
  for (let i = 0; i < keys.length; i++) {
    assert.equal(new Set(many.map((r) => r.tokens[i])).size, 1, `key ${i}: one token for all`)
  }
  assert.equal(sum(many, 'leasesWon'), 1 + 50)

  // Nothing usable at rest: no API key, no token (nor any part of one).
  const needles = [one, ...keys]
  for (const t of [replies[0].tokens[0], ...many[0].tokens]) needles.push(t, ...t.split('.'))
  const stored = await dump()
  assert.equal(stored.length, 51, 'one entry per key, no lease left')
  for (const { name, value } of stored) {
    assert.match(name.toString(), /^wmln:v1:t:[0-9a-f]{64}$/)
    for (const n of needles) {
      assert.equal(name.includes(n), false, 'a secret in a key name')
      assert.equal(value.includes(n), false, 'a secret in a value')
    }
    const ttl = await command(redis.port, 'PTTL', name)
    assert.ok(ttl > 0 && ttl <= 3600_000, `entries expire with their token (${ttl})`)
  }
})

test('a new process with a warm store gets its first token without asking IAM', async () => {
  const key = newKey()
  const [first] = (await (await fleet(1)).ask({ cmd: 'tokens', keys: [key] }))
  assert.equal(server.iamRequestsFor(key), 1)
  const [cold] = await (await fleet(1)).ask({ cmd: 'tokens', keys: [key] })
  assert.equal(server.iamRequestsFor(key), 1)
  assert.equal(cold.tokens[0], first.tokens[0])
  assert.equal(cold.stats.requests, 0)
  assert.equal(cold.stats.storeHits, 1)
})

test('an entry does not open for another key; a tampered one is ignored', async () => {
  const [a, b] = [newKey(), newKey()]
  const f = await fleet(1)
  const before = await entryNames()
  const [ra] = await f.ask({ cmd: 'tokens', keys: [a] })
  const nameA = (await entryNames()).find((n) => !before.includes(n))
  const [rb] = await f.ask({ cmd: 'tokens', keys: [b] })
  const nameB = (await entryNames()).find((n) => n !== nameA && !before.includes(n))
  assert.ok(nameA && nameB)
  const sealedA = await commandRaw(redis.port, 'GET', nameA)

  // a's entry under b's name: a new process for b asks IAM and gets b's own.
  await commandRaw(redis.port, 'SET', nameB, sealedA, 'PX', 60_000)
  const [nb] = await (await fleet(1)).ask({ cmd: 'tokens', keys: [b] })
  assert.equal(server.iamRequestsFor(b), 2)
  assert.notEqual(nb.tokens[0], ra.tokens[0])
  assert.notEqual(nb.tokens[0], rb.tokens[0])
  assert.equal(nb.stats.storeErrors, 0, 'an entry that does not open is not an outage')

  // One bit flipped: ignored, a asked for again.
  const tampered = Buffer.from(sealedA)
  tampered[tampered.length - 1] ^= 1
  await commandRaw(redis.port, 'SET', nameA, tampered, 'PX', 60_000)
  const [na] = await (await fleet(1)).ask({ cmd: 'tokens', keys: [a] })
  assert.equal(server.iamRequestsFor(a), 2)
  assert.notEqual(na.tokens[0], ra.tokens[0])
  // Both entries were replaced by good ones: the next process asks nobody.
  const [again] = await (await fleet(1)).ask({ cmd: 'tokens', keys: [a, b] })
  assert.deepEqual(again.tokens, [na.tokens[0], nb.tokens[0]])
  assert.equal(server.iamRequestsFor(a) + server.iamRequestsFor(b), 4)
})

test('compute resource tokens (one per pod) share only with the store secret, per trusted profile', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wmln-fleet-'))
  try {
    const profile = server.options.trustedProfiles[0].id
    const crTokens = [0, 1, 2, 3].map((i) => {
      const file = path.join(dir, `pod-${i}`)
      writeFileSync(file, `cr-token-of-pod-${i}-${newKey()}`)
      return file
    })
    const podsAsk = async (env) => {
      const f = await fleet(4, env)
      const before = server.stats.iam
      const replies = await Promise.all(
        f.members.map((mem, i) => mem.ask({ cmd: 'container', options: { crTokenFilename: crTokens[i], iamProfileId: profile } })),
      )
      return { replies, requests: server.stats.iam - before }
    }
    // Without the secret: each pod asks, nothing is written.
    const names = (await entryNames()).length
    const alone = await podsAsk({})
    assert.equal(alone.requests, 4)
    assert.equal((await entryNames()).length, names)
    // With it: one request for the four pods.
    server.fault({ route: 'iam', latencyMs: 200 })
    const shared = await podsAsk({ WML_NATIVE_TOKEN_STORE_KEY: 'fleet-secret-0123456789abcdef' })
    assert.equal(shared.requests, 1)
    assert.equal(new Set(shared.replies.map((r) => r.token)).size, 1)
    assert.equal(sum(shared.replies, 'storeHits'), 3)
    // The pods' own tokens are nowhere in Redis.
    for (const { value } of await dump()) {
      for (const file of crTokens) assert.equal(value.includes(readFileSync(file)), false)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

// Short tokens: 3 s of life, refreshed past 80% of it counted a second short
// (whole-second timestamps): every (3 * 0.8 - 1) = 1.4 s.
const LIFETIME_SEC = 3
const REFRESH_EVERY_MS = Math.round((LIFETIME_SEC * 0.8 - 1) * 1000)

/** Runs `body` with the fake IAM issuing short tokens. */
async function withShortTokens(body) {
  const saved = server.options.tokenLifetimeSec
  server.options.tokenLifetimeSec = LIFETIME_SEC
  try {
    return await body()
  } finally {
    server.options.tokenLifetimeSec = saved
  }
}

test('refresh: 10 processes over several lifetimes make one IAM request per refresh', () =>
  withShortTokens(async () => {
    const key = newKey()
    const f = await fleet(10)
    const started = Date.now()
    await f.ask({ cmd: 'loop', keys: [key], everyMs: 25 })
    await sleep(3.2 * REFRESH_EVERY_MS)
    const reports = await f.ask({ cmd: 'report' })
    const elapsed = Date.now() - started
    assert.equal(reports.reduce((n, r) => n + r.failures, 0), 0, reports.flatMap((r) => r.errors).join('\n'))
    const requests = server.iamRequestsFor(key)
    // The first token, then one per refresh (one more if a refresh was
    // just starting as we stopped), whatever the number of processes.
    const refreshes = Math.floor(elapsed / REFRESH_EVERY_MS)
    assert.ok(requests >= 1 + Math.min(refreshes, 2), `${requests} requests in ${elapsed} ms: refreshes happened`)
    assert.ok(requests <= refreshes + 2, `${requests} IAM requests in ${elapsed} ms (${refreshes} refreshes)`)
    assert.equal(sum(reports, 'requests'), requests)
    // Every process followed the refreshes.
    for (const r of reports) assert.ok(r.tokens.length >= 2, `a process saw ${r.tokens.length} token(s)`)
  }))

test('Redis killed mid-run and restarted: no failed call, each process asks IAM itself, then the store again', () =>
  withShortTokens(async () => {
    const key = newKey()
    const f = await fleet(4, { WML_NATIVE_DEBUG: '1' })
    const secretsInLogs = () => {
      for (const mem of f.members) {
        assert.equal(mem.stderr.includes(key), false)
        assert.equal(mem.stderr.includes('eyJ'), false, 'a token in a log line')
      }
    }
    await f.ask({ cmd: 'loop', keys: [key], everyMs: 20 })
    await sleep(1.5 * REFRESH_EVERY_MS)
    const up = await f.ask({ cmd: 'report' })
    const whileUp = server.iamRequestsFor(key)
    assert.ok(whileUp <= 3, `${whileUp} IAM requests for 4 processes with the store up`)

    await redis.kill()
    await sleep(1.5 * REFRESH_EVERY_MS)
    const down = await f.ask({ cmd: 'report' })
    for (let i = 0; i < down.length; i++) {
      assert.ok(down[i].stats.requests > up[i].stats.requests, `process ${i} asked IAM itself`)
      assert.ok(down[i].stats.storeErrors >= 1, `process ${i} counted the outage`)
    }

    await redis.restart()
    const before = await f.ask({ cmd: 'report' })
    const shared = (r) => r.stats.storeHits + r.stats.leasesWon
    // Back-off of 1 s, then 2 s, ... after each failure: within a few
    // refreshes every process is back on the store.
    const deadline = Date.now() + 6 * REFRESH_EVERY_MS
    let after
    for (;;) {
      await sleep(REFRESH_EVERY_MS / 2)
      after = await f.ask({ cmd: 'report' })
      if (after.every((r, i) => shared(r) > shared(before[i]))) break
      assert.ok(Date.now() < deadline, `not every process used the store again: ${JSON.stringify(after.map((r) => r.stats))}`)
    }
    assert.ok((await entryNames()).length >= 1, 'the token is in the restarted store')
    assert.equal(after.reduce((n, r) => n + r.failures, 0), 0, after.flatMap((r) => r.errors).join('\n'))
    assert.ok(after.reduce((n, r) => n + r.calls, 0) > 400)
    // One debug line when the store went away and one when it came back,
    // per process (however many operations failed meanwhile).
    for (const mem of f.members) {
      assert.equal(mem.stderr.match(/token store \S+ unavailable/g)?.length, 1, mem.stderr)
      assert.equal(mem.stderr.match(/token store \S+ is back/g)?.length, 1, mem.stderr)
    }
    secretsInLogs()
  }))

test('WML_NATIVE_TOKEN_STORE that cannot be used: one process warning, the store off, tokens still served', async () => {
  const f = await startFleet(1, {
    env: { WML_NATIVE_TOKEN_STORE: 'http://:pw-NEVER-SHOWN@127.0.0.1:1/0' },
    args: { iamUrl: server.url },
  })
  fleets.push(f)
  const key = newKey()
  const [r] = await f.ask({ cmd: 'tokens', keys: [key] })
  assert.equal(r.stats.store, null)
  assert.equal(server.iamRequestsFor(key), 1)
  const err = f.members[0].stderr
  assert.match(err, /\[WML_NATIVE_TOKEN_STORE\] Warning: WML_NATIVE_TOKEN_STORE\/WML_NATIVE_TOKEN_STORE_KEY: store: unsupported scheme http: .*the token store is off/)
  assert.equal(err.match(/Warning/g).length, 1)
  assert.equal(err.includes('NEVER-SHOWN'), false)
})

test('configureTokenCache: the store settings are checked, applied and turned off; no password shown', () => {
  const pw = 'pw-NEVER-SHOWN-31'
  const stats = () => m.tokenCacheStats()
  assert.equal(stats().store, null)
  for (const [options, says] of [
    [{ store: 42 }, 'options.store must be a string'],
    [{ store: `http://:${pw}@127.0.0.1/0` }, 'unsupported scheme'],
    [{ store: `redis://:${pw}@127.0.0.1/x` }, 'database number'],
    [{ store: redis.url, storeKey: 'short' }, 'storeKey must be at least 16'],
    [{ store: redis.url, storeKey: 7 }, 'options.storeKey must be a string'],
    [{ store: redis.url, caCert: 'not pem' }, 'caCert'],
    [{ store: redis.url, disableSslVerification: true }, 'rediss:// only'],
    [{ store: redis.url, timeoutMs: 0 }, 'timeoutMs must be a positive number'],
    [{ storeKey: 'a-store-key-long-enough' }, 'give them with options.store'],
    [{ timeoutMs: 100 }, 'give them with options.store'],
    [{ store: null, storeKey: 'a-store-key-long-enough' }, 'give them with options.store'],
    [{ store: redis.url, maxEntries: 0 }, 'maxEntries'],
  ]) {
    assert.throws(() => m.configureTokenCache(options), (e) => {
      assert.equal(e.code, 'ERR_INVALID_ARG')
      assert.ok(e.message.includes(says), `${says}: ${e.message}`)
      assert.equal(e.message.includes(pw), false)
      return true
    })
    assert.equal(stats().store, null, 'a rejected call changes nothing')
  }
  const withPw = redis.url.replace('redis://', `redis://user:${pw}@`)
  m.configureTokenCache({ store: withPw, storeKey: 'a-store-key-long-enough', timeoutMs: 100 })
  assert.equal(stats().store, redis.url)
  assert.equal(util.inspect(stats()).includes(pw), false)
  assert.equal(JSON.stringify(stats()).includes(pw), false)
  m.configureTokenCache({ maxEntries: 500 })
  assert.equal(stats().store, redis.url, 'other settings leave the store as it is')
  m.configureTokenCache({ store: null })
  assert.equal(stats().store, null)
  m.configureTokenCache({ maxEntries: 10_000 })
})
