/**
 * `wml-native/testing`: a local fake of IBM Cloud IAM (API key, trusted
 * profile `cr-token` and `assume` grants), the VPC instance metadata token
 * service, Cloud Pak for Data and MCSP (watsonx.ai on AWS) token endpoints,
 * Watson Machine Learning online scoring and watsonx.ai inference (text
 * generation, chat with tool calls, embeddings, rerank, tokenization, model
 * specs; plain and SSE streaming), with fault injection, for testing
 * applications offline. Every route shares one origin (`server.url`).
 *
 * @example
 * const { startFakeServer } = require('wml-native/testing')
 * const server = await startFakeServer({ tokenLifetimeSec: 60 })
 * // point the client's IAM URL and WML URL at server.url
 * server.fault({ route: 'predictions', status: 429, retryAfter: '1', times: 1 })
 * await server.close()
 */

/**
 * The routes faults, counters, `lastRequest` and `requests` know about:
 * - `iam`: `POST /identity/token` (all grants)
 * - `vpc_token`: `PUT /instance_identity/v1/token` (also `/identity/v1/token`)
 * - `vpc_iam_token`: `POST /instance_identity/v1/iam_token` (also `/identity/v1/iam_tokens`)
 * - `cpd`: `POST /icp4d-api/v1/authorize`
 * - `mcsp`: `POST /siusermgr/api/1.0/apikeys/token`, `/api/2.0/apikeys/token`,
 *   `/api/2.0/{accounts|subscriptions|services}/{id}/apikeys/token`
 * - `predictions`: `POST /ml/v4/deployments/{id}/predictions`
 * - `generation`, `stream`: `POST /ml/v1/text/generation[_stream]`, `/ml/v1/deployments/{id}/text/generation[_stream]`
 * - `chat`, `chat_stream`: `POST /ml/v1/text/chat[_stream]`, `/ml/v1/deployments/{id}/text/chat[_stream]`
 * - `embeddings`, `rerank`, `tokenization`: `POST /ml/v1/text/{embeddings|rerank|tokenization}`
 * - `models`: `GET /ml/v1/foundation_model_specs`
 */
export type FakeRoute =
  | 'iam'
  | 'vpc_token'
  | 'vpc_iam_token'
  | 'cpd'
  | 'mcsp'
  | 'predictions'
  | 'generation'
  | 'stream'
  | 'chat'
  | 'chat_stream'
  | 'embeddings'
  | 'rerank'
  | 'tokenization'
  | 'models'

/**
 * How the server speaks TLS:
 * - `true` / `'ca'`: a leaf for 127.0.0.1 and localhost signed by a test CA (leaf + chain served; trust the CA);
 * - `'self-signed'`: one self-signed certificate that is its own CA (CA:TRUE), for 127.0.0.1 and localhost,
 *   as `openssl req -x509` makes (trust that same certificate);
 * - `'self-signed-wrong-host'`: self-signed for `wrong-host.example` / 192.0.2.1 only (hostname check fails);
 * - `'self-signed-expired'`: self-signed for 127.0.0.1 and localhost, valid 2020-01-01 to 2021-01-01 only.
 * In every mode `server.caCert` is the PEM a client should trust.
 */
export type FakeTlsMode = boolean | 'ca' | 'self-signed' | 'self-signed-wrong-host' | 'self-signed-expired'

/** A trusted profile the IAM cr-token/assume grants and the VPC iam_token route accept. */
export interface TrustedProfile {
  /** `Profile-...` */
  id: string
  /** Default: the id. */
  name?: string
  /** Account id (32 hex). Default: the fake's account. */
  account?: string
  /** Default: `crn:v1:bluemix:public:iam-identity::a/<account>::profile:<id>`. */
  crn?: string
}

/** A Cloud Pak for Data user: log in with `password` or with `apikey` (sent as `api_key`). */
export interface CpdUser {
  username: string
  password?: string
  apikey?: string
}

export interface FakeServerOptions {
  /** Interface to listen on. Default `'127.0.0.1'`. */
  host?: string
  /** Port; default `0` (an ephemeral port, see `server.port`). */
  port?: number
  /** Serve HTTPS (see {@link FakeTlsMode}; trust `server.caCert`). Default `false`. */
  tls?: FakeTlsMode
  /** `exp - iat` of issued tokens, in seconds, for every token-issuing route. May be small (e.g. `4`). Default `3600`. */
  tokenLifetimeSec?: number
  /**
   * Issue every token as if it had been issued this many seconds ago (`iat` and
   * `exp` moved back; `expires_in` stays the full lifetime), as a caching proxy
   * in front of IAM would hand it out. Default `0`.
   */
  tokenIssuedAgoSec?: number
  /**
   * The server's clock runs this many seconds ahead (negative: behind): token
   * `iat`/`exp`, IAM `expiration`, VPC `created_at`/`expires_at`, watsonx
   * `created`/`created_at`, the `Date` header, and the expiry check of bearer
   * tokens all use it. Default `0`.
   */
  clockSkewSec?: number
  /** `false`: answers carry no `Date` header (`res.sendDate = false`). Default `true`. */
  sendDate?: boolean
  /** API keys IAM and MCSP answer `400 BXNIM0415E` for. Keys starting with `"invalid"` always are. */
  invalidApikeys?: string[]
  /** Compute resource tokens the IAM cr-token grant rejects (`400 BXNIM0481E`). Tokens starting with `"invalid"` always are. */
  invalidCrTokens?: string[]
  /** Trusted profiles IAM and the VPC metadata service know. Default {@link DEFAULT_TRUSTED_PROFILES}; the first is the VPC instance's default. */
  trustedProfiles?: TrustedProfile[]
  /** Cloud Pak for Data users. Default {@link DEFAULT_CPD_USERS} (`admin` / `password` / api key `cpd-apikey`). */
  cpdUsers?: CpdUser[]
  /** The foundation model catalogue (fixed at start). Default {@link DEFAULT_MODELS}. */
  models?: FoundationModelSpec[]
  /** Delay between SSE events of generation and chat streams, in ms. Default `0`. */
  streamIntervalMs?: number
  /** Chat streams with several tool calls interleave their argument chunks (round-robin) instead of sending them one call after the other. Default `false`. */
  interleaveToolCalls?: boolean
  /** Requests kept per route for `requests(route)` (also bounded to ~8 MB of bodies; the last is always kept). Default `50`. */
  requestHistory?: number
}

/**
 * The options in effect. These may be changed while running: `tokenLifetimeSec`,
 * `tokenIssuedAgoSec`, `clockSkewSec`, `sendDate`, `invalidApikeys`,
 * `invalidCrTokens`, `trustedProfiles`, `cpdUsers`, `streamIntervalMs`,
 * `interleaveToolCalls`, `requestHistory`.
 */
export interface ResolvedFakeServerOptions {
  host: string
  port: number
  tls: FakeTlsMode
  tokenLifetimeSec: number
  tokenIssuedAgoSec: number
  clockSkewSec: number
  sendDate: boolean
  invalidApikeys: string[]
  invalidCrTokens: string[]
  trustedProfiles: TrustedProfile[]
  cpdUsers: CpdUser[]
  models: FoundationModelSpec[]
  streamIntervalMs: number
  interleaveToolCalls: boolean
  requestHistory: number
}

/**
 * Live counters (the same object is updated in place; `reset()` zeroes it,
 * except the `streamsOpen` gauge). One count per route, including faulted and
 * rejected requests.
 */
export interface FakeServerStats extends Record<FakeRoute, number> {
  /** IAM requests per form `apikey`. */
  iamByKey: Map<string, number>
  /** IAM requests per form `grant_type`. */
  iamByGrant: Map<string, number>
  /** IAM requests per form `cr_token` (see which compute resource token each refresh carried). */
  iamByCrToken: Map<string, number>
  /** SSE streams currently being written (a gauge). */
  streamsOpen: number
  /** Streams whose client closed the connection before the last event was written. */
  streamsClosedByClient: number
  /** TCP connections accepted (a pooling client keeps this low). */
  connections: number
}

/** What the server saw of a request. */
export interface RecordedRequest {
  method: string
  /** Path without the query string. */
  path: string
  /** Query parameters (the last value wins for repeated ones). */
  query: Record<string, string>
  /** Request headers, lower-case names (`traceparent`, `tracestate`, `x-global-transaction-id`, ...). */
  headers: Record<string, string | string[] | undefined>
  /** Raw body as UTF-8 (empty when it was over the 64 MB limit). */
  body: string
  /** IAM only: the urlencoded form (empty when the Content-Type was not form-urlencoded). */
  form?: Record<string, string>
  /** JSON routes: the parsed body, `undefined` when it did not parse. */
  json?: any
}

/**
 * A fault to inject. It matches requests on `route` (or every route for `'*'`)
 * and applies to `times` of them, first added first used. It is checked when
 * added (a bad spec or an invalid combination throws `TypeError`) and then does
 * exactly one of:
 * - nothing but the delay (`latencyMs` alone);
 * - `hang` or `reset` (no answer);
 * - a replaced answer: `status` alone (the route's error), `body`, `html` or
 *   `malformed`, shaped by `headers`/`retryAfter` (and `code`/`message` for
 *   `status` alone, `contentType` for `body`);
 * - a modified normal answer: `tokenLifetimeSec`/`tokenIssuedAgoSec`
 *   (token-issuing routes), `errorAfterEvents` (streams).
 * `latencyMs` may precede any of them; `trickleMs`, `splitBytes` and
 * `resetAfterBytes` pace whatever body is sent.
 */
export interface FaultSpec {
  /** Route to fault; `'*'` (the default) is every route. */
  route?: FakeRoute | '*'
  /** How many matching requests this fault applies to before it is used up. Default `Infinity`. */
  times?: number
  /** Apply only to requests made with this API key (IAM form `apikey`, MCSP `apikey`, CPD `api_key`). */
  apikey?: string

  /** Wait this long, then answer normally (or apply the other action). */
  latencyMs?: number
  /** Accept the request and never answer; the socket stays open until the client gives up or `close()`. */
  hang?: boolean
  /** Destroy the socket (TCP RST where possible) without answering. */
  reset?: boolean
  /** Write the headers and this many bytes of the body, then destroy the socket. */
  resetAfterBytes?: number
  /** Answer `200`, `Content-Type: application/json`, body `{"access_token": ` (truncated JSON). Takes no `status`. */
  malformed?: boolean
  /** Answer exactly this raw body (with `status`, default 200, and `contentType`, default `application/json`). */
  body?: string
  /** `Content-Type` of a `body` answer. */
  contentType?: string
  /** Answer a load balancer style HTML error page (status default 502). */
  html?: boolean
  /**
   * HTTP status. Alone (>= 400): the route's IBM-shaped JSON error (IAM shape
   * on `iam` and `mcsp`, `{errors:[{code,message,more_info}],trace,status_code}`
   * on WML/watsonx and VPC routes, `{_messageCode_, message}` on `cpd`) with a
   * code chosen by status (`invalid_input_argument`, `authentication_token_not_valid`,
   * `authorization_rejected`, `deployment_not_found`, `rate_limit_reached_requests`,
   * `internal_error`...). With `body` or `html`: that answer's status.
   */
  status?: number
  /** `Retry-After` header value (seconds or an HTTP date) for the replaced answer. */
  retryAfter?: string | number
  /** Override the error `code` (`errorCode` on IAM) of a `status` fault. */
  code?: string
  /** Override the error message of a `status` fault, or of a stream `errorAfterEvents` error event. */
  message?: string
  /** Extra response headers for a replaced answer. */
  headers?: Record<string, string>
  /** Send the body one byte every `trickleMs` ms. */
  trickleMs?: number
  /** Token-issuing routes: issue this request's token with this lifetime (seconds). */
  tokenLifetimeSec?: number
  /** Token-issuing routes: issue this request's token as if issued this many seconds ago (see the option). */
  tokenIssuedAgoSec?: number
  /**
   * Streams (`stream`, `chat_stream`): after this many normal events send an
   * `event: error` SSE event with a WML error object (`{errors, trace,
   * status_code}`) inside the 200 stream, then end.
   */
  errorAfterEvents?: number
  /** Code of the `errorAfterEvents` error. Default `'authentication_token_expired'` (status_code 401). */
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
  /** Issue it as if this many seconds ago. Default: the server's `tokenIssuedAgoSec`. */
  issuedAgoSec?: number
  /** API key the token is for (shapes `iam_id`). Default `'fake-apikey'`. */
  apikey?: string
}

/**
 * A running fake server. Every service is on the same origin:
 * - IAM `POST /identity/token`, form `grant_type` = `urn:ibm:params:oauth:grant-type:apikey` (`apikey`),
 *   `...:cr-token` (`cr_token` + `profile_id` | `profile_name` | `profile_crn`) or `...:assume`
 *   (`access_token` = a valid token from this server + `profile_id` | `profile_crn` | `profile_name` and `account`).
 *   Answers `{access_token, refresh_token: 'not_supported', ims_user_id (apikey grant only), token_type: 'Bearer',
 *   expires_in, expiration, scope}`. Errors `{errorCode, errorMessage, context}`: `BXNIM0415E` unknown API key,
 *   `BXNIM0109E` missing property, `BXNIM0308E` missing/unsupported grant, `BXNIM0105E` not form-urlencoded,
 *   `BXNIM0345E` bad Basic auth, `BXNIM0398E` "Selected trusted profile not eligible." (+ `errorDetails`) for a
 *   profile it does not know, `BXNIM0481E` invalid cr token, `BXNIM0407E` invalid or expired `access_token`
 *   (the last two codes are the fake's choice: IAM's are not documented).
 * - VPC metadata `PUT /instance_identity/v1/token?version=` (`Metadata-Flavor: ibm`, JSON `{expires_in}` 5..3600,
 *   default 300) -> `{access_token, created_at, expires_at, expires_in}` (an instance identity token, not accepted
 *   by WML); `POST /instance_identity/v1/iam_token?version=` (`Authorization: Bearer <identity token>`, optional
 *   `{trusted_profile: {id} | {crn} | {name}}`, default the first trusted profile) -> the same shape with an IAM
 *   token. The 2025-08-26 paths `/identity/v1/token` and `/identity/v1/iam_tokens` work the same; versions from
 *   2025-07-15 on are refused on the `/instance_identity/` paths. Errors `{errors:[{code, message, more_info,
 *   target?: {name, type, value?}}], trace, status_code}`: `invalid_value` (e.g. `expires_in` out of range),
 *   `validation_required_field_missing` (`version`, `Metadata-Flavor`), 401 `not_authorized`, 404
 *   `trusted_profile_not_found`.
 * - CPD `POST /icp4d-api/v1/authorize` JSON `{username, password}` or `{username, api_key}` ->
 *   `{_messageCode_: '200', message: 'Success', token}`; wrong credentials `401 {_messageCode_: '401', message}`.
 * - MCSP `POST /siusermgr/api/1.0/apikeys/token` (and the `/api/2.0/...` paths) JSON `{apikey}` ->
 *   `{token, token_type: 'Bearer', expires_in}`; errors in the IAM shape.
 * - WML / watsonx.ai routes need `?version=YYYY-MM-DD` and `Authorization: Bearer <token>` where the token is
 *   one this server issued (IAM, VPC iam_token, CPD or MCSP), not revoked and not expired (401
 *   `authentication_token_not_valid` / `authentication_token_expired`); `/ml/v1/text/*` routes need `model_id`
 *   (404 `model_not_supported` when unknown, 400 `model_no_support_for_function` when the model lacks the
 *   function) and `project_id` or `space_id` (400 `invalid_request_entity`); deployment ids starting with
 *   `unknown` or `missing` are 404 `deployment_not_found`. `GET /ml/v1/foundation_model_specs` needs no token.
 */
export interface FakeServer {
  /** `http://127.0.0.1:PORT` (`https://` with `tls`). No trailing slash. */
  readonly url: string
  /** The port listened on. */
  readonly port: number
  /** The host listened on. */
  readonly host: string
  /** The PEM a client should trust when `tls` is set (the CA, or the self-signed certificate itself), else `undefined`. */
  readonly caCert: string | undefined
  /** The TLS mode (`'ca'` for `tls: true`), `undefined` for plain HTTP. */
  readonly tlsMode: Exclude<FakeTlsMode, boolean> | undefined
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
  /** The recent requests on a route, oldest first (see `requestHistory`): headers such as `traceparent` per request. */
  requests(route: FakeRoute): RecordedRequest[]
  /** Adds a fault and returns it (its `used`/`remaining` update live). Throws `TypeError` on a bad spec. */
  fault(spec: FaultSpec): Fault
  /** Removes every fault. */
  clearFaults(): void
  /** Makes every token issued so far invalid: WML routes answer 401 `authentication_token_not_valid`. */
  revokeTokens(): void
  /** Returns a valid IAM access token (JWT) without a request. */
  issueToken(opts?: IssueTokenOptions): string
  /** The server's time in ms (real time plus `clockSkewSec`). */
  clock(): number
  /** Clears faults, counters and recorded requests (tokens stay valid). */
  reset(): void
  /** Resolves after `ms` (or at once when the server closes); does not keep the process alive. */
  sleep(ms: number): Promise<void>
  /** Stops listening and destroys every open socket (keep-alive and hung ones too). Idempotent. */
  close(): Promise<void>
}

/** Starts a fake server; resolves once it is listening (rejects on a bad `tls` value). */
export function startFakeServer(options?: FakeServerOptions): Promise<FakeServer>

/** The server implementation class (prefer {@link startFakeServer}). */
export const FakeServer: {
  new (options: ResolvedFakeServerOptions): FakeServer
  prototype: FakeServer
}

/** Absolute paths of the bundled TLS fixtures (see `testing/fixtures/README.md`). */
export const FIXTURES: Readonly<{
  /** CA that signed `cert` (`tls: true`). */
  ca: string
  cert: string
  key: string
  /** `tls: 'self-signed'`: its own CA, for 127.0.0.1 and localhost. */
  selfSigned: string
  selfSignedKey: string
  /** `tls: 'self-signed-wrong-host'`: for wrong-host.example and 192.0.2.1. */
  wrongHostCert: string
  wrongHostKey: string
  /** `tls: 'self-signed-expired'`: expired on 2021-01-01. */
  expiredCert: string
  expiredKey: string
}>

/** Every {@link FakeRoute}, in route-table order. */
export const ROUTES: readonly FakeRoute[]

/** The `more_info` URL of WML error objects (scoring and generation routes). */
export const MORE_INFO: string

/** The base `more_info` URL of watsonx.ai error objects (chat, embeddings, rerank, tokenization, models add `#<operation>`). */
export const WATSONX_MORE_INFO: string

/** IAM grant types. */
export const GRANTS: Readonly<{ apikey: string; crToken: string; assume: string }>

/** The `model_id` reported by deployment text generation routes (`ibm/granite-13b-instruct-v2`). */
export const DEFAULT_MODEL_ID: string
/** The chat model of the catalogue and of deployment chat routes (`ibm/granite-3-8b-instruct`; also does text generation). */
export const DEFAULT_CHAT_MODEL_ID: string
/** A 768-dimension embedding model of the catalogue (`ibm/slate-125m-english-rtrvr-v2`). */
export const DEFAULT_EMBEDDING_MODEL_ID: string
/** The rerank model of the catalogue (`cross-encoder/ms-marco-minilm-l-12-v2`). */
export const DEFAULT_RERANK_MODEL_ID: string
/** At most this many `inputs` per embeddings or rerank request (1,000); more is 400 `json_validation_error`. */
export const MAX_EMBEDDING_INPUTS: number

/** A foundation model as `GET /ml/v1/foundation_model_specs` lists it. */
export interface FoundationModelSpec {
  model_id: string
  label: string
  provider: string
  source: string
  /** e.g. `[{id: 'text_chat'}, {id: 'text_generation'}]`, `[{id: 'embedding'}]`, `[{id: 'rerank'}]`. */
  functions: Array<{ id: string }>
  short_description: string
  long_description?: string
  input_tier: string
  output_tier: string
  number_params: string
  /** `embedding_dimension` for embedding models (768 unless given). */
  model_limits?: { max_sequence_length?: number; max_output_tokens?: number; embedding_dimension?: number; [k: string]: unknown }
  limits?: Record<string, unknown>
  lifecycle?: Array<{ id: string; start_date?: string; [k: string]: unknown }>
  versions?: Array<{ version?: string; available_date?: string }>
  supported_languages?: string[]
  task_ids?: string[]
  tasks?: Array<{ id: string; [k: string]: unknown }>
  tech_preview?: boolean
  [k: string]: unknown
}

/**
 * The default catalogue: `ibm/granite-13b-instruct-v2` (generation),
 * `ibm/granite-3-8b-instruct` and `meta-llama/llama-3-3-70b-instruct` (chat +
 * generation), `ibm/slate-125m-english-rtrvr-v2` and
 * `ibm/granite-embedding-278m-multilingual` (embeddings, 768 dims, 512 tokens),
 * `ibm/slate-30m-english-rtrvr-v2` (embeddings, 384 dims), and
 * `cross-encoder/ms-marco-minilm-l-12-v2` (rerank).
 */
export const DEFAULT_MODELS: readonly FoundationModelSpec[]

/** `[{ id: 'Profile-9fd84246-...', name: 'fake-trusted-profile', account, crn }]`. */
export const DEFAULT_TRUSTED_PROFILES: readonly Required<TrustedProfile>[]

/** `[{ username: 'admin', password: 'password', apikey: 'cpd-apikey' }]`. */
export const DEFAULT_CPD_USERS: readonly CpdUser[]

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

/** The fake tokenizer (tokenization, token counts everywhere): whitespace-separated words. */
export function tokenize(text: string): string[]

/**
 * The fake embedding of a text: a deterministic unit vector seeded by the
 * model id and the text (after `truncate_input_tokens`: its first N words
 * joined by single spaces), components with 9 decimals. `dimension` defaults
 * to the model's in {@link DEFAULT_MODELS} (768 for the default model).
 */
export function embed(text: string, modelId?: string, dimension?: number): number[]

/**
 * The fake rerank score: 10 x (share of the query's words, lower-cased, found
 * in the text) - 5, plus a tie-breaker below 0.01, to 4 decimals. Results are
 * sorted by score, highest first (ties by index).
 */
export function rerankScore(query: string, text: string): number

/** A chat message as the service takes it. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | 'control'
  content?: string | Array<{ type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } } | Record<string, unknown>> | null
  tool_calls?: ChatToolCall[]
  tool_call_id?: string
  [k: string]: unknown
}

export interface ChatTool {
  type: 'function'
  function: { name: string; description?: string; parameters?: Record<string, unknown> }
}

export interface ChatToolCall {
  /** `chatcmpl-tool-<32 hex>` */
  id: string
  type: 'function'
  /** `arguments` is a JSON string (`{"a": 1, "b": "x"}` style). */
  function: { name: string; arguments: string }
}

export interface ChatRequest {
  messages: ChatMessage[]
  tools?: ChatTool[]
  tool_choice?: { type: 'function'; function: { name: string } }
  tool_choice_option?: 'none' | 'auto' | 'required'
  max_tokens?: number
  max_completion_tokens?: number
  stop?: string[]
  response_format?: { type: 'text' | 'json_object' | 'json_schema'; [k: string]: unknown }
  [k: string]: unknown
}

export interface ChatResult {
  message: { role: 'assistant'; content: string } | { role: 'assistant'; tool_calls: ChatToolCall[] }
  finish_reason: 'stop' | 'length' | 'tool_calls'
  usage: { completion_tokens: number; prompt_tokens: number; total_tokens: number }
}

/**
 * The fake chat model (what `/text/chat` answers in `choices[0]` and `usage`):
 * - after `tool` messages: text, one line per result: `The NAME tool returned: CONTENT`;
 * - `tools` given and the last user message names one or more of them (as a word), or `tool_choice` names one,
 *   or `tool_choice_option: 'required'` (then the first tool): `tool_calls`, arguments from {@link toolArguments};
 * - otherwise `You said: TEXT` (the last user message's text; content parts joined by spaces, images as
 *   `[image]`), wrapped as `{"reply": ...}` JSON for `response_format: {type: 'json_object'}`.
 * Text is cut at the first `stop` string and to `max_tokens` (else `max_completion_tokens`; 0 = no limit)
 * words (`finish_reason: 'length'`).
 */
export function chat(request: ChatRequest): ChatResult

/** A `choices[0]` of a chat stream event. */
export interface ChatStreamChoice {
  index: 0
  finish_reason: null | 'stop' | 'length' | 'tool_calls'
  delta: {
    role?: 'assistant'
    content?: string
    tool_calls?: Array<{ index: number; id?: string; type?: 'function'; function: { name: string; arguments: string } }>
  }
}

/**
 * The `choices[0]` of each `/text/chat_stream` event for a {@link chat} result, in order (the stream then ends
 * with one event with `choices: []` and `usage`): first `{role: 'assistant', content: ''}`; text: one
 * `{content}` per word (with its leading whitespace), then `{content: ''}` with the `finish_reason`; tool calls:
 * per call a head `{tool_calls: [{index, id, type: 'function', function: {name, arguments: ''}}]}`, then the
 * arguments string in pieces `{tool_calls: [{index, function: {name: '', arguments: piece}}]}`, the last piece
 * carrying `finish_reason: 'tool_calls'`; calls one after the other, or round-robin with `interleave`
 * (the `interleaveToolCalls` option).
 */
export function chatDeltas(result: ChatResult, opts?: { interleave?: boolean }): ChatStreamChoice[]

/**
 * The arguments the fake chat model passes to a tool: per property of the JSON-schema `parameters`, in order,
 * an explicit `name=value` / `name: value` in the user text (quotes allowed), else numbers take the next number
 * found in the text (else 0), strings the first `enum` value or the whole text, booleans `false`, arrays `[]`,
 * objects `{}`.
 */
export function toolArguments(parameters: Record<string, unknown> | undefined, text: string): Record<string, unknown>
