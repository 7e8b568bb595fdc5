// getIamToken, getIamTokenInfo, IamAuthenticator and the process-wide cache,
// against the local fake IAM server.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { createRequire } from 'node:module'
import { assertNoSecrets, watchUnhandled, sleep } from './helpers/secrets.mjs'
import { useFakeServer, keyMaker } from './helpers/fake.mjs'

const require = createRequire(import.meta.url)
const m = require('../index.js')
const { startFakeServer } = require('../testing/index.js')

let server
useFakeServer((s) => (server = s))
const freshKey = keyMaker('test-key')

const opts = (extra) => ({ url: server.url, ...extra })

test('getIamToken returns the JWT IAM issued', async () => {
  const key = freshKey()
  const token = await m.getIamToken(key, opts())
  assert.equal(token.split('.').length, 3)
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url'))
  assert.equal(claims.exp - claims.iat, 3600)
  assert.equal(server.iamRequestsFor(key), 1)
  const form = server.lastRequest('iam').form
  assert.equal(form.grant_type, 'urn:ibm:params:oauth:grant-type:apikey')
  assert.equal(form.apikey, key)
  assert.equal(form.response_type, 'cloud_iam')
  assert.equal(form.scope, undefined)
  assert.equal(server.lastRequest('iam').headers.authorization, undefined)
})

test('5,000 concurrent cold callers cause exactly one IAM request', async () => {
  const key = freshKey()
  server.fault({ route: 'iam', latencyMs: 100, times: 1 })
  const tokens = await Promise.all(Array.from({ length: 5000 }, () => m.getIamToken(key, opts())))
  assert.equal(new Set(tokens).size, 1)
  assert.equal(server.iamRequestsFor(key), 1)
  // and every later call is a cache hit
  for (let i = 0; i < 1000; i++) assert.equal(await m.getIamToken(key, opts()), tokens[0])
  assert.equal(server.iamRequestsFor(key), 1)
})

test('getIamToken and IamAuthenticator share one cache entry per key', async () => {
  const key = freshKey()
  const a = new m.IamAuthenticator({ apikey: key, url: server.url })
  const b = new m.IamAuthenticator({ apikey: key, url: `${server.url}/identity/token/` })
  const [t1, t2, t3] = await Promise.all([a.getToken(), b.getToken(), m.getIamToken(key, opts())])
  assert.equal(t1, t2)
  assert.equal(t2, t3)
  assert.equal(await a.authorizationHeader(), `Bearer ${t1}`)
  assert.equal(server.iamRequestsFor(key), 1)
})

test('a different scope or client id is a different cache entry', async () => {
  const key = freshKey()
  await m.getIamToken(key, opts())
  await m.getIamToken(key, opts({ scope: 'ibm openid' }))
  assert.equal(server.lastRequest('iam').form.scope, 'ibm openid')
  await m.getIamToken(key, opts({ clientId: 'bx', clientSecret: 'bx' }))
  assert.equal(server.lastRequest('iam').headers.authorization, 'Basic ' + Buffer.from('bx:bx').toString('base64'))
  // a client id without its secret is not sent and does not split the cache
  await m.getIamToken(key, opts({ clientId: 'bx' }))
  assert.equal(server.iamRequestsFor(key), 3)
})

test('each key gets the settings of its own options, read once per options object seen', async () => {
  // Keys after the first with the same options are made from the settings
  // read for it: the same requests, the same argument errors.
  const scoped = opts({ scope: `scope-${freshKey()}`, headers: { 'X-Seen': 'twice' } })
  for (let i = 0; i < 3; i++) {
    const key = freshKey()
    await m.getIamToken(key, scoped)
    const req = server.lastRequest('iam')
    assert.equal(req.form.apikey, key)
    assert.equal(req.form.scope, scoped.scope)
    assert.equal(req.headers['x-seen'], 'twice')
    await m.getIamToken(key, opts())
    assert.equal(server.lastRequest('iam').form.scope, undefined)
  }
  for (const bad of ['', undefined, 12345]) {
    const unseen = opts({ scope: `unseen-${freshKey()}` })
    const first = await m.getIamToken(bad, unseen).catch((e) => e)
    assert.ok(first instanceof m.InvalidArgumentError, String(first))
    await m.getIamToken(freshKey(), unseen)
    const again = await m.getIamToken(bad, unseen).catch((e) => e)
    assert.ok(again instanceof m.InvalidArgumentError)
    assert.equal(again.message, first.message)
  }
})

test('custom headers go out with the token request', async () => {
  await m.getIamToken(freshKey(), opts({ headers: { 'X-Test': 'yes' } }))
  assert.equal(server.lastRequest('iam').headers['x-test'], 'yes')
})

test('getIamTokenInfo describes the token', async () => {
  const key = freshKey()
  const info = await m.getIamTokenInfo(key, opts())
  assert.equal(info.tokenType, 'Bearer')
  assert.equal(info.expiresIn, 3600)
  const now = Math.floor(Date.now() / 1000)
  assert.ok(Math.abs(info.expiration - (now + 3600)) <= 5, `expiration ${info.expiration}`)
  assert.equal(info.scope, 'ibm openid')
  assert.equal(typeof info.imsUserId, 'number')
  assert.equal(info.accessToken, await m.getIamToken(key, opts()))
  assert.equal(server.iamRequestsFor(key), 1)
})

test('invalidate() makes the next call fetch a new token', async () => {
  const key = freshKey()
  const a = new m.IamAuthenticator({ apikey: key, url: server.url })
  const t1 = await a.getToken()
  assert.equal(await m.getIamToken(key, opts()), t1)
  a.invalidate()
  const t2 = await a.getToken()
  assert.notEqual(t2, t1)
  assert.equal(await m.getIamToken(key, opts()), t2, 'the memoised text is dropped too')
  assert.equal(server.iamRequestsFor(key), 2)
})

test('past 80% of its life the token is served at once while one background refresh runs', async () => {
  const key = freshKey()
  // A 60 s token that its issuer handed out 50 s ago (by its own clock, as a
  // caching proxy would): 9 s left counted from the answer (a second off for
  // whole-second timestamps), a 6 s margin, and its refresh point (48 s) is
  // already past. No waiting for a lifetime to run down.
  server.fault({ route: 'iam', apikey: key, tokenLifetimeSec: 60, tokenIssuedAgoSec: 50, times: 1 })
  const t1 = await m.getIamToken(key, opts())
  const served = await Promise.all(Array.from({ length: 200 }, () => m.getIamToken(key, opts())))
  assert.ok(served.every((t) => t === t1), 'old token handed out at once')
  for (let i = 0; i < 100 && server.iamRequestsFor(key) < 2; i++) await sleep(10)
  await sleep(50)
  assert.equal(server.iamRequestsFor(key), 2, 'one background refresh for 200 callers')
  const t2 = await m.getIamToken(key, opts())
  assert.notEqual(t2, t1)
  assert.equal(server.iamRequestsFor(key), 2)
})

test('a failed background refresh keeps serving the valid token, without unhandled rejections', async () => {
  const watch = watchUnhandled()
  const key = freshKey()
  // Issued 52 s ago with a 60 s life: 7 s left less the 6 s margin, so usable
  // for about a second, and already past its refresh point.
  server.fault({ route: 'iam', apikey: key, tokenLifetimeSec: 60, tokenIssuedAgoSec: 52, times: 1 })
  const t1 = await m.getIamToken(key, opts({ maxRetries: 0 }))
  server.fault({ route: 'iam', apikey: key, status: 500, times: 1 })
  assert.equal(await m.getIamToken(key, opts({ maxRetries: 0 })), t1)
  for (let i = 0; i < 100 && server.iamRequestsFor(key) < 2; i++) await sleep(10)
  await sleep(50)
  assert.equal(server.iamRequestsFor(key), 2)
  assert.equal(await m.getIamToken(key, opts({ maxRetries: 0 })), t1, 'still the valid token')
  await sleep(1100) // now inside the expiry margin: callers wait for a new token
  const t3 = await m.getIamToken(key, opts({ maxRetries: 0 }))
  assert.notEqual(t3, t1)
  assert.equal(server.iamRequestsFor(key), 3)
  assert.deepEqual(watch.stop(), [])
})

test("a token's life is judged on its issuer's clock, and one with under 10 s left is never handed out", async () => {
  // Issued 3591 s before the answer with a one-hour life: 9 s left by the
  // issuer's clock (its Date header). Counting from the local send time
  // would have served it for an hour.
  let key = freshKey()
  server.fault({ route: 'iam', apikey: key, tokenIssuedAgoSec: 3591, times: 1 })
  const e = await m.getIamToken(key, opts({ maxRetries: 0 })).catch((x) => x)
  assert.ok(e instanceof m.BadResponseError, String(e))
  assert.match(e.message, /expires in 9 s/)
  // Clock skew between us and the issuer plays no part: its Date header and
  // its token are both an hour off, the token is still fresh.
  key = freshKey()
  server.options.clockSkewSec = -3600
  try {
    const info = await m.getIamTokenInfo(key, opts())
    assert.ok(info.expiration < Date.now() / 1000, 'the token says it expired by our clock')
    const again = await Promise.all(Array.from({ length: 50 }, () => m.getIamToken(key, opts())))
    assert.ok(again.every((t) => t === info.accessToken))
    assert.equal(server.iamRequestsFor(key), 1, 'fresh by its issuer\'s clock: no refresh')
  } finally {
    server.options.clockSkewSec = 0
  }
})

test('retries 429/5xx honouring Retry-After, and maxRetries bounds the attempts', async () => {
  let key = freshKey()
  server.fault({ route: 'iam', apikey: key, status: 503, retryAfter: '0', times: 2 })
  assert.ok(await m.getIamToken(key, opts()))
  assert.equal(server.iamRequestsFor(key), 3)

  key = freshKey()
  server.fault({ route: 'iam', apikey: key, status: 502, retryAfter: '0' })
  const err = await m.getIamToken(key, opts({ maxRetries: 2 })).catch((e) => e)
  assert.equal(err.code, 'ERR_IAM')
  assert.equal(err.status, 502)
  assert.equal(server.iamRequestsFor(key), 3, 'maxRetries: 2 means at most 3 attempts')

  key = freshKey()
  server.fault({ route: 'iam', apikey: key, status: 429, retryAfter: '1', times: 1 })
  const t0 = Date.now()
  assert.ok(await m.getIamToken(key, opts()))
  assert.ok(Date.now() - t0 >= 900, 'waited for Retry-After')
  assert.equal(server.iamRequestsFor(key), 2)

  key = freshKey()
  const date = new Date(Date.now() + 1000).toUTCString()
  server.fault({ route: 'iam', apikey: key, status: 429, retryAfter: date, times: 1 })
  assert.ok(await m.getIamToken(key, opts()))
  assert.equal(server.iamRequestsFor(key), 2)

  key = freshKey()
  server.fault({ route: 'iam', apikey: key, reset: true, times: 1 })
  assert.ok(await m.getIamToken(key, opts()), 'connection failures are retried')
  assert.equal(server.iamRequestsFor(key), 2)
})

for (const status of [400, 401, 403]) {
  test(`never retries ${status}`, async () => {
    const key = freshKey()
    server.fault({ route: 'iam', apikey: key, status })
    const err = await m.getIamToken(key, opts()).catch((e) => e)
    assert.ok(err instanceof m.IamError)
    assert.equal(err.code, 'ERR_IAM')
    assert.equal(err.status, status)
    assert.equal(server.iamRequestsFor(key), 1)
    assertNoSecrets(err, [key])
  })
}

test('ERR_IAM carries IAM\'s errorCode, requestId and message', async () => {
  const key = `invalid-${freshKey()}`
  const err = await m.getIamToken(key, opts()).catch((e) => e)
  assert.ok(err instanceof m.IamError && err instanceof m.WmlNativeError && err instanceof Error)
  assert.equal(err.code, 'ERR_IAM')
  assert.equal(err.status, 400)
  assert.equal(err.iamErrorCode, 'BXNIM0415E')
  assert.equal(typeof err.requestId, 'string')
  assert.match(err.message, /Provided API key could not be found/)
  assertNoSecrets(err, [key])
})

test('an HTML 502 page gives a short message, not the page', async () => {
  const key = freshKey()
  server.fault({ route: 'iam', apikey: key, html: true, status: 502 })
  const err = await m.getIamToken(key, opts({ maxRetries: 0 })).catch((e) => e)
  assert.equal(err.code, 'ERR_IAM')
  assert.equal(err.status, 502)
  assert.ok(err.message.length < 200, err.message)
  assert.ok(!err.message.includes('<'), err.message)
  assertNoSecrets(err, [key])
})

test('transport failures: timeout, reset, refused', async () => {
  let key = freshKey()
  server.fault({ route: 'iam', apikey: key, hang: true })
  let err = await m.getIamToken(key, opts({ timeoutMs: 200, maxRetries: 0 })).catch((e) => e)
  assert.ok(err instanceof m.TimeoutError)
  assert.equal(err.code, 'ERR_TIMEOUT')
  assertNoSecrets(err, [key])

  key = freshKey()
  server.fault({ route: 'iam', apikey: key, reset: true })
  err = await m.getIamToken(key, opts({ maxRetries: 1 })).catch((e) => e)
  assert.equal(err.code, 'ERR_NETWORK')
  assert.equal(server.iamRequestsFor(key), 2)
  assertNoSecrets(err, [key])

  const closed = await startFakeServer()
  const url = closed.url
  await closed.close()
  err = await m.getIamToken(key, { url, maxRetries: 0 }).catch((e) => e)
  assert.ok(err instanceof m.NetworkError)
  assert.equal(err.code, 'ERR_NETWORK')
  assertNoSecrets(err, [key])
})

test('2xx without usable JSON or without access_token is ERR_BAD_RESPONSE', async () => {
  let key = freshKey()
  server.fault({ route: 'iam', apikey: key, malformed: true })
  let err = await m.getIamToken(key, opts()).catch((e) => e)
  assert.ok(err instanceof m.BadResponseError)
  assert.equal(err.code, 'ERR_BAD_RESPONSE')
  assert.equal(server.iamRequestsFor(key), 1)
  assertNoSecrets(err, [key])

  key = freshKey()
  server.fault({ route: 'iam', apikey: key, status: 200, body: '{"token_type":"Bearer"}', contentType: 'application/json' })
  err = await m.getIamToken(key, opts()).catch((e) => e)
  assert.equal(err.code, 'ERR_BAD_RESPONSE')
  assert.equal(err.status, 200)
})

test('invalid arguments reject with ERR_INVALID_ARG, never throw, and send nothing', async () => {
  const before = server.stats.iam
  const cases = [
    () => m.getIamToken('', opts()),
    () => m.getIamToken(undefined, opts()),
    () => m.getIamToken(12345, opts()),
    () => m.getIamToken('k', 'not an object'),
    () => m.getIamToken('k', { url: 'not a url' }),
    () => m.getIamToken('k', { url: 'http://iam.example.com' }),
    () => m.getIamToken('k', { url: 42 }),
    () => m.getIamToken('k', opts({ timeoutMs: 0 })),
    () => m.getIamToken('k', opts({ timeoutMs: -5 })),
    () => m.getIamToken('k', opts({ maxRetries: 1.5 })),
    () => m.getIamToken('k', opts({ headers: { 'bad header': 'x' } })),
    () => m.getIamToken('k', opts({ caCert: 'not a pem' })),
    () => m.getIamTokenInfo('', opts()),
    () => m.getIamTokenInfo('k', { url: 'ftp://x' }),
    // options whose reading throws: the memo lookup reads them first
    () => m.getIamToken('k', { get url() { throw new Error('getter') } }),
    () => m.getIamTokenInfo('k', { get url() { throw new Error('getter') } }),
  ]
  for (const call of cases) {
    let p
    assert.doesNotThrow(() => {
      p = call()
    })
    assert.ok(p instanceof Promise)
    const err = await p.then(
      () => assert.fail('resolved'),
      (e) => e,
    )
    assert.ok(err instanceof m.InvalidArgumentError, `${call}: ${err}`)
    assert.equal(err.code, 'ERR_INVALID_ARG')
  }
  assert.equal(server.stats.iam, before, 'nothing was sent')
  assert.throws(() => new m.IamAuthenticator({ apikey: '', url: server.url }), { code: 'ERR_INVALID_ARG' })
  assert.throws(() => new m.IamAuthenticator({ apikey: 'k', url: 'http://x.example' }), { code: 'ERR_INVALID_ARG' })
  assert.throws(() => new m.IamAuthenticator(), { code: 'ERR_INVALID_ARG' })
})

test('no key or token in inspect/JSON output of the authenticator', async () => {
  const key = freshKey()
  const a = new m.IamAuthenticator({ apikey: key, url: server.url, clientId: 'bx', clientSecret: 'client-secret-xyz' })
  const token = await a.getToken()
  for (const view of [inspect(a, { showHidden: true, depth: 5 }), JSON.stringify(a), String(a)]) {
    assert.ok(!view.includes(key) && !view.includes(token) && !view.includes('client-secret-xyz'), view)
  }
})

test('more keys and options than the JS memo holds: each key keeps its one token, one IAM request each', async () => {
  // The memo holds 4096 (key, options) pairs; past that it lets one go per new
  // pair (and the trie nodes of options nobody else uses). 4200 keys, some with
  // options of their own, twice over: the same tokens, no second request.
  const keys = Array.from({ length: 4200 }, () => freshKey())
  const optionsOf = (i) => (i % 10 === 0 ? opts({ headers: { 'X-Caller': `c${i}` } }) : opts())
  const get = () => Promise.all(keys.map((k, i) => m.getIamToken(k, optionsOf(i))))
  const first = await get()
  const again = await get()
  assert.deepEqual(again, first)
  assert.equal(new Set(first).size, keys.length)
  for (const k of keys) assert.equal(server.iamRequestsFor(k), 1)
  const info = await m.getIamTokenInfo(keys[0], optionsOf(0))
  assert.equal(info.accessToken, first[0])
})

test('the cache is bounded and clearTokenCache() empties it', async () => {
  m.clearTokenCache()
  m.configureTokenCache({ maxEntries: 5 })
  try {
    for (let i = 0; i < 12; i++) await m.getIamToken(freshKey(), opts())
    assert.equal(m.tokenCacheStats().size, 5)
    assert.equal(m.tokenCacheStats().capacity, 5)
    m.clearTokenCache()
    assert.equal(m.tokenCacheStats().size, 0)
  } finally {
    m.configureTokenCache({ maxEntries: 10000 })
  }
  assert.throws(() => m.configureTokenCache({ maxEntries: 0 }), { code: 'ERR_INVALID_ARG' })
})

test('clearTokenCache() makes the next call ask IAM again', async () => {
  const key = freshKey()
  const t1 = await m.getIamToken(key, opts())
  m.clearTokenCache()
  const t2 = await m.getIamToken(key, opts())
  assert.notEqual(t1, t2)
  assert.equal(server.iamRequestsFor(key), 2)
})
