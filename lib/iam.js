'use strict'
// getIamToken & co.
//
// The hot path never leaves the JS thread. A memo keeps the text of the
// current token with its "fresh until" time (the refresh point) and is
// trusted while this environment's change counter (a Uint32Array the Rust
// cache bumps whenever any token is replaced or dropped) stands still. Past
// the refresh point, or after a change, one synchronous native call asks the
// cache again (which also starts the background refresh); only a miss goes
// through a promise that waits for the cache's single IAM request.
const { performance } = require('node:perf_hooks')
const native = require('../native.js')
const { rethrow, invalid } = require('./errors')
const { checkOptions, checkIamOptions, iamOptions } = require('./options')
const log = require('./debug')

const NO_KEY = 'apikey must be a non-empty string'
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

  /** Refills from a native peek; returns the text, or null on a miss. */
  fill(seen, peeked) {
    if (peeked === null) return null
    this.text = peeked[2]
    this.until = performance.now() + peeked[1]
    this.seen = seen
    return this.text
  }
}

// Memos for getIamToken: settings -> apikey -> Memo. Bounded: a process
// with more distinct keys than this still works, it just asks the native cache.
const memos = new Map()
const MAX_MEMOS = 64
let memoCount = 0

function settingsKey(o) {
  if (o == null) return ''
  const clientId = clientIdOf(o)
  if (clientId === undefined && o.scope == null) return o.url ?? ''
  return `${o.url ?? ''}\n${clientId ?? ''}\n${o.scope ?? ''}`
}

function memoFor(apikey, options) {
  const sk = settingsKey(options)
  let byKey = memos.get(sk)
  if (byKey === undefined) {
    byKey = new Map()
    memos.set(sk, byKey)
  }
  let memo = byKey.get(apikey)
  if (memo === undefined) {
    if (memoCount >= MAX_MEMOS) {
      memos.clear()
      memoCount = 0
      return memoFor(apikey, options)
    }
    memo = new Memo()
    byKey.set(apikey, memo)
    memoCount++
  }
  return memo
}

// A client id counts (and is sent) only when its secret is set too.
function clientIdOf(o) {
  return o.clientId && o.clientSecret ? o.clientId : undefined
}

function getIamToken(apikey, options) {
  try {
    if (typeof apikey !== 'string' || apikey === '') return Promise.reject(invalid(NO_KEY))
    if (options !== undefined) {
      const bad = checkIamOptions(options)
      if (bad) return Promise.reject(bad)
    }
    const memo = memoFor(apikey, options)
    const hit = memo.get()
    if (hit !== undefined) {
      if (log.enabled) log.debug(`token cache hit for key ${log.fingerprint(apikey)}`)
      return Promise.resolve(hit)
    }
    const seen = changes[0]
    const o = options ?? undefined
    const text = memo.fill(
      seen,
      o === undefined
        ? native.peekToken(apikey)
        : native.peekToken(apikey, o.url ?? undefined, clientIdOf(o), o.scope ?? undefined),
    )
    if (log.enabled) {
      log.debug(`token cache ${text !== null ? 'hit' : 'miss, waiting for IAM'} for key ${log.fingerprint(apikey)}`)
    }
    if (text !== null) return Promise.resolve(text)
    return native.fetchTokenInfo(apikey, iamOptions(options)).then(accessToken, rethrow)
  } catch (e) {
    return Promise.reject(asError(e))
  }
}

function getIamTokenInfo(apikey, options) {
  try {
    if (typeof apikey !== 'string' || apikey === '') return Promise.reject(invalid(NO_KEY))
    const bad = checkIamOptions(options)
    if (bad) return Promise.reject(bad)
    return native.fetchTokenInfo(apikey, iamOptions(options)).catch(rethrow)
  } catch (e) {
    return Promise.reject(asError(e))
  }
}

function asError(e) {
  try {
    rethrow(e)
  } catch (err) {
    return err
  }
}

/** Drops every cached token (and the keys held to refresh them). */
function clearTokenCache() {
  memos.clear()
  memoCount = 0
  native.clearTokenCache()
}

/** Cache figures: `{ size, capacity, requests }` (IAM requests started). */
function tokenCacheStats() {
  return native.tokenCacheStats()
}

function configureTokenCache(options) {
  const bad = checkOptions(options, { maxEntries: 'number' }, 'options')
  if (bad) throw bad
  const n = options && options.maxEntries
  if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= 0xffffffff)) {
    throw invalid('options.maxEntries must be a whole number >= 1')
  }
  if (n !== undefined) native.setTokenCacheCapacity(n)
}

class IamAuthenticator {
  #native
  #url
  #memo = new Memo()

  constructor(options) {
    if (options === null || typeof options !== 'object') throw invalid('options must be an object with an apikey')
    if (typeof options.apikey !== 'string' || options.apikey === '') throw invalid(NO_KEY)
    const bad = checkIamOptions(options)
    if (bad) throw bad
    try {
      this.#native = new native.NativeAuthenticator(options.apikey, iamOptions(options))
    } catch (e) {
      rethrow(e)
    }
    this.#url = options.url || 'https://iam.cloud.ibm.com'
  }

  getToken() {
    const memo = this.#memo
    let text = memo.get()
    if (text !== undefined) return Promise.resolve(text)
    text = memo.fill(changes[0], this.#native.peek())
    if (text !== null) return Promise.resolve(text)
    return this.#native.fetchInfo().then(accessToken, rethrow)
  }

  getTokenInfo() {
    return this.#native.fetchInfo().catch(rethrow)
  }

  authorizationHeader() {
    return this.getToken().then(bearer)
  }

  /** Drops the cached token for this key: the next call fetches a new one. */
  invalidate() {
    this.#native.invalidate()
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `IamAuthenticator { url: '${this.#url}', apikey: '<redacted>' }`
  }

  toJSON() {
    return { url: this.#url, apikey: '<redacted>' }
  }
}

function accessToken(info) {
  return info.accessToken
}

function bearer(t) {
  return 'Bearer ' + t
}

module.exports = {
  getIamToken,
  getIamTokenInfo,
  clearTokenCache,
  tokenCacheStats,
  configureTokenCache,
  IamAuthenticator,
}
