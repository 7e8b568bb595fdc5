/**
 * wml-native: IBM Cloud IAM tokens and Watson Machine Learning / watsonx.ai
 * scoring for Node.js, as a native (Rust) addon with a process-wide token cache.
 */

// ---------------------------------------------------------------- IAM

/** Settings for the IAM token exchange. */
export interface IamOptions {
  /** IAM base URL. Default `https://iam.cloud.ibm.com`; a URL ending in `/identity/token` is accepted too. */
  url?: string
  /** HTTP Basic client id sent to IAM; only used when `clientSecret` is set too. */
  clientId?: string
  /** HTTP Basic client secret sent to IAM; only used when `clientId` is set too. */
  clientSecret?: string
  /** `scope` form field of the token request. */
  scope?: string
  /** Timeout of each token request attempt, in ms. Default `30000`. */
  timeoutMs?: number
  /** Retries after the first attempt (IAM: on 429, 500, 502, 503, 504 and connection failures; WML: on 429, 502, 503, 504, 520 and connection failures). Default `3`. */
  maxRetries?: number
  /** Extra headers sent with each request. */
  headers?: Record<string, string>
  /** Accept any TLS certificate. Default `false`. For test systems only. */
  disableSslVerification?: boolean
  /**
   * Extra trusted certificates, PEM (one or more): private CAs, or the
   * server's own self-signed certificate (accepted when it matches one of
   * these byte for byte; its host name and dates are still checked).
   */
  caCert?: string
  /**
   * An `http://` or `https://` proxy URL (it may carry `user:password@`).
   * Default: the `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` variables.
   */
  proxy?: string
}

/** What IAM said about a token. */
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

/** One API key with its IAM settings; shares the process-wide cache. */
export declare class IamAuthenticator {
  constructor(options: IamOptions & { apikey: string })
  getToken(): Promise<string>
  getTokenInfo(): Promise<IamTokenInfo>
  /** `"Bearer <token>"`, ready for an `Authorization` header. */
  authorizationHeader(): Promise<string>
  /** Drops the cached token for this key: the next call fetches a new one. */
  invalidate(): void
}

// ---------------------------------------------------------------- WML

/** The credentials IBM's Python `APIClient(wml_credentials)` takes. */
export interface WmlCredentials extends Omit<IamOptions, 'url'> {
  /** Service URL, e.g. `https://us-south.ml.cloud.ibm.com`. */
  url: string
  /** A user or service ID API key. */
  apikey?: string
  /** Or a bearer token you manage yourself (no IAM call is made). */
  token?: string
  /** Or an authenticator of this package (its token cache entry is shared). */
  authenticator?: IamAuthenticator
  /** IAM base URL for the apikey. Default `https://iam.cloud.ibm.com`. */
  iamUrl?: string
  /** API version date sent as `?version=`. Default `2023-05-29`. */
  version?: string
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

/** The Watson Machine Learning / watsonx.ai client. */
export declare class WmlClient {
  constructor(credentials: WmlCredentials)
  /**
   * A client configured from the environment, following IBM's SDK conventions
   * (ibm-cloud-sdk-core's external configuration). `serviceName` defaults to
   * `"WML"` (upper-cased, `-` becomes `_`). Properties: `<NAME>_URL` (required),
   * `<NAME>_APIKEY` or `<NAME>_BEARER_TOKEN`, `<NAME>_AUTH_TYPE` (`iam` or
   * `bearertoken`), `<NAME>_AUTH_URL`, `<NAME>_AUTH_DISABLE_SSL` /
   * `<NAME>_DISABLE_SSL`, `<NAME>_CLIENT_ID`, `<NAME>_CLIENT_SECRET`,
   * `<NAME>_SCOPE`, `<NAME>_VERSION`. Sources, first one with any `<NAME>_`
   * property wins (as in IBM's core): the credentials file (`IBM_CREDENTIALS_FILE`,
   * else `./ibm-credentials.env`, else `~/ibm-credentials.env`), the environment,
   * then `VCAP_SERVICES`. A missing value throws `InvalidArgumentError` naming
   * the variable (never its value).
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
  ): AsyncIterableIterator<TextGenerationResponse>
}

// ---------------------------------------------------------------- errors

export type ErrorCode =
  | 'ERR_INVALID_ARG'
  | 'ERR_IAM'
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
  /** IAM's `context.requestId`. */
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
