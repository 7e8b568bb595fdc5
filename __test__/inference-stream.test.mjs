// watsonx.ai streams: chatStream, deploymentChatStream and
// modelGenerateTextStream against the fake server: chunks, the assembled
// result(), tool calls spread over chunks, the SSE forms the parser takes,
// error events, retries before the first byte only, and closing.
import { test, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { assertNoSecrets, watchUnhandled } from './helpers/secrets.mjs'
import { useFakeServer, keyMaker } from './helpers/fake.mjs'
import { collect, waitFor } from './helpers/streams.mjs'

const require = createRequire(import.meta.url)
const m = require('../index.js')
const fake = require('../testing/index.js')

const CHAT = fake.DEFAULT_CHAT_MODEL_ID

let server
useFakeServer((s) => (server = s))
const freshKey = keyMaker('stream-key')
const client = (extra) => new m.WmlClient({ url: server.url, apikey: freshKey(), iamUrl: server.url, projectId: 'proj-1', ...extra })

beforeEach(() => {
  server.options.streamIntervalMs = 0
  server.options.interleaveToolCalls = false
})

const tool = (name, properties) => ({ type: 'function', function: { name, parameters: { type: 'object', properties } } })
const weather = tool('get_weather', { city: { type: 'string' }, days: { type: 'number' } })
const time = tool('get_time', { zone: { type: 'string' } })



/** The parts of a chat answer that do not change between calls. */
const stable = (res) => ({ model_id: res.model_id, choices: res.choices, usage: res.usage })

test('chatStream: the chunks as the service sends them, and result() equal to the plain chat', async () => {
  const c = client()
  const request = { model_id: CHAT, messages: [{ role: 'user', content: 'tell me about streams please' }] }
  const plain = await c.chat(request)
  const stream = c.chatStream(request)
  const chunks = await collect(stream)
  assert.equal(chunks[0].choices[0].delta.role, 'assistant')
  assert.ok(chunks.every((ch) => ch.object === 'chat.completion.chunk' && ch.model_id === CHAT))
  const text = chunks.flatMap((ch) => ch.choices.map((x) => x.delta.content ?? '')).join('')
  assert.equal(text, plain.choices[0].message.content)
  const last = chunks.at(-1)
  assert.deepEqual(last.choices, [])
  assert.deepEqual(last.usage, plain.usage)
  assert.equal(chunks.at(-2).choices[0].finish_reason, 'stop')

  const assembled = await stream.result()
  assert.deepEqual(stable(assembled), stable(plain))
  assert.equal(assembled.id, chunks[0].id)
  assert.equal(assembled.object, 'chat.completion')
  assert.equal(assembled.created, chunks[0].created)
  assert.strictEqual(await stream.result(), assembled, 'the same promise')

  const req = server.lastRequest('chat_stream')
  assert.equal(req.path, '/ml/v1/text/chat_stream')
  assert.equal(req.headers.accept, 'text/event-stream')
  assert.deepEqual(req.json, { project_id: 'proj-1', ...request })
})

test('chatStream: tool calls spread over chunks (split reads too) assemble into whole calls', async () => {
  const c = client()
  const request = {
    model_id: CHAT,
    messages: [{ role: 'user', content: 'Use get_weather with city="New York" days=2 and get_time zone=CET' }],
    tools: [weather, time],
  }
  const plain = await c.chat(request)
  assert.equal(plain.choices[0].message.tool_calls.length, 2)
  for (const interleave of [false, true]) {
    server.options.interleaveToolCalls = interleave
    server.fault({ route: 'chat_stream', splitBytes: 5, times: 1 })
    const stream = c.chatStream(request)
    const chunks = await collect(stream)
    const pieces = chunks.flatMap((ch) => ch.choices.flatMap((x) => x.delta.tool_calls ?? []))
    assert.ok(pieces.length > 6, 'arguments arrive in pieces')
    assert.ok(pieces.some((p) => p.function.name === ''), 'later pieces have an empty name')
    const res = await stream.result()
    const calls = res.choices[0].message.tool_calls
    assert.equal(res.choices[0].finish_reason, 'tool_calls')
    assert.equal(res.choices[0].message.content, undefined)
    assert.equal(calls.length, 2)
    // the ids differ between calls; everything else is the plain answer
    assert.deepEqual(
      calls.map((t) => ({ ...t, id: undefined })),
      plain.choices[0].message.tool_calls.map((t) => ({ ...t, id: undefined })),
      `interleave ${interleave}`,
    )
    assert.deepEqual(JSON.parse(calls[0].function.arguments), { city: 'New York', days: 2 })
    assert.deepEqual(JSON.parse(calls[1].function.arguments), { zone: 'CET' })
    assert.ok(calls.every((t) => /^chatcmpl-tool-/.test(t.id) && t.type === 'function'))
    assert.deepEqual(res.usage, plain.usage)
  }
})

test('result() alone reads the whole stream; after a break it rejects and the connection is closed', async () => {
  const c = client()
  const request = { model_id: CHAT, messages: [{ role: 'user', content: 'one two three four five six' }] }
  const res = await c.chatStream(request).result()
  assert.equal(res.choices[0].message.content, 'You said: one two three four five six')

  server.options.streamIntervalMs = 30
  const closed = server.stats.streamsClosedByClient
  const stream = c.chatStream(request)
  for await (const chunk of stream) {
    assert.ok(chunk.choices)
    break
  }
  const err = await stream.result().catch((e) => e)
  assert.ok(err instanceof m.AbortError, String(err))
  assert.match(err.message, /closed before its end/)
  assert.ok(await waitFor(() => server.stats.streamsClosedByClient === closed + 1), 'the server saw the close')
  assert.equal(server.stats.streamsOpen, 0)
})

test('result() after part of the loop still assembles every chunk', async () => {
  const stream = client().chatStream({ model_id: CHAT, messages: [{ role: 'user', content: 'a b c d' }] })
  await stream.next()
  await stream.next()
  const res = await stream.result()
  assert.equal(res.choices[0].message.content, 'You said: a b c d')
  assert.deepEqual(await stream.next(), { done: true, value: undefined })
})

test('deploymentChatStream and modelGenerateTextStream', async () => {
  const c = client()
  const dep = c.deploymentChatStream('dep-9', { messages: [{ role: 'user', content: 'hey' }] })
  assert.equal((await dep.result()).choices[0].message.content, 'You said: hey')
  const req = server.lastRequest('chat_stream')
  assert.equal(req.path, '/ml/v1/deployments/dep-9/text/chat_stream')
  assert.deepEqual(req.json, { messages: [{ role: 'user', content: 'hey' }] })

  const gen = { model_id: CHAT, input: 'alpha beta gamma', parameters: { max_new_tokens: 5 } }
  const plain = await c.modelGenerateText(gen)
  const stream = c.modelGenerateTextStream(gen)
  const chunks = await collect(stream)
  assert.equal(chunks.length, 5)
  const res = await stream.result()
  assert.equal(res.model_id, CHAT)
  assert.deepEqual(res.results, plain.results)
  assert.equal(server.lastRequest('stream').path, '/ml/v1/text/generation_stream')
  // the deployment generation stream has result() too
  const byDep = await c.generateTextStream('d', { input: 'x y', parameters: { max_new_tokens: 3 } }).result()
  assert.equal(byDep.results[0].generated_token_count, 3)
  assert.equal(byDep.results[0].stop_reason, 'max_tokens')
})

test('an error event mid-stream throws ERR_WML with the service errors and trace; result() rejects with it', async () => {
  const watch = watchUnhandled()
  const key = freshKey()
  const c = new m.WmlClient({ url: server.url, apikey: key, iamUrl: server.url, projectId: 'p' })
  server.fault({ route: 'chat_stream', errorAfterEvents: 3, errorCode: 'rate_limit_reached_requests', times: 1 })
  const stream = c.chatStream({ model_id: CHAT, messages: [{ role: 'user', content: 'a b c d e f g' }] })
  const got = []
  const err = await (async () => {
    for await (const chunk of stream) got.push(chunk)
  })().catch((e) => e)
  assert.equal(got.length, 3)
  assert.ok(err instanceof m.WmlError)
  assert.equal(err.errors[0].code, 'rate_limit_reached_requests')
  assert.match(err.trace, /^[0-9a-f]{32}$/)
  assert.equal(err.status, 429)
  assert.strictEqual(await stream.result().catch((e) => e), err)
  assertNoSecrets(err, [key])
  // an expired-token event drops the token: the next stream gets a new one
  server.fault({ route: 'chat_stream', errorAfterEvents: 1, times: 1 })
  await assert.rejects(c.chatStream({ model_id: CHAT, messages: [{ role: 'user', content: 'x' }] }).result(), {
    code: 'ERR_WML',
    status: 401,
  })
  await c.chatStream({ model_id: CHAT, messages: [{ role: 'user', content: 'x' }] }).result()
  assert.equal(server.iamRequestsFor(key), 2)
  assert.deepEqual(watch.stop(), [])
})

/** A chat stream's events as the service could send them, written in `form`. */
function sseText(form) {
  const head = { id: 'chatcmpl-x', object: 'chat.completion.chunk', model_id: CHAT, model: CHAT, created: 1, created_at: 't' }
  const events = [
    { ...head, choices: [{ index: 0, finish_reason: null, delta: { role: 'assistant', content: '' } }] },
    { ...head, choices: [{ index: 0, finish_reason: null, delta: { content: 'Hel' } }] },
    { ...head, choices: [{ index: 0, finish_reason: null, delta: { tool_calls: [{ index: 0, id: 'call-1', type: 'function', function: { name: 'f', arguments: '' } }] } }] },
    { ...head, choices: [{ index: 0, finish_reason: null, delta: { tool_calls: [{ index: 0, function: { name: 'f', arguments: '{"a":' } }] } }] },
    { ...head, choices: [{ index: 0, finish_reason: 'tool_calls', delta: { content: 'lo', tool_calls: [{ index: 0, function: { name: '', arguments: ' 1}' } }] } }] },
    { ...head, choices: [], usage: { completion_tokens: 3, prompt_tokens: 4, total_tokens: 7 } },
  ]
  const nl = form.crlf ? '\r\n' : '\n'
  let out = form.comments ? `: keep-alive${nl}${nl}` : ''
  events.forEach((e, i) => {
    const json = JSON.stringify(e, null, form.multiline ? 1 : undefined)
    const data = json.split('\n').map((line) => `data:${form.space ? ' ' : ''}${line}`).join(nl)
    out += `id: ${i + 1}${nl}event: message${nl}${data}${nl}${nl}`
    if (form.comments) out += `: ping ${i}${nl}`
  })
  if (form.done) out += `data: [DONE]${nl}${nl}`
  return out
}

test('the SSE forms the parser takes: no space after data:, CRLF, comments, multi-line data, a final [DONE]', async () => {
  const c = client()
  const forms = [
    { space: true },
    { space: false },
    { space: true, crlf: true },
    { space: false, crlf: true, comments: true },
    { space: true, multiline: true },
    { space: true, crlf: true, multiline: true, comments: true, done: true },
    { space: false, done: true },
  ]
  for (const form of forms) {
    server.fault({ route: 'chat_stream', body: sseText(form), contentType: 'text/event-stream', splitBytes: 11, times: 1 })
    const stream = c.chatStream({ model_id: CHAT, messages: [{ role: 'user', content: 'x' }] })
    const chunks = await collect(stream)
    assert.equal(chunks.length, 6, JSON.stringify(form))
    const res = await stream.result()
    assert.deepEqual(res.choices, [{
      index: 0,
      message: { role: 'assistant', content: 'Hello', tool_calls: [{ id: 'call-1', type: 'function', function: { name: 'f', arguments: '{"a": 1}' } }] },
      finish_reason: 'tool_calls',
    }], JSON.stringify(form))
    assert.deepEqual(res.usage, { completion_tokens: 3, prompt_tokens: 4, total_tokens: 7 })
  }
})

test('429 and 503 are retried before the first byte; an error after it is not', async () => {
  const c = client()
  const request = { model_id: CHAT, messages: [{ role: 'user', content: 'x y' }] }
  await c.chatStream(request).result()
  server.fault({ route: 'chat_stream', status: 429, retryAfter: '0', times: 1 })
  server.fault({ route: 'chat_stream', status: 503, retryAfter: '0', times: 1 })
  let before = server.stats.chat_stream
  assert.equal((await c.chatStream(request).result()).choices[0].message.content, 'You said: x y')
  assert.equal(server.stats.chat_stream - before, 3)

  server.fault({ route: 'chat_stream', errorAfterEvents: 2, errorCode: 'rate_limit_reached_requests', times: 1 })
  before = server.stats.chat_stream
  await assert.rejects(c.chatStream(request).result(), { code: 'ERR_WML', status: 429 })
  assert.equal(server.stats.chat_stream - before, 1, 'not retried mid-stream')

  server.fault({ route: 'chat_stream', resetAfterBytes: 200, times: 1 })
  before = server.stats.chat_stream
  await assert.rejects(c.chatStream(request).result(), { code: 'ERR_NETWORK' })
  assert.equal(server.stats.chat_stream - before, 1)
})

test('a 401 before the stream refreshes the token once; a refused stream carries the service errors', async () => {
  const key = freshKey()
  const c = new m.WmlClient({ url: server.url, apikey: key, iamUrl: server.url, projectId: 'p' })
  const request = { model_id: CHAT, messages: [{ role: 'user', content: 'x' }] }
  await c.chatStream(request).result()
  server.revokeTokens()
  const before = server.stats.chat_stream
  await c.chatStream(request).result()
  assert.equal(server.stats.chat_stream - before, 2)
  assert.equal(server.iamRequestsFor(key), 2)

  const err = await c.chatStream({ ...request, model_id: 'nobody/none' }).next().catch((e) => e)
  assert.equal(err.code, 'ERR_WML')
  assert.equal(err.status, 404)
  assert.equal(err.errors[0].code, 'model_not_supported')
  assert.equal(err.errors[0].more_info, `${fake.WATSONX_MORE_INFO}#text-chat-stream`)
})

test('return() and an abort close a chat stream at once', async () => {
  server.options.streamIntervalMs = 40
  const c = client()
  const long = { model_id: CHAT, messages: [{ role: 'user', content: 'w '.repeat(60) }] }
  let closed = server.stats.streamsClosedByClient
  const it = c.chatStream(long)
  assert.equal((await it.next()).done, false)
  assert.deepEqual(await it.return(), { done: true, value: undefined })
  assert.ok(await waitFor(() => server.stats.streamsClosedByClient === closed + 1))

  closed = server.stats.streamsClosedByClient
  const ac = new AbortController()
  const stream = c.chatStream(long, { signal: ac.signal })
  const pending = stream.result()
  await stream.next()
  ac.abort(new Error('user left'))
  const err = await pending.catch((e) => e)
  assert.equal(err.code, 'ERR_ABORTED')
  assert.equal(err.cause.message, 'user left')
  assert.ok(await waitFor(() => server.stats.streamsClosedByClient === closed + 1))
  assert.equal(server.stats.streamsOpen, 0)
})
