/**
 * `wml-native/testing`: a local fake of IBM Cloud IAM, Watson Machine Learning
 * online scoring and watsonx.ai text generation (plain and SSE streaming),
 * with fault injection, for testing applications offline.
 *
 * @example
 * const { startFakeServer } = require('wml-native/testing')
 * const server = await startFakeServer({ tokenLifetimeSec: 60 })
 * // point the client's IAM URL and WML URL at server.url
 * server.fault({ route: 'predictions', status: 429, retryAfter: '1', times: 1 })
 * await server.close()
 */

/** The routes faults, counters and `lastRequest` know about. */
export type FakeRoute = 'iam' | 'predictions' | 'generation' | 'stream'

export interface FakeServerOptions {
  /** Interface to listen on. Default `'127.0.0.1'`. */
  host?: string
  /** Port; default `0` (an ephemeral port, see `server.port`). */
  port?: number
  /** Serve HTTPS with the bundled test certificate (trust `server.caCert`). Default `false`. */
  tls?: boolean
  /** `exp - iat` of issued tokens, in seconds. May be small (e.g. `4`). Default `3600`. */
  tokenLifetimeSec?: number
  /** API keys IAM answers `400 BXNIM0415E` for. Keys starting with `"invalid"` always are. */
  invalidApikeys?: string[]
  /** Delay between SSE events of a text generation stream, in ms. Default `0`. */
  streamIntervalMs?: number
}

/** The options in effect; `tokenLifetimeSec`, `invalidApikeys` and `streamIntervalMs` may be changed while running. */
export interface ResolvedFakeServerOptions {
  host: string
  port: number
  tls: boolean
  tokenLifetimeSec: number
  invalidApikeys: string[]
  streamIntervalMs: number
}

/** Live counters (the same object is updated in place; `reset()` zeroes it, except the `streamsOpen` gauge). */
export interface FakeServerStats {
  /** Requests to `POST /identity/token`, including faulted and rejected ones. */
  iam: number
  /** IAM requests per form `apikey`. */
  iamByKey: Map<string, number>
  /** Requests to `/ml/v4/deployments/:id/predictions`. */
  predictions: number
  /** Requests to the non-streaming text generation routes. */
  generation: number
  /** Requests to the `generation_stream` routes. */
  stream: number
  /** SSE streams currently being written (a gauge). */
  streamsOpen: number
  /** Streams whose client closed the connection before the last event was written. */
  streamsClosedByClient: number
  /** TCP connections accepted (a pooling client keeps this low). */
  connections: number
}

/** What the server saw of the last request on a route. */
export interface RecordedRequest {
  method: string
  /** Path without the query string. */
  path: string
  /** Query parameters (the last value wins for repeated ones). */
  query: Record<string, string>
  /** Request headers, lower-case names. */
  headers: Record<string, string | string[] | undefined>
  /** Raw body as UTF-8 (empty when it was over the 64 MB limit). */
  body: string
  /** IAM only: the urlencoded form (empty when the Content-Type was not form-urlencoded). */
  form?: Record<string, string>
  /** WML/watsonx only: the parsed JSON body, `undefined` when it did not parse. */
  json?: any
}

/**
 * A fault to inject. It matches requests on `route` (or every route for `'*'`)
 * and applies to `times` of them, first added first used. Give one action;
 * `latencyMs` may be combined with any other action (the delay comes first).
 */
export interface FaultSpec {
  /** Route to fault; `'*'` (the default) is every route. */
  route?: FakeRoute | '*'
  /** How many matching requests this fault applies to before it is used up. Default `Infinity`. */
  times?: number
  /** IAM only: apply only to token requests for this API key. */
  apikey?: string

  /** Wait this long, then answer normally (or apply the other action). */
  latencyMs?: number
  /** Accept the request and never answer; the socket stays open until the client gives up or `close()`. */
  hang?: boolean
  /** Destroy the socket (TCP RST where possible) without answering. */
  reset?: boolean
  /** Write the headers and this many bytes of the normal body, then destroy the socket. */
  resetAfterBytes?: number
  /** Answer `200`, `Content-Type: application/json`, body `{"access_token": ` (truncated JSON). */
  malformed?: boolean
  /** Answer exactly this raw body (with `status`, default 200, and `contentType`, default `application/json`). */
  body?: string
  /** Answer a load balancer style HTML error page (status default 502). */
  html?: boolean
  /**
   * HTTP status. Alone: the route's IBM-shaped JSON error (IAM shape on `iam`,
   * `{errors:[{code,message,more_info}],trace,status_code}` elsewhere) with a code
   * chosen by status (`invalid_input_argument`, `authentication_token_not_valid`,
   * `authorization_rejected`, `deployment_not_found`, `rate_limit_reached_requests`,
   * `internal_error`...). With `body` or `html`: that answer's status.
   */
  status?: number
  /** `Retry-After` header value (seconds or an HTTP date) for the faulted answer. */
  retryAfter?: string | number
  /** Override the error `code` (`errorCode` on IAM) of a `status` fault. */
  code?: string
  /** Override the error message of a `status` fault, or of a stream `errorAfterEvents` error event. */
  message?: string
  /** Extra response headers for a `status`/`body`/`html`/`malformed` answer. */
  headers?: Record<string, string>
  /** Send the normal body one byte every `trickleMs` ms. */
  trickleMs?: number
  /** IAM only: issue this request's token with this lifetime (seconds). */
  tokenLifetimeSec?: number
  /** Stream only: after this many normal events send an `event: error` SSE event with a WML error object, then end. */
  errorAfterEvents?: number
  /** Code of the `errorAfterEvents` error. Default `'authentication_token_expired'`. */
  errorCode?: string
  /** Write every body chunk (each SSE event) in pieces of this many bytes, ~1 ms apart. */
  splitBytes?: number
}

/** An added fault: the spec plus its bookkeeping (updated live). */
export interface Fault extends FaultSpec {
  /** Sequence number, unique per server. */
  id: number
  route: FakeRoute | '*'
  times: number
  /** Requests this fault has been applied to. */
  used: number
  /** Requests it will still apply to (`times - used`). */
  remaining: number
}

export interface IssueTokenOptions {
  /** Lifetime in seconds (`exp - iat`). Default: the server's `tokenLifetimeSec`. */
  lifetimeSec?: number
  /** API key the token is for (shapes `iam_id`). Default `'fake-apikey'`. */
  apikey?: string
}

/** A running fake server. IAM is at `${url}/identity/token`; WML/watsonx routes share the origin. */
export interface FakeServer {
  /** `http://127.0.0.1:PORT` (`https://` with `tls`). No trailing slash. */
  readonly url: string
  /** The port listened on. */
  readonly port: number
  /** The host listened on. */
  readonly host: string
  /** PEM of the CA that signed the server certificate when `tls`, else `undefined`. */
  readonly caCert: string | undefined
  /** Live options (see {@link ResolvedFakeServerOptions}). */
  readonly options: ResolvedFakeServerOptions
  /** Live counters. */
  readonly stats: FakeServerStats
  /** Faults not yet used up, in matching order. */
  readonly faults: Fault[]
  /** Number of IAM token requests made with this API key. */
  iamRequestsFor(apikey: string): number
  /** The last request seen on a route, or `undefined`. */
  lastRequest(route: FakeRoute): RecordedRequest | undefined
  /** Adds a fault and returns it (its `used`/`remaining` update live). Throws `TypeError` on a bad spec. */
  fault(spec: FaultSpec): Fault
  /** Removes every fault. */
  clearFaults(): void
  /** Makes every token issued so far invalid: WML routes answer 401 `authentication_token_not_valid`. */
  revokeTokens(): void
  /** Returns a valid access token (JWT) without an IAM request. */
  issueToken(opts?: IssueTokenOptions): string
  /** Clears faults, counters and recorded requests (tokens stay valid). */
  reset(): void
  /** Resolves after `ms` (or at once when the server closes); does not keep the process alive. */
  sleep(ms: number): Promise<void>
  /** Stops listening and destroys every open socket (keep-alive and hung ones too). Idempotent. */
  close(): Promise<void>
}

/** Starts a fake server; resolves once it is listening. */
export function startFakeServer(options?: FakeServerOptions): Promise<FakeServer>

/** The server implementation class (prefer {@link startFakeServer}). */
export const FakeServer: {
  new (options: ResolvedFakeServerOptions): FakeServer
  prototype: FakeServer
}

/** Absolute paths of the bundled TLS fixtures: trust `ca`; the server serves `cert` (+ chain) with `key`. */
export const FIXTURES: Readonly<{ ca: string; cert: string; key: string }>

/** The `more_info` URL of WML error objects. */
export const MORE_INFO: string

/** The `model_id` reported by deployment text generation routes. */
export const DEFAULT_MODEL_ID: string

/** A WML input block. */
export interface InputDataBlock {
  id?: string
  fields?: string[]
  values: any[]
}

/** A prediction block as the fake model answers it. */
export interface PredictionBlock {
  id?: string
  fields: ['prediction', 'probability']
  values: Array<[('Y' | 'N'), [number, number]]>
}

/**
 * The fake model's predictions for `input_data`: per row, `s` = the sum of the
 * numeric leaves (strings count their length), `p = (s % 100) / 100` to 3 dp,
 * answer `[p >= 0.5 ? 'Y' : 'N', [p, 1 - p]]`.
 */
export function predict(inputData: InputDataBlock[]): PredictionBlock[]

/** The fake model's answer for one row. */
export function predictRow(row: unknown): ['Y' | 'N', [number, number]]

/** Result of the fake LLM. */
export interface GenerationResult {
  /** The tokens, each with a leading space (one SSE event each). */
  tokens: string[]
  generated_text: string
  generated_token_count: number
  input_token_count: number
  stop_reason: 'max_tokens' | 'stop_sequence'
}

/**
 * The fake LLM: the words of `input` reversed (cycled), one word per token,
 * `max_new_tokens` (default 20) tokens, stopping once a stop sequence appears.
 */
export function generate(
  input: string,
  parameters?: { max_new_tokens?: number; stop_sequences?: string[]; decoding_method?: string },
): GenerationResult
