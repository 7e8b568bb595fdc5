// @ts-check
'use strict'
// getIamToken & co.
//
// The hot path never leaves the JS thread. A memo keeps the text of the
// current token with its "fresh until" time (the refresh point) and is
// trusted while this environment's change counter (a Uint32Array the Rust
// cache bumps whenever any token is replaced or dropped) stands still. Past
// the refresh point, or after a change, the memo's native authenticator (made
// once per key and options) asks the cache again in one synchronous call
// (which also starts the background refresh); only a miss goes through the
// completion queue and waits for the cache's single request.
//
// Options are validated in Rust, once: a memo is made only after the native
// layer has accepted a key with exactly those options (see newMemo).
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

/**
 * One memoised token and the native authenticator it comes from (made once
 * per key and options); `until` is on performance.now()'s clock.
 */
class Memo {
  text = ''
  until = 0
  seen = -1
  /** Set by a memo hit: the trie's eviction passes over it once. */
  used = false
  /** Where the memo is filed in the trie (none for an authenticator's). @type {Node | undefined} */
  node = undefined
  /** @type {unknown} */
  apikey = undefined

  /** @param {import('../native').NativeAuthenticator} handle */
  constructor(handle) {
    this.handle = handle
  }

  /** The token text if still good, else undefined. */
  get() {
    return this.seen === changes[0] && performance.now() < this.until ? this.text : undefined
  }

  /**
   * Asks the native cache (which also starts a due background refresh): the
   * token text, memoised while it stays fresh, or undefined on a miss.
   */
  peek() {
    const seen = changes[0]
    const peeked = this.handle.peek()
    if (peeked === null) return undefined
    this.text = peeked[2]
    this.until = performance.now() + peeked[1]
    this.seen = seen
    return this.text
  }

  /**
   * The promise of the token: `text` (from get or peek), else the cache's
   * token once its request completes; counted in `lookups`.
   * @param {string | undefined} text
   * @param {import('./telemetry').Lookups} lookups
   * @returns {Promise<string>}
   */
  answer(text, lookups) {
    if (text === undefined) {
      lookups.misses++
      return this.fetch().then(accessToken)
    }
    lookups.hits++
    return Promise.resolve(text)
  }

  /**
   * Waits for the cache's token (its single request).
   * @returns {Promise<import('../native').JsTokenInfo>}
   */
  fetch() {
    const n = this.handle
    return telemetry.tokenWait((trace) => nativeCall((q, id) => n.fetch(q, id, trace)))
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
// Bounded: past MAX_MEMOS one memo leaves for each new one, the oldest not
// hit since the eviction last passed it (a second chance), and trie nodes
// left empty go with it; a process with more distinct keys still works, its
// least used keys just ask the native cache (the bound is well under the
// native cache's default 10,000 entries).
const MAX_MEMOS = 4096

class Node {
  /** @type {Map<unknown, Map<unknown, Node>> | undefined} */
  next = undefined
  /** @type {Map<unknown, Memo> | undefined} */
  memos = undefined
  /**
   * These options read once (set where a memo was made, so they were
   * accepted): new keys with them skip reading the options again.
   * @type {import('../native').NativeIamSettings | undefined}
   */
  settings = undefined
  /**
   * The step from the parent: `parent.next.get(name).get(value) === this`.
   * @param {Node | undefined} parent
   * @param {string} name
   * @param {unknown} value
   */
  constructor(parent, name, value) {
    this.parent = parent
    this.name = name
    this.value = value
  }
}
let root = new Node(undefined, '', undefined)
/** The filed memos, oldest first. @type {Set<Memo>} */
const filed = new Set()

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
 * The trie step for an option's value, or undefined if the trie cannot key it.
 * @param {unknown} v
 */
function step(v) {
  if (v !== null && typeof v === 'object') return flatKey(v)
  return typeof v === 'function' || typeof v === 'symbol' ? undefined : v
}

/** @param {object} options */
function keyable(options) {
  for (const k in options) {
    const v = /** @type {Record<string, unknown>} */ (options)[k]
    if (v !== undefined && step(v) === undefined) return false
  }
  return true
}

/**
 * The trie node for `options` (made on the way when `make`), or undefined.
 * @param {unknown} options
 * @param {boolean} make
 * @returns {Node | undefined}
 */
function nodeFor(options, make) {
  if (options === undefined || options === null) return root
  if (typeof options !== 'object' || (make && !keyable(options))) return undefined
  let node = root
  for (const k in options) {
    let v = /** @type {Record<string, unknown>} */ (options)[k]
    if (v === undefined) continue
    v = step(v)
    if (v === undefined) return undefined
    let byName = node.next?.get(k)
    if (byName === undefined) {
      if (!make) return undefined
      byName = new Map()
      ;(node.next ??= new Map()).set(k, byName)
    }
    let child = byName.get(v)
    if (child === undefined) {
      if (!make) return undefined
      child = new Node(node, k, v)
      byName.set(v, child)
    }
    node = child
  }
  return node
}

/**
 * The memo for this key and options: the one filed, else a new one.
 * @param {unknown} apikey
 * @param {unknown} options
 */
function memoFor(apikey, options) {
  const known = nodeFor(options, false)
  return known?.memos?.get(apikey) ?? newMemo(apikey, options, known)
}

/**
 * A memo with its native authenticator (throws for an invalid key or
 * options), filed in the trie when the options can be keyed.
 * @param {unknown} apikey
 * @param {unknown} options
 * @param {Node | undefined} known the options' trie node, if there is one yet
 */
function newMemo(apikey, options, known) {
  const settings = known?.settings
  const key = /** @type {string} */ (apikey)
  const memo = new Memo(
    settings !== undefined ? native.NativeAuthenticator.iamKeyWith(key, settings) : native.NativeAuthenticator.iamKey(key, /** @type {any} */ (options)),
  )
  const node = known ?? nodeFor(options, true)
  if (node === undefined) return memo
  // Accepted: the options are read once more, for the next keys with them.
  node.settings ??= new native.NativeIamSettings(/** @type {any} */ (options))
  if (filed.size >= MAX_MEMOS) evictOne()
  ;(node.memos ??= new Map()).set(apikey, memo)
  memo.node = node
  memo.apikey = apikey
  filed.add(memo)
  return memo
}

/** Unfiles the oldest memo not hit since the last pass (see MAX_MEMOS). */
function evictOne() {
  for (const memo of filed) {
    filed.delete(memo)
    if (memo.used) {
      memo.used = false
      filed.add(memo) // visited again at the end of this loop
      continue
    }
    let node = /** @type {Node} */ (memo.node)
    node.memos?.delete(memo.apikey)
    if (node.memos?.size === 0) node.memos = undefined
    for (let parent = node.parent; parent !== undefined && node.memos === undefined && node.next === undefined; parent = node.parent) {
      const byName = /** @type {Map<unknown, Node>} */ (parent.next?.get(node.name))
      byName.delete(node.value)
      if (byName.size === 0) parent.next?.delete(node.name)
      if (parent.next?.size === 0) parent.next = undefined
      node = parent
    }
    return
  }
}

/**
 * @param {unknown} apikey
 * @param {unknown} [options]
 * @returns {Promise<string>}
 */
function getIamToken(apikey, options) {
  try {
    // Inside the try: reading the caller's options may throw (a getter).
    const memo = memoFor(apikey, options)
    const text = memo.get() ?? memo.peek()
    if (text !== undefined) memo.used = true
    if (log.enabled) {
      log.debug(`token cache ${text !== undefined ? 'hit' : 'miss, waiting for IAM'} for key ${log.fingerprint(apikey)}`)
    }
    return memo.answer(text, iamLookups)
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
    return memoFor(apikey, options).fetch()
  } catch (e) {
    return Promise.reject(fromNative(e))
  }
}

/** Drops every cached token (and the keys held to refresh them). */
function clearTokenCache() {
  root = new Node(undefined, '', undefined)
  filed.clear()
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
  /** @type {Memo} */
  #memo
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
    this.#memo = new Memo(this.#native)
    this.#type = type
    this.#lookups = telemetry.lookupCell(type)
    this.#shown = shown
    handles.set(this, this.#native)
  }

  /** @returns {Promise<string>} */
  getToken() {
    const memo = this.#memo
    return memo.answer(memo.get() ?? memo.peek(), this.#lookups)
  }

  /** @returns {Promise<import('../native').JsTokenInfo>} */
  getTokenInfo() {
    return this.#memo.fetch()
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
