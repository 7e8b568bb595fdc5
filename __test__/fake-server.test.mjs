// Tests of the fake IAM + WML + watsonx.ai server (wml-native/testing) itself.
// Run: node --test __test__/fake-server.test.mjs
import { test, describe, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import fs from 'node:fs'
import crypto from 'node:crypto'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { startFakeServer, predictRow, generate, FIXTURES, DEFAULT_MODEL_ID } from '../testing/index.mjs'
import { sleep } from './helpers/secrets.mjs'
import {
  GRANT, VERSION, iamPost, jsonRequest, decodeJwt, rawRequest, parseSse, startCli, assertIamError, assertWmlError as assertWmlErrorShape,
} from './helpers/fake-http.mjs'
import { waitFor } from './helpers/streams.mjs'

const require = createRequire(import.meta.url)
const CLI = fileURLToPath(new URL('../testing/cli.js', import.meta.url))
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' }
const ML_MORE_INFO = 'https://cloud.ibm.com/apidocs/machine-learning'

// ---------------------------------------------------------------------------
// helpers (thin adapters over helpers/fake-http.mjs)
// ---------------------------------------------------------------------------

/** An API-key token request; `form` adds fields. */
function tokenRequest(server, apikey, { headers = {}, form = {} } = {}) {
  return iamPost(server, { grant_type: GRANT.apikey, apikey, ...form }, headers)
}

async function getToken(server, apikey = 'good-key') {
  const res = await tokenRequest(server, apikey)
  assert.equal(res.status, 200)
  return (await res.json()).access_token
}

function wmlPost(server, path, token, body, options) {
  return jsonRequest(server, path, body, { ...options, token })
}

const predictPath = (id = 'dep-1') => `/ml/v4/deployments/${id}/predictions`
const genPath = (id = 'dep-1') => `/ml/v1/deployments/${id}/text/generation`
const streamPath = (id = 'dep-1') => `/ml/v1/deployments/${id}/text/generation_stream`
const SMALL_INPUT = { input_data: [{ fields: ['GENDER', 'AGE'], values: [['M', 23]] }] }

/** A WML error body, with WML's (not watsonx.ai's) documentation link. */
const assertWmlError = (body, status, code) => assertWmlErrorShape(body, status, code, ML_MORE_INFO)

// ---------------------------------------------------------------------------
// IAM
// ---------------------------------------------------------------------------

describe('IAM /identity/token', () => {
  let server
  before(async () => { server = await startFakeServer({ invalidApikeys: ['revoked-key'] }) })
  after(() => server.close())
  beforeEach(() => server.reset())

  test('issues a real-looking JWT with iat/exp and the IBM response shape', async () => {
    const before = Math.floor(Date.now() / 1000)
    const res = await tokenRequest(server, 'good-key', { form: { response_type: 'cloud_iam' } })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type'), /^application\/json/)
    const body = await res.json()
    assert.deepEqual(Object.keys(body).sort(),
      ['access_token', 'expiration', 'expires_in', 'ims_user_id', 'refresh_token', 'scope', 'token_type'])
    assert.equal(body.refresh_token, 'not_supported')
    assert.equal(body.token_type, 'Bearer')
    assert.equal(body.scope, 'ibm openid')
    assert.equal(typeof body.ims_user_id, 'number')
    assert.equal(body.expires_in, 3600)
    const { header, payload } = decodeJwt(body.access_token)
    assert.deepEqual(header, { kid: '20240101', alg: 'RS256' })
    for (const claim of ['iam_id', 'id', 'realmid', 'sub', 'sub_type', 'account', 'iss', 'jti', 'acr', 'amr']) {
      assert.ok(payload[claim] !== undefined, `claim ${claim}`)
    }
    assert.equal(payload.grant_type, GRANT.apikey)
    assert.equal(payload.scope, 'ibm openid')
    assert.equal(payload.client_id, 'default')
    assert.ok(payload.iat >= before && payload.iat <= Math.floor(Date.now() / 1000))
    assert.equal(payload.exp - payload.iat, 3600)
    assert.equal(body.expiration, payload.exp)
  })

  test('every token is different (unique jti) and the same key gives the same iam_id', async () => {
    const a = decodeJwt(await getToken(server, 'k1')).payload
    const b = decodeJwt(await getToken(server, 'k1')).payload
    const c = decodeJwt(await getToken(server, 'k2')).payload
    assert.notEqual(a.jti, b.jti)
    assert.equal(a.iam_id, b.iam_id)
    assert.notEqual(a.iam_id, c.iam_id)
  })

  test('tokenLifetimeSec option sets exp - iat and expires_in', async () => {
    const short = await startFakeServer({ tokenLifetimeSec: 4 })
    try {
      const body = await (await tokenRequest(short, 'x')).json()
      const { payload } = decodeJwt(body.access_token)
      assert.equal(payload.exp - payload.iat, 4)
      assert.equal(body.expires_in, 4)
      assert.equal(decodeJwt(short.issueToken({ lifetimeSec: 9 })).payload.exp - payload.iat >= 9, true)
    } finally {
      await short.close()
    }
  })

  test('unknown key -> 400 BXNIM0415E with the IAM error shape and Transaction-Id', async () => {
    for (const key of ['invalid-123', 'revoked-key']) {
      const res = await tokenRequest(server, key, { headers: { 'User-Agent': 'fake-test/1.0' } })
      assert.equal(res.status, 400)
      const body = await res.json()
      assertIamError(body, 'BXNIM0415E')
      assert.equal(body.errorMessage, 'Provided API key could not be found.')
      assert.equal(body.context.userAgent, 'fake-test/1.0')
      assert.equal(res.headers.get('transaction-id'), body.context.requestId)
    }
    assert.equal((await tokenRequest(server, 'valid-key')).status, 200)
  })

  test('form validation: content type, grant_type, apikey', async () => {
    const post = (body, headers = FORM) => fetch(`${server.url}/identity/token`, { method: 'POST', headers, body })
    const wrongType = await post(`grant_type=${GRANT.apikey}&apikey=k`, { 'Content-Type': 'application/json' })
    assert.equal(wrongType.status, 400)
    assertIamError(await wrongType.json(), 'BXNIM0105E')
    const noGrant = await post('apikey=k')
    assert.equal(noGrant.status, 400)
    assertIamError(await noGrant.json(), 'BXNIM0308E')
    const badGrant = await post('grant_type=password&apikey=k')
    assert.equal(badGrant.status, 400)
    assertIamError(await badGrant.json(), 'BXNIM0308E')
    const noKey = await post(`grant_type=${encodeURIComponent(GRANT.apikey)}`)
    assert.equal(noKey.status, 400)
    assertIamError(await noKey.json(), 'BXNIM0109E')
    const get = await fetch(`${server.url}/identity/token`)
    assert.equal(get.status, 405)
  })

  test('Authorization: Basic must be id:secret with both non-empty', async () => {
    const basic = (s) => ({ Authorization: `Basic ${Buffer.from(s).toString('base64')}` })
    assert.equal((await tokenRequest(server, 'k', { headers: basic('bx:bx') })).status, 200)
    for (const bad of [basic(':secret'), basic('id:'), basic('nocolon'), { Authorization: 'Basic' }, { Authorization: 'Bearer abc' }]) {
      const res = await tokenRequest(server, 'k', { headers: bad })
      assert.equal(res.status, 400, JSON.stringify(bad))
      assertIamError(await res.json(), 'BXNIM0345E')
    }
  })

  test('counts requests per key, records the last request, reset() clears', async () => {
    await getToken(server, 'a')
    await getToken(server, 'a')
    await tokenRequest(server, 'invalid-b')
    assert.equal(server.stats.iam, 3)
    assert.equal(server.iamRequestsFor('a'), 2)
    assert.equal(server.iamRequestsFor('invalid-b'), 1)
    assert.equal(server.iamRequestsFor('never'), 0)
    assert.equal(server.stats.iamByKey.get('a'), 2)
    const last = server.lastRequest('iam')
    assert.equal(last.method, 'POST')
    assert.equal(last.path, '/identity/token')
    assert.equal(last.form.apikey, 'invalid-b')
    assert.equal(last.form.grant_type, GRANT.apikey)
    assert.equal(last.headers['content-type'], 'application/x-www-form-urlencoded')
    assert.match(last.body, /apikey=invalid-b/)
    const stats = server.stats
    server.reset()
    assert.equal(server.stats, stats, 'stats object is live')
    assert.equal(stats.iam, 0)
    assert.equal(server.iamRequestsFor('a'), 0)
    assert.equal(server.lastRequest('iam'), undefined)
  })
})

// ---------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------

describe('faults', () => {
  let server
  before(async () => { server = await startFakeServer() })
  after(() => server.close())
  beforeEach(() => server.reset())

  test('latencyMs delays a normal answer', async () => {
    server.fault({ route: 'iam', latencyMs: 250, times: 1 })
    const t0 = Date.now()
    const res = await tokenRequest(server, 'k')
    assert.ok(Date.now() - t0 >= 240, `took ${Date.now() - t0} ms`)
    assert.equal(res.status, 200)
    assert.ok((await res.json()).access_token)
    const t1 = Date.now()
    await getToken(server, 'k')
    assert.ok(Date.now() - t1 < 200, 'used up after one request')
  })

  test('hang never answers; the client aborts; the server stays usable', { timeout: 5000 }, async () => {
    server.fault({ route: 'iam', hang: true, times: 1 })
    const t0 = Date.now()
    const res = fetch(`${server.url}/identity/token`, {
      method: 'POST', headers: FORM, body: `grant_type=${GRANT.apikey}&apikey=k`, signal: AbortSignal.timeout(300),
    })
    await assert.rejects(res, (err) => err.name === 'TimeoutError' || err.name === 'AbortError')
    assert.ok(Date.now() - t0 >= 290)
    assert.equal(server.stats.iam, 1, 'hung requests are counted')
    assert.equal((await tokenRequest(server, 'k')).status, 200)
  })

  test('reset destroys the socket without an answer', async () => {
    server.fault({ route: 'predictions', reset: true, times: 1 })
    const token = server.issueToken()
    await assert.rejects(wmlPost(server, predictPath(), token, SMALL_INPUT), TypeError)
    assert.equal((await wmlPost(server, predictPath(), token, SMALL_INPUT)).status, 200)
  })

  test('resetAfterBytes sends headers and n bytes then destroys', async () => {
    server.fault({ route: 'iam', resetAfterBytes: 25, times: 1 })
    const err = await rawRequest(`${server.url}/identity/token`, { headers: FORM, body: `grant_type=${GRANT.apikey}&apikey=k` })
      .then(() => null, (e) => e)
    assert.ok(err, 'the response must fail')
    assert.equal(err.status, 200)
    assert.equal(err.partial.length, 25)
    assert.equal(err.partial.toString(), '{"access_token":"eyJraWQi')
  })

  test('malformed answers truncated JSON with 200', async () => {
    server.fault({ route: 'iam', malformed: true })
    const res = await tokenRequest(server, 'k')
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json')
    const text = await res.text()
    assert.equal(text, '{"access_token": ')
    assert.throws(() => JSON.parse(text), SyntaxError)
  })

  test('body answers an exact raw body with status and content type', async () => {
    server.fault({ route: 'predictions', body: 'upstream said no', status: 503, contentType: 'text/plain' })
    const res = await wmlPost(server, predictPath(), server.issueToken(), SMALL_INPUT)
    assert.equal(res.status, 503)
    assert.equal(res.headers.get('content-type'), 'text/plain')
    assert.equal(res.headers.get('content-length'), '16')
    assert.equal(await res.text(), 'upstream said no')
  })

  test('html answers a load balancer error page', async () => {
    server.fault({ route: 'iam', html: true })
    const res = await tokenRequest(server, 'k')
    assert.equal(res.status, 502)
    assert.match(res.headers.get('content-type'), /^text\/html/)
    const text = await res.text()
    assert.match(text, /^<html>/)
    assert.match(text, /<title>502 Bad Gateway<\/title>/)
    assert.ok(text.split('\n').length >= 5)
    server.clearFaults()
    server.fault({ route: 'predictions', html: true, status: 504 })
    const res2 = await wmlPost(server, predictPath(), server.issueToken(), SMALL_INPUT)
    assert.equal(res2.status, 504)
    assert.match(await res2.text(), /504 Gateway Timeout/)
  })

  test('status gives the route-shaped error with a code per status, and Retry-After', async () => {
    const token = server.issueToken()
    const cases = [[400, 'invalid_input_argument'], [401, 'authentication_token_not_valid'], [403, 'authorization_rejected'],
      [404, 'deployment_not_found'], [429, 'rate_limit_reached_requests'], [500, 'internal_error'], [503, 'internal_error']]
    for (const [status, code] of cases) {
      server.fault({ route: 'predictions', status, times: 1 })
      const res = await wmlPost(server, predictPath(), token, SMALL_INPUT)
      assert.equal(res.status, status)
      assert.equal(res.headers.get('retry-after'), null)
      assertWmlError(await res.json(), status, code)
    }
    server.fault({ route: 'predictions', status: 429, retryAfter: '2', times: 1 })
    const limited = await wmlPost(server, predictPath(), token, SMALL_INPUT)
    assert.equal(limited.status, 429)
    assert.equal(limited.headers.get('retry-after'), '2')
    assertWmlError(await limited.json(), 429, 'rate_limit_reached_requests')

    const date = new Date(Date.now() + 3000).toUTCString()
    server.fault({ route: 'iam', status: 503, retryAfter: date, times: 1 })
    const iamRes = await tokenRequest(server, 'k')
    assert.equal(iamRes.status, 503)
    assert.equal(iamRes.headers.get('retry-after'), date)
    assert.ok(iamRes.headers.get('transaction-id'))
    const iamBody = await iamRes.json()
    assertIamError(iamBody, iamBody.errorCode)
    assert.match(iamBody.errorCode, /^BXNIM\d{4}E$/)
  })

  test('trickleMs sends the body one byte at a time', async () => {
    server.fault({ route: 'predictions', trickleMs: 3, times: 1 })
    const expected = JSON.stringify({ predictions: [{ fields: ['prediction', 'probability'], values: [['N', [0.24, 0.76]]] }] })
    const t0 = Date.now()
    const res = await rawRequest(`${server.url}${predictPath()}?version=${VERSION}`, {
      headers: { Authorization: `Bearer ${server.issueToken()}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(SMALL_INPUT),
    })
    const elapsed = Date.now() - t0
    assert.equal(res.status, 200)
    assert.equal(res.body, expected)
    assert.ok(res.chunks.length > expected.length / 2, `${res.chunks.length} chunks`)
    assert.ok(elapsed >= expected.length * 2, `took ${elapsed} ms`)
  })

  test('times limits a fault; used/remaining are live; it is then dropped', async () => {
    const fault = server.fault({ route: 'iam', status: 500, times: 2 })
    assert.equal(fault.remaining, 2)
    assert.equal(server.faults.length, 1)
    assert.equal((await tokenRequest(server, 'k')).status, 500)
    assert.equal((await tokenRequest(server, 'k')).status, 500)
    assert.equal((await tokenRequest(server, 'k')).status, 200)
    assert.equal(fault.used, 2)
    assert.equal(fault.remaining, 0)
    assert.equal(server.faults.length, 0)
    assert.equal(server.stats.iam, 3, 'faulted requests are counted')
    assert.equal(server.iamRequestsFor('k'), 3)
  })

  test('apikey scopes an IAM fault to one key', async () => {
    server.fault({ route: 'iam', apikey: 'victim', status: 429 })
    assert.equal((await tokenRequest(server, 'victim')).status, 429)
    assert.equal((await tokenRequest(server, 'bystander')).status, 200)
    assert.equal((await tokenRequest(server, 'victim')).status, 429)
  })

  test('tokenLifetimeSec fault changes one token lifetime', async () => {
    server.fault({ route: 'iam', tokenLifetimeSec: 5, times: 1 })
    const first = await (await tokenRequest(server, 'k')).json()
    const p1 = decodeJwt(first.access_token).payload
    assert.equal(p1.exp - p1.iat, 5)
    assert.equal(first.expires_in, 5)
    const p2 = decodeJwt(await getToken(server, 'k')).payload
    assert.equal(p2.exp - p2.iat, 3600)
  })

  test("route '*' matches every route; clearFaults removes faults", async () => {
    server.fault({ route: '*', status: 503 })
    assert.equal((await tokenRequest(server, 'k')).status, 503)
    assert.equal((await wmlPost(server, predictPath(), 'x', SMALL_INPUT)).status, 503)
    server.clearFaults()
    assert.equal((await tokenRequest(server, 'k')).status, 200)
  })

  test('bad fault specs throw', () => {
    assert.throws(() => server.fault({ route: 'nope', status: 500 }), TypeError)
    assert.throws(() => server.fault({ route: 'iam' }), TypeError)
    assert.throws(() => server.fault({ route: 'iam', status: 500, times: -1 }), TypeError)
  })
})

// ---------------------------------------------------------------------------
// WML predictions
// ---------------------------------------------------------------------------

describe('WML predictions', () => {
  let server
  let token
  before(async () => {
    server = await startFakeServer()
    token = await getToken(server)
  })
  after(() => server.close())

  test('deterministic predictions per block and row', async () => {
    const input = {
      input_data: [
        { id: 'block-a', fields: ['GENDER', 'AGE'], values: [['M', 23], ['F', 55], ['MM', 148.5]] },
        { values: [[[1, 2], [3, [4]]], [-7], [{ a: 'xyz', b: true, c: null }]] },
      ],
    }
    const res = await wmlPost(server, predictPath(), token, input)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type'), /^application\/json/)
    assert.ok(res.headers.get('content-length'))
    const body = await res.json()
    assert.deepEqual(body, {
      predictions: [
        { id: 'block-a', fields: ['prediction', 'probability'], values: [['N', [0.24, 0.76]], ['Y', [0.56, 0.44]], ['Y', [0.505, 0.495]]] },
        { fields: ['prediction', 'probability'], values: [['N', [0.1, 0.9]], ['Y', [0.93, 0.07]], ['N', [0.03, 0.97]]] },
      ],
    })
    const again = await (await wmlPost(server, predictPath(), token, input)).json()
    assert.deepEqual(again, body)
    const last = server.lastRequest('predictions')
    assert.deepEqual(last.json, input)
    assert.equal(last.query.version, VERSION)
    assert.equal(last.path, predictPath())
    assert.equal(last.headers.authorization, `Bearer ${token}`)
  })

  test('401 without a token, with a foreign token, and after revokeTokens', async () => {
    const none = await wmlPost(server, predictPath(), null, SMALL_INPUT)
    assert.equal(none.status, 401)
    assertWmlError(await none.json(), 401, 'authentication_token_not_valid')

    const other = await startFakeServer()
    const foreign = other.issueToken()
    await other.close()
    const forged = await wmlPost(server, predictPath(), foreign, SMALL_INPUT)
    assert.equal(forged.status, 401)
    assertWmlError(await forged.json(), 401, 'authentication_token_not_valid')

    const mine = server.issueToken()
    assert.equal((await wmlPost(server, predictPath(), mine, SMALL_INPUT)).status, 200)
    server.revokeTokens()
    const revoked = await wmlPost(server, predictPath(), mine, SMALL_INPUT)
    assert.equal(revoked.status, 401)
    assertWmlError(await revoked.json(), 401, 'authentication_token_not_valid')
    token = await getToken(server)
    assert.equal((await wmlPost(server, predictPath(), token, SMALL_INPUT)).status, 200)
  })

  test('401 authentication_token_expired once a 1 s token has expired', async () => {
    const short = server.issueToken({ lifetimeSec: 1 })
    const { exp } = decodeJwt(short).payload
    await sleep(Math.max(0, exp * 1000 - Date.now()) + 50)
    const res = await wmlPost(server, predictPath(), short, SMALL_INPUT)
    assert.equal(res.status, 401)
    assertWmlError(await res.json(), 401, 'authentication_token_expired')
  })

  test('auth is checked before the version', async () => {
    const res = await wmlPost(server, predictPath(), null, SMALL_INPUT, { version: null })
    assert.equal(res.status, 401)
  })

  test('400 invalid_input_argument naming version when missing or malformed', async () => {
    for (const version of [null, '2024-1-1', '2024-13-40', 'latest']) {
      const res = await wmlPost(server, predictPath(), token, SMALL_INPUT, { version })
      assert.equal(res.status, 400, String(version))
      const body = await res.json()
      assertWmlError(body, 400, 'invalid_input_argument')
      assert.match(body.errors[0].message, /version/)
    }
  })

  test('404 deployment_not_found for unknown*/missing* deployments', async () => {
    for (const id of ['unknown-dep', 'missing', 'missing%20x']) {
      const res = await wmlPost(server, predictPath(id), token, SMALL_INPUT)
      assert.equal(res.status, 404)
      assertWmlError(await res.json(), 404, 'deployment_not_found')
    }
  })

  test('400 json_type_error for bad JSON, json_validation_error for bad input_data', async () => {
    const bad = await wmlPost(server, predictPath(), token, '{"input_data": [')
    assert.equal(bad.status, 400)
    assertWmlError(await bad.json(), 400, 'json_type_error')
    assert.equal(server.lastRequest('predictions').json, undefined)
    assert.equal(server.lastRequest('predictions').body, '{"input_data": [')
    for (const body of [{}, { input_data: [] }, { input_data: {} }, { input_data: [{ fields: ['a'] }] },
      { input_data: [{ values: 'x' }] }, { input_data: [42] }, { input_data: [{ values: [], fields: 'a' }] }]) {
      const res = await wmlPost(server, predictPath(), token, body)
      assert.equal(res.status, 400, JSON.stringify(body))
      assertWmlError(await res.json(), 400, 'json_validation_error')
    }
  })

  test('a 200,000-row (~10 MB) payload is scored quickly', async () => {
    const values = Array.from({ length: 200000 }, (_, i) => ['category-' + (i % 7), i, i * 0.25, 'abcdef', 12345.6789])
    const payload = JSON.stringify({ input_data: [{ fields: ['c', 'i', 'f', 's', 'n'], values }] })
    assert.ok(payload.length > 9e6, `${payload.length} bytes`)
    const t0 = Date.now()
    const res = await wmlPost(server, predictPath(), token, payload)
    const body = await res.json()
    const elapsed = Date.now() - t0
    assert.equal(res.status, 200)
    assert.equal(body.predictions[0].values.length, 200000)
    for (const i of [0, 1, 99999, 199999]) assert.deepEqual(body.predictions[0].values[i], predictRow(values[i]))
    assert.ok(elapsed < 5000, `took ${elapsed} ms`)
  })

  test('bodies over 64 MB get 413', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x20)
    const res = await new Promise((resolve, reject) => {
      const req = http.request(`${server.url}${predictPath()}?version=${VERSION}`, {
        method: 'POST', agent: false, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      }, (r) => {
        let text = ''
        r.on('data', (c) => { text += c })
        r.on('end', () => resolve({ status: r.statusCode, body: JSON.parse(text) }))
      })
      req.on('error', reject)
      for (let i = 0; i < 65; i++) req.write(chunk)
      req.end()
    })
    assert.equal(res.status, 413)
    assertWmlError(res.body, 413, 'request_entity_too_large')
  })

  test('unknown routes and wrong methods get WML-shaped errors', async () => {
    const unknown = await fetch(`${server.url}/ml/v4/nothing-here`, { method: 'POST' })
    assert.equal(unknown.status, 404)
    assertWmlError(await unknown.json(), 404, 'not_found')
    const get = await fetch(`${server.url}${predictPath()}?version=${VERSION}`, { headers: { Authorization: `Bearer ${token}` } })
    assert.equal(get.status, 405)
    assertWmlError(await get.json(), 405, 'method_not_allowed')
  })

  test('garbage on the wire gives a 400 and the server keeps serving', async () => {
    const reply = await new Promise((resolve, reject) => {
      const socket = net.connect(server.port, '127.0.0.1')
      let data = ''
      socket.on('data', (c) => { data += c })
      socket.on('close', () => resolve(data))
      socket.on('error', reject)
      socket.write('THIS IS NOT HTTP\r\n\r\n')
    })
    assert.match(reply, /^HTTP\/1\.1 400/)
    assert.equal((await wmlPost(server, predictPath(), token, SMALL_INPUT)).status, 200)
  })

  test('keep-alive: sequential requests share one connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const before = server.stats.connections
      for (let i = 0; i < 5; i++) {
        const res = await rawRequest(`${server.url}${predictPath()}?version=${VERSION}`, {
          agent, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(SMALL_INPUT),
        })
        assert.equal(res.status, 200)
        assert.ok(res.headers['content-length'])
      }
      assert.equal(server.stats.connections - before, 1)
    } finally {
      agent.destroy()
    }
  })
})

// ---------------------------------------------------------------------------
// watsonx.ai text generation
// ---------------------------------------------------------------------------

describe('watsonx.ai text generation', () => {
  let server
  let token
  before(async () => {
    server = await startFakeServer()
    token = server.issueToken()
  })
  after(() => server.close())
  beforeEach(() => server.reset())

  test('deployment generation is deterministic (input words reversed, one per token)', async () => {
    const res = await wmlPost(server, genPath(), token, { input: 'one two three', parameters: { max_new_tokens: 5, decoding_method: 'greedy' } })
    assert.equal(res.status, 200)
    const body = await res.json()
    assert.equal(body.model_id, DEFAULT_MODEL_ID)
    assert.ok(!Number.isNaN(Date.parse(body.created_at)))
    assert.deepEqual(body.results, [{
      generated_text: ' three two one three two', generated_token_count: 5, input_token_count: 3, stop_reason: 'max_tokens',
    }])
    assert.equal(server.stats.generation, 1)
    assert.equal(server.lastRequest('generation').json.input, 'one two three')
  })

  test('max_new_tokens defaults to 20; stop_sequences stop early', async () => {
    const plain = await (await wmlPost(server, genPath(), token, { input: 'a b' })).json()
    assert.equal(plain.results[0].generated_token_count, 20)
    const stopped = await (await wmlPost(server, genPath(), token, {
      input: 'alpha beta gamma', parameters: { max_new_tokens: 10, stop_sequences: ['beta'] },
    })).json()
    assert.equal(stopped.results[0].generated_text, ' gamma beta')
    assert.equal(stopped.results[0].stop_reason, 'stop_sequence')
    assert.equal(stopped.results[0].generated_token_count, 2)
  })

  test('/ml/v1/text/generation needs model_id and project_id or space_id', async () => {
    const path = '/ml/v1/text/generation'
    const noModel = await wmlPost(server, path, token, { input: 'hi', project_id: 'p' })
    assert.equal(noModel.status, 400)
    assertWmlError(await noModel.json(), 400, 'json_validation_error')
    const noProject = await wmlPost(server, path, token, { input: 'hi', model_id: 'ibm/granite-3-8b-instruct' })
    assert.equal(noProject.status, 400)
    const ok = await wmlPost(server, path, token, { input: 'hi', model_id: 'ibm/granite-3-8b-instruct', space_id: 's' })
    assert.equal(ok.status, 200)
    assert.equal((await ok.json()).model_id, 'ibm/granite-3-8b-instruct')
  })

  test('validation and auth: missing input, bad parameters, 401, 404', async () => {
    for (const body of [{}, { input: 3 }, { input: 'x', parameters: { max_new_tokens: -1 } }, { input: 'x', parameters: { stop_sequences: 'x' } }]) {
      const res = await wmlPost(server, genPath(), token, body)
      assert.equal(res.status, 400, JSON.stringify(body))
      assertWmlError(await res.json(), 400, 'json_validation_error')
    }
    assert.equal((await wmlPost(server, genPath(), 'not.a.token', { input: 'x' })).status, 401)
    assert.equal((await wmlPost(server, streamPath('unknown-1'), token, { input: 'x' })).status, 404)
    assert.equal((await wmlPost(server, streamPath(), token, { input: 'x' }, { version: null })).status, 400)
  })

  test('stream: SSE events, one per token, final stop_reason', async () => {
    const res = await wmlPost(server, streamPath(), token, { input: 'the quick brown fox', parameters: { max_new_tokens: 6 } },
      { headers: { Accept: 'text/event-stream' } })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type'), /^text\/event-stream/)
    assert.equal(res.headers.get('content-length'), null)
    const text = await res.text()
    assert.match(text, /^: ping\n/)
    const events = parseSse(text)
    assert.equal(events.length, 6)
    events.forEach((ev, i) => {
      assert.equal(ev.id, String(i + 1))
      assert.equal(ev.event, 'message')
      assert.equal(ev.data.model_id, DEFAULT_MODEL_ID)
      const r = ev.data.results[0]
      assert.equal(r.generated_token_count, i + 1)
      assert.equal(r.input_token_count, 4)
      assert.equal(r.stop_reason, i === 5 ? 'max_tokens' : 'not_finished')
      assert.match(r.generated_text, /^ \S+$/)
    })
    const joined = events.map((e) => e.data.results[0].generated_text).join('')
    assert.equal(joined, ' fox brown quick the fox brown')
    assert.equal(joined, generate('the quick brown fox', { max_new_tokens: 6 }).generated_text)
    assert.equal(server.stats.stream, 1)
    assert.equal(server.stats.streamsOpen, 0)
    assert.equal(server.stats.streamsClosedByClient, 0)
  })

  test('stream with splitBytes: events arrive split across reads and parse the same', async () => {
    const url = `${server.url}${streamPath()}?version=${VERSION}`
    const opts = { headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ input: 'a bb ccc', parameters: { max_new_tokens: 4 } }) }
    const whole = await rawRequest(url, opts)
    server.fault({ route: 'stream', splitBytes: 7, times: 1 })
    const split = await rawRequest(url, opts)
    const strip = (evs) => evs.map((e) => ({ ...e, data: { ...e.data, created_at: 'x' } }))
    assert.deepEqual(strip(parseSse(split.body)), strip(parseSse(whole.body)))
    assert.equal(parseSse(split.body).length, 4)
    assert.ok(split.chunks.length > 4 * 10, `${split.chunks.length} chunks`)
    assert.ok(split.chunks.every((c) => c.length <= 7))
  })

  test('stream errorAfterEvents sends an event: error with a WML error, then ends', async () => {
    server.fault({ route: 'stream', errorAfterEvents: 2, times: 1 })
    const text = await (await wmlPost(server, streamPath(), token, { input: 'x y z', parameters: { max_new_tokens: 10 } })).text()
    const events = parseSse(text)
    assert.equal(events.length, 3)
    assert.deepEqual(events.map((e) => e.event), ['message', 'message', 'error'])
    assert.equal(events[2].id, '3')
    assertWmlError(events[2].data, 401, 'authentication_token_expired')

    server.fault({ route: 'stream', errorAfterEvents: 0, errorCode: 'rate_limit_reached_requests', times: 1 })
    const events2 = parseSse(await (await wmlPost(server, streamPath(), token, { input: 'x' })).text())
    assert.equal(events2.length, 1)
    assertWmlError(events2[0].data, 429, 'rate_limit_reached_requests')
  })

  test('a client that leaves mid-stream is counted in streamsClosedByClient', async () => {
    server.options.streamIntervalMs = 40
    try {
      const controller = new AbortController()
      const res = await wmlPost(server, streamPath(), token, { input: 'w', parameters: { max_new_tokens: 50 } }, { signal: controller.signal })
      assert.equal(res.status, 200)
      const reader = res.body.getReader()
      let seen = ''
      while (!seen.includes('event: message')) seen += Buffer.from((await reader.read()).value).toString()
      assert.equal(server.stats.streamsOpen, 1)
      controller.abort()
      assert.ok(await waitFor(() => server.stats.streamsClosedByClient === 1))
      assert.equal(server.stats.streamsOpen, 0)
      await sleep(100)
      assert.equal(server.stats.streamsClosedByClient, 1)
    } finally {
      server.options.streamIntervalMs = 0
    }
  })
})

// ---------------------------------------------------------------------------
// TLS, close(), CLI, entry points
// ---------------------------------------------------------------------------

describe('TLS', () => {
  let server
  before(async () => { server = await startFakeServer({ tls: true }) })
  after(() => server.close())

  test('fixtures are a CA plus a serverAuth leaf for 127.0.0.1 and localhost', () => {
    const ca = new crypto.X509Certificate(fs.readFileSync(FIXTURES.ca))
    const leaf = new crypto.X509Certificate(fs.readFileSync(FIXTURES.cert))
    assert.equal(ca.ca, true)
    assert.equal(leaf.ca, false)
    assert.ok(leaf.checkIssued(ca))
    assert.ok(leaf.verify(ca.publicKey))
    assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1')
    assert.equal(leaf.checkHost('localhost'), 'localhost')
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extendedKeyUsage serverAuth')
    assert.ok(new Date(leaf.validTo) > new Date('2040-01-01'))
    assert.equal(server.caCert, fs.readFileSync(FIXTURES.ca, 'utf8'))
  })

  test('serves HTTPS trusted through the CA (IP and localhost names)', async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/)
    const body = `grant_type=${encodeURIComponent(GRANT.apikey)}&apikey=k`
    const viaIp = await rawRequest(`${server.url}/identity/token`, { headers: FORM, body, ca: server.caCert })
    assert.equal(viaIp.status, 200)
    assert.ok(JSON.parse(viaIp.body).access_token)
    const viaName = await rawRequest(`${server.url}/identity/token`, { headers: FORM, body, ca: server.caCert, servername: 'localhost' })
    assert.equal(viaName.status, 200)
  })

  test('is rejected without the CA', async () => {
    await assert.rejects(rawRequest(`${server.url}/identity/token`, { headers: FORM, body: 'x' }), (err) => /certificate|self.signed/i.test(err.code + err.message))
  })
})

describe('close()', () => {
  test('returns promptly with an idle keep-alive connection and a hung request', { timeout: 5000 }, async () => {
    const server = await startFakeServer()
    const agent = new http.Agent({ keepAlive: true })
    const res = await rawRequest(`${server.url}/identity/token`, { agent, headers: FORM, body: `grant_type=${GRANT.apikey}&apikey=k` })
    assert.equal(res.status, 200)
    server.fault({ route: 'iam', hang: true })
    const hung = rawRequest(`${server.url}/identity/token`, { headers: FORM, body: `grant_type=${GRANT.apikey}&apikey=k` }).then(() => 'answered', () => 'failed')
    assert.ok(await waitFor(() => server.stats.iam === 2))
    const t0 = Date.now()
    await server.close()
    assert.ok(Date.now() - t0 < 1000, `close took ${Date.now() - t0} ms`)
    assert.equal(await hung, 'failed')
    await assert.rejects(fetch(`${server.url}/identity/token`, { method: 'POST' }))
    await server.close() // idempotent
    agent.destroy()
  })

  test('returns promptly during a latency fault and a slow stream', { timeout: 5000 }, async () => {
    const server = await startFakeServer({ streamIntervalMs: 1000 })
    server.fault({ route: 'iam', latencyMs: 60000 })
    const slow = tokenRequest(server, 'k').then(() => 'answered', () => 'failed')
    const stream = wmlPost(server, streamPath(), server.issueToken(), { input: 'a b c' }).then((r) => r.text()).then(() => 'answered', () => 'failed')
    assert.ok(await waitFor(() => server.stats.iam === 1 && server.stats.streamsOpen === 1))
    const t0 = Date.now()
    await server.close()
    assert.ok(Date.now() - t0 < 1000)
    assert.equal(await slow, 'failed')
    assert.equal(await stream, 'failed')
  })
})

describe('entry points', () => {
  test('the ESM entry re-exports the CommonJS one', () => {
    const cjs = require('../testing/index.js')
    assert.equal(startFakeServer, cjs.startFakeServer)
    assert.equal(typeof cjs.startFakeServer, 'function')
  })

  test('cli.js prints one JSON line, serves, and exits 0 on SIGTERM', async () => {
    const { child, line, exited } = await startCli(CLI, ['--port', '0', '--token-lifetime', '7'])
    try {
      assert.equal(line.trim().split('\n').length, 1)
      const { url } = JSON.parse(line)
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
      const body = await (await tokenRequest({ url }, 'k')).json()
      const { payload } = decodeJwt(body.access_token)
      assert.equal(payload.exp - payload.iat, 7)
    } finally {
      child.kill('SIGTERM')
    }
    assert.deepEqual(await exited, { code: 0, signal: null })
  })
})
