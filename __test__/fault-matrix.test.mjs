// The fault matrix: every injected fault against every kind of call, one
// test per (fault, call kind), against the local fake IAM + WML server.
//
// Call kinds:
//   getIamToken, getIamTokenInfo  the token calls (faults on the IAM route)
//   score                         WmlClient.score (faults on the predictions route;
//                                 the token is fetched before the fault)
//   stream                        WmlClient.generateTextStream (faults on the stream route)
//   score (token fetch)           WmlClient.score with the fault on the IAM
//                                 route, i.e. while the client gets its token
//
// For every case: the documented error code, class (instanceof) and status,
// no API key or token in the error, no unhandled rejection, and the NEXT call
// (same client and options, the fault used up or cleared) succeeds.
// Each case uses a fresh API key, so cache entries and IAM faults (filtered
// by key) never leak between cases; WML faults are global, but the cases run
// one at a time. Documented behaviour: index.d.ts and the README
// ("How the token cache behaves", "Errors").
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { assertNoSecrets, watchUnhandled, sleep } from './helpers/secrets.mjs'
import { useFakeServer, keyMaker } from './helpers/fake.mjs'

const require = createRequire(import.meta.url)
const m = require('../index.js')
const { startFakeServer } = require('../testing/index.js')

let server
useFakeServer((s) => (server = s))
const freshKey = keyMaker('matrix-key')

/** A `ms` timeout on the faulted exchange (and a generous one elsewhere). */
function timeoutAtFault(ctx, ms) {
  if (ctx.route === 'iam') {
    // IAM: timeoutMs bounds each attempt (timeouts are not retried).
    ctx.iamOptions = { timeoutMs: ms, maxRetries: 0 }
    if (ctx.kind.wml) ctx.callOptions = { timeoutMs: 10000 }
  } else {
    // WML: RequestOptions.timeoutMs bounds the whole call (for streams, the whole stream).
    ctx.callOptions = { timeoutMs: ms }
  }
}

const PAYLOAD = { input_data: [{ fields: ['GENDER', 'AGE'], values: [['M', 23]] }] }
const STREAM_REQUEST = { input: 'alpha beta gamma', parameters: { max_new_tokens: 3 } }
const TOKEN_KINDS = ['getIamToken', 'getIamTokenInfo']
const WML_KINDS = ['score', 'stream']
const ALL_KINDS = [...TOKEN_KINDS, ...WML_KINDS, 'score (token fetch)']

/**
 * How each kind of call is made and checked. `route`: where its faults go.
 * `ctx.iamOptions` are the token call options / the client's credential
 * extras (timeoutMs, maxRetries); `ctx.callOptions` the WML RequestOptions.
 */
const KINDS = {
  getIamToken: {
    route: 'iam',
    call: (ctx) => m.getIamToken(ctx.key, { url: ctx.iamUrl, ...ctx.iamOptions }),
    check(token) {
      assert.equal(typeof token, 'string')
      assert.equal(token.split('.').length, 3)
    },
  },
  getIamTokenInfo: {
    route: 'iam',
    call: (ctx) => m.getIamTokenInfo(ctx.key, { url: ctx.iamUrl, ...ctx.iamOptions }),
    check(info) {
      assert.equal(info.tokenType, 'Bearer')
      assert.equal(info.accessToken.split('.').length, 3)
      assert.ok(info.expiresIn > 0)
    },
  },
  score: {
    route: 'predictions',
    wml: true,
    call: (ctx) => ctx.client().score('dep-1', PAYLOAD, ctx.callOptions),
    check(res) {
      assert.equal(res.predictions.length, 1)
      assert.equal(res.predictions[0].values.length, 1)
    },
  },
  stream: {
    route: 'stream',
    wml: true,
    async call(ctx) {
      ctx.chunks = []
      for await (const chunk of ctx.client().generateTextStream('dep-1', STREAM_REQUEST, ctx.callOptions)) {
        ctx.chunks.push(chunk)
      }
      return ctx.chunks
    },
    check(chunks) {
      assert.equal(chunks.length, 3)
      assert.equal(chunks.at(-1).results[0].stop_reason, 'max_tokens')
    },
  },
  'score (token fetch)': {
    route: 'iam',
    wml: true,
    tokenFetch: true,
    call: (ctx) => ctx.client().score('dep-1', PAYLOAD, ctx.callOptions),
    check(res) {
      assert.equal(res.predictions.length, 1)
    },
  },
}

/** The class a documented error code comes with. */
const CLASS_OF = {
  ERR_IAM: 'IamError',
  ERR_WML: 'WmlError',
  ERR_TIMEOUT: 'TimeoutError',
  ERR_NETWORK: 'NetworkError',
  ERR_BAD_RESPONSE: 'BadResponseError',
}

/** The documented error a fault on IAM vs on WML comes out as. */
const serviceCode = (ctx) => (ctx.route === 'iam' ? 'ERR_IAM' : 'ERR_WML')

/**
 * The matrix rows. Each: `kinds`; `arrange(ctx)` adds the fault(s) (through
 * `ctx.fault`, which targets the kind's route and, on IAM, the case's key)
 * and sets options; `expect` is `{ code, status? }` (a function of ctx when
 * it depends on the route) or `'ok'`; optional `attempts` (requests the
 * faulted route saw), `minMs`/`maxMs`, `check(ctx, err|value)`, `clear`
 * (remove the fault before the next call; otherwise it must be used up).
 */
const CASES = [
  {
    name: 'connection refused (a closed port)',
    kinds: ALL_KINDS,
    async arrange(ctx) {
      // A server of our own, stopped now and started again on the same port
      // before the next call: the same client must recover. For the WML
      // kinds the token is fetched first, so the refused request is the WML one.
      const alt = await startFakeServer()
      ctx.port = alt.port
      ctx.iamUrl = alt.url
      ctx.wmlUrl = alt.url
      ctx.altServer = alt
      if (ctx.kind.wml && !ctx.kind.tokenFetch) ctx.token = await m.getIamToken(ctx.key, { url: alt.url })
      await alt.close()
      ctx.iamOptions = { maxRetries: 1 }
    },
    expect: { code: 'ERR_NETWORK' },
    maxMs: 5000,
    async clear(ctx) {
      // A restarted service signs tokens with a new secret: the WML kinds
      // then also go through the documented 401 -> new token -> retry.
      ctx.altServer = await startFakeServer({ port: ctx.port })
      ctx.cleanup.push(() => ctx.altServer.close())
    },
  },
  {
    name: 'reset mid-response (resetAfterBytes)',
    kinds: ALL_KINDS,
    arrange(ctx) {
      ctx.iamOptions = { maxRetries: 1 }
      // Headers and a few body bytes, then the socket is destroyed; for the
      // stream, part of the first event.
      ctx.fault({ resetAfterBytes: ctx.route === 'stream' ? 60 : 20 })
    },
    expect: { code: 'ERR_NETWORK' },
    check(ctx) {
      assert.ok(ctx.attempts >= 1 && ctx.attempts <= 2, `attempts ${ctx.attempts} within maxRetries: 1`)
      if (ctx.route === 'stream') assert.deepEqual(ctx.chunks, [], 'no event was complete')
    },
    clear: true,
  },
  {
    name: 'hang -> timeout',
    kinds: ALL_KINDS,
    arrange(ctx) {
      ctx.fault({ hang: true, times: 1 })
      timeoutAtFault(ctx, 300)
    },
    expect: { code: 'ERR_TIMEOUT' },
    minMs: 250,
    maxMs: 3000,
  },
  {
    name: 'slow trickle body, past the timeout',
    kinds: ALL_KINDS,
    arrange(ctx) {
      // One byte every 50 ms: a token response (~1 KB) or a prediction
      // (~90 bytes) or an event would take seconds.
      ctx.fault({ trickleMs: 50, times: 1 })
      timeoutAtFault(ctx, 400)
    },
    expect: { code: 'ERR_TIMEOUT' },
    minMs: 350,
    maxMs: 3000,
  },
  {
    name: 'slow trickle body, within the timeout',
    kinds: ALL_KINDS,
    arrange(ctx) {
      ctx.fault({ trickleMs: ctx.route === 'predictions' ? 3 : 1, times: 1 })
      ctx.iamOptions = { timeoutMs: 20000 }
      ctx.callOptions = { timeoutMs: 20000 }
    },
    expect: 'ok',
    minMs: 100,
    attempts: 1,
  },
  {
    name: 'truncated JSON in a 2xx',
    kinds: ALL_KINDS,
    arrange(ctx) {
      if (ctx.route === 'iam') ctx.fault({ malformed: true, times: 1 }) // 200 {"access_token":
      else if (ctx.route === 'predictions') {
        ctx.fault({ body: '{"predictions":[{"fields":["prediction","probab', status: 200, times: 1 })
      } else {
        ctx.fault({
          body: 'id: 1\nevent: message\ndata: {"model_id":"m","results":[{"generated_te\n\n',
          contentType: 'text/event-stream',
          status: 200,
          times: 1,
        })
      }
    },
    expect: { code: 'ERR_BAD_RESPONSE', status: 200 },
    attempts: 1,
  },
  {
    name: 'HTML error page (502)',
    kinds: ALL_KINDS,
    arrange(ctx) {
      ctx.iamOptions = { maxRetries: 1 }
      ctx.fault({ html: true, status: 502, retryAfter: '0', times: 2 })
    },
    expect: (ctx) => ({ code: serviceCode(ctx), status: 502 }),
    attempts: 2,
    check(ctx, err) {
      assert.ok(err.message.length < 200, err.message)
      assert.ok(!err.message.includes('<'), err.message)
      assert.match(err.message, /502 Bad Gateway/)
    },
  },
  {
    name: '429 without Retry-After (retried with backoff)',
    kinds: [...TOKEN_KINDS, ...WML_KINDS],
    arrange(ctx) {
      ctx.fault({ status: 429, times: 1 })
    },
    expect: 'ok',
    attempts: 2,
    minMs: 100, // the first backoff is 125-250 ms
    maxMs: 3000,
  },
  {
    name: '429 with Retry-After in seconds (retried)',
    kinds: [...TOKEN_KINDS, ...WML_KINDS],
    arrange(ctx) {
      ctx.fault({ status: 429, retryAfter: '1', times: 1 })
    },
    expect: 'ok',
    attempts: 2,
    minMs: 900,
    maxMs: 4000,
  },
  {
    name: '429 with Retry-After as an HTTP date (retried)',
    kinds: [...TOKEN_KINDS, ...WML_KINDS],
    arrange(ctx) {
      // An HTTP date has whole seconds: this one is 0.5-1.5 s from now, far
      // above the 125-250 ms backoff a retry would wait without it.
      ctx.fault({ status: 429, retryAfter: new Date(Date.now() + 1500).toUTCString(), times: 1 })
    },
    expect: 'ok',
    attempts: 2,
    minMs: 400,
    maxMs: 5000,
  },
  {
    name: '429 with a retry budget of 0',
    kinds: ALL_KINDS,
    arrange(ctx) {
      ctx.iamOptions = { maxRetries: 0 }
      ctx.fault({ status: 429, retryAfter: '0', times: 1 })
    },
    expect: (ctx) => ({ code: serviceCode(ctx), status: 429 }),
    attempts: 1,
    check(ctx, err) {
      if (ctx.route === 'iam') assert.equal(err.iamErrorCode, 'BXNIM0420E')
      else assert.equal(err.errors[0].code, 'rate_limit_reached_requests')
    },
  },
  {
    name: '5xx storm longer than the retry budget',
    kinds: ALL_KINDS,
    arrange(ctx) {
      ctx.iamOptions = { maxRetries: 2 }
      // Different statuses, so the error must carry the last one. IAM retries
      // 500/502/503/504, WML 502/503/504/520 (README).
      const storm = ctx.route === 'iam' ? [500, 502, 504] : [502, 520, 503]
      ctx.fault({ status: storm[0], retryAfter: '0', times: 1 })
      ctx.fault({ status: storm[1], retryAfter: '0', times: 1 })
      ctx.fault({ status: storm[2], retryAfter: '0' }) // until cleared
      ctx.lastStatus = storm[2]
    },
    expect: (ctx) => ({ code: serviceCode(ctx), status: ctx.lastStatus }),
    attempts: 3, // maxRetries + 1
    clear: true,
  },
  {
    name: 'WML 500 is not retried (README: WML retries 429, 502, 503, 504, 520)',
    kinds: WML_KINDS,
    arrange(ctx) {
      ctx.iamOptions = { maxRetries: 3 }
      ctx.fault({ status: 500, retryAfter: '0', times: 1 })
    },
    expect: { code: 'ERR_WML', status: 500 },
    attempts: 1,
  },
  {
    name: 'token rejected with 401 (new token, one retry)',
    kinds: WML_KINDS,
    newToken: true,
    arrange(ctx) {
      ctx.fault({ status: 401, times: 1 })
    },
    expect: 'ok',
    attempts: 2,
    check(ctx) {
      assert.equal(ctx.iamAfter - ctx.iamBefore, 1, 'one new token')
      const auth = server.lastRequest(ctx.route).headers.authorization
      assert.notEqual(auth, `Bearer ${ctx.token}`, 'the retry carried the new token')
    },
  },
  {
    name: 'token rejected mid-stream (error event authentication_token_expired)',
    kinds: ['stream'],
    arrange(ctx) {
      ctx.fault({ errorAfterEvents: 2, errorCode: 'authentication_token_expired', times: 1 })
    },
    expect: { code: 'ERR_WML', status: 401 },
    attempts: 1,
    check(ctx, err) {
      assert.equal(ctx.chunks.length, 2, 'the events before the error were delivered')
      assert.equal(err.errors[0].code, 'authentication_token_expired')
    },
    async afterNext(ctx) {
      // The rejected token was dropped: the next stream fetched a new one.
      assert.equal(server.iamRequestsFor(ctx.key) - ctx.iamBefore, 1, 'one new token')
      assert.notEqual(server.lastRequest('stream').headers.authorization, `Bearer ${ctx.token}`)
    },
  },
]

/** Requests the faulted route has seen (IAM: for this case's key only). */
function attemptsOn(ctx) {
  if (ctx.route === 'iam') return server.iamRequestsFor(ctx.key)
  return server.stats[ctx.route]
}

async function runCase(c, kindName) {
  const kind = KINDS[kindName]
  const watch = watchUnhandled()
  const ctx = {
    kind,
    route: kind.route,
    key: freshKey(),
    iamUrl: server.url,
    wmlUrl: server.url,
    iamOptions: {},
    callOptions: undefined,
    token: undefined,
    chunks: [],
    cleanup: [],
    fault(spec) {
      return server.fault({ route: ctx.route, ...(ctx.route === 'iam' ? { apikey: ctx.key } : {}), ...spec })
    },
  }
  let client
  ctx.client = () => {
    client ??= new m.WmlClient({ url: ctx.wmlUrl, apikey: ctx.key, iamUrl: ctx.iamUrl, ...ctx.iamOptions })
    return client
  }
  try {
    // WML faults hit WML, not IAM: the token is in the cache before the fault.
    if (kind.wml && !kind.tokenFetch) ctx.token = await m.getIamToken(ctx.key, { url: ctx.iamUrl })
    await c.arrange(ctx)
    ctx.client() // built with the case's options
    const before = attemptsOn(ctx)
    ctx.iamBefore = server.iamRequestsFor(ctx.key)
    const t0 = Date.now()
    const outcome = await kind.call(ctx).then(
      (value) => ({ value }),
      (error) => ({ error }),
    )
    const ms = Date.now() - t0
    ctx.attempts = attemptsOn(ctx) - before
    ctx.iamAfter = server.iamRequestsFor(ctx.key)

    const expect = typeof c.expect === 'function' ? c.expect(ctx) : c.expect
    if (expect === 'ok') {
      assert.equal(outcome.error, undefined, `expected success, got ${outcome.error}`)
      kind.check(outcome.value)
    } else {
      const err = outcome.error
      assert.ok(err, `expected ${expect.code}, the call succeeded`)
      assert.equal(err.code, expect.code, `${err}`)
      assert.ok(err instanceof m[CLASS_OF[expect.code]], `${err.name} is not a ${CLASS_OF[expect.code]}`)
      assert.ok(err instanceof m.WmlNativeError && err instanceof Error)
      assert.equal(err.name, CLASS_OF[expect.code])
      assert.equal(err.status, expect.status, `status of ${err}`)
      assert.equal(typeof err.message, 'string')
      assert.ok(err.message.length > 0)
      ctx.error = err
    }
    if (c.attempts !== undefined) assert.equal(ctx.attempts, c.attempts, 'requests seen by the server')
    if (c.minMs !== undefined) assert.ok(ms >= c.minMs, `took ${ms} ms, expected >= ${c.minMs}`)
    if (c.maxMs !== undefined) assert.ok(ms <= c.maxMs, `took ${ms} ms, expected <= ${c.maxMs}`)
    if (kind.wml && !kind.tokenFetch && !ctx.altServer && !c.newToken) {
      assert.equal(ctx.iamAfter, ctx.iamBefore, 'a WML fault costs no IAM request')
    }
    if (c.check) await c.check(ctx, ctx.error ?? outcome.value)

    // The next call: the fault is used up (or cleared here), same options, same client.
    if (c.clear === true) server.clearFaults()
    else if (typeof c.clear === 'function') await c.clear(ctx)
    else assert.deepEqual(server.faults, [], 'the fault was used up')
    ctx.chunks = []
    const next = await kind.call(ctx)
    kind.check(next)
    if (c.afterNext) await c.afterNext(ctx)

    if (ctx.error) {
      // The token the key now has (the one the failed call would have used or got).
      const token = await m.getIamToken(ctx.key, { url: ctx.iamUrl })
      assertNoSecrets(ctx.error, [ctx.key, ctx.token, token])
    }
    await sleep(20) // let any stray rejection surface
    assert.deepEqual(watch.seen, [], 'no unhandled rejection')
  } finally {
    watch.stop()
    for (const f of ctx.cleanup) await f()
  }
}

for (const c of CASES) {
  describe(c.name, () => {
    for (const kindName of c.kinds) {
      test(kindName, () => runCase(c, kindName))
    }
  })
}

test('the matrix covers every call kind', () => {
  const seen = new Set(CASES.flatMap((c) => c.kinds))
  assert.deepEqual([...seen].sort(), Object.keys(KINDS).sort())
})
