'use strict'
// watsonx.ai embeddings, rerank and tokenization (model_id + project/space).
const { isPlainObject, jsonReply } = require('../util')
const { wmlHeaders, wmlError } = require('../errors')
const { embeddingDimension, rerankScore, tokenize } = require('../models')
const { beginInference, invalid } = require('./wml')

/** At most this many `inputs` per embeddings or rerank request. */
const MAX_INPUTS = 1000

function validateParameters(p, returnOptions) {
  if (p === undefined) return null
  if (!isPlainObject(p)) return invalid("'parameters' must be an object")
  const t = p.truncate_input_tokens
  if (t !== undefined && !(Number.isInteger(t) && t >= 0)) return invalid("'parameters.truncate_input_tokens' must be an integer >= 0")
  const r = p.return_options
  if (r === undefined) return null
  if (!isPlainObject(r)) return invalid("'parameters.return_options' must be an object")
  for (const [key, type] of Object.entries(returnOptions)) {
    const v = r[key]
    if (v === undefined) continue
    if (type === 'boolean' && typeof v !== 'boolean') return invalid(`'parameters.return_options.${key}' must be a boolean`)
    if (type === 'count' && !(Number.isInteger(v) && v >= 1)) return invalid(`'parameters.return_options.${key}' must be an integer >= 1`)
  }
  return null
}

function validateInputsCount(n) {
  if (n === 0) return invalid("'inputs' must have at least 1 item")
  if (n > MAX_INPUTS) return invalid(`'inputs' must have at most ${MAX_INPUTS} items, got ${n}`)
  return null
}

function validateEmbeddings(body) {
  if (body.inputs === undefined) return invalid("required property 'inputs' is missing")
  if (!Array.isArray(body.inputs) || !body.inputs.every((s) => typeof s === 'string')) return invalid("'inputs' must be an array of strings")
  return validateInputsCount(body.inputs.length) || validateParameters(body.parameters, { input_text: 'boolean' })
}

function validateRerank(body) {
  if (body.query === undefined) return invalid("required property 'query' is missing")
  if (typeof body.query !== 'string') return invalid("'query' must be a string")
  if (body.inputs === undefined) return invalid("required property 'inputs' is missing")
  if (!Array.isArray(body.inputs) || !body.inputs.every((x) => isPlainObject(x) && typeof x.text === 'string')) {
    return invalid("'inputs' must be an array of objects with a string 'text'")
  }
  return validateInputsCount(body.inputs.length) ||
    validateParameters(body.parameters, { top_n: 'count', inputs: 'boolean', query: 'boolean' })
}

function validateTokenization(body) {
  if (body.input === undefined) return invalid("required property 'input' is missing")
  if (typeof body.input !== 'string') return invalid("'input' must be a string")
  const p = body.parameters
  if (p !== undefined && !isPlainObject(p)) return invalid("'parameters' must be an object")
  if (p && p.return_tokens !== undefined && typeof p.return_tokens !== 'boolean') return invalid("'parameters.return_tokens' must be a boolean")
  return null
}

/** The text the model sees: its first `truncate` tokens when truncate_input_tokens is set (> 0). */
function truncated(text, truncate) {
  if (!(truncate > 0)) return text
  const ws = tokenize(text)
  return ws.length > truncate ? ws.slice(0, truncate).join(' ') : text
}

/** The 400 a too-long input gets (the service's wording), or null. */
function tooLong(ctx, model, tokens) {
  const max = model.model_limits && model.model_limits.max_sequence_length
  if (!(max > 0) || tokens <= max) return null
  return wmlError(ctx, 400, 'invalid_input_argument',
    `Invalid input argument for Model '${model.model_id}': Token sequence length is longer than the specified maximum sequence length for this model (${tokens} > ${max}).`)
}

const BRACE_EMBEDDING = Buffer.from('{"embedding":')

/** POST /ml/v1/text/embeddings: the body is assembled from cached JSON fragments (fast for 1,000 x 768). */
function handleEmbeddings(ctx, server) {
  const { error, body, model } = beginInference(ctx, server, { fn: 'embedding', validate: validateEmbeddings, needsModel: true })
  if (error) return error
  const p = body.parameters || {}
  const withInput = !!(p.return_options && p.return_options.input_text)
  const dims = embeddingDimension(model)
  const parts = [Buffer.from(`{"model_id":${JSON.stringify(model.model_id)},"results":[`)]
  let tokens = 0
  for (let i = 0; i < body.inputs.length; i++) {
    const text = truncated(body.inputs[i], p.truncate_input_tokens)
    const n = tokenize(text).length
    const long = tooLong(ctx, model, n)
    if (long) return long
    tokens += n
    parts.push(BRACE_EMBEDDING, server.embeddings.get(text, model.model_id, dims))
    const tail = withInput ? `,"input":${JSON.stringify(body.inputs[i])}}` : '}'
    parts.push(Buffer.from(i === body.inputs.length - 1 ? tail : tail + ','))
  }
  parts.push(Buffer.from(`],"created_at":${JSON.stringify(new Date(server.clock()).toISOString())},"input_token_count":${tokens}}`))
  return { status: 200, headers: wmlHeaders(ctx), body: Buffer.concat(parts) }
}

/** POST /ml/v1/text/rerank */
function handleRerank(ctx, server) {
  const { error, body, model } = beginInference(ctx, server, { fn: 'rerank', validate: validateRerank, needsModel: true })
  if (error) return error
  const p = body.parameters || {}
  const ro = p.return_options || {}
  const queryTokens = tokenize(body.query).length
  let tokens = 0
  const scored = []
  for (let index = 0; index < body.inputs.length; index++) {
    const text = body.inputs[index].text
    const seen = truncated(text, p.truncate_input_tokens)
    const n = queryTokens + tokenize(seen).length
    const long = tooLong(ctx, model, n)
    if (long) return long
    tokens += n
    const r = { index, score: rerankScore(body.query, seen) }
    if (ro.inputs) r.input = { text }
    scored.push(r)
  }
  scored.sort((a, b) => b.score - a.score || a.index - b.index)
  const results = ro.top_n ? scored.slice(0, ro.top_n) : scored
  const out = { model_id: model.model_id, results, created_at: new Date(server.clock()).toISOString(), input_token_count: tokens }
  if (ro.query) out.query = body.query
  return jsonReply(200, out, wmlHeaders(ctx))
}

/** POST /ml/v1/text/tokenization */
function handleTokenization(ctx, server) {
  const { error, body, model } = beginInference(ctx, server, { fn: 'tokenization', validate: validateTokenization, needsModel: true })
  if (error) return error
  const tokens = tokenize(body.input)
  const result = { token_count: tokens.length }
  if (body.parameters && body.parameters.return_tokens) result.tokens = tokens
  return jsonReply(200, { model_id: model.model_id, result }, wmlHeaders(ctx))
}

module.exports = { MAX_INPUTS, handleEmbeddings, handleRerank, handleTokenization }
