'use strict'
// The fake's deterministic models and its foundation model catalogue.
// Everything here is exported from `wml-native/testing` so that tests can
// compute the answers they expect.
const { round3, isPlainObject, words } = require('./util')

const DEFAULT_MODEL_ID = 'ibm/granite-13b-instruct-v2'
const DEFAULT_CHAT_MODEL_ID = 'ibm/granite-3-8b-instruct'
const DEFAULT_EMBEDDING_MODEL_ID = 'ibm/slate-125m-english-rtrvr-v2'
const DEFAULT_RERANK_MODEL_ID = 'cross-encoder/ms-marco-minilm-l-12-v2'
const DEFAULT_MAX_NEW_TOKENS = 20
const MAX_MAX_NEW_TOKENS = 100000

// ---------------------------------------------------------------------------
// Catalogue (what GET /ml/v1/foundation_model_specs lists)
// ---------------------------------------------------------------------------

function spec({ id, provider, source = provider, functions, params, tier, limits, description, released, version,
  languages = ['en'], tasks = [] }) {
  return {
    model_id: id,
    label: id.split('/').pop(),
    provider,
    source,
    functions: functions.map((f) => ({ id: f })),
    short_description: description,
    long_description: `${description} (served by the wml-native fake server: answers are deterministic, not generated).`,
    input_tier: tier,
    output_tier: tier,
    number_params: params,
    model_limits: limits,
    limits: { lite: { call_time: '5m0s', ...(limits.max_output_tokens ? { max_output_tokens: limits.max_output_tokens } : {}) } },
    lifecycle: [{ id: 'available', start_date: released }],
    versions: [{ version, available_date: released }],
    supported_languages: languages,
    task_ids: tasks,
    tasks: tasks.map((t) => ({ id: t })),
  }
}

/** The default model catalogue: chat, generation, embedding (768 and 384 dims) and rerank models. */
const DEFAULT_MODELS = Object.freeze([
  spec({
    id: 'ibm/granite-13b-instruct-v2', provider: 'IBM', functions: ['text_generation'], params: '13b', tier: 'class_1',
    limits: { max_sequence_length: 8192, max_output_tokens: 8191 }, released: '2023-12-01', version: '2.1.0',
    description: 'The Granite model series is a family of IBM-trained, dense decoder-only models.',
    tasks: ['question_answering', 'summarization', 'classification', 'generation', 'extraction'],
  }),
  spec({
    id: 'ibm/granite-3-8b-instruct', provider: 'IBM', functions: ['autoai_rag', 'text_chat', 'text_generation'],
    params: '8b', tier: 'class_1', limits: { max_sequence_length: 131072, max_output_tokens: 8192 },
    released: '2024-10-21', version: '1.1.0', description: 'Granite 3.0 8B instruct: chat, tool calling, RAG.',
    languages: ['en', 'de', 'es', 'fr', 'ja', 'pt', 'ar', 'cs', 'it', 'ko', 'nl', 'zh'],
    tasks: ['question_answering', 'summarization', 'retrieval_augmented_generation', 'classification', 'generation',
      'code', 'extraction', 'translation', 'function_calling'],
  }),
  spec({
    id: 'meta-llama/llama-3-3-70b-instruct', provider: 'Meta', functions: ['autoai_rag', 'text_chat', 'text_generation'],
    params: '70b', tier: 'class_2', limits: { max_sequence_length: 131072, max_output_tokens: 8192 },
    released: '2024-12-06', version: '3.3.0', description: 'Llama 3.3 70B instruct: multilingual chat and tool calling.',
    languages: ['en', 'de', 'fr', 'it', 'pt', 'hi', 'es', 'th'],
    tasks: ['question_answering', 'summarization', 'retrieval_augmented_generation', 'classification', 'generation',
      'code', 'extraction', 'function_calling'],
  }),
  spec({
    id: 'ibm/slate-125m-english-rtrvr-v2', provider: 'IBM', functions: ['embedding'], params: '125m', tier: 'class_c1',
    limits: { max_sequence_length: 512, embedding_dimension: 768 }, released: '2024-10-01', version: '2.0.1',
    description: 'Slate 125m English retriever v2: 768-dimension text embeddings.', tasks: ['retrieval_augmented_generation'],
  }),
  spec({
    id: 'ibm/granite-embedding-278m-multilingual', provider: 'IBM', functions: ['embedding'], params: '278m',
    tier: 'class_c1', limits: { max_sequence_length: 512, embedding_dimension: 768 }, released: '2024-12-18',
    version: '1.0.0', description: 'Granite embedding 278m multilingual: 768-dimension text embeddings.',
    languages: ['en', 'de', 'es', 'fr', 'ja', 'pt', 'ar', 'cs', 'it', 'ko', 'nl', 'zh'], tasks: ['retrieval_augmented_generation'],
  }),
  spec({
    id: 'ibm/slate-30m-english-rtrvr-v2', provider: 'IBM', functions: ['embedding'], params: '30m', tier: 'class_c1',
    limits: { max_sequence_length: 512, embedding_dimension: 384 }, released: '2024-10-01', version: '2.0.1',
    description: 'Slate 30m English retriever v2: 384-dimension text embeddings.', tasks: ['retrieval_augmented_generation'],
  }),
  spec({
    id: 'cross-encoder/ms-marco-minilm-l-12-v2', provider: 'cross-encoder', source: 'Hugging Face', functions: ['rerank'],
    params: '33.4m', tier: 'class_c1', limits: { max_sequence_length: 512 }, released: '2024-10-01', version: '2.0.0',
    description: 'MS MARCO MiniLM L-12 v2 cross-encoder for reranking passages against a query.',
    tasks: ['retrieval_augmented_generation'],
  }),
])

/**
 * Does a catalogue entry list this function (`text_chat`, `text_generation`,
 * `embedding`, `rerank`, ...)? `tokenization` is offered by every
 * generation or chat model.
 */
function modelSupports(model, fn) {
  if (fn === 'tokenization') return modelSupports(model, 'text_generation') || modelSupports(model, 'text_chat')
  return Array.isArray(model.functions) && model.functions.some((f) => f && f.id === fn)
}

/** The embedding dimension of a catalogue entry (768 unless its `model_limits.embedding_dimension` says otherwise). */
function embeddingDimension(model) {
  const d = model && model.model_limits && model.model_limits.embedding_dimension
  return Number.isInteger(d) && d > 0 ? d : 768
}

// ---------------------------------------------------------------------------
// WML scoring
// ---------------------------------------------------------------------------

/** Sum of the numeric leaves of a value; strings count their length. Iterative (deep tensors are fine). */
function leafSum(value) {
  let sum = 0
  const stack = [value]
  while (stack.length) {
    const v = stack.pop()
    if (typeof v === 'number') {
      if (Number.isFinite(v)) sum += v
    } else if (typeof v === 'string') {
      sum += v.length
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push(v[i])
    } else if (isPlainObject(v)) {
      for (const k in v) stack.push(v[k])
    }
  }
  return sum
}

/** The fake model's answer for one row: `[label, [p, 1 - p]]`. */
function predictRow(row) {
  const s = leafSum(row)
  const p = round3((((s % 100) + 100) % 100) / 100)
  return [p >= 0.5 ? 'Y' : 'N', [p, round3(1 - p)]]
}

/** The fake model's `predictions` array for a (valid) `input_data` array. */
function predict(inputData) {
  return inputData.map((block) => {
    const out = { fields: ['prediction', 'probability'], values: block.values.map(predictRow) }
    return block.id !== undefined ? { id: block.id, ...out } : out
  })
}

// ---------------------------------------------------------------------------
// Text generation
// ---------------------------------------------------------------------------

/**
 * The fake LLM: the words of the input reversed (and cycled), one word per
 * token, each token with a leading space, `max_new_tokens` tokens, stopping
 * early once the text contains a stop sequence.
 */
function generate(input, parameters = {}) {
  const ws = words(input)
  const source = ws.length ? ws.slice().reverse() : ['empty']
  const max = parameters.max_new_tokens ?? DEFAULT_MAX_NEW_TOKENS
  const stops = (parameters.stop_sequences || []).filter((s) => typeof s === 'string' && s)
  const tokens = []
  let text = ''
  let stopReason = 'max_tokens'
  for (let i = 0; i < max; i++) {
    const token = ' ' + source[i % source.length]
    tokens.push(token)
    text += token
    if (stops.some((s) => text.includes(s))) {
      stopReason = 'stop_sequence'
      break
    }
  }
  return {
    tokens,
    generated_text: text,
    generated_token_count: tokens.length,
    input_token_count: ws.length,
    stop_reason: stopReason,
  }
}

/** The fake tokenizer: whitespace-separated words. */
function tokenize(text) {
  return words(text)
}

// ---------------------------------------------------------------------------
// Embeddings
// ---------------------------------------------------------------------------

/** FNV-1a over UTF-16 code units: a fast, stable 32-bit seed. */
function hash32(s) {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

const SCALE = 1e9

/**
 * The vector as integers k (the component is k / 1e9): a unit vector drawn
 * from a PRNG seeded by the model id and the text.
 */
function embeddingInts(text, modelId, dimension) {
  let a = hash32(`${modelId}\n${text}`) || 1
  const raw = new Float64Array(dimension)
  let norm = 0
  for (let i = 0; i < dimension; i++) {
    // mulberry32
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    const v = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5
    raw[i] = v
    norm += v * v
  }
  const f = norm > 0 ? SCALE / Math.sqrt(norm) : 0
  const ints = new Int32Array(dimension)
  for (let i = 0; i < dimension; i++) ints[i] = Math.round(raw[i] * f) | 0
  return ints
}

/**
 * The fake embedding of `text` (after any truncation): a deterministic unit
 * vector of `dimension` numbers with 9 decimals, seeded by the model id and
 * the text. `dimension` defaults to the model's (768 for the default model).
 */
function embed(text, modelId = DEFAULT_EMBEDDING_MODEL_ID, dimension) {
  const dims = dimension ?? embeddingDimension(DEFAULT_MODELS.find((m) => m.model_id === modelId))
  const ints = embeddingInts(String(text), modelId, dims)
  const out = new Array(dims)
  for (let i = 0; i < dims; i++) out[i] = ints[i] / SCALE
  return out
}

/** '000'..'999' as ASCII bytes, 3 per number. */
const DIGITS3 = Buffer.from(Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0')).join(''), 'latin1')

function put3(buf, p, n) {
  const i = n * 3
  buf[p] = DIGITS3[i]
  buf[p + 1] = DIGITS3[i + 1]
  buf[p + 2] = DIGITS3[i + 2]
  return p + 3
}

/**
 * The JSON bytes of `embed(text, modelId, dimension)`: `[-0.012345678,...]`
 * written digit by digit into a Buffer (no float formatting, no string building).
 */
function embeddingJsonBytes(text, modelId, dimension) {
  const ints = embeddingInts(text, modelId, dimension)
  const buf = Buffer.allocUnsafe(2 + dimension * 13)
  let p = 0
  buf[p++] = 0x5b // [
  for (let i = 0; i < dimension; i++) {
    let k = ints[i]
    if (i > 0) buf[p++] = 0x2c // ,
    if (k < 0) {
      buf[p++] = 0x2d // -
      k = -k
    }
    buf[p++] = 0x30 // 0
    buf[p++] = 0x2e // .
    const hi = (k / 1000000) | 0
    const rest = k - hi * 1000000
    const mid = (rest / 1000) | 0
    p = put3(buf, p, hi)
    p = put3(buf, p, mid)
    p = put3(buf, p, rest - mid * 1000)
  }
  buf[p++] = 0x5d // ]
  return buf.subarray(0, p)
}

/** The JSON text of `embed(text, modelId, dimension)`. */
function embeddingJson(text, modelId, dimension) {
  return embeddingJsonBytes(String(text), modelId, dimension).toString('latin1')
}

/** A bounded cache (by bytes) of embedding JSON fragments: repeated inputs cost a lookup. */
class EmbeddingCache {
  constructor(maxBytes = 64 * 1024 * 1024) {
    this.maxBytes = maxBytes
    this.bytes = 0
    this.map = new Map()
  }

  /** The JSON bytes of one embedding (shared: do not modify). */
  get(text, modelId, dimension) {
    const key = `${modelId}\u0000${dimension}\u0000${text}`
    let v = this.map.get(key)
    if (v === undefined) {
      v = embeddingJsonBytes(text, modelId, dimension)
      if (this.bytes + v.length > this.maxBytes) {
        this.map.clear()
        this.bytes = 0
      }
      this.map.set(key, v)
      this.bytes += v.length
    }
    return v
  }
}

// ---------------------------------------------------------------------------
// Rerank
// ---------------------------------------------------------------------------

const normWords = (s) => (String(s).toLowerCase().match(/[\p{L}\p{N}]+/gu) || [])

/**
 * The fake cross-encoder score of `text` for `query`: 10 x (share of the
 * query's words found in the text) - 5, plus a tie-breaker below 0.01
 * from a hash of both, rounded to 4 decimals. Higher is more relevant.
 */
function rerankScore(query, text) {
  const q = normWords(query)
  const d = new Set(normWords(text))
  const hits = q.filter((w) => d.has(w)).length
  const share = q.length ? hits / q.length : 0
  const tie = (hash32(`${query}\n${text}`) % 1000) / 100000
  return Math.round((10 * share - 5 + tie) * 10000) / 10000
}

module.exports = {
  DEFAULT_MODEL_ID,
  DEFAULT_CHAT_MODEL_ID,
  DEFAULT_EMBEDDING_MODEL_ID,
  DEFAULT_RERANK_MODEL_ID,
  DEFAULT_MAX_NEW_TOKENS,
  MAX_MAX_NEW_TOKENS,
  DEFAULT_MODELS,
  modelSupports,
  embeddingDimension,
  leafSum,
  predictRow,
  predict,
  generate,
  tokenize,
  embed,
  embeddingJson,
  embeddingJsonBytes,
  EmbeddingCache,
  rerankScore,
}
