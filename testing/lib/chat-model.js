'use strict'
// The fake chat model (watsonx.ai /ml/v1/text/chat): deterministic answers,
// tool calls built from the tools' parameter schemas, and the stream deltas
// the service sends for them. Exported so tests can compute expected answers.
const crypto = require('crypto')
const { isPlainObject, words } = require('./util')

/** The text of a message's `content`: a string, or the text parts (images as `[image]`) joined with spaces. */
function contentText(content) {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content.map((part) => {
    if (!isPlainObject(part)) return ''
    if (part.type === 'text') return String(part.text ?? '')
    if (part.type === 'image_url') return '[image]'
    return ''
  }).filter(Boolean).join(' ')
}

/** JSON with `, ` and `: ` separators, the way the service's models format tool arguments. */
function spacedJson(value) {
  if (Array.isArray(value)) return `[${value.map(spacedJson).join(', ')}]`
  if (isPlainObject(value)) {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${spacedJson(v)}`).join(', ')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

function coerce(raw, type) {
  switch (type) {
    case 'integer': {
      const n = parseInt(raw, 10)
      return Number.isNaN(n) ? undefined : n
    }
    case 'number': {
      const n = parseFloat(raw)
      return Number.isNaN(n) ? undefined : n
    }
    case 'boolean': return /^(true|yes|1)$/i.test(raw)
    case 'array':
    case 'object':
      try {
        const v = JSON.parse(raw)
        if (type === 'array' ? Array.isArray(v) : isPlainObject(v)) return v
      } catch {
        // fall through
      }
      return type === 'array' ? [raw] : undefined
    default: return raw
  }
}

/**
 * The arguments object for a tool, from its JSON-schema `parameters` and the
 * user's text: per property, in schema order, an explicit `name=value` or
 * `name: value` in the text (quoted values may contain spaces), else for
 * numbers the next number in the text (else 0), for strings the first `enum`
 * value or the whole text, `false`, `[]` or `{}`.
 */
function toolArguments(parameters, text) {
  const props = isPlainObject(parameters) && isPlainObject(parameters.properties) ? parameters.properties : {}
  const numbers = (text.match(/-?\d+(?:\.\d+)?/g) || []).map(Number)
  const args = {}
  for (const [key, schema] of Object.entries(props)) {
    const s = isPlainObject(schema) ? schema : {}
    const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type
    const m = new RegExp(`(?:^|[^\\w-])${escapeRegExp(key)}\\s*[=:]\\s*(?:"([^"]*)"|'([^']*)'|([^\\s,;]+))`).exec(text)
    let value = m ? coerce(m[1] ?? m[2] ?? m[3], type) : undefined
    if (value === undefined) {
      if (Array.isArray(s.enum) && s.enum.length) value = s.enum[0]
      else if (type === 'integer' || type === 'number') {
        const n = numbers.length ? numbers.shift() : 0
        value = type === 'integer' ? Math.trunc(n) : n
      } else if (type === 'boolean') value = false
      else if (type === 'array') value = []
      else if (type === 'object') value = {}
      else value = text
    }
    args[key] = value
  }
  return args
}

/** The tools the model calls for this request (each `{type:'function', function:{name, parameters}}`), maybe none. */
function selectTools(request, text) {
  const tools = Array.isArray(request.tools) ? request.tools.filter((t) => isPlainObject(t) && isPlainObject(t.function)) : []
  if (!tools.length) return []
  const choice = request.tool_choice
  if (isPlainObject(choice) && isPlainObject(choice.function)) {
    return tools.filter((t) => t.function.name === choice.function.name).slice(0, 1)
  }
  if (request.tool_choice_option === 'none') return []
  const named = tools.filter((t) => typeof t.function.name === 'string' && t.function.name &&
    new RegExp(`(?:^|[^\\w-])${escapeRegExp(t.function.name)}(?:[^\\w-]|$)`).test(text))
  if (named.length) return named
  return request.tool_choice_option === 'required' ? tools.slice(0, 1) : []
}

/** The tool results the conversation ends with, as `{name, content}` (names looked up by `tool_call_id`). */
function trailingToolResults(messages) {
  const results = []
  for (let i = messages.length - 1; i >= 0 && messages[i] && messages[i].role === 'tool'; i--) results.unshift(messages[i])
  const names = new Map()
  for (const m of messages) {
    if (m && m.role === 'assistant' && Array.isArray(m.tool_calls)) {
      for (const call of m.tool_calls) if (call && call.function) names.set(call.id, call.function.name)
    }
  }
  return results.map((m) => ({ name: names.get(m.tool_call_id) || 'tool', content: contentText(m.content) }))
}

/** The pieces a content string streams in: each word with the whitespace before it. */
function contentPieces(content) {
  return content.match(/\s*\S+/g) || []
}

/** The pieces an arguments string streams in: runs of letters, of digits, of spaces, and of punctuation. */
function argumentPieces(args) {
  return args.match(/[A-Za-z_]+|\d+|\s+|[^A-Za-z_\d\s]+/g) || []
}

/**
 * The fake chat model. `request` is a chat body (`messages`, and optionally
 * `tools`, `tool_choice` / `tool_choice_option`, `max_tokens` /
 * `max_completion_tokens`, `stop`, `response_format`). Rules:
 * - the conversation ends with `tool` messages: it answers in text with
 *   their contents: "The NAME tool returned: CONTENT" (one line each);
 * - `tools` given and the last user message names one or more of them (as a
 *   word), or `tool_choice` names one, or `tool_choice_option: 'required'`
 *   (then the first tool): it calls them (`finish_reason: 'tool_calls'`),
 *   arguments from {@link toolArguments}, ids `chatcmpl-tool-<32 hex>` derived
 *   from the call;
 * - otherwise it answers "You said: TEXT" (TEXT: the last user message's
 *   text; "Hello! How can I help you?" without one), as `{"reply": ...}` JSON
 *   with `response_format: {type: 'json_object'}`.
 * Text is cut at the first `stop` string (`finish_reason: 'stop'`) and to
 * `max_tokens` (else `max_completion_tokens`; 0 is no limit) pieces of
 * {@link contentPieces} (`finish_reason: 'length'`).
 * Returns `{ message, finish_reason, usage }`.
 */
function chat(request) {
  const messages = Array.isArray(request.messages) ? request.messages : []
  const lastUser = [...messages].reverse().find((m) => m && m.role === 'user')
  const userText = lastUser ? contentText(lastUser.content) : ''
  const promptTokens = messages.reduce((n, m) => {
    if (!isPlainObject(m)) return n
    let t = words(contentText(m.content)).length
    if (Array.isArray(m.tool_calls)) {
      for (const c of m.tool_calls) t += words((c && c.function && c.function.arguments) || '').length
    }
    return n + t
  }, 0)
  const usage = (completion) => ({ completion_tokens: completion, prompt_tokens: promptTokens, total_tokens: completion + promptTokens })

  const last = messages[messages.length - 1]
  const tools = last && last.role === 'tool' ? [] : selectTools(request, userText)
  if (tools.length) {
    let completion = 0
    const calls = tools.map((tool, index) => {
      const args = spacedJson(toolArguments(tool.function.parameters, userText))
      completion += argumentPieces(args).length + 1
      const id = 'chatcmpl-tool-' + crypto.createHash('sha256')
        .update(JSON.stringify([index, tool.function.name, args, userText])).digest('hex').slice(0, 32)
      return { id, type: 'function', function: { name: tool.function.name, arguments: args } }
    })
    return { message: { role: 'assistant', tool_calls: calls }, finish_reason: 'tool_calls', usage: usage(completion) }
  }

  let content
  if (last && last.role === 'tool') {
    content = trailingToolResults(messages).map((r) => `The ${r.name} tool returned: ${r.content}`).join('\n')
  } else {
    content = lastUser ? `You said: ${userText}` : 'Hello! How can I help you?'
  }
  if (isPlainObject(request.response_format) && request.response_format.type === 'json_object') {
    content = JSON.stringify({ reply: content })
  }
  let finish = 'stop'
  const stops = (Array.isArray(request.stop) ? request.stop : []).filter((s) => typeof s === 'string' && s)
  const cut = Math.min(...stops.map((s) => content.indexOf(s)).filter((i) => i >= 0))
  if (Number.isFinite(cut)) content = content.slice(0, cut)
  let pieces = contentPieces(content)
  const limit = request.max_tokens || request.max_completion_tokens || 0
  if (limit > 0 && pieces.length > limit) {
    pieces = pieces.slice(0, limit)
    content = pieces.join('')
    finish = 'length'
  }
  return { message: { role: 'assistant', content }, finish_reason: finish, usage: usage(pieces.length) }
}

/**
 * The `choices[0]` objects of the stream events for a {@link chat} result,
 * in order (the final usage event, with `choices: []`, is not included):
 * - first `{delta: {role: 'assistant', content: ''}}`;
 * - text: one `{delta: {content: piece}}` per {@link contentPieces} piece, then
 *   `{delta: {content: ''}, finish_reason}`;
 * - tool calls: per call `{delta: {tool_calls: [{index, id, type: 'function',
 *   function: {name, arguments: ''}}]}}`, then one
 *   `{delta: {tool_calls: [{index, function: {name: '', arguments: piece}}]}}`
 *   per {@link argumentPieces} piece; the last one carries
 *   `finish_reason: 'tool_calls'`. Calls follow each other, or with
 *   `interleave` go round-robin (all heads first, then piece 1 of each, ...).
 * Every choice has `index: 0` and `finish_reason` (`null` until the last).
 */
function chatDeltas(result, { interleave = false } = {}) {
  const choice = (delta, finish = null) => ({ index: 0, finish_reason: finish, delta })
  const out = [choice({ role: 'assistant', content: '' })]
  const calls = result.message.tool_calls
  if (!calls) {
    for (const piece of contentPieces(result.message.content || '')) out.push(choice({ content: piece }))
    out.push(choice({ content: '' }, result.finish_reason))
    return out
  }
  const streams = calls.map((call, index) => [
    { tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] },
    ...argumentPieces(call.function.arguments).map((piece) => ({ tool_calls: [{ index, function: { name: '', arguments: piece } }] })),
  ])
  if (interleave) {
    const longest = Math.max(...streams.map((s) => s.length))
    for (let step = 0; step < longest; step++) {
      for (const s of streams) if (step < s.length) out.push(choice(s[step]))
    }
  } else {
    for (const s of streams) for (const delta of s) out.push(choice(delta))
  }
  out[out.length - 1].finish_reason = result.finish_reason
  return out
}

module.exports = { chat, chatDeltas, contentText, toolArguments, contentPieces, argumentPieces, spacedJson }
