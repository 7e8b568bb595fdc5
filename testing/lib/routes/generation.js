'use strict'
// watsonx.ai text generation: /ml/v1/text/generation[_stream] (model_id +
// project/space) and /ml/v1/deployments/{id}/text/generation[_stream].
const { isPlainObject, jsonReply } = require('../util')
const { wmlHeaders } = require('../errors')
const { generate, DEFAULT_MODEL_ID, MAX_MAX_NEW_TOKENS } = require('../models')
const { beginInference, invalid } = require('./wml')

/** {code, message} naming the problem with a text generation body, or null when valid. */
function validateGeneration(body) {
  if (body.input === undefined) return invalid("required property 'input' is missing")
  if (typeof body.input !== 'string') return invalid("'input' must be a string")
  const p = body.parameters
  if (p !== undefined && !isPlainObject(p)) return invalid("'parameters' must be an object")
  if (p && p.max_new_tokens !== undefined &&
    !(Number.isInteger(p.max_new_tokens) && p.max_new_tokens >= 0 && p.max_new_tokens <= MAX_MAX_NEW_TOKENS)) {
    return invalid(`'parameters.max_new_tokens' must be an integer between 0 and ${MAX_MAX_NEW_TOKENS}`)
  }
  if (p && p.stop_sequences !== undefined &&
    !(Array.isArray(p.stop_sequences) && p.stop_sequences.every((s) => typeof s === 'string'))) {
    return invalid("'parameters.stop_sequences' must be an array of strings")
  }
  return null
}

/** One SSE data object per token; the last carries the final stop_reason. */
function generationEvents(gen, modelId, createdAt) {
  const tokens = gen.tokens.length ? gen.tokens : ['']
  return tokens.map((text, i) => ({
    model_id: modelId,
    created_at: createdAt,
    results: [{
      generated_text: text,
      generated_token_count: gen.tokens.length ? i + 1 : 0,
      input_token_count: gen.input_token_count,
      stop_reason: i === tokens.length - 1 ? gen.stop_reason : 'not_finished',
    }],
  }))
}

/** POST .../text/generation and .../text/generation_stream */
function handleGeneration(ctx, server) {
  const { error, body, model } = beginInference(ctx, server, { fn: 'text_generation', validate: validateGeneration })
  if (error) return error
  const modelId = model ? model.model_id : DEFAULT_MODEL_ID
  const gen = generate(body.input, body.parameters || {})
  const createdAt = new Date(server.clock()).toISOString()
  if (ctx.route.stream) return { events: generationEvents(gen, modelId, createdAt) }
  const { tokens, ...result } = gen
  return jsonReply(200, { model_id: modelId, created_at: createdAt, results: [result] }, wmlHeaders(ctx))
}

module.exports = { handleGeneration }
