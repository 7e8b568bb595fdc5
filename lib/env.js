'use strict'
// credentialsFromEnv: WmlCredentials from the environment, the way IBM's own
// Node SDK core (ibm-cloud-sdk-core `readExternalSources`) reads them, so an
// `ibm-credentials.env` file or a set of `<NAME>_*` variables written for an
// IBM SDK configures this package too.
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
// No message ever quotes the value of a variable; only names and paths.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { invalid } = require('./errors')

const FILE_NAME = 'ibm-credentials.env'

/** `<NAME>_<suffix>` -> WmlCredentials field, for the plain string properties. */
const STRING_PROPERTIES = {
  URL: 'url',
  AUTH_URL: 'iamUrl',
  VERSION: 'version',
  CLIENT_ID: 'clientId',
  CLIENT_SECRET: 'clientSecret',
  SCOPE: 'scope',
}

/** The AUTH_TYPE values this package can act on (IBM compares them case-insensitively). */
const AUTH_TYPES = ['iam', 'bearertoken']

/**
 * WmlCredentials for `serviceName` (default `"WML"`) from a credentials file,
 * the environment or VCAP_SERVICES. Throws InvalidArgumentError naming the
 * variable that is missing or wrong.
 *
 * @param {string} [serviceName]
 * @param {{ env?: Record<string, string | undefined>, cwd?: string, home?: string }} [where]
 *   where to look; defaults to `process.env`, `process.cwd()`, `os.homedir()` (for tests)
 */
function credentialsFromEnv(serviceName = 'WML', where = {}) {
  if (typeof serviceName !== 'string' || serviceName.trim() === '') {
    throw invalid('serviceName must be a non-empty string, e.g. "WML"')
  }
  const env = where.env ?? process.env
  const prefix = serviceName.trim().toUpperCase().replace(/-/g, '_') + '_'

  const source = findSource(serviceName.trim(), prefix, env, where)
  // `props` maps suffixes (`URL`, `APIKEY`, ...) to values; empty means unset.
  const { props, describe } = source
  const get = (suffix) => {
    const v = props[suffix]
    return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined
  }
  const missing = (suffix, hint = '') => invalid(`${prefix}${suffix} is not set ${describe}${hint}`)

  const creds = {}
  for (const [suffix, field] of Object.entries(STRING_PROPERTIES)) {
    const v = get(suffix)
    if (v !== undefined) creds[field] = v
  }
  if (!creds.url) throw missing('URL', ': it is the service URL, e.g. https://us-south.ml.cloud.ibm.com')

  // IBM accepts both AUTH_TYPE and the older spelling AUTHTYPE.
  const authTypeName = get('AUTH_TYPE') !== undefined ? 'AUTH_TYPE' : 'AUTHTYPE'
  const authType = get(authTypeName)?.toLowerCase()
  if (authType !== undefined && !AUTH_TYPES.includes(authType)) {
    // The value of AUTH_TYPE is not a secret; quote it only if it looks like a word.
    const shown = /^[A-Za-z0-9_-]{1,32}$/.test(get(authTypeName) ?? '') ? ` "${get(authTypeName)}"` : ''
    throw invalid(`${prefix}${authTypeName}${shown} is not supported: use "iam" (with ${prefix}APIKEY) or "bearerToken" (with ${prefix}BEARER_TOKEN)`)
  }

  const apikey = get('APIKEY')
  const token = get('BEARER_TOKEN')
  if (authType === 'bearertoken') {
    if (!token) throw missing('BEARER_TOKEN', `, but ${prefix}${authTypeName} is bearerToken`)
    creds.token = token
  } else if (authType === 'iam') {
    if (!apikey) throw missing('APIKEY', `, but ${prefix}${authTypeName} is iam`)
    creds.apikey = apikey
  } else if (apikey) {
    // No auth type: IBM's core defaults to IAM when there is an API key.
    creds.apikey = apikey
  } else if (token) {
    creds.token = token
  } else {
    throw missing('APIKEY', `: set it to an IBM Cloud API key (or set ${prefix}BEARER_TOKEN to a token you manage)`)
  }

  // Either flag turns verification off: this client has one TLS setting for IAM and WML.
  if (isTrue(get('AUTH_DISABLE_SSL')) || isTrue(get('DISABLE_SSL'))) creds.disableSslVerification = true
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

/** The `<prefix>*` entries of `obj`, keyed by what follows the prefix. */
function withPrefix(obj, prefix) {
  const out = {}
  for (const key of Object.keys(obj)) {
    if (key.startsWith(prefix) && key.length > prefix.length) out[key.slice(prefix.length)] = obj[key]
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

module.exports = { credentialsFromEnv, parseCredentialsFile }
