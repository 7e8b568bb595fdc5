// OpenTelemetry with the real SDK: the span of every call (success, service
// error, timeout, abort, retry, 401 refresh, streams, chat, embed), token
// request spans (a miss: one; a hit: none; a background refresh: a root
// span), W3C trace context as the service received it, metrics, and no key
// or token in any span or metric.
import { test, before, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { trace, context, propagation, metrics, SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { useFakeServer, keyMaker } from './helpers/fake.mjs'
import { collect } from './helpers/streams.mjs'

const require = createRequire(import.meta.url)
const m = require('../index.js')
const fake = require('../testing/index.js')

const SCORE = 'POST /ml/v4/deployments/{deployment_id}/predictions'
const payload = { input_data: [{ fields: ['a'], values: [[1]] }] }

class Reader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

const exporter = new InMemorySpanExporter()
const reader = new Reader()
const tracer = trace.getTracer('test')
/** Every key used, to check that none reaches a span or a metric. */
const keys = []

let server
useFakeServer((s) => (server = s))
const newKey = keyMaker('otel-key')
const freshKey = () => {
  const k = newKey()
  keys.push(k)
  return k
}
const client = (extra) => new m.WmlClient({ url: server.url, apikey: freshKey(), iamUrl: server.url, projectId: 'proj-1', maxRetries: 2, ...extra })

before(() => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }))
})
beforeEach(() => {
  propagation.disable()
  exporter.reset()
})

/** Runs `fn` in a parent span; resolves { result | error, parent, spans } once `fn` settled. */
async function traced(fn) {
  let result, error
  const parent = await tracer.startActiveSpan('parent', async (span) => {
    try {
      result = await fn()
    } catch (e) {
      error = e
    }
    span.end()
    return span
  })
  return { result, error, parent, spans: exporter.getFinishedSpans().filter((s) => s !== parent) }
}

const named = (spans, name) => spans.filter((s) => s.name === name)
const one = (spans, name) => {
  const found = named(spans, name)
  assert.equal(found.length, 1, `one span ${name} among ${spans.map((s) => s.name).join(', ')}`)
  return found[0]
}
const parentOf = (span) => span.parentSpanContext?.spanId
const traceparentOf = (req) => req.headers.traceparent

test('score: one client span with the HTTP attributes, a child span for the token request, traceparent at the service', async () => {
  const c = client()
  const { parent, spans } = await traced(() => c.score('dep-1', payload))
  const span = one(spans, SCORE)
  assert.equal(span.kind, SpanKind.CLIENT)
  assert.equal(parentOf(span), parent.spanContext().spanId)
  assert.equal(span.spanContext().traceId, parent.spanContext().traceId)
  const port = Number(new URL(server.url).port)
  assert.deepEqual(
    { ...span.attributes },
    {
      'http.request.method': 'POST',
      'server.address': '127.0.0.1',
      'server.port': port,
      'url.full': `${server.url}/ml/v4/deployments/dep-1/predictions`,
      'url.template': '/ml/v4/deployments/{deployment_id}/predictions',
      'wml.operation': 'score',
      'http.response.status_code': 200,
      'wml.auth.type': 'iam',
    },
  )
  assert.equal(span.status.code, SpanStatusCode.UNSET)
  assert.deepEqual(span.events.map((e) => e.name), ['token.wait'])

  const token = one(spans, 'wml-native token request')
  assert.equal(parentOf(token), span.spanContext().spanId)
  assert.equal(token.kind, SpanKind.CLIENT)
  assert.deepEqual({ ...token.attributes }, {
    'http.request.method': 'POST',
    'wml.auth.type': 'iam',
    'wml.token.background': false,
    'server.address': '127.0.0.1',
    'server.port': port,
  })
  const at = (t) => t[0] * 1e9 + t[1]
  assert.ok(at(span.startTime) <= at(token.startTime) && at(token.endTime) <= at(span.endTime), 'the token request lies within the call')

  // The service received the span's own context; IAM received none.
  const sc = span.spanContext()
  assert.equal(traceparentOf(server.lastRequest('predictions')), `00-${sc.traceId}-${sc.spanId}-01`)
  assert.equal(traceparentOf(server.lastRequest('iam')), undefined)

  // A second call: the token is cached, so no token span and no wait.
  exporter.reset()
  const again = await traced(() => c.score('dep-1', payload))
  assert.deepEqual(again.spans.map((s) => s.name), [SCORE])
  assert.deepEqual(again.spans[0].events, [])
})

test('the registered propagator writes the headers (tracestate too); without one, W3C traceparent is written', async () => {
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  const c = client()
  const parentContext = trace.setSpanContext(context.active(), {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: 1,
    isRemote: true,
    traceState: new (require('@opentelemetry/core').TraceState)('congo=t61rcWkgMzE'),
  })
  await context.with(parentContext, () => c.score('dep-1', payload))
  const req = server.lastRequest('predictions')
  const span = one(exporter.getFinishedSpans(), SCORE)
  assert.equal(span.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c', 'the incoming trace goes on')
  assert.equal(traceparentOf(req), `00-0af7651916cd43dd8448eb211c80319c-${span.spanContext().spanId}-01`)
  assert.equal(req.headers.tracestate, 'congo=t61rcWkgMzE')
})

test('service error: ERROR status, error.type is the status, the status code recorded', async () => {
  server.fault({ route: 'predictions', status: 404 })
  const { error, spans } = await traced(() => client().score('missing', payload))
  assert.equal(error.code, 'ERR_WML')
  const span = one(spans, SCORE)
  assert.equal(span.status.code, SpanStatusCode.ERROR)
  assert.equal(span.attributes['error.type'], '404')
  assert.equal(span.attributes['http.response.status_code'], 404)
})

test('timeout and abort: error.type is the code, and the span ends with the call', async () => {
  server.fault({ route: 'predictions', hang: true })
  const c = client()
  const timedOut = await traced(() => c.score('dep-1', payload, { timeoutMs: 200 }))
  assert.equal(timedOut.error.code, 'ERR_TIMEOUT')
  const span = one(timedOut.spans, SCORE)
  assert.equal(span.attributes['error.type'], 'ERR_TIMEOUT')
  assert.equal(span.status.code, SpanStatusCode.ERROR)
  assert.equal(span.attributes['http.response.status_code'], undefined, 'no answer, no status')

  exporter.reset()
  const ac = new AbortController()
  const aborted = await traced(() => {
    const p = c.score('dep-1', payload, { signal: ac.signal })
    setTimeout(() => ac.abort(), 50)
    return p
  })
  assert.equal(aborted.error.code, 'ERR_ABORTED')
  assert.equal(one(aborted.spans, SCORE).attributes['error.type'], 'ERR_ABORTED')
})

test('retry: a 429 then 200 makes a retry event, the resend count, and one span', async () => {
  const c = client()
  await c.score('dep-1', payload) // the token first: only the retry below
  server.fault({ route: 'predictions', status: 429, retryAfter: '0', times: 1 })
  exporter.reset()
  const { spans } = await traced(() => c.score('dep-1', payload))
  const span = one(spans, SCORE)
  assert.equal(span.attributes['http.response.status_code'], 200)
  assert.equal(span.attributes['http.request.resend_count'], 1)
  const retry = span.events.find((e) => e.name === 'retry')
  assert.deepEqual(retry?.attributes, { 'http.response.status_code': 429, 'wml.retry.delay_ms': 0 })
  // Both attempts carried the same context.
  const sent = server.requests('predictions').slice(-2).map(traceparentOf)
  assert.equal(sent[0], sent[1])
  assert.ok(sent[0].includes(span.spanContext().spanId))
})

test('401: a token.refresh event and a second token request span under the call', async () => {
  const c = client()
  await c.score('dep-1', payload)
  server.fault({ route: 'predictions', status: 401, times: 1 })
  exporter.reset()
  const { spans } = await traced(() => c.score('dep-1', payload))
  const span = one(spans, SCORE)
  assert.deepEqual(span.events.map((e) => e.name), ['token.refresh', 'token.wait'])
  assert.equal(span.events[0].attributes['http.response.status_code'], 401)
  assert.equal(span.attributes['http.request.resend_count'], 1)
  assert.equal(parentOf(one(spans, 'wml-native token request')), span.spanContext().spanId)
})

test('streams: chunk count, time to first chunk, and a stream closed early', async () => {
  const c = client()
  const request = { model_id: fake.DEFAULT_CHAT_MODEL_ID, messages: [{ role: 'user', content: 'tell me about streams please' }] }
  const { result: chunks, spans } = await traced(() => collect(c.chatStream(request)))
  const span = one(spans, 'POST /ml/v1/text/chat_stream')
  assert.equal(span.attributes['wml.operation'], 'chatStream')
  assert.equal(span.attributes['wml.stream.chunks'], chunks.length)
  assert.ok(chunks.length > 2)
  const ttfc = span.attributes['wml.stream.time_to_first_chunk_ms']
  assert.ok(typeof ttfc === 'number' && ttfc > 0, `time to first chunk ${ttfc}`)
  assert.ok(span.events.some((e) => e.name === 'first_chunk'))
  assert.equal(span.attributes['gen_ai.request.model'], fake.DEFAULT_CHAT_MODEL_ID)
  assert.equal(span.attributes['wml.stream.closed_early'], undefined)
  assert.equal(span.status.code, SpanStatusCode.UNSET)
  assert.ok(traceparentOf(server.lastRequest('chat_stream')).includes(span.spanContext().spanId))

  exporter.reset()
  const early = await traced(async () => {
    for await (const chunk of c.chatStream(request)) {
      assert.ok(chunk)
      break
    }
  })
  const closed = one(early.spans, 'POST /ml/v1/text/chat_stream')
  assert.equal(closed.attributes['wml.stream.closed_early'], true)
  assert.equal(closed.attributes['wml.stream.chunks'], 1)
  assert.equal(closed.status.code, SpanStatusCode.UNSET, 'closing is not an error')

  exporter.reset()
  server.fault({ route: 'chat_stream', errorAfterEvents: 1, errorCode: 'model_error', times: 1 })
  const failed = await traced(() => collect(c.chatStream(request)))
  assert.equal(failed.error.code, 'ERR_WML')
  assert.equal(one(failed.spans, 'POST /ml/v1/text/chat_stream').status.code, SpanStatusCode.ERROR)
})

test('chat and embed: their own span names and the gen_ai attributes', async () => {
  const c = client()
  await traced(() => c.chat({ model_id: fake.DEFAULT_CHAT_MODEL_ID, messages: [{ role: 'user', content: 'hi' }] }))
  const chat = one(exporter.getFinishedSpans(), 'POST /ml/v1/text/chat')
  assert.equal(chat.attributes['gen_ai.operation.name'], 'chat')
  assert.equal(chat.attributes['gen_ai.provider.name'], 'ibm.watsonx.ai')
  assert.equal(chat.attributes['wml.operation'], 'chat')
  exporter.reset()
  await traced(() => c.embed({ model_id: fake.DEFAULT_EMBEDDING_MODEL_ID, inputs: ['a', 'b'] }))
  const embed = one(exporter.getFinishedSpans(), 'POST /ml/v1/text/embeddings')
  assert.equal(embed.attributes['gen_ai.operation.name'], 'embeddings')
  assert.equal(embed.attributes['http.response.status_code'], 200)
  assert.ok(traceparentOf(server.lastRequest('embeddings')).includes(embed.spanContext().spanId))
})

test('token requests: getIamToken and authenticators make one span per request to the network, none for a hit', async () => {
  const key = freshKey()
  const { parent, spans } = await traced(() => m.getIamToken(key, { url: server.url }))
  const span = one(spans, 'wml-native token request')
  assert.equal(parentOf(span), parent.spanContext().spanId, 'a child of what waited for it')
  exporter.reset()
  await traced(() => m.getIamToken(key, { url: server.url }))
  assert.deepEqual(named(exporter.getFinishedSpans(), 'wml-native token request'), [])

  const auth = new m.IamAuthenticator({ apikey: freshKey(), url: server.url })
  exporter.reset()
  const viaAuth = await traced(() => auth.getToken())
  assert.equal(parentOf(one(viaAuth.spans, 'wml-native token request')), viaAuth.parent.spanContext().spanId)

  server.fault({ route: 'iam', status: 400, times: 1 })
  exporter.reset()
  const failed = await traced(() => m.getIamToken(freshKey(), { url: server.url, maxRetries: 0 }))
  assert.equal(failed.error.code, 'ERR_IAM')
  const failedSpan = one(failed.spans, 'wml-native token request')
  assert.equal(failedSpan.status.code, SpanStatusCode.ERROR)
  assert.equal(failedSpan.attributes['error.type'], '400')
})

test('a background refresh is a root span of its own', async () => {
  const key = freshKey()
  // A token already past its refresh point (issued 3500 s into a 3600 s life): the next lookup refreshes it in the background.
  server.fault({ route: 'iam', tokenIssuedAgoSec: 3500, times: 1 })
  await m.getIamToken(key, { url: server.url })
  exporter.reset()
  await m.getIamToken(key, { url: server.url })
  const deadline = Date.now() + 5000
  while (named(exporter.getFinishedSpans(), 'wml-native token refresh').length === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10))
  }
  const span = one(exporter.getFinishedSpans(), 'wml-native token refresh')
  assert.equal(span.parentSpanContext, undefined)
  assert.equal(span.attributes['wml.token.background'], true)
  assert.equal(server.iamRequestsFor(key), 2)
})

test('metrics: call duration per operation and status class, retries, token cache hits and misses, token requests', async () => {
  const c = client()
  await c.score('dep-1', payload)
  server.fault({ route: 'predictions', status: 429, retryAfter: '0', times: 1 })
  await c.score('dep-1', payload)
  server.fault({ route: 'predictions', status: 404, times: 1 })
  await assert.rejects(c.score('dep-1', payload))
  const key = freshKey()
  await m.getIamToken(key, { url: server.url })
  await m.getIamToken(key, { url: server.url })

  const { resourceMetrics, errors } = await reader.collect()
  assert.deepEqual(errors, [])
  const all = resourceMetrics.scopeMetrics.filter((s) => s.scope.name === 'wml-native').flatMap((s) => s.metrics)
  const metric = (name) => {
    const found = all.find((x) => x.descriptor.name === name)
    assert.ok(found, `metric ${name} among ${all.map((x) => x.descriptor.name).join(', ')}`)
    return found
  }
  const points = (name, match) => metric(name).dataPoints.filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))

  const duration = metric('wml_native.call.duration')
  assert.equal(duration.descriptor.unit, 's')
  const ok = points('wml_native.call.duration', { 'wml.operation': 'score', 'http.response.status_class': '2xx' })
  assert.equal(ok.length, 1)
  assert.ok(ok[0].value.count >= 2)
  assert.equal(ok[0].attributes['server.address'], '127.0.0.1')
  const notFound = points('wml_native.call.duration', { 'wml.operation': 'score', 'http.response.status_class': '4xx', 'error.type': '404' })
  assert.ok(notFound[0].value.count >= 1)
  assert.ok(points('wml_native.call.retries', { 'wml.operation': 'score', 'error.type': '429' })[0].value >= 1)
  assert.ok(points('wml_native.token.cache.hits', { 'wml.auth.type': 'iam' })[0].value >= 2)
  assert.ok(points('wml_native.token.cache.misses', { 'wml.auth.type': 'iam' })[0].value >= 2)
  const requests = points('wml_native.token.requests', { 'wml.auth.type': 'iam', 'wml.token.background': false })
  assert.ok(requests.some((p) => p.value >= 2 && p.attributes['error.type'] === undefined))
  assert.ok(points('wml_native.token.request.duration', { 'wml.auth.type': 'iam' }).length >= 1)
})

test('configureTelemetry: enabled false sends no trace context and makes no span; a given tracer provider is used', async () => {
  try {
    m.configureTelemetry({ enabled: false })
    await traced(() => client().score('dep-1', payload))
    assert.deepEqual(exporter.getFinishedSpans().map((s) => s.name), ['parent'])
    assert.equal(traceparentOf(server.lastRequest('predictions')), undefined)

    const own = new InMemorySpanExporter()
    m.configureTelemetry({ tracerProvider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(own)] }) })
    await client().score('dep-1', payload)
    assert.equal(one(own.getFinishedSpans(), SCORE).attributes['wml.operation'], 'score')
    assert.throws(() => m.configureTelemetry({ tracerProvider: {} }), m.InvalidArgumentError)
    assert.throws(() => m.configureTelemetry('on'), m.InvalidArgumentError)
  } finally {
    m.configureTelemetry()
  }
})

test('a tracer or meter provider that throws never fails a call, nor makes it throw', async () => {
  const broken = () => {
    throw new Error('broken provider')
  }
  try {
    const span = {
      spanContext: () => ({ traceId: '1'.repeat(32), spanId: '1'.repeat(16), traceFlags: 1 }),
      isRecording: () => false,
      setAttribute() {},
      setStatus() {},
      addEvent() {},
      end: broken,
    }
    for (const settings of [
      { tracerProvider: { getTracer: broken } },
      { meterProvider: { getMeter: broken } },
      { tracerProvider: { getTracer: () => ({ startSpan: broken }) } },
      { tracerProvider: { getTracer: () => ({ startSpan: () => span }) } },
    ]) {
      m.configureTelemetry(settings)
      const c = client()
      let p
      assert.doesNotThrow(() => (p = c.score('dep-1', payload)))
      assert.ok((await p).predictions)
      const a = new m.IamAuthenticator({ apikey: freshKey(), url: server.url })
      assert.doesNotThrow(() => (p = a.getTokenInfo()))
      assert.match((await p).accessToken, /^ey/)
      assert.match(await m.getIamToken(freshKey(), { url: server.url }), /^ey/)
    }
  } finally {
    m.configureTelemetry()
  }
})

test('no key or token in any span, event or metric', async () => {
  const { resourceMetrics } = await reader.collect()
  const texts = [JSON.stringify(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics.map((x) => x.dataPoints.map((p) => p.attributes))))]
  // Spans of every kind above, made again here (the exporter was reset between tests).
  const c = client()
  await traced(async () => {
    await c.score('dep-1', payload)
    await collect(c.chatStream({ model_id: fake.DEFAULT_CHAT_MODEL_ID, messages: [{ role: 'user', content: 'hi' }] }))
    server.fault({ route: 'predictions', status: 401, times: 1 })
    await c.score('dep-1', payload)
    await m.getIamToken(freshKey(), { url: server.url })
  })
  for (const s of exporter.getFinishedSpans()) {
    texts.push(JSON.stringify({ name: s.name, attributes: s.attributes, events: s.events, status: s.status, links: s.links }))
  }
  const tokens = ['predictions', 'chat_stream'].flatMap((r) => server.requests(r)).map((r) => String(r.headers.authorization ?? '').replace(/^Bearer /, ''))
  const secrets = [...keys, ...tokens].filter((s) => s.length > 8)
  assert.ok(tokens.length >= 3 && keys.length >= 10)
  for (const secret of secrets) {
    for (const t of texts) assert.ok(!t.includes(secret), `a secret (${secret.slice(0, 6)}...) in ${t.slice(0, 200)}`)
  }
})
