// WmlClient against the local fake WML / watsonx.ai server.
import { test, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { getEventListeners } from 'node:events'
import { assertNoSecrets, watchUnhandled, sleep } from './helpers/secrets.mjs'
import { useFakeServer, keyMaker } from './helpers/fake.mjs'
import { collect, waitFor } from './helpers/streams.mjs'

const require = createRequire(import.meta.url)
const m = require('../index.js')

let server
useFakeServer((s) => (server = s))
const freshKey = keyMaker('wml-key')
const client = (extra) => new m.WmlClient({ url: server.url, apikey: freshKey(), iamUrl: server.url, ...extra })
const payload = (rows = 2) => ({
  input_data: [{ fields: ['GENDER', 'AGE'], values: Array.from({ length: rows }, (_, i) => ['M', 20 + i]) }],
})

beforeEach(() => {
  server.options.streamIntervalMs = 0
})

test('score sends the wire format and returns the parsed predictions', async () => {
  const c = client({ version: '2021-05-01' })
  const res = await c.score('dep-1', payload(), { transactionId: 'tx-123' })
  assert.equal(res.predictions[0].fields[0], 'prediction')
  assert.equal(res.predictions[0].values.length, 2)
  const req = server.lastRequest('predictions')
  assert.equal(req.path, '/ml/v4/deployments/dep-1/predictions')
  assert.equal(req.query.version, '2021-05-01')
  assert.match(req.headers.authorization, /^Bearer ey/)
  assert.equal(req.headers['content-type'], 'application/json')
  assert.equal(req.headers['x-global-transaction-id'], 'tx-123')
  assert.deepEqual(req.json, payload())
  // a deterministic model: same input, same answer
  assert.deepEqual(await c.score('dep-1', payload()), res)
})

test('a documented default API version is sent', async () => {
  await client().score('dep', payload())
  assert.match(server.lastRequest('predictions').query.version, /^\d{4}-\d{2}-\d{2}$/)
})

test('one IAM request serves getIamToken, every client and every call with that key', async () => {
  const key = freshKey()
  const token = await m.getIamToken(key, { url: server.url })
  const clients = [1, 2, 3].map(() => new m.WmlClient({ url: server.url, apikey: key, iamUrl: server.url }))
  await Promise.all(clients.flatMap((c) => [c.score('d', payload()), c.generateText('d', { input: 'hi' })]))
  assert.equal(server.iamRequestsFor(key), 1)
  assert.equal(server.lastRequest('generation').headers.authorization, `Bearer ${token}`)
})

test('a 401 refreshes the token and retries once; a second 401 rejects', async () => {
  const key = freshKey()
  const c = new m.WmlClient({ url: server.url, apikey: key, iamUrl: server.url })
  await c.score('d', payload())
  server.revokeTokens()
  const before = server.stats.predictions
  assert.ok((await c.score('d', payload())).predictions)
  assert.equal(server.stats.predictions - before, 2)
  assert.equal(server.iamRequestsFor(key), 2)

  server.fault({ route: 'predictions', status: 401 })
  const b2 = server.stats.predictions
  const err = await c.score('d', payload()).catch((e) => e)
  assert.ok(err instanceof m.WmlError)
  assert.equal(err.code, 'ERR_WML')
  assert.equal(err.status, 401)
  assert.equal(server.stats.predictions - b2, 2)
  assertNoSecrets(err, [key, await m.getIamToken(key, { url: server.url })])
})

test('429, 502, 503, 504 and 520 are retried honouring Retry-After', async () => {
  const c = client({ maxRetries: 5 })
  await c.score('d', payload())
  for (const status of [429, 502, 503, 504, 520]) {
    server.fault({ route: 'predictions', status, retryAfter: '0', times: 1 })
  }
  const before = server.stats.predictions
  assert.ok((await c.score('d', payload())).predictions)
  assert.equal(server.stats.predictions - before, 6)

  server.fault({ route: 'predictions', status: 429, retryAfter: '1', times: 1 })
  const t0 = Date.now()
  await c.score('d', payload())
  assert.ok(Date.now() - t0 >= 900)

  server.fault({ route: 'predictions', status: 503, retryAfter: '0' })
  const b2 = server.stats.predictions
  const err = await client({ maxRetries: 2 }).score('d', payload()).catch((e) => e)
  assert.equal(err.status, 503)
  assert.equal(server.stats.predictions - b2, 3)
})

for (const [status, code] of [
  [400, 'invalid_input_argument'],
  [403, 'authorization_rejected'],
  [404, 'deployment_not_found'],
]) {
  test(`${status} is not retried and carries the service's errors`, async () => {
    const key = freshKey()
    const c = new m.WmlClient({ url: server.url, apikey: key, iamUrl: server.url })
    server.fault({ route: 'predictions', status })
    const before = server.stats.predictions
    const err = await c.score('d', payload()).catch((e) => e)
    assert.equal(server.stats.predictions - before, 1)
    assert.equal(err.code, 'ERR_WML')
    assert.equal(err.status, status)
    assert.equal(err.errors[0].code, code)
    assert.equal(typeof err.errors[0].message, 'string')
    assert.match(err.trace, /^[0-9a-f]{32}$/)
    assert.ok(err.message.includes(err.errors[0].message))
    assertNoSecrets(err, [key, await m.getIamToken(key, { url: server.url })])
  })
}

test('the real service answers: unknown deployment, bad payload', async () => {
  const c = client()
  let err = await c.score('unknown-dep', payload()).catch((e) => e)
  assert.equal(err.status, 404)
  assert.equal(err.errors[0].code, 'deployment_not_found')
  err = await c.score('d', { input_data: 'nope' }).catch((e) => e)
  assert.equal(err.status, 400)
  assert.equal(err.errors[0].code, 'json_validation_error')
})

test('an HTML error page gives a short ERR_WML', async () => {
  server.fault({ route: 'predictions', html: true, status: 502 })
  const err = await client({ maxRetries: 0 }).score('d', payload()).catch((e) => e)
  assert.equal(err.code, 'ERR_WML')
  assert.equal(err.status, 502)
  assert.ok(err.message.length < 200 && !err.message.includes('<'), err.message)
})

test('an already aborted signal sends nothing', async () => {
  const c = client()
  const before = { ...server.stats }
  const ac = new AbortController()
  ac.abort(new Error('user went away'))
  const err = await c.score('d', payload(), { signal: ac.signal }).catch((e) => e)
  assert.ok(err instanceof m.AbortError)
  assert.equal(err.code, 'ERR_ABORTED')
  assert.equal(err.cause.message, 'user went away')
  assert.equal(server.stats.predictions, before.predictions)
  assert.equal(server.stats.iam, before.iam)
})

test('an abort mid-call rejects at once', async () => {
  const c = client()
  await c.score('d', payload())
  server.fault({ route: 'predictions', hang: true, times: 1 })
  const ac = new AbortController()
  const p = c.score('d', payload(), { signal: ac.signal })
  await sleep(100)
  const t0 = Date.now()
  ac.abort(new Error('caller gave up'))
  const err = await p.catch((e) => e)
  assert.equal(err.code, 'ERR_ABORTED')
  assert.equal(err.cause.message, 'caller gave up')
  assert.ok(Date.now() - t0 < 1000)
  // the client still works
  assert.ok((await c.score('d', payload(), { signal: ac.signal }).catch((e) => e)).code === 'ERR_ABORTED')
  assert.ok((await c.score('d', payload())).predictions)
})

test('a call refused for its arguments leaves no listener on the caller\'s signal', async () => {
  const c = client()
  const ac = new AbortController()
  for (const call of [
    () => c.score('d', payload(), { signal: ac.signal, timeoutMs: -1 }),
    () => c.score('a/b', payload(), { signal: ac.signal }),
    () => c.embed({ model_id: 'm', inputs: ['x'] }, { signal: ac.signal, timeoutMs: 'soon' }),
  ]) {
    await assert.rejects(call(), { code: 'ERR_INVALID_ARG' })
  }
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0)
  await c.score('d', payload(), { signal: ac.signal })
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0)
})

test('timeoutMs bounds the whole call', async () => {
  const c = client()
  await c.score('d', payload())
  server.fault({ route: 'predictions', hang: true, times: 1 })
  const err = await c.score('d', payload(), { timeoutMs: 200 }).catch((e) => e)
  assert.ok(err instanceof m.TimeoutError)
  assert.equal(err.code, 'ERR_TIMEOUT')
  server.fault({ route: 'predictions', status: 503, retryAfter: '1' })
  const t0 = Date.now()
  const err2 = await c.score('d', payload(), { timeoutMs: 500 }).catch((e) => e)
  assert.equal(err2.code, 'ERR_TIMEOUT', 'retries count against the bound')
  assert.ok(Date.now() - t0 < 1500)
})

test('a 10 MB payload of 200,000 rows scores', async () => {
  const rows = Array.from({ length: 200000 }, (_, i) => ['M', i % 90, 'a somewhat longer text value here', i * 0.5])
  const big = { input_data: [{ fields: ['G', 'AGE', 'T', 'X'], values: rows }] }
  assert.ok(JSON.stringify(big).length > 10e6)
  const res = await client().score('d', big, { timeoutMs: 60000 })
  assert.equal(res.predictions[0].values.length, 200000)
})

test('a Buffer payload is sent as is', async () => {
  const res = await client().score('d', Buffer.from(JSON.stringify(payload(3))))
  assert.equal(res.predictions[0].values.length, 3)
})

test('bearer-token credentials make no IAM call', async () => {
  const token = server.issueToken()
  const before = server.stats.iam
  const c = new m.WmlClient({ url: server.url, token })
  await c.score('d', payload())
  assert.equal(server.stats.iam, before)
  assert.equal(server.lastRequest('predictions').headers.authorization, `Bearer ${token}`)
})

test('invalid arguments: ERR_INVALID_ARG, no throw, nothing sent', async () => {
  const c = client()
  const before = server.stats.predictions + server.stats.generation + server.stats.stream
  const circular = { input_data: [] }
  circular.self = circular
  const calls = [
    () => c.score('', payload()),
    () => c.score(undefined, payload()),
    () => c.score('a/b', payload()),
    () => c.score('a?b', payload()),
    () => c.score('a#b', payload()),
    () => c.score('..', payload()),
    () => c.score('d', 'a string'),
    () => c.score('d', null),
    () => c.score('d', [1, 2]),
    () => c.score('d', 42),
    () => c.score('d', circular),
    () => c.score('d', payload(), { timeoutMs: -1 }),
    () => c.score('d', payload(), { signal: 'nope' }),
    () => c.generateText('a/b', { input: 'x' }),
  ]
  for (const call of calls) {
    let p
    assert.doesNotThrow(() => (p = call()))
    const err = await p.then(() => assert.fail(`${call} resolved`), (e) => e)
    assert.equal(err.code, 'ERR_INVALID_ARG', `${call}: ${err}`)
    assert.ok(err instanceof m.InvalidArgumentError)
  }
  const it = c.generateTextStream('a/b', { input: 'x' })
  await assert.rejects(it.next(), { code: 'ERR_INVALID_ARG' })
  assert.equal(server.stats.predictions + server.stats.generation + server.stats.stream, before)

  for (const creds of [
    undefined,
    {},
    { apikey: 'k' },
    { url: 'http://us-south.ml.cloud.ibm.com', apikey: 'k' },
    { url: server.url },
    { url: server.url, apikey: 42 },
    { url: server.url, apikey: 'k', version: 'yesterday' },
    { url: server.url, apikey: 'k', iamUrl: 'http://iam.example.com' },
  ]) {
    assert.throws(() => new m.WmlClient(creds), { code: 'ERR_INVALID_ARG' }, JSON.stringify(creds))
  }
})

test('generateText returns the generation result', async () => {
  const res = await client().generateText('d', { input: 'one two three', parameters: { max_new_tokens: 4 } })
  assert.equal(res.results[0].generated_token_count, 4)
  assert.equal(res.results[0].stop_reason, 'max_tokens')
  assert.equal(typeof res.results[0].generated_text, 'string')
  assert.equal(server.lastRequest('generation').path, '/ml/v1/deployments/d/text/generation')
})


test('generateTextStream yields one chunk per event, reassembling split reads', async () => {
  const c = client()
  const request = { input: 'alpha beta gamma', parameters: { max_new_tokens: 6 } }
  const plain = await c.generateText('d', request)
  server.fault({ route: 'stream', splitBytes: 7, times: 1 })
  const chunks = await collect(c.generateTextStream('d', request))
  assert.equal(chunks.length, 6)
  assert.equal(chunks.map((ch) => ch.results[0].generated_text).join(''), plain.results[0].generated_text)
  assert.equal(chunks.at(-1).results[0].stop_reason, 'max_tokens')
  assert.ok(chunks.slice(0, -1).every((ch) => ch.results[0].stop_reason === 'not_finished'))
  const req = server.lastRequest('stream')
  assert.equal(req.path, '/ml/v1/deployments/d/text/generation_stream')
  assert.equal(req.headers.accept, 'text/event-stream')
})


test('breaking out of the loop closes the connection at once', async () => {
  server.options.streamIntervalMs = 50
  const c = client()
  const closed = server.stats.streamsClosedByClient
  let seen = 0
  for await (const chunk of c.generateTextStream('d', { input: 'x y z', parameters: { max_new_tokens: 100 } })) {
    assert.ok(chunk.results)
    if (++seen === 2) break
  }
  assert.ok(await waitFor(() => server.stats.streamsClosedByClient === closed + 1), 'server saw the close')
  assert.equal(server.stats.streamsOpen, 0)
})

test('return() closes the stream, and next() then reports done', async () => {
  server.options.streamIntervalMs = 50
  const closed = server.stats.streamsClosedByClient
  const it = client().generateTextStream('d', { input: 'x y z', parameters: { max_new_tokens: 100 } })
  assert.equal((await it.next()).done, false)
  assert.deepEqual(await it.return(), { done: true, value: undefined })
  assert.deepEqual(await it.next(), { done: true, value: undefined })
  assert.ok(await waitFor(() => server.stats.streamsClosedByClient === closed + 1))
})

test('an abort mid-stream throws ERR_ABORTED and closes the connection', async () => {
  server.options.streamIntervalMs = 50
  const closed = server.stats.streamsClosedByClient
  const ac = new AbortController()
  const it = client().generateTextStream('d', { input: 'x y z', parameters: { max_new_tokens: 100 } }, { signal: ac.signal })
  const got = []
  const err = await (async () => {
    for await (const chunk of it) {
      got.push(chunk)
      if (got.length === 2) ac.abort()
    }
  })().catch((e) => e)
  assert.equal(err?.code, 'ERR_ABORTED')
  assert.ok(await waitFor(() => server.stats.streamsClosedByClient === closed + 1))
})

test('an error event mid-stream makes the iteration throw ERR_WML, and the next call works', async () => {
  const watch = watchUnhandled()
  const key = freshKey()
  const c = new m.WmlClient({ url: server.url, apikey: key, iamUrl: server.url })
  server.fault({ route: 'stream', errorAfterEvents: 2, errorCode: 'authentication_token_expired', times: 1 })
  const got = []
  const err = await (async () => {
    for await (const chunk of c.generateTextStream('d', { input: 'a b', parameters: { max_new_tokens: 10 } })) got.push(chunk)
  })().catch((e) => e)
  assert.equal(got.length, 2)
  assert.ok(err instanceof m.WmlError)
  assert.equal(err.code, 'ERR_WML')
  assert.equal(err.errors[0].code, 'authentication_token_expired')
  assertNoSecrets(err, [key])
  const chunks = await collect(c.generateTextStream('d', { input: 'a b', parameters: { max_new_tokens: 3 } }))
  assert.equal(chunks.length, 3)
  assert.equal(server.iamRequestsFor(key), 2, 'the rejected token was replaced')
  assert.deepEqual(watch.stop(), [])
})

test('util.inspect of a client shows no secret', async () => {
  const { inspect } = await import('node:util')
  const key = freshKey()
  const c = new m.WmlClient({ url: server.url, apikey: key, iamUrl: server.url, clientSecret: 'cs-123', clientId: 'id' })
  const view = inspect(c, { showHidden: true, depth: 5 }) + JSON.stringify(c)
  assert.ok(!view.includes(key) && !view.includes('cs-123'), view)
})
