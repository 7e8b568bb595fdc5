// @ts-check
'use strict'
// The assembled result of a stream (`stream.result()`): chunks merged the
// way the service's own clients merge them (src/wml/WATSONX.md §2, §3), so
// that a streamed call ends with the same shape as the plain call.

/**
 * Adds the `system.warnings` of `chunk` not already in `into`.
 * @param {any[]} into
 * @param {any} chunk
 */
function addWarnings(into, chunk) {
  const ws = chunk.system && chunk.system.warnings
  if (!Array.isArray(ws)) return
  for (const w of ws) {
    if (!into.some((x) => x.id === w.id && x.message === w.message)) into.push(w)
  }
}

/**
 * Copies the members of `from` named in `keys` that `to` does not have yet.
 * @param {Record<string, unknown>} to
 * @param {any} from
 * @param {readonly string[]} keys
 */
function fillOnce(to, from, keys) {
  for (const k of keys) {
    if (to[k] === undefined && from[k] !== undefined && from[k] !== null) to[k] = from[k]
  }
}

const CHAT_HEAD = ['id', 'model_id', 'model', 'model_version', 'created', 'created_at']

/**
 * @typedef {{ id: string, type: string, name: string, arguments: string }} ToolCallParts
 * @typedef {{ role: string | undefined, content: string, reasoning: string | undefined, refusal: string | undefined,
 *   calls: Map<number, ToolCallParts>, finish: string | null }} ChoiceParts
 */

/**
 * Chat stream chunks (`choices[].delta`) into one chat response, as
 * `POST /ml/v1/text/chat` answers: per choice the message with its content
 * joined, its tool calls joined from their pieces (keyed by `index`: `id`,
 * `type` and `name` from the first piece that has them, `arguments`
 * concatenated), the last finish reason; the last `usage` seen.
 */
class ChatAssembler {
  /** @type {Record<string, unknown>} */
  #head = {}
  /** @type {Map<number, ChoiceParts>} */
  #choices = new Map()
  /** @type {unknown} */
  #usage
  /** @type {any[]} */
  #warnings = []

  /** @param {any} chunk */
  add(chunk) {
    if (chunk === null || typeof chunk !== 'object') return
    fillOnce(this.#head, chunk, CHAT_HEAD)
    if (chunk.usage) this.#usage = chunk.usage
    if (chunk.system) addWarnings(this.#warnings, chunk)
    const choices = chunk.choices
    if (!Array.isArray(choices)) return
    for (const c of choices) {
      const index = typeof c.index === 'number' ? c.index : 0
      let s = this.#choices.get(index)
      if (s === undefined) {
        s = { role: undefined, content: '', reasoning: undefined, refusal: undefined, calls: new Map(), finish: null }
        this.#choices.set(index, s)
      }
      const d = c.delta
      if (d) {
        if (d.role) s.role = d.role
        if (typeof d.content === 'string') s.content += d.content
        if (typeof d.reasoning_content === 'string') s.reasoning = (s.reasoning ?? '') + d.reasoning_content
        if (typeof d.refusal === 'string') s.refusal = (s.refusal ?? '') + d.refusal
        if (Array.isArray(d.tool_calls)) for (const t of d.tool_calls) addToolCall(s.calls, t)
      }
      if (c.finish_reason != null) s.finish = c.finish_reason
    }
  }

  result() {
    const choices = [...this.#choices.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([index, s]) => {
        /** @type {Record<string, unknown>} */
        const message = { role: s.role ?? 'assistant' }
        // As the plain call: a message of tool calls alone has no content.
        if (s.content !== '' || s.calls.size === 0) message.content = s.content
        if (s.reasoning !== undefined) message.reasoning_content = s.reasoning
        if (s.refusal !== undefined) message.refusal = s.refusal
        if (s.calls.size) {
          message.tool_calls = [...s.calls.entries()]
            .sort((a, b) => a[0] - b[0])
            .map(([, t]) => ({ id: t.id, type: t.type, function: { name: t.name, arguments: t.arguments } }))
        }
        return { index, message, finish_reason: s.finish }
      })
    /** @type {Record<string, unknown>} */
    const out = { ...this.#head, object: 'chat.completion', choices }
    if (this.#usage !== undefined) out.usage = this.#usage
    if (this.#warnings.length) out.system = { warnings: this.#warnings }
    return out
  }
}

/**
 * @param {Map<number, ToolCallParts>} calls
 * @param {any} t a `delta.tool_calls[]` piece
 */
function addToolCall(calls, t) {
  if (t === null || typeof t !== 'object') return
  const index = typeof t.index === 'number' ? t.index : 0
  let call = calls.get(index)
  if (call === undefined) {
    call = { id: '', type: '', name: '', arguments: '' }
    calls.set(index, call)
  }
  if (t.id && !call.id) call.id = t.id
  if (t.type && !call.type) call.type = t.type
  const f = t.function
  if (f) {
    // Later pieces carry `"name": ""` (or repeat it): names are never joined.
    if (f.name && !call.name) call.name = f.name
    if (typeof f.arguments === 'string') call.arguments += f.arguments
  }
  if (!call.type) call.type = 'function'
}

const GENERATION_HEAD = ['model_id', 'model_version', 'created_at']

/**
 * Text generation stream chunks into one generation response: per result
 * the text joined, the input token count from the first chunk that has one,
 * the generated count, stop reason and seed from the last, token details
 * joined.
 */
class GenerationAssembler {
  /** @type {Record<string, unknown>} */
  #head = {}
  /** @type {Array<Record<string, any>>} */
  #results = []
  /** @type {any[]} */
  #warnings = []

  /** @param {any} chunk */
  add(chunk) {
    if (chunk === null || typeof chunk !== 'object') return
    fillOnce(this.#head, chunk, GENERATION_HEAD)
    if (chunk.system) addWarnings(this.#warnings, chunk)
    const results = chunk.results
    if (!Array.isArray(results)) return
    for (let i = 0; i < results.length; i++) {
      const r = results[i]
      let s = this.#results[i]
      if (s === undefined) {
        s = { generated_text: '' }
        this.#results[i] = s
      }
      if (typeof r.generated_text === 'string') s.generated_text += r.generated_text
      if (r.generated_token_count != null) s.generated_token_count = r.generated_token_count
      if (r.input_token_count && !s.input_token_count) s.input_token_count = r.input_token_count
      if (r.stop_reason != null) s.stop_reason = r.stop_reason
      if (r.seed != null) s.seed = r.seed
      for (const k of ['generated_tokens', 'input_tokens']) {
        if (Array.isArray(r[k])) s[k] = s[k] ? s[k].concat(r[k]) : r[k].slice()
      }
    }
  }

  result() {
    /** @type {Record<string, unknown>} */
    const out = { ...this.#head, results: this.#results }
    if (this.#warnings.length) out.system = { warnings: this.#warnings }
    return out
  }
}

module.exports = { ChatAssembler, GenerationAssembler }
