// TLS (rustls), proxies, and process exit.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { assertNoSecrets } from './helpers/secrets.mjs'
import { startProxy } from './helpers/proxy.mjs'
import { runNode } from './helpers/child.mjs'

const require = createRequire(import.meta.url)
const m = require('../index.js')
const { startFakeServer } = require('../testing/index.js')

let tls
let plain
before(async () => {
  tls = await startFakeServer({ tls: true })
  plain = await startFakeServer()
})
after(async () => {
  await tls.close()
  await plain.close()
})

test('a self-signed certificate is rejected by default with ERR_TLS', async () => {
  assert.match(tls.url, /^https:/)
  const key = 'tls-key-default'
  const err = await m.getIamToken(key, { url: tls.url, maxRetries: 0 }).catch((e) => e)
  assert.ok(err instanceof m.TlsError, String(err))
  assert.equal(err.code, 'ERR_TLS')
  assertNoSecrets(err, [key])
  assert.equal(tls.iamRequestsFor(key), 0)
})

test('caCert makes the certificate trusted', async () => {
  const token = await m.getIamToken('tls-key-ca', { url: tls.url, caCert: tls.caCert })
  assert.equal(token.split('.').length, 3)
  assert.equal(tls.iamRequestsFor('tls-key-ca'), 1)
})

test('disableSslVerification accepts the certificate', async () => {
  const a = new m.IamAuthenticator({ apikey: 'tls-key-off', url: tls.url, disableSslVerification: true })
  assert.ok(await a.getToken())
  assert.equal(tls.iamRequestsFor('tls-key-off'), 1)
})

test('a script that awaits one token and ends exits at once', async () => {
  const code = `
    const m = require('./index.js')
    m.getIamToken('exit-key', { url: ${JSON.stringify(plain.url)} }).then((t) => console.log(t.length > 0))
  `
  const r = await runNode(code)
  assert.equal(r.signal, null, 'killed: the process did not exit by itself')
  assert.equal(r.code, 0, r.err)
  assert.equal(r.out.trim(), 'true')
  // Idle keep-alive connections and background threads do not hold the loop:
  // the child would otherwise run until the 20 s kill.
  assert.ok(r.ms < 10000, `took ${r.ms} ms`)
})

test('a script whose token call fails also exits, with the rejection', async () => {
  const code = `
    const m = require('./index.js')
    m.getIamToken('invalid-exit-key', { url: ${JSON.stringify(plain.url)} }).catch((e) => console.log(e.code))
  `
  const r = await runNode(code)
  assert.equal(r.code, 0, r.err)
  assert.equal(r.out.trim(), 'ERR_IAM')
})

test('HTTPS_PROXY / HTTP_PROXY are honoured, and NO_PROXY bypasses them', async () => {
  const proxy = await startProxy()
  try {
    const code = (url, extra = '') => `
      const m = require('./index.js')
      m.getIamToken('proxy-key', { url: ${JSON.stringify(url)} ${extra} }).then((t) => console.log('ok'), (e) => console.log(e.code))
    `
    let r = await runNode(code(tls.url, ', caCert: ' + JSON.stringify(tls.caCert)), { env: { HTTPS_PROXY: proxy.url, NO_PROXY: '' } })
    assert.equal(r.out.trim(), 'ok', r.err)
    assert.ok(proxy.seen.some((s) => s.startsWith('CONNECT 127.0.0.1:')), JSON.stringify(proxy.seen))

    proxy.seen.length = 0
    r = await runNode(code(plain.url), { env: { HTTP_PROXY: proxy.url, NO_PROXY: '' } })
    assert.equal(r.out.trim(), 'ok', r.err)
    assert.ok(proxy.seen.some((s) => s.includes('/identity/token')), JSON.stringify(proxy.seen))

    proxy.seen.length = 0
    r = await runNode(code(plain.url), { env: { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' } })
    assert.equal(r.out.trim(), 'ok', r.err)
    assert.deepEqual(proxy.seen, [])
  } finally {
    await proxy.close()
  }
})
