// @ts-check
'use strict'
// OpenTelemetry spans and metrics, and W3C trace context on every WML /
// watsonx.ai request.
//
// `@opentelemetry/api` is an optional peer dependency: it is required only
// once a tracer or meter provider is registered (or given to
// configureTelemetry). Until then a call costs one look-up of the API's
// global registry (`globalThis[Symbol.for('opentelemetry.js.api.1')]`), which
// stays undefined when nothing is registered.
//
// Our requests go out from Rust, where no instrumentation sees them, so the
// span of a call is made here: started before the call (its context is what
// the request carries as `traceparent`), and finished from the report Rust
// hands back (`NativeTrace`): the token wait, each retry, the 401 refresh,
// the last status, and the token fetches the call started (child spans).
// Token fetches nobody waited for (background refreshes) arrive on the
// completion queue as call id 0 and become spans of their own.
//
// Nothing recorded holds a key or a token: statuses, error codes, the
// operation, the service's address, the kind of credential.
const { performance } = require('node:perf_hooks')
const native = require('../native.js')
const log = require('./debug')
const { invalid } = require('./errors')
const calls = require('./calls')

const GLOBAL = Symbol.for('opentelemetry.js.api.1')
const NAME = 'wml-native'
/** The package's version, read when telemetry starts. */
let VERSION = ''
// SpanKind.CLIENT, SpanStatusCode.ERROR (numbers fixed by the API).
const CLIENT = 2
const ERROR = 2

/**
 * The operations: the user's method, the HTTP method, the URL template and
 * `gen_ai.operation.name` (null for WML's own calls), by the key lib/wml.js
 * calls them by (the native list, written once in src/wml/client.rs).
 * @type {Record<string, [string, string, string, string | null]>}
 */
const OPS = Object.fromEntries(native.operations().map(([key, ...rest]) => [key, rest]))

/** Rust's credential kinds, as `authenticationType()` names them. */
/** @type {Record<string, string>} */
const AUTH_TYPES = { iamassume: 'iamAssume' }

/**
 * @typedef {{ duration: any, retries: any, tokenHits: any, tokenMisses: any, tokenRequests: any, tokenDuration: any }} Instruments
 * @typedef {{ api: any, tracer: any, metrics: Instruments | null }} Observer
 */

/** @type {any} the API module: undefined until needed, null when it cannot be loaded */
let api
/** configureTelemetry's settings, or null: follow the global registry. */
/** @type {{ enabled: boolean, tracerProvider: any, meterProvider: any } | null} */
let settings = null
/** The last observer made, and the providers it was made for. */
/** @type {{ tp: any, mp: any, observer: Observer | null }} */
let made = { tp: undefined, mp: undefined, observer: null }
/** performance.now() minus telemetryNow(): maps report times onto ours. */
let offset = 0

/**
 * What the current call is observed with, or null when no tracer or meter
 * provider is registered (then nothing is loaded, and this is one look-up).
 * @returns {Observer | null}
 */
function active() {
  const g = /** @type {any} */ (globalThis)[GLOBAL]
  if (g === undefined && settings === null) return null
  let tp = g === undefined ? undefined : g.trace
  let mp = g === undefined ? undefined : g.metrics
  if (settings !== null) {
    if (!settings.enabled) return null
    tp = settings.tracerProvider ?? tp
    mp = settings.meterProvider ?? mp
  }
  if (tp === undefined && mp === undefined) return null
  if (tp === made.tp && mp === made.mp) return made.observer
  return remake(tp, mp)
}

/**
 * @param {any} tp
 * @param {any} mp
 * @returns {Observer | null}
 */
function remake(tp, mp) {
  if (api === undefined) start()
  /** @type {Observer | null} */
  let observer = null
  if (api !== null) {
    try {
      observer = { api, tracer: tp === undefined ? null : tp.getTracer(NAME, VERSION), metrics: mp === undefined ? null : instruments(mp) }
    } catch (e) {
      // Telemetry that fails never fails a call: these providers are left out.
      failed('the tracer or meter provider failed: no spans or metrics from it', e)
    }
  }
  made = { tp, mp, observer }
  return observer
}

/**
 * Telemetry that failed (a throwing provider, tracer or span): logged, never
 * passed on to the call.
 * @param {string} what
 * @param {unknown} e
 */
function failed(what, e) {
  if (log.enabled) log.debug(`${what}: ${e instanceof Error ? e.message : String(e)}`)
}

/** Loads the API and starts listening to background token fetches. */
function start() {
  try {
    VERSION = JSON.parse(require('node:fs').readFileSync(require('node:path').join(__dirname, '..', 'package.json'), 'utf8')).version
  } catch {
    VERSION = ''
  }
  try {
    api = require('@opentelemetry/api')
  } catch {
    api = null
    if (log.enabled) log.debug('an OpenTelemetry provider is registered but @opentelemetry/api cannot be loaded: no spans or metrics')
    return
  }
  // The best of a few readings: the mapping of the report clock onto ours.
  let best = Infinity
  for (let i = 0; i < 5; i++) {
    const a = performance.now()
    const r = native.telemetryNow()
    const b = performance.now()
    if (b - a < best) {
      best = b - a
      offset = (a + b) / 2 - r
    }
  }
  calls.onTokenFetch(backgroundFetch)
  native.observeTokenFetches(calls.queue)
  log.context.traceId = activeTraceId
}

/** @param {any} mp */
function instruments(mp) {
  const m = mp.getMeter(NAME, VERSION)
  return {
    duration: m.createHistogram('wml_native.call.duration', {
      description: 'Duration of WmlClient calls (a stream: until its end), token wait and retries included',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60] },
    }),
    retries: m.createCounter('wml_native.call.retries', { description: 'Requests sent again: retries, and the one after a refused token', unit: '{request}' }),
    tokenHits: observeLookups(m, 'wml_native.token.cache.hits', 'Token lookups answered from the cache (since the process started)', 'hits'),
    tokenMisses: observeLookups(m, 'wml_native.token.cache.misses', 'Token lookups that waited for a token request (since the process started)', 'misses'),
    tokenRequests: m.createCounter('wml_native.token.requests', { description: 'Token requests sent to a token service (IAM, ...); failures carry error.type', unit: '{request}' }),
    tokenDuration: m.createHistogram('wml_native.token.request.duration', { description: 'Duration of token requests, their retries included', unit: 's' }),
  }
}

/**
 * Token lookups per authenticator type. A lookup costs one increment here,
 * whatever is registered (the memo hit is the hottest path of all: no
 * look-up of the OpenTelemetry registry there); a meter reads the counts
 * through observable counters.
 * @typedef {{ hits: number, misses: number }} Lookups
 * @type {Map<string, Lookups>}
 */
const lookups = new Map()

/**
 * The lookup counts of authenticator `type` (one cell per type, kept).
 * @param {string} type
 * @returns {Lookups}
 */
function lookupCell(type) {
  let c = lookups.get(type)
  if (c === undefined) {
    c = { hits: 0, misses: 0 }
    lookups.set(type, c)
  }
  return c
}

/**
 * @param {any} meter
 * @param {string} name
 * @param {string} description
 * @param {'hits' | 'misses'} field
 */
function observeLookups(meter, name, description, field) {
  const counter = meter.createObservableCounter(name, { description, unit: '{lookup}' })
  counter.addCallback((/** @type {any} */ result) => {
    for (const [type, c] of lookups) if (c[field] > 0) result.observe(c[field], { 'wml.auth.type': type })
  })
  return counter
}

/** The active span's trace id, for debug log lines ('' when none). */
function activeTraceId() {
  const span = api ? api.trace.getSpan(api.context.active()) : undefined
  return span ? span.spanContext().traceId : ''
}

/**
 * `ms` on the performance.now() clock as an HrTime (unambiguous for every SDK).
 * @param {number} ms
 * @returns {[number, number]}
 */
function hr(ms) {
  const t = performance.timeOrigin + ms
  const s = Math.floor(t / 1000)
  const ns = Math.min(999_999_999, Math.max(0, Math.round((t - s * 1000) * 1e6)))
  return [s, ns]
}

/**
 * The trace context headers for `ctx` as `[name, value, ...]`: through the
 * registered propagator, or W3C `traceparent`/`tracestate` when none is.
 * @param {Observer} o
 * @param {any} ctx
 * @param {any} span
 */
function contextHeaders(o, ctx, span) {
  const g = /** @type {any} */ (globalThis)[GLOBAL]
  /** @type {string[]} */
  const flat = []
  if (g !== undefined && g.propagation !== undefined) {
    /** @type {Record<string, string>} */
    const carrier = {}
    o.api.propagation.inject(o.api.trace.setSpan(ctx, span), carrier)
    for (const k in carrier) flat.push(k, String(carrier[k]))
    return flat
  }
  const sc = span.spanContext()
  if (!o.api.isSpanContextValid(sc)) return flat
  flat.push('traceparent', `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & 1).toString(16)}`)
  const state = sc.traceState && sc.traceState.serialize()
  if (state) flat.push('tracestate', state)
  return flat
}

/**
 * Where a client's calls go: its base URL and server address, for attributes.
 * @typedef {{ base: string, address: string, port: number }} Target
 * @param {string} base
 * @returns {Target}
 */
function target(base) {
  const u = new URL(base)
  return { base, address: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80 }
}

/**
 * One observed WmlClient call (or stream): its span, its NativeTrace, its
 * start. `finish` ends it.
 */
class Observed {
  /** @type {any} */
  span = null
  /** @type {any} */
  ctx
  /** @type {import('../native').NativeTrace} */
  trace
  start = performance.now()
  /** Stream figures: chunks taken, when the first came. */
  chunks = 0
  firstAt = 0
  done = false

  /**
   * @param {Observer} o
   * @param {Target} t
   * @param {string} kind the OPS key
   * @param {string} deploymentId
   * @param {unknown} request the caller's request (for the model id)
   */
  constructor(o, t, kind, deploymentId, request) {
    this.o = o
    this.t = t
    this.kind = kind
    const [op, method, template, gen] = OPS[kind]
    this.op = op
    let traceId = ''
    /** @type {string[]} */
    let headers = []
    if (o.tracer !== null) {
      const attributes = {
        'http.request.method': method,
        'server.address': t.address,
        'server.port': t.port,
        'url.full': t.base + template.replace('{deployment_id}', deploymentId),
        'url.template': template,
        'wml.operation': op,
      }
      if (gen !== null) {
        Object.assign(attributes, { 'gen_ai.operation.name': gen, 'gen_ai.provider.name': 'ibm.watsonx.ai' })
        const model = request !== null && typeof request === 'object' && !(request instanceof Uint8Array) ? /** @type {any} */ (request).model_id : undefined
        if (typeof model === 'string') Object.assign(attributes, { 'gen_ai.request.model': model })
      }
      this.ctx = o.api.context.active()
      this.span = o.tracer.startSpan(`${method} ${template}`, { kind: CLIENT, startTime: hr(this.start), attributes }, this.ctx)
      headers = contextHeaders(o, this.ctx, this.span)
      traceId = this.span.spanContext().traceId
    }
    this.trace = new native.NativeTrace(traceId, headers)
  }

  /** A stream chunk reached the caller. */
  chunk() {
    if (this.chunks++ === 0) this.firstAt = performance.now()
  }

  /**
   * Ends the span and records the metrics, once.
   * @param {any} [error] the call's error
   * @param {boolean} [closedEarly] a stream the caller closed before its end
   */
  finish(error, closedEarly) {
    if (this.done) return
    this.done = true
    try {
      this.#finish(error, closedEarly)
    } catch (e) {
      failed('telemetry left out for this call', e)
    }
  }

  /**
   * @param {any} error
   * @param {boolean | undefined} closedEarly
   */
  #finish(error, closedEarly) {
    const end = performance.now()
    const r = this.trace.report()
    const { o, span } = this
    const errorType = error === undefined ? undefined : typeOfError(error)
    const status = r.status ?? undefined
    if (span !== null) {
      if (span.isRecording()) this.#record(r, status, end)
      if (errorType !== undefined) {
        span.setAttribute('error.type', errorType)
        span.setStatus({ code: ERROR, message: error && error.message })
      }
      if (closedEarly) span.setAttribute('wml.stream.closed_early', true)
      span.end(hr(end))
    }
    const m = o.metrics
    if (m !== null) {
      const where = { 'wml.operation': this.op, 'server.address': this.t.address }
      /** @type {Record<string, string>} */
      const attrs = { ...where }
      if (status !== undefined) attrs['http.response.status_class'] = `${Math.floor(status / 100)}xx`
      if (errorType !== undefined) attrs['error.type'] = errorType
      m.duration.record((end - this.start) / 1000, attrs)
      for (const e of r.events) {
        if (e.name === 'retry') m.retries.add(1, { ...where, 'error.type': eventErrorType(e) })
      }
      if (r.events.some((e) => e.name === 'token.refresh')) m.retries.add(1, { ...where, 'error.type': '401' })
    }
    if (r.tokenHits || r.tokenMisses) {
      const c = lookupCell(authType(r.authKind))
      c.hits += r.tokenHits
      c.misses += r.tokenMisses
    }
    for (const f of r.fetches) tokenFetched(f, span === null ? undefined : o.api.trace.setSpan(this.ctx, span), o)
  }

  /**
   * The report as span events and attributes.
   * @param {import('../native').TraceReport} r
   * @param {number | undefined} status
   * @param {number} end
   */
  #record(r, status, end) {
    const span = this.span
    if (status !== undefined) span.setAttribute('http.response.status_code', status)
    if (r.resends) span.setAttribute('http.request.resend_count', r.resends)
    if (r.authKind) span.setAttribute('wml.auth.type', authType(r.authKind))
    for (const e of r.events) {
      /** @type {Record<string, string | number>} */
      const attrs = {}
      if (e.status != null) attrs['http.response.status_code'] = e.status
      if (e.error != null) attrs['error.type'] = e.error
      if (e.name === 'retry' && e.ms != null) attrs['wml.retry.delay_ms'] = Math.round(e.ms)
      if (e.name === 'token.wait' && e.ms != null) attrs['wml.token.wait_ms'] = Math.round(e.ms * 1000) / 1000
      span.addEvent(e.name, attrs, hr(Math.min(end, e.atMs + offset)))
    }
    if (OPS[this.kind][0].endsWith('Stream')) {
      span.setAttribute('wml.stream.chunks', this.chunks)
      if (this.chunks > 0) {
        span.setAttribute('wml.stream.time_to_first_chunk_ms', Math.round((this.firstAt - this.start) * 1000) / 1000)
        span.addEvent('first_chunk', {}, hr(this.firstAt))
      }
    }
  }
}

/**
 * `error.type` of a failed call: the status of a service error, else our code.
 * @param {any} e
 */
function typeOfError(e) {
  if (e !== null && typeof e === 'object') {
    if (e.code === 'ERR_WML' && typeof e.status === 'number') return String(e.status)
    if (typeof e.code === 'string') return e.code
  }
  return 'Error'
}

/** @param {{ status?: number | null, error?: string | null }} e */
function eventErrorType(e) {
  return e.status != null ? String(e.status) : e.error ?? 'Error'
}

/** @param {string | null | undefined} kind */
function authType(kind) {
  return kind ? AUTH_TYPES[kind] ?? kind : 'unknown'
}

/**
 * A token request that went to the network: a span (a child of `parent`
 * when a call or a token lookup waited for it, a root span otherwise) and
 * the token request metrics.
 * @param {import('../native').TokenFetch} f
 * @param {any} [parent] the context of what waited for it
 * @param {Observer | null} [o]
 */
function tokenFetched(f, parent, o = active()) {
  if (o === null) return
  const type = authType(f.kind)
  const server = f.endpoint ? target(f.endpoint) : undefined
  if (o.tracer !== null) {
    /** @type {Record<string, string | number | boolean>} */
    const attributes = { 'http.request.method': f.kind === 'vpc' ? 'PUT' : 'POST', 'wml.auth.type': type, 'wml.token.background': f.background }
    if (server) Object.assign(attributes, { 'server.address': server.address, 'server.port': server.port })
    if (f.status != null) attributes['http.response.status_code'] = f.status
    const options = { kind: CLIENT, startTime: hr(f.startMs + offset), attributes, root: parent === undefined }
    const span = o.tracer.startSpan(f.background ? 'wml-native token refresh' : 'wml-native token request', options, parent)
    if (f.error != null) {
      span.setAttribute('error.type', f.status != null ? String(f.status) : f.error)
      span.setStatus({ code: ERROR, message: f.error })
    }
    span.end(hr(f.endMs + offset))
  }
  const m = o.metrics
  if (m !== null) {
    /** @type {Record<string, string | boolean>} */
    const attrs = { 'wml.auth.type': type, 'wml.token.background': f.background }
    if (server) attrs['server.address'] = server.address
    if (f.error != null) attrs['error.type'] = f.status != null ? String(f.status) : f.error
    m.tokenRequests.add(1, attrs)
    m.tokenDuration.record((f.endMs - f.startMs) / 1000, attrs)
  }
}

/**
 * A token request nobody waited for (a background refresh), as the
 * completion queue hands it over: a failing tracer or meter is logged, never
 * thrown into the queue's batch (the calls settling with it would be lost).
 * @param {import('../native').TokenFetch} f
 */
function backgroundFetch(f) {
  try {
    tokenFetched(f)
  } catch (e) {
    failed('telemetry left out for a background token request', e)
  }
}

/**
 * Runs a token wait (`run(trace)`: getIamToken's or an authenticator's miss)
 * so that the token request it starts is a child span of the active span.
 * @template T
 * @param {(trace: import('../native').NativeTrace | undefined) => Promise<T>} run
 * @returns {Promise<T>}
 */
function tokenWait(run) {
  const o = active()
  if (o === null || o.tracer === null) return run(undefined)
  let ctx, span, trace
  try {
    ctx = o.api.context.active()
    span = o.api.trace.getSpan(ctx)
    trace = new native.NativeTrace(span ? span.spanContext().traceId : '', [])
  } catch (e) {
    failed('telemetry left out for this token wait', e)
    return run(undefined)
  }
  const t = trace
  const done = () => {
    try {
      for (const f of t.report().fetches) tokenFetched(f, span ? ctx : undefined, o)
    } catch (e) {
      failed('telemetry left out for this token wait', e)
    }
  }
  return run(trace).finally(done)
}

/**
 * `configureTelemetry(options)`: `enabled` (false: no spans, metrics or
 * trace context even with providers registered), `tracerProvider` and
 * `meterProvider` (used instead of the globally registered ones). Called
 * with nothing, back to the defaults.
 * @param {unknown} [options]
 */
function configureTelemetry(options) {
  if (options === undefined || options === null) {
    settings = null
    return
  }
  if (typeof options !== 'object') throw invalid('options must be an object')
  const { enabled = true, tracerProvider, meterProvider } = /** @type {Record<string, any>} */ (options)
  if (typeof enabled !== 'boolean') throw invalid('options.enabled must be a boolean')
  if (tracerProvider != null && typeof tracerProvider.getTracer !== 'function') throw invalid('options.tracerProvider must be a TracerProvider (with getTracer)')
  if (meterProvider != null && typeof meterProvider.getMeter !== 'function') throw invalid('options.meterProvider must be a MeterProvider (with getMeter)')
  settings = enabled && tracerProvider == null && meterProvider == null ? null : { enabled, tracerProvider: tracerProvider ?? undefined, meterProvider: meterProvider ?? undefined }
}

module.exports = { active, target, Observed, lookupCell, tokenWait, configureTelemetry, failed }
