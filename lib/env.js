'use strict'
// credentialsFromEnv and getAuthenticatorFromEnv: WmlCredentials and
// authenticators from the environment, the way IBM's own Node SDK core
// (ibm-cloud-sdk-core `readExternalSources` and
// `getAuthenticatorFromEnvironment`) reads them, so an `ibm-credentials.env`
// file or a set of `<NAME>_*` variables written for an IBM SDK configures
// this package too.
//
// Sources, first match wins, and only ONE source is used (as in IBM's core):
//   1. a credentials file: `IBM_CREDENTIALS_FILE` (a file, or a directory
//      holding `ibm-credentials.env`), else `./ibm-credentials.env` (current
//      working directory), else `~/ibm-credentials.env`;
//   2. the process environment;
//   3. `VCAP_SERVICES` (Cloud Foundry): `url` and `apikey` of the entry whose
//      instance name, else service key, equals the service name.
// A source "matches" when it has any `<NAME>_` property at all: a file that
// sets only `WML_URL` hides a `WML_APIKEY` in the environment. Error messages
// say which source was read so that surprise is easy to diagnose.
//
// The auth type (`<NAME>_AUTH_TYPE`, or the older `<NAME>_AUTHTYPE`, any
// case) is one of AUTH_TYPES; without one it is `iam` when there is an API
// key and `container` otherwise, as in IBM's core.
//
// No message ever quotes the value of a variable; only names and paths.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { invalid } = require('./errors')

const FILE_NAME = 'ibm-credentials.env'

/** `<NAME>_<suffix>` -> WmlCredentials field, for the service's own string properties (any auth type). */
const SERVICE_PROPERTIES = {
  VERSION: 'version',
  PROJECT_ID: 'projectId',
  SPACE_ID: 'spaceId',
}

/** `<NAME>_<suffix>` -> WmlCredentials field, for the plain string properties of an API key client. */
const STRING_PROPERTIES = {
  URL: 'url',
  AUTH_URL: 'iamUrl',
  CLIENT_ID: 'clientId',
  CLIENT_SECRET: 'clientSecret',
  SCOPE: 'scope',
  ...SERVICE_PROPERTIES,
}

/** The AUTH_TYPE values this package acts on (IBM compares them case-insensitively), with their authenticator classes (lib/authenticators.js). */
const CLASSES = {
  iam: 'IamAuthenticator',
  container: 'ContainerAuthenticator',
  vpc: 'VpcInstanceAuthenticator',
  cp4d: 'CloudPakForDataAuthenticator',
  iamassume: 'IamAssumeAuthenticator',
  mcsp: 'McspAuthenticator',
  bearertoken: 'BearerTokenAuthenticator',
  noauth: 'NoAuthAuthenticator',
}
const AUTH_TYPES = Object.keys(CLASSES)

/** `<NAME>_<suffix>` -> authenticator option, per auth type (`url` is special: see `authUrl`). */
const IAM_OPTIONS = { CLIENT_ID: 'clientId', CLIENT_SECRET: 'clientSecret', SCOPE: 'scope' }
const PROFILE_OPTIONS = { IAM_PROFILE_ID: 'iamProfileId', IAM_PROFILE_NAME: 'iamProfileName', IAM_PROFILE_CRN: 'iamProfileCrn' }
const OPTIONS = {
  iam: { APIKEY: 'apikey', ...IAM_OPTIONS },
  container: { CR_TOKEN_FILENAME: 'crTokenFilename', ...PROFILE_OPTIONS, ...IAM_OPTIONS },
  iamassume: { APIKEY: 'apikey', ...PROFILE_OPTIONS, IAM_ACCOUNT_ID: 'iamAccountId', ...IAM_OPTIONS },
  vpc: { ...PROFILE_OPTIONS },
  cp4d: { USERNAME: 'username', PASSWORD: 'password', APIKEY: 'apikey' },
  mcsp: { APIKEY: 'apikey' },
  bearertoken: { BEARER_TOKEN: 'bearerToken' },
  noauth: {},
}

/**
 * The `<NAME>_*` settings of one source: `get(suffix)` (blank counts as
 * unset), the prefix, and `missing(suffix, hint)` errors naming the variable.
 * @param {unknown} serviceName
 * @param {{ env?: Record<string, string | undefined>, cwd?: string, home?: string }} where
 */
function settings(serviceName, where) {
  if (typeof serviceName !== 'string' || serviceName.trim() === '') {
    throw invalid('serviceName must be a non-empty string, e.g. "WML"')
  }
  const env = where.env ?? process.env
  const prefix = serviceName.trim().toUpperCase().replace(/-/g, '_') + '_'
  const { props, describe } = findSource(serviceName.trim(), prefix, env, where)
  /** @param {string} suffix */
  const get = (suffix) => {
    const v = props[suffix]
    return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined
  }
  /** @param {string} suffix @param {string} [hint] */
  const missing = (suffix, hint = '') => invalid(`${prefix}${suffix} is not set ${describe}${hint}`)
  return { prefix, get, missing, describe }
}

/**
 * The auth type: `<NAME>_AUTH_TYPE` (or `AUTHTYPE`), lower-cased, else IBM
 * core's default (`iam` with an API key, else `container`). `defaulted`
 * says there was none.
 */
function authTypeOf({ prefix, get }) {
  const name = get('AUTH_TYPE') !== undefined ? 'AUTH_TYPE' : 'AUTHTYPE'
  const given = get(name)
  if (given === undefined) return { type: get('APIKEY') ? 'iam' : 'container', name, defaulted: true }
  const type = given.toLowerCase()
  if (!AUTH_TYPES.includes(type)) {
    // The value of AUTH_TYPE is not a secret; quote it only if it looks like a word.
    const shown = /^[A-Za-z0-9_-]{1,32}$/.test(given) ? ` "${given}"` : ''
    const why = type === 'basic' ? ' (WML takes bearer tokens; for Cloud Pak for Data use cp4d)' : ''
    throw invalid(`${prefix}${name}${shown} is not supported${why}: use one of ${AUTH_TYPES.join(', ')}`)
  }
  return { type, name, defaulted: false }
}

/**
 * Checks that `type` has what it needs, naming the variables that are
 * missing (the authenticator's constructor checks the rest).
 */
function requireSettings(s, { type, name, defaulted }) {
  const { prefix, get, missing, describe } = s
  const because = `, but ${prefix}${name} is ${type}`
  const need = (suffix) => {
    if (get(suffix) === undefined) throw missing(suffix, because)
  }
  /** @param {string[]} suffixes */
  const noneOf = (suffixes) => invalid(`none of ${suffixes.map((x) => prefix + x).join(', ')} is set ${describe}${because}`)
  const anyProfile = () => Object.keys(PROFILE_OPTIONS).some((k) => get(k) !== undefined)
  switch (type) {
    case 'iam':
    case 'mcsp':
      need('APIKEY')
      if (type === 'mcsp') need('AUTH_URL')
      break
    case 'iamassume':
      need('APIKEY')
      if (!anyProfile()) throw noneOf(['IAM_PROFILE_ID', 'IAM_PROFILE_CRN', 'IAM_PROFILE_NAME'])
      break
    case 'container':
      if (defaulted && !anyProfile()) {
        throw missing(
          'APIKEY',
          `: set it to an IBM Cloud API key, or set ${prefix}AUTH_TYPE (${AUTH_TYPES.join(', ')}) and its settings` +
            ` (with neither, the auth type is container, as in IBM's SDK core, which needs ${prefix}IAM_PROFILE_NAME, _ID or _CRN)`,
        )
      }
      if (!anyProfile()) throw noneOf(['IAM_PROFILE_NAME', 'IAM_PROFILE_ID', 'IAM_PROFILE_CRN'])
      break
    case 'cp4d':
      need('USERNAME')
      if (get('PASSWORD') === undefined && get('APIKEY') === undefined) throw noneOf(['PASSWORD', 'APIKEY'])
      break
    case 'bearertoken':
      need('BEARER_TOKEN')
      break
  }
}

/**
 * The authenticator for `type` from the settings: its options named as
 * ibm-cloud-sdk-core names them. The token service URL is `<NAME>_AUTH_URL`;
 * for cp4d, the service URL `<NAME>_URL` when there is no AUTH_URL (Cloud
 * Pak for Data serves its authorize endpoint on the cluster's URL).
 */
function buildAuthenticator(s, type) {
  const { get } = s
  const A = require('./authenticators')
  /** @type {Record<string, unknown>} */
  const options = {}
  for (const [suffix, option] of Object.entries(OPTIONS[type])) {
    const v = get(suffix)
    if (v !== undefined) options[option] = v
  }
  const url = get('AUTH_URL') ?? (type === 'cp4d' ? get('URL') : undefined)
  if (url !== undefined) options.url = url
  if (isTrue(get('AUTH_DISABLE_SSL'))) options.disableSslVerification = true
  return new A[CLASSES[type]](options)
}

/**
 * The authenticator `<NAME>_AUTH_TYPE` and its settings describe (default
 * name `"WML"`). Throws InvalidArgumentError naming what is missing.
 *
 * @param {string} [serviceName]
 * @param {{ env?: Record<string, string | undefined>, cwd?: string, home?: string }} [where] see credentialsFromEnv
 */
function getAuthenticatorFromEnv(serviceName = 'WML', where = {}) {
  const s = settings(serviceName, where)
  const t = authTypeOf(s)
  requireSettings(s, t)
  return buildAuthenticator(s, t.type)
}

/**
 * Whether any source holds a `<NAME>_` setting for `serviceName`.
 * @param {string} serviceName
 * @param {{ env?: Record<string, string | undefined>, cwd?: string, home?: string }} [where]
 */
function hasSettings(serviceName, where = {}) {
  const env = where.env ?? process.env
  const prefix = serviceName.toUpperCase().replace(/-/g, '_') + '_'
  return Object.keys(findSource(serviceName, prefix, env, where).props).length > 0
}

/**
 * WmlCredentials for `serviceName` (default `"WML"`) from a credentials file,
 * the environment or VCAP_SERVICES. Throws InvalidArgumentError naming the
 * variable that is missing or wrong. An API key (`iam`) or a bearer token
 * (`bearertoken`) goes into the credentials as is; every other auth type
 * becomes `{ authenticator }`.
 *
 * @param {string} [serviceName]
 * @param {{ env?: Record<string, string | undefined>, cwd?: string, home?: string }} [where]
 *   where to look; defaults to `process.env`, `process.cwd()`, `os.homedir()` (for tests)
 */
function credentialsFromEnv(serviceName = 'WML', where = {}) {
  const s = settings(serviceName, where)
  const { get, missing } = s
  if (!get('URL')) throw missing('URL', ': it is the service URL, e.g. https://us-south.ml.cloud.ibm.com')
  const t = authTypeOf(s)
  requireSettings(s, t)

  /** @type {Record<string, unknown>} */
  const creds = {}
  if (t.type === 'iam') {
    for (const [suffix, field] of Object.entries(STRING_PROPERTIES)) {
      const v = get(suffix)
      if (v !== undefined) creds[field] = v
    }
    creds.apikey = get('APIKEY')
    // Either flag turns verification off: an API key client has one TLS setting for IAM and WML.
    if (isTrue(get('AUTH_DISABLE_SSL')) || isTrue(get('DISABLE_SSL'))) creds.disableSslVerification = true
    return creds
  }
  creds.url = get('URL')
  for (const [suffix, field] of Object.entries(SERVICE_PROPERTIES)) {
    const v = get(suffix)
    if (v !== undefined) creds[field] = v
  }
  if (t.type === 'bearertoken') creds.token = get('BEARER_TOKEN')
  else creds.authenticator = buildAuthenticator(s, t.type)
  // The service's own TLS setting; the token service's is AUTH_DISABLE_SSL (as in IBM's core).
  if (isTrue(get('DISABLE_SSL')) || (t.type === 'bearertoken' && isTrue(get('AUTH_DISABLE_SSL')))) creds.disableSslVerification = true
  return creds
}

function isTrue(v) {
  return v !== undefined && v.toLowerCase() === 'true'
}

/**
 * The one source to read: `{ props, describe }`, `props` keyed by the
 * suffix after the prefix, `describe` saying where they came from.
 */
function findSource(serviceName, prefix, env, where) {
  const file = credentialsFile(env, where)
  if (file) {
    const props = withPrefix(parseCredentialsFile(readFile(file)), prefix)
    if (Object.keys(props).length > 0) {
      return { props, describe: `in ${file} (it has other ${prefix} settings, so the environment is not read)` }
    }
  }
  const props = withPrefix(env, prefix)
  if (Object.keys(props).length > 0) return { props, describe: `(environment or ${FILE_NAME})` }

  const vcap = vcapCredentials(env.VCAP_SERVICES, serviceName)
  if (vcap) return { props: vcap, describe: `(environment or ${FILE_NAME}; the VCAP_SERVICES entry "${serviceName}" lacks it too)` }
  return { props: {}, describe: `(environment or ${FILE_NAME})` }
}

/** This package's own variables (WML_NATIVE_DEBUG, WML_NATIVE_TOKEN_STORE, ...): never a service's settings. */
const OWN_PREFIX = 'WML_NATIVE_'

/** The `<prefix>*` entries of `obj`, keyed by what follows the prefix. */
function withPrefix(obj, prefix) {
  const out = {}
  for (const key of Object.keys(obj)) {
    if (key.startsWith(prefix) && key.length > prefix.length && !key.startsWith(OWN_PREFIX)) out[key.slice(prefix.length)] = obj[key]
  }
  return out
}

/**
 * The credentials file to read, or undefined. As in IBM's core:
 * `IBM_CREDENTIALS_FILE` (a file, or a directory holding ibm-credentials.env),
 * else the working directory's file, else the home directory's.
 * Unlike IBM's core (which crashes with a TypeError), a set
 * `IBM_CREDENTIALS_FILE` that finds nothing is a clear error.
 */
function credentialsFile(env, where) {
  const given = env.IBM_CREDENTIALS_FILE
  if (given) {
    if (isFile(given)) return given
    const inside = path.join(given, FILE_NAME)
    if (isFile(inside)) return inside
    throw invalid(`IBM_CREDENTIALS_FILE is set to ${given}, but there is no such file (nor ${FILE_NAME} in it)`)
  }
  for (const dir of [where.cwd ?? process.cwd(), where.home ?? os.homedir()]) {
    const candidate = path.join(dir, FILE_NAME)
    if (isFile(candidate)) return candidate
  }
  return undefined
}

function isFile(p) {
  try {
    return fs.statSync(p).isFile()
  } catch {
    return false
  }
}

function readFile(file) {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (e) {
    throw invalid(`cannot read the credentials file ${file} (${/** @type {NodeJS.ErrnoException} */ (e).code || 'error'})`)
  }
}

/**
 * Parses `KEY=value` lines the way the `dotenv` package IBM's core uses does,
 * for the cases a credentials file needs: blank lines and `#` comments are
 * skipped, an optional `export ` prefix is allowed, values may be quoted with
 * `"`, `'` or a backtick (double quotes expand `\n`), and an unquoted value
 * ends at a `#` (a trailing comment). Lines that are not `KEY=value` are ignored.
 */
function parseCredentialsFile(text) {
  const out = {}
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([\w.-]+)\s*=\s*(.*)$/.exec(raw)
    if (!m) continue
    const [, key, rest] = m
    let value
    const q = /^(["'`])(.*)\1\s*(?:#.*)?$/.exec(rest)
    if (q) {
      value = q[1] === '"' ? q[2].replace(/\\n/g, '\n').replace(/\\r/g, '\r') : q[2]
    } else {
      value = rest.replace(/#.*$/, '').trim()
    }
    out[key] = value
  }
  return out
}

/**
 * `{ URL, APIKEY }` from the VCAP_SERVICES entry for `name`, or undefined.
 * IBM's core matches an instance `name` first, then a service key.
 */
function vcapCredentials(text, name) {
  if (!text) return undefined
  let services
  try {
    services = JSON.parse(text)
  } catch {
    throw invalid('VCAP_SERVICES is set but is not valid JSON')
  }
  if (services === null || typeof services !== 'object') return undefined
  const lists = Object.values(services).filter(Array.isArray)
  let creds
  for (const list of lists) {
    const hit = list.find((instance) => instance && instance.name === name)
    if (hit) {
      creds = hit.credentials
      break
    }
  }
  if (creds === undefined && Array.isArray(services[name]) && services[name].length > 0) {
    creds = services[name][0] && services[name][0].credentials
  }
  if (creds === null || typeof creds !== 'object') return undefined
  const props = {}
  if (typeof creds.url === 'string') props.URL = creds.url
  if (typeof creds.apikey === 'string') props.APIKEY = creds.apikey
  return props
}

module.exports = { credentialsFromEnv, getAuthenticatorFromEnv, hasSettings }
