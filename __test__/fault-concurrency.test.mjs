// 1,000 concurrent callers while IAM fails, recovers, or hangs: the cache's
// single flight shares one outcome (one token, or one error) among them, and
// IAM sees exactly the requests the retry policy allows.
import { test, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { useFakeServer, keyMaker } from './helpers/fake.mjs'
import { watchUnhandled, sleep } from './helpers/secrets.mjs'

const require = createRequire(import.meta.url)
const m = require('../index.js')

const N = 1000
const MAX_RETRIES = 2

let server
useFakeServer((s) => (server = s))
let watch
const freshKey = keyMaker('fault-key')
const payload = { input_data: [{ fields: ['GENDER', 'AGE'], values: [['M', 23], ['F', 41]] }] }

beforeEach(() => {
  watch = watchUnhandled()
})
afterEach(() => watch.stop())

/** Asserts that no promise rejection went unhandled during the test (after letting them surface). */
async function assertNoUnhandled() {
  await new Promise((resolve) => setImmediate(resolve))
  await sleep(20)
  assert.deepEqual(watch.seen, [], 'unhandled rejections')
}

/** The first K IAM requests for `key` answer 503 with Retry-After: 0 (slowly, so that every caller joins the first one). */
function failIam(key, K) {
  if (K > 0) server.fault({ route: 'iam', apikey: key, status: 503, retryAfter: '0', latencyMs: 50, times: K })
  else server.fault({ route: 'iam', apikey: key, latencyMs: 50, times: 1 })
}

function assertOneSharedError(results, status) {
  assert.equal(results.length, N)
  const reasons = results.map((r) => {
    assert.equal(r.status, 'rejected', 'every caller rejects')
    return r.reason
  })
  const first = reasons[0]
  assert.ok(first instanceof m.IamError, `got ${first && first.name}: ${first && first.message}`)
  assert.equal(first.code, 'ERR_IAM')
  assert.equal(first.status, status)
  assert.equal(typeof first.requestId, 'string', 'IAM request id of the failed request')
  for (const e of reasons) {
    assert.ok(e instanceof m.IamError)
    // the same failure, not 1,000 look-alikes: same request id and message
    assert.deepEqual(
      { code: e.code, status: e.status, iamErrorCode: e.iamErrorCode, requestId: e.requestId, message: e.message },
      { code: first.code, status: first.status, iamErrorCode: first.iamErrorCode, requestId: first.requestId, message: first.message },
    )
  }
}

// ---------------------------------------------------------------- getIamToken

for (const K of [0, 1, 2]) {
  test(`getIamToken: 1,000 callers, IAM answers 503 ${K} time(s) then recovers (maxRetries ${MAX_RETRIES}): one token, ${K + 1} IAM request(s)`, async () => {
    const key = freshKey()
    const opts = { url: server.url, maxRetries: MAX_RETRIES }
    failIam(key, K)
    const results = await Promise.allSettled(Array.from({ length: N }, () => m.getIamToken(key, opts)))
    const rejected = results.filter((r) => r.status === 'rejected')
    assert.deepEqual(rejected.map((r) => r.reason.code), [], 'no caller rejects')
    const tokens = new Set(results.map((r) => r.value))
    assert.equal(tokens.size, 1, 'every caller gets the same token')
    assert.equal([...tokens][0].split('.').length, 3)
    assert.equal(server.iamRequestsFor(key), K + 1)
    // and it is cached
    assert.equal(await m.getIamToken(key, opts), [...tokens][0])
    assert.equal(server.iamRequestsFor(key), K + 1)
    await assertNoUnhandled()
  })
}

for (const K of [MAX_RETRIES + 1, MAX_RETRIES + 3]) {
  test(`getIamToken: 1,000 callers, IAM answers 503 ${K} times (maxRetries ${MAX_RETRIES}): all reject with one error after ${MAX_RETRIES + 1} requests; then one more request succeeds`, async () => {
    const key = freshKey()
    const opts = { url: server.url, maxRetries: MAX_RETRIES }
    failIam(key, K)
    const results = await Promise.allSettled(Array.from({ length: N }, () => m.getIamToken(key, opts)))
    assertOneSharedError(results, 503)
    assert.equal(server.iamRequestsFor(key), MAX_RETRIES + 1, 'the retry budget of one episode, not per caller')

    server.clearFaults()
    const token = await m.getIamToken(key, opts)
    assert.equal(token.split('.').length, 3)
    assert.equal(server.iamRequestsFor(key), MAX_RETRIES + 2, 'the next call after the fault makes one request')
    await Promise.all(Array.from({ length: N }, () => m.getIamToken(key, opts)))
    assert.equal(server.iamRequestsFor(key), MAX_RETRIES + 2)
    await assertNoUnhandled()
  })
}

test('getIamTokenInfo and IamAuthenticator callers join the same flight as getIamToken callers', async () => {
  const key = freshKey()
  const opts = { url: server.url, maxRetries: MAX_RETRIES }
  failIam(key, MAX_RETRIES) // recovers on the last attempt
  const auths = Array.from({ length: 10 }, () => new m.IamAuthenticator({ apikey: key, ...opts }))
  const calls = []
  for (let i = 0; i < N; i++) {
    if (i % 3 === 0) calls.push(m.getIamToken(key, opts))
    else if (i % 3 === 1) calls.push(m.getIamTokenInfo(key, opts).then((x) => x.accessToken))
    else calls.push(auths[i % auths.length].getToken())
  }
  const tokens = await Promise.all(calls)
  assert.equal(new Set(tokens).size, 1)
  assert.equal(server.iamRequestsFor(key), MAX_RETRIES + 1)
  await assertNoUnhandled()
})

// ---------------------------------------------------------------- WmlClient.score

test('score: 1,000 concurrent scores with a cold key make exactly one IAM request', async () => {
  const key = freshKey()
  failIam(key, 0)
  const clients = Array.from({ length: 10 }, () => new m.WmlClient({ url: server.url, apikey: key, iamUrl: server.url, maxRetries: MAX_RETRIES }))
  const predictions0 = server.stats.predictions
  const results = await Promise.all(Array.from({ length: N }, (_, i) => clients[i % clients.length].score('dep', payload)))
  assert.equal(results.length, N)
  for (const r of results) assert.equal(r.predictions[0].values.length, 2)
  assert.equal(server.iamRequestsFor(key), 1)
  assert.equal(server.stats.predictions - predictions0, N)
  await assertNoUnhandled()
})

test(`score: 1,000 concurrent scores while IAM answers 503 ${MAX_RETRIES} times: all succeed, ${MAX_RETRIES + 1} IAM requests`, async () => {
  const key = freshKey()
  failIam(key, MAX_RETRIES)
  const client = new m.WmlClient({ url: server.url, apikey: key, iamUrl: server.url, maxRetries: MAX_RETRIES })
  const results = await Promise.allSettled(Array.from({ length: N }, () => client.score('dep', payload)))
  assert.deepEqual(results.filter((r) => r.status === 'rejected').map((r) => r.reason.code), [])
  assert.equal(server.iamRequestsFor(key), MAX_RETRIES + 1)
  await assertNoUnhandled()
})

test(`score: 1,000 concurrent scores while IAM answers 503 ${MAX_RETRIES + 1} times: all reject with one ERR_IAM, nothing reaches WML; then one more request`, async () => {
  const key = freshKey()
  failIam(key, MAX_RETRIES + 1)
  const client = new m.WmlClient({ url: server.url, apikey: key, iamUrl: server.url, maxRetries: MAX_RETRIES })
  const predictions0 = server.stats.predictions
  const results = await Promise.allSettled(Array.from({ length: N }, () => client.score('dep', payload)))
  assertOneSharedError(results, 503)
  assert.equal(server.iamRequestsFor(key), MAX_RETRIES + 1)
  assert.equal(server.stats.predictions - predictions0, 0, 'no scoring request without a token')

  server.clearFaults()
  assert.equal((await client.score('dep', payload)).predictions[0].values.length, 2)
  assert.equal(server.iamRequestsFor(key), MAX_RETRIES + 2)
  await assertNoUnhandled()
})

// ---------------------------------------------------------------- IAM hangs

test('getIamToken: 1,000 callers, IAM hangs (timeoutMs 200, maxRetries 0): all ERR_TIMEOUT from one request', async () => {
  const key = freshKey()
  const opts = { url: server.url, timeoutMs: 200, maxRetries: 0 }
  server.fault({ route: 'iam', apikey: key, hang: true, times: 1 })
  const t0 = Date.now()
  const results = await Promise.allSettled(Array.from({ length: N }, () => m.getIamToken(key, opts)))
  const ms = Date.now() - t0
  for (const r of results) {
    assert.equal(r.status, 'rejected')
    assert.ok(r.reason instanceof m.TimeoutError, `${r.reason && r.reason.code}: ${r.reason && r.reason.message}`)
    assert.equal(r.reason.code, 'ERR_TIMEOUT')
  }
  assert.equal(new Set(results.map((r) => r.reason.message)).size, 1)
  assert.equal(server.iamRequestsFor(key), 1)
  assert.ok(ms >= 150 && ms < 5000, `took ${ms} ms`)

  // the hang was one-off: the next call succeeds with one more request
  assert.equal((await m.getIamToken(key, opts)).split('.').length, 3)
  assert.equal(server.iamRequestsFor(key), 2)
  await assertNoUnhandled()
})

test('getIamToken: 1,000 callers, IAM hangs once (timeoutMs 200, maxRetries 1): one shared outcome', async () => {
  // Whether a timed-out attempt is retried is the retry policy's business (the
  // README lists 429, 5xx and connection failures); either way the 1,000
  // callers share one outcome and IAM sees one request per attempt.
  const key = freshKey()
  const opts = { url: server.url, timeoutMs: 200, maxRetries: 1 }
  server.fault({ route: 'iam', apikey: key, hang: true, times: 1 })
  const results = await Promise.allSettled(Array.from({ length: N }, () => m.getIamToken(key, opts)))
  const outcomes = new Set(results.map((r) => (r.status === 'fulfilled' ? `token ${r.value}` : `${r.reason.code} ${r.reason.message}`)))
  assert.equal(outcomes.size, 1, `one outcome for all callers, got ${outcomes.size}`)
  if (results[0].status === 'fulfilled') {
    assert.equal(server.iamRequestsFor(key), 2, 'the hung attempt and its retry')
  } else {
    assert.equal(results[0].reason.code, 'ERR_TIMEOUT')
    assert.equal(server.iamRequestsFor(key), 1, 'the timed-out attempt was not retried')
    assert.equal((await m.getIamToken(key, opts)).split('.').length, 3)
    assert.equal(server.iamRequestsFor(key), 2)
  }
  await assertNoUnhandled()
})

test('score: 1,000 concurrent scores, IAM hangs (timeoutMs 200, maxRetries 0): all ERR_TIMEOUT, one IAM request, nothing reaches WML', async () => {
  const key = freshKey()
  server.fault({ route: 'iam', apikey: key, hang: true, times: 1 })
  const client = new m.WmlClient({ url: server.url, apikey: key, iamUrl: server.url, timeoutMs: 200, maxRetries: 0 })
  const predictions0 = server.stats.predictions
  const results = await Promise.allSettled(Array.from({ length: N }, () => client.score('dep', payload)))
  for (const r of results) {
    assert.equal(r.status, 'rejected')
    assert.equal(r.reason.code, 'ERR_TIMEOUT', `${r.reason && r.reason.code}: ${r.reason && r.reason.message}`)
  }
  assert.equal(server.iamRequestsFor(key), 1)
  assert.equal(server.stats.predictions - predictions0, 0)
  await assertNoUnhandled()
})

// ---------------------------------------------------------------- regression

// IAM's `iat`/`exp` are whole seconds (the fake, like IAM, floors `iat`), so
// up to ~1 s of a token's lifetime may be gone when it arrives. The cache
// counts the lifetime from when the request was sent, less a second; before
// that fix, a short-lived token could be handed out past its own `exp`.
test('a cached token is never handed out past its exp (2 s token received late in a wall-clock second)', async () => {
  const opts = { url: server.url }
  for (let attempt = 1; ; attempt++) {
    const key = freshKey()
    // a 2 s token, asked for at x.900 s: iat = x, exp = x + 2, so it lives ~1.1 s from arrival
    server.fault({ route: 'iam', apikey: key, tokenLifetimeSec: 2, times: 1 })
    while (Date.now() % 1000 < 900) await sleep(Math.max(1, 900 - (Date.now() % 1000)))
    const token = await m.getIamToken(key, opts)
    const { iat, exp } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url'))
    assert.equal(exp - iat, 2)
    if (Date.now() - iat * 1000 < 850 && attempt < 3) continue // crossed into the next second: no lost lifetime, try again
    // The cache takes the lifetime (2 s) from the arrival: refresh point 1.6 s and
    // margin 0.2 s after it, i.e. ~0.5 s past exp. Ask 100 ms past exp:
    await sleep(Math.max(0, exp * 1000 - Date.now()) + 100)
    const later = await m.getIamToken(key, opts)
    const laterExp = JSON.parse(Buffer.from(later.split('.')[1], 'base64url')).exp
    assert.ok(
      laterExp * 1000 > Date.now(),
      `getIamToken handed out a token that expired ${Date.now() - laterExp * 1000} ms ago ` +
        `(same token as before: ${later === token}; IAM requests for the key: ${server.iamRequestsFor(key)})`,
    )
    return
  }
})
