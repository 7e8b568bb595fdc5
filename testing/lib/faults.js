'use strict'
// Faults: the public spec (`server.fault({...})`) is checked and normalised
// once, here, into a tagged union that the request pipeline switches on:
//
//   plan = { delayMs, action }
//   action = { kind: 'hang' }
//          | { kind: 'reset' }
//          | { kind: 'reply', reply, headers, output }      (replaces the answer)
//          | { kind: 'modify', output, token, stream }       (changes the normal answer)
//   reply  = { type: 'error', status, code?, message? } | { type: 'raw', status, contentType, text }
//          | { type: 'html', status } | { type: 'malformed' }
//   output = { trickleMs?, splitBytes?, resetAfterBytes? } (how the body is written)
//   token  = { lifetimeSec?, issuedAgoSec? } | null         (token-issuing routes)
//   stream = { errorAfterEvents, errorCode?, message? } | null   (SSE routes)
//
// Invalid combinations are a TypeError at `fault()`.
const { isPlainObject } = require('./util')
const { htmlErrorPage, routeError } = require('./errors')

const SPEC_KEYS = new Set(['route', 'times', 'apikey', 'latencyMs', 'hang', 'reset', 'resetAfterBytes', 'malformed',
  'body', 'contentType', 'html', 'status', 'retryAfter', 'code', 'message', 'headers', 'trickleMs', 'splitBytes',
  'tokenLifetimeSec', 'tokenIssuedAgoSec', 'errorAfterEvents', 'errorCode'])

const ACTION_KEYS = ['latencyMs', 'hang', 'reset', 'resetAfterBytes', 'malformed', 'body', 'html', 'status',
  'trickleMs', 'splitBytes', 'tokenLifetimeSec', 'tokenIssuedAgoSec', 'errorAfterEvents']

function fail(message) {
  throw new TypeError(`fault(spec): ${message}`)
}

const given = (spec, key) => spec[key] !== undefined && spec[key] !== false

function nonNegative(spec, key) {
  const v = spec[key]
  if (v === undefined) return undefined
  if (!(typeof v === 'number' && v >= 0 && !Number.isNaN(v))) fail(`${key} must be a number >= 0, got ${JSON.stringify(v)}`)
  return v
}

function flag(spec, key) {
  const v = spec[key]
  if (v !== undefined && typeof v !== 'boolean') fail(`${key} must be a boolean`)
  return v === true
}

function optionalString(spec, key) {
  const v = spec[key]
  if (v !== undefined && typeof v !== 'string') fail(`${key} must be a string`)
  return v
}

/**
 * Checks a fault spec against the route table and returns the public fault
 * (`{...spec, id, route, times, used, remaining}`) with its normalised plan
 * in a non-enumerable `plan` property.
 */
function createFault(spec, id, routes) {
  if (!isPlainObject(spec)) fail('spec must be an object')
  for (const key of Object.keys(spec)) {
    if (!SPEC_KEYS.has(key)) fail(`unknown property ${JSON.stringify(key)}`)
  }
  const route = spec.route ?? '*'
  const def = route === '*' ? undefined : routes.get(route)
  if (route !== '*' && !def) {
    fail(`route must be one of ${[...routes.keys()].join(', ')} or '*', got ${JSON.stringify(route)}`)
  }
  if (!ACTION_KEYS.some((k) => given(spec, k))) fail(`needs one of ${ACTION_KEYS.join(', ')}`)
  const times = spec.times ?? Infinity
  if (!(typeof times === 'number' && times >= 0)) fail('times must be a number >= 0')
  if (spec.apikey !== undefined) {
    if (typeof spec.apikey !== 'string') fail('apikey must be a string')
    if (def && !def.credential) fail(`apikey only applies to routes that take an API key, not ${route}`)
  }

  const plan = { delayMs: nonNegative(spec, 'latencyMs') || 0, action: normaliseAction(spec, route, def) }
  const fault = { ...spec, id, route, times, used: 0, remaining: times }
  Object.defineProperty(fault, 'plan', { value: plan, enumerable: false })
  return fault
}

function normaliseOutput(spec) {
  const output = {}
  for (const key of ['trickleMs', 'splitBytes', 'resetAfterBytes']) {
    const v = nonNegative(spec, key)
    if (v !== undefined) output[key] = v
  }
  return output
}

function normaliseAction(spec, route, def) {
  const hang = flag(spec, 'hang')
  const reset = flag(spec, 'reset')
  const malformed = flag(spec, 'malformed')
  const html = flag(spec, 'html')
  const raw = spec.body !== undefined
  const output = normaliseOutput(spec)
  const token = normaliseToken(spec, route, def)
  const stream = normaliseStream(spec, route, def)
  const replies = [malformed && 'malformed', raw && 'body', html && 'html'].filter(Boolean)
  const status = spec.status
  if (status !== undefined && !(Number.isInteger(status) && status >= 100 && status <= 599)) {
    fail(`status must be an HTTP status code, got ${JSON.stringify(status)}`)
  }
  const isReply = replies.length > 0 || status !== undefined
  const answerParts = [isReply && 'a reply', Object.keys(output).length && 'output pacing', token && 'token changes',
    stream && 'errorAfterEvents'].filter(Boolean)

  if (hang || reset) {
    if (hang && reset) fail('hang and reset exclude each other')
    const kind = hang ? 'hang' : 'reset'
    if (answerParts.length) fail(`${kind} sends no answer, so it cannot be combined with ${answerParts.join(', ')}`)
    checkReplyOnly(spec, false)
    return { kind }
  }
  if (isReply) {
    if (replies.length > 1) fail(`give one of malformed, body, html, not ${replies.join(' and ')}`)
    if (token || stream) fail('a replaced answer cannot also change the token or the stream')
    checkReplyOnly(spec, true)
    const headers = { ...spec.headers }
    if (spec.retryAfter !== undefined) headers['Retry-After'] = String(spec.retryAfter)
    return { kind: 'reply', reply: normaliseReply(spec, replies[0]), headers, output }
  }
  checkReplyOnly(spec, false)
  return { kind: 'modify', output, token, stream }
}

/** headers/retryAfter/code/contentType shape a replaced answer only. */
function checkReplyOnly(spec, isReply) {
  if (spec.headers !== undefined && !isPlainObject(spec.headers)) fail('headers must be an object')
  if (spec.retryAfter !== undefined && !['string', 'number'].includes(typeof spec.retryAfter)) {
    fail('retryAfter must be a string or a number')
  }
  optionalString(spec, 'code')
  optionalString(spec, 'contentType')
  optionalString(spec, 'message')
  if (isReply) return
  for (const key of ['headers', 'retryAfter', 'code', 'contentType']) {
    if (spec[key] !== undefined) fail(`${key} needs an answer to shape (status, body, html or malformed)`)
  }
  if (spec.message !== undefined && spec.errorAfterEvents === undefined) {
    fail('message needs status or errorAfterEvents')
  }
}

function normaliseReply(spec, type) {
  if (type === 'malformed') {
    if (spec.status !== undefined) fail('malformed always answers 200; drop status')
    if (spec.code !== undefined || spec.message !== undefined || spec.contentType !== undefined) {
      fail('malformed takes no code, message or contentType')
    }
    return { type: 'malformed' }
  }
  if (type === 'body') {
    if (spec.code !== undefined || spec.message !== undefined) fail('body is sent as is: code and message do not apply')
    return { type: 'raw', status: spec.status || 200, contentType: spec.contentType || 'application/json', text: String(spec.body) }
  }
  if (spec.contentType !== undefined) fail('contentType only applies to body')
  if (type === 'html') {
    if (spec.code !== undefined || spec.message !== undefined) fail('html takes no code or message')
    return { type: 'html', status: spec.status || 502 }
  }
  if (spec.status < 400) fail(`status alone sends an error: it must be >= 400, got ${spec.status}`)
  return { type: 'error', status: spec.status, code: spec.code, message: spec.message }
}

function normaliseToken(spec, route, def) {
  const lifetimeSec = nonNegative(spec, 'tokenLifetimeSec')
  const issuedAgoSec = nonNegative(spec, 'tokenIssuedAgoSec')
  if (lifetimeSec === undefined && issuedAgoSec === undefined) return null
  if (def && !def.issuesTokens) fail(`tokenLifetimeSec/tokenIssuedAgoSec only apply to token-issuing routes, not ${route}`)
  return { lifetimeSec, issuedAgoSec }
}

function normaliseStream(spec, route, def) {
  const errorAfterEvents = nonNegative(spec, 'errorAfterEvents')
  const errorCode = optionalString(spec, 'errorCode')
  if (errorAfterEvents === undefined) {
    if (errorCode !== undefined) fail('errorCode needs errorAfterEvents')
    return null
  }
  if (!Number.isInteger(errorAfterEvents)) fail('errorAfterEvents must be an integer')
  if (def && !def.stream) fail(`errorAfterEvents only applies to streaming routes, not ${route}`)
  return { errorAfterEvents, errorCode, message: spec.message }
}

/** Does this fault apply to a request on `routeName` made with `apikey` (the request's API key, if any)? */
function faultMatches(fault, routeName, apikey) {
  if (fault.remaining <= 0) return false
  if (fault.route !== '*' && fault.route !== routeName) return false
  if (fault.apikey !== undefined && apikey !== fault.apikey) return false
  return true
}

/** The reply object (status, headers, body) a `reply` action sends. */
function buildFaultReply(ctx, action) {
  const { reply, headers } = action
  switch (reply.type) {
    case 'malformed':
      return { status: 200, headers: { 'Content-Type': 'application/json', ...headers }, body: '{"access_token": ' }
    case 'raw':
      return { status: reply.status, headers: { 'Content-Type': reply.contentType, ...headers }, body: reply.text }
    case 'html':
      return { status: reply.status, headers: { 'Content-Type': 'text/html', ...headers }, body: htmlErrorPage(reply.status) }
    default:
      return routeError(ctx, reply.status, reply.code, reply.message, headers)
  }
}

module.exports = { createFault, faultMatches, buildFaultReply }
