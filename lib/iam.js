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
// layer has accepted a key with exactly those options (see nodeFor).
const { performance } = require('node:perf_hooks')
const native = require('../native.js')
const { fromNative, invalid } = require('./errors')
const { nativeCall } = require('./calls')
const log = require('./debug')
const telemetry = require('./telemetry')

// getIamToken's token lookups, for the cache hit and miss metrics.
const iamLookups = telemetry.lookupCell('iam')

const changes = native.changeCounter()

// A token store named by the environment that cannot be used: one warning
// per process (the first JS environment to load gets the message).
const storeProblem = native.tokenStoreEnvProblem()
if (storeProblem) process.emitWarning(storeProblem, { code: 'WML_NATIVE_TOKEN_STORE' })

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

// Memos for getIamToken, found by the exact options object they were made
// for: a trie whose path is each option's name, then its value (Map keys
// compare by type and value: "5" is not 5), ending at a map from the API
// key to its Memo. The lookups reuse the caller's own strings (their hashes
// are cached), so a hit costs a few Map gets. A memo is made only after the
// native layer accepted the key with exactly these options, so a hit means
// they were validated. Options the trie cannot key (a value that is a
// function, an object other than `headers`'s flat one) never use a memo.
// Bounded: past MAX_MEMOS the trie starts afresh; a process with more
// distinct keys still works, it just asks the native cache.
const MAX_MEMOS = 64
let memoCount = 0

class Node {
  /** @type {Map<unknown, Map<unknown, Node>> | undefined} */
  next = undefined
  /** @type {Map<unknown, Memo> | undefined} */
  memos = undefined
}
let root = new Node()

/** A nested flat object's values, as one trie step (a string key; rare). */
/** @param {object} o @returns {string | undefined} */
function flatKey(o) {
  let key = ''
  for (const k in o) {
    const v = /** @type {Record<string, unknown>} */ (o)[k]
    const t = typeof v
    if (t !== 'string' && t !== 'number' && t !== 'boolean' && v !== undefined && v !== null) return undefined
    key += `${k.length}:${k}${t[0]}${String(v).length}:${String(v)};`
  }
  return key
}

/**
 * The trie node for `options` (made on the way when `make`), or undefined.
 * @param {unknown} options
 * @param {boolean} make
 * @returns {Node | undefined}
 */
function nodeFor(options, make) {
  if (options === undefined || options === null) return root
  if (typeof options !== 'object') return undefined
  let node = root
  for (const k in options) {
    let v = /** @type {Record<string, unknown>} */ (options)[k]
    if (v === undefined) continue
    if (v !== null && typeof v === 'object') {
      v = flatKey(v)
      if (v === undefined) return undefined
    } else if (typeof v === 'function' || typeof v === 'symbol') return undefined
    let byName = node.next?.get(k)
    if (byName === undefined) {
      if (!make) return undefined
      byName = new Map()
      ;(node.next ??= new Map()).set(k, byName)
    }
    let child = byName.get(v)
    if (child === undefined) {
      if (!make) return undefined
      child = new Node()
      byName.set(v, child)
    }
    node = child
  }
  return node
}

/**
 * @param {unknown} apikey
 * @param {unknown} options
 */
function findMemo(apikey, options) {
  return nodeFor(options, false)?.memos?.get(apikey)
}

/**
 * @param {unknown} apikey
 * @param {unknown} options
 */
function newMemo(apikey, options) {
  if (memoCount >= MAX_MEMOS) {
    root = new Node()
    memoCount = 0
  }
  const node = nodeFor(options, true)
  if (node === undefined) return undefined
  const memo = new Memo()
  ;(node.memos ??= new Map()).set(apikey, memo)
  memoCount++
  return memo
}

/**
 * @param {unknown} apikey
 * @param {unknown} [options]
 * @returns {Promise<string>}
 */
function getIamToken(apikey, options) {
  let memo = findMemo(apikey, options)
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
      memo ??= newMemo(apikey, options)
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
  root = new Node()
  memoCount = 0
  native.clearTokenCache()
}

/**
 * Cache figures: `{ size, capacity, requests, failures, store, storeHits,
 * storeMisses, leasesWon, storeErrors }`.
 */
function tokenCacheStats() {
  const s = native.tokenCacheStats()
  return { ...s, store: s.store ?? null }
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
