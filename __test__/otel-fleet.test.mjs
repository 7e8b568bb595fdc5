// OpenTelemetry with the fleet token store: a token request that goes to
// the token service makes its span; a token taken from the store (another
// process's request) makes none, and neither does anything in Redis carry
// a trace attribute.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { trace, context } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { useFakeServer, keyMaker } from './helpers/fake.mjs'
import { useRedis, commandRaw } from './helpers/redis.mjs'

const require = createRequire(import.meta.url)
const m = require('../index.js')

let server
let redis
useFakeServer((s) => (server = s))
useRedis((r) => (redis = r))
const freshKey = keyMaker('otel-fleet')
const exporter = new InMemorySpanExporter()
const tracer = trace.getTracer('test')

before(() => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
})
after(() => {
  m.configureTokenCache({ store: null })
  m.configureTelemetry({ enabled: false })
})

const tokenSpans = () => exporter.getFinishedSpans().filter((s) => s.name === 'wml-native token request')

test('a token request to IAM makes a span; the same token from the store makes none', async () => {
  m.configureTokenCache({ store: redis.url })
  const key = freshKey()
  const traceIds = []
  await tracer.startActiveSpan('first', async (span) => {
    traceIds.push(span.spanContext().traceId)
    await m.getIamToken(key, { url: server.url })
    span.end()
  })
  assert.equal(tokenSpans().length, 1, 'the request to IAM')
  assert.equal(server.iamRequestsFor(key), 1)

  // This process forgets its tokens: the next one comes from Redis, as it
  // would for a new process of the fleet.
  m.clearTokenCache()
  exporter.reset()
  const before = m.tokenCacheStats().storeHits
  await tracer.startActiveSpan('second', async (span) => {
    traceIds.push(span.spanContext().traceId)
    await m.getIamToken(key, { url: server.url })
    span.end()
  })
  assert.equal(server.iamRequestsFor(key), 1, 'no second request to IAM')
  assert.equal(m.tokenCacheStats().storeHits, before + 1)
  assert.deepEqual(tokenSpans(), [], 'no span for a token that was not requested')
  assert.equal(exporter.getFinishedSpans().length, 1, 'only the test\'s own span')

  // Nothing in Redis (names or values) carries either trace id.
  const names = await commandRaw(redis.port, 'KEYS', '*')
  assert.ok(names.length >= 1, 'the token entry is in Redis')
  for (const name of names) {
    const value = await commandRaw(redis.port, 'GET', name)
    for (const id of traceIds) {
      assert.equal(name.includes(id), false, 'a trace id in a key name')
      assert.equal(value?.includes(id) ?? false, false, 'a trace id in a value')
      assert.equal(value?.includes(Buffer.from(id, 'hex')) ?? false, false, 'a trace id (binary) in a value')
    }
  }
})
