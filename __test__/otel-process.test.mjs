// OpenTelemetry in fresh processes: with no provider registered nothing of
// it is loaded and no trace context goes out; with a provider registered but
// @opentelemetry/api not resolvable, calls work as before; the debug log
// carries the trace id of a traced call (Rust and JS lines).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { childEnv } from './helpers/child-env.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** Runs `body` (CommonJS, async, with `m`, `server`, `client` and `out(value)`) in a fresh node process. */
function run(body, { env = {}, prelude = '' } = {}) {
  const script = `
${prelude}
const m = require(${JSON.stringify(ROOT)})
const { startFakeServer } = require(${JSON.stringify(path.join(ROOT, 'testing'))})
const out = (v) => process.stdout.write(JSON.stringify(v) + '\\n')
;(async () => {
  const server = await startFakeServer()
  const client = new m.WmlClient({ url: server.url, iamUrl: server.url, apikey: 'otel-process-key' })
  try {
${body}
  } finally {
    await server.close()
  }
})().catch((e) => { console.error(e); process.exit(1) })
`
  const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000, env: childEnv(env) })
  assert.equal(r.status, 0, r.stderr)
  return { value: JSON.parse(r.stdout.trim().split('\n').pop()), stderr: r.stderr }
}

const payload = "{ input_data: [{ fields: ['a'], values: [[1]] }] }"

test('no provider registered: @opentelemetry/api is never loaded and no trace context is sent', () => {
  const { value } = run(`
    await client.score('dep', ${payload})
    await m.getIamToken('otel-process-key-2', { url: server.url })
    await m.getIamToken('otel-process-key-2', { url: server.url })
    const auth = new m.IamAuthenticator({ apikey: 'otel-process-key-3', url: server.url })
    await auth.getToken()
    await auth.getToken()
    await client.chat({ model_id: 'ibm/granite-3-8b-instruct', project_id: 'p', messages: [{ role: 'user', content: 'hi' }] })
    const sent = ['iam', 'predictions', 'chat'].flatMap((route) => server.requests(route).map((r) => [route, r.headers]))
    out({
      loaded: Object.keys(require.cache).filter((k) => k.includes('opentelemetry')),
      registry: globalThis[Symbol.for('opentelemetry.js.api.1')] === undefined,
      routes: [...new Set(sent.map(([route]) => route))],
      headers: sent.flatMap(([route, headers]) => Object.keys(headers).filter((h) => /trace|baggage/.test(h)).map((h) => route + ': ' + h)),
    })
  `)
  // Every request (the token requests, the scoring call and the chat call) was seen, none with trace headers.
  assert.deepEqual(value, { loaded: [], registry: true, routes: ['iam', 'predictions', 'chat'], headers: [] })
})

test('a provider registered but @opentelemetry/api not resolvable: calls work, untraced', () => {
  const prelude = `
const Module = require('node:module')
const resolve = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  if (request.startsWith('@opentelemetry/')) throw Object.assign(new Error('Cannot find module ' + request), { code: 'MODULE_NOT_FOUND' })
  return resolve.call(this, request, ...rest)
}
globalThis[Symbol.for('opentelemetry.js.api.1')] = { version: '1.9.0', trace: { getTracer() { throw new Error('not to be called') } } }
`
  const { value } = run(`
    const scored = await client.score('dep', ${payload})
    const stream = await client.modelGenerateTextStream({ model_id: 'ibm/granite-13b-instruct-v2', project_id: 'p', input: 'hi' })
    let chunks = 0
    for await (const c of stream) chunks++
    out({ predictions: scored.predictions.length, chunks, traceparent: server.lastRequest('predictions').headers.traceparent ?? null })
  `, { prelude })
  assert.equal(value.predictions, 1)
  assert.ok(value.chunks > 0)
  assert.equal(value.traceparent, null)
})

test('the debug log carries the trace id of a traced call, in the Rust lines and the JS lines', () => {
  const { value, stderr } = run(`
    const { trace, context } = require('@opentelemetry/api')
    const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base')
    const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
    trace.setGlobalTracerProvider(new BasicTracerProvider())
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    const id = await trace.getTracer('t').startActiveSpan('parent', async (span) => {
      await client.score('dep', ${payload})
      await m.getIamToken('otel-process-key-4', { url: server.url })
      span.end()
      return span.spanContext().traceId
    })
    out({ id })
  `, { env: { WML_NATIVE_DEBUG: '1' } })
  const lines = stderr.split('\n')
  const withId = (re) => lines.filter((l) => re.test(l) && l.endsWith(` trace=${value.id}`))
  assert.equal(withId(/WML POST \/ml\/v4\/deployments\/dep\/predictions -> 200/).length, 1, stderr)
  assert.equal(withId(/token request for IAM/).length, 2, 'the call\'s and getIamToken\'s token requests')
  assert.equal(withId(/token cache miss, waiting for IAM/).length, 1, 'the JS line')
  assert.ok(!stderr.includes('otel-process-key'), 'no key in the log')
})
