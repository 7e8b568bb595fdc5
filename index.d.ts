/**
 * wml-native: IBM Cloud IAM tokens and Watson Machine Learning / watsonx.ai
 * scoring for Node.js, as a native (Rust) addon with a process-wide token cache.
 */

// ---------------------------------------------------------------- IAM

/** Transport settings of every token request (and of WML calls, in `WmlCredentials`). */
export interface TransportOptions {
  /** Timeout of each token request attempt, in ms. Default `30000` (`10000` for the VPC metadata service). */
  timeoutMs?: number
  /** Retries after the first attempt (token services: on 429, 500, 502, 503, 504 and connection failures; WML: on 429, 502, 503, 504, 520 and connection failures). Default `3`. */
  maxRetries?: number
  /** Extra headers sent with each request. */
  headers?: Record<string, string>
  /** Accept any TLS certificate. Default `false`. For test systems only. */
  disableSslVerification?: boolean
  /**
   * Extra trusted certificates, PEM (one or more): private CAs, or the
   * server's own self-signed certificate (accepted when it matches one of
   * these byte for byte, as Node's TLS accepts it; its host name and dates
   * are still checked).
   */
  caCert?: string
  /**
   * An `http://` or `https://` proxy URL (it may carry `user:password@`).
   * Default: the `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` variables.
   */
  proxy?: string
}

/** Settings for the IAM token exchange (any IAM grant). */
export interface IamOptions extends TransportOptions {
  /** IAM base URL. Default `https://iam.cloud.ibm.com`; a URL ending in `/identity/token` is accepted too. */
  url?: string
  /** HTTP Basic client id sent to IAM; only used when `clientSecret` is set too. */
  clientId?: string
  /** HTTP Basic client secret sent to IAM; only used when `clientId` is set too. */
  clientSecret?: string
  /** `scope` form field of the token request. */
  scope?: string
}

/** What the token service said about a token (IAM, or any authenticator's). */
export interface IamTokenInfo {
  accessToken: string
  /** `"Bearer"`. */
  tokenType: string
  /** Lifetime in seconds as IAM reported it. */
  expiresIn: number
  /** Expiry time, epoch seconds (the JWT's `exp`). */
  expiration: number
  scope?: string
  refreshToken?: string
  imsUserId?: number
}

/**
 * An IAM access token for `apikey`. Served from the process-wide cache: one
 * IAM request per key per token lifetime however many callers, refreshed in
 * the background past 80% of the lifetime, never handed out with under 10 s
 * to live. Rejects (never throws) with the error classes below.
 */
export declare function getIamToken(apikey: string, options?: IamOptions): Promise<string>

/** As `getIamToken`, with the token's details. */
export declare function getIamTokenInfo(apikey: string, options?: IamOptions): Promise<IamTokenInfo>

/** Drops every cached token and the keys held to refresh them. */
export declare function clearTokenCache(): void

/**
 * Settings of the process-wide token cache and of the token store it may
 * share tokens through (see "Sharing tokens across a fleet" in the README).
 * Everything is checked before anything changes; a rejected call changes nothing.
 */
export interface TokenCacheOptions {
  /** How many distinct credentials are kept (least recently used out). Default 10,000. */
  maxEntries?: number
  /**
   * A Redis (or Valkey) URL to share tokens through with every process that
   * uses the same store: `redis://[user:password@]host[:port][/db]`, or
   * `rediss://` for TLS. `null` stops sharing; absent leaves it as it is.
   * Default: the `WML_NATIVE_TOKEN_STORE` variable, else none. Nothing
   * usable is stored (names derived from the credential, tokens sealed with
   * AES-256-GCM under a key derived from it), and the store never fails a
   * call: when it is down or slow the process asks IAM itself.
   */
  store?: string | null
  /**
   * The store secret (at least 16 characters; use a random one of 32 or
   * more): lets kinds whose credential differs from process to process (a
   * pod's compute resource token, a VPC instance identity) share tokens,
   * sealed under it, per trusted profile. Without it they stay in the
   * process. Default: the `WML_NATIVE_TOKEN_STORE_KEY` variable. Only with `store`.
   */
  storeKey?: string
  /** `rediss://` only: extra trusted certificates (PEM), as `IamOptions.caCert`. Only with `store`. */
  caCert?: string
  /** `rediss://` only: accept any certificate. For test systems only. Only with `store`. */
  disableSslVerification?: boolean
  /** Bound on each Redis round trip, in ms (a new connection gets twice that, at least 500). Default `250`. Only with `store`. */
  timeoutMs?: number
}

/** Changes the cache's settings (see `TokenCacheOptions`). Throws `InvalidArgumentError`. */
export declare function configureTokenCache(options: TokenCacheOptions): void

/** Cache figures, counted since the process started. */
export interface TokenCacheStats {
  /** Cached credentials. */
  size: number
  /** The bound (`maxEntries`). */
  capacity: number
  /** Token requests this process sent to a token service (tokens taken from the store are not counted). */
  requests: number
  /** Token requests that failed after their retries. */
  failures: number
  /** The token store in use, `redis://host:port/db` (never the user or password), or `null`. */
  store: string | null
  /** Tokens taken from the store instead of asking IAM. */
  storeHits: number
  /** Fetches that found nothing usable in the store (absent, due for refresh, refused, or not opening). */
  storeMisses: number
  /** Leases won: this process asked IAM on behalf of every process sharing the store. */
  leasesWon: number
  /** Store operations that failed (down, slow, an error reply); the process asked IAM itself each time. */
  storeErrors: number
}

/** Cache figures: see `TokenCacheStats`. */
export declare function tokenCacheStats(): TokenCacheStats

/**
 * OpenTelemetry settings. By default (nothing configured) every call makes
 * a span and metrics through the globally registered tracer and meter
 * providers, when `@opentelemetry/api` is installed and providers are
 * registered; with none, nothing is loaded. See the README's OpenTelemetry
 * section for the spans and metrics.
 */
export interface TelemetryOptions {
  /** `false`: no spans, metrics or trace context headers, whatever is registered. Default `true`. */
  enabled?: boolean
  /** Used instead of the global tracer provider (e.g. when you run several). */
  tracerProvider?: { getTracer(name: string, version?: string): unknown } | null
  /** Used instead of the global meter provider. */
  meterProvider?: { getMeter(name: string, version?: string): unknown } | null
}

/**
 * Telemetry settings (see {@link TelemetryOptions}); called with nothing,
 * back to the defaults. Throws `InvalidArgumentError` for a value of the
 * wrong type.
 */
export declare function configureTelemetry(options?: TelemetryOptions | null): void

/**
 * The base class of every authenticator. Each holds one credential with its
 * settings and shares the process-wide token cache: single flight per
 * (kind, identity, settings), background refresh past 80% of the life,
 * never handed out with under 10 s to live. `util.inspect` and
 * `JSON.stringify` show its non-secret settings only. Not constructed
 * directly; pass any authenticator to `new WmlClient({ url, authenticator })`.
 */
export declare abstract class Authenticator {
  /** The access token (cached). Rejects with this package's error classes. */
  getToken(): Promise<string>
  /** The token with what its service said about it. */
  getTokenInfo(): Promise<IamTokenInfo>
  /** `"Bearer <token>"`, ready for an `Authorization` header. */
  authorizationHeader(): Promise<string>
  /** Drops the cached token: the next call fetches a new one (a `BearerTokenAuthenticator`'s token stays). */
  invalidate(): void
  /** ibm-cloud-sdk-core's name for the kind. */
  authenticationType(): AuthenticationType
}

/** What `Authenticator.authenticationType()` answers (ibm-cloud-sdk-core's names). */
export type AuthenticationType = 'iam' | 'container' | 'iamAssume' | 'vpc' | 'cp4d' | 'mcsp' | 'bearerToken' | 'noAuth'

/** One API key with its IAM settings (`POST {url}/identity/token`, apikey grant). */
export declare class IamAuthenticator extends Authenticator {
  constructor(options: IamOptions & { apikey: string })
}

/** A trusted profile, by one of these (ibm-cloud-sdk-core's option names). */
export interface TrustedProfileOptions {
  /** `Profile-...`: sent as `profile_id`. */
  iamProfileId?: string
  /** Sent as `profile_name`. */
  iamProfileName?: string
  /** `crn:v1:...:profile:Profile-...`: sent as `profile_crn`. */
  iamProfileCrn?: string
}

/**
 * `ContainerAuthenticator`: at least one of the profile options
 * (ibm-cloud-sdk-core allows `iamProfileId` and `iamProfileName` together;
 * all given are sent).
 */
export interface ContainerAuthenticatorOptions extends IamOptions, TrustedProfileOptions {
  /**
   * The compute resource token file, read again for every token request (the
   * platform rotates it). Default: the first readable of
   * `/var/run/secrets/tokens/vault-token`, `/var/run/secrets/tokens/sa-token`,
   * `/var/run/secrets/codeengine.cloud.ibm.com/compute-resource-token/token`.
   * Missing, empty or unreadable: `InvalidArgumentError` naming the file, at the first call.
   */
  crTokenFilename?: string
}

/**
 * A trusted profile from a compute resource (IBM Cloud Kubernetes Service,
 * Red Hat OpenShift on IBM Cloud, Code Engine): `POST {url}/identity/token`
 * with `grant_type=urn:ibm:params:oauth:grant-type:cr-token`, the file's
 * token as `cr_token`, and the profile. IAM's refusals are `IamError`.
 */
export declare class ContainerAuthenticator extends Authenticator {
  constructor(options: ContainerAuthenticatorOptions)
}

/**
 * `IamAssumeAuthenticator`: exactly one of `iamProfileId`, `iamProfileCrn`,
 * or `iamProfileName` with `iamAccountId`. `clientId`/`clientSecret` and
 * `scope` apply to the API key step only (as in ibm-cloud-sdk-core).
 */
export interface IamAssumeAuthenticatorOptions extends IamOptions, TrustedProfileOptions {
  apikey: string
  /** The profile's account; with `iamProfileName` only. */
  iamAccountId?: string
}

/**
 * A trusted profile assumed with an API key: an API key token first (from
 * the same cache: shared with an `IamAuthenticator` of that key and
 * settings), then `grant_type=urn:ibm:params:oauth:grant-type:assume` with
 * it as `access_token`. IAM's refusals are `IamError`.
 */
export declare class IamAssumeAuthenticator extends Authenticator {
  constructor(options: IamAssumeAuthenticatorOptions)
}

/** `VpcInstanceAuthenticator`: at most one profile option; none means the instance's default linked profile. */
export interface VpcInstanceAuthenticatorOptions extends TransportOptions, TrustedProfileOptions {
  /**
   * The instance metadata service. Default `http://169.254.169.254` (contacted
   * only when a token is asked for); `http://api.metadata.cloud.ibm.com` or
   * `https://api.metadata.cloud.ibm.com` also work.
   */
  url?: string
}

/**
 * A trusted profile of a VPC virtual server instance: `PUT
 * {url}/instance_identity/v1/token?version=2022-03-01` (`Metadata-Flavor:
 * ibm`), then `POST {url}/instance_identity/v1/iam_token` with that
 * identity token. The metadata service's refusals are `AuthError`
 * (`service: 'vpc'`). Every request has a timeout (the service never
 * answers when it is turned off).
 */
export declare class VpcInstanceAuthenticator extends Authenticator {
  constructor(options?: VpcInstanceAuthenticatorOptions)
}

/** `CloudPakForDataAuthenticator`: a username with exactly one of `password` and `apikey`. */
export interface CloudPakForDataAuthenticatorOptions extends TransportOptions {
  /**
   * The cluster URL (`https://cpd-host`), the API base (`.../icp4d-api`, as
   * ibm-cloud-sdk-core users pass it) or the endpoint itself (`.../v1/authorize`).
   */
  url: string
  username: string
  password?: string
  /** A platform API key (sent as `api_key`). */
  apikey?: string
}

/**
 * Cloud Pak for Data: `POST {url}/icp4d-api/v1/authorize` JSON `{username,
 * password}` or `{username, api_key}`; the answer's `token` is a JWT whose
 * `exp` gives its life. A wrong password is `AuthError` (`service: 'cp4d'`,
 * `errorCode`: the platform's `_messageCode_`). For the cluster's
 * self-signed certificate pass it as `caCert`.
 */
export declare class CloudPakForDataAuthenticator extends Authenticator {
  constructor(options: CloudPakForDataAuthenticatorOptions)
}

/** `McspAuthenticator` options. */
export interface McspAuthenticatorOptions extends TransportOptions {
  apikey: string
  /**
   * The token service, e.g. `https://account-iam.platform.saas.ibm.com`
   * (`/api/2.0/apikeys/token` is added); a URL with a path is used as given.
   */
  url: string
}

/**
 * MCSP API keys, for watsonx.ai on AWS: `POST {url}/api/2.0/apikeys/token`
 * JSON `{apikey}`, answer `{token, expires_in}`. Refusals are `AuthError`
 * (`service: 'mcsp'`).
 */
export declare class McspAuthenticator extends Authenticator {
  constructor(options: McspAuthenticatorOptions)
}

/**
 * A bearer token you manage: no token service, never refreshed. A token
 * whose JWT `exp` has passed is refused with `InvalidArgumentError` instead
 * of being sent.
 */
export declare class BearerTokenAuthenticator extends Authenticator {
  constructor(options: { bearerToken: string })
  /** Replaces the token; the next call (of this authenticator, or of a `WmlClient` using it) uses it. Throws `InvalidArgumentError` for an empty token. */
  setBearerToken(bearerToken: string): void
}

/** No authentication: a `WmlClient` using it sends no `Authorization` header; asking it for a token rejects with `InvalidArgumentError`. */
export declare class NoAuthAuthenticator extends Authenticator {
  constructor()
}

/**
 * The authenticator the environment describes, with ibm-cloud-sdk-core's
 * rules (`getAuthenticatorFromEnvironment`): `<NAME>_AUTH_TYPE` = `iam`,
 * `container`, `vpc`, `cp4d`, `iamassume`, `mcsp`, `bearertoken` or `noauth`
 * (any case; without one: `iam` when `<NAME>_APIKEY` is set, else
 * `container`), with `<NAME>_APIKEY`, `_AUTH_URL` (the token service),
 * `_CR_TOKEN_FILENAME`, `_IAM_PROFILE_ID`, `_IAM_PROFILE_NAME`,
 * `_IAM_PROFILE_CRN`, `_IAM_ACCOUNT_ID`, `_USERNAME`, `_PASSWORD`,
 * `_BEARER_TOKEN`, `_CLIENT_ID`, `_CLIENT_SECRET`, `_SCOPE`,
 * `_AUTH_DISABLE_SSL`; for `cp4d` without `_AUTH_URL`, `<NAME>_URL`. From the
 * credentials file, the environment or `VCAP_SERVICES`, as `WmlClient.fromEnv`.
 * `serviceName` defaults to `"WML"`. Throws `InvalidArgumentError` naming what
 * is missing (never a value).
 */
export declare function getAuthenticatorFromEnv(serviceName?: string): Authenticator

// ---------------------------------------------------------------- WML

/**
 * The credentials IBM's Python `APIClient(wml_credentials)` takes, one form of:
 * - `{ url, apikey }`: an IBM Cloud API key (IAM);
 * - `{ url, token }`: a bearer token you manage (no token call is made; an expired JWT is refused);
 * - `{ url, username, password, instance_id: 'openshift' }` or
 *   `{ url, username, apikey, instance_id: 'openshift' }`: Cloud Pak for Data, the token from
 *   `{url}/icp4d-api/v1/authorize` (`instance_id` selects it, as in the Python client; `'icp'` works too);
 * - `{ url, authenticator }`: any authenticator of this package.
 */
export interface WmlCredentials extends Omit<IamOptions, 'url'> {
  /** Service URL, e.g. `https://us-south.ml.cloud.ibm.com`, or the Cloud Pak for Data cluster URL. */
  url: string
  /** A user or service ID API key (IBM Cloud), or with `username` a Cloud Pak for Data platform API key. */
  apikey?: string
  /** Or a bearer token you manage yourself (no token call is made). */
  token?: string
  /** Cloud Pak for Data user (with `password` or `apikey`, and `instance_id: 'openshift'`). */
  username?: string
  /** Cloud Pak for Data password. */
  password?: string
  /**
   * `'openshift'` (or `'icp'`): the credentials are Cloud Pak for Data's. Any
   * other value (an IBM Cloud instance id of older credentials) is ignored.
   */
  instance_id?: 'openshift' | 'icp' | (string & {})
  /** Or an authenticator of this package (its token cache entry is shared). */
  authenticator?: Authenticator
  /** IAM base URL for the apikey. Default `https://iam.cloud.ibm.com`. */
  iamUrl?: string
  /**
   * API version date sent as `?version=`. Default `2023-05-29`. With Cloud Pak
   * for Data credentials a release such as `'5.0'` (what the Python client
   * takes here) is accepted and not sent.
   */
  version?: string
  /**
   * The watsonx.ai project the calls on a foundation model (`chat`, `embed`,
   * `modelGenerateText`, `rerank`, `tokenize`, ...) run in when their request
   * names no `project_id` / `space_id`. At most one of `projectId` and `spaceId`.
   */
  projectId?: string
  /** Or the deployment space those calls run in. */
  spaceId?: string
}

export interface RequestOptions {
  /** Aborts the call at once; an already aborted signal sends nothing. */
  signal?: AbortSignal
  /** Bound on the whole call (token, retries, body), in ms. Default: the credentials' `timeoutMs`, else 60000. For streams: the whole stream. */
  timeoutMs?: number
  /** Sent as `X-Global-Transaction-Id`. */
  transactionId?: string
}

/** A JSON value as the service accepts it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/** One input block of a scoring request. */
export interface ScoringInput {
  id?: string
  fields?: string[]
  /** Rows; a row may nest deeper for tensors. */
  values: JsonValue[][] | JsonValue[]
}

export interface ScoringPayload {
  input_data: ScoringInput[]
  [key: string]: unknown
}

export interface ScoringPrediction {
  id?: string
  fields?: string[]
  values: JsonValue[]
  [key: string]: unknown
}

export interface ScoringResponse {
  predictions: ScoringPrediction[]
  [key: string]: unknown
}

export type DecodingMethod = 'greedy' | 'sample'

export interface TextGenerationParameters {
  decoding_method?: DecodingMethod
  max_new_tokens?: number
  min_new_tokens?: number
  stop_sequences?: string[]
  temperature?: number
  top_k?: number
  top_p?: number
  repetition_penalty?: number
  random_seed?: number
  time_limit?: number
  truncate_input_tokens?: number
  include_stop_sequence?: boolean
  return_options?: Record<string, boolean>
  [key: string]: unknown
}

export interface TextGenerationRequest {
  input: string
  parameters?: TextGenerationParameters
  moderations?: Record<string, unknown>
  [key: string]: unknown
}

export type StopReason =
  | 'not_finished'
  | 'max_tokens'
  | 'eos_token'
  | 'cancelled'
  | 'time_limit'
  | 'stop_sequence'
  | 'token_limit'
  | 'error'

export interface TextGenerationResult {
  generated_text: string
  generated_token_count?: number
  input_token_count?: number
  stop_reason: StopReason
  seed?: number
  [key: string]: unknown
}

export interface TextGenerationResponse {
  model_id?: string
  created_at?: string
  results: TextGenerationResult[]
  [key: string]: unknown
}

// ---------------------------------------------------------------- watsonx.ai

/** Where a call on a foundation model runs; filled from the credentials' `projectId` / `spaceId` when absent. */
export interface ProjectOrSpace {
  project_id?: string
  space_id?: string
}

/** A warning the service attached to an answer (`system.warnings[]`). */
export interface ServiceWarning {
  message: string
  /** e.g. `disclaimer_warning`, `unspecified_max_token`, `deprecation_warning`, `api_legacy`. */
  id?: string
  more_info?: string
  additional_properties?: Record<string, unknown>
}

export interface SystemDetails {
  warnings?: ServiceWarning[]
}

export interface TokenUsage {
  completion_tokens: number
  prompt_tokens: number
  total_tokens: number
}

/** Text generation with a foundation model (`POST /ml/v1/text/generation`). */
export interface ModelTextGenerationRequest extends TextGenerationRequest, ProjectOrSpace {
  model_id: string
}

// chat messages

export interface ChatTextPart {
  type: 'text'
  text: string
}
export interface ChatImagePart {
  type: 'image_url'
  image_url: { url: string; detail?: 'low' | 'high' | 'auto' }
  data_asset?: { id: string }
}
export interface ChatVideoPart {
  type: 'video_url'
  video_url: { url: string }
}
export interface ChatAudioPart {
  type: 'input_audio'
  input_audio: { data: string; format: 'wav' | 'mp3' }
}
export type ChatContentPart = ChatTextPart | ChatImagePart | ChatVideoPart | ChatAudioPart

export interface ChatSystemMessage {
  role: 'system'
  content: string
  name?: string
}
export interface ChatUserMessage {
  role: 'user'
  /** Text, or parts (text, images, video, audio). */
  content: string | ChatContentPart[]
  name?: string
}
/** A tool call the model made. `arguments` is JSON text, as the model wrote it (it may not parse). */
export interface ChatToolCall {
  id: string
  type: 'function'
  function: { name: string; arguments: string }
}
export interface ChatAssistantMessage {
  role: 'assistant'
  /** Required unless `tool_calls` is given. */
  content?: string | null
  name?: string
  refusal?: string
  tool_calls?: ChatToolCall[]
}
/** The result of a tool call, answering the call with `tool_call_id`. */
export interface ChatToolMessage {
  role: 'tool'
  content: string
  tool_call_id: string
}
/** Model control (e.g. `content: 'thinking'` for Granite reasoning models). */
export interface ChatControlMessage {
  role: 'control'
  content: string
}
export type ChatMessage = ChatSystemMessage | ChatUserMessage | ChatAssistantMessage | ChatToolMessage | ChatControlMessage

export interface ChatTool {
  type: 'function'
  function: {
    name: string
    description?: string
    /** JSON Schema of the arguments. */
    parameters?: Record<string, unknown>
    strict?: boolean
  }
}

export type ChatToolChoiceOption = 'none' | 'auto' | 'required'

/** Forces a call of this tool. */
export interface ChatToolChoice {
  type: 'function'
  function: { name: string }
}

export type ChatResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; description?: string; schema?: Record<string, unknown>; strict?: boolean } }

/** Sampling and tool settings shared by `chat` and `deploymentChat` (wire names, passed through as given). */
export interface ChatParameters {
  tools?: ChatTool[]
  /** Only one of `tool_choice_option` and `tool_choice`. */
  tool_choice_option?: ChatToolChoiceOption
  tool_choice?: ChatToolChoice
  frequency_penalty?: number
  logit_bias?: Record<string, number>
  logprobs?: boolean
  top_logprobs?: number
  max_tokens?: number
  max_completion_tokens?: number
  n?: number
  presence_penalty?: number
  response_format?: ChatResponseFormat
  seed?: number
  stop?: string[]
  temperature?: number
  top_p?: number
  /** In ms. */
  time_limit?: number
  repetition_penalty?: number
  length_penalty?: number
  include_reasoning?: boolean
  reasoning_effort?: 'low' | 'medium' | 'high'
  [key: string]: unknown
}

/** `POST /ml/v1/text/chat` and `chat_stream`. */
export interface ChatRequest extends ChatParameters, ProjectOrSpace {
  model_id: string
  messages: ChatMessage[]
  guided_choice?: string[]
  guided_regex?: string
  guided_grammar?: string
  guided_json?: Record<string, unknown>
}

/** `POST /ml/v1/deployments/{id}/text/chat` and `chat_stream` (the deployment names the model and space). */
export interface DeploymentChatRequest extends ChatParameters {
  messages: ChatMessage[]
  /** Text the deployment's prompt template inserts into the messages. */
  context?: string
}

export type ChatFinishReason = 'stop' | 'length' | 'tool_calls' | 'time_limit' | 'cancelled' | 'error'

export interface ChatResponseMessage {
  role: 'assistant'
  /** Absent when the message is tool calls alone. */
  content?: string
  tool_calls?: ChatToolCall[]
  refusal?: string
  reasoning_content?: string
}

export interface ChatChoice {
  index: number
  message: ChatResponseMessage
  finish_reason: ChatFinishReason | null
  logprobs?: unknown
}

/** The members a chat answer and each chat stream chunk share. */
export interface ChatCompletionHead {
  id: string
  object?: string
  model_id: string
  /** A copy of `model_id`. */
  model?: string
  model_version?: string
  /** Epoch seconds. */
  created: number
  created_at?: string
  usage?: TokenUsage
  system?: SystemDetails
  [key: string]: unknown
}

export interface ChatResponse extends ChatCompletionHead {
  choices: ChatChoice[]
}

/** A piece of a tool call in a stream: the first has `id`, `type` and the name; later ones pieces of `arguments` (and `name: ''`). */
export interface ChatToolCallDelta {
  index: number
  id?: string
  type?: 'function'
  function?: { name?: string; arguments?: string }
}

export interface ChatMessageDelta {
  role?: 'assistant'
  content?: string
  tool_calls?: ChatToolCallDelta[]
  refusal?: string
  reasoning_content?: string
}

export interface ChatStreamChoice {
  index: number
  delta: ChatMessageDelta
  finish_reason: ChatFinishReason | null
  logprobs?: unknown
}

/** One event of a chat stream. The last one usually has `choices: []` and the `usage`. */
export interface ChatStreamChunk extends ChatCompletionHead {
  choices: ChatStreamChoice[]
}

/**
 * A streamed call: an async iterable of the service's chunks, plus `result()`.
 * The request goes out at the first `next()` (or `result()`). Breaking out of
 * the loop, `return()` or an abort closes the connection at once (the service
 * stops generating); an error event makes the iteration throw `WmlError`.
 */
export interface ResultStream<Chunk, Result> extends AsyncIterableIterator<Chunk> {
  /**
   * The whole answer in the shape of the plain call, assembled from the
   * chunks: reads the rest of the stream (chunks a loop already took count
   * too; call it after the loop, or instead of one). For chat: per choice the
   * message with its content joined and its `tool_calls` joined from their
   * pieces, the finish reason, the `usage`. For generation: the text joined,
   * token counts, the stop reason. Rejects with the stream's error, or
   * `AbortError` when the stream was closed before its end.
   */
  result(): Promise<Result>
}

export type ChatStream = ResultStream<ChatStreamChunk, ChatResponse>
export type TextGenerationStream = ResultStream<TextGenerationResponse, TextGenerationResponse>

// embeddings, rerank, tokenization, model specs

/** `POST /ml/v1/text/embeddings`. Any number of `inputs`: more than 1,000 are sent as several requests. */
export interface EmbeddingsRequest extends ProjectOrSpace {
  model_id: string
  inputs: string[]
  parameters?: {
    truncate_input_tokens?: number
    return_options?: { input_text?: boolean }
    [key: string]: unknown
  }
  [key: string]: unknown
}

export interface EmbeddingResult {
  /** A view over one buffer shared by every result of the call (`.slice()` makes an own copy). */
  embedding: Float32Array
  /** With `parameters.return_options.input_text`. */
  input?: string
}

export interface EmbeddingsResponse {
  model_id: string
  /** In input order. */
  results: EmbeddingResult[]
  created_at: string
  /** Summed over the requests of a split call. */
  input_token_count: number
  system?: SystemDetails
  [key: string]: unknown
}

/** `POST /ml/v1/text/rerank`. */
export interface RerankRequest extends ProjectOrSpace {
  model_id: string
  query: string
  inputs: Array<{ text: string }>
  parameters?: {
    truncate_input_tokens?: number
    return_options?: { top_n?: number; inputs?: boolean; query?: boolean }
    [key: string]: unknown
  }
  [key: string]: unknown
}

export interface RerankResult {
  /** Position in the request's `inputs`. */
  index: number
  score: number
  input?: { text: string }
}

export interface RerankResponse {
  model_id: string
  model_version?: string
  /** Highest score first. */
  results: RerankResult[]
  created_at: string
  input_token_count: number
  query?: string
  system?: SystemDetails
  [key: string]: unknown
}

/** `POST /ml/v1/text/tokenization`. */
export interface TokenizeRequest extends ProjectOrSpace {
  model_id: string
  input: string
  parameters?: { return_tokens?: boolean; [key: string]: unknown }
  [key: string]: unknown
}

export interface TokenizeResponse {
  model_id: string
  result: { token_count: number; tokens?: string[] }
  system?: SystemDetails
  [key: string]: unknown
}

/** Query of `GET /ml/v1/foundation_model_specs` (wire names). */
export interface FoundationModelsQuery {
  /** e.g. `function_text_chat`, `function_embedding`, `provider_IBM`, `!lifecycle_withdrawn`, joined by `,` with an optional `:and` / `:or`. */
  filters?: string
  /** 1 to 200, default 100. */
  limit?: number
  /** The paging token: the `start` parameter of the previous answer's `next.href`. */
  start?: string
  tech_preview?: boolean
  [key: string]: string | number | boolean | undefined
}

export interface FoundationModelLifecycle {
  id: string
  label?: string
  start_date?: string
  alternative_model_ids?: string[]
  url?: string
}

export interface FoundationModel {
  model_id: string
  label: string
  provider: string
  source: string
  /** e.g. `[{ id: 'text_chat' }, { id: 'embedding' }]`. */
  functions?: Array<{ id: string }>
  short_description: string
  long_description?: string
  tuned_by?: string
  input_tier: string
  output_tier: string
  number_params: string
  min_shot_size?: number
  model_limits?: {
    max_sequence_length?: number
    max_output_tokens?: number
    embedding_dimension?: number
    [key: string]: unknown
  }
  limits?: Record<string, unknown>
  lifecycle?: FoundationModelLifecycle[]
  task_ids?: string[]
  tasks?: Array<{ id: string; [key: string]: unknown }>
  versions?: Array<{ version?: string; available_date?: string }>
  supported_languages?: string[]
  tech_preview?: boolean
  [key: string]: unknown
}

export interface FoundationModelsResponse {
  total_count?: number
  limit: number
  first: { href: string }
  next?: { href: string }
  resources: FoundationModel[]
  system?: SystemDetails
  [key: string]: unknown
}

/** The Watson Machine Learning / watsonx.ai client. */
export declare class WmlClient {
  constructor(credentials: WmlCredentials)
  /**
   * A client configured from the environment, following IBM's SDK conventions
   * (ibm-cloud-sdk-core's external configuration). `serviceName` defaults to
   * `"WML"` (upper-cased, `-` becomes `_`). `<NAME>_URL` (required) and
   * `<NAME>_VERSION`, `<NAME>_PROJECT_ID`, `<NAME>_SPACE_ID`; the credential as for {@link getAuthenticatorFromEnv}
   * (`<NAME>_AUTH_TYPE` and its settings; without a type, `iam` with
   * `<NAME>_APIKEY`, else `container`). `<NAME>_DISABLE_SSL` turns off TLS
   * verification of the WML calls, `<NAME>_AUTH_DISABLE_SSL` that of the token
   * service (for `iam` and `bearertoken`, either turns off both). Sources,
   * first one with any `<NAME>_` property wins (as in IBM's core): the
   * credentials file (`IBM_CREDENTIALS_FILE`, else `./ibm-credentials.env`,
   * else `~/ibm-credentials.env`), the environment, then `VCAP_SERVICES`. A
   * missing value throws `InvalidArgumentError` naming the variable (never its value).
   */
  static fromEnv(serviceName?: string): WmlClient
  /** `POST /ml/v4/deployments/{id}/predictions`. `payload` may also be pre-serialised JSON bytes. */
  score(deploymentId: string, payload: ScoringPayload | Uint8Array, options?: RequestOptions): Promise<ScoringResponse>
  /** `POST /ml/v1/deployments/{id}/text/generation`. */
  generateText(
    deploymentId: string,
    request: TextGenerationRequest | Uint8Array,
    options?: RequestOptions,
  ): Promise<TextGenerationResponse>
  /**
   * `POST /ml/v1/deployments/{id}/text/generation_stream`: one chunk per
   * server event. Breaking out of the loop, `return()` or an abort closes the
   * connection at once; an error event makes the iteration throw `WmlError`.
   */
  generateTextStream(
    deploymentId: string,
    request: TextGenerationRequest | Uint8Array,
    options?: RequestOptions,
  ): TextGenerationStream
  /** `POST /ml/v1/text/generation`: text generation with a foundation model by `model_id`. */
  modelGenerateText(request: ModelTextGenerationRequest | Uint8Array, options?: RequestOptions): Promise<TextGenerationResponse>
  /** `POST /ml/v1/text/generation_stream`. */
  modelGenerateTextStream(request: ModelTextGenerationRequest | Uint8Array, options?: RequestOptions): TextGenerationStream
  /**
   * `POST /ml/v1/text/chat`: chat with a foundation model by `model_id`, with
   * tools. The request is sent as given (wire names); `project_id` / `space_id`
   * come from the credentials when it has neither (with neither anywhere it
   * rejects with `InvalidArgumentError`, sending nothing).
   */
  chat(request: ChatRequest | Uint8Array, options?: RequestOptions): Promise<ChatResponse>
  /** `POST /ml/v1/text/chat_stream`: the chunks, and `result()` for the assembled answer. */
  chatStream(request: ChatRequest | Uint8Array, options?: RequestOptions): ChatStream
  /** `POST /ml/v1/deployments/{id}/text/chat`. */
  deploymentChat(deploymentId: string, request: DeploymentChatRequest | Uint8Array, options?: RequestOptions): Promise<ChatResponse>
  /** `POST /ml/v1/deployments/{id}/text/chat_stream`. */
  deploymentChatStream(deploymentId: string, request: DeploymentChatRequest | Uint8Array, options?: RequestOptions): ChatStream
  /**
   * `POST /ml/v1/text/embeddings`. The answer is read in native code, off the
   * JS thread; each `embedding` is a `Float32Array`. More than 1,000 inputs
   * are sent as several requests (4 at a time), joined in input order with
   * the token counts summed; any part failing rejects the whole call.
   */
  embed(request: EmbeddingsRequest | Uint8Array, options?: RequestOptions): Promise<EmbeddingsResponse>
  /** `POST /ml/v1/text/rerank`. */
  rerank(request: RerankRequest | Uint8Array, options?: RequestOptions): Promise<RerankResponse>
  /** `POST /ml/v1/text/tokenization`. */
  tokenize(request: TokenizeRequest | Uint8Array, options?: RequestOptions): Promise<TokenizeResponse>
  /** `GET /ml/v1/foundation_model_specs` (no project needed). */
  listFoundationModels(query?: FoundationModelsQuery, options?: RequestOptions): Promise<FoundationModelsResponse>
}

// ---------------------------------------------------------------- errors

export type ErrorCode =
  | 'ERR_INVALID_ARG'
  | 'ERR_IAM'
  | 'ERR_AUTH'
  | 'ERR_WML'
  | 'ERR_TIMEOUT'
  | 'ERR_NETWORK'
  | 'ERR_TLS'
  | 'ERR_BAD_RESPONSE'
  | 'ERR_ABORTED'
  | 'ERR_INTERNAL'

/** The service's own error entries (`errors[]` of a WML error body). */
export interface WmlServiceError {
  code: string
  message: string
  more_info?: string
  [key: string]: unknown
}

/** Base class of every error this package rejects with. Never carries a key or token. */
export declare class WmlNativeError extends Error {
  readonly code: ErrorCode
  /** HTTP status the service answered with, when there was one. */
  readonly status?: number
}
/** A bad argument; nothing was sent. */
export declare class InvalidArgumentError extends WmlNativeError {
  readonly code: 'ERR_INVALID_ARG'
}
/** IAM answered with an error status. */
export declare class IamError extends WmlNativeError {
  readonly code: 'ERR_IAM'
  readonly status: number
  /** IAM's `errorCode`, e.g. `BXNIM0415E`. */
  readonly iamErrorCode?: string
  /** IAM's `context.requestId`, else its `Transaction-Id` response header. */
  readonly requestId?: string
}
/**
 * A token service other than IAM answered with an error status: Cloud Pak for
 * Data (a wrong password), the VPC instance metadata service (an unknown
 * profile), MCSP. IAM grants (API key, trusted profile cr-token and assume)
 * fail with `IamError`.
 */
export declare class AuthError extends WmlNativeError {
  readonly code: 'ERR_AUTH'
  readonly status: number
  /** Which token service. */
  readonly service: 'cp4d' | 'vpc' | 'mcsp'
  /** The service's own error code: VPC `errors[0].code`, Cloud Pak for Data `_messageCode_`, MCSP `errorCode`. */
  readonly errorCode?: string
  /** The VPC metadata service's `errors` array. */
  readonly errors?: WmlServiceError[]
  /** The VPC metadata service's `trace`. */
  readonly trace?: string
  /** A request id the service gave (`context.requestId`, `X-Request-Id`). */
  readonly requestId?: string
}
/** WML / watsonx.ai answered with an error status (or an error event mid-stream). */
export declare class WmlError extends WmlNativeError {
  readonly code: 'ERR_WML'
  readonly status: number
  readonly errors?: WmlServiceError[]
  readonly trace?: string
}
export declare class TimeoutError extends WmlNativeError {
  readonly code: 'ERR_TIMEOUT'
}
export declare class NetworkError extends WmlNativeError {
  readonly code: 'ERR_NETWORK'
}
/** The server's TLS certificate was rejected (see `caCert`). */
export declare class TlsError extends WmlNativeError {
  readonly code: 'ERR_TLS'
}
/** A 2xx answer that could not be used. */
export declare class BadResponseError extends WmlNativeError {
  readonly code: 'ERR_BAD_RESPONSE'
}
/** The caller's AbortSignal fired; `cause` is the signal's reason. */
export declare class AbortError extends WmlNativeError {
  readonly code: 'ERR_ABORTED'
}
/** A bug in this package (a panic, an internal task that went away); never retried. Please report it. */
export declare class InternalError extends WmlNativeError {
  readonly code: 'ERR_INTERNAL'
}
