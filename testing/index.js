'use strict'
/**
 * wml-native/testing: a faithful local fake of IBM Cloud IAM, Watson Machine
 * Learning online scoring and watsonx.ai text generation (plain and SSE), with
 * fault injection. Node built-ins only. See index.d.ts for the documented API.
 */
const http = require('http')
const https = require('https')
const crypto = require('crypto')
const fs = require('fs')
const path = require('path')

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

const FIXTURES_DIR = path.join(__dirname, 'fixtures')
const FIXTURES = Object.freeze({
  ca: path.join(FIXTURES_DIR, 'ca.pem'),
  cert: path.join(FIXTURES_DIR, 'cert.pem'),
  key: path.join(FIXTURES_DIR, 'key.pem'),
})
const MORE_INFO = 'https://cloud.ibm.com/apidocs/machine-learning'
const DEFAULT_MODEL_ID = 'ibm/granite-13b-instruct-v2'
const GRANT_TYPE = 'urn:ibm:params:oauth:grant-type:apikey'
const MAX_BODY_BYTES = 64 * 1024 * 1024
const ROUTES = Object.freeze(['iam', 'predictions', 'generation', 'stream'])
const DEFAULT_MAX_NEW_TOKENS = 20
const MAX_MAX_NEW_TOKENS = 100000
const JWT_HEADER = base64url(JSON.stringify({ kid: '20240101', alg: 'RS256' }))

const DEFAULT_OPTIONS = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  tls: false,
  tokenLifetimeSec: 3600,
  invalidApikeys: [],
  streamIntervalMs: 0,
})

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

function noop() {}

function base64url(data) {
  return Buffer.from(data).toString('base64url')
}

function randomHex(bytes) {
  return crypto.randomBytes(bytes).toString('hex')
}

function nowSec() {
  return Math.floor(Date.now() / 1000)
}

function round3(x) {
  return Math.round(x * 1000) / 1000
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function safeDecode(s) {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

function sha256Hex(s) {
  return crypto.createHash('sha256').update(String(s)).digest('hex')
}

/** "26.11.2025 09:37:21:123 GMT", the timestamp style of IAM error contexts. */
function iamTimestamp(ms) {
  const d = new Date(ms)
  const p = (n, w = 2) => String(n).padStart(w, '0')
  return `${p(d.getUTCDate())}.${p(d.getUTCMonth() + 1)}.${d.getUTCFullYear()} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}:${p(d.getUTCMilliseconds(), 3)} GMT`
}

function isValidVersionDate(v) {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v)) return false
  const d = new Date(`${v}T00:00:00Z`)
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === v
}

/** True when nothing more can (or should) be written to this response. */
function isGone(res) {
  return res.destroyed || res.writableEnded || !res.socket || res.socket.destroyed
}

// ---------------------------------------------------------------------------
// Deterministic models (exported so tests can compute expected answers)
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

/**
 * The fake LLM: the words of the input reversed (and cycled), one word per
 * token, each token with a leading space, `max_new_tokens` tokens, stopping
 * early once the text contains a stop sequence.
 */
function generate(input, parameters = {}) {
  const words = String(input).split(/\s+/).filter(Boolean)
  const source = words.length ? words.slice().reverse() : ['empty']
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
    input_token_count: words.length,
    stop_reason: stopReason,
  }
}

// ---------------------------------------------------------------------------
// Error builders (the one place error bodies are shaped)
// ---------------------------------------------------------------------------

const WML_DEFAULT_ERRORS = {
  400: ['invalid_input_argument', 'Invalid input argument.'],
  401: ['authentication_token_not_valid', 'Authentication token is not valid.'],
  403: ['authorization_rejected', 'Authorization rejected: the user is not allowed to access this resource.'],
  404: ['deployment_not_found', 'Deployment does not exist. Re-try with a valid deployment id.'],
  405: ['method_not_allowed', 'Method not allowed.'],
  413: ['request_entity_too_large', 'The request entity is larger than the limit of 64 MB.'],
  429: ['rate_limit_reached_requests', 'The rate limit for requests has been reached. Try again later.'],
}

const IAM_DEFAULT_ERRORS = {
  400: ['BXNIM0415E', 'Provided API key could not be found.'],
  401: ['BXNIM0102E', 'Unauthorized: the request could not be authenticated.'],
  403: ['BXNIM0513E', 'You are not authorized to use this API key.'],
  404: ['BXNIM0404E', 'Not found.'],
  405: ['BXNIM0405E', 'Method not allowed.'],
  413: ['BXNIM0413E', 'Request entity too large.'],
  429: ['BXNIM0420E', 'Too many requests. Try again later.'],
}

function wmlDefaultError(status) {
  if (WML_DEFAULT_ERRORS[status]) return WML_DEFAULT_ERRORS[status]
  if (status >= 500) return ['internal_error', `${http.STATUS_CODES[status] || 'Server error'}: the service could not process the request.`]
  return ['invalid_request', http.STATUS_CODES[status] || 'Request failed.']
}

function iamDefaultError(status) {
  if (IAM_DEFAULT_ERRORS[status]) return IAM_DEFAULT_ERRORS[status]
  if (status >= 500) return ['BXNIM0012E', `${http.STATUS_CODES[status] || 'Server error'}: internal error.`]
  return ['BXNIM0100E', http.STATUS_CODES[status] || 'Request failed.']
}

function wmlStatusFor(code) {
  if (/^authentication_token|not_valid$/.test(code)) return 401
  if (code === 'authorization_rejected') return 403
  if (/not_found$/.test(code)) return 404
  if (/^rate_limit/.test(code)) return 429
  if (/internal|unavailable|timeout/.test(code)) return 500
  return 400
}

function wmlErrorBody(status, code, message) {
  return { errors: [{ code, message, more_info: MORE_INFO }], trace: randomHex(16), status_code: status }
}

function wmlHeaders(ctx, extra) {
  const tx = ctx.req.headers['x-global-transaction-id'] || `fake-${randomHex(12)}`
  return { 'Content-Type': 'application/json', 'X-Global-Transaction-Id': tx, ...extra }
}

/** A WML/watsonx-shaped JSON error reply. `code`/`message` default by status. */
function wmlError(ctx, status, code, message, extraHeaders) {
  const [defCode, defMessage] = wmlDefaultError(status)
  const headers = status === 429
    ? { 'X-Requests-Limit-Rate': '100', 'X-Requests-Limit-Remaining': '0', ...extraHeaders }
    : extraHeaders
  return jsonReply(status, wmlErrorBody(status, code || defCode, message || defMessage), wmlHeaders(ctx, headers))
}

/** An IAM-shaped JSON error reply (with a Transaction-Id header). */
function iamError(ctx, status, code, message, extraHeaders) {
  const [defCode, defMessage] = iamDefaultError(status)
  const requestId = `fake-${crypto.randomUUID()}`
  const end = Date.now()
  const body = {
    errorCode: code || defCode,
    errorMessage: message || defMessage,
    context: {
      requestId,
      requestType: 'incoming.Identity_Token',
      userAgent: ctx.req.headers['user-agent'] || '',
      url: ctx.baseUrl,
      instanceId: 'iamid-fake-0',
      threadId: randomHex(3),
      host: 'iam-fake',
      startTime: iamTimestamp(ctx.start),
      endTime: iamTimestamp(end),
      elapsedTime: String(end - ctx.start),
      locale: 'en_US',
      clusterName: 'iam-id-fake',
    },
  }
  return jsonReply(status, body, { 'Content-Type': 'application/json', 'Transaction-Id': requestId, ...extraHeaders })
}

/** The error reply in the shape of the request's route (IAM or WML). */
function routeError(ctx, status, code, message, extraHeaders) {
  return ctx.route && ctx.route.name === 'iam'
    ? iamError(ctx, status, code, message, extraHeaders)
    : wmlError(ctx, status, code, message, extraHeaders)
}

function jsonReply(status, obj, headers) {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(obj) }
}

function htmlErrorPage(status) {
  const title = `${status} ${http.STATUS_CODES[status] || 'Error'}`
  return [
    '<html>',
    `<head><title>${title}</title></head>`,
    '<body>',
    `<center><h1>${title}</h1></center>`,
    '<hr><center>cloudflare</center>',
    '</body>',
    '</html>',
    '',
  ].join('\r\n')
}

// ---------------------------------------------------------------------------
// Routing and request reading
// ---------------------------------------------------------------------------

function matchRoute(pathname) {
  if (pathname === '/identity/token') return { name: 'iam' }
  let m = /^\/ml\/v4\/deployments\/([^/]+)\/predictions$/.exec(pathname)
  if (m) return { name: 'predictions', deploymentId: safeDecode(m[1]) }
  m = /^\/ml\/v1\/deployments\/([^/]+)\/text\/(generation|generation_stream)$/.exec(pathname)
  if (m) return { name: m[2] === 'generation' ? 'generation' : 'stream', deploymentId: safeDecode(m[1]) }
  m = /^\/ml\/v1\/text\/(generation|generation_stream)$/.exec(pathname)
  if (m) return { name: m[1] === 'generation' ? 'generation' : 'stream', deploymentId: null }
  return null
}

/** Reads the whole body; past `limit` bytes it keeps draining but drops the data. */
function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    let tooLarge = false
    req.on('data', (chunk) => {
      size += chunk.length
      if (size > limit) tooLarge = true
      if (!tooLarge) chunks.push(chunk)
    })
    req.on('end', () => resolve({ text: tooLarge ? '' : Buffer.concat(chunks).toString('utf8'), tooLarge }))
    req.on('error', reject)
    req.on('aborted', () => reject(new Error('request aborted')))
  })
}

function mediaType(req) {
  return (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase()
}

function parseJson(text) {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch (err) {
    return { ok: false, error: err }
  }
}

// ---------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------

const FAULT_ACTIONS = ['latencyMs', 'hang', 'reset', 'resetAfterBytes', 'malformed', 'body', 'html', 'status',
  'trickleMs', 'tokenLifetimeSec', 'errorAfterEvents', 'splitBytes']

function createFault(spec, id) {
  if (!isPlainObject(spec)) throw new TypeError('fault(spec): spec must be an object')
  const route = spec.route ?? '*'
  if (route !== '*' && !ROUTES.includes(route)) {
    throw new TypeError(`fault(spec): route must be one of ${ROUTES.join(', ')} or '*', got ${JSON.stringify(route)}`)
  }
  if (!FAULT_ACTIONS.some((k) => spec[k] !== undefined && spec[k] !== false)) {
    throw new TypeError(`fault(spec): needs one of ${FAULT_ACTIONS.join(', ')}`)
  }
  const times = spec.times ?? Infinity
  if (!(typeof times === 'number' && times >= 0)) throw new TypeError('fault(spec): times must be a number >= 0')
  return { ...spec, id, route, times, used: 0, remaining: times }
}

function faultMatches(fault, routeName, apikey) {
  if (fault.remaining <= 0) return false
  if (fault.route !== '*' && fault.route !== routeName) return false
  if (fault.apikey !== undefined && !(routeName === 'iam' && apikey === fault.apikey)) return false
  return true
}

/** The reply a fault substitutes for the normal answer, or null when it only modifies it. */
function faultReply(ctx, fault) {
  const extra = { ...fault.headers }
  if (fault.retryAfter !== undefined) extra['Retry-After'] = String(fault.retryAfter)
  if (fault.malformed) {
    return { status: 200, headers: { 'Content-Type': 'application/json', ...extra }, body: '{"access_token": ' }
  }
  if (fault.body !== undefined) {
    return { status: fault.status || 200, headers: { 'Content-Type': fault.contentType || 'application/json', ...extra }, body: String(fault.body) }
  }
  if (fault.html) {
    const status = fault.status || 502
    return { status, headers: { 'Content-Type': 'text/html', ...extra }, body: htmlErrorPage(status) }
  }
  if (fault.status) return routeError(ctx, fault.status, fault.code, fault.message, extra)
  return null
}

/**
 * Writes a body honouring the pacing faults: `trickleMs` (1 byte per n ms),
 * `splitBytes` (pieces of n bytes, ~1 ms apart) and `resetAfterBytes` (destroy
 * the socket once n body bytes are out).
 */
class Output {
  constructor(res, fault, sleep) {
    this.res = res
    this.sleep = sleep
    this.trickleMs = (fault && fault.trickleMs) || 0
    this.splitBytes = (fault && fault.splitBytes) || 0
    this.budget = fault && fault.resetAfterBytes != null ? fault.resetAfterBytes : Infinity
    this.killed = false
  }

  get gone() {
    return this.killed || isGone(this.res)
  }

  get paced() {
    return this.trickleMs > 0 || this.splitBytes > 0 || this.budget !== Infinity
  }

  async write(data) {
    let buf = Buffer.isBuffer(data) ? data : Buffer.from(data)
    const cut = buf.length >= this.budget
    if (cut) buf = buf.subarray(0, this.budget)
    this.budget -= buf.length
    const size = this.trickleMs ? 1 : this.splitBytes || buf.length
    const pause = this.trickleMs || (this.splitBytes ? 1 : 0)
    for (let i = 0; i < buf.length; i += size) {
      if (i > 0 && pause) await this.sleep(pause)
      if (this.gone) return
      await this.writeChunk(buf.subarray(i, i + size))
    }
    if (cut) await this.kill()
  }

  writeChunk(chunk) {
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('close', done)
        resolve()
      }
      this.res.once('close', done)
      this.res.write(chunk, done)
    })
  }

  /** Makes sure the headers went out, then destroys the socket (the `resetAfterBytes` fault). */
  async kill() {
    if (this.gone) return
    this.res.flushHeaders()
    await this.sleep(10)
    this.killed = true
    if (this.res.socket) this.res.socket.destroy()
  }

  end() {
    if (!this.gone) this.res.end()
  }
}

function resetSocket(socket) {
  if (!socket || socket.destroyed) return
  if (typeof socket.resetAndDestroy === 'function' && !socket.encrypted) {
    try {
      socket.resetAndDestroy()
      return
    } catch {
      // fall through
    }
  }
  socket.destroy()
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

function newStats(stats = {}) {
  Object.assign(stats, {
    iam: 0,
    iamByKey: new Map(),
    predictions: 0,
    generation: 0,
    stream: 0,
    streamsOpen: stats.streamsOpen || 0, // a live gauge: reset() does not zero it
    streamsClosedByClient: 0,
    connections: 0,
  })
  return stats
}

class FakeServer {
  constructor(options) {
    /** Live options: tokenLifetimeSec, invalidApikeys and streamIntervalMs may be changed at run time. */
    this.options = options
    this.stats = newStats()
    this.url = undefined
    this.port = undefined
    this.host = options.host
    this.caCert = undefined
    this._faults = []
    this._faultSeq = 0
    this._last = new Map()
    this._secret = crypto.randomBytes(32)
    this._sockets = new Set()
    this._timers = new Map()
    this._closed = false
    this._closing = undefined
    this._sleep = (ms) => this.sleep(ms)
    this._server = this._createHttpServer()
  }

  _createHttpServer() {
    const handler = (req, res) => this._onRequest(req, res)
    let server
    if (this.options.tls) {
      this.caCert = fs.readFileSync(FIXTURES.ca, 'utf8')
      const cert = fs.readFileSync(FIXTURES.cert, 'utf8') + this.caCert
      server = https.createServer({ key: fs.readFileSync(FIXTURES.key), cert }, handler)
    } else {
      server = http.createServer(handler)
    }
    // Clients pool connections for a long time; a short server idle timeout only adds races.
    server.keepAliveTimeout = 65000
    server.headersTimeout = 66000
    server.on('connection', (socket) => {
      this.stats.connections++
      this._sockets.add(socket)
      socket.on('close', () => this._sockets.delete(socket))
    })
    server.on('tlsClientError', noop)
    return server
  }

  listen() {
    return new Promise((resolve, reject) => {
      this._server.once('error', reject)
      this._server.listen(this.options.port, this.options.host, () => {
        this._server.off('error', reject)
        const { port } = this._server.address()
        const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host
        this.port = port
        this.url = `${this.options.tls ? 'https' : 'http'}://${host}:${port}`
        resolve(this)
      })
    })
  }

  // --- public API --------------------------------------------------------

  iamRequestsFor(apikey) {
    return this.stats.iamByKey.get(apikey) || 0
  }

  lastRequest(route) {
    return this._last.get(route)
  }

  fault(spec) {
    const fault = createFault(spec, ++this._faultSeq)
    this._faults.push(fault)
    return fault
  }

  /** Faults still active (not used up), in matching order. */
  get faults() {
    return this._faults.filter((f) => f.remaining > 0)
  }

  clearFaults() {
    this._faults = []
  }

  revokeTokens() {
    this._secret = crypto.randomBytes(32)
  }

  issueToken(opts = {}) {
    return this._mintToken(opts).token
  }

  reset() {
    this.clearFaults()
    newStats(this.stats)
    this._last.clear()
  }

  /** A promise resolved after `ms`, or at once when the server closes. Never keeps the process alive. */
  sleep(ms) {
    if (this._closed || !(ms > 0)) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this._timers.delete(timer)
        resolve()
      }, ms)
      timer.unref()
      this._timers.set(timer, resolve)
    })
  }

  close() {
    if (this._closing) return this._closing
    this._closed = true
    this._closing = new Promise((resolve) => {
      this._server.close(() => resolve())
      for (const socket of this._sockets) socket.destroy()
      for (const [timer, wake] of this._timers) {
        clearTimeout(timer)
        wake()
      }
      this._timers.clear()
    })
    return this._closing
  }

  // --- tokens ------------------------------------------------------------

  _mintToken({ apikey = 'fake-apikey', lifetimeSec } = {}) {
    const lifetime = Math.max(0, Math.round(lifetimeSec ?? this.options.tokenLifetimeSec))
    const iat = nowSec()
    const exp = iat + lifetime
    const hash = sha256Hex(apikey)
    const iamId = `IBMid-${hash.slice(0, 10).toUpperCase()}`
    const claims = {
      iam_id: iamId,
      id: iamId,
      realmid: 'IBMid',
      jti: crypto.randomUUID(),
      identifier: hash.slice(10, 20).toUpperCase(),
      given_name: 'Fake',
      family_name: 'User',
      name: 'Fake User',
      email: 'fake.user@example.com',
      sub: 'fake.user@example.com',
      sub_type: 'Apikey',
      authn: { sub: 'fake.user@example.com', iam_id: iamId, name: 'Fake User', email: 'fake.user@example.com' },
      account: { valid: true, bss: hash.slice(20, 52), frozen: true },
      iat,
      exp,
      iss: 'https://iam.cloud.ibm.com/identity',
      grant_type: GRANT_TYPE,
      scope: 'ibm openid',
      client_id: 'default',
      acr: 1,
      amr: ['pwd'],
    }
    const unsigned = `${JWT_HEADER}.${base64url(JSON.stringify(claims))}`
    const token = `${unsigned}.${this._sign(unsigned)}`
    return { token, claims, lifetime, imsUserId: parseInt(hash.slice(0, 7), 16) }
  }

  _sign(unsigned) {
    return crypto.createHmac('sha256', this._secret).update(unsigned).digest('base64url')
  }

  /** The token's claims when it is one of ours and not revoked, else null. */
  _verifyToken(token) {
    const parts = token.split('.')
    if (parts.length !== 3) return null
    const expected = Buffer.from(this._sign(`${parts[0]}.${parts[1]}`))
    const actual = Buffer.from(parts[2])
    if (expected.length !== actual.length || !crypto.timingSafeEqual(expected, actual)) return null
    const claims = parseJson(Buffer.from(parts[1], 'base64url').toString('utf8'))
    return claims.ok && isPlainObject(claims.value) ? claims.value : null
  }

  // --- request pipeline --------------------------------------------------

  async _onRequest(req, res) {
    res.on('error', noop)
    req.on('error', noop)
    const ctx = this._context(req, res)
    try {
      const { text, tooLarge } = await readBody(req, MAX_BODY_BYTES)
      ctx.bodyText = text
      ctx.tooLarge = tooLarge
      if (!ctx.route) return this._send(ctx, wmlError(ctx, 404, 'not_found', `Route ${req.method} ${ctx.url.pathname} was not found.`))
      this._record(ctx)
      const fault = this._takeFault(ctx)
      ctx.fault = fault
      if (fault && (await this._applyFault(ctx, fault)) === 'done') return
      if (isGone(res)) return
      const reply = this._handle(ctx)
      await this._send(ctx, reply, fault)
    } catch (err) {
      this._internalError(ctx, err)
    }
  }

  _context(req, res) {
    let url
    try {
      url = new URL(req.url, 'http://fake.invalid')
    } catch {
      url = new URL('http://fake.invalid/')
    }
    return { req, res, url, route: matchRoute(url.pathname), start: Date.now(), baseUrl: this.url }
  }

  _internalError(ctx, err) {
    const { res } = ctx
    if (isGone(res)) return
    if (res.headersSent) {
      res.destroy()
      return
    }
    try {
      const reply = routeError(ctx, 500, undefined, `Fake server error: ${err && err.message}`)
      res.writeHead(reply.status, { ...reply.headers, 'Content-Length': Buffer.byteLength(reply.body) })
      res.end(reply.body)
    } catch {
      res.destroy()
    }
  }

  /** Counts the request and remembers it for lastRequest(). */
  _record(ctx) {
    const { req, url, route, bodyText } = ctx
    const entry = {
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...req.headers },
      body: bodyText,
    }
    this.stats[route.name]++
    if (route.name === 'iam') {
      ctx.form = mediaType(req) === 'application/x-www-form-urlencoded'
        ? Object.fromEntries(new URLSearchParams(bodyText))
        : {}
      entry.form = ctx.form
      const key = ctx.form.apikey
      if (typeof key === 'string') this.stats.iamByKey.set(key, (this.stats.iamByKey.get(key) || 0) + 1)
    } else {
      ctx.json = parseJson(bodyText)
      entry.json = ctx.json.ok ? ctx.json.value : undefined
    }
    this._last.set(route.name, entry)
  }

  _takeFault(ctx) {
    const apikey = ctx.form && ctx.form.apikey
    const fault = this._faults.find((f) => faultMatches(f, ctx.route.name, apikey))
    if (!fault) return undefined
    fault.used++
    fault.remaining--
    if (fault.remaining <= 0) this._faults = this._faults.filter((f) => f !== fault)
    return fault
  }

  /** Runs the parts of a fault that replace the answer. Returns 'done' or 'continue'. */
  async _applyFault(ctx, fault) {
    const { res } = ctx
    if (fault.latencyMs > 0) await this.sleep(fault.latencyMs)
    if (isGone(res) || this._closed) return 'done'
    if (fault.hang) return 'done'
    if (fault.reset) {
      resetSocket(res.socket)
      return 'done'
    }
    const reply = faultReply(ctx, fault)
    if (!reply) return 'continue'
    await this._send(ctx, reply, fault)
    return 'done'
  }

  _handle(ctx) {
    if (ctx.req.method !== 'POST') return routeError(ctx, 405, undefined, `Method ${ctx.req.method} is not allowed; use POST.`, { Allow: 'POST' })
    if (ctx.tooLarge) return routeError(ctx, 413)
    switch (ctx.route.name) {
      case 'iam': return this._handleIam(ctx)
      case 'predictions': return this._handlePredictions(ctx)
      default: return this._handleGeneration(ctx)
    }
  }

  async _send(ctx, reply, fault) {
    if (reply.events) return this._sendStream(ctx, reply, fault)
    const { res } = ctx
    if (isGone(res)) return
    const body = Buffer.from(reply.body)
    res.writeHead(reply.status, { ...reply.headers, 'Content-Length': body.length })
    const out = new Output(res, fault, this._sleep)
    if (!out.paced) return res.end(body)
    await out.write(body)
    out.end()
  }

  // --- IAM ---------------------------------------------------------------

  _handleIam(ctx) {
    const { req, form } = ctx
    if (mediaType(req) !== 'application/x-www-form-urlencoded') {
      return iamError(ctx, 400, 'BXNIM0105E', 'Invalid Content-Type: expected application/x-www-form-urlencoded.')
    }
    if (req.headers.authorization !== undefined && !validBasicAuth(req.headers.authorization)) {
      return iamError(ctx, 400, 'BXNIM0345E', 'Client credentials are missing or invalid: the Authorization header must be Basic base64(client_id:client_secret).')
    }
    if (!form.grant_type) return iamError(ctx, 400, 'BXNIM0308E', 'Property missing or empty. Missing property: grant_type')
    if (form.grant_type !== GRANT_TYPE) return iamError(ctx, 400, 'BXNIM0308E', `Unsupported grant_type: ${form.grant_type}`)
    if (!form.apikey) return iamError(ctx, 400, 'BXNIM0109E', 'Property missing or empty. Missing property: apikey')
    if (this._isInvalidKey(form.apikey)) return iamError(ctx, 400, 'BXNIM0415E', 'Provided API key could not be found.')
    const lifetimeSec = ctx.fault && ctx.fault.tokenLifetimeSec != null ? ctx.fault.tokenLifetimeSec : undefined
    const { token, claims, lifetime, imsUserId } = this._mintToken({ apikey: form.apikey, lifetimeSec })
    return jsonReply(200, {
      access_token: token,
      refresh_token: 'not_supported',
      ims_user_id: imsUserId,
      token_type: 'Bearer',
      expires_in: lifetime,
      expiration: claims.exp,
      scope: 'ibm openid',
    }, { 'Transaction-Id': `fake-${crypto.randomUUID()}`, 'Cache-Control': 'no-store' })
  }

  _isInvalidKey(apikey) {
    return apikey.startsWith('invalid') || (this.options.invalidApikeys || []).includes(apikey)
  }

  // --- WML / watsonx -----------------------------------------------------

  /** Auth, version and deployment checks shared by every WML route; an error reply or null. */
  _checkWml(ctx) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(ctx.req.headers.authorization || '')
    if (!m) return wmlError(ctx, 401, 'authentication_token_not_valid', 'Authorization header with a Bearer token is missing.')
    const claims = this._verifyToken(m[1])
    if (!claims) return wmlError(ctx, 401, 'authentication_token_not_valid', 'Authentication token is not valid.')
    if (!(typeof claims.exp === 'number' && claims.exp > Date.now() / 1000)) {
      return wmlError(ctx, 401, 'authentication_token_expired', 'Authentication token has expired.')
    }
    const version = ctx.url.searchParams.get('version')
    if (!isValidVersionDate(version)) {
      return wmlError(ctx, 400, 'invalid_input_argument',
        version == null
          ? 'Missing query parameter `version`: specify the API version date as YYYY-MM-DD.'
          : `Invalid value for query parameter \`version\`: '${version}' is not a date in the format YYYY-MM-DD.`)
    }
    const id = ctx.route.deploymentId
    if (id != null && /^(unknown|missing)/.test(id)) {
      return wmlError(ctx, 404, 'deployment_not_found', `Deployment with id '${id}' does not exist. Re-try with a valid deployment id.`)
    }
    return null
  }

  /** The parsed JSON object body, or a json_type_error reply. */
  _jsonBody(ctx) {
    if (!ctx.json.ok) return { error: wmlError(ctx, 400, 'json_type_error', `Json document is not valid: ${ctx.json.error.message}`) }
    if (!isPlainObject(ctx.json.value)) return { error: wmlError(ctx, 400, 'json_type_error', 'Json document is not valid: expected an object.') }
    return { value: ctx.json.value }
  }

  _handlePredictions(ctx) {
    const denied = this._checkWml(ctx)
    if (denied) return denied
    const { error, value } = this._jsonBody(ctx)
    if (error) return error
    const invalid = validateInputData(value.input_data)
    if (invalid) return wmlError(ctx, 400, 'json_validation_error', `Json document validation error: ${invalid}`)
    return jsonReply(200, { predictions: predict(value.input_data) }, wmlHeaders(ctx))
  }

  _handleGeneration(ctx) {
    const denied = this._checkWml(ctx)
    if (denied) return denied
    const { error, value } = this._jsonBody(ctx)
    if (error) return error
    const invalid = validateGeneration(value, ctx.route.deploymentId == null)
    if (invalid) return wmlError(ctx, 400, invalid.code, invalid.message)
    const modelId = ctx.route.deploymentId == null ? value.model_id : DEFAULT_MODEL_ID
    const gen = generate(value.input, value.parameters || {})
    const createdAt = new Date().toISOString()
    if (ctx.route.name === 'stream') return { events: streamEvents(gen, modelId, createdAt) }
    const { tokens, ...result } = gen
    return jsonReply(200, { model_id: modelId, created_at: createdAt, results: [result] }, wmlHeaders(ctx))
  }

  async _sendStream(ctx, reply, fault) {
    const { res } = ctx
    if (isGone(res)) return
    const out = new Output(res, fault, this._sleep)
    const stats = this.stats
    let lastWritten = false
    let open = true
    const closeStream = () => {
      if (!open) return
      open = false
      stats.streamsOpen--
      if (!lastWritten && !out.killed) stats.streamsClosedByClient++
    }
    stats.streamsOpen++
    res.on('close', closeStream)
    res.writeHead(200, wmlHeaders(ctx, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' }))
    await out.write(': ping\n\n')
    const errorAfter = fault && fault.errorAfterEvents != null ? fault.errorAfterEvents : undefined
    const count = errorAfter === undefined ? reply.events.length : Math.min(errorAfter, reply.events.length)
    for (let i = 0; i < count; i++) {
      if (i > 0) await this.sleep(this.options.streamIntervalMs)
      if (out.gone) return
      await out.write(sseEvent(i + 1, 'message', reply.events[i]))
    }
    if (errorAfter !== undefined) {
      const code = fault.errorCode || 'authentication_token_expired'
      const status = wmlStatusFor(code)
      const message = fault.message || (code === 'authentication_token_expired' ? 'Authentication token has expired.' : wmlDefaultError(status)[1])
      await this.sleep(this.options.streamIntervalMs)
      if (out.gone) return
      await out.write(sseEvent(count + 1, 'error', wmlErrorBody(status, code, message)))
    }
    if (out.gone) return
    lastWritten = true
    out.end()
    closeStream()
  }
}

function validBasicAuth(header) {
  const m = /^Basic\s+(\S+)\s*$/i.exec(header)
  if (!m) return false
  const decoded = Buffer.from(m[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon > 0 && colon < decoded.length - 1
}

/** A message naming the problem with `input_data`, or null when valid. */
function validateInputData(inputData) {
  if (inputData === undefined) return "required property 'input_data' is missing"
  if (!Array.isArray(inputData) || inputData.length === 0) return "'input_data' must be a non-empty array"
  for (let i = 0; i < inputData.length; i++) {
    const block = inputData[i]
    const where = `input_data[${i}]`
    if (!isPlainObject(block)) return `'${where}' must be an object`
    if (!Array.isArray(block.values)) return `required property '${where}.values' is missing or not an array`
    if (block.fields !== undefined && !Array.isArray(block.fields)) return `'${where}.fields' must be an array`
    if (block.id !== undefined && typeof block.id !== 'string') return `'${where}.id' must be a string`
  }
  return null
}

/** {code, message} naming the problem with a text generation body, or null when valid. */
function validateGeneration(body, needsModel) {
  const invalid = (message, code = 'json_validation_error') => ({ code, message })
  if (body.input === undefined) return invalid("Json document validation error: required property 'input' is missing")
  if (typeof body.input !== 'string') return invalid("Json document validation error: 'input' must be a string")
  const p = body.parameters
  if (p !== undefined && !isPlainObject(p)) return invalid("Json document validation error: 'parameters' must be an object")
  if (p && p.max_new_tokens !== undefined &&
    !(Number.isInteger(p.max_new_tokens) && p.max_new_tokens >= 0 && p.max_new_tokens <= MAX_MAX_NEW_TOKENS)) {
    return invalid(`Json document validation error: 'parameters.max_new_tokens' must be an integer between 0 and ${MAX_MAX_NEW_TOKENS}`)
  }
  if (p && p.stop_sequences !== undefined &&
    !(Array.isArray(p.stop_sequences) && p.stop_sequences.every((s) => typeof s === 'string'))) {
    return invalid("Json document validation error: 'parameters.stop_sequences' must be an array of strings")
  }
  if (needsModel) {
    if (typeof body.model_id !== 'string' || !body.model_id) return invalid("Json document validation error: required property 'model_id' is missing")
    if (!body.project_id && !body.space_id) return invalid('Missing either space_id or project_id or wml_instance_crn', 'invalid_request_entity')
  }
  return null
}

/** One SSE data object per token; the last carries the final stop_reason. */
function streamEvents(gen, modelId, createdAt) {
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

function sseEvent(id, event, data) {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

// ---------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------

/** Starts a fake IAM + WML + watsonx.ai server. Resolves once it is listening. */
async function startFakeServer(options = {}) {
  const opts = { ...DEFAULT_OPTIONS, ...options }
  opts.invalidApikeys = [...(opts.invalidApikeys || [])]
  const server = new FakeServer(opts)
  return server.listen()
}

module.exports = {
  startFakeServer,
  FakeServer,
  FIXTURES,
  MORE_INFO,
  DEFAULT_MODEL_ID,
  predict,
  predictRow,
  generate,
}
