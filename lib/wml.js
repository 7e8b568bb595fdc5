// @ts-check
'use strict'
// WmlClient: scoring and watsonx.ai text generation. Payloads cross into
// Rust as one JSON string (or the caller's bytes); responses come back as
// text and are parsed once, here. Credentials and options are validated in
// Rust; this layer does what napi cannot: AbortSignal, telling bytes from
// objects, async iteration.
const native = require('../native.js')
const { fromNative, invalid, AbortError, BadResponseError } = require('./errors')
const { nativeCall, callId, started, queue } = require('./calls')
const { handles } = require('./iam')
const { ChatAssembler, GenerationAssembler } = require('./assemble')
const telemetry = require('./telemetry')

/** @type {WeakMap<import('../native').NativeWmlClient, import('./telemetry').Target>} */
const targets = new WeakMap()

/**
 * Where a client's calls go, for telemetry attributes (made once per client).
 * @param {import('../native').NativeWmlClient} n
 */
function targetOf(n) {
  let t = targets.get(n)
  if (t === undefined) {
    t = telemetry.target(n.base)
    targets.set(n, t)
  }
  return t
}

/**
 * The telemetry of a call about to start, when a provider is registered.
 * Telemetry that fails (a throwing propagator...) never fails the call.
 * @param {import('../native').NativeWmlClient} n
 * @param {string} kind
 * @param {unknown} deploymentId
 * @param {unknown} request
 * @returns {import('./telemetry').Observed | undefined}
 */
function observe(n, kind, deploymentId, request) {
  const o = telemetry.active()
  if (o === null) return undefined
  try {
    return new telemetry.Observed(o, targetOf(n), kind, String(deploymentId), request)
  } catch (e) {
    telemetry.failed('telemetry left out for this call', e)
    return undefined
  }
}

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
  return withReason(new AbortError('The operation was aborted'), signal)
}

/**
 * `e`, with the signal's reason as its `cause` when it is an abort.
 * @param {any} e
 * @param {AbortSignal | undefined} signal
 */
function withReason(e, signal) {
  if (e.code === 'ERR_ABORTED' && signal !== undefined && signal.reason !== undefined) e.cause = signal.reason
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
 * Hands a call to Rust (throws synchronously for bad arguments). Module
 * functions, not closures: a call allocates none of its own.
 * @typedef {(n: import('../native').NativeWmlClient, q: import('../native').CompletionQueue, id: number,
 *   kind: any, deploymentId: string, body: string | Uint8Array, options: any,
 *   cancel: import('../native').NativeCancel | undefined, trace: import('../native').NativeTrace | undefined) => void} Start
 */

/** @type {Start} */
function startCall(n, q, id, kind, deploymentId, body, options, cancel, trace) {
  n.call(q, id, kind, deploymentId, body, options, cancel, trace)
}

/** @type {Start} */
function startEmbed(n, q, id, _kind, _deploymentId, body, options, cancel, trace) {
  n.embed(q, id, body, options, cancel, trace)
}

/**
 * Serialises `payload`, links the caller's signal, and starts the call.
 * @param {Start} start
 * @param {import('../native').NativeWmlClient} n
 * @param {string} kind
 * @param {string} deploymentId
 * @param {unknown} payload
 * @param {any} options
 * @param {string} what
 * @param {((text: string) => unknown) | undefined} parse
 * @param {import('../native').NativeTrace | undefined} trace
 * @returns {Promise<any>}
 */
function send(start, n, kind, deploymentId, payload, options, what, parse, trace) {
  try {
    const body = serialize(payload, what)
    const signal = signalOf(options)
    if (signal === undefined) {
      const id = callId()
      start(n, queue, id, kind, deploymentId, body, options, undefined, trace)
      return started(id, parse)
    }
    if (signal.aborted) return Promise.reject(abortError(signal))
    const [cancel, unlink] = link(signal)
    const id = callId()
    try {
      start(n, queue, id, kind, deploymentId, body, options, cancel, trace)
    } catch (e) {
      unlink?.() // refused before it started: nothing will settle to unlink it
      throw e
    }
    return started(id, parse).then(
      (value) => {
        unlink?.()
        return value
      },
      (e) => {
        unlink?.()
        throw withReason(e, signal)
      },
    )
  } catch (e) {
    return Promise.reject(fromNative(e))
  }
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
    return new EventStream(this.#native, 'generate', deploymentId, request, options, GenerationAssembler)
  }

  /**
   * Text generation with a foundation model by `model_id`.
   * @param {unknown} request
   * @param {any} [options]
   */
  modelGenerateText(request, options) {
    return this.#call('modelgenerate', '', request, options, 'request')
  }

  /**
   * @param {unknown} request
   * @param {any} [options]
   */
  modelGenerateTextStream(request, options) {
    return new EventStream(this.#native, 'modelgenerate', '', request, options, GenerationAssembler)
  }

  /**
   * Chat with a foundation model by `model_id`.
   * @param {unknown} request
   * @param {any} [options]
   */
  chat(request, options) {
    return this.#call('chat', '', request, options, 'request')
  }

  /**
   * Streamed chat: an async iterable of chunks; `result()` assembles them.
   * @param {unknown} request
   * @param {any} [options]
   */
  chatStream(request, options) {
    return new EventStream(this.#native, 'chat', '', request, options, ChatAssembler)
  }

  /**
   * Chat with a deployed model (a prompt template or a tuned model).
   * @param {string} deploymentId
   * @param {unknown} request
   * @param {any} [options]
   */
  deploymentChat(deploymentId, request, options) {
    return this.#call('deploymentchat', deploymentId, request, options, 'request')
  }

  /**
   * @param {string} deploymentId
   * @param {unknown} request
   * @param {any} [options]
   */
  deploymentChatStream(deploymentId, request, options) {
    return new EventStream(this.#native, 'deploymentchat', deploymentId, request, options, ChatAssembler)
  }

  /**
   * Embeddings: each `results[i].embedding` a `Float32Array`. More than
   * 1,000 inputs are sent as several requests and joined in input order.
   * @param {unknown} request
   * @param {any} [options]
   */
  embed(request, options) {
    return this.#run(startEmbed, 'embed', '', request, options, 'request', undefined).then(embeddingsFrom)
  }

  /**
   * @param {unknown} request
   * @param {any} [options]
   */
  rerank(request, options) {
    return this.#call('rerank', '', request, options, 'request')
  }

  /**
   * @param {unknown} request
   * @param {any} [options]
   */
  tokenize(request, options) {
    return this.#call('tokenize', '', request, options, 'request')
  }

  /**
   * `GET /ml/v1/foundation_model_specs` with these query parameters.
   * @param {unknown} [query]
   * @param {any} [options]
   */
  listFoundationModels(query, options) {
    return this.#call('modelspecs', '', query ?? {}, options, 'query')
  }

  /**
   * @param {`${import('../native').CallKind}`} kind
   * @param {string} deploymentId
   * @param {unknown} payload
   * @param {any} options
   * @param {string} what
   */
  #call(kind, deploymentId, payload, options, what) {
    return this.#run(startCall, kind, deploymentId, payload, options, what, parseJson)
  }

  /**
   * Starts the call, observed (a span, metrics) when a provider is registered.
   * @param {Start} start
   * @param {string} kind the operation (lib/telemetry.js OPS)
   * @param {string} deploymentId
   * @param {unknown} payload
   * @param {any} options
   * @param {string} what
   * @param {((text: string) => unknown) | undefined} parse
   * @returns {Promise<any>}
   */
  #run(start, kind, deploymentId, payload, options, what, parse) {
    const n = this.#native
    const call = observe(n, kind, deploymentId, payload)
    if (call === undefined) return send(start, n, kind, deploymentId, payload, options, what, parse, undefined)
    return send(start, n, kind, deploymentId, payload, options, what, parse, call.trace).then(
      (value) => {
        call.finish()
        return value
      },
      (e) => {
        call.finish(e)
        throw e
      },
    )
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
 * closes the connection, and settles a pending `next()`. `result()` is the
 * whole answer assembled from the chunks (it reads the rest of the stream).
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
  /** The service ended the stream (not the caller, not an error). */
  #ended = false
  /** @type {Error | undefined} the error that ended the stream */
  #failure
  /** @type {(() => void) | undefined} */
  #unlink
  /** @type {AbortSignal | undefined} */
  #signal
  /** @type {{ add(chunk: unknown): void, result(): unknown }} */
  #assembler
  /** @type {Promise<any> | undefined} */
  #result
  /** @type {import('./telemetry').Observed | undefined} */
  #observed

  /**
   * @param {import('../native').NativeWmlClient} nativeClient
   * @param {`${import('../native').StreamKind}`} kind
   * @param {string} deploymentId
   * @param {unknown} request
   * @param {any} options
   * @param {new () => { add(chunk: unknown): void, result(): unknown }} Assembler
   */
  constructor(nativeClient, kind, deploymentId, request, options, Assembler) {
    this.#native = nativeClient
    this.#kind = kind
    this.#assembler = new Assembler()
    this.#args = { deploymentId, options, request, body: /** @type {string | Uint8Array} */ ('') }
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
      this.#failure = e
      this.#finish()
      throw e
    }
    if (this.#done) return { done: true, value: undefined }
    try {
      const stream = this.#stream ?? this.#open()
      const text = await nativeCall((q, id) => stream.next(q, id))
      if (this.#done) return { done: true, value: undefined }
      if (text === null) {
        this.#ended = true
        this.#finish()
        return { done: true, value: undefined }
      }
      const value = parseJson(text)
      this.#observed?.chunk()
      this.#assembler.add(value)
      return { done: false, value }
    } catch (e) {
      const err = withReason(fromNative(e), this.#signal)
      if (!this.#done) this.#failure = err
      this.#finish()
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

  /**
   * The whole answer, as the plain call gives it: reads the stream to its end
   * (the chunks a loop already took count too) and merges the chunks. Rejects
   * with the stream's error, or `AbortError` when the stream was closed
   * (`break`, `return()`) before its end.
   * @returns {Promise<any>}
   */
  result() {
    this.#result ??= this.#drain()
    return this.#result
  }

  async #drain() {
    while (!this.#done) await this.next()
    if (this.#failure) throw this.#failure
    if (!this.#ended) throw new AbortError('the stream was closed before its end')
    return this.#assembler.result()
  }

  #open() {
    const signal = this.#signal
    if (signal?.aborted) throw abortError(signal)
    const [cancel, unlink] = link(signal)
    this.#unlink = unlink
    const { deploymentId, body, options, request } = this.#args
    this.#observed = observe(this.#native, `${this.#kind}_stream`, deploymentId, request)
    const trace = this.#observed?.trace
    this.#stream = this.#native.openStream(queue, /** @type {any} */ (this.#kind), deploymentId, body, options, cancel, trace)
    return this.#stream
  }

  #finish() {
    // Closed by the caller (a break, return(), throw()) unless it ended or failed.
    this.#observed?.finish(this.#failure, !this.#ended && this.#failure === undefined)
    this.#done = true
    this.#unlink?.()
    this.#unlink = undefined
    this.#stream?.close()
  }
}

/**
 * The embeddings answer from its native form: `results[i].embedding` views
 * over the one `Float32Array` that holds every vector.
 * @param {import('../native').NativeEmbeddings} n
 */
function embeddingsFrom(n) {
  const { vectors, dimension, lengths, inputs, count } = n
  const results = new Array(count)
  let at = 0
  for (let i = 0; i < count; i++) {
    const len = dimension || (lengths ? lengths[i] : 0)
    /** @type {{ embedding: Float32Array, input?: string }} */
    const r = { embedding: vectors.subarray(at, at + len) }
    if (inputs) r.input = inputs[i]
    results[i] = r
    at += len
  }
  const out = n.rest
  out.results = results
  out.input_token_count = n.inputTokenCount
  return out
}

module.exports = { WmlClient }
