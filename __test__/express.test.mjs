// examples/express: compiled with tsc (so it must type-check against
// index.d.ts), then run against the fake IAM + WML + watsonx.ai server and
// called over HTTP.
import { test, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { useFakeServer, useTmpDir } from './helpers/fake.mjs'
import { freshEnv } from './helpers/child-env.js'
import { parseSse } from './helpers/fake-http.mjs'

const require = createRequire(import.meta.url)
const { generate } = require('../testing/index.js')

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const EXAMPLE = path.join(ROOT, 'examples', 'express')
const TSC = path.join(ROOT, 'node_modules', '.bin', 'tsc')

let fake // the fake IBM services
useFakeServer((s) => (fake = s))
let app // the example app, listening
let base // its URL
let apikey
let tmp
useTmpDir('wml-express-test-', (d) => (tmp = d))

/** Starts createApp(options) on an ephemeral port; resolves to { server, url }. */
async function listen(options) {
  const { createApp } = require(path.join(EXAMPLE, 'dist', 'app.js'))
  const server = http.createServer(createApp(options))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, url: `http://127.0.0.1:${server.address().port}` }
}

async function stop(s) {
  s.server.closeAllConnections()
  await new Promise((resolve) => s.server.close(resolve))
}

before(async () => {
  // Compile first: a type error in the example (or in index.d.ts) fails here.
  await promisify(execFile)(TSC, ['-p', EXAMPLE], { cwd: ROOT }).catch((e) => {
    assert.fail(`tsc -p examples/express failed:\n${e.stdout}${e.stderr}`)
  })
  apikey = `express-key-${process.pid}`
  app = await listen({ credentials: { url: fake.url, apikey, iamUrl: fake.url } })
  base = app.url
})
after(async () => {
  if (app) await stop(app)
})
beforeEach(() => {
  fake.options.streamIntervalMs = 0
})

function post(path, body, { url = base, contentType = 'application/json' } = {}) {
  return fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

/** The SSE events of a body, [{ event, data }]; `event` defaults to "message", as in the SSE spec. */
const sseEvents = (text) => parseSse(text).map((e) => ({ event: 'message', ...e }))

const PAYLOAD = { input_data: [{ fields: ['GENDER', 'AGE'], values: [['M', 23], ['F', 80], ['M', 5]] }] }

test('GET /healthz', async () => {
  const res = await fetch(`${base}/healthz`)
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), { status: 'ok' })
})

test('unknown routes, and /score without exactly one id segment, answer 404 as JSON', async () => {
  for (const [method, route] of [['GET', '/nope'], ['POST', '/score/'], ['POST', '/score/a/b'], ['GET', '/score/d']]) {
    const body = method === 'POST' ? '{}' : undefined
    const res = await fetch(base + route, { method, headers: { 'content-type': 'application/json' }, body })
    assert.equal(res.status, 404, `${method} ${route}`)
    assert.deepEqual(await res.json(), { error: 'not_found', message: 'no such route' })
  }
})

test('POST /score/:id returns the predictions; one IAM token serves every request', async () => {
  const results = await Promise.all([1, 2, 3].map(() => post('/score/dep-express', PAYLOAD)))
  for (const res of results) {
    assert.equal(res.status, 200)
    const body = await res.json()
    assert.deepEqual(body.predictions[0].fields, ['prediction', 'probability'])
    assert.deepEqual(body.predictions[0].values.map((v) => v[0]), ['N', 'Y', 'N'])
  }
  const req = fake.lastRequest('predictions')
  assert.equal(req.path, '/ml/v4/deployments/dep-express/predictions')
  assert.deepEqual(req.json, PAYLOAD)
  assert.equal(fake.iamRequestsFor(apikey), 1)
})

test('a 404 deployment maps to 404 with the WML error code and errors', async () => {
  const res = await post('/score/unknown-deployment', PAYLOAD)
  assert.equal(res.status, 404)
  const body = await res.json()
  assert.equal(body.error, 'deployment_not_found')
  assert.equal(body.errors[0].code, 'deployment_not_found')
  assert.match(body.message, /does not exist/)
})

test('errors map to statuses: WML 400 and 429 pass through, WML 403 and IAM 502, bad input 400/415, timeout 504', async () => {
  let res = await post('/score/d', { input_data: 'nope' })
  assert.equal(res.status, 400)
  assert.equal((await res.json()).error, 'json_validation_error')

  fake.fault({ route: 'predictions', status: 429, retryAfter: '0' })
  res = await post('/score/d', PAYLOAD)
  assert.equal(res.status, 429)
  assert.equal((await res.json()).error, 'rate_limit_reached_requests')
  fake.clearFaults()

  // WML refusing the app's own token is the app's problem, not the caller's.
  fake.fault({ route: 'predictions', status: 403, times: 1 })
  res = await post('/score/d', PAYLOAD)
  assert.equal(res.status, 502)
  assert.equal((await res.json()).error, 'authorization_rejected')

  // An array is not a payload: the client refuses it before sending.
  const before = fake.stats.predictions
  res = await post('/score/d', [1, 2])
  assert.equal(res.status, 400)
  assert.equal((await res.json()).error, 'ERR_INVALID_ARG')
  res = await post('/score/d', '{"input_data": [')
  assert.equal(res.status, 400)
  assert.equal((await res.json()).error, 'invalid_json')
  res = await post('/score/d', JSON.stringify(PAYLOAD), { contentType: 'text/plain' })
  assert.equal(res.status, 415)
  assert.equal(fake.stats.predictions, before)

  const slow = await listen({ credentials: { url: fake.url, apikey, iamUrl: fake.url }, timeoutMs: 300 })
  try {
    fake.fault({ route: 'predictions', hang: true, times: 1 })
    res = await post('/score/d', PAYLOAD, { url: slow.url })
    assert.equal(res.status, 504)
    assert.equal((await res.json()).error, 'ERR_TIMEOUT')
  } finally {
    await stop(slow)
  }

  const badKey = await listen({ credentials: { url: fake.url, apikey: `invalid-${apikey}`, iamUrl: fake.url } })
  try {
    res = await post('/score/d', PAYLOAD, { url: badKey.url })
    assert.equal(res.status, 502)
    const body = await res.json()
    assert.equal(body.error, 'ERR_IAM')
    assert.ok(!JSON.stringify(body).includes(apikey))
  } finally {
    await stop(badKey)
  }
})

test('POST /generate/:id streams SSE: one data event per chunk, then event: done', async () => {
  const closedBefore = fake.stats.streamsClosedByClient
  const request = { input: 'the quick brown fox', parameters: { max_new_tokens: 6 } }
  const res = await post('/generate/dep-gen', request)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type'), /^text\/event-stream/)
  assert.equal(res.headers.get('cache-control'), 'no-cache, no-transform')
  const events = sseEvents(await res.text())
  const expected = generate(request.input, request.parameters)

  const chunks = events.filter((e) => e.event === 'message')
  assert.equal(chunks.length, expected.tokens.length)
  assert.deepEqual(chunks.map((e) => e.data.results[0].generated_text), expected.tokens)
  assert.equal(chunks.at(-1).data.results[0].stop_reason, 'max_tokens')
  const last = events.at(-1)
  assert.equal(last.event, 'done')
  assert.deepEqual(last.data, { stop_reason: 'max_tokens', generated_token_count: expected.tokens.length })
  assert.equal(events.length, chunks.length + 1)
  assert.equal(fake.lastRequest('stream').path, '/ml/v1/deployments/dep-gen/text/generation_stream')
  assert.equal(fake.stats.streamsClosedByClient, closedBefore)
})

test('a generation error before the first chunk is a JSON answer with its status', async () => {
  let res = await post('/generate/unknown-model', { input: 'hi' })
  assert.equal(res.status, 404)
  assert.equal((await res.json()).error, 'deployment_not_found')
  res = await post('/generate/d', { parameters: {} })
  assert.equal(res.status, 400)
  assert.equal((await res.json()).error, 'json_validation_error')
})

test('an error event mid-stream becomes an SSE error event', async () => {
  fake.fault({ route: 'stream', errorAfterEvents: 2, errorCode: 'internal_error', message: 'model crashed' })
  const res = await post('/generate/d', { input: 'a b c d e', parameters: { max_new_tokens: 10 } })
  assert.equal(res.status, 200)
  const events = sseEvents(await res.text())
  assert.deepEqual(events.map((e) => e.event), ['message', 'message', 'error'])
  assert.equal(events[2].data.error, 'internal_error')
  assert.match(events[2].data.message, /model crashed/)
})

test('a client that disconnects mid-stream closes the stream to watsonx.ai', async () => {
  fake.options.streamIntervalMs = 50
  const closedBefore = fake.stats.streamsClosedByClient
  const openBefore = fake.stats.streamsOpen
  const body = JSON.stringify({ input: 'one two three', parameters: { max_new_tokens: 200 } })
  // Read until the first event has arrived, then hang up.
  await new Promise((resolve, reject) => {
    const req = http.request(`${base}/generate/dep-gone`, { method: 'POST', headers: { 'content-type': 'application/json' } })
    req.on('error', () => {}) // the destroy below
    req.on('response', (res) => {
      assert.equal(res.statusCode, 200)
      let text = ''
      res.on('data', (d) => {
        text += d
        if (text.includes('\n\n')) {
          req.destroy()
          resolve()
        }
      })
      res.on('error', () => {})
      res.on('end', () => reject(new Error('the stream ended before the client hung up')))
    })
    req.end(body)
  })
  const deadline = Date.now() + 5000
  while (fake.stats.streamsClosedByClient === closedBefore && Date.now() < deadline) await fake.sleep(20)
  assert.equal(fake.stats.streamsClosedByClient, closedBefore + 1)
  while (fake.stats.streamsOpen !== openBefore && Date.now() < deadline) await fake.sleep(20)
  assert.equal(fake.stats.streamsOpen, openBefore)
  // The app serves on.
  assert.equal((await fetch(`${base}/healthz`)).status, 200)
})

// ------------------------------------------------------------ server.js

/** Runs dist/server.js with `env`; resolves once it printed its URL (or exited). */
function startServerJs(env) {
  const child = spawn(process.execPath, [path.join(EXAMPLE, 'dist', 'server.js')], {
    cwd: tmp,
    env: freshEnv({ HOME: tmp, PORT: '0', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
  const started = new Promise((resolve) => {
    child.stdout.on('data', (d) => {
      stdout += d
      const m = /listening on (http:\/\/\S+)/.exec(stdout)
      if (m) resolve(m[1])
    })
    exited.then(() => resolve(undefined))
  })
  return { child, started, exited }
}

test('dist/server.js reads WML_* from the environment, listens on PORT, stops on SIGTERM', async () => {
  const key = `express-server-key-${process.pid}`
  const s = startServerJs({ WML_URL: fake.url, WML_APIKEY: key, WML_AUTH_URL: fake.url })
  try {
    const url = await s.started
    assert.ok(url, 'server.js did not start')
    const res = await post('/score/dep-server', PAYLOAD, { url })
    assert.equal(res.status, 200)
    assert.equal((await res.json()).predictions[0].values.length, 3)
    assert.equal(fake.iamRequestsFor(key), 1)
  } finally {
    s.child.kill('SIGTERM')
  }
  const { code, stderr } = await s.exited
  assert.equal(code, 0, stderr)
})

test('dist/server.js without configuration exits 1 naming the variable', async () => {
  const s = startServerJs({ WML_APIKEY: 'x' })
  const { code, stderr } = await s.exited
  assert.equal(code, 1)
  assert.match(stderr, /^configuration error: WML_URL is not set/)
})
