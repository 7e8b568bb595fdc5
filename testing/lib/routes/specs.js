'use strict'
// GET /ml/v1/foundation_model_specs: the model catalogue, with the service's
// paging (`limit`, `start`), `filters` and `tech_preview` query parameters.
// No project is needed and, as on the service, no token either (a token that
// is sent must be valid).
const { jsonReply } = require('../util')
const { wmlError, wmlHeaders } = require('../errors')
const { checkBearer, checkVersion } = require('./wml')

const DEFAULT_LIMIT = 100
const MAX_LIMIT = 200

const FILTERS = {
  modelid: (m, v) => m.model_id === v,
  provider: (m, v) => String(m.provider).toLowerCase() === v.toLowerCase(),
  source: (m, v) => String(m.source).toLowerCase() === v.toLowerCase(),
  input_tier: (m, v) => m.input_tier === v,
  output_tier: (m, v) => m.output_tier === v,
  tier: (m, v) => m.input_tier === v || m.output_tier === v,
  task: (m, v) => (m.task_ids || []).includes(v) || (m.tasks || []).some((t) => t.id === v),
  lifecycle: (m, v) => (m.lifecycle || []).some((l) => l.id === v),
  function: (m, v) => (m.functions || []).some((f) => f.id === v),
}
// Longest names first: `input_tier_x` must not parse as an unknown `input` filter.
const FILTER_NAMES = Object.keys(FILTERS).sort((a, b) => b.length - a.length)

/**
 * A predicate for a `filters` value: `tfilter[,tfilter][:(or|and)]`, a tfilter
 * is `filter` or `!filter`, a filter `<kind>_<value>` (`modelid_`, `provider_`,
 * `source_`, `input_tier_`, `output_tier_`, `tier_`, `task_`, `lifecycle_`,
 * `function_`). Default `or`. Returns `{ test }` or `{ error: message }`.
 */
function parseFilters(text) {
  let list = text
  let mode = 'or'
  const m = /:(or|and)$/.exec(text)
  if (m) {
    mode = m[1]
    list = text.slice(0, m.index)
  }
  const tests = []
  for (const raw of list.split(',').filter(Boolean)) {
    const negate = raw.startsWith('!')
    const item = negate ? raw.slice(1) : raw
    const name = FILTER_NAMES.find((n) => item.startsWith(`${n}_`))
    if (!name) return { error: `Invalid filter '${raw}'` }
    const value = item.slice(name.length + 1)
    tests.push((model) => FILTERS[name](model, value) !== negate)
  }
  if (!tests.length) return { test: () => true }
  return { test: mode === 'and' ? (model) => tests.every((t) => t(model)) : (model) => tests.some((t) => t(model)) }
}

function encodeStart(offset) {
  return Buffer.from(`offset:${offset}`).toString('base64url')
}

function decodeStart(start) {
  const m = /^offset:(\d+)$/.exec(Buffer.from(start, 'base64url').toString('utf8'))
  return m ? Number(m[1]) : null
}

/** GET /ml/v1/foundation_model_specs */
function handleSpecs(ctx, server) {
  if (ctx.req.headers.authorization !== undefined) {
    const { error } = checkBearer(ctx, server)
    if (error) return error
  }
  const bad = checkVersion(ctx)
  if (bad) return bad
  const q = ctx.url.searchParams
  let limit = DEFAULT_LIMIT
  if (q.has('limit')) {
    limit = Number(q.get('limit'))
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_LIMIT)) {
      return wmlError(ctx, 400, 'invalid_input_argument', `Invalid value for query parameter \`limit\`: it must be an integer between 1 and ${MAX_LIMIT}.`)
    }
  }
  let offset = 0
  if (q.has('start')) {
    offset = decodeStart(q.get('start'))
    if (offset == null) return wmlError(ctx, 400, 'invalid_input_argument', 'Invalid value for query parameter `start`.')
  }
  const filters = parseFilters(q.get('filters') || '')
  if (filters.error) return wmlError(ctx, 400, 'invalid_input_argument', filters.error)
  const techPreview = q.get('tech_preview') === 'true'
  const all = [...server.models.values()].filter((m) => (techPreview || !m.tech_preview) && filters.test(m))
  const href = (params) => {
    const u = new URL('/ml/v1/foundation_model_specs', server.url)
    for (const [k, v] of q) if (k !== 'start' && k !== 'limit') u.searchParams.set(k, v)
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v)
    return u.toString()
  }
  const out = { total_count: all.length, limit, first: { href: href({ limit }) } }
  if (offset + limit < all.length) out.next = { href: href({ limit, start: encodeStart(offset + limit) }) }
  out.resources = all.slice(offset, offset + limit)
  return jsonReply(200, out, wmlHeaders(ctx))
}

module.exports = { handleSpecs, parseFilters }
