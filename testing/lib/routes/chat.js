'use strict'
// watsonx.ai chat: /ml/v1/text/chat[_stream] (model_id + project/space) and
// /ml/v1/deployments/{id}/text/chat[_stream].
const crypto = require('crypto')
const { isPlainObject, jsonReply } = require('../util')
const { wmlHeaders } = require('../errors')
const { DEFAULT_CHAT_MODEL_ID } = require('../models')
const { chat, chatDeltas } = require('../chat-model')
const { beginInference, invalid } = require('./wml')

const ROLES = ['system', 'user', 'assistant', 'tool', 'control']
const TOOL_CHOICE_OPTIONS = ['none', 'auto', 'required']
const RESPONSE_FORMATS = ['text', 'json_object', 'json_schema']

function validateMessage(m, i) {
  const where = `messages[${i}]`
  if (!isPlainObject(m)) return invalid(`'${where}' must be an object`)
  if (!ROLES.includes(m.role)) return invalid(`'${where}.role' must be one of ${ROLES.join(', ')}`)
  const c = m.content
  if (m.role === 'user') {
    if (c === undefined) return invalid(`required property '${where}.content' is missing`)
    if (typeof c !== 'string' && !Array.isArray(c)) return invalid(`'${where}.content' must be a string or an array`)
    if (Array.isArray(c)) {
      for (let j = 0; j < c.length; j++) {
        const part = c[j]
        if (!isPlainObject(part) || !['text', 'image_url', 'video_url', 'input_audio'].includes(part.type)) {
          return invalid(`'${where}.content[${j}].type' must be one of text, image_url, video_url, input_audio`)
        }
        if (part.type === 'text' && typeof part.text !== 'string') return invalid(`'${where}.content[${j}].text' must be a string`)
      }
    }
  } else if (m.role === 'tool') {
    if (typeof m.tool_call_id !== 'string' || !m.tool_call_id) return invalid(`required property '${where}.tool_call_id' is missing`)
    if (typeof c !== 'string') return invalid(`'${where}.content' must be a string`)
  } else if (m.role === 'assistant') {
    if (c != null && typeof c !== 'string' && !Array.isArray(c)) return invalid(`'${where}.content' must be a string`)
    if (m.tool_calls !== undefined && !Array.isArray(m.tool_calls)) return invalid(`'${where}.tool_calls' must be an array`)
    if (c == null && !(Array.isArray(m.tool_calls) && m.tool_calls.length)) {
      return invalid(`'${where}' needs content or tool_calls`)
    }
  } else if (typeof c !== 'string' && !Array.isArray(c)) {
    return invalid(`'${where}.content' must be a string`)
  }
  return null
}

/** {code, message} naming the problem with a chat body, or null when valid. */
function validateChat(body) {
  if (body.messages === undefined) return invalid("required property 'messages' is missing")
  if (!Array.isArray(body.messages) || body.messages.length === 0) return invalid("'messages' must be a non-empty array")
  for (let i = 0; i < body.messages.length; i++) {
    const bad = validateMessage(body.messages[i], i)
    if (bad) return bad
  }
  const tools = body.tools
  if (tools !== undefined) {
    if (!Array.isArray(tools)) return invalid("'tools' must be an array")
    for (let i = 0; i < tools.length; i++) {
      const t = tools[i]
      if (!isPlainObject(t) || t.type !== 'function') return invalid(`'tools[${i}].type' must be 'function'`)
      if (!isPlainObject(t.function) || typeof t.function.name !== 'string' || !t.function.name) {
        return invalid(`required property 'tools[${i}].function.name' is missing`)
      }
      if (t.function.parameters !== undefined && !isPlainObject(t.function.parameters)) {
        return invalid(`'tools[${i}].function.parameters' must be an object`)
      }
    }
  }
  if (body.tool_choice !== undefined && body.tool_choice_option !== undefined) {
    return invalid('Only one of tool_choice_option or tool_choice must be present', 'invalid_request_entity')
  }
  if (body.tool_choice_option !== undefined && !TOOL_CHOICE_OPTIONS.includes(body.tool_choice_option)) {
    return invalid(`'tool_choice_option' must be one of ${TOOL_CHOICE_OPTIONS.join(', ')}`)
  }
  if (body.tool_choice !== undefined) {
    const c = body.tool_choice
    if (!isPlainObject(c) || c.type !== 'function' || !isPlainObject(c.function) || typeof c.function.name !== 'string') {
      return invalid("'tool_choice' must be {\"type\": \"function\", \"function\": {\"name\": ...}}")
    }
    if (!(tools || []).some((t) => t.function.name === c.function.name)) {
      return invalid(`Invalid input argument: tool_choice names function '${c.function.name}', which is not in 'tools'`, 'invalid_input_argument')
    }
  }
  for (const key of ['max_tokens', 'max_completion_tokens']) {
    const v = body[key]
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) return invalid(`'${key}' must be an integer >= 0`)
  }
  if (body.stop !== undefined && !(Array.isArray(body.stop) && body.stop.every((s) => typeof s === 'string'))) {
    return invalid("'stop' must be an array of strings")
  }
  const rf = body.response_format
  if (rf !== undefined) {
    if (!isPlainObject(rf) || rf.type === undefined) {
      return invalid('Missing json field response_format.type in request entity', 'invalid_request_entity')
    }
    if (!RESPONSE_FORMATS.includes(rf.type)) return invalid(`'response_format.type' must be one of ${RESPONSE_FORMATS.join(', ')}`)
  }
  return null
}

/** POST .../text/chat and .../text/chat_stream */
function handleChat(ctx, server) {
  const { error, body, model } = beginInference(ctx, server, { fn: 'text_chat', validate: validateChat })
  if (error) return error
  const modelId = model ? model.model_id : DEFAULT_CHAT_MODEL_ID
  const spec = model || server.models.get(DEFAULT_CHAT_MODEL_ID)
  const version = (spec && Array.isArray(spec.versions) && spec.versions[0] && spec.versions[0].version) || '1.0.0'
  const result = chat(body)
  const now = server.clock()
  const id = `chatcmpl-${crypto.randomBytes(16).toString('hex')}`
  const created = Math.floor(now / 1000)
  const createdAt = new Date(now).toISOString()
  if (!ctx.route.stream) {
    return jsonReply(200, {
      id,
      object: 'chat.completion',
      model_id: modelId,
      model: modelId,
      choices: [{ index: 0, message: result.message, finish_reason: result.finish_reason }],
      created,
      model_version: version,
      created_at: createdAt,
      usage: result.usage,
    }, wmlHeaders(ctx))
  }
  const chunk = (choices) => ({
    id, object: 'chat.completion.chunk', model_id: modelId, model: modelId, choices, created, model_version: version, created_at: createdAt,
  })
  const events = chatDeltas(result, { interleave: server.options.interleaveToolCalls === true }).map((choice) => chunk([choice]))
  events.push({ ...chunk([]), usage: result.usage })
  return { events }
}

module.exports = { handleChat, validateChat }
