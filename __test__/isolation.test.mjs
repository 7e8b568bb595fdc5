// Callers whose settings differ in anything that changes the token request
// or the trust in its answer never share a cache entry nor a request, in
// either order, and every refresh goes out with the entry's own settings.
// Callers with equal settings share one entry and one request.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { keyMaker } from './helpers/fake.mjs'
import { startProxy } from './helpers/proxy.mjs'

const require = createRequire(import.meta.url)
const m = require('../index.js')
const { startFakeServer } = require('../testing/index.js')

let tls
let plain
let other
let proxy
const freshKey = keyMaker('iso')

before(async () => {
  tls = await startFakeServer({ tls: true })
  plain = await startFakeServer()
  other = await startFakeServer()
  proxy = await startProxy()
})
after(async () => {
  await Promise.all([tls.close(), plain.close(), other.close(), proxy.close()])
})

test('a verifying authenticator never gets a token fetched without verification (the reported case)', async () => {
  const key = freshKey()
  const a = new m.IamAuthenticator({ apikey: key, url: tls.url, maxRetries: 0 })
  await assert.rejects(a.getToken(), { code: 'ERR_TLS' })
  const unverified = await m.getIamToken(key, { url: tls.url, disableSslVerification: true, maxRetries: 0 })
  assert.ok(unverified)
  a.invalidate()
  // Its refresh goes out with its own settings: the certificate is still refused.
  await assert.rejects(a.getToken(), { code: 'ERR_TLS' })
  await assert.rejects(a.getTokenInfo(), { code: 'ERR_TLS' })
  assert.equal(tls.iamRequestsFor(key), 1, 'only the unverified caller reached IAM')
  // ...and the other way round: the unverified caller's token is its own.
  assert.equal(await m.getIamToken(key, { url: tls.url, disableSslVerification: true, maxRetries: 0 }), unverified)
})

/**
 * Each setting: two option sets that differ only in it, the server that
 * answers them, and how to tell from the server which settings a request
 * carried (or that one of the two must fail).
 */
const settings = [
  {
    name: 'IAM URL',
    a: () => ({ url: plain.url }),
    b: () => ({ url: other.url }),
    check: (key) => {
      assert.equal(plain.iamRequestsFor(key), 1)
      assert.equal(other.iamRequestsFor(key), 1)
    },
  },
  {
    name: 'client id',
    a: () => ({ url: plain.url, clientId: 'id-a', clientSecret: 'secret' }),
    b: () => ({ url: plain.url, clientId: 'id-b', clientSecret: 'secret' }),
    sent: (req) => Buffer.from(req.headers.authorization.slice(6), 'base64').toString().split(':')[0],
    values: ['id-a', 'id-b'],
  },
  {
    name: 'client secret',
    a: () => ({ url: plain.url, clientId: 'id', clientSecret: 'secret-a' }),
    b: () => ({ url: plain.url, clientId: 'id', clientSecret: 'secret-b' }),
    sent: (req) => Buffer.from(req.headers.authorization.slice(6), 'base64').toString().split(':')[1],
    values: ['secret-a', 'secret-b'],
  },
  {
    name: 'scope',
    a: () => ({ url: plain.url, scope: 'scope-a' }),
    b: () => ({ url: plain.url, scope: 'scope-b' }),
    sent: (req) => req.form.scope,
    values: ['scope-a', 'scope-b'],
  },
  {
    name: 'extra headers',
    a: () => ({ url: plain.url, headers: { 'X-Tenant': 'tenant-a' } }),
    b: () => ({ url: plain.url, headers: { 'X-Tenant': 'tenant-b' } }),
    sent: (req) => req.headers['x-tenant'],
    values: ['tenant-a', 'tenant-b'],
  },
  {
    name: 'proxy',
    a: () => ({ url: plain.url, proxy: proxy.url }),
    b: () => ({ url: plain.url }),
    before: () => (proxy.seen.length = 0),
    sent: () => (proxy.seen.some((s) => s.includes('/identity/token')) ? 'proxied' : 'direct'),
    values: ['proxied', 'direct'],
  },
  {
    name: 'TLS verification',
    server: () => tls,
    a: () => ({ url: tls.url, disableSslVerification: true }),
    b: () => ({ url: tls.url }),
    failsB: 'ERR_TLS',
  },
  {
    name: 'CA set',
    server: () => tls,
    a: () => ({ url: tls.url, caCert: tls.caCert }),
    b: () => ({ url: tls.url, caCert: unrelatedCa() }),
    failsB: 'ERR_TLS',
  },
]

/** A real CA (one of Node's bundled roots) that did not sign the fake server's certificate. */
function unrelatedCa() {
  return require('node:tls').rootCertificates[0]
}

for (const s of settings) {
  for (const order of ['a then b', 'b then a']) {
    test(`${s.name}: callers that differ in it do not share an entry or a request (${order})`, async () => {
      const key = freshKey()
      const server = s.server ? s.server() : plain
      const run = async (which) => {
        s.before?.()
        const opts = { ...(which === 'a' ? s.a() : s.b()), maxRetries: 0 }
        if (which === 'b' && s.failsB) {
          await assert.rejects(m.getIamToken(key, opts), { code: s.failsB })
          return undefined
        }
        const token = await m.getIamToken(key, opts)
        if (s.sent) assert.equal(s.sent(server.lastRequest('iam')), s.values[which === 'a' ? 0 : 1], `${which} went out with its own settings`)
        return token
      }
      const sequence = order === 'a then b' ? ['a', 'b'] : ['b', 'a']
      const tokens = {}
      for (const which of sequence) tokens[which] = await run(which)
      if (!s.failsB) assert.notEqual(tokens.a, tokens.b, 'each got its own token')
      if (s.check) s.check(key)
      else assert.equal(server.iamRequestsFor(key), s.failsB ? 1 : 2)

      // A refresh of each entry goes out with that entry's own settings.
      const auth = new m.IamAuthenticator({ apikey: key, ...s.a(), maxRetries: 0 })
      auth.invalidate()
      s.before?.()
      const again = await auth.getToken()
      assert.notEqual(again, tokens.a)
      if (s.sent) assert.equal(s.sent(server.lastRequest('iam')), s.values[0])
      if (s.failsB) await assert.rejects(m.getIamToken(key, { ...s.b(), maxRetries: 0 }), { code: s.failsB })
    })
  }
}

test('callers with equal settings share one entry and one request', async () => {
  const key = freshKey()
  const opts = () => ({ url: plain.url, clientId: 'id', clientSecret: 'secret', scope: 's', headers: { 'X-Tenant': 't' }, proxy: proxy.url })
  const a = new m.IamAuthenticator({ apikey: key, ...opts() })
  const tokens = await Promise.all([
    a.getToken(),
    m.getIamToken(key, opts()),
    m.getIamToken(key, { ...opts(), timeoutMs: 5000, maxRetries: 1 }),
    new m.IamAuthenticator({ apikey: key, ...opts() }).getToken(),
  ])
  assert.equal(new Set(tokens).size, 1)
  assert.equal(plain.iamRequestsFor(key), 1)
  // A WmlClient with the same key and settings shares it too.
  const wml = new m.WmlClient({ url: plain.url, apikey: key, iamUrl: plain.url, clientId: 'id', clientSecret: 'secret', scope: 's', headers: { 'X-Tenant': 't' }, proxy: proxy.url })
  await wml.score('dep', { input_data: [{ fields: ['a'], values: [[1]] }] })
  assert.equal(plain.iamRequestsFor(key), 1)
})
