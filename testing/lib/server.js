'use strict'
// The fake server: options, listen/close, stats, request history, faults and
// the request pipeline (read -> record -> fault -> handle -> send).
const http = require('http')
const https = require('https')
const { noop, isGone, readBody, parseJson } = require('./util')
const { MORE_INFO, wmlError, wmlHeaders, wmlDefaultError, wmlStatusFor, wmlErrorBody, routeError } = require('./errors')
const { TokenIssuer, iamClaims } = require('./tokens')
const { createFault, faultMatches, buildFaultReply } = require('./faults')
const { Output, resetSocket, sseEvent } = require('./output')
const { DEFAULT_MODELS, EmbeddingCache } = require('./models')
const { ROUTE_TABLE, ROUTE_NAMES, matchRoute } = require('./routes')
const { tlsMode, loadTls } = require('./tls')

const MAX_BODY_BYTES = 64 * 1024 * 1024
/** Request history per route: at most `requestHistory` entries and about this many body bytes (the last request is always kept). */
const HISTORY_BODY_BYTES = 8 * 1024 * 1024

const DEFAULT_ACCOUNT = 'a1b2c3d4e5f60718293a4b5c6d7e8f90'

/** The trusted profile the fake knows unless told otherwise (IAM cr-token/assume, VPC iam_token). */
const DEFAULT_TRUSTED_PROFILES = Object.freeze([Object.freeze({
  id: 'Profile-9fd84246-7df4-4667-94e4-8ecde51d5ac5',
  name: 'fake-trusted-profile',
  account: DEFAULT_ACCOUNT,
  crn: `crn:v1:bluemix:public:iam-identity::a/${DEFAULT_ACCOUNT}::profile:Profile-9fd84246-7df4-4667-94e4-8ecde51d5ac5`,
})])

/** The Cloud Pak for Data users the fake knows unless told otherwise. */
const DEFAULT_CPD_USERS = Object.freeze([Object.freeze({ username: 'admin', password: 'password', apikey: 'cpd-apikey' })])

/** The VPC instance the metadata routes speak for. */
const INSTANCE = Object.freeze({
  id: '0717_fake-instance-0001',
  account: DEFAULT_ACCOUNT,
  crn: `crn:v1:bluemix:public:is:us-south-1:a/${DEFAULT_ACCOUNT}::instance:0717_fake-instance-0001`,
})

const DEFAULT_OPTIONS = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  tls: false,
  tokenLifetimeSec: 3600,
  tokenIssuedAgoSec: 0,
  clockSkewSec: 0,
  sendDate: true,
  invalidApikeys: [],
  invalidCrTokens: [],
  trustedProfiles: DEFAULT_TRUSTED_PROFILES,
  cpdUsers: DEFAULT_CPD_USERS,
  models: DEFAULT_MODELS,
  streamIntervalMs: 0,
  interleaveToolCalls: false,
  requestHistory: 50,
})

function newStats(stats = {}) {
  Object.assign(stats, Object.fromEntries(ROUTE_NAMES.map((name) => [name, 0])), {
    iamByKey: new Map(),
    iamByGrant: new Map(),
    iamByCrToken: new Map(),
    streamsOpen: stats.streamsOpen || 0, // a live gauge: reset() does not zero it
    streamsClosedByClient: 0,
    connections: 0,
  })
  return stats
}

function normaliseProfile(p) {
  const account = p.account || DEFAULT_ACCOUNT
  return { id: p.id, name: p.name ?? p.id, account, crn: p.crn || `crn:v1:bluemix:public:iam-identity::a/${account}::profile:${p.id}` }
}

class FakeServer {
  constructor(options) {
    // The one place the defaults are applied (startFakeServer passes what it was given).
    for (const [key, value] of Object.entries(DEFAULT_OPTIONS)) if (options[key] === undefined) options[key] = value
    /** Live options: see ResolvedFakeServerOptions for the ones that may change at run time. */
    this.options = options
    this.stats = newStats()
    this.url = undefined
    this.port = undefined
    this.host = options.host
    this.tlsMode = tlsMode(options.tls)
    this.caCert = undefined
    this.clock = () => Date.now() + (Number(this.options.clockSkewSec) || 0) * 1000
    this.tokens = new TokenIssuer(this.clock)
    this.models = new Map(options.models.map((m) => [m.model_id, m]))
    this.embeddings = new EmbeddingCache()
    this.instance = INSTANCE
    this._faults = []
    this._faultSeq = 0
    this._last = new Map()
    this._history = new Map()
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
    if (this.tlsMode) {
      const { key, cert, caCert } = loadTls(this.tlsMode)
      this.caCert = caCert
      server = https.createServer({ key, cert }, handler)
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
        this.url = `${this.tlsMode ? 'https' : 'http'}://${host}:${port}`
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

  /** The recent requests on a route, oldest first (bounded; see `requestHistory`). */
  requests(route) {
    return [...(this._history.get(route) || [])]
  }

  fault(spec) {
    const fault = createFault(spec, ++this._faultSeq, ROUTE_TABLE)
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
    this.tokens.revoke()
  }

  /** A valid IAM access token (JWT) for `apikey`, made without a request. */
  issueToken(opts = {}) {
    return this.tokens.mint(iamClaims({ apikey: opts.apikey }), {
      lifetimeSec: opts.lifetimeSec ?? this.options.tokenLifetimeSec,
      issuedAgoSec: opts.issuedAgoSec ?? this.options.tokenIssuedAgoSec,
    }).token
  }

  reset() {
    this.clearFaults()
    newStats(this.stats)
    this._last.clear()
    this._history.clear()
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

  // --- what the route handlers use ----------------------------------------

  get trustedProfiles() {
    return (this.options.trustedProfiles || []).map(normaliseProfile)
  }

  get cpdUsers() {
    return this.options.cpdUsers || []
  }

  /** The trusted profile matching every selector given (`name` also by `account` when given), or undefined. */
  findTrustedProfile({ id, crn, name, account }) {
    return this.trustedProfiles.find((p) => (id === undefined || p.id === id) && (crn === undefined || p.crn === crn) &&
      (name === undefined || p.name === name) && (account === undefined || p.account === account))
  }

  isInvalidApikey(apikey) {
    return apikey.startsWith('invalid') || (this.options.invalidApikeys || []).includes(apikey)
  }

  isInvalidCrToken(crToken) {
    return crToken.startsWith('invalid') || (this.options.invalidCrTokens || []).includes(crToken)
  }

  /**
   * Mints a token for a request: lifetime from the request's fault, else
   * `lifetimeSec`, else the `tokenLifetimeSec` option; issued
   * `tokenIssuedAgoSec` ago (fault, else option).
   */
  mintFor(ctx, claims, { lifetimeSec } = {}) {
    const action = ctx.plan && ctx.plan.action
    const t = (action && action.kind === 'modify' && action.token) || {}
    return this.tokens.mint(claims, {
      lifetimeSec: t.lifetimeSec ?? lifetimeSec ?? this.options.tokenLifetimeSec,
      issuedAgoSec: t.issuedAgoSec ?? this.options.tokenIssuedAgoSec,
    })
  }

  // --- request pipeline --------------------------------------------------

  async _onRequest(req, res) {
    res.on('error', noop)
    req.on('error', noop)
    if (this.options.sendDate === false) res.sendDate = false
    else if (Number(this.options.clockSkewSec)) res.setHeader('Date', new Date(this.clock()).toUTCString())
    const ctx = this._context(req, res)
    try {
      const { text, tooLarge } = await readBody(req, MAX_BODY_BYTES)
      ctx.bodyText = text
      ctx.tooLarge = tooLarge
      if (!ctx.route) return this._send(ctx, wmlError(ctx, 404, 'not_found', `Route ${req.method} ${ctx.url.pathname} was not found.`))
      this._record(ctx)
      const fault = this._takeFault(ctx)
      const plan = fault && fault.plan
      ctx.plan = plan
      if (plan) {
        if (plan.delayMs > 0) await this.sleep(plan.delayMs)
        if (isGone(res) || this._closed) return
        const { action } = plan
        if (action.kind === 'hang') return
        if (action.kind === 'reset') return resetSocket(res.socket)
        if (action.kind === 'reply') return await this._send(ctx, buildFaultReply(ctx, action), action)
      }
      if (isGone(res)) return
      await this._send(ctx, this._handle(ctx), plan && plan.action)
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
    const match = matchRoute(url.pathname)
    return {
      req, res, url, route: match && match.route, params: (match && match.params) || {}, start: this.clock(), clock: this.clock, baseUrl: this.url,
    }
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

  /** Counts the request and remembers it for lastRequest() and requests(). */
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
    if (route.record) {
      route.record(ctx, this, entry)
    } else {
      ctx.json = parseJson(bodyText)
      if (route.body === 'json') entry.json = ctx.json.ok ? ctx.json.value : undefined
    }
    this._last.set(route.name, entry)
    let list = this._history.get(route.name)
    if (!list) this._history.set(route.name, (list = []))
    list.push(entry)
    let bytes = list.reduce((n, e) => n + e.body.length, 0)
    const max = Math.max(1, this.options.requestHistory ?? DEFAULT_OPTIONS.requestHistory)
    while (list.length > 1 && (list.length > max || bytes > HISTORY_BODY_BYTES)) bytes -= list.shift().body.length
  }

  _takeFault(ctx) {
    const apikey = ctx.route.credential ? ctx.route.credential(ctx) : undefined
    const fault = this._faults.find((f) => faultMatches(f, ctx.route.name, apikey))
    if (!fault) return undefined
    fault.used++
    fault.remaining--
    if (fault.remaining <= 0) this._faults = this._faults.filter((f) => f !== fault)
    return fault
  }

  _handle(ctx) {
    const { route, req } = ctx
    if (!route.methods.includes(req.method)) {
      const allow = route.methods.join(', ')
      return routeError(ctx, 405, undefined, `Method ${req.method} is not allowed; use ${allow}.`, { Allow: allow })
    }
    if (ctx.tooLarge) return routeError(ctx, 413)
    return route.handle(ctx, this)
  }

  /** Sends a reply; `action` (a fault's reply or modify action) may pace the output or cut a stream. */
  async _send(ctx, reply, action) {
    if (reply.events) return this._sendStream(ctx, reply, action)
    const { res } = ctx
    if (isGone(res)) return
    const body = Buffer.isBuffer(reply.body) ? reply.body : Buffer.from(reply.body)
    res.writeHead(reply.status, { ...reply.headers, 'Content-Length': body.length })
    const out = new Output(res, action && action.output, this._sleep)
    if (!out.paced) return res.end(body)
    await out.write(body)
    out.end()
  }

  async _sendStream(ctx, reply, action) {
    const { res } = ctx
    if (isGone(res)) return
    const out = new Output(res, action && action.output, this._sleep)
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
    const cut = action && action.kind === 'modify' ? action.stream : null
    const count = cut ? Math.min(cut.errorAfterEvents, reply.events.length) : reply.events.length
    for (let i = 0; i < count; i++) {
      if (i > 0) await this.sleep(this.options.streamIntervalMs)
      if (out.gone) return
      await out.write(sseEvent(i + 1, 'message', reply.events[i]))
    }
    if (cut) {
      const code = cut.errorCode || 'authentication_token_expired'
      const status = wmlStatusFor(code)
      const message = cut.message || (code === 'authentication_token_expired' ? 'Authentication token has expired.' : wmlDefaultError(status)[1])
      await this.sleep(this.options.streamIntervalMs)
      if (out.gone) return
      await out.write(sseEvent(count + 1, 'error', wmlErrorBody(status, code, message, ctx.route.moreInfo || MORE_INFO)))
    }
    if (out.gone) return
    lastWritten = true
    out.end()
    closeStream()
  }
}

/** Starts a fake IAM + WML + watsonx.ai server. Resolves once it is listening. */
async function startFakeServer(options = {}) {
  // A copy, so that the server's live options (and lists) are its own; the constructor fills in the defaults.
  const opts = { ...options, invalidApikeys: [...(options.invalidApikeys || [])], invalidCrTokens: [...(options.invalidCrTokens || [])] }
  const server = new FakeServer(opts)
  return server.listen()
}

module.exports = {
  FakeServer,
  startFakeServer,
  DEFAULT_OPTIONS,
  DEFAULT_TRUSTED_PROFILES,
  DEFAULT_CPD_USERS,
  ROUTE_NAMES,
}
