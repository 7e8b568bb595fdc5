'use strict'
// WmlClient: scoring and watsonx.ai text generation. Payloads cross into
// Rust as one JSON string (or the caller's bytes); responses come back as
// text and are parsed once, here.
const native = require('../native.js')
const { rethrow, invalid, AbortError, BadResponseError } = require('./errors')
const { checkOptions, checkIamOptions, iamOptions } = require('./options')
const { nativeCall } = require('./calls')

const CREDENTIAL_STRINGS = { url: 'string', apikey: 'string', token: 'string', iamUrl: 'string', version: 'string' }
const CALL_OPTIONS = { timeoutMs: 'number', transactionId: 'string', signal: 'object' }

function checkCredentials(c) {
  if (c === null || typeof c !== 'object') return invalid('credentials must be an object like { url, apikey }')
  const bad = checkOptions(c, CREDENTIAL_STRINGS, 'credentials') || checkIamOptions({ ...c, url: undefined }, 'credentials')
  if (bad) return bad
  if (!c.url) return invalid('credentials.url is required (e.g. https://us-south.ml.cloud.ibm.com)')
  if (!c.apikey && !c.token) return invalid('credentials need an apikey (or a bearer token)')
  return undefined
}

function nativeCredentials(c) {
  const iam = iamOptions(c)
  if (c.iamUrl != null) iam.url = c.iamUrl
  else delete iam.url
  return { url: c.url, apikey: c.apikey ?? undefined, token: c.token ?? undefined, version: c.version ?? undefined, iam }
}

/** The request body as JSON text or bytes; throws ERR_INVALID_ARG. */
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

function checkCall(deploymentId, options) {
  if (typeof deploymentId !== 'string' || deploymentId === '') {
    return invalid('deploymentId must be a non-empty string')
  }
  const bad = checkOptions(options, CALL_OPTIONS, 'options')
  if (bad) return bad
  const signal = options && options.signal
  if (signal != null && typeof signal.aborted !== 'boolean') return invalid('options.signal must be an AbortSignal')
  return undefined
}

function nativeCallOptions(o) {
  if (o == null) return undefined
  return { timeoutMs: o.timeoutMs ?? undefined, transactionId: o.transactionId ?? undefined }
}

function abortError(signal) {
  const e = new AbortError('The operation was aborted')
  if (signal && signal.reason !== undefined) e.cause = signal.reason
  return e
}

function parseJson(text) {
  try {
    return JSON.parse(text)
  } catch {
    throw new BadResponseError(`the service answered 2xx with a body that is not JSON (${text.length} bytes)`, { status: 200 })
  }
}

/** Links an AbortSignal to a native cancel handle; returns [cancel, unlink]. */
function link(signal) {
  if (signal == null) return [undefined, undefined]
  const cancel = new native.NativeCancel()
  const onAbort = () => cancel.cancel()
  signal.addEventListener('abort', onAbort, { once: true })
  return [cancel, () => signal.removeEventListener('abort', onAbort)]
}

function asError(e) {
  try {
    rethrow(e)
  } catch (err) {
    return err
  }
}

class WmlClient {
  #native
  #url

  /**
   * @param {object} credentials `{ url, apikey }` as for IBM's Python APIClient,
   *   or `{ url, token }` with a bearer token you manage.
   */
  constructor(credentials) {
    const bad = checkCredentials(credentials)
    if (bad) throw bad
    try {
      this.#native = new native.NativeWmlClient(nativeCredentials(credentials))
    } catch (e) {
      rethrow(e)
    }
    this.#url = credentials.url
  }

  /** Scores a deployment: `{ input_data: [{ fields, values }] }` in, `{ predictions }` out. */
  score(deploymentId, payload, options) {
    return this.#call('score', deploymentId, payload, options, 'payload')
  }

  /** watsonx.ai text generation with a deployed model. */
  generateText(deploymentId, request, options) {
    return this.#call('generate', deploymentId, request, options, 'request')
  }

  /**
   * Streamed generation: an async iterable of chunks, one per server event.
   * Breaking out of the loop, `return()`, or an abort closes the connection.
   */
  generateTextStream(deploymentId, request, options) {
    return new GenerationStream(this.#native, deploymentId, request, options)
  }

  #call(kind, deploymentId, payload, options, what) {
    try {
      const bad = checkCall(deploymentId, options)
      if (bad) return Promise.reject(bad)
      const body = serialize(payload, what)
      const signal = options && options.signal
      const native = this.#native
      const opts = nativeCallOptions(options)
      if (signal == null) {
        return nativeCall((q, id) => native.call(q, id, kind, deploymentId, body, opts), parseJson)
      }
      if (signal.aborted) return Promise.reject(abortError(signal))
      const [cancel, unlink] = link(signal)
      return nativeCall((q, id) => native.call(q, id, kind, deploymentId, body, opts, cancel), parseJson).then(
        (value) => {
          unlink()
          return value
        },
        (e) => {
          unlink()
          const err = asError(e)
          if (err.code === 'ERR_ABORTED' && signal.reason !== undefined) err.cause = signal.reason
          throw err
        },
      )
    } catch (e) {
      return Promise.reject(asError(e))
    }
  }

  /**
   * A client configured from the environment, following IBM's SDK
   * conventions: `<NAME>_URL`, `<NAME>_APIKEY`, `<NAME>_AUTH_URL`,
   * `<NAME>_AUTH_DISABLE_SSL`, ... from the process environment or an
   * `ibm-credentials.env` file (`IBM_CREDENTIALS_FILE`). Default name `WML`.
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

/** The async iterable `generateTextStream` returns. */
class GenerationStream {
  #native
  #args
  #error
  #stream = null
  #opening = null
  #done = false
  #unlink
  #signal

  constructor(nativeClient, deploymentId, request, options) {
    this.#native = nativeClient
    try {
      this.#error = checkCall(deploymentId, options)
      if (!this.#error) this.#args = [deploymentId, serialize(request, 'request'), nativeCallOptions(options)]
    } catch (e) {
      this.#error = asError(e)
    }
    this.#signal = options && options.signal
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
      const stream = this.#stream ?? (await (this.#opening ??= this.#open()))
      if (this.#done) return { done: true, value: undefined }
      const text = await nativeCall((q, id) => stream.next(q, id))
      if (text === null) {
        this.#finish()
        return { done: true, value: undefined }
      }
      return { done: false, value: parseJson(text) }
    } catch (e) {
      this.#finish()
      const err = asError(e)
      if (err.code === 'ERR_ABORTED' && this.#signal && this.#signal.reason !== undefined) err.cause = this.#signal.reason
      throw err
    }
  }

  async return(value) {
    this.#finish()
    return { done: true, value }
  }

  async throw(err) {
    this.#finish()
    throw err
  }

  async #open() {
    const signal = this.#signal
    if (signal && signal.aborted) throw abortError(signal)
    const [cancel, unlink] = link(signal)
    this.#unlink = unlink
    this.#stream = await this.#native.stream(...this.#args, cancel)
    return this.#stream
  }

  #finish() {
    this.#done = true
    if (this.#unlink) this.#unlink()
    this.#unlink = undefined
    if (this.#stream) this.#stream.close()
  }
}

module.exports = { WmlClient }
