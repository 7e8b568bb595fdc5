// credentialsFromEnv / WmlClient.fromEnv: IBM's SDK configuration conventions
// (ibm-credentials.env, <NAME>_* variables, VCAP_SERVICES).
//
// Most tests pass an explicit { env, cwd, home } so nothing depends on this
// machine's environment; the WmlClient.fromEnv tests set process.env keys and
// restore them, or run a child process with a fresh environment.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { useFakeServer, useTmpDir } from './helpers/fake.mjs'
import { runNode } from './helpers/child.mjs'

const require = createRequire(import.meta.url)
const m = require('../index.js')
const { credentialsFromEnv, getAuthenticatorFromEnv } = require('../lib/env.js')
const { startFakeServer } = require('../testing/index.js')

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SECRET = 'sEcReT-apikey-0123456789abcdefABCDEF-xyz'
const SECRET2 = 'sEcReT-client-secret-9876'
const SECRET3 = 'sEcReT-bearer-token-5555'

let server
useFakeServer((s) => (server = s))
let tmp
useTmpDir('wml-env-test-', (d) => (tmp = d))

let dirs = 0
/** A fresh empty directory (no ibm-credentials.env in it). */
function dir() {
  const d = path.join(tmp, `d${++dirs}`)
  fs.mkdirSync(d)
  return d
}
/** Writes `text` to a new file in a fresh directory; returns its path. */
function file(text, name = 'ibm-credentials.env') {
  const p = path.join(dir(), name)
  fs.writeFileSync(p, text)
  return p
}
/** Reads credentials with exactly `env`, and cwd/home that hold no file unless given. */
function read(name, env, where = {}) {
  return credentialsFromEnv(name, { env, cwd: where.cwd ?? dir(), home: where.home ?? dir() })
}
/** The InvalidArgumentError `fn` throws; fails if it throws nothing. */
function thrown(fn) {
  try {
    fn()
  } catch (e) {
    assert.ok(e instanceof m.InvalidArgumentError, `expected InvalidArgumentError, got ${e && e.stack}`)
    assert.equal(e.code, 'ERR_INVALID_ARG')
    for (const s of [SECRET, SECRET2, SECRET3]) assert.ok(!e.message.includes(s), `secret in message: ${e.message}`)
    return e
  }
  assert.fail('expected a throw')
}

test('every <NAME>_ variable maps to its credential', () => {
  const creds = read('WML', {
    WML_URL: 'https://eu-de.ml.cloud.ibm.com',
    WML_APIKEY: SECRET,
    WML_AUTH_URL: 'https://iam.test.cloud.ibm.com',
    WML_VERSION: '2024-01-01',
    WML_CLIENT_ID: 'bx',
    WML_CLIENT_SECRET: SECRET2,
    WML_SCOPE: 'ibm openid',
    WML_DISABLE_SSL: 'true',
    OTHER_URL: 'https://elsewhere',
  })
  assert.deepEqual(creds, {
    url: 'https://eu-de.ml.cloud.ibm.com',
    apikey: SECRET,
    iamUrl: 'https://iam.test.cloud.ibm.com',
    version: '2024-01-01',
    clientId: 'bx',
    clientSecret: SECRET2,
    scope: 'ibm openid',
    disableSslVerification: true,
  })
  // Only what is set is returned.
  assert.deepEqual(read('WML', { WML_URL: 'https://x', WML_APIKEY: SECRET }), { url: 'https://x', apikey: SECRET })
})

test('the service name is upper-cased with - turned into _; the default is WML', () => {
  const env = { MY_ML_SERVICE_URL: 'https://a', MY_ML_SERVICE_APIKEY: 'k1', WML_URL: 'https://b', WML_APIKEY: 'k2' }
  assert.deepEqual(read('my-ml-service', env), { url: 'https://a', apikey: 'k1' })
  assert.deepEqual(read('My_Ml-Service', env), { url: 'https://a', apikey: 'k1' })
  assert.deepEqual(read('wml', env), { url: 'https://b', apikey: 'k2' })
  assert.deepEqual(credentialsFromEnv(undefined, { env, cwd: dir(), home: dir() }), { url: 'https://b', apikey: 'k2' })
  for (const bad of ['', '  ', 42, null]) thrown(() => read(bad, env))
})

test('a missing URL or key throws ERR_INVALID_ARG naming the variable, never a value', () => {
  let e = thrown(() => read('WML', { WML_APIKEY: SECRET }))
  assert.match(e.message, /^WML_URL is not set \(environment or ibm-credentials\.env\)/)
  e = thrown(() => read('WML', { WML_URL: 'https://x', WML_CLIENT_SECRET: SECRET2 }))
  assert.match(e.message, /^WML_APIKEY is not set/)
  e = thrown(() => read('my-svc', {}))
  assert.match(e.message, /^MY_SVC_URL is not set/)
  // Empty or blank values count as not set.
  e = thrown(() => read('WML', { WML_URL: 'https://x', WML_APIKEY: '  ' }))
  assert.match(e.message, /WML_APIKEY/)
})

test('AUTH_TYPE: iam and bearerToken (any case) go into the credentials as is, unknown types are named', () => {
  const base = { WML_URL: 'https://x' }
  // Without a type: iam when there is a key (IBM's rule)...
  assert.deepEqual(read('WML', { ...base, WML_APIKEY: SECRET, WML_BEARER_TOKEN: SECRET3 }), { url: 'https://x', apikey: SECRET })
  // ...else container, even with a bearer token (IBM's rule, whose container needs a profile).
  let e = thrown(() => read('WML', { ...base, WML_BEARER_TOKEN: SECRET3 }))
  assert.match(e.message, /^WML_APIKEY is not set .*the auth type is container, as in IBM's SDK core, which needs WML_IAM_PROFILE_NAME/)
  // bearerToken: only the token is used.
  assert.deepEqual(
    read('WML', { ...base, WML_AUTH_TYPE: 'bearerToken', WML_APIKEY: SECRET, WML_BEARER_TOKEN: SECRET3 }),
    { url: 'https://x', token: SECRET3 },
  )
  assert.deepEqual(read('WML', { ...base, WML_AUTH_TYPE: 'IAM', WML_APIKEY: SECRET }), { url: 'https://x', apikey: SECRET })
  // The older AUTHTYPE spelling works too.
  assert.deepEqual(read('WML', { ...base, WML_AUTHTYPE: 'bearertoken', WML_BEARER_TOKEN: SECRET3 }), { url: 'https://x', token: SECRET3 })

  e = thrown(() => read('WML', { ...base, WML_AUTH_TYPE: 'basic', WML_APIKEY: SECRET }))
  assert.match(e.message, /WML_AUTH_TYPE "basic" is not supported \(WML takes bearer tokens; for Cloud Pak for Data use cp4d\)/)
  e = thrown(() => read('WML', { ...base, WML_AUTH_TYPE: 'zen', WML_APIKEY: SECRET }))
  assert.match(e.message, /WML_AUTH_TYPE "zen" is not supported: use one of iam, container, vpc, cp4d, iamassume, mcsp, bearertoken, noauth/)
  e = thrown(() => read('WML', { ...base, WML_AUTH_TYPE: 'container' }))
  assert.match(e.message, /^none of WML_IAM_PROFILE_NAME, WML_IAM_PROFILE_ID, WML_IAM_PROFILE_CRN is set .*, but WML_AUTH_TYPE is container/)
  e = thrown(() => read('WML', { ...base, WML_AUTH_TYPE: 'bearerToken', WML_APIKEY: SECRET }))
  assert.match(e.message, /^WML_BEARER_TOKEN is not set/)
  e = thrown(() => read('WML', { ...base, WML_AUTH_TYPE: 'iam', WML_BEARER_TOKEN: SECRET3 }))
  assert.match(e.message, /^WML_APIKEY is not set/)
})

test('AUTH_DISABLE_SSL or DISABLE_SSL "true" turns off TLS verification; other values do not', () => {
  const base = { WML_URL: 'https://x', WML_APIKEY: 'k' }
  assert.equal(read('WML', { ...base, WML_AUTH_DISABLE_SSL: 'true' }).disableSslVerification, true)
  assert.equal(read('WML', { ...base, WML_DISABLE_SSL: 'TRUE' }).disableSslVerification, true)
  for (const v of ['false', '1', 'yes', '']) {
    assert.equal(read('WML', { ...base, WML_DISABLE_SSL: v, WML_AUTH_DISABLE_SSL: v }).disableSslVerification, undefined)
  }
})

test('the credentials file: comments, quotes, export, CRLF, trailing comments', () => {
  const p = file(
    [
      '# IBM Cloud credentials',
      '',
      'WML_URL=https://us-south.ml.cloud.ibm.com   # Dallas',
      `export WML_APIKEY="${SECRET}"`,
      "WML_AUTH_URL='https://iam.test.cloud.ibm.com'",
      '  WML_VERSION = 2023-05-29  ',
      'not a setting',
      'WML_SCOPE=`ibm openid`',
      'WML_AUTH_DISABLE_SSL=true',
    ].join('\r\n'),
  )
  assert.deepEqual(read('WML', { IBM_CREDENTIALS_FILE: p }), {
    url: 'https://us-south.ml.cloud.ibm.com',
    apikey: SECRET,
    iamUrl: 'https://iam.test.cloud.ibm.com',
    version: '2023-05-29',
    scope: 'ibm openid',
    disableSslVerification: true,
  })
  // IBM_CREDENTIALS_FILE may name the directory that holds ibm-credentials.env.
  assert.equal(read('WML', { IBM_CREDENTIALS_FILE: path.dirname(p) }).apikey, SECRET)
  // Another file name is fine when given explicitly.
  const other = file(`WML_URL=https://x\nWML_APIKEY=${SECRET}\n`, 'prod.env')
  assert.equal(read('WML', { IBM_CREDENTIALS_FILE: other }).url, 'https://x')
})

test('IBM_CREDENTIALS_FILE that finds no file is an error naming it', () => {
  const missing = path.join(tmp, 'nope', 'creds.env')
  const e = thrown(() => read('WML', { IBM_CREDENTIALS_FILE: missing, WML_URL: 'https://x', WML_APIKEY: SECRET }))
  assert.match(e.message, /^IBM_CREDENTIALS_FILE is set to .*nope/)
})

test('precedence: a file with any <NAME>_ setting is the only source; else the environment', () => {
  const env = { WML_URL: 'https://env', WML_APIKEY: 'env-key' }
  // The file has WML_ settings: the environment is not read at all (as in IBM's core)...
  const partial = file('WML_URL=https://file\n')
  const e = thrown(() => read('WML', { ...env, IBM_CREDENTIALS_FILE: partial }))
  assert.match(e.message, /^WML_APIKEY is not set in .*ibm-credentials\.env \(it has other WML_ settings, so the environment is not read\)/)
  const full = file('WML_URL=https://file\nWML_APIKEY=file-key\n')
  assert.deepEqual(read('WML', { ...env, IBM_CREDENTIALS_FILE: full }), { url: 'https://file', apikey: 'file-key' })
  // ...but a file with only other services' settings leaves the environment in charge.
  const others = file('OTHER_URL=https://other\nOTHER_APIKEY=o\n')
  assert.deepEqual(read('WML', { ...env, IBM_CREDENTIALS_FILE: others }), { url: 'https://env', apikey: 'env-key' })
  assert.deepEqual(read('other', { ...env, IBM_CREDENTIALS_FILE: others }), { url: 'https://other', apikey: 'o' })
})

test('file lookup: IBM_CREDENTIALS_FILE, else the working directory, else the home directory', () => {
  const cwd = path.dirname(file('WML_URL=https://cwd\nWML_APIKEY=c\n'))
  const home = path.dirname(file('WML_URL=https://home\nWML_APIKEY=h\n'))
  const given = file('WML_URL=https://given\nWML_APIKEY=g\n')
  assert.equal(read('WML', { IBM_CREDENTIALS_FILE: given }, { cwd, home }).url, 'https://given')
  assert.equal(read('WML', {}, { cwd, home }).url, 'https://cwd')
  assert.equal(read('WML', {}, { home }).url, 'https://home')
  // The home file beats the environment too, when it has WML_ settings.
  assert.equal(read('WML', { WML_URL: 'https://env', WML_APIKEY: 'e' }, { home }).url, 'https://home')
})

test('VCAP_SERVICES is read last: instance name first, then service key', () => {
  const vcap = JSON.stringify({
    'pm-20': [{ name: 'my-wml', credentials: { url: 'https://vcap-instance', apikey: 'vi' } }],
    WML: [{ name: 'whatever', credentials: { url: 'https://vcap-key', apikey: 'vk' } }],
  })
  assert.deepEqual(read('my-wml', { VCAP_SERVICES: vcap }), { url: 'https://vcap-instance', apikey: 'vi' })
  assert.deepEqual(read('WML', { VCAP_SERVICES: vcap }), { url: 'https://vcap-key', apikey: 'vk' })
  // The environment wins over VCAP_SERVICES.
  assert.equal(read('WML', { VCAP_SERVICES: vcap, WML_URL: 'https://env', WML_APIKEY: 'e' }).url, 'https://env')
  thrown(() => read('absent', { VCAP_SERVICES: vcap }))
  const e = thrown(() => read('WML', { VCAP_SERVICES: `{"apikey": "${SECRET}"` }))
  assert.match(e.message, /VCAP_SERVICES is set but is not valid JSON/)
  // This package's own WML_NATIVE_* variables are not WML service settings: they do not hide VCAP_SERVICES.
  const own = { WML_NATIVE_DEBUG: '1', WML_NATIVE_TOKEN_STORE: 'redis://127.0.0.1:1', WML_NATIVE_TEST_LOOPBACK_ONLY: '1' }
  assert.deepEqual(read('WML', { ...own, VCAP_SERVICES: vcap }), { url: 'https://vcap-key', apikey: 'vk' })
})

// ------------------------------------------------------------ WmlClient.fromEnv

/** Sets process.env keys for the duration of `fn`, then restores them. */
async function withEnv(vars, fn) {
  const saved = {}
  for (const k of Object.keys(vars)) {
    saved[k] = process.env[k]
    if (vars[k] === undefined) delete process.env[k]
    else process.env[k] = vars[k]
  }
  try {
    return await fn()
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

const payload = { input_data: [{ fields: ['AGE'], values: [[30], [71]] }] }

test('WmlClient.fromEnv() scores against the fake server (credentials file)', async () => {
  const key = `env-file-key-${process.pid}`
  const p = file(`MY_WML_URL=${server.url}\nMY_WML_APIKEY=${key}\nMY_WML_AUTH_URL=${server.url}\nMY_WML_VERSION=2022-02-02\n`)
  await withEnv({ IBM_CREDENTIALS_FILE: p }, async () => {
    const client = m.WmlClient.fromEnv('my-wml')
    const res = await client.score('dep-env', payload)
    assert.deepEqual(res.predictions[0].values.map((v) => v[0]), ['N', 'Y'])
    assert.equal(server.iamRequestsFor(key), 1)
    assert.equal(server.lastRequest('predictions').query.version, '2022-02-02')
    // A missing setting surfaces from fromEnv as the package's InvalidArgumentError.
    const e = thrown(() => m.WmlClient.fromEnv('not-configured-anywhere'))
    assert.match(e.message, /^NOT_CONFIGURED_ANYWHERE_URL is not set/)
  })
})

test('WmlClient.fromEnv() with environment variables only, in a fresh child process', async () => {
  const cwd = dir()
  const key = `env-child-key-${process.pid}`
  const script = `
    const { WmlClient } = require(${JSON.stringify(ROOT)})
    WmlClient.fromEnv().score('dep-child', ${JSON.stringify(payload)})
      .then((r) => console.log(JSON.stringify(r)), (e) => { console.error(e.code, e.message); process.exit(1) })`
  const env = { HOME: cwd, WML_URL: server.url, WML_APIKEY: key, WML_AUTH_URL: server.url }
  const { code, out, err } = await runNode(script, { cwd, env, fresh: true })
  assert.equal(code, 0, err)
  assert.equal(JSON.parse(out).predictions[0].values.length, 2)
  assert.equal(server.iamRequestsFor(key), 1)
})

test('WML_DISABLE_SSL=true lets fromEnv() reach a server with an untrusted certificate', async () => {
  const tls = await startFakeServer({ tls: true })
  try {
    const vars = { IBM_CREDENTIALS_FILE: undefined, TLSWML_URL: tls.url, TLSWML_AUTH_URL: tls.url, TLSWML_APIKEY: `tls-${process.pid}` }
    await withEnv(vars, async () => {
      // Unknown CA: rejected...
      const err = await m.WmlClient.fromEnv('tlswml').score('d', payload).catch((e) => e)
      assert.equal(err.code, 'ERR_TLS')
      // ...unless verification is turned off.
      await withEnv({ TLSWML_DISABLE_SSL: 'true' }, async () => {
        const res = await m.WmlClient.fromEnv('tlswml').score('d', payload)
        assert.equal(res.predictions[0].values.length, 2)
      })
    })
  } finally {
    await tls.close()
  }
})

// ------------------------------------------------------------ every auth type

/** `getAuthenticatorFromEnv` with exactly `env` (cwd/home hold no file). */
function auth(name, env) {
  return getAuthenticatorFromEnv(name, { env, cwd: dir(), home: dir() })
}

test('getAuthenticatorFromEnv: each auth type builds its authenticator with the sdk-core property names', () => {
  const cases = [
    [{ WML_APIKEY: SECRET }, m.IamAuthenticator, 'iam', { url: 'https://iam.cloud.ibm.com', apikey: '<redacted>' }],
    [
      { WML_AUTH_TYPE: 'IAM', WML_APIKEY: SECRET, WML_AUTH_URL: 'https://iam.test', WML_CLIENT_ID: 'bx', WML_CLIENT_SECRET: SECRET2, WML_SCOPE: 's' },
      m.IamAuthenticator,
      'iam',
      { url: 'https://iam.test', clientId: 'bx', scope: 's', apikey: '<redacted>', clientSecret: '<redacted>' },
    ],
    [
      { WML_AUTH_TYPE: 'conTAINer', WML_IAM_PROFILE_NAME: 'p', WML_CR_TOKEN_FILENAME: '/t', WML_AUTH_URL: 'https://iam.test' },
      m.ContainerAuthenticator,
      'container',
      { url: 'https://iam.test', crTokenFilename: '/t', iamProfileName: 'p' },
    ],
    // No type and no key: container (IBM's default).
    [{ WML_IAM_PROFILE_ID: 'Profile-1' }, m.ContainerAuthenticator, 'container', { url: 'https://iam.cloud.ibm.com', iamProfileId: 'Profile-1' }],
    [
      { WML_AUTH_TYPE: 'iamassume', WML_APIKEY: SECRET, WML_IAM_PROFILE_NAME: 'p', WML_IAM_ACCOUNT_ID: 'acc' },
      m.IamAssumeAuthenticator,
      'iamAssume',
      { url: 'https://iam.cloud.ibm.com', iamProfileName: 'p', iamAccountId: 'acc', apikey: '<redacted>' },
    ],
    [{ WML_AUTH_TYPE: 'vPc', WML_IAM_PROFILE_CRN: 'crn:1' }, m.VpcInstanceAuthenticator, 'vpc', { url: 'http://169.254.169.254', iamProfileCrn: 'crn:1' }],
    [
      { WML_AUTH_TYPE: 'cP4d', WML_URL: 'https://cpd.example.com', WML_USERNAME: 'admin', WML_PASSWORD: SECRET2 },
      m.CloudPakForDataAuthenticator,
      'cp4d',
      { url: 'https://cpd.example.com', username: 'admin', password: '<redacted>' },
    ],
    [
      { WML_AUTH_TYPE: 'cp4d', WML_URL: 'https://wml', WML_AUTH_URL: 'https://cpd/icp4d-api', WML_USERNAME: 'u', WML_APIKEY: SECRET },
      m.CloudPakForDataAuthenticator,
      'cp4d',
      { url: 'https://cpd/icp4d-api', username: 'u', apikey: '<redacted>' },
    ],
    [{ WML_AUTH_TYPE: 'mcsp', WML_APIKEY: SECRET, WML_AUTH_URL: 'https://account-iam.example' }, m.McspAuthenticator, 'mcsp', { url: 'https://account-iam.example', apikey: '<redacted>' }],
    [{ WML_AUTH_TYPE: 'BeaRerToken', WML_BEARER_TOKEN: SECRET3 }, m.BearerTokenAuthenticator, 'bearerToken', { bearerToken: '<redacted>' }],
    [{ WML_AUTH_TYPE: 'noauth' }, m.NoAuthAuthenticator, 'noAuth', {}],
  ]
  for (const [env, Class, type, shown] of cases) {
    const a = auth('WML', env)
    assert.ok(a instanceof Class, `${JSON.stringify(env)} -> ${a.constructor.name}`)
    assert.equal(a.authenticationType(), type)
    assert.deepEqual(JSON.parse(JSON.stringify(a)), shown)
  }
  // The default service name is WML, as for fromEnv.
  assert.ok(getAuthenticatorFromEnv(undefined, { env: { WML_APIKEY: 'k' }, cwd: dir(), home: dir() }) instanceof m.IamAuthenticator)
})

test('getAuthenticatorFromEnv: what a type lacks is named by variable, never by value', () => {
  const cases = [
    [{ WML_AUTH_TYPE: 'iam' }, /^WML_APIKEY is not set .*, but WML_AUTH_TYPE is iam/],
    [{ WML_AUTH_TYPE: 'iamassume', WML_APIKEY: SECRET }, /^none of WML_IAM_PROFILE_ID, WML_IAM_PROFILE_CRN, WML_IAM_PROFILE_NAME is set/],
    [{ WML_AUTH_TYPE: 'iamassume', WML_APIKEY: SECRET, WML_IAM_PROFILE_NAME: 'p' }, /iamProfileName needs iamAccountId/],
    [{ WML_AUTH_TYPE: 'cp4d', WML_PASSWORD: SECRET2 }, /^WML_USERNAME is not set/],
    [{ WML_AUTH_TYPE: 'cp4d', WML_USERNAME: 'u', WML_URL: 'https://x' }, /^none of WML_PASSWORD, WML_APIKEY is set/],
    [{ WML_AUTH_TYPE: 'cp4d', WML_USERNAME: 'u', WML_PASSWORD: SECRET2 }, /url is required/],
    [{ WML_AUTH_TYPE: 'mcsp', WML_APIKEY: SECRET }, /^WML_AUTH_URL is not set/],
    [{ WML_AUTH_TYPE: 'bearertoken', WML_APIKEY: SECRET }, /^WML_BEARER_TOKEN is not set/],
    [{ WML_AUTH_TYPE: 'vpc', WML_IAM_PROFILE_ID: 'a', WML_IAM_PROFILE_CRN: 'b' }, /at most one/],
    [{ WML_AUTH_TYPE: 'vpc', WML_AUTH_URL: 'http://example.com' }, /url must be https/],
    [{}, /^WML_APIKEY is not set/],
  ]
  for (const [env, pattern] of cases) {
    const e = thrown(() => auth('WML', env))
    assert.match(e.message, pattern, JSON.stringify(env))
  }
})

test('credentialsFromEnv: other auth types become { authenticator }; DISABLE_SSL is the service\'s, AUTH_DISABLE_SSL the token service\'s', async () => {
  const creds = read('WML', {
    WML_URL: 'https://cpd.example.com',
    WML_VERSION: '2024-01-01',
    WML_AUTH_TYPE: 'cp4d',
    WML_USERNAME: 'admin',
    WML_PASSWORD: SECRET2,
    WML_AUTH_DISABLE_SSL: 'true',
  })
  assert.deepEqual(Object.keys(creds), ['url', 'version', 'authenticator'])
  assert.ok(creds.authenticator instanceof m.CloudPakForDataAuthenticator)
  // The cp4d password stays inside the authenticator: the credentials show it redacted.
  assert.equal(JSON.stringify(creds).includes(SECRET2), false)
  assert.match(JSON.stringify(creds), /"password":"<redacted>"/)
  const both = read('WML', { WML_URL: 'https://x', WML_AUTH_TYPE: 'vpc', WML_DISABLE_SSL: 'true' })
  assert.equal(both.disableSslVerification, true)
  assert.ok(both.authenticator instanceof m.VpcInstanceAuthenticator)
  // Against a token service whose certificate no one trusts: AUTH_DISABLE_SSL reaches it, DISABLE_SSL does not.
  const tls = await startFakeServer({ tls: true })
  try {
    const cp4d = (extra) =>
      read('WML', { WML_URL: tls.url, WML_AUTH_TYPE: 'cp4d', WML_USERNAME: 'admin', WML_PASSWORD: 'password', ...extra }).authenticator
    assert.equal(typeof (await cp4d({ WML_AUTH_DISABLE_SSL: 'true' }).getToken()), 'string')
    const err = await cp4d({ WML_DISABLE_SSL: 'true' }).getToken().catch((e) => e)
    assert.equal(err.code, 'ERR_TLS')
  } finally {
    await tls.close()
  }
})

test('WmlClient.fromEnv() with container and cp4d settings scores against the fake server', async () => {
  const crFile = path.join(dir(), 'token')
  fs.writeFileSync(crFile, `env-cr-token-${process.pid}`)
  const profile = require('../testing/index.js').DEFAULT_TRUSTED_PROFILES[0]
  const vars = {
    IBM_CREDENTIALS_FILE: undefined,
    CRWML_URL: server.url,
    CRWML_AUTH_TYPE: 'container',
    CRWML_AUTH_URL: server.url,
    CRWML_CR_TOKEN_FILENAME: crFile,
    CRWML_IAM_PROFILE_ID: profile.id,
    CPDWML_URL: server.url,
    CPDWML_AUTH_TYPE: 'cp4d',
    CPDWML_USERNAME: 'admin',
    CPDWML_APIKEY: 'cpd-apikey',
  }
  await withEnv(vars, async () => {
    assert.equal((await m.WmlClient.fromEnv('crwml').score('d', payload)).predictions.length, 1)
    assert.equal(server.stats.iamByCrToken.get(`env-cr-token-${process.pid}`), 1)
    const a = m.getAuthenticatorFromEnv('cpdwml')
    assert.match(await a.getToken(), /^ey/)
    assert.deepEqual(server.lastRequest('cpd').json, { username: 'admin', api_key: 'cpd-apikey' })
    assert.equal((await m.WmlClient.fromEnv('cpdwml').score('d', payload)).predictions.length, 1)
  })
})

test('<NAME>_PROJECT_ID and <NAME>_SPACE_ID become the watsonx.ai project and space, for any auth type', () => {
  assert.deepEqual(read('WML', { WML_URL: 'https://x', WML_APIKEY: SECRET, WML_PROJECT_ID: 'p-1' }), { url: 'https://x', apikey: SECRET, projectId: 'p-1' })
  const bearer = read('WML', { WML_URL: 'https://x', WML_AUTH_TYPE: 'bearertoken', WML_BEARER_TOKEN: 'tok', WML_SPACE_ID: 's-1', WML_VERSION: '2024-05-01' })
  assert.equal(bearer.spaceId, 's-1')
  assert.equal(bearer.version, '2024-05-01')
  assert.equal(bearer.projectId, undefined)
})
