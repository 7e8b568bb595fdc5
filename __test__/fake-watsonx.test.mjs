// Tests of the fake server's watsonx.ai inference routes (wml-native/testing):
// chat and chat_stream with tool calls, embeddings, rerank, tokenization,
// foundation_model_specs, the model checks of generation, and the request
// history. Plain fetch only.
// Run: node --test __test__/fake-watsonx.test.mjs
import { test, describe, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import {
  startFakeServer, chat, chatDeltas, toolArguments, embed, rerankScore, tokenize, DEFAULT_MODELS,
  DEFAULT_CHAT_MODEL_ID, DEFAULT_EMBEDDING_MODEL_ID, DEFAULT_RERANK_MODEL_ID, MAX_EMBEDDING_INPUTS, WATSONX_MORE_INFO,
} from '../testing/index.mjs'
import { jsonRequest, json, parseSse, assertWmlError } from './helpers/fake-http.mjs'

const CHAT = DEFAULT_CHAT_MODEL_ID
const EMBED = DEFAULT_EMBEDDING_MODEL_ID
const EMBED_384 = 'ibm/slate-30m-english-rtrvr-v2'
const RERANK = DEFAULT_RERANK_MODEL_ID
const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' }, unit: { type: 'string', enum: ['C', 'F'] } } },
  },
}
const SUM = {
  type: 'function',
  function: { name: 'sum', parameters: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } } },
}

let server
let token
before(async () => {
  server = await startFakeServer()
  token = server.issueToken()
})
after(() => server.close())
beforeEach(() => server.reset())

const post = (path, body, opts = {}) => json(jsonRequest(server, path, body, { token, ...opts }))
const chatBody = (extra) => ({ model_id: CHAT, project_id: 'proj-1', ...extra })
const user = (content) => ({ role: 'user', content })

/** The SSE events of a chat stream request. */
async function chatStream(body, path = '/ml/v1/text/chat_stream') {
  const res = await jsonRequest(server, path, body, { token, headers: { Accept: 'text/event-stream' } })
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type'), /^text\/event-stream/)
  return parseSse(await res.text())
}

/** The tool calls a stream's deltas add up to, by index (id/name from the head, arguments concatenated). */
function assembleToolCalls(events) {
  const calls = []
  for (const ev of events) {
    for (const choice of ev.data.choices) {
      for (const tc of choice.delta.tool_calls || []) {
        const call = (calls[tc.index] ||= { id: undefined, name: '', arguments: '' })
        if (tc.id) call.id = tc.id
        call.name += tc.function.name || ''
        call.arguments += tc.function.arguments || ''
      }
    }
  }
  return calls
}

describe('chat', () => {
  test('answers the last user message in the service shape', async () => {
    const body = chatBody({ messages: [{ role: 'system', content: 'be nice' }, user('hello there, fake model')] })
    const r = await post('/ml/v1/text/chat', body)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.deepEqual(Object.keys(r.body).sort(), ['choices', 'created', 'created_at', 'id', 'model', 'model_id', 'model_version', 'object', 'usage'])
    assert.match(r.body.id, /^chatcmpl-[0-9a-f]{32}$/)
    assert.equal(r.body.object, 'chat.completion')
    assert.equal(r.body.model_id, CHAT)
    assert.equal(r.body.model, CHAT)
    assert.ok(Math.abs(r.body.created - Date.now() / 1000) < 5)
    assert.deepEqual(r.body.choices, [{ index: 0, message: { role: 'assistant', content: 'You said: hello there, fake model' }, finish_reason: 'stop' }])
    assert.deepEqual(r.body.usage, { completion_tokens: 6, prompt_tokens: 6, total_tokens: 12 })
    const expected = chat(body)
    assert.deepEqual(r.body.choices[0].message, expected.message)
    assert.deepEqual(r.body.usage, expected.usage)
    assert.equal(server.stats.chat, 1)
    assert.deepEqual(server.lastRequest('chat').json, body)
  })

  test('content parts, max_tokens, stop and json_object', async () => {
    const parts = await post('/ml/v1/text/chat', chatBody({
      messages: [user([{ type: 'text', text: 'look at' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } }, { type: 'text', text: 'this' }])],
    }))
    assert.equal(parts.body.choices[0].message.content, 'You said: look at [image] this')
    const capped = await post('/ml/v1/text/chat', chatBody({ messages: [user('one two three four five')], max_tokens: 4 }))
    assert.equal(capped.body.choices[0].message.content, 'You said: one two')
    assert.equal(capped.body.choices[0].finish_reason, 'length')
    assert.equal(capped.body.usage.completion_tokens, 4)
    const stopped = await post('/ml/v1/text/chat', chatBody({ messages: [user('alpha beta gamma')], stop: ['gamma'] }))
    assert.equal(stopped.body.choices[0].message.content, 'You said: alpha beta ')
    assert.equal(stopped.body.choices[0].finish_reason, 'stop')
    const asJson = await post('/ml/v1/text/chat', chatBody({ messages: [user('hi')], response_format: { type: 'json_object' } }))
    assert.deepEqual(JSON.parse(asJson.body.choices[0].message.content), { reply: 'You said: hi' })
  })

  test('calls a tool the message names, with arguments from its schema and the message', async () => {
    const text = 'use get_weather city="New York" for 3 days'
    const r = await post('/ml/v1/text/chat', chatBody({ messages: [user(text)], tools: [WEATHER, SUM] }))
    assert.equal(r.status, 200)
    const [choice] = r.body.choices
    assert.equal(choice.finish_reason, 'tool_calls')
    assert.equal(choice.message.role, 'assistant')
    assert.equal(choice.message.content, undefined)
    assert.equal(choice.message.tool_calls.length, 1)
    const [call] = choice.message.tool_calls
    assert.match(call.id, /^chatcmpl-tool-[0-9a-f]{32}$/)
    assert.equal(call.type, 'function')
    assert.equal(call.function.name, 'get_weather')
    assert.equal(typeof call.function.arguments, 'string')
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'New York', days: 3, unit: 'C' })
    assert.deepEqual(JSON.parse(call.function.arguments), toolArguments(WEATHER.function.parameters, text))
    assert.deepEqual(choice.message, chat({ messages: [user(text)], tools: [WEATHER, SUM] }).message)
  })

  test('tool_choice forces a tool, tool_choice_option required / none', async () => {
    const forced = await post('/ml/v1/text/chat', chatBody({
      messages: [user('add 2 and 40')], tools: [WEATHER, SUM], tool_choice: { type: 'function', function: { name: 'sum' } },
    }))
    assert.deepEqual(JSON.parse(forced.body.choices[0].message.tool_calls[0].function.arguments), { a: 2, b: 40 })
    const required = await post('/ml/v1/text/chat', chatBody({ messages: [user('anything')], tools: [SUM, WEATHER], tool_choice_option: 'required' }))
    assert.equal(required.body.choices[0].message.tool_calls[0].function.name, 'sum')
    const none = await post('/ml/v1/text/chat', chatBody({ messages: [user('call sum')], tools: [SUM], tool_choice_option: 'none' }))
    assert.equal(none.body.choices[0].finish_reason, 'stop')
    const plain = await post('/ml/v1/text/chat', chatBody({ messages: [user('just talk')], tools: [SUM] }))
    assert.equal(plain.body.choices[0].message.content, 'You said: just talk')
  })

  test('after tool results it answers in text from their contents', async () => {
    const first = await post('/ml/v1/text/chat', chatBody({ messages: [user('get_weather city=Paris')], tools: [WEATHER] }))
    const call = first.body.choices[0].message.tool_calls[0]
    const r = await post('/ml/v1/text/chat', chatBody({
      tools: [WEATHER],
      messages: [user('get_weather city=Paris'), { role: 'assistant', tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: 'sunny, 21 C' }],
    }))
    assert.equal(r.body.choices[0].finish_reason, 'stop')
    assert.equal(r.body.choices[0].message.content, 'The get_weather tool returned: sunny, 21 C')
  })

  test('deployment chat needs no model or project; unknown deployments are 404', async () => {
    const r = await post('/ml/v1/deployments/dep-chat/text/chat', { messages: [user('hi')] })
    assert.equal(r.status, 200)
    assert.equal(r.body.model_id, CHAT)
    const missing = await post('/ml/v1/deployments/unknown-dep/text/chat', { messages: [user('hi')] })
    assertWmlError(missing.body, 404, 'deployment_not_found')
    const events = await chatStream({ messages: [user('hi')] }, '/ml/v1/deployments/dep-chat/text/chat_stream')
    assert.equal(events.at(-1).data.usage.completion_tokens, 3)
    assert.equal(server.lastRequest('chat_stream').path, '/ml/v1/deployments/dep-chat/text/chat_stream')
  })

  test('errors: validation, model, project, function, tool_choice, response_format, auth', async () => {
    const cases = [
      [chatBody({}), 400, 'json_validation_error'],
      [chatBody({ messages: [] }), 400, 'json_validation_error'],
      [chatBody({ messages: [{ role: 'robot', content: 'x' }] }), 400, 'json_validation_error'],
      [chatBody({ messages: [{ role: 'tool', content: 'x' }] }), 400, 'json_validation_error'],
      [{ project_id: 'p', messages: [user('x')] }, 400, 'json_validation_error'],
      [{ model_id: CHAT, messages: [user('x')] }, 400, 'invalid_request_entity'],
      [chatBody({ model_id: 'acme/no-such-model', messages: [user('x')] }), 404, 'model_not_supported'],
      [chatBody({ model_id: EMBED, messages: [user('x')] }), 400, 'model_no_support_for_function'],
      [chatBody({ messages: [user('x')], tools: [SUM], tool_choice: { type: 'function', function: { name: 'sum' } }, tool_choice_option: 'auto' }), 400, 'invalid_request_entity'],
      [chatBody({ messages: [user('x')], tools: [SUM], tool_choice: { type: 'function', function: { name: 'nope' } } }), 400, 'invalid_input_argument'],
      [chatBody({ messages: [user('x')], response_format: {} }), 400, 'invalid_request_entity'],
      [chatBody({ messages: [user('x')], max_tokens: -1 }), 400, 'json_validation_error'],
    ]
    for (const [body, status, code] of cases) {
      const r = await post('/ml/v1/text/chat', body)
      assert.equal(r.status, status, JSON.stringify(body))
      assertWmlError(r.body, status, code, `${WATSONX_MORE_INFO}#text-chat`)
    }
    const unknown = await post('/ml/v1/text/chat', chatBody({ model_id: 'acme/no-such-model', messages: [user('x')] }))
    assert.equal(unknown.body.errors[0].message, "Model 'acme/no-such-model' is not supported")
    const embedding = await post('/ml/v1/text/chat', chatBody({ model_id: EMBED, messages: [user('x')] }))
    assert.equal(embedding.body.errors[0].message, `Model '${EMBED}' does not support function 'function_text_chat'`)
    assert.equal((await post('/ml/v1/text/chat', chatBody({ messages: [user('x')] }), { token: 'bad' })).status, 401)
    assert.equal((await post('/ml/v1/text/chat', chatBody({ messages: [user('x')] }), { version: null })).status, 400)
  })
})

describe('chat_stream', () => {
  test('text: role first, content in pieces, finish_reason on the last choice chunk, then usage', async () => {
    const body = chatBody({ messages: [user('stream me these words')] })
    const events = await chatStream(body)
    const ids = new Set(events.map((e) => e.data.id))
    assert.equal(ids.size, 1)
    assert.match([...ids][0], /^chatcmpl-[0-9a-f]{32}$/)
    events.forEach((e, i) => {
      assert.equal(e.id, String(i + 1))
      assert.equal(e.event, 'message')
      assert.equal(e.data.object, 'chat.completion.chunk')
      assert.equal(e.data.model_id, CHAT)
      assert.equal(e.data.model, CHAT)
      assert.equal(typeof e.data.created, 'number')
      assert.ok(!Number.isNaN(Date.parse(e.data.created_at)))
      assert.equal(typeof e.data.model_version, 'string')
    })
    const choices = events.slice(0, -1).map((e) => {
      assert.equal(e.data.choices.length, 1)
      assert.equal(e.data.usage, undefined)
      return e.data.choices[0]
    })
    assert.deepEqual(choices[0], { index: 0, finish_reason: null, delta: { role: 'assistant', content: '' } })
    const pieces = choices.slice(1, -1)
    assert.ok(pieces.length >= 4)
    assert.ok(pieces.every((c) => c.finish_reason === null && Object.keys(c.delta).join() === 'content'))
    assert.equal(pieces.map((c) => c.delta.content).join(''), 'You said: stream me these words')
    assert.deepEqual(choices.at(-1), { index: 0, finish_reason: 'stop', delta: { content: '' } })
    const last = events.at(-1).data
    assert.deepEqual(last.choices, [])
    assert.deepEqual(last.usage, chat(body).usage)
    assert.deepEqual(choices, chatDeltas(chat(body)))
    assert.equal(server.stats.chat_stream, 1)
    assert.equal(server.stats.streamsOpen, 0)
  })

  test('max_tokens: the stream stops early with finish_reason length', async () => {
    const events = await chatStream(chatBody({ messages: [user('a b c d e f')], max_tokens: 2 }))
    const choices = events.slice(0, -1).map((e) => e.data.choices[0])
    assert.equal(choices.map((c) => c.delta.content || '').join(''), 'You said:')
    assert.equal(choices.at(-1).finish_reason, 'length')
  })

  test('tool calls: index, id and name first, the arguments string split over several chunks', async () => {
    const text = 'get_weather city=Oslo days=2 unit=F'
    const events = await chatStream(chatBody({ messages: [user(text)], tools: [WEATHER] }))
    const choices = events.slice(0, -1).map((e) => e.data.choices[0])
    assert.deepEqual(choices[0].delta, { role: 'assistant', content: '' })
    const head = choices[1].delta.tool_calls[0]
    assert.equal(head.index, 0)
    assert.match(head.id, /^chatcmpl-tool-[0-9a-f]{32}$/)
    assert.equal(head.type, 'function')
    assert.deepEqual(head.function, { name: 'get_weather', arguments: '' })
    const argChunks = choices.slice(2)
    assert.ok(argChunks.length >= 5, `${argChunks.length} argument chunks`)
    for (const c of argChunks) {
      assert.equal(c.delta.tool_calls.length, 1)
      assert.equal(c.delta.tool_calls[0].index, 0)
      assert.equal(c.delta.tool_calls[0].id, undefined)
    }
    assert.ok(choices.slice(0, -1).every((c) => c.finish_reason === null))
    assert.equal(choices.at(-1).finish_reason, 'tool_calls')
    const [call] = assembleToolCalls(events)
    assert.deepEqual(JSON.parse(call.arguments), { city: 'Oslo', days: 2, unit: 'F' })
    assert.equal(call.id, chat({ messages: [user(text)], tools: [WEATHER] }).message.tool_calls[0].id)
    assert.deepEqual(events.at(-1).data.choices, [])
    assert.ok(events.at(-1).data.usage.completion_tokens > 0)
  })

  test('two tool calls: one after the other, or interleaved with interleaveToolCalls', async () => {
    const body = chatBody({ messages: [user('call sum with 1 2 and get_weather city=Rome')], tools: [WEATHER, SUM] })
    const sequential = await chatStream(body)
    const order = (events) => events.slice(1, -1).map((e) => e.data.choices[0].delta.tool_calls[0].index)
    const seq = order(sequential)
    assert.deepEqual(seq, [...seq].sort(), 'sequential: all of call 0, then all of call 1')
    server.options.interleaveToolCalls = true
    try {
      const interleaved = await chatStream(body)
      const inter = order(interleaved)
      assert.deepEqual(inter.slice(0, 4), [0, 1, 0, 1], 'interleaved: heads, then pieces round-robin')
      assert.deepEqual(assembleToolCalls(interleaved).map((c) => [c.name, JSON.parse(c.arguments)]),
        assembleToolCalls(sequential).map((c) => [c.name, JSON.parse(c.arguments)]))
      assert.deepEqual(assembleToolCalls(interleaved).map((c) => c.name), ['get_weather', 'sum'])
      assert.deepEqual(JSON.parse(assembleToolCalls(interleaved)[1].arguments), { a: 1, b: 2 })
      assert.equal(interleaved.at(-2).data.choices[0].finish_reason, 'tool_calls')
    } finally {
      server.options.interleaveToolCalls = false
    }
  })

  test('errorAfterEvents: an event: error inside the 200 stream (authentication_token_expired by default)', async () => {
    server.fault({ route: 'chat_stream', errorAfterEvents: 2, times: 1 })
    const events = await chatStream(chatBody({ messages: [user('some words here')] }))
    assert.deepEqual(events.map((e) => e.event), ['message', 'message', 'error'])
    assert.equal(events[2].id, '3')
    assertWmlError(events[2].data, 401, 'authentication_token_expired', `${WATSONX_MORE_INFO}#text-chat-stream`)
    server.fault({ route: 'chat_stream', errorAfterEvents: 1, errorCode: 'internal_error', message: 'model crashed', times: 1 })
    const crashed = await chatStream(chatBody({ messages: [user('x')] }))
    assert.equal(crashed.length, 2)
    assertWmlError(crashed[1].data, 500, 'internal_error')
    assert.equal(crashed[1].data.errors[0].message, 'model crashed')
  })
})

describe('embeddings', () => {
  test('vectors per input, deterministic (embed()), 768 or 384 dims, input_text, token counts', async () => {
    const inputs = ['first text', 'second one here', 'first text']
    const r = await post('/ml/v1/text/embeddings', { model_id: EMBED, project_id: 'p', inputs })
    assert.equal(r.status, 200)
    assert.deepEqual(Object.keys(r.body).sort(), ['created_at', 'input_token_count', 'model_id', 'results'])
    assert.equal(r.body.model_id, EMBED)
    assert.equal(r.body.input_token_count, 7)
    assert.equal(r.body.results.length, 3)
    r.body.results.forEach((res, i) => {
      assert.deepEqual(Object.keys(res), ['embedding'])
      assert.equal(res.embedding.length, 768)
      assert.deepEqual(res.embedding, embed(inputs[i], EMBED))
    })
    assert.deepEqual(r.body.results[0], r.body.results[2])
    assert.notDeepEqual(r.body.results[0], r.body.results[1])
    const norm = Math.hypot(...r.body.results[0].embedding)
    assert.ok(Math.abs(norm - 1) < 1e-6, `unit vector (${norm})`)
    const small = await post('/ml/v1/text/embeddings', {
      model_id: EMBED_384, space_id: 's', inputs: ['first text'], parameters: { return_options: { input_text: true } },
    })
    assert.equal(small.body.results[0].embedding.length, 384)
    assert.equal(small.body.results[0].input, 'first text')
    assert.deepEqual(small.body.results[0].embedding, embed('first text', EMBED_384))
    assert.notDeepEqual(small.body.results[0].embedding.slice(0, 10), embed('first text', EMBED).slice(0, 10))
  })

  test('truncate_input_tokens; over 512 tokens without it is the service 400', async () => {
    const long = Array.from({ length: 600 }, (_, i) => `w${i}`).join(' ')
    const tooLong = await post('/ml/v1/text/embeddings', { model_id: EMBED, project_id: 'p', inputs: [long] })
    assertWmlError(tooLong.body, 400, 'invalid_input_argument')
    assert.match(tooLong.body.errors[0].message, /Token sequence length is longer than the specified maximum sequence length for this model \(600 > 512\)/)
    const cut = await post('/ml/v1/text/embeddings', {
      model_id: EMBED, project_id: 'p', inputs: [long], parameters: { truncate_input_tokens: 5, return_options: { input_text: true } },
    })
    assert.equal(cut.status, 200)
    assert.equal(cut.body.input_token_count, 5)
    assert.deepEqual(cut.body.results[0].embedding, embed('w0 w1 w2 w3 w4', EMBED))
    assert.equal(cut.body.results[0].input, long)
  })

  test('limits and checks: 1,000 inputs max, project/space, model, function, inputs type', async () => {
    assert.equal(MAX_EMBEDDING_INPUTS, 1000)
    const many = Array.from({ length: 1001 }, (_, i) => `t${i}`)
    const over = await post('/ml/v1/text/embeddings', { model_id: EMBED, project_id: 'p', inputs: many })
    assertWmlError(over.body, 400, 'json_validation_error', `${WATSONX_MORE_INFO}#text-embeddings`)
    assert.match(over.body.errors[0].message, /at most 1000/)
    assert.equal((await post('/ml/v1/text/embeddings', { model_id: EMBED, project_id: 'p', inputs: many.slice(0, 1000) })).status, 200)
    const cases = [
      [{ model_id: EMBED, inputs: ['x'] }, 400, 'invalid_request_entity'],
      [{ model_id: 'acme/none', project_id: 'p', inputs: ['x'] }, 404, 'model_not_supported'],
      [{ model_id: CHAT, project_id: 'p', inputs: ['x'] }, 400, 'model_no_support_for_function'],
      [{ model_id: EMBED, project_id: 'p', inputs: 'x' }, 400, 'json_validation_error'],
      [{ model_id: EMBED, project_id: 'p', inputs: [] }, 400, 'json_validation_error'],
      [{ model_id: EMBED, project_id: 'p', inputs: ['x'], parameters: { truncate_input_tokens: -1 } }, 400, 'json_validation_error'],
    ]
    for (const [body, status, code] of cases) {
      const r = await post('/ml/v1/text/embeddings', body)
      assert.equal(r.status, status, JSON.stringify(body))
      assertWmlError(r.body, status, code)
    }
  })

  test('a 1,000 x 768 answer is quick (timings printed, not asserted)', async (t) => {
    const inputs = Array.from({ length: 1000 }, (_, i) => `benchmark sentence number ${i} ${Date.now()}`)
    const time = async () => {
      const t0 = performance.now()
      const res = await jsonRequest(server, '/ml/v1/text/embeddings', { model_id: EMBED, project_id: 'p', inputs }, { token })
      const buf = Buffer.from(await res.arrayBuffer())
      return { ms: performance.now() - t0, bytes: buf.length, status: res.status }
    }
    const cold = await time()
    const warm = await time()
    assert.equal(cold.status, 200)
    assert.equal(warm.bytes, cold.bytes)
    t.diagnostic(`embeddings 1,000 x 768 (${(cold.bytes / 1e6).toFixed(1)} MB): ${cold.ms.toFixed(0)} ms new inputs, ` +
      `${warm.ms.toFixed(0)} ms repeated inputs, request to last byte through fetch`)
  })
})

describe('rerank and tokenization', () => {
  test('rerank: scores (rerankScore), sorted, top_n, inputs and query returned on request', async () => {
    const inputs = [{ text: 'a red car' }, { text: 'the quick red fox' }, { text: 'blue sky' }, { text: 'fox' }]
    const query = 'red fox'
    const all = await post('/ml/v1/text/rerank', { model_id: RERANK, project_id: 'p', query, inputs })
    assert.equal(all.status, 200)
    assert.deepEqual(Object.keys(all.body).sort(), ['created_at', 'input_token_count', 'model_id', 'results'])
    assert.equal(all.body.results.length, 4)
    const expected = inputs.map((x, index) => ({ index, score: rerankScore(query, x.text) })).sort((a, b) => b.score - a.score)
    assert.deepEqual(all.body.results, expected)
    assert.equal(all.body.results[0].index, 1)
    assert.equal(all.body.input_token_count, inputs.reduce((n, x) => n + 2 + tokenize(x.text).length, 0))
    const top = await post('/ml/v1/text/rerank', {
      model_id: RERANK, project_id: 'p', query, inputs, parameters: { return_options: { top_n: 2, inputs: true, query: true } },
    })
    assert.equal(top.body.results.length, 2)
    assert.deepEqual(top.body.results[0].input, { text: 'the quick red fox' })
    assert.equal(top.body.query, query)
    for (const body of [{ model_id: RERANK, project_id: 'p', inputs }, { model_id: RERANK, project_id: 'p', query, inputs: ['x'] },
      { model_id: RERANK, project_id: 'p', query, inputs, parameters: { return_options: { top_n: 0 } } }]) {
      assertWmlError((await post('/ml/v1/text/rerank', body)).body, 400, 'json_validation_error')
    }
    assertWmlError((await post('/ml/v1/text/rerank', { model_id: EMBED, project_id: 'p', query, inputs })).body, 400, 'model_no_support_for_function')
  })

  test('tokenization: token_count, tokens only with return_tokens', async () => {
    const plain = await post('/ml/v1/text/tokenization', { model_id: CHAT, project_id: 'p', input: 'How many tokens here?' })
    assert.deepEqual(plain.body, { model_id: CHAT, result: { token_count: 4 } })
    const withTokens = await post('/ml/v1/text/tokenization', { model_id: CHAT, space_id: 's', input: 'a b', parameters: { return_tokens: true } })
    assert.deepEqual(withTokens.body.result, { token_count: 2, tokens: ['a', 'b'] })
    assertWmlError((await post('/ml/v1/text/tokenization', { model_id: CHAT, input: 'x' })).body, 400, 'invalid_request_entity')
    assertWmlError((await post('/ml/v1/text/tokenization', { model_id: EMBED, project_id: 'p', input: 'x' })).body, 400, 'model_no_support_for_function')
    assertWmlError((await post('/ml/v1/text/tokenization', { model_id: CHAT, project_id: 'p' })).body, 400, 'json_validation_error')
  })

  test('generation checks the model id against the catalogue', async () => {
    const path = '/ml/v1/text/generation'
    assert.equal((await post(path, { model_id: CHAT, project_id: 'p', input: 'x' })).status, 200)
    assertWmlError((await post(path, { model_id: 'acme/none', project_id: 'p', input: 'x' })).body, 404, 'model_not_supported')
    assertWmlError((await post(path, { model_id: RERANK, project_id: 'p', input: 'x' })).body, 400, 'model_no_support_for_function')
  })
})

describe('foundation_model_specs', () => {
  const specs = (query, opts) => json(jsonRequest(server, `/ml/v1/foundation_model_specs?${query}`, undefined, { method: 'GET', version: null, ...opts }))

  test('lists the catalogue without a token, with paging', async () => {
    const r = await specs('version=2024-05-01')
    assert.equal(r.status, 200)
    assert.equal(r.body.total_count, DEFAULT_MODELS.length)
    assert.equal(r.body.limit, 100)
    assert.match(r.body.first.href, /\/ml\/v1\/foundation_model_specs\?version=2024-05-01&limit=100$/)
    assert.equal(r.body.next, undefined)
    assert.deepEqual(r.body.resources.map((m) => m.model_id), DEFAULT_MODELS.map((m) => m.model_id))
    for (const m of r.body.resources) {
      for (const key of ['model_id', 'label', 'provider', 'source', 'functions', 'short_description', 'input_tier', 'output_tier', 'number_params']) {
        assert.ok(m[key] !== undefined, `${m.model_id}.${key}`)
      }
    }
    const fns = (id) => r.body.resources.find((m) => m.model_id === id).functions.map((f) => f.id)
    assert.ok(fns(CHAT).includes('text_chat'))
    assert.ok(fns(EMBED).includes('embedding'))
    assert.ok(fns(RERANK).includes('rerank'))
    assert.equal(r.body.resources.find((m) => m.model_id === EMBED).model_limits.embedding_dimension, 768)

    const pages = []
    let next = 'version=2024-05-01&limit=3'
    while (next) {
      const page = await specs(next)
      assert.equal(page.status, 200)
      assert.ok(page.body.resources.length <= 3)
      pages.push(...page.body.resources.map((m) => m.model_id))
      next = page.body.next && new URL(page.body.next.href).search.slice(1)
    }
    assert.deepEqual(pages, DEFAULT_MODELS.map((m) => m.model_id))
    assert.equal(server.stats.models, 1 + Math.ceil(DEFAULT_MODELS.length / 3))
  })

  test('filters, tech_preview, and errors', async () => {
    const ids = async (q) => (await specs(`version=2024-05-01&${q}`)).body.resources.map((m) => m.model_id)
    assert.deepEqual(await ids('filters=function_embedding'),
      ['ibm/slate-125m-english-rtrvr-v2', 'ibm/granite-embedding-278m-multilingual', 'ibm/slate-30m-english-rtrvr-v2'])
    assert.deepEqual(await ids(`filters=modelid_${RERANK}`), [RERANK])
    assert.deepEqual(await ids('filters=function_text_chat,provider_Meta:and'), ['meta-llama/llama-3-3-70b-instruct'])
    assert.deepEqual(await ids('filters=function_rerank,modelid_ibm/granite-13b-instruct-v2'), ['ibm/granite-13b-instruct-v2', RERANK])
    assert.equal((await ids('filters=!function_embedding,!function_rerank:and')).length, 3)
    assert.equal((await ids('tech_preview=true')).length, DEFAULT_MODELS.length)
    assertWmlError((await specs('version=2024-05-01&limit=0')).body, 400, 'invalid_input_argument')
    assertWmlError((await specs('version=2024-05-01&start=garbage')).body, 400, 'invalid_input_argument')
    assertWmlError((await specs('version=2024-05-01&filters=colour_red')).body, 400, 'invalid_input_argument')
    assertWmlError((await specs('')).body, 400, 'invalid_input_argument')
    assertWmlError((await specs('version=2024-05-01', { token: 'not-a-token' })).body, 401, 'authentication_token_not_valid')
    assert.equal((await specs('version=2024-05-01', { token })).status, 200)
    const post405 = await json(jsonRequest(server, '/ml/v1/foundation_model_specs', {}, { token }))
    assert.equal(post405.status, 405)
    assert.equal(post405.headers.get('allow'), 'GET')
  })
})

describe('faults on the new routes, request history', () => {
  test('status, latency, body and reset faults apply to every new route', async () => {
    server.fault({ route: 'embeddings', status: 429, retryAfter: '2', times: 1 })
    const limited = await post('/ml/v1/text/embeddings', { model_id: EMBED, project_id: 'p', inputs: ['x'] })
    assert.equal(limited.status, 429)
    assert.equal(limited.headers.get('retry-after'), '2')
    assertWmlError(limited.body, 429, 'rate_limit_reached_requests', `${WATSONX_MORE_INFO}#text-embeddings`)
    server.fault({ route: 'rerank', body: 'oops', status: 502, contentType: 'text/plain', times: 1 })
    const raw = await post('/ml/v1/text/rerank', { model_id: RERANK, project_id: 'p', query: 'q', inputs: [{ text: 'x' }] })
    assert.equal(raw.status, 502)
    assert.equal(raw.body, 'oops')
    server.fault({ route: 'models', reset: true, times: 1 })
    await assert.rejects(fetch(`${server.url}/ml/v1/foundation_model_specs?version=2024-05-01`), TypeError)
    server.fault({ route: 'tokenization', latencyMs: 150, times: 1 })
    const t0 = Date.now()
    assert.equal((await post('/ml/v1/text/tokenization', { model_id: CHAT, project_id: 'p', input: 'x' })).status, 200)
    assert.ok(Date.now() - t0 >= 140)
    server.fault({ route: 'chat', status: 503, code: 'service_unavailable', message: 'try later', times: 1 })
    const down = await post('/ml/v1/text/chat', chatBody({ messages: [user('x')] }))
    assertWmlError(down.body, 503, 'service_unavailable')
    assert.equal(down.body.errors[0].message, 'try later')
    assert.deepEqual(server.faults, [])
  })

  test('fault specs are checked once: invalid combinations and misplaced options throw TypeError', () => {
    const bad = [
      { route: 'embeddings', errorAfterEvents: 1 },
      { route: 'chat', tokenLifetimeSec: 5 },
      { route: 'predictions', apikey: 'k', status: 500 },
      { route: 'iam', hang: true, status: 500 },
      { route: 'iam', reset: true, trickleMs: 5 },
      { route: 'iam', hang: true, reset: true },
      { route: 'iam', malformed: true, body: 'x' },
      { route: 'iam', body: 'x', html: true },
      { route: 'iam', malformed: true, status: 500 },
      { route: 'iam', status: 200 },
      { route: 'iam', status: 'x' },
      { route: 'iam', status: 500, tokenLifetimeSec: 5 },
      { route: 'stream', status: 500, errorAfterEvents: 1 },
      { route: 'iam', latencyMs: 5, retryAfter: '1' },
      { route: 'iam', latencyMs: 5, headers: { a: 'b' } },
      { route: 'iam', latencyMs: -1 },
      { route: 'iam', body: 'x', code: 'c' },
      { route: 'iam', status: 500, contentType: 'text/plain' },
      { route: 'stream', errorCode: 'x', latencyMs: 1 },
      { route: 'iam', lantencyMs: 5 },
      { route: 'iam', latencyMs: 5, message: 'm' },
    ]
    for (const spec of bad) assert.throws(() => server.fault(spec), TypeError, JSON.stringify(spec))
    assert.deepEqual(server.faults, [])
    const good = [
      { route: '*', tokenLifetimeSec: 5 },
      { route: '*', errorAfterEvents: 1 },
      { route: 'chat_stream', errorAfterEvents: 0, splitBytes: 3, latencyMs: 1 },
      { route: 'vpc_iam_token', tokenIssuedAgoSec: 10 },
      { route: 'iam', status: 500, trickleMs: 1, latencyMs: 1, headers: { 'X-A': 'b' } },
      { route: 'mcsp', apikey: 'k', html: true },
    ]
    for (const spec of good) assert.equal(server.fault(spec).remaining, Infinity)
    server.clearFaults()
  })

  test('requests(route) keeps each request (traceparent, tracestate), bounded by requestHistory', async () => {
    const small = await startFakeServer({ requestHistory: 3 })
    try {
      const t = small.issueToken()
      for (let i = 0; i < 5; i++) {
        const traceparent = `00-${String(i).padStart(32, '0')}-${'a'.repeat(16)}-01`
        await jsonRequest(small, '/ml/v1/text/tokenization', { model_id: CHAT, project_id: 'p', input: `n${i}` },
          { token: t, headers: { traceparent, tracestate: `fake=${i}` } })
      }
      const seen = small.requests('tokenization')
      assert.equal(seen.length, 3)
      assert.deepEqual(seen.map((r) => r.headers.tracestate), ['fake=2', 'fake=3', 'fake=4'])
      assert.deepEqual(seen.map((r) => r.json.input), ['n2', 'n3', 'n4'])
      assert.match(seen[2].headers.traceparent, /^00-0{31}4-a{16}-01$/)
      assert.equal(small.lastRequest('tokenization'), seen[2])
      assert.deepEqual(small.requests('chat'), [])
      small.reset()
      assert.deepEqual(small.requests('tokenization'), [])
    } finally {
      await small.close()
    }
  })
})
