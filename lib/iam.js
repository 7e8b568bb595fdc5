'use strict'
// getIamToken & co. The cached path stays on the JS thread: one synchronous
// native call returns the token, or null on a miss (then a promise waits for
// the cache's single IAM request).
const native = require('../native.js')
const { rethrow, invalid } = require('./errors')
const { IAM_OPTIONS, checkOptions, iamOptions } = require('./options')

const NO_KEY = 'apikey must be a non-empty string'

function getIamToken(apikey, options) {
  try {
    if (typeof apikey !== 'string' || apikey === '') return Promise.reject(invalid(NO_KEY))
    let hit
    if (options === undefined) {
      hit = native.peekToken(apikey)
    } else {
      const bad = checkOptions(options, IAM_OPTIONS, 'options')
      if (bad) return Promise.reject(bad)
      hit = peekWith(apikey, options)
    }
    if (hit !== null) return Promise.resolve(hit)
    return native.fetchToken(apikey, iamOptions(options)).catch(rethrow)
  } catch (e) {
    return Promise.reject(asError(e))
  }
}

// The cache key is (url, apikey, clientId, scope); a client id counts only
// when its secret is set too, as only then is it sent.
function peekWith(apikey, o) {
  if (o === null) return native.peekToken(apikey)
  const clientId = o.clientId && o.clientSecret ? o.clientId : undefined
  return native.peekToken(apikey, o.url ?? undefined, clientId, o.scope ?? undefined)
}

function getIamTokenInfo(apikey, options) {
  try {
    if (typeof apikey !== 'string' || apikey === '') return Promise.reject(invalid(NO_KEY))
    const bad = checkOptions(options, IAM_OPTIONS, 'options')
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

function clearTokenCache() {
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

  constructor(options) {
    if (options === null || typeof options !== 'object') throw invalid('options must be an object with an apikey')
    if (typeof options.apikey !== 'string' || options.apikey === '') throw invalid(NO_KEY)
    const bad = checkOptions(options, IAM_OPTIONS, 'options')
    if (bad) throw bad
    try {
      this.#native = new native.NativeAuthenticator(options.apikey, iamOptions(options))
    } catch (e) {
      rethrow(e)
    }
    this.#url = options.url || 'https://iam.cloud.ibm.com'
  }

  getToken() {
    const hit = this.#native.peek()
    if (hit !== null) return Promise.resolve(hit)
    return this.#native.fetch().catch(rethrow)
  }

  getTokenInfo() {
    return this.#native.fetchInfo().catch(rethrow)
  }

  authorizationHeader() {
    return this.getToken().then(bearer)
  }

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
