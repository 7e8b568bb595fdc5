// watsonx.ai inference on a foundation model (chat, generation, embeddings,
// rerank, tokenization, model specs) and deployment chat, against the fake
// server: the wire request, the answer, project/space filling, splitting of
// embeddings, and the service's errors.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { assertNoSecrets, sleep } from './helpers/secrets.mjs'
import { useFakeServer, keyMaker } from './helpers/fake.mjs'

const require = createRequire(import.meta.url)
const m = require('../index.js')
const fake = require('../testing/index.js')

const CHAT = fake.DEFAULT_CHAT_MODEL_ID
const EMBED = fake.DEFAULT_EMBEDDING_MODEL_ID
const RERANK = fake.DEFAULT_RERANK_MODEL_ID

let server
useFakeServer((s) => (server = s))
const freshKey = keyMaker('infer-key')
const client = (extra) => new m.WmlClient({ url: server.url, apikey: freshKey(), iamUrl: server.url, projectId: 'proj-1', ...extra })

const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'number' } }, required: ['city'] },
  },
}

/** Every stat of the model routes, summed: what was sent. */
const sent = () => ['chat', 'chat_stream', 'generation', 'stream', 'embeddings', 'rerank', 'tokenization', 'models']
  .reduce((n, r) => n + server.stats[r], 0)

test('chat sends the wire body with the credentials project and returns the service answer', async () => {
  const c = client({ version: '2024-05-31' })
  const request = {
    model_id: CHAT,
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: [{ type: 'text', text: 'hello' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA==' } }] },
    ],
    max_tokens: 50,
    temperature: 0,
  }
  const res = await c.chat(request, { transactionId: 'tx-chat' })
  assert.match(res.id, /^chatcmpl-/)
  assert.equal(res.model_id, CHAT)
  assert.equal(res.choices[0].message.role, 'assistant')
  assert.equal(res.choices[0].message.content, 'You said: hello [image]')
  assert.equal(res.choices[0].finish_reason, 'stop')
  assert.deepEqual(Object.keys(res.usage).sort(), ['completion_tokens', 'prompt_tokens', 'total_tokens'])
  const req = server.lastRequest('chat')
  assert.equal(req.method, 'POST')
  assert.equal(req.path, '/ml/v1/text/chat')
  assert.equal(req.query.version, '2024-05-31')
  assert.equal(req.headers['x-global-transaction-id'], 'tx-chat')
  assert.equal(req.headers.accept, 'application/json')
  assert.deepEqual(req.json, { project_id: 'proj-1', ...request })
  assert.ok(req.body.startsWith('{"project_id":"proj-1","model_id"'), 'spliced in, not re-serialised')
})

test('chat with a tool call, then the tool result, as the SDK examples do', async () => {
  const c = client()
  const messages = [{ role: 'user', content: 'Call get_weather for city=Paris days=3' }]
  const first = await c.chat({ model_id: CHAT, messages, tools: [weather], tool_choice_option: 'auto' })
  const msg = first.choices[0].message
  assert.equal(first.choices[0].finish_reason, 'tool_calls')
  assert.equal(msg.content, undefined)
  assert.equal(msg.tool_calls.length, 1)
  const call = msg.tool_calls[0]
  assert.match(call.id, /^chatcmpl-tool-[0-9a-f]{32}$/)
  assert.equal(call.type, 'function')
  assert.equal(call.function.name, 'get_weather')
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris', days: 3 })

  messages.push(msg, { role: 'tool', tool_call_id: call.id, content: '{"temp": 21}' })
  const second = await c.chat({ model_id: CHAT, messages, tools: [weather] })
  assert.equal(second.choices[0].message.content, 'The get_weather tool returned: {"temp": 21}')
  assert.deepEqual(server.lastRequest('chat').json.messages[1], msg, 'the assistant turn is sent back as received')

  const forced = await c.chat({
    model_id: CHAT,
    messages: [{ role: 'user', content: 'anything' }],
    tools: [weather],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
  })
  assert.equal(forced.choices[0].message.tool_calls[0].function.name, 'get_weather')
  const json = await c.chat({ model_id: CHAT, messages: [{ role: 'user', content: 'hi' }], response_format: { type: 'json_object' } })
  assert.deepEqual(JSON.parse(json.choices[0].message.content), { reply: 'You said: hi' })
})

test('project or space: the request wins, else the credentials, else nothing is sent', async () => {
  const chat = { model_id: CHAT, messages: [{ role: 'user', content: 'x' }] }
  await client().chat({ ...chat, space_id: 'own-space' })
  assert.equal(server.lastRequest('chat').json.space_id, 'own-space')
  assert.equal(server.lastRequest('chat').json.project_id, undefined)
  await client({ projectId: undefined, spaceId: 'space-7' }).chat(chat)
  assert.equal(server.lastRequest('chat').json.space_id, 'space-7')
  await client().chat({ ...chat, project_id: null })
  assert.equal(server.lastRequest('chat').json.project_id, 'proj-1', 'a null member is replaced')
  await client().chat(Buffer.from(JSON.stringify(chat)))
  assert.equal(server.lastRequest('chat').json.project_id, 'proj-1', 'bytes too')

  const none = client({ projectId: undefined })
  const before = sent()
  for (const call of [
    () => none.chat(chat),
    () => none.modelGenerateText({ model_id: CHAT, input: 'x' }),
    () => none.embed({ model_id: EMBED, inputs: ['a'] }),
    () => none.embed({ model_id: EMBED, inputs: Array.from({ length: 1500 }, () => 'a') }),
    () => none.rerank({ model_id: RERANK, query: 'q', inputs: [{ text: 'a' }] }),
    () => none.tokenize({ model_id: CHAT, input: 'x' }),
    () => client().chat('not an object'),
    () => client().chat(Buffer.from('[1, 2]')),
    () => client().chat(Buffer.from('{"model_id": ')),
  ]) {
    let p
    assert.doesNotThrow(() => (p = call()))
    const err = await p.then(() => assert.fail(`${call} resolved`), (e) => e)
    assert.ok(err instanceof m.InvalidArgumentError, `${call}: ${err}`)
  }
  await assert.rejects(none.chatStream(chat).next(), { code: 'ERR_INVALID_ARG', message: /projectId or spaceId/ })
  assert.equal(sent(), before, 'nothing was sent')
  // deployments and the model list need none
  await none.deploymentChat('dep-1', { messages: chat.messages })
  await none.listFoundationModels()
  assert.throws(
    () => new m.WmlClient({ url: server.url, apikey: 'k', iamUrl: server.url, projectId: 'p', spaceId: 's' }),
    { code: 'ERR_INVALID_ARG', message: /one of projectId and spaceId/ },
  )
  assert.throws(() => new m.WmlClient({ url: server.url, apikey: 'k', iamUrl: server.url, projectId: 7 }), {
    code: 'ERR_INVALID_ARG',
    message: 'credentials.projectId must be a string',
  })
})

test('deploymentChat goes to the deployment and sends the body as given', async () => {
  const request = { messages: [{ role: 'user', content: 'hi there' }], context: 'ctx', max_tokens: 10 }
  const res = await client().deploymentChat('my-dep', request)
  assert.equal(res.choices[0].message.content, 'You said: hi there')
  const req = server.lastRequest('chat')
  assert.equal(req.path, '/ml/v1/deployments/my-dep/text/chat')
  assert.deepEqual(req.json, request)
  const err = await client().deploymentChat('unknown-dep', request).catch((e) => e)
  assert.equal(err.status, 404)
  assert.equal(err.errors[0].code, 'deployment_not_found')
  await assert.rejects(client().deploymentChat('a/b', request), { code: 'ERR_INVALID_ARG' })
})

test('modelGenerateText: generation with a foundation model', async () => {
  const request = { model_id: CHAT, input: 'one two three', parameters: { max_new_tokens: 4 } }
  const res = await client().modelGenerateText(request)
  const expected = fake.generate('one two three', { max_new_tokens: 4 })
  assert.equal(res.model_id, CHAT)
  assert.equal(res.results[0].generated_text, expected.generated_text)
  assert.equal(res.results[0].generated_token_count, 4)
  assert.equal(res.results[0].stop_reason, 'max_tokens')
  const req = server.lastRequest('generation')
  assert.equal(req.path, '/ml/v1/text/generation')
  assert.deepEqual(req.json, { project_id: 'proj-1', ...request })
})

test('embed: Float32Array vectors equal to the service numbers, in order', async () => {
  const inputs = ['first text', 'second', 'a third, longer text with more words']
  const res = await client().embed({ model_id: EMBED, inputs, parameters: { return_options: { input_text: true } } })
  assert.equal(res.model_id, EMBED)
  assert.equal(typeof res.created_at, 'string')
  assert.equal(res.input_token_count, inputs.reduce((n, t) => n + fake.tokenize(t).length, 0))
  assert.equal(res.results.length, 3)
  for (let i = 0; i < inputs.length; i++) {
    const { embedding, input } = res.results[i]
    assert.ok(embedding instanceof Float32Array)
    assert.equal(embedding.length, 768)
    assert.equal(input, inputs[i])
    assert.deepEqual(embedding, Float32Array.from(fake.embed(inputs[i], EMBED)))
  }
  const req = server.lastRequest('embeddings')
  assert.equal(req.path, '/ml/v1/text/embeddings')
  assert.deepEqual(req.json, { project_id: 'proj-1', model_id: EMBED, inputs, parameters: { return_options: { input_text: true } } })
  const small = await client().embed({ model_id: 'ibm/slate-30m-english-rtrvr-v2', inputs: ['x'] })
  assert.equal(small.results[0].embedding.length, 384)
  assert.equal(small.results[0].input, undefined)
})

test('embed: more than 1,000 inputs are split, sent together, joined in input order with summed tokens', async () => {
  const inputs = Array.from({ length: 2345 }, (_, i) => `input number ${i}${' word'.repeat(i % 5)}`)
  const before = server.stats.embeddings
  const res = await client().embed({ model_id: EMBED, inputs, parameters: { truncate_input_tokens: 4, return_options: { input_text: true } } })
  assert.equal(server.stats.embeddings - before, 3)
  const parts = server.requests('embeddings').slice(-3).map((r) => r.json)
  assert.deepEqual(parts.map((p) => p.inputs.length).sort((a, b) => a - b), [345, 1000, 1000])
  for (const p of parts) {
    assert.equal(p.project_id, 'proj-1')
    assert.equal(p.model_id, EMBED)
    assert.deepEqual(p.parameters, { truncate_input_tokens: 4, return_options: { input_text: true } })
  }
  assert.equal(res.results.length, 2345)
  for (const i of [0, 1, 999, 1000, 1001, 1999, 2000, 2344]) {
    assert.equal(res.results[i].input, inputs[i])
    const truncated = fake.tokenize(inputs[i]).slice(0, 4).join(' ')
    assert.deepEqual(res.results[i].embedding, Float32Array.from(fake.embed(truncated, EMBED)), `input ${i}`)
  }
  assert.equal(res.input_token_count, inputs.reduce((n, t) => n + Math.min(4, fake.tokenize(t).length), 0))
  // every view is its own 768 numbers
  assert.ok(res.results.every((r) => r.embedding.length === 768))
  assert.notDeepEqual(res.results[1].embedding, res.results[2].embedding)
})

test('embed: one failing part rejects the whole call', async () => {
  const inputs = Array.from({ length: 2500 }, (_, i) => `t${i}`)
  server.fault({ route: 'embeddings', status: 400, code: 'invalid_input_argument', times: 1 })
  const err = await client().embed({ model_id: EMBED, inputs }).catch((e) => e)
  assert.ok(err instanceof m.WmlError)
  assert.equal(err.status, 400)
  assert.equal(err.errors[0].code, 'invalid_input_argument')
  // a part that hangs is bounded by the call's timeout
  server.fault({ route: 'embeddings', hang: true, times: 1 })
  const slow = await client().embed({ model_id: EMBED, inputs }, { timeoutMs: 300 }).catch((e) => e)
  assert.equal(slow.code, 'ERR_TIMEOUT')
})

test('embed: the service errors come through with their fields', async () => {
  const long = 'word '.repeat(600)
  const err = await client().embed({ model_id: EMBED, inputs: ['ok', long] }).catch((e) => e)
  assert.equal(err.code, 'ERR_WML')
  assert.equal(err.status, 400)
  assert.equal(err.errors[0].code, 'invalid_input_argument')
  assert.match(err.errors[0].message, /Token sequence length is longer than the specified maximum sequence length/)
  assert.match(err.trace, /^[0-9a-f]{32}$/)
  const wrong = await client().embed({ model_id: CHAT, inputs: ['a'] }).catch((e) => e)
  assert.equal(wrong.status, 400)
  assert.equal(wrong.errors[0].code, 'model_no_support_for_function')
  const bad = await client().embed({ model_id: EMBED, inputs: 'not a list' }).catch((e) => e)
  assert.equal(bad.status, 400)
  assert.equal(bad.errors[0].code, 'json_validation_error')
})

test('embed: an answer that is not an embeddings answer is ERR_BAD_RESPONSE', async () => {
  for (const body of ['{"results": [{"embedding": ["x"]}]}', '{"model_id": "m"}', '{"results": [{"embedding": [1, 2']) {
    server.fault({ route: 'embeddings', body, times: 1 })
    const err = await client().embed({ model_id: EMBED, inputs: ['a'] }).catch((e) => e)
    assert.equal(err.code, 'ERR_BAD_RESPONSE', body)
    assert.equal(err.status, 200)
  }
})

test('rerank: sorted scores, top_n, inputs and query returned', async () => {
  const inputs = [{ text: 'cats and dogs' }, { text: 'the weather in Paris' }, { text: 'Paris weather today' }]
  const res = await client().rerank({
    model_id: RERANK,
    query: 'weather Paris',
    inputs,
    parameters: { return_options: { top_n: 2, inputs: true, query: true } },
  })
  assert.equal(res.model_id, RERANK)
  assert.equal(res.query, 'weather Paris')
  assert.equal(res.results.length, 2)
  assert.deepEqual(res.results.map((r) => r.index).sort(), [1, 2])
  assert.ok(res.results[0].score >= res.results[1].score)
  for (const r of res.results) {
    assert.equal(r.score, fake.rerankScore('weather Paris', inputs[r.index].text))
    assert.deepEqual(r.input, inputs[r.index])
  }
  assert.equal(typeof res.input_token_count, 'number')
  assert.equal(server.lastRequest('rerank').path, '/ml/v1/text/rerank')
})

test('rerank: more inputs than the service takes is its error, with its fields', async () => {
  const inputs = Array.from({ length: fake.MAX_EMBEDDING_INPUTS + 1 }, (_, i) => ({ text: `t${i}` }))
  const err = await client().rerank({ model_id: RERANK, query: 'q', inputs }).catch((e) => e)
  assert.ok(err instanceof m.WmlError)
  assert.equal(err.status, 400)
  assert.equal(err.errors[0].code, 'json_validation_error')
  assert.match(err.errors[0].message, /at most 1000/)
  assert.equal(err.errors[0].more_info, `${fake.WATSONX_MORE_INFO}#text-rerank`)
})

test('tokenize: the count, and the tokens when asked', async () => {
  const res = await client().tokenize({ model_id: CHAT, input: 'Write a tagline for an alumni association', parameters: { return_tokens: true } })
  assert.equal(res.model_id, CHAT)
  assert.equal(res.result.token_count, 7)
  assert.deepEqual(res.result.tokens, fake.tokenize('Write a tagline for an alumni association'))
  const bare = await client().tokenize({ model_id: CHAT, input: 'a b' })
  assert.deepEqual(bare.result, { token_count: 2 })
  assert.equal(server.lastRequest('tokenization').path, '/ml/v1/text/tokenization')
})

test('listFoundationModels: a GET with the query, paging with start', async () => {
  const all = await client().listFoundationModels()
  assert.equal(all.total_count, fake.DEFAULT_MODELS.length)
  assert.deepEqual(all.resources.map((r) => r.model_id), fake.DEFAULT_MODELS.map((r) => r.model_id))
  let req = server.lastRequest('models')
  assert.equal(req.method, 'GET')
  assert.equal(req.path, '/ml/v1/foundation_model_specs')
  assert.equal(req.body, '')
  assert.equal(req.headers['content-type'], undefined)

  const c = client()
  const page = await c.listFoundationModels({ filters: 'function_embedding', limit: 2, tech_preview: false })
  req = server.lastRequest('models')
  assert.deepEqual(req.query, { version: '2023-05-29', filters: 'function_embedding', limit: '2', tech_preview: 'false' })
  assert.equal(page.resources.length, 2)
  assert.ok(page.resources.every((r) => r.functions.some((f) => f.id === 'embedding')))
  const start = new URL(page.next.href).searchParams.get('start')
  const rest = await c.listFoundationModels({ filters: 'function_embedding', limit: 2, start })
  assert.equal(page.resources.length + rest.resources.length, page.total_count)
  assert.equal(rest.next, undefined)

  const err = await c.listFoundationModels({ limit: 500 }).catch((e) => e)
  assert.equal(err.code, 'ERR_WML')
  assert.equal(err.errors[0].code, 'invalid_input_argument')
  for (const bad of [{ limit: [1] }, { version: '2024-01-01' }, 'filters']) {
    await assert.rejects(c.listFoundationModels(bad), { code: 'ERR_INVALID_ARG' })
  }
})

test('the service errors: unknown model, missing project, unsupported function', async () => {
  const key = freshKey()
  const c = new m.WmlClient({ url: server.url, apikey: key, iamUrl: server.url, projectId: 'p' })
  const messages = [{ role: 'user', content: 'x' }]
  let err = await c.chat({ model_id: 'nobody/no-model', messages }).catch((e) => e)
  assert.ok(err instanceof m.WmlError)
  assert.equal(err.status, 404)
  assert.equal(err.errors[0].code, 'model_not_supported')
  assert.equal(err.errors[0].message, "Model 'nobody/no-model' is not supported")
  assert.equal(err.errors[0].more_info, `${fake.WATSONX_MORE_INFO}#text-chat`)
  assert.match(err.trace, /^[0-9a-f]{32}$/)
  assert.ok(err.message.includes("Model 'nobody/no-model' is not supported"))
  // a project that is there but empty is the service's to refuse
  err = await c.chat({ model_id: CHAT, messages, project_id: '' }).catch((e) => e)
  assert.equal(err.status, 400)
  assert.equal(err.errors[0].code, 'invalid_request_entity')
  assert.match(err.errors[0].message, /Missing either space_id or project_id/)
  err = await c.chat({ model_id: EMBED, messages }).catch((e) => e)
  assert.equal(err.errors[0].code, 'model_no_support_for_function')
  err = await c.tokenize({ model_id: 'nobody/x', input: 'x' }).catch((e) => e)
  assert.equal(err.errors[0].code, 'model_not_supported')
  assertNoSecrets(err, [key, await m.getIamToken(key, { url: server.url })])
})

test('a 401 refreshes the token once; 429 and 503 are retried; 400 is not', async () => {
  const key = freshKey()
  const c = new m.WmlClient({ url: server.url, apikey: key, iamUrl: server.url, projectId: 'p' })
  const chat = { model_id: CHAT, messages: [{ role: 'user', content: 'x' }] }
  await c.chat(chat)
  server.revokeTokens()
  let before = server.stats.chat
  await c.chat(chat)
  assert.equal(server.stats.chat - before, 2)
  assert.equal(server.iamRequestsFor(key), 2)
  before = server.stats.embeddings
  server.revokeTokens()
  await c.embed({ model_id: EMBED, inputs: ['a'] })
  assert.equal(server.stats.embeddings - before, 2)
  assert.equal(server.iamRequestsFor(key), 3)

  server.fault({ route: 'chat', status: 429, retryAfter: '0', times: 1 })
  server.fault({ route: 'chat', status: 503, retryAfter: '0', times: 1 })
  before = server.stats.chat
  await c.chat(chat)
  assert.equal(server.stats.chat - before, 3)

  server.fault({ route: 'rerank', status: 400, times: 1 })
  before = server.stats.rerank
  await assert.rejects(c.rerank({ model_id: RERANK, query: 'q', inputs: [{ text: 'a' }] }), { code: 'ERR_WML', status: 400 })
  assert.equal(server.stats.rerank - before, 1)
})

test('abort and timeout on the model calls', async () => {
  const c = client()
  const ac = new AbortController()
  ac.abort(new Error('gone'))
  const before = server.stats.embeddings
  const err = await c.embed({ model_id: EMBED, inputs: ['a'] }, { signal: ac.signal }).catch((e) => e)
  assert.equal(err.code, 'ERR_ABORTED')
  assert.equal(err.cause.message, 'gone')
  assert.equal(server.stats.embeddings, before)

  server.fault({ route: 'chat', hang: true, times: 1 })
  const ac2 = new AbortController()
  const p = c.chat({ model_id: CHAT, messages: [{ role: 'user', content: 'x' }] }, { signal: ac2.signal })
  await sleep(50)
  ac2.abort()
  assert.equal((await p.catch((e) => e)).code, 'ERR_ABORTED')

  server.fault({ route: 'tokenization', hang: true, times: 1 })
  const t = await c.tokenize({ model_id: CHAT, input: 'x' }, { timeoutMs: 200 }).catch((e) => e)
  assert.equal(t.code, 'ERR_TIMEOUT')
})
