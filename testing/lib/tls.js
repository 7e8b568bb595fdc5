'use strict'
// TLS fixtures and modes. See fixtures/README.md for how each was made.
const fs = require('fs')
const path = require('path')

const FIXTURES_DIR = path.join(__dirname, '..', 'fixtures')
const fixture = (name) => path.join(FIXTURES_DIR, name)

const FIXTURES = Object.freeze({
  /** CA that signed `cert` (tls: true). */
  ca: fixture('ca.pem'),
  /** Leaf for 127.0.0.1 and localhost, signed by `ca`. */
  cert: fixture('cert.pem'),
  key: fixture('key.pem'),
  /** One self-signed certificate that is its own CA (CA:TRUE), for 127.0.0.1 and localhost. */
  selfSigned: fixture('self-signed.pem'),
  selfSignedKey: fixture('self-signed-key.pem'),
  /** Self-signed, for wrong-host.example and 192.0.2.1 only. */
  wrongHostCert: fixture('wrong-host.pem'),
  wrongHostKey: fixture('wrong-host-key.pem'),
  /** Self-signed for 127.0.0.1 and localhost, valid 2020-01-01 to 2021-01-01 only. */
  expiredCert: fixture('expired.pem'),
  expiredKey: fixture('expired-key.pem'),
})

/** The `tls` option values and what each serves; `trust` is what a client should trust (`server.caCert`). */
const TLS_MODES = Object.freeze({
  ca: { cert: [FIXTURES.cert, FIXTURES.ca], key: FIXTURES.key, trust: FIXTURES.ca },
  'self-signed': { cert: [FIXTURES.selfSigned], key: FIXTURES.selfSignedKey, trust: FIXTURES.selfSigned },
  'self-signed-wrong-host': { cert: [FIXTURES.wrongHostCert], key: FIXTURES.wrongHostKey, trust: FIXTURES.wrongHostCert },
  'self-signed-expired': { cert: [FIXTURES.expiredCert], key: FIXTURES.expiredKey, trust: FIXTURES.expiredCert },
})

/** The TLS mode name for a `tls` option value (`true` is `'ca'`), undefined for plain HTTP; throws on an unknown value. */
function tlsMode(tls) {
  if (tls === false || tls === undefined || tls === null) return undefined
  const mode = tls === true ? 'ca' : tls
  if (typeof mode !== 'string' || !TLS_MODES[mode]) {
    throw new TypeError(`tls must be true, false or one of ${Object.keys(TLS_MODES).map((m) => `'${m}'`).join(', ')}, got ${JSON.stringify(tls)}`)
  }
  return mode
}

/** `{ key, cert, caCert }` (PEM strings) for a TLS mode. */
function loadTls(mode) {
  const m = TLS_MODES[mode]
  return {
    key: fs.readFileSync(m.key, 'utf8'),
    cert: m.cert.map((f) => fs.readFileSync(f, 'utf8')).join(''),
    caCert: fs.readFileSync(m.trust, 'utf8'),
  }
}

module.exports = { FIXTURES, TLS_MODES, tlsMode, loadTls }
