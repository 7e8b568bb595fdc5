// Tests of the fake server's credential routes (wml-native/testing): IAM
// cr-token and assume grants, VPC instance metadata tokens, Cloud Pak for
// Data, MCSP, and the token-time options. Plain fetch / node:http only.
// Run: node --test __test__/fake-auth.test.mjs
import { test, describe, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { startFakeServer, DEFAULT_TRUSTED_PROFILES, DEFAULT_CPD_USERS, GRANTS } from '../testing/index.mjs'
import {
  GRANT, iamPost, jsonRequest, json, decodeJwt, assertWmlError, assertIamError, assertVpcError, rawRequest,
} from './helpers/fake-http.mjs'

const PROFILE = DEFAULT_TRUSTED_PROFILES[0]
const SMALL_INPUT = { input_data: [{ fields: ['a'], values: [[1]] }] }
const nowSec = () => Math.floor(Date.now() / 1000)
/** The requestType of MCSP's IAM-shaped errors (the fake's mcsp route). */
const MCSP_REQUEST_TYPE = 'incoming.Apikey_Token'

/** Does the fake's scoring route accept this bearer token? Resolves the status. */
async function scoringStatus(server, token) {
  return (await jsonRequest(server, '/ml/v4/deployments/d/predictions', SMALL_INPUT, { token })).status
}

const vpcToken = (server, { body = { expires_in: 300 }, headers = { 'Metadata-Flavor': 'ibm' }, version = '2022-03-01', path = '/instance_identity/v1/token' } = {}) =>
  json(jsonRequest(server, path, body, { method: 'PUT', headers, version }))

const vpcIamToken = (server, identityToken, body, { path = '/instance_identity/v1/iam_token' } = {}) =>
  json(jsonRequest(server, path, body, { token: identityToken, version: '2022-03-01' }))

describe('IAM cr-token grant', () => {
  let server
  before(async () => { server = await startFakeServer({ invalidCrTokens: ['revoked-cr'] }) })
  after(() => server.close())
  beforeEach(() => server.reset())

  test('a profile by id, name or crn gives a profile token that WML accepts', async () => {
    assert.equal(GRANTS.crToken, GRANT.crToken)
    for (const selector of [{ profile_id: PROFILE.id }, { profile_name: PROFILE.name }, { profile_crn: PROFILE.crn }]) {
      const before = nowSec()
      const { status, body, headers } = await json(iamPost(server, { grant_type: GRANT.crToken, cr_token: 'cr-1', ...selector }))
      assert.equal(status, 200, JSON.stringify(body))
      assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expiration', 'expires_in', 'refresh_token', 'scope', 'token_type'])
      assert.equal(body.token_type, 'Bearer')
      assert.equal(body.refresh_token, 'not_supported')
      assert.ok(headers.get('transaction-id'))
      const { payload } = decodeJwt(body.access_token)
      assert.equal(payload.grant_type, GRANT.crToken)
      assert.equal(payload.sub_type, 'Profile')
      assert.equal(payload.sub, PROFILE.id)
      assert.equal(payload.iam_id, `iam-${PROFILE.id}`)
      assert.ok(payload.iat >= before)
      assert.equal(payload.exp - payload.iat, 3600)
      assert.equal(body.expiration, payload.exp)
      assert.equal(await scoringStatus(server, body.access_token), 200)
    }
    assert.equal(server.stats.iamByGrant.get(GRANT.crToken), 3)
  })

  test('tests can see which cr token each request carried (rotation)', async () => {
    for (const cr of ['cr-v1', 'cr-v1', 'cr-v2']) {
      assert.equal((await iamPost(server, { grant_type: GRANT.crToken, cr_token: cr, profile_id: PROFILE.id })).status, 200)
    }
    assert.deepEqual(server.requests('iam').map((r) => r.form.cr_token), ['cr-v1', 'cr-v1', 'cr-v2'])
    assert.deepEqual([...server.stats.iamByCrToken], [['cr-v1', 2], ['cr-v2', 1]])
    assert.equal(server.lastRequest('iam').form.cr_token, 'cr-v2')
  })

  test('errors: missing cr_token or profile, invalid cr token, unknown profile', async () => {
    const cases = [
      [{ grant_type: GRANT.crToken, profile_id: PROFILE.id }, 'BXNIM0109E', /cr_token/],
      [{ grant_type: GRANT.crToken, cr_token: 'cr' }, 'BXNIM0109E', /profile_id/],
      [{ grant_type: GRANT.crToken, cr_token: 'invalid-cr', profile_id: PROFILE.id }, 'BXNIM0481E', /compute resource token/],
      [{ grant_type: GRANT.crToken, cr_token: 'revoked-cr', profile_id: PROFILE.id }, 'BXNIM0481E', /compute resource token/],
      [{ grant_type: GRANT.crToken, cr_token: 'cr', profile_id: 'Profile-nope' }, 'BXNIM0398E', /Profile-nope/],
      [{ grant_type: GRANT.crToken, cr_token: 'cr', profile_name: 'nope' }, 'BXNIM0398E', /nope/],
    ]
    for (const [form, code, message] of cases) {
      const { status, body } = await json(iamPost(server, form))
      assert.equal(status, 400, JSON.stringify(form))
      assertIamError(body, code)
      assert.match(body.errorDetails || body.errorMessage, message)
      if (code === 'BXNIM0398E') assert.equal(body.errorMessage, 'Selected trusted profile not eligible.')
    }
  })

  test('trustedProfiles replaces the known profiles (and may change at run time)', async () => {
    const other = await startFakeServer({ trustedProfiles: [{ id: 'Profile-custom', name: 'custom', account: 'acc1' }] })
    try {
      const ok = await json(iamPost(other, { grant_type: GRANT.crToken, cr_token: 'cr', profile_crn: 'crn:v1:bluemix:public:iam-identity::a/acc1::profile:Profile-custom' }))
      assert.equal(ok.status, 200)
      assert.equal(decodeJwt(ok.body.access_token).payload.sub, 'Profile-custom')
      assert.equal((await iamPost(other, { grant_type: GRANT.crToken, cr_token: 'cr', profile_id: PROFILE.id })).status, 400)
      other.options.trustedProfiles = [...other.options.trustedProfiles, PROFILE]
      assert.equal((await iamPost(other, { grant_type: GRANT.crToken, cr_token: 'cr', profile_id: PROFILE.id })).status, 200)
    } finally {
      await other.close()
    }
  })
})

describe('IAM assume grant', () => {
  let server
  let userToken
  before(async () => {
    server = await startFakeServer()
    userToken = (await json(iamPost(server, { grant_type: GRANT.apikey, apikey: 'user-key' }))).body.access_token
  })
  after(() => server.close())

  test('an IAM token + profile_id | profile_crn | profile_name and account gives a profile token', async () => {
    for (const selector of [{ profile_id: PROFILE.id }, { profile_crn: PROFILE.crn }, { profile_name: PROFILE.name, account: PROFILE.account }]) {
      const { status, body } = await json(iamPost(server, { grant_type: GRANT.assume, access_token: userToken, ...selector }))
      assert.equal(status, 200, JSON.stringify(body))
      const { payload } = decodeJwt(body.access_token)
      assert.equal(payload.grant_type, GRANT.assume)
      assert.equal(payload.sub, PROFILE.id)
      assert.equal(await scoringStatus(server, body.access_token), 200)
    }
  })

  test('errors: no or bad access_token, profile_name without account, unknown profile', async () => {
    const foreign = await startFakeServer()
    const foreignToken = foreign.issueToken()
    await foreign.close()
    const identity = (await vpcToken(server)).body.access_token
    const expired = server.issueToken({ lifetimeSec: 5, issuedAgoSec: 10 })
    const cases = [
      [{ profile_id: PROFILE.id }, 'BXNIM0109E'],
      [{ access_token: 'not-a-jwt', profile_id: PROFILE.id }, 'BXNIM0407E'],
      [{ access_token: foreignToken, profile_id: PROFILE.id }, 'BXNIM0407E'],
      [{ access_token: identity, profile_id: PROFILE.id }, 'BXNIM0407E'],
      [{ access_token: expired, profile_id: PROFILE.id }, 'BXNIM0407E'],
      [{ access_token: userToken, profile_name: PROFILE.name }, 'BXNIM0109E'],
      [{ access_token: userToken, profile_name: PROFILE.name, account: 'other-account' }, 'BXNIM0398E'],
      [{ access_token: userToken }, 'BXNIM0109E'],
    ]
    for (const [form, code] of cases) {
      const { status, body } = await json(iamPost(server, { grant_type: GRANT.assume, ...form }))
      assert.equal(status, 400, JSON.stringify(form))
      assertIamError(body, code)
    }
    assert.equal(server.stats.iamByGrant.get(GRANT.assume) >= cases.length, true)
  })
})

describe('VPC instance metadata', () => {
  let server
  before(async () => { server = await startFakeServer() })
  after(() => server.close())

  test('PUT /instance_identity/v1/token gives an instance identity token (not a WML bearer)', async () => {
    const before = nowSec()
    const { status, body } = await vpcToken(server, { body: { expires_in: 120 } })
    assert.equal(status, 200, JSON.stringify(body))
    assert.deepEqual(Object.keys(body).sort(), ['access_token', 'created_at', 'expires_at', 'expires_in'])
    assert.equal(body.expires_in, 120)
    const { payload } = decodeJwt(body.access_token)
    assert.ok(payload.iat >= before)
    assert.equal(payload.exp - payload.iat, 120)
    assert.equal(Date.parse(body.created_at), payload.iat * 1000)
    assert.equal(Date.parse(body.expires_at), payload.exp * 1000)
    assert.equal(await scoringStatus(server, body.access_token), 401)
    const last = server.lastRequest('vpc_token')
    assert.equal(last.method, 'PUT')
    assert.equal(last.headers['metadata-flavor'], 'ibm')
    assert.deepEqual(last.json, { expires_in: 120 })
    // no body: the default 300 s; the 2025-08-26 path answers the same
    const dflt = await vpcToken(server, { body: undefined, path: '/identity/v1/token', version: '2025-08-26' })
    assert.equal(dflt.status, 200)
    assert.equal(dflt.body.expires_in, 300)
  })

  test('PUT errors: Metadata-Flavor, version, expires_in, method', async () => {
    let r = await vpcToken(server, { headers: {} })
    assert.equal(r.status, 400)
    assertVpcError(r.body, 400, 'validation_required_field_missing', 'Metadata-Flavor')
    r = await vpcToken(server, { version: null })
    assertVpcError(r.body, 400, 'validation_required_field_missing', 'version')
    r = await vpcToken(server, { version: '2025-08-26' })
    assertVpcError(r.body, 400, 'invalid_value', 'version')
    assert.match(r.body.errors[0].message, /\/identity\/v1\//)
    for (const expires of [4, 3601, 'x']) {
      r = await vpcToken(server, { body: { expires_in: expires } })
      assert.equal(r.status, 400)
      assertVpcError(r.body, 400, 'invalid_value', 'expires_in')
    }
    assert.equal(r.body.errors[0].target.type, 'field')
    r = await vpcToken(server, { body: { expires_in: 7200 } })
    assert.equal(r.body.errors[0].message, 'The `expires_in` field must not exceed `3600`.')
    assert.equal(r.body.errors[0].target.value, '7200')
    assert.equal(r.body.errors[0].more_info, 'https://cloud.ibm.com/docs/vpc?topic=vpc-imd-configure-service')
    for (const bad of ['{"expires_in": ', '[300]']) {
      r = await vpcToken(server, { body: bad })
      assertVpcError(r.body, 400, 'validation_invalid_json')
    }
    r = await json(jsonRequest(server, '/instance_identity/v1/token', {}, { headers: { 'Metadata-Flavor': 'ibm' } }))
    assert.equal(r.status, 405)
    assert.equal(r.headers.get('allow'), 'PUT')
    assertVpcError(r.body, 405, 'method_not_allowed')
  })

  test('POST /instance_identity/v1/iam_token trades the identity token for an IAM token WML accepts', async () => {
    const identity = (await vpcToken(server)).body.access_token
    for (const body of [undefined, { trusted_profile: { id: PROFILE.id } }, { trusted_profile: { crn: PROFILE.crn } }, { trusted_profile: { name: PROFILE.name } }]) {
      const r = await vpcIamToken(server, identity, body)
      assert.equal(r.status, 200, JSON.stringify(r.body))
      assert.deepEqual(Object.keys(r.body).sort(), ['access_token', 'created_at', 'expires_at', 'expires_in'])
      const { payload } = decodeJwt(r.body.access_token)
      assert.equal(payload.sub, PROFILE.id)
      assert.equal(r.body.expires_in, 3600)
      assert.equal(Date.parse(r.body.expires_at), payload.exp * 1000)
      assert.equal(await scoringStatus(server, r.body.access_token), 200)
    }
    const v2 = await vpcIamToken(server, identity, undefined, { path: '/identity/v1/iam_tokens' })
    assert.equal(v2.status, 200)
    assert.equal(server.requests('vpc_iam_token').length, 5)
  })

  test('iam_token errors: bearer missing, not an identity token, unknown or ambiguous profile', async () => {
    const identity = (await vpcToken(server)).body.access_token
    let r = await vpcIamToken(server, undefined, undefined)
    assertVpcError(r.body, 401, 'not_authorized')
    assert.match(r.body.errors[0].message, /needs an instance identity access token/)
    r = await vpcIamToken(server, server.issueToken(), undefined)
    assertVpcError(r.body, 401, 'not_authorized')
    assert.match(r.body.errors[0].message, /not valid or has expired/)
    r = await vpcIamToken(server, identity, { trusted_profile: { id: 'Profile-nope' } })
    assertVpcError(r.body, 404, 'trusted_profile_not_found', 'trusted_profile')
    r = await vpcIamToken(server, identity, { trusted_profile: { id: PROFILE.id, crn: PROFILE.crn } })
    assertVpcError(r.body, 400, 'invalid_value', 'trusted_profile')
  })
})

describe('Cloud Pak for Data /icp4d-api/v1/authorize', () => {
  let server
  before(async () => {
    server = await startFakeServer({ cpdUsers: [...DEFAULT_CPD_USERS, { username: 'keyonly', apikey: 'k-123' }], tokenLifetimeSec: 1200 })
  })
  after(() => server.close())
  const authorize = (body) => json(jsonRequest(server, '/icp4d-api/v1/authorize', body, { version: null }))

  test('username + password or username + api_key give {_messageCode_, message, token}', async () => {
    const { username, password, apikey } = DEFAULT_CPD_USERS[0]
    for (const body of [{ username, password }, { username, api_key: apikey }, { username: 'keyonly', api_key: 'k-123' }]) {
      const r = await authorize(body)
      assert.equal(r.status, 200, JSON.stringify(r.body))
      assert.deepEqual(Object.keys(r.body).sort(), ['_messageCode_', 'message', 'token'])
      assert.equal(r.body._messageCode_, '200')
      assert.equal(r.body.message, 'Success')
      const { payload } = decodeJwt(r.body.token)
      assert.equal(payload.username, body.username)
      assert.equal(payload.exp - payload.iat, 1200)
      assert.equal(await scoringStatus(server, r.body.token), 200)
    }
  })

  test('wrong credentials 401, malformed requests 400, in the CPD shape', async () => {
    for (const body of [{ username: 'admin', password: 'wrong' }, { username: 'nobody', password: 'password' },
      { username: 'keyonly', password: 'k-123' }, { username: 'admin', api_key: 'password' }]) {
      const r = await authorize(body)
      assert.equal(r.status, 401, JSON.stringify(body))
      assert.deepEqual(r.body, { _messageCode_: '401', message: 'Invalid username or password.' })
    }
    for (const body of [{ password: 'password' }, { username: 'admin' }, { username: 'admin', password: 'password', api_key: 'cpd-apikey' }, 'nope']) {
      const r = await authorize(body)
      assert.equal(r.status, 400, JSON.stringify(body))
      assert.equal(r.body._messageCode_, '400')
      assert.equal(typeof r.body.message, 'string')
    }
  })

  test('a status fault answers in the CPD shape; apikey scopes faults to api_key logins', async () => {
    server.fault({ route: 'cpd', apikey: 'cpd-apikey', status: 503, times: 1 })
    assert.equal((await authorize({ username: 'admin', password: 'password' })).status, 200)
    const r = await authorize({ username: 'admin', api_key: 'cpd-apikey' })
    assert.equal(r.status, 503)
    assert.equal(r.body._messageCode_, '503')
  })
})

describe('MCSP apikeys/token', () => {
  let server
  before(async () => { server = await startFakeServer({ tokenLifetimeSec: 900, invalidApikeys: ['gone-key'] }) })
  after(() => server.close())
  const PATHS = ['/siusermgr/api/1.0/apikeys/token', '/api/2.0/apikeys/token', '/api/2.0/accounts/acc-1/apikeys/token']

  test('every SDK path gives {token, token_type, expires_in}; WML accepts the token', async () => {
    for (const path of PATHS) {
      const r = await json(jsonRequest(server, path, { apikey: 'mcsp-key' }, { version: null }))
      assert.equal(r.status, 200, path)
      assert.deepEqual(Object.keys(r.body).sort(), ['expires_in', 'token', 'token_type'])
      assert.equal(r.body.token_type, 'Bearer')
      assert.equal(r.body.expires_in, 900)
      const { payload } = decodeJwt(r.body.token)
      assert.equal(payload.exp - payload.iat, 900)
      assert.equal(await scoringStatus(server, r.body.token), 200)
    }
    assert.equal(server.stats.mcsp, 3)
  })

  test('unknown or missing apikey: 400 in the IAM shape; faults scoped by apikey', async () => {
    for (const [body, code] of [[{ apikey: 'invalid-x' }, 'BXNIM0415E'], [{ apikey: 'gone-key' }, 'BXNIM0415E'], [{}, 'BXNIM0109E']]) {
      const r = await json(jsonRequest(server, PATHS[0], body, { version: null }))
      assert.equal(r.status, 400)
      assertIamError(r.body, code, MCSP_REQUEST_TYPE)
    }
    server.fault({ route: 'mcsp', apikey: 'victim', status: 429, retryAfter: 1 })
    try {
      assert.equal((await jsonRequest(server, PATHS[1], { apikey: 'bystander' }, { version: null })).status, 200)
      const r = await json(jsonRequest(server, PATHS[1], { apikey: 'victim' }, { version: null }))
      assert.equal(r.status, 429)
      assert.equal(r.headers.get('retry-after'), '1')
      assertIamError(r.body, 'BXNIM0420E', MCSP_REQUEST_TYPE)
    } finally {
      server.clearFaults()
    }
  })
})

describe('token time: issued-ago, clock skew, no Date header', () => {
  test('tokenIssuedAgoSec moves iat/exp back on every token-issuing route; expires_in stays the lifetime', async () => {
    const server = await startFakeServer({ tokenLifetimeSec: 600, tokenIssuedAgoSec: 500 })
    try {
      const now = nowSec()
      const near = (a, b) => assert.ok(Math.abs(a - b) <= 2, `${a} vs ${b}`)
      const iam = (await json(iamPost(server, { grant_type: GRANT.apikey, apikey: 'k' }))).body
      const p = decodeJwt(iam.access_token).payload
      near(p.iat, now - 500)
      assert.equal(p.exp - p.iat, 600)
      assert.equal(iam.expires_in, 600)
      assert.equal(iam.expiration, p.exp)
      const cpd = (await json(jsonRequest(server, '/icp4d-api/v1/authorize', { username: 'admin', password: 'password' }, { version: null }))).body
      near(decodeJwt(cpd.token).payload.iat, now - 500)
      const mcsp = (await json(jsonRequest(server, '/api/2.0/apikeys/token', { apikey: 'k' }, { version: null }))).body
      near(decodeJwt(mcsp.token).payload.iat, now - 500)
      near(decodeJwt((await vpcToken(server)).body.access_token).payload.iat, now - 500)
      // an identity token 500 s old is past its 300 s: a fresh one (the fault overrides the option) for iam_token
      server.fault({ route: 'vpc_token', tokenIssuedAgoSec: 0, times: 1 })
      const identity = (await vpcToken(server)).body
      near(decodeJwt(identity.access_token).payload.iat, now)
      const vpcIam = (await vpcIamToken(server, identity.access_token)).body
      near(decodeJwt(vpcIam.access_token).payload.iat, now - 500)
      near(Date.parse(vpcIam.created_at) / 1000, now - 500)
      near(decodeJwt(server.issueToken()).payload.iat, now - 500)
      // still valid for its last 100 s
      assert.equal(await scoringStatus(server, iam.access_token), 200)
    } finally {
      await server.close()
    }
  })

  test('a tokenIssuedAgoSec fault ages one token; an aged-out token is expired for WML', async () => {
    const server = await startFakeServer({ tokenLifetimeSec: 60 })
    try {
      server.fault({ route: 'iam', tokenIssuedAgoSec: 61, times: 1 })
      const aged = (await json(iamPost(server, { grant_type: GRANT.apikey, apikey: 'k' }))).body
      const p = decodeJwt(aged.access_token).payload
      assert.ok(p.exp <= nowSec(), 'already expired when handed out')
      assert.equal(aged.expires_in, 60)
      const r = await json(jsonRequest(server, '/ml/v4/deployments/d/predictions', SMALL_INPUT, { token: aged.access_token }))
      assertWmlError(r.body, 401, 'authentication_token_expired')
      const fresh = decodeJwt((await json(iamPost(server, { grant_type: GRANT.apikey, apikey: 'k' }))).body.access_token).payload
      assert.ok(fresh.exp > nowSec() + 50)
      assert.equal(decodeJwt(server.issueToken({ issuedAgoSec: 30 })).payload.exp - nowSec() <= 31, true)
    } finally {
      await server.close()
    }
  })

  test('clockSkewSec shifts iat/exp, timestamps and the Date header; the server checks expiry on its own clock', async () => {
    const server = await startFakeServer({ clockSkewSec: -7200, tokenLifetimeSec: 3600 })
    try {
      const res = await rawRequest(`${server.url}/identity/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: GRANT.apikey, apikey: 'k' }).toString(),
      })
      const dateSkew = (Date.parse(res.headers.date) - Date.now()) / 1000
      assert.ok(Math.abs(dateSkew + 7200) <= 2, `Date header is ${dateSkew} s off`)
      const body = JSON.parse(res.body)
      const p = decodeJwt(body.access_token).payload
      assert.ok(Math.abs(p.iat - (nowSec() - 7200)) <= 2)
      assert.ok(p.exp < nowSec(), 'by real time the token is already past exp')
      assert.equal(await scoringStatus(server, body.access_token), 200, 'by the server clock it is valid')
      assert.ok(Math.abs(server.clock() - (Date.now() - 7200e3)) < 2000)
      const chat = (await json(jsonRequest(server, '/ml/v1/text/chat', {
        model_id: 'ibm/granite-3-8b-instruct', project_id: 'p', messages: [{ role: 'user', content: 'hi' }],
      }, { token: body.access_token }))).body
      assert.ok(Math.abs(chat.created - (nowSec() - 7200)) <= 2)
      server.options.clockSkewSec = 0
      assert.equal(await scoringStatus(server, body.access_token), 401, 'skew is live: now the token is expired')
    } finally {
      await server.close()
    }
  })

  test('sendDate: false answers without a Date header (live option)', async () => {
    const server = await startFakeServer({ sendDate: false })
    try {
      const form = { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `grant_type=${GRANT.apikey}&apikey=k` }
      const without = await rawRequest(`${server.url}/identity/token`, form)
      assert.equal(without.status, 200)
      assert.equal(without.headers.date, undefined)
      server.options.sendDate = true
      assert.ok((await rawRequest(`${server.url}/identity/token`, form)).headers.date)
    } finally {
      await server.close()
    }
  })
})
