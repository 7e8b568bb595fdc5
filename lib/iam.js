// @ts-check
'use strict'
// getIamToken & co.
//
// The hot path never leaves the JS thread. A memo keeps the text of the
// current token with its "fresh until" time (the refresh point) and is
// trusted while this environment's change counter (a Uint32Array the Rust
// cache bumps whenever any token is replaced or dropped) stands still. Past
// the refresh point, or after a change, one synchronous native call asks the
// cache again (which also starts the background refresh); only a miss goes
// through the completion queue and waits for the cache's single request.
//
// Options are validated in Rust, once: a memo is made only after the native
// layer has accepted a key with exactly those options (see settingsKey).
const { performance } = require('node:perf_hooks')
const native = require('../native.js')
const { fromNative, invalid } = require('./errors')
const { nativeCall } = require('./calls')
const log = require('./debug')
const telemetry = require('./telemetry')

// getIamToken's token lookups, for the cache hit and miss metrics.
const iamLookups = telemetry.lookupCell('iam')

const changes = native.changeCounter()

/** One memoised token; `until` is on performance.now()'s clock. */
class Memo {
  text = ''
  until = 0
  seen = -1

  /** The token text if still good, else undefined. */
  get() {
    return this.seen === changes[0] && performance.now() < this.until ? this.text : undefined
  }

  /**
   * Refills from a native peek.
   * @param {number} seen the change counter before the peek
   * @param {[number, number, string]} peeked
   */
  fill(seen, peeked) {
    this.text = peeked[2]
    this.until = performance.now() + peeked[1]
    this.seen = seen
    return this.text
  }
}

// Memos for getIamToken: settings key -> apikey -> Memo. Bounded: a process
// with more distinct keys than this still works, it just asks the native cache.
/** @type {Map<string, Map<unknown, Memo>>} */
const memos = new Map()
const MAX_MEMOS = 64
let memoCount = 0

/**
 * A text that is equal for two options objects exactly when their own and
 * inherited enumerable properties are equal in type and value (one level of
 * nesting, for `headers`), so that a memo made for options the native layer
 * accepted is only used for the same options. `undefined` for options it
 * cannot key (a function, a deeper object...): those never use a memo.
 * @param {unknown} o
 * @returns {string | undefined}
 */
function settingsKey(o) {
  if (o === undefined || o === null) return ''
  if (typeof o !== 'object') return undefined
  let key = ''
  for (const k in o) {
    const v = /** @type {Record<string, unknown>} */ (o)[k]
    if (v === undefined) continue
    if (v !== null && typeof v === 'object') {
      const inner = flatKey(v)
      if (inner === undefined) return undefined
      key += `${k.length}:${k}{${inner}}`
      continue
    }
    const part = scalarKey(v)
    if (part === undefined) return undefined
    key += `${k.length}:${k}${part}`
  }
  return key
}

/** @param {object} o @returns {string | undefined} */
function flatKey(o) {
  let key = ''
  for (const k in o) {
    const part = scalarKey(/** @type {Record<string, unknown>} */ (o)[k])
    if (part === undefined) return undefined
    key += `${k.length}:${k}${part}`
  }
  return key
}

/** @param {unknown} v @returns {string | undefined} */
function scalarKey(v) {
  switch (typeof v) {
    case 'string':
      return `s${v.length}:${v}`
    case 'number':
      return `n${v};`
    case 'boolean':
      return v ? 't' : 'f'
    case 'undefined':
      return 'u'
    default:
      return v === null ? 'z' : undefined
  }
}

/**
 * @param {unknown} apikey
 * @param {string} sk
 */
function findMemo(apikey, sk) {
  const byKey = memos.get(sk)
  return byKey === undefined ? undefined : byKey.get(apikey)
}

/**
 * @param {unknown} apikey
 * @param {string} sk
 */
function newMemo(apikey, sk) {
  if (memoCount >= MAX_MEMOS) {
    memos.clear()
    memoCount = 0
  }
  let byKey = memos.get(sk)
  if (byKey === undefined) {
    byKey = new Map()
    memos.set(sk, byKey)
  }
  const memo = new Memo()
  byKey.set(apikey, memo)
  memoCount++
  return memo
}

/**
 * @param {unknown} apikey
 * @param {unknown} [options]
 * @returns {Promise<string>}
 */
function getIamToken(apikey, options) {
  const sk = settingsKey(options)
  let memo = sk === undefined ? undefined : findMemo(apikey, sk)
  if (memo !== undefined) {
    const hit = memo.get()
    if (hit !== undefined) {
      if (log.enabled) log.debug(`token cache hit for key ${log.fingerprint(apikey)}`)
      iamLookups.hits++
      return Promise.resolve(hit)
    }
  }
  try {
    const seen = changes[0]
    const peeked = native.peekToken(/** @type {string} */ (apikey), /** @type {any} */ (options))
    if (log.enabled) {
      log.debug(`token cache ${peeked !== null ? 'hit' : 'miss, waiting for IAM'} for key ${log.fingerprint(apikey)}`)
    }
    if (peeked !== null) iamLookups.hits++
    else iamLookups.misses++
    if (peeked !== null) {
      if (sk !== undefined) memo ??= newMemo(apikey, sk)
      return Promise.resolve(memo ? memo.fill(seen, peeked) : peeked[2])
    }
    return fetchToken(apikey, options).then(accessToken)
  } catch (e) {
    return Promise.reject(fromNative(e))
  }
}

/**
 * @param {unknown} apikey
 * @param {unknown} [options]
 */
function getIamTokenInfo(apikey, options) {
  try {
    return fetchToken(apikey, options)
  } catch (e) {
    return Promise.reject(fromNative(e))
  }
}

/**
 * @param {unknown} apikey
 * @param {unknown} options
 * @returns {Promise<import('../native').JsTokenInfo>}
 */
function fetchToken(apikey, options) {
  return telemetry.tokenWait((trace) => nativeCall((q, id) => native.fetchToken(q, id, /** @type {string} */ (apikey), /** @type {any} */ (options), trace)))
}

/** Drops every cached token (and the keys held to refresh them). */
function clearTokenCache() {
  memos.clear()
  memoCount = 0
  native.clearTokenCache()
}

/** Cache figures: `{ size, capacity, requests, failures }`. */
function tokenCacheStats() {
  return native.tokenCacheStats()
}

/** @param {unknown} options */
function configureTokenCache(options) {
  try {
    native.configureTokenCache(/** @type {any} */ (options))
  } catch (e) {
    throw fromNative(e)
  }
}

/**
 * The native half of every authenticator, for `WmlClient({ authenticator })`.
 * @type {WeakMap<object, import('../native').NativeAuthenticator>}
 */
const handles = new WeakMap()

/**
 * The base class of every authenticator (IamAuthenticator, ...): the native
 * handle, the token memo, and what util.inspect / JSON.stringify show (never
 * a secret). Not constructed directly.
 */
class Authenticator {
  #native
  #memo = new Memo()
  #type
  /** @type {import('./telemetry').Lookups} */
  #lookups
  /** @type {Record<string, string>} */
  #shown

  /**
   * @param {() => import('../native').NativeAuthenticator} make
   * @param {string} type what `authenticationType()` answers (ibm-cloud-sdk-core's names)
   * @param {Record<string, string>} shown the settings inspect and toJSON show
   */
  constructor(make, type, shown) {
    if (typeof make !== 'function') {
      throw invalid('Authenticator is the base class: use IamAuthenticator, ContainerAuthenticator, ...')
    }
    try {
      this.#native = make()
    } catch (e) {
      throw fromNative(e)
    }
    this.#type = type
    this.#lookups = telemetry.lookupCell(type)
    this.#shown = shown
    handles.set(this, this.#native)
  }

  /** @returns {Promise<string>} */
  getToken() {
    const memo = this.#memo
    let text = memo.get()
    if (text !== undefined) {
      this.#lookups.hits++
      return Promise.resolve(text)
    }
    const seen = changes[0]
    const peeked = this.#native.peek()
    if (peeked === null) {
      this.#lookups.misses++
      return this.getTokenInfo().then(accessToken)
    }
    this.#lookups.hits++
    return Promise.resolve(memo.fill(seen, peeked))
  }

  /** @returns {Promise<import('../native').JsTokenInfo>} */
  getTokenInfo() {
    const n = this.#native
    return telemetry.tokenWait((trace) => nativeCall((q, id) => n.fetch(q, id, trace)))
  }

  /** `"Bearer <token>"`, ready for an `Authorization` header. */
  authorizationHeader() {
    return this.getToken().then(bearer)
  }

  /** Drops the cached token: the next call fetches a new one. */
  invalidate() {
    this.#native.invalidate()
  }

  /** ibm-cloud-sdk-core's name for the kind: `iam`, `container`, `iamAssume`, `vpc`, `cp4d`, `mcsp`, `bearerToken`, `noAuth`. */
  authenticationType() {
    return this.#type
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    const fields = Object.entries(this.#shown).map(([k, v]) => `${k}: '${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`)
    return fields.length > 0 ? `${this.constructor.name} { ${fields.join(', ')} }` : `${this.constructor.name} {}`
  }

  toJSON() {
    return { ...this.#shown }
  }
}

/** @param {{ accessToken: string }} info */
function accessToken(info) {
  return info.accessToken
}

/** @param {string} t */
function bearer(t) {
  return 'Bearer ' + t
}

module.exports = {
  getIamToken,
  getIamTokenInfo,
  clearTokenCache,
  tokenCacheStats,
  configureTokenCache,
  Authenticator,
  handles,
}
