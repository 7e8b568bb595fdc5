// Tests of the fake server's TLS modes (wml-native/testing): one self-signed
// certificate that is its own CA, and the negative fixtures (wrong host,
// expired). Plain node:https with `ca:`.
// Run: node --test __test__/fake-tls.test.mjs
import { test, describe, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import crypto from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { startFakeServer, FIXTURES } from '../testing/index.mjs'
import { GRANT, rawRequest, startCli } from './helpers/fake-http.mjs'

const CLI = fileURLToPath(new URL('../testing/cli.js', import.meta.url))
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' }
const BODY = `grant_type=${encodeURIComponent(GRANT.apikey)}&apikey=k`
const tokenRequest = (server, opts = {}) => rawRequest(`${server.url}/identity/token`, { method: 'POST', headers: FORM, body: BODY, ...opts })

const servers = []
async function start(tls) {
  const server = await startFakeServer({ tls })
  servers.push(server)
  return server
}
after(() => Promise.all(servers.map((s) => s.close())))

const x509 = (file) => new crypto.X509Certificate(fs.readFileSync(file))

describe("tls: 'self-signed'", () => {
  test('the fixture is one self-signed CA:TRUE certificate for 127.0.0.1 and localhost, valid for years', () => {
    const cert = x509(FIXTURES.selfSigned)
    assert.equal(cert.ca, true)
    assert.equal(cert.subject, cert.issuer)
    assert.ok(cert.checkIssued(cert))
    assert.ok(cert.verify(cert.publicKey))
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1')
    assert.equal(cert.checkHost('localhost'), 'localhost')
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extendedKeyUsage serverAuth')
    assert.ok(new Date(cert.validTo) > new Date('2040-01-01'))
    assert.ok(cert.checkPrivateKey(crypto.createPrivateKey(fs.readFileSync(FIXTURES.selfSignedKey))))
  })

  test('serves that one certificate; trusting it (caCert) works by IP and by name', async () => {
    const server = await start('self-signed')
    assert.equal(server.tlsMode, 'self-signed')
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/)
    assert.equal(server.caCert, fs.readFileSync(FIXTURES.selfSigned, 'utf8'))
    const viaIp = await tokenRequest(server, { ca: server.caCert })
    assert.equal(viaIp.status, 200)
    assert.ok(JSON.parse(viaIp.body).access_token)
    assert.equal((await tokenRequest(server, { ca: server.caCert, servername: 'localhost' })).status, 200)
    await assert.rejects(tokenRequest(server), (err) => err.code === 'DEPTH_ZERO_SELF_SIGNED_CERT')
    // the chain is the certificate alone
    const peer = await new Promise((resolve, reject) => {
      import('node:tls').then(({ connect }) => {
        const socket = connect({ host: '127.0.0.1', port: server.port, ca: server.caCert }, () => {
          const c = socket.getPeerCertificate(true)
          socket.end()
          resolve(c)
        })
        socket.on('error', reject)
      })
    })
    assert.equal(peer.fingerprint256, x509(FIXTURES.selfSigned).fingerprint256)
    assert.equal(peer.issuerCertificate.fingerprint256, peer.fingerprint256)
  })
})

describe('negative TLS fixtures', () => {
  test("'self-signed-wrong-host': trusted, but its names are not 127.0.0.1 or localhost", async () => {
    const cert = x509(FIXTURES.wrongHostCert)
    assert.equal(cert.checkIP('127.0.0.1'), undefined)
    assert.equal(cert.checkHost('localhost'), undefined)
    assert.equal(cert.checkHost('wrong-host.example'), 'wrong-host.example')
    const server = await start('self-signed-wrong-host')
    assert.equal(server.caCert, fs.readFileSync(FIXTURES.wrongHostCert, 'utf8'))
    await assert.rejects(tokenRequest(server, { ca: server.caCert }), (err) => err.code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    await assert.rejects(tokenRequest(server, { ca: server.caCert, servername: 'localhost' }), (err) => err.code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    // the certificate is otherwise fine: under its own name it verifies
    assert.equal((await tokenRequest(server, { ca: server.caCert, servername: 'wrong-host.example' })).status, 200)
  })

  test("'self-signed-expired': right names, expired on 2021-01-01", async () => {
    const cert = x509(FIXTURES.expiredCert)
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1')
    assert.equal(cert.ca, true)
    assert.equal(new Date(cert.validTo).toISOString(), '2021-01-01T00:00:00.000Z')
    const server = await start('self-signed-expired')
    await assert.rejects(tokenRequest(server, { ca: server.caCert }), (err) => err.code === 'CERT_HAS_EXPIRED')
  })

  test('an unknown tls value is a TypeError; tls: true is the CA mode', async () => {
    await assert.rejects(startFakeServer({ tls: 'self-sined' }), TypeError)
    const server = await start(true)
    assert.equal(server.tlsMode, 'ca')
    assert.equal(server.caCert, fs.readFileSync(FIXTURES.ca, 'utf8'))
  })

  test('cli.js --tls=self-signed prints the certificate to trust', async () => {
    const { child, line, exited } = await startCli(CLI, ['--tls=self-signed', '--token-issued-ago', '100', '--no-date'])
    try {
      const info = JSON.parse(line)
      assert.equal(info.ca, FIXTURES.selfSigned)
      const res = await rawRequest(`${info.url}/identity/token`, { method: 'POST', headers: FORM, body: BODY, ca: fs.readFileSync(info.ca) })
      assert.equal(res.status, 200)
      assert.equal(res.headers.date, undefined)
      const { iat } = JSON.parse(Buffer.from(JSON.parse(res.body).access_token.split('.')[1], 'base64url'))
      assert.ok(Math.abs(iat - (Math.floor(Date.now() / 1000) - 100)) <= 2)
    } finally {
      child.kill('SIGTERM')
    }
    assert.deepEqual(await exited, { code: 0, signal: null })
  })
})
