// The Rust/JS boundary: one list of error codes, typed error hand-off,
// values the caller gives that cannot go into a header, streams closed
// while still opening, and engines that forbid external buffers.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import { useFakeServer, keyMaker } from './helpers/fake.mjs'
import { runNode } from './helpers/child.mjs'

const require = createRequire(import.meta.url)
const m = require('../index.js')
const native = require('../native.js')
const errors = require('../lib/errors.js')

let server
useFakeServer((s) => (server = s))
const freshKey = keyMaker('boundary')
const payload = { input_data: [{ fields: ['a'], values: [[1]] }] }

test('error codes: the native list, lib/errors.js, index.js and index.d.ts agree', () => {
  const list = native.errorCodes()
  assert.ok(list.length >= 9)
  const dts = fs.readFileSync(new URL('../index.d.ts', import.meta.url), 'utf8')
  const union = dts.match(/export type ErrorCode =([^;]*?)\n\n/s)[1]
  const codesInDts = [...union.matchAll(/'(ERR_[A-Z_]+)'/g)].map((x) => x[1])
  assert.deepEqual(codesInDts, list.map(([code]) => code))
  for (const [code, name] of list) {
    const C = m[name]
    assert.equal(typeof C, 'function', `index.js exports ${name}`)
    assert.equal(errors.classes[code], C, `lib/errors.js maps ${code} to ${name}`)
    const e = new C('x')
    assert.ok(e instanceof m.WmlNativeError)
    assert.equal(e.code, code)
    assert.equal(e.name, name)
    assert.match(dts, new RegExp(`export declare class ${name} extends WmlNativeError \\{\\n  readonly code: '${code}'`))
  }
  assert.deepEqual(Object.keys(errors.classes).sort(), list.map(([c]) => c).sort())
})

test('a native error becomes its class whatever its fields are called or ordered', () => {
  // The hand-off is an object, not text recognised by its first characters:
  // fields that sort before `code` change nothing.
  const e = errors.fromNative({ aaa: 1, errors: [{ code: 'x', message: 'y' }], code: 'ERR_WML', message: 'm', status: 404, trace: 't' })
  assert.ok(e instanceof m.WmlError)
  assert.equal(e.status, 404)
  assert.equal(e.trace, 't')
  assert.deepEqual(e.errors, [{ code: 'x', message: 'y' }])
  assert.equal(e.aaa, undefined, 'only the documented fields are copied')
  const i = errors.fromNative({ status: 400, requestId: 'r', iamErrorCode: 'BXNIM0415E', code: 'ERR_IAM', message: 'm' })
  assert.ok(i instanceof m.IamError)
  assert.equal(i.iamErrorCode, 'BXNIM0415E')
  assert.ok(errors.fromNative({ code: 'ERR_INTERNAL', message: 'bug' }) instanceof m.InternalError)
  // A napi conversion failure (its text may quote the value) is not repeated.
  const bad = errors.fromNative(Object.assign(new Error('Failed to convert `secret-value`'), { code: 'StringExpected' }))
  assert.ok(bad instanceof m.InvalidArgumentError)
  assert.doesNotMatch(bad.message, /secret-value/)
})

test('a caller value that cannot go into a header is ERR_INVALID_ARG naming the option, and nothing is sent', async () => {
  const key = freshKey()
  const wml = new m.WmlClient({ url: server.url, iamUrl: server.url, apikey: key })
  await wml.score('dep', payload)
  const before = server.stats.predictions
  for (const bad of ['a\r\nX-Evil: 1', 'a\nb', 'a\rb', 'nul\0', 'bell\u0007']) {
    const e = await wml.score('dep', payload, { transactionId: bad }).catch((x) => x)
    assert.ok(e instanceof m.InvalidArgumentError, String(e))
    assert.match(e.message, /options\.transactionId/)
    const s = wml.generateTextStream('dep', { input: 'x' }, { transactionId: bad })
    await assert.rejects(s.next(), (x) => x instanceof m.InvalidArgumentError && /options\.transactionId/.test(x.message))
  }
  assert.equal(server.stats.predictions, before, 'nothing was sent')
  assert.equal(server.stats.stream, 0)
  assert.throws(
    () => new m.WmlClient({ url: server.url, apikey: key, headers: { 'X-Tenant': 'a\r\nX-Evil: 1' } }),
    (x) => x instanceof m.InvalidArgumentError && /headers\.X-Tenant/.test(x.message),
  )
  await assert.rejects(
    m.getIamToken(freshKey(), { url: server.url, headers: { 'X-Tenant': 'a\nb' } }),
    (x) => x instanceof m.InvalidArgumentError && /headers\.X-Tenant/.test(x.message),
  )
})

test('option types are checked once, in Rust, naming the option and never quoting the value', async () => {
  const iamBefore = server.stats.iam
  const cases = [
    [{ url: 42 }, /options\.url must be a string/],
    // Each case names the fake as its token service: only the option under test may stop it.
    [{ url: server.url, timeoutMs: '5' }, /options\.timeoutMs must be a number/],
    [{ url: server.url, disableSslVerification: 'yes' }, /options\.disableSslVerification must be a boolean/],
    [{ url: server.url, headers: { 'X-A': 1 } }, /options\.headers\.X-A must be a string/],
    [{ url: server.url, clientSecret: { secret: 'do-not-print' } }, /options\.clientSecret must be a string/],
    [{ url: server.url, timeoutMs: -1 }, /timeoutMs must be a positive number/],
    ['not an object', /options must be an object/],
  ]
  for (const [options, pattern] of cases) {
    const e = await m.getIamToken(freshKey(), options).catch((x) => x)
    assert.ok(e instanceof m.InvalidArgumentError, `${JSON.stringify(options)}: ${e}`)
    assert.match(e.message, pattern)
    assert.doesNotMatch(e.message, /do-not-print/)
  }
  await assert.rejects(m.getIamToken(123, { url: server.url }), (x) => x instanceof m.InvalidArgumentError && /apikey must be a non-empty string/.test(x.message))
  await assert.rejects(m.getIamToken('', { url: server.url }), (x) => x instanceof m.InvalidArgumentError && /apikey must be a non-empty string/.test(x.message))
  assert.throws(() => new m.IamAuthenticator({ apikey: 7, url: server.url }), /options\.apikey must be a string/)
  const wml = new m.WmlClient({ url: server.url, iamUrl: server.url, apikey: freshKey() })
  await assert.rejects(wml.score(42, payload), /deploymentId must be a non-empty string/)
  await assert.rejects(wml.score('dep', payload, { timeoutMs: 'soon' }), /options\.timeoutMs must be a number/)
  assert.equal(server.stats.iam, iamBefore, 'nothing was sent for any of them')
})

test('return() on a stream that is still opening closes its connection at once and settles the pending next()', async () => {
  // A service that accepts the connection and never answers.
  const closed = []
  const hang = http.createServer((req) => {
    req.resume()
    req.socket.on('close', () => closed.push(Date.now()))
  })
  await new Promise((r) => hang.listen(0, '127.0.0.1', r))
  try {
    const key = freshKey()
    await m.getIamToken(key, { url: server.url })
    const wml = new m.WmlClient({ url: `http://127.0.0.1:${hang.address().port}`, iamUrl: server.url, apikey: key })
    const it = wml.generateTextStream('dep', { input: 'hello' })[Symbol.asyncIterator]()
    const pending = it.next()
    // Wait until the request has reached the service.
    await new Promise((resolve) => {
      const poll = () => hang.getConnections((_, n) => (n > 0 ? resolve() : setTimeout(poll, 5)))
      poll()
    })
    const t0 = Date.now()
    assert.deepEqual(await it.return(), { done: true, value: undefined })
    assert.deepEqual(await pending, { done: true, value: undefined }, 'the pending next() settles')
    for (let i = 0; i < 100 && closed.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    assert.equal(closed.length, 1, 'the service saw the connection close')
    assert.ok(closed[0] - t0 < 1000, `closed after ${closed[0] - t0} ms`)
  } finally {
    hang.closeAllConnections?.()
    await new Promise((r) => hang.close(r))
  }
})

test('where external buffers are not allowed (Electron) it loads, and the token memo still sees every change', async () => {
  const code = `
    const m = require('./index.js')
    const url = ${JSON.stringify(server.url)}
    ;(async () => {
      const a = new m.IamAuthenticator({ apikey: 'no-external-key', url })
      const t1 = await a.getToken()
      const again = await a.getToken()
      a.invalidate()
      const t2 = await a.getToken()
      const viaFunction = await m.getIamToken('no-external-key', { url })
      m.clearTokenCache()
      const t3 = await a.getToken()
      console.log(JSON.stringify({ same: t1 === again, changed: t1 !== t2, shared: viaFunction === t2, cleared: t3 !== t2 }))
    })().catch((e) => { console.log('failed', e.code, e.message); process.exitCode = 1 })
  `
  const r = await runNode(code, { env: { WML_NATIVE_TEST_NO_EXTERNAL_BUFFERS: '1', WML_NATIVE_DEBUG: '1' } })
  assert.equal(r.code, 0, r.out + r.err)
  assert.deepEqual(JSON.parse(r.out.trim()), { same: true, changed: true, shared: true, cleared: true })
  assert.match(r.err, /external buffers are not allowed here/)
  assert.equal(server.iamRequestsFor('no-external-key'), 3)
})
