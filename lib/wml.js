// @ts-check
'use strict'
// WmlClient: scoring and watsonx.ai text generation. Payloads cross into
// Rust as one JSON string (or the caller's bytes); responses come back as
// text and are parsed once, here. Credentials and options are validated in
// Rust; this layer does what napi cannot: AbortSignal, telling bytes from
// objects, async iteration.
const native = require('../native.js')
const { fromNative, invalid, AbortError, BadResponseError } = require('./errors')
const { nativeCall, queue } = require('./calls')
const { handles } = require('./iam')

/**
 * The request body as JSON text or the caller's bytes.
 * @param {unknown} payload
 * @param {string} what
 * @returns {string | Uint8Array}
 */
function serialize(payload, what) {
  if (payload instanceof Uint8Array) return payload
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw invalid(`${what} must be an object`)
  }
  try {
    return JSON.stringify(payload)
  } catch (e) {
    throw invalid(`${what} cannot be serialised to JSON (${e instanceof TypeError ? 'circular or BigInt value' : 'error'})`)
  }
}

/**
 * The caller's AbortSignal, checked (napi cannot tell one).
 * @param {any} options
 * @returns {AbortSignal | undefined}
 */
function signalOf(options) {
  const signal = options !== null && typeof options === 'object' ? options.signal : undefined
  if (signal == null) return undefined
  if (typeof signal !== 'object' || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function') {
    throw invalid('options.signal must be an AbortSignal')
  }
  return signal
}

/** @param {AbortSignal | undefined} signal */
function abortError(signal) {
  const e = new AbortError('The operation was aborted')
  if (signal && signal.reason !== undefined) e.cause = signal.reason
  return e
}

/** @param {string} text */
function parseJson(text) {
  try {
    return JSON.parse(text)
  } catch {
    throw new BadResponseError(`the service answered 2xx with a body that is not JSON (${text.length} bytes)`, { status: 200 })
  }
}

/**
 * Links an AbortSignal to a native cancel handle; returns [cancel, unlink].
 * @param {AbortSignal | undefined} signal
 * @returns {[import('../native').NativeCancel | undefined, (() => void) | undefined]}
 */
function link(signal) {
  if (signal === undefined) return [undefined, undefined]
  const cancel = new native.NativeCancel()
  const onAbort = () => cancel.cancel()
  signal.addEventListener('abort', onAbort, { once: true })
  return [cancel, () => signal.removeEventListener('abort', onAbort)]
}

/**
 * The native half of `credentials.authenticator`, if any.
 * @param {any} credentials
 */
function authenticatorOf(credentials) {
  const a = credentials !== null && typeof credentials === 'object' ? credentials.authenticator : undefined
  if (a == null) return undefined
  const handle = handles.get(a)
  if (handle === undefined) {
    throw invalid('credentials.authenticator must be an authenticator of this package (IamAuthenticator, ...)')
  }
  return handle
}

class WmlClient {
  #native
  #url

  /**
   * @param {any} credentials `{ url, apikey }` as for IBM's Python APIClient,
   *   `{ url, token }` with a bearer token you manage, or `{ url, authenticator }`.
   */
  constructor(credentials) {
    try {
      this.#native = new native.NativeWmlClient(credentials, authenticatorOf(credentials))
    } catch (e) {
      throw fromNative(e)
    }
    this.#url = credentials.url
  }

  /**
   * Scores a deployment: `{ input_data: [{ fields, values }] }` in, `{ predictions }` out.
   * @param {string} deploymentId
   * @param {unknown} payload
   * @param {any} [options]
   */
  score(deploymentId, payload, options) {
    return this.#call('score', deploymentId, payload, options, 'payload')
  }

  /**
   * watsonx.ai text generation with a deployed model.
   * @param {string} deploymentId
   * @param {unknown} request
   * @param {any} [options]
   */
  generateText(deploymentId, request, options) {
    return this.#call('generate', deploymentId, request, options, 'request')
  }

  /**
   * Streamed generation: an async iterable of chunks, one per server event.
   * Breaking out of the loop, `return()`, or an abort closes the connection.
   * @param {string} deploymentId
   * @param {unknown} request
   * @param {any} [options]
   */
  generateTextStream(deploymentId, request, options) {
    return new EventStream(this.#native, 'generate', deploymentId, request, options)
  }

  /**
   * @param {'score' | 'generate'} kind
   * @param {string} deploymentId
   * @param {unknown} payload
   * @param {any} options
   * @param {string} what
   */
  #call(kind, deploymentId, payload, options, what) {
    try {
      const body = serialize(payload, what)
      const signal = signalOf(options)
      const n = this.#native
      if (signal === undefined) {
        return nativeCall((q, id) => n.call(q, id, /** @type {any} */ (kind), deploymentId, body, options), parseJson)
      }
      if (signal.aborted) return Promise.reject(abortError(signal))
      const [cancel, unlink] = link(signal)
      return nativeCall((q, id) => n.call(q, id, /** @type {any} */ (kind), deploymentId, body, options, cancel), parseJson).then(
        (value) => {
          unlink?.()
          return value
        },
        (e) => {
          unlink?.()
          if (e.code === 'ERR_ABORTED' && signal.reason !== undefined) e.cause = signal.reason
          throw e
        },
      )
    } catch (e) {
      return Promise.reject(fromNative(e))
    }
  }

  /**
   * A client configured from the environment, following IBM's SDK
   * conventions: `<NAME>_URL`, `<NAME>_APIKEY`, `<NAME>_AUTH_URL`,
   * `<NAME>_AUTH_DISABLE_SSL`, ... from the process environment or an
   * `ibm-credentials.env` file (`IBM_CREDENTIALS_FILE`). Default name `WML`.
   * @param {string} [serviceName]
   */
  static fromEnv(serviceName) {
    return new WmlClient(require('./env').credentialsFromEnv(serviceName))
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `WmlClient { url: '${this.#url}' }`
  }

  toJSON() {
    return { url: this.#url }
  }
}

/**
 * The async iterable a streamed call returns. The request goes out at the
 * first `next()`; `return()` (a `break`), `throw()` or an abort at any
 * point, even while the service has not answered yet, ends the request or
 * closes the connection, and settles a pending `next()`.
 */
class EventStream {
  #native
  #kind
  #args
  /** @type {Error | undefined} */
  #error
  /** @type {import('../native').NativeStream | null} */
  #stream = null
  #done = false
  /** @type {(() => void) | undefined} */
  #unlink
  /** @type {AbortSignal | undefined} */
  #signal

  /**
   * @param {import('../native').NativeWmlClient} nativeClient
   * @param {string} kind
   * @param {string} deploymentId
   * @param {unknown} request
   * @param {any} options
   */
  constructor(nativeClient, kind, deploymentId, request, options) {
    this.#native = nativeClient
    this.#kind = kind
    this.#args = { deploymentId, options, body: /** @type {string | Uint8Array} */ ('') }
    try {
      this.#signal = signalOf(options)
      this.#args.body = serialize(request, 'request')
    } catch (e) {
      this.#error = fromNative(e)
    }
  }

  [Symbol.asyncIterator]() {
    return this
  }

  async next() {
    if (this.#error) {
      const e = this.#error
      this.#error = undefined
      this.#finish()
      throw e
    }
    if (this.#done) return { done: true, value: undefined }
    try {
      const stream = this.#stream ?? this.#open()
      const text = await nativeCall((q, id) => stream.next(q, id))
      if (text === null || this.#done) {
        this.#finish()
        return { done: true, value: undefined }
      }
      return { done: false, value: parseJson(text) }
    } catch (e) {
      this.#finish()
      const err = fromNative(e)
      if (/** @type {any} */ (err).code === 'ERR_ABORTED' && this.#signal?.reason !== undefined) err.cause = this.#signal.reason
      throw err
    }
  }

  /** @param {unknown} [value] */
  async return(value) {
    this.#finish()
    return { done: true, value }
  }

  /** @param {unknown} err */
  async throw(err) {
    this.#finish()
    throw err
  }

  #open() {
    const signal = this.#signal
    if (signal?.aborted) throw abortError(signal)
    const [cancel, unlink] = link(signal)
    this.#unlink = unlink
    const { deploymentId, body, options } = this.#args
    this.#stream = this.#native.openStream(queue, /** @type {any} */ (this.#kind), deploymentId, body, options, cancel)
    return this.#stream
  }

  #finish() {
    this.#done = true
    this.#unlink?.()
    this.#unlink = undefined
    this.#stream?.close()
  }
}

module.exports = { WmlClient, EventStream, serialize, signalOf, link, abortError, parseJson }
