// A server whose own certificate is self-signed (one CA:TRUE certificate, as
// `openssl req -x509` makes and Cloud Pak for Data / OpenShift clusters
// serve), given as `caCert`: Node's TLS accepts it, and so must we, for IAM,
// Cloud Pak for Data and WML alike, while still checking the host name and
// the validity dates (webpki alone refuses it: CaUsedAsEndEntity).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import https from 'node:https'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import { keyMaker } from './helpers/fake.mjs'

const require = createRequire(import.meta.url)
const m = require('../index.js')
const { startFakeServer, FIXTURES } = require('../testing/index.js')

const PAYLOAD = { input_data: [{ fields: ['a'], values: [[1]] }] }
const freshKey = keyMaker('self-signed')
const servers = {}
before(async () => {
  for (const mode of ['self-signed', 'self-signed-wrong-host', 'self-signed-expired']) {
    servers[mode] = await startFakeServer({ tls: mode })
  }
})
after(async () => {
  for (const s of Object.values(servers)) await s.close()
})

/** Node's own verdict on the server with `ca`: 'ok' or the error code. */
function nodeVerdict(server) {
  return new Promise((resolve) => {
    const req = https.get(`${server.url}/ml/v1/foundation_model_specs?version=2024-01-01`, { ca: server.caCert, agent: false }, (res) => {
      res.resume()
      resolve('ok')
    })
    req.on('error', (e) => resolve(e.code))
  })
}

test('the premise: Node accepts the self-signed certificate given as ca, and refuses the wrong-host and expired ones', async () => {
  assert.equal(await nodeVerdict(servers['self-signed']), 'ok')
  assert.equal(await nodeVerdict(servers['self-signed-wrong-host']), 'ERR_TLS_CERT_ALTNAME_INVALID')
  assert.equal(await nodeVerdict(servers['self-signed-expired']), 'CERT_HAS_EXPIRED')
})

test('IAM, Cloud Pak for Data and WML accept the server\'s own self-signed certificate given as caCert', async () => {
  const s = servers['self-signed']
  const caCert = s.caCert
  assert.match(await m.getIamToken(freshKey(), { url: s.url, caCert }), /^ey/)
  const cp4d = new m.CloudPakForDataAuthenticator({ url: s.url, username: 'admin', password: 'password', caCert })
  assert.match(await cp4d.getToken(), /^ey/)
  const wml = new m.WmlClient({ url: s.url, authenticator: cp4d, caCert })
  assert.equal((await wml.score('dep', PAYLOAD)).predictions.length, 1)
  const python = new m.WmlClient({ url: s.url, username: 'admin', apikey: 'cpd-apikey', instance_id: 'openshift', caCert })
  assert.equal((await python.score('dep', PAYLOAD)).predictions.length, 1)
  const iam = new m.WmlClient({ url: s.url, iamUrl: s.url, apikey: freshKey(), caCert })
  assert.equal((await iam.score('dep', PAYLOAD)).predictions.length, 1)
  // In a bundle with other certificates too.
  const bundle = fs.readFileSync(FIXTURES.ca, 'utf8') + '\n' + caCert
  assert.match(await m.getIamToken(freshKey(), { url: s.url, caCert: bundle }), /^ey/)
})

test('without caCert, or with another certificate, it is refused with ERR_TLS', async () => {
  const s = servers['self-signed']
  const other = fs.readFileSync(FIXTURES.ca, 'utf8')
  for (const caCert of [undefined, other]) {
    const e = await m.getIamToken(freshKey(), { url: s.url, caCert, maxRetries: 0 }).catch((x) => x)
    assert.ok(e instanceof m.TlsError, String(e))
    const c = await new m.CloudPakForDataAuthenticator({ url: s.url, username: 'admin', password: 'password', caCert, maxRetries: 0 }).getToken().catch((x) => x)
    assert.ok(c instanceof m.TlsError, String(c))
  }
  const w = await new m.WmlClient({ url: s.url, token: s.issueToken(), maxRetries: 0 }).score('dep', PAYLOAD).catch((x) => x)
  assert.ok(w instanceof m.TlsError, String(w))
})

test('the host name and the validity dates are still checked for a pinned certificate', async () => {
  for (const [mode, reason] of [
    ['self-signed-wrong-host', /NotValidForName|not valid for/i],
    ['self-signed-expired', /Expired|expired/],
  ]) {
    const s = servers[mode]
    const caCert = s.caCert
    const before = s.stats.iam
    const e = await m.getIamToken(freshKey(), { url: s.url, caCert, maxRetries: 0 }).catch((x) => x)
    assert.ok(e instanceof m.TlsError, `${mode}: ${e}`)
    assert.match(e.message, reason)
    const c = await new m.CloudPakForDataAuthenticator({ url: s.url, username: 'admin', password: 'password', caCert, maxRetries: 0 }).getToken().catch((x) => x)
    assert.ok(c instanceof m.TlsError, `${mode}: ${c}`)
    const w = await new m.WmlClient({ url: s.url, token: s.issueToken(), caCert, maxRetries: 0 }).score('dep', PAYLOAD).catch((x) => x)
    assert.ok(w instanceof m.TlsError, `${mode}: ${w}`)
    assert.equal(s.stats.iam, before, 'no request got through')
  }
})
