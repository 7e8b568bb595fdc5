// Every authenticator against the fake server: trusted profiles (cr-token,
// assume, VPC metadata), Cloud Pak for Data, MCSP, a caller's bearer token,
// no auth; their errors, their secrets, the shared cache, and WmlClient with
// each of them and with the Python-style credential forms. Every
// authenticator is given the fake server's URL: nothing here may reach a
// default address.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { inspect } from 'node:util'
import fs from 'node:fs'
import path from 'node:path'
import { useFakeServer, keyMaker, useTmpDir } from './helpers/fake.mjs'
import { assertNoSecrets, sleep } from './helpers/secrets.mjs'
import { runNode } from './helpers/child.mjs'
import { waitFor } from './helpers/streams.mjs'

const require = createRequire(import.meta.url)
const m = require('../index.js')
const { DEFAULT_TRUSTED_PROFILES, GRANTS } = require('../testing/index.js')

const PROFILE = DEFAULT_TRUSTED_PROFILES[0]
const PAYLOAD = { input_data: [{ fields: ['a'], values: [[1]] }] }
const JWT = /^ey[\w-]+\.[\w-]+\.[\w-]+$/

let server
useFakeServer((s) => (server = s))
const freshKey = keyMaker('auth-test')
let tmp
useTmpDir('wml-auth-test-', (d) => (tmp = d))

let files = 0
/** A new cr-token file holding `text`; returns its path. */
function crTokenFile(text) {
  const p = path.join(tmp, `cr-token-${++files}`)
  fs.writeFileSync(p, text)
  return p
}
/** A cr token never used before (the fake counts requests per cr token). */
const freshCrToken = keyMaker('cr-token-secret')

function container(file, extra = {}) {
  return new m.ContainerAuthenticator({ crTokenFilename: file, iamProfileId: PROFILE.id, url: server.url, maxRetries: 0, ...extra })
}

// ------------------------------------------------------------ container

test('ContainerAuthenticator: the cr-token grant with the file and the profile; IAM token usable for WML', async () => {
  const cr = freshCrToken()
  const a = container(crTokenFile(`${cr}\n`), { iamProfileName: PROFILE.name })
  const token = await a.getToken()
  assert.match(token, JWT)
  const form = server.lastRequest('iam').form
  assert.equal(form.grant_type, GRANTS.crToken)
  assert.equal(form.cr_token, cr, 'the file contents, without the trailing newline')
  assert.equal(form.profile_id, PROFILE.id)
  assert.equal(form.profile_name, PROFILE.name)
  assert.equal(form.apikey, undefined)
  assert.equal(a.authenticationType(), 'container')
  assert.equal(await a.authorizationHeader(), `Bearer ${token}`)
  const info = await a.getTokenInfo()
  assert.equal(info.accessToken, token)
  assert.equal(info.expiresIn, 3600)
  const wml = new m.WmlClient({ url: server.url, authenticator: a })
  assert.equal((await wml.score('dep', PAYLOAD)).predictions.length, 1)
  assert.equal(server.stats.iamByCrToken.get(cr), 1, 'the token was served from the cache')
})

test('ContainerAuthenticator: 5,000 cold callers (one instance and many) cause one request', async () => {
  const cr = freshCrToken()
  const file = crTokenFile(cr)
  server.fault({ route: 'iam', latencyMs: 50, times: 1 })
  const one = container(file)
  const calls = []
  for (let i = 0; i < 2500; i++) calls.push(one.getToken())
  for (let i = 0; i < 2500; i++) calls.push(container(file).getToken())
  const tokens = new Set(await Promise.all(calls))
  assert.equal(tokens.size, 1)
  assert.equal(server.stats.iamByCrToken.get(cr), 1)
})

test('ContainerAuthenticator: a rotated cr-token file is picked up at the next refresh', async () => {
  const [first, second] = [freshCrToken(), freshCrToken()]
  const file = crTokenFile(first)
  // A 2 s token: the background refresh is due ~0.6 s after it arrives.
  server.fault({ route: 'iam', tokenLifetimeSec: 2, times: 1 })
  const a = container(file)
  const t1 = await a.getToken()
  fs.writeFileSync(file, second) // the platform rotates the file
  assert.equal(await a.getToken(), t1, 'still the cached token')
  assert.equal(server.stats.iamByCrToken.get(second), undefined)
  await sleep(700)
  assert.equal(await a.getToken(), t1, 'past 80% of the life: served at once, refreshed in the background')
  assert.ok(await waitFor(() => server.stats.iamByCrToken.get(second) === 1), 'timed out waiting for the refresh with the new cr token')
  let t2 = t1
  for (let i = 0; i < 200 && t2 === t1; i++) {
    await sleep(10)
    t2 = await a.getToken()
  }
  assert.notEqual(t2, t1, 'the refreshed token is served')
  assert.equal(server.stats.iamByCrToken.get(first), 1)
})

test('ContainerAuthenticator: a missing, empty or unreadable file is ERR_INVALID_ARG naming the file, at the first call', async () => {
  const before = server.stats.iam
  const missing = path.join(tmp, 'no-such-cr-token')
  const a = container(missing) // constructing reads nothing
  for (const call of [() => a.getToken(), () => a.getTokenInfo()]) {
    const e = await call().catch((x) => x)
    assert.ok(e instanceof m.InvalidArgumentError, String(e))
    assert.ok(e.message.includes(missing), e.message)
    assert.match(e.message, /no such file/)
  }
  const empty = crTokenFile('  \n')
  let e = await container(empty).getToken().catch((x) => x)
  assert.ok(e instanceof m.InvalidArgumentError && e.message.includes(empty) && /empty/.test(e.message), String(e))
  e = await container(tmp).getToken().catch((x) => x) // a directory
  assert.ok(e instanceof m.InvalidArgumentError && e.message.includes(tmp), String(e))
  // Through a WmlClient too, and nothing was sent to IAM or WML.
  const predictions = server.stats.predictions
  e = await new m.WmlClient({ url: server.url, authenticator: container(missing) }).score('d', PAYLOAD).catch((x) => x)
  assert.ok(e instanceof m.InvalidArgumentError, String(e))
  assert.equal(server.stats.iam, before)
  assert.equal(server.stats.predictions, predictions)
  // Once the file appears, the next call works (no parked queue, unlike sdk-core's 60 s freeze).
  fs.writeFileSync(missing, freshCrToken())
  assert.match(await a.getToken(), JWT)
})

test('ContainerAuthenticator: an unknown profile or an invalid cr token is IAM\'s own error, without the cr token', async () => {
  const cr = freshCrToken()
  let e = await container(crTokenFile(cr), { iamProfileId: 'Profile-unknown' }).getToken().catch((x) => x)
  assert.ok(e instanceof m.IamError, String(e))
  assert.equal(e.status, 400)
  assert.equal(e.iamErrorCode, 'BXNIM0398E')
  assert.ok(e.requestId)
  assertNoSecrets(e, [cr])
  const bad = `invalid-${freshCrToken()}`
  e = await container(crTokenFile(bad)).getToken().catch((x) => x)
  assert.ok(e instanceof m.IamError && e.iamErrorCode === 'BXNIM0481E', String(e))
  assertNoSecrets(e, [bad])
  assert.throws(() => new m.ContainerAuthenticator({ url: server.url }), (x) => x instanceof m.InvalidArgumentError && /iamProfileId/.test(x.message))
})

test('ContainerAuthenticator: IAM faults are retried with Retry-After, and a hang times out', async () => {
  const cr = freshCrToken()
  server.fault({ route: 'iam', status: 503, retryAfter: '0', times: 2 })
  const a = container(crTokenFile(cr), { maxRetries: 3 })
  assert.match(await a.getToken(), JWT)
  assert.equal(server.stats.iamByCrToken.get(cr), 3)
  server.fault({ route: 'iam', hang: true, times: 1 })
  const e = await container(crTokenFile(freshCrToken()), { timeoutMs: 200 }).getToken().catch((x) => x)
  assert.ok(e instanceof m.TimeoutError, String(e))
})

// ------------------------------------------------------------ assume

test('IamAssumeAuthenticator: an API key token from the shared cache, then the assume grant', async () => {
  const key = freshKey()
  const a = new m.IamAssumeAuthenticator({ apikey: key, iamProfileId: PROFILE.id, url: server.url })
  const token = await a.getToken()
  assert.match(token, JWT)
  const form = server.lastRequest('iam').form
  assert.equal(form.grant_type, GRANTS.assume)
  assert.equal(form.profile_id, PROFILE.id)
  assert.equal(server.iamRequestsFor(key), 1)
  // The API key's own token is an ordinary cache entry: no new request.
  const userToken = await new m.IamAuthenticator({ apikey: key, url: server.url }).getToken()
  assert.equal(form.access_token, userToken)
  assert.notEqual(userToken, token)
  assert.equal(server.iamRequestsFor(key), 1)
  // A refresh of the assumed token reuses it.
  a.invalidate()
  assert.notEqual(await a.getToken(), token)
  assert.equal(server.iamRequestsFor(key), 1)
  assert.equal(a.authenticationType(), 'iamAssume')
  const wml = new m.WmlClient({ url: server.url, authenticator: a })
  assert.ok((await wml.score('dep', PAYLOAD)).predictions)
})

test('IamAssumeAuthenticator: by name with the account, by CRN; the rules; refusals are IamError', async () => {
  const key = freshKey()
  await new m.IamAssumeAuthenticator({ apikey: key, iamProfileName: PROFILE.name, iamAccountId: PROFILE.account, url: server.url }).getToken()
  let form = server.lastRequest('iam').form
  assert.equal(form.profile_name, PROFILE.name)
  assert.equal(form.account, PROFILE.account)
  await new m.IamAssumeAuthenticator({ apikey: key, iamProfileCrn: PROFILE.crn, url: server.url }).getToken()
  form = server.lastRequest('iam').form
  assert.equal(form.profile_crn, PROFILE.crn)
  for (const bad of [
    { apikey: key, url: server.url },
    { apikey: key, iamProfileId: 'a', iamProfileCrn: 'b' },
    { apikey: key, iamProfileName: 'n' },
    { apikey: key, iamProfileId: 'a', iamAccountId: 'acc' },
    { iamProfileId: 'a' },
  ]) {
    assert.throws(() => new m.IamAssumeAuthenticator(bad), m.InvalidArgumentError, JSON.stringify(bad))
  }
  let e = await new m.IamAssumeAuthenticator({ apikey: key, iamProfileId: 'Profile-nope', url: server.url }).getToken().catch((x) => x)
  assert.ok(e instanceof m.IamError && e.iamErrorCode === 'BXNIM0398E', String(e))
  const invalid = `invalid-${freshKey()}`
  e = await new m.IamAssumeAuthenticator({ apikey: invalid, iamProfileId: PROFILE.id, url: server.url }).getToken().catch((x) => x)
  assert.ok(e instanceof m.IamError && e.iamErrorCode === 'BXNIM0415E', String(e))
  assertNoSecrets(e, [invalid])
})

// ------------------------------------------------------------ VPC

test('VpcInstanceAuthenticator: identity token, then the IAM token of the default or the named profile', async () => {
  const a = new m.VpcInstanceAuthenticator({ url: server.url })
  const token = await a.getToken()
  assert.match(token, JWT)
  const put = server.lastRequest('vpc_token')
  assert.equal(put.method, 'PUT')
  assert.equal(put.query.version, '2022-03-01')
  assert.equal(put.headers['metadata-flavor'], 'ibm')
  assert.deepEqual(put.json, { expires_in: 300 })
  const post = server.lastRequest('vpc_iam_token')
  assert.equal(post.method, 'POST')
  assert.equal(post.body, '')
  assert.match(post.headers.authorization, /^Bearer ey/)
  assert.equal(a.authenticationType(), 'vpc')
  for (const [option, field, value] of [
    ['iamProfileId', 'id', PROFILE.id],
    ['iamProfileCrn', 'crn', PROFILE.crn],
    ['iamProfileName', 'name', PROFILE.name],
  ]) {
    await new m.VpcInstanceAuthenticator({ url: server.url, [option]: value }).getToken()
    assert.deepEqual(server.lastRequest('vpc_iam_token').json, { trusted_profile: { [field]: value } })
  }
  const wml = new m.WmlClient({ url: server.url, authenticator: a })
  assert.ok((await wml.score('dep', PAYLOAD)).predictions)
  assert.equal(server.stats.vpc_token, 4, 'one identity token per IAM token, and the IAM token is cached')
})

test('VpcInstanceAuthenticator: with defaults nothing is contacted until a token is asked for', async () => {
  const before = m.tokenCacheStats().requests
  const a = new m.VpcInstanceAuthenticator()
  const b = new m.VpcInstanceAuthenticator({ iamProfileId: PROFILE.id })
  await sleep(20)
  assert.equal(m.tokenCacheStats().requests, before, 'no token request was started')
  assert.equal(inspect(a), "VpcInstanceAuthenticator { url: 'http://169.254.169.254' }")
  assert.deepEqual(JSON.parse(JSON.stringify(b)), { url: 'http://169.254.169.254', iamProfileId: PROFILE.id })
  assert.throws(() => new m.VpcInstanceAuthenticator({ url: 'http://example.com' }), m.InvalidArgumentError)
  assert.throws(() => new m.VpcInstanceAuthenticator({ url: server.url, iamProfileId: 'a', iamProfileCrn: 'b' }), m.InvalidArgumentError)
})

test('VpcInstanceAuthenticator: the metadata service\'s refusals are AuthError with its fields; a silent service times out', async () => {
  let e = await new m.VpcInstanceAuthenticator({ url: server.url, iamProfileId: 'Profile-not-linked' }).getToken().catch((x) => x)
  assert.ok(e instanceof m.AuthError, String(e))
  assert.equal(e.code, 'ERR_AUTH')
  assert.equal(e.status, 404)
  assert.equal(e.service, 'vpc')
  assert.equal(e.errorCode, 'trusted_profile_not_found')
  assert.equal(e.errors[0].code, 'trusted_profile_not_found')
  assert.ok(e.trace)
  m.clearTokenCache() // the profiles' tokens of the tests above are cached
  server.fault({ route: 'vpc_token', hang: true, times: 1 })
  e = await new m.VpcInstanceAuthenticator({ url: server.url, timeoutMs: 200, iamProfileCrn: PROFILE.crn }).getToken().catch((x) => x)
  assert.ok(e instanceof m.TimeoutError, String(e))
  server.fault({ route: 'vpc_iam_token', status: 503, retryAfter: '0', times: 1 })
  assert.match(await new m.VpcInstanceAuthenticator({ url: server.url, iamProfileName: PROFILE.name }).getToken(), JWT)
})

// ------------------------------------------------------------ Cloud Pak for Data

test('CloudPakForDataAuthenticator: password or API key, any URL spelling; the token works for WML', async () => {
  for (const [url, secret] of [
    [server.url, { password: 'password' }],
    [`${server.url}/icp4d-api`, { apikey: 'cpd-apikey' }],
    [`${server.url}/icp4d-api/v1/authorize`, { password: 'password' }],
  ]) {
    m.clearTokenCache()
    const a = new m.CloudPakForDataAuthenticator({ url, username: 'admin', ...secret })
    assert.match(await a.getToken(), JWT)
    const req = server.lastRequest('cpd')
    assert.equal(req.path, '/icp4d-api/v1/authorize')
    assert.deepEqual(req.json, { username: 'admin', ...(secret.password ? { password: 'password' } : { api_key: 'cpd-apikey' }) })
    assert.equal(a.authenticationType(), 'cp4d')
  }
  const a = new m.CloudPakForDataAuthenticator({ url: server.url, username: 'admin', password: 'password' })
  const wml = new m.WmlClient({ url: server.url, authenticator: a })
  const before = server.stats.cpd
  await wml.score('dep', PAYLOAD)
  await wml.score('dep', PAYLOAD)
  assert.equal(server.stats.cpd, before, 'the cached token')
})

test('CloudPakForDataAuthenticator: a wrong password is AuthError with the platform\'s fields, without the password', async () => {
  const secret = `wrong-${freshKey()}`
  const e = await new m.CloudPakForDataAuthenticator({ url: server.url, username: 'admin', password: secret }).getToken().catch((x) => x)
  assert.ok(e instanceof m.AuthError, String(e))
  assert.equal(e.status, 401)
  assert.equal(e.service, 'cp4d')
  assert.equal(e.errorCode, '401')
  assert.match(e.message, /Cloud Pak for Data answered 401: Invalid username or password/)
  assertNoSecrets(e, [secret])
  for (const bad of [
    { url: server.url, username: 'admin' },
    { url: server.url, username: 'admin', password: 'p', apikey: 'k' },
    { url: server.url, password: 'p' },
    { username: 'admin', password: 'p' },
  ]) {
    assert.throws(() => new m.CloudPakForDataAuthenticator(bad), m.InvalidArgumentError, JSON.stringify(bad))
  }
  server.fault({ route: 'cpd', status: 429, retryAfter: '0', times: 1 })
  assert.match(await new m.CloudPakForDataAuthenticator({ url: server.url, username: 'admin', apikey: 'cpd-apikey', headers: { 'X-Retry': '1' } }).getToken(), JWT)
})

// ------------------------------------------------------------ MCSP

test('McspAuthenticator: POST /api/2.0/apikeys/token with the API key; refusals are AuthError', async () => {
  const key = freshKey()
  const a = new m.McspAuthenticator({ apikey: key, url: server.url })
  assert.match(await a.getToken(), JWT)
  const req = server.lastRequest('mcsp')
  assert.equal(req.path, '/api/2.0/apikeys/token')
  assert.deepEqual(req.json, { apikey: key })
  assert.equal(a.authenticationType(), 'mcsp')
  assert.ok((await new m.WmlClient({ url: server.url, authenticator: a }).score('dep', PAYLOAD)).predictions)
  // A URL with a path is used as given (ibm-cloud-sdk-core's v1 path).
  await new m.McspAuthenticator({ apikey: key, url: `${server.url}/siusermgr/api/1.0/apikeys/token` }).getToken()
  assert.equal(server.lastRequest('mcsp').path, '/siusermgr/api/1.0/apikeys/token')
  const invalid = `invalid-${freshKey()}`
  const e = await new m.McspAuthenticator({ apikey: invalid, url: server.url }).getToken().catch((x) => x)
  assert.ok(e instanceof m.AuthError, String(e))
  assert.equal(e.service, 'mcsp')
  assert.equal(e.status, 400)
  assert.equal(e.errorCode, 'BXNIM0415E')
  assertNoSecrets(e, [invalid])
  assert.throws(() => new m.McspAuthenticator({ apikey: key }), m.InvalidArgumentError)
})

// ------------------------------------------------------------ bearer, no auth

function jwt(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${b64({ alg: 'none' })}.${b64(claims)}.sig`
}

test('BearerTokenAuthenticator: served as given, replaced by setBearerToken at the next call, expired JWTs refused', async () => {
  const t1 = server.issueToken()
  const a = new m.BearerTokenAuthenticator({ bearerToken: t1 })
  assert.equal(await a.getToken(), t1)
  assert.equal(await a.authorizationHeader(), `Bearer ${t1}`)
  const info = await a.getTokenInfo()
  assert.equal(info.accessToken, t1)
  assert.equal(info.expiresIn, 3600)
  assert.equal(a.authenticationType(), 'bearerToken')
  const wml = new m.WmlClient({ url: server.url, authenticator: a })
  await wml.score('dep', PAYLOAD)
  assert.equal(server.lastRequest('predictions').headers.authorization, `Bearer ${t1}`)
  const t2 = server.issueToken({ apikey: 'other' })
  a.setBearerToken(t2)
  assert.equal(await a.getToken(), t2)
  await wml.score('dep', PAYLOAD)
  assert.equal(server.lastRequest('predictions').headers.authorization, `Bearer ${t2}`)

  const expired = jwt({ iat: 1700000000, exp: 1700003600 })
  a.setBearerToken(expired)
  const predictions = server.stats.predictions
  for (const p of [a.getToken(), a.getTokenInfo(), wml.score('dep', PAYLOAD)]) {
    const e = await p.catch((x) => x)
    assert.ok(e instanceof m.InvalidArgumentError, String(e))
    assert.match(e.message, /the bearer token expired at .* 2023/)
    assertNoSecrets(e, [expired])
  }
  assert.equal(server.stats.predictions, predictions, 'an expired token is not sent')
  assert.throws(() => a.setBearerToken(''), m.InvalidArgumentError)
  assert.throws(() => a.setBearerToken(42), m.InvalidArgumentError)
  assert.throws(() => new m.BearerTokenAuthenticator({}), m.InvalidArgumentError)
  // `{ url, token }` credentials follow the same rule.
  const e = await new m.WmlClient({ url: server.url, token: expired }).score('dep', PAYLOAD).catch((x) => x)
  assert.ok(e instanceof m.InvalidArgumentError, String(e))
})

test('NoAuthAuthenticator: no Authorization header; asking it for a token rejects', async () => {
  const a = new m.NoAuthAuthenticator()
  assert.equal(a.authenticationType(), 'noAuth')
  await assert.rejects(a.getToken(), m.InvalidArgumentError)
  await assert.rejects(a.authorizationHeader(), m.InvalidArgumentError)
  const e = await new m.WmlClient({ url: server.url, authenticator: a }).score('dep', PAYLOAD).catch((x) => x)
  assert.ok(e instanceof m.WmlError && e.status === 401, String(e))
  assert.equal(server.lastRequest('predictions').headers.authorization, undefined)
})

// ------------------------------------------------------------ credential forms

test('WmlClient takes the Python-style Cloud Pak for Data forms, with instance_id "openshift"', async () => {
  m.clearTokenCache()
  const before = server.stats.cpd
  const pw = new m.WmlClient({ url: server.url, username: 'admin', password: 'password', instance_id: 'openshift' })
  assert.ok((await pw.score('dep', PAYLOAD)).predictions)
  assert.deepEqual(server.lastRequest('cpd').json, { username: 'admin', password: 'password' })
  // As copied from a Python notebook: `version` is the CPD release there.
  const key = new m.WmlClient({ url: server.url, username: 'admin', apikey: 'cpd-apikey', instance_id: 'openshift', version: '5.0' })
  assert.ok((await key.score('dep', PAYLOAD)).predictions)
  assert.deepEqual(server.lastRequest('cpd').json, { username: 'admin', api_key: 'cpd-apikey' })
  assert.equal(server.lastRequest('predictions').query.version, '2023-05-29')
  assert.equal(server.stats.cpd, before + 2)
  const e = await new m.WmlClient({ url: server.url, username: 'admin', password: 'nope-secret', instance_id: 'icp' }).score('d', PAYLOAD).catch((x) => x)
  assert.ok(e instanceof m.AuthError && e.status === 401, String(e))
  assertNoSecrets(e, ['nope-secret'])
  // An IBM Cloud instance id of older credentials is ignored.
  const k = freshKey()
  await new m.WmlClient({ url: server.url, iamUrl: server.url, apikey: k, instance_id: 'b1c2d3e4-0000' }).score('d', PAYLOAD)
  assert.equal(server.iamRequestsFor(k), 1)
  for (const [bad, why] of [
    [{ username: 'admin', password: 'p' }, /add instance_id: 'openshift'/],
    [{ username: 'admin', apikey: 'k' }, /add instance_id: 'openshift'/],
    [{ password: 'p', instance_id: 'openshift' }, /need a username/],
    [{ apikey: 'k', instance_id: 'openshift' }, /need a username/],
    [{ username: 'admin', instance_id: 'openshift' }, /exactly one of password and apikey/],
    [{ username: 'admin', password: 'p', apikey: 'k', instance_id: 'openshift' }, /exactly one of password and apikey/],
    [{ username: 'admin', password: 'p', token: 't', instance_id: 'openshift' }, /not both/],
    [{ apikey: 'k', authenticator: new m.NoAuthAuthenticator() }, /not both/],
    [{}, /need an apikey, a token, a username/],
  ]) {
    assert.throws(() => new m.WmlClient({ url: server.url, ...bad }), (x) => x instanceof m.InvalidArgumentError && why.test(x.message), JSON.stringify(bad))
  }
})

test('util.inspect and JSON.stringify of every authenticator show no secret', () => {
  const secrets = ['sEcReT-apikey-1', 'sEcReT-client-2', 'sEcReT-password-3', 'sEcReT-bearer-4']
  const [apikey, clientSecret, password, bearerToken] = secrets
  const all = [
    new m.IamAuthenticator({ apikey, clientId: 'bx', clientSecret, url: server.url }),
    new m.ContainerAuthenticator({ iamProfileId: PROFILE.id, clientId: 'bx', clientSecret, url: server.url, crTokenFilename: '/x/token' }),
    new m.IamAssumeAuthenticator({ apikey, iamProfileId: PROFILE.id, url: server.url }),
    new m.VpcInstanceAuthenticator({ url: server.url, iamProfileCrn: PROFILE.crn }),
    new m.CloudPakForDataAuthenticator({ url: server.url, username: 'admin', password, headers: { 'X-Key': apikey } }),
    new m.McspAuthenticator({ url: server.url, apikey }),
    new m.BearerTokenAuthenticator({ bearerToken }),
    new m.NoAuthAuthenticator(),
  ]
  for (const a of all) {
    const views = [inspect(a, { showHidden: true, depth: 5 }), JSON.stringify(a), String(a), inspect({ nested: a })]
    for (const v of views) for (const s of secrets) assert.ok(!v.includes(s), `${s} in ${v}`)
  }
  assert.equal(inspect(all[0]), `IamAuthenticator { url: '${server.url}', clientId: 'bx', apikey: '<redacted>', clientSecret: '<redacted>' }`)
  assert.equal(inspect(all[1]), `ContainerAuthenticator { url: '${server.url}', crTokenFilename: '/x/token', iamProfileId: '${PROFILE.id}', clientId: 'bx', clientSecret: '<redacted>' }`)
  assert.deepEqual(JSON.parse(JSON.stringify(all[4])), { url: server.url, username: 'admin', password: '<redacted>' })
  assert.equal(inspect(all[7]), 'NoAuthAuthenticator {}')
  assert.ok(all.every((a) => a instanceof m.Authenticator))
})

test('WML_NATIVE_DEBUG logs every kind without any secret, and the process exits by itself', async () => {
  const secrets = { cr: freshCrToken(), apikey: freshKey(), password: freshKey(), cpdKey: freshKey(), mcsp: freshKey() }
  server.options.cpdUsers = [...server.options.cpdUsers, { username: 'debug-user', password: secrets.password, apikey: secrets.cpdKey }]
  const file = crTokenFile(secrets.cr)
  const code = `
    const m = require('./index.js')
    const url = ${JSON.stringify(server.url)}
    const p = ${JSON.stringify(PROFILE)}
    const all = [
      new m.ContainerAuthenticator({ url, crTokenFilename: ${JSON.stringify(file)}, iamProfileId: p.id }),
      new m.IamAssumeAuthenticator({ url, apikey: ${JSON.stringify(secrets.apikey)}, iamProfileId: p.id }),
      new m.VpcInstanceAuthenticator({ url }),
      new m.CloudPakForDataAuthenticator({ url, username: 'debug-user', password: ${JSON.stringify(secrets.password)} }),
      new m.CloudPakForDataAuthenticator({ url, username: 'debug-user', apikey: ${JSON.stringify(secrets.cpdKey)} }),
      new m.McspAuthenticator({ url, apikey: ${JSON.stringify(secrets.mcsp)} }),
    ]
    Promise.all(all.map((a) => a.getToken())).then((ts) => console.log(JSON.stringify(ts)), (e) => { console.log('failed', e.code); process.exitCode = 1 })
  `
  const r = await runNode(code, { env: { WML_NATIVE_DEBUG: '1' } })
  assert.equal(r.signal, null, 'killed: the process did not exit by itself')
  assert.equal(r.code, 0, r.out + r.err)
  const tokens = JSON.parse(r.out)
  assert.equal(tokens.length, 6)
  for (const kind of ['cr-token', 'assume', 'VPC metadata', 'Cloud Pak for Data', 'MCSP']) assert.ok(r.err.includes(kind), `${kind} in the log`)
  for (const s of [...Object.values(secrets), ...tokens]) assert.ok(!r.err.includes(s), `a secret in the log: ${s.slice(0, 8)}...`)
})
