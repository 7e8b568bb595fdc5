// WML_NATIVE_DEBUG: off by default; when on, requests, retries, cache hits
// and refreshes are logged with every secret redacted.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runNode } from './helpers/child.mjs'

const KEY = 'debug-secret-apikey-4242'

const script = `
  const m = require('./index.js')
  const { startFakeServer } = require('./testing')
  ;(async () => {
    const s = await startFakeServer()
    s.fault({ route: 'iam', status: 503, retryAfter: '0', times: 1 })
    const token = await m.getIamToken(${JSON.stringify(KEY)}, { url: s.url })
    await m.getIamToken(${JSON.stringify(KEY)}, { url: s.url })
    const c = new m.WmlClient({ url: s.url, apikey: ${JSON.stringify(KEY)}, iamUrl: s.url })
    await c.score('dep', { input_data: [{ values: [[1]] }] })
    s.fault({ route: 'predictions', status: 429, retryAfter: '0', times: 1 })
    await c.score('dep', { input_data: [{ values: [[1]] }] })
    await m.getIamToken('invalid-debug-key', { url: s.url }).catch(() => {})
    console.log(token)
    await s.close()
  })()
`

test('debug logging is off by default', async () => {
  const r = await runNode(script, { env: { WML_NATIVE_DEBUG: '' } })
  assert.equal(r.code, 0, r.err)
  assert.equal(r.err, '')
})

test('WML_NATIVE_DEBUG=1 logs requests, retries and cache hits without secrets', async () => {
  const r = await runNode(script, { env: { WML_NATIVE_DEBUG: '1' } })
  assert.equal(r.code, 0, r.err)
  const token = r.out.trim()
  assert.ok(token.length > 100)
  assert.match(r.err, /token request for/)
  assert.match(r.err, /IAM retry 1/)
  assert.match(r.err, /token cache hit/)
  assert.match(r.err, /WML POST \/ml\/v4\/deployments\/dep\/predictions -> 200/)
  assert.match(r.err, /WML retry 1/)
  assert.ok(!r.err.includes(KEY), 'API key leaked into the log')
  assert.ok(!r.err.includes(token), 'token leaked into the log')
  assert.ok(!r.err.includes(token.split('.')[1]), 'token payload leaked into the log')
})
