'use strict'
// Tokens: real-looking JWTs with iat/exp, HMAC-signed with a per-server secret
// so that the fake can verify its own tokens (and forget them all at once).
const crypto = require('crypto')
const { base64url, sha256Hex, parseJson, isPlainObject } = require('./util')

const JWT_HEADER = base64url(JSON.stringify({ kid: '20240101', alg: 'RS256' }))

const GRANTS = Object.freeze({
  apikey: 'urn:ibm:params:oauth:grant-type:apikey',
  crToken: 'urn:ibm:params:oauth:grant-type:cr-token',
  assume: 'urn:ibm:params:oauth:grant-type:assume',
})

/** `iss` of each kind of token the fake issues. */
const ISSUERS = Object.freeze({
  iam: 'https://iam.cloud.ibm.com/identity',
  cpd: 'KNOXSSO',
  mcsp: 'https://account-iam.platform.saas.ibm.com',
  vpcIdentity: 'https://api.metadata.cloud.ibm.com',
})

/** Tokens the WML / watsonx.ai routes accept as `Authorization: Bearer`. */
const BEARER_ISSUERS = new Set([ISSUERS.iam, ISSUERS.cpd, ISSUERS.mcsp])

/**
 * Mints and verifies the fake's tokens. `clock()` is the server's time in ms
 * (real time plus any `clockSkewSec`).
 */
class TokenIssuer {
  constructor(clock) {
    this.clock = clock
    this._secret = crypto.randomBytes(32)
  }

  /** Makes every token issued so far invalid. */
  revoke() {
    this._secret = crypto.randomBytes(32)
  }

  /** The server's time in whole seconds. */
  nowSec() {
    return Math.floor(this.clock() / 1000)
  }

  /**
   * Signs `claims` plus `iat`/`exp`: `iat` is now minus `issuedAgoSec`, `exp`
   * is `iat + lifetimeSec`. Returns `{ token, claims, iat, exp, lifetime }`.
   */
  mint(claims, { lifetimeSec, issuedAgoSec = 0 }) {
    const lifetime = Math.max(0, Math.round(lifetimeSec))
    const iat = this.nowSec() - Math.max(0, Math.round(issuedAgoSec || 0))
    const exp = iat + lifetime
    const all = { ...claims, iat, exp }
    const unsigned = `${JWT_HEADER}.${base64url(JSON.stringify(all))}`
    return { token: `${unsigned}.${this._sign(unsigned)}`, claims: all, iat, exp, lifetime }
  }

  _sign(unsigned) {
    return crypto.createHmac('sha256', this._secret).update(unsigned).digest('base64url')
  }

  /** The token's claims when it is one of ours and not revoked, else null. Expiry is not checked. */
  verify(token) {
    if (typeof token !== 'string') return null
    const parts = token.split('.')
    if (parts.length !== 3) return null
    const expected = Buffer.from(this._sign(`${parts[0]}.${parts[1]}`))
    const actual = Buffer.from(parts[2])
    if (expected.length !== actual.length || !crypto.timingSafeEqual(expected, actual)) return null
    const claims = parseJson(Buffer.from(parts[1], 'base64url').toString('utf8'))
    return claims.ok && isPlainObject(claims.value) ? claims.value : null
  }

  /** True when the claims' `exp` is still ahead of the server's clock. */
  isLive(claims) {
    return typeof claims.exp === 'number' && claims.exp > this.clock() / 1000
  }

  /**
   * What an `Authorization` header value holds: `{ claims }` of a live token
   * of ours from one of `issuers` (a Set of `iss`), else `{ problem }`:
   * 'missing' (no Bearer token), 'invalid' (not ours, revoked, or another
   * issuer's) or 'expired'.
   */
  fromBearer(authorization, issuers) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization || '')
    if (!m) return { problem: 'missing' }
    const claims = this.verify(m[1])
    if (!claims || !issuers.has(claims.iss)) return { problem: 'invalid' }
    if (!this.isLive(claims)) return { problem: 'expired' }
    return { claims }
  }
}

// --- claims per kind of token ----------------------------------------------

/** Claims of an IAM token for an API key (user) or a trusted profile. */
function iamClaims({ apikey, profile, grant = GRANTS.apikey }) {
  const common = { iss: ISSUERS.iam, grant_type: grant, scope: 'ibm openid', client_id: 'default', acr: 1, amr: ['pwd'] }
  if (profile) {
    const iamId = `iam-${profile.id}`
    return {
      iam_id: iamId,
      id: iamId,
      realmid: 'iam',
      jti: crypto.randomUUID(),
      identifier: profile.id,
      name: profile.name,
      sub: profile.id,
      sub_type: 'Profile',
      authn: { sub: profile.id, iam_id: iamId, name: profile.name },
      account: { valid: true, bss: profile.account, frozen: true },
      profile_id: profile.id,
      ...common,
    }
  }
  const hash = sha256Hex(apikey ?? 'fake-apikey')
  const iamId = `IBMid-${hash.slice(0, 10).toUpperCase()}`
  return {
    iam_id: iamId,
    id: iamId,
    realmid: 'IBMid',
    jti: crypto.randomUUID(),
    identifier: hash.slice(10, 20).toUpperCase(),
    given_name: 'Fake',
    family_name: 'User',
    name: 'Fake User',
    email: 'fake.user@example.com',
    sub: 'fake.user@example.com',
    sub_type: 'Apikey',
    authn: { sub: 'fake.user@example.com', iam_id: iamId, name: 'Fake User', email: 'fake.user@example.com' },
    account: { valid: true, bss: hash.slice(20, 52), frozen: true },
    ...common,
  }
}

/** The numeric `ims_user_id` IAM reports for a subject. */
function imsUserId(subject) {
  return parseInt(sha256Hex(subject).slice(0, 7), 16)
}

/** Claims of a Cloud Pak for Data (zen) token. */
function cpdClaims(user) {
  return {
    username: user.username,
    role: 'Admin',
    permissions: ['administrator', 'can_provision', 'manage_catalog'],
    groups: [10000],
    sub: user.username,
    iss: ISSUERS.cpd,
    aud: 'DSX',
    uid: String(1000330000 + (parseInt(sha256Hex(user.username).slice(0, 4), 16) % 999)),
    authenticator: 'default',
    display_name: user.username,
    api_request: user.viaApikey === true,
  }
}

/** Claims of an MCSP (watsonx.ai on AWS) token. */
function mcspClaims(apikey) {
  const hash = sha256Hex(apikey)
  return {
    sub: `mcsp-${hash.slice(0, 12)}`,
    iss: ISSUERS.mcsp,
    aud: 'mcsp',
    jti: crypto.randomUUID(),
    type: 'apikey',
    account: { id: hash.slice(12, 28) },
  }
}

/** Claims of a VPC instance identity token (not accepted as a bearer by WML). */
function vpcIdentityClaims(instance) {
  return {
    sub: instance.crn,
    iss: ISSUERS.vpcIdentity,
    aud: 'vpc-metadata',
    jti: crypto.randomUUID(),
    account: { bss: instance.account },
    instance_id: instance.id,
  }
}

module.exports = {
  GRANTS,
  ISSUERS,
  BEARER_ISSUERS,
  TokenIssuer,
  iamClaims,
  imsUserId,
  cpdClaims,
  mcspClaims,
  vpcIdentityClaims,
}
