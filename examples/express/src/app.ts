// An Express app in front of Watson Machine Learning / watsonx.ai:
//
//   POST /score/:deploymentId     JSON scoring payload in, the predictions out
//   POST /generate/:deploymentId  text generation streamed as Server-Sent Events
//   GET  /healthz                 liveness
//
// One WmlClient serves every request, so every request shares one cached IAM
// token (the package's cache refreshes it in the background). Upstream calls
// are tied to the HTTP request: when the client goes away, the call to WML is
// aborted and, for a stream, the connection to watsonx.ai is closed (an
// abandoned generation is otherwise still computed, and billed).
import { once } from 'node:events'
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express'
import {
  AbortError,
  InvalidArgumentError,
  TimeoutError,
  WmlClient,
  WmlError,
  WmlNativeError,
  type RequestOptions,
  type TextGenerationResponse,
  type WmlCredentials,
  type WmlServiceError,
} from 'wml-native'

export interface AppOptions {
  /** A client to use. Default: one made from `credentials`, else `WmlClient.fromEnv(serviceName)`. */
  client?: WmlClient
  /** Credentials for the client, e.g. `{ url, apikey }`. */
  credentials?: WmlCredentials
  /** Prefix of the environment variables read by `WmlClient.fromEnv` (`WML_URL`, `WML_APIKEY`, ...). Default `"WML"`. */
  serviceName?: string
  /** Bound on each upstream call in ms (for a stream: the whole stream). Default: the client's, 60 s. */
  timeoutMs?: number
  /** Largest accepted request body. Default `"1mb"`. */
  bodyLimit?: string
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  /** The service's error code (e.g. `deployment_not_found`), else the package's (`ERR_TIMEOUT`, ...). */
  error: string
  message: string
  /** The service's own error entries, for WML errors. */
  errors?: WmlServiceError[]
}

const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  // Tells nginx-style proxies not to buffer the stream.
  'X-Accel-Buffering': 'no',
}

export function createApp(options: AppOptions = {}): express.Express {
  // Built once, at startup: a configuration mistake (say WML_URL is not set)
  // fails here, with a message naming the variable, not on the first request.
  const client =
    options.client ?? (options.credentials ? new WmlClient(options.credentials) : WmlClient.fromEnv(options.serviceName))

  const app = express()
  app.disable('x-powered-by')
  const jsonBody = [requireJson, express.json({ limit: options.bodyLimit ?? '1mb' })]

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' })
  })

  // Express 5 passes a rejected handler promise to the error handler below
  // (`apiErrors`), which maps it to a status and a JSON body.
  app.post('/score/:deploymentId', jsonBody, async (req: Request<{ deploymentId: string }>, res: Response) => {
    res.json(await client.score(req.params.deploymentId, req.body, callOptions(req, res, options.timeoutMs)))
  })

  app.post('/generate/:deploymentId', jsonBody, async (req: Request<{ deploymentId: string }>, res: Response) => {
    const call = callOptions(req, res, options.timeoutMs)
    // Nothing is sent yet: the request goes out on the first next(), and any
    // error (bad arguments included) comes from there, inside the try.
    const stream = client.generateTextStream(req.params.deploymentId, req.body, call)
    try {
      // The first chunk is awaited before answering 200: an error before it
      // (unknown deployment, bad request, IAM failure) still gets its own
      // status and a JSON body, like /score.
      let next = await stream.next()
      res.status(200).set(SSE_HEADERS).flushHeaders()
      let last: TextGenerationResponse | undefined
      while (!next.done) {
        last = next.value
        await send(res, `data: ${JSON.stringify(next.value)}\n\n`, call.signal)
        next = await stream.next()
      }
      const result = last?.results?.[0]
      const summary = { stop_reason: result?.stop_reason, generated_token_count: result?.generated_token_count }
      await send(res, `event: done\ndata: ${JSON.stringify(summary)}\n\n`, call.signal)
      res.end()
    } catch (err) {
      // Before the first chunk: an ordinary error answer, from apiErrors.
      if (!res.headersSent) throw err
      if (!call.signal.aborted && !res.destroyed) {
        // Mid-stream the status is already sent: the error becomes an event.
        const [status, body] = errorResponse(err)
        res.end(`event: error\ndata: ${JSON.stringify({ status, ...body })}\n\n`)
      }
    } finally {
      // Closes the upstream connection if the loop stopped early; a no-op once it ended.
      await stream.return?.()
    }
  })

  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found', message: 'no such route' } satisfies ErrorBody)
  })
  app.use(apiErrors)
  return app
}

/**
 * Per-request options for the upstream call: an AbortSignal that fires when
 * the HTTP client disconnects, the timeout, and the caller's transaction id
 * (if any) passed on for tracing across IBM's logs.
 */
function callOptions(req: Request, res: Response, timeoutMs?: number): RequestOptions & { signal: AbortSignal } {
  const controller = new AbortController()
  // `res` 'close' fires when the connection ends; if the response was not
  // finished by then, the client went away. (`req` 'close' is no use here:
  // since Node 16 it fires as soon as the request body has been read.)
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(new Error('the HTTP client disconnected'))
  })
  return { signal: controller.signal, timeoutMs, transactionId: req.get('x-global-transaction-id') }
}

/** Writes one SSE event, waiting for the socket to drain when its buffer is full. */
async function send(res: Response, text: string, signal: AbortSignal): Promise<void> {
  if (!res.write(text)) await once(res, 'drain', { signal })
}

/** The HTTP status and body for an error of the package (or a bug here). */
export function errorResponse(err: unknown): [number, ErrorBody] {
  if (err instanceof WmlError) {
    // WML's own status and error entries, passed through; except 401/403,
    // which are about this app's credentials, not the caller's: a 502 says
    // "the upstream refused us" without telling the caller to log in again.
    const passThrough = err.status >= 400 && err.status <= 599 && err.status !== 401 && err.status !== 403
    const status = passThrough ? err.status : 502
    return [status, { error: err.errors?.[0]?.code ?? err.code, message: err.message, errors: err.errors ?? [] }]
  }
  if (err instanceof InvalidArgumentError) return [400, { error: err.code, message: err.message }]
  if (err instanceof TimeoutError) return [504, { error: err.code, message: err.message }]
  // IAM errors, network and TLS failures, unusable answers: a bad gateway.
  if (err instanceof WmlNativeError) return [502, { error: err.code, message: err.message }]
  console.error('unexpected error:', err)
  return [500, { error: 'internal_error', message: 'internal error' }]
}

/** Scoring and generation take JSON only (anything else would arrive as an empty body). */
const requireJson: RequestHandler = (req, res, next) => {
  if (req.is('application/json')) return next()
  res.status(415).json({ error: 'unsupported_media_type', message: 'send the body as application/json' } satisfies ErrorBody)
}

/**
 * Every error a route throws or rejects with, and body-parser's (malformed or
 * oversized JSON: 400 / 413), as a JSON answer with its status.
 */
const apiErrors: ErrorRequestHandler = (err, _req, res, next) => {
  // Mid-answer there is no status left to send: Express closes the connection.
  if (res.headersSent) return next(err)
  // An abort means the client is gone: there is nobody to answer.
  if (err instanceof AbortError || res.destroyed) return
  if (err && err.expose && typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
    const body: ErrorBody = {
      error: err.type === 'entity.parse.failed' ? 'invalid_json' : String(err.type ?? 'bad_request'),
      message: err.type === 'entity.parse.failed' ? 'the request body is not valid JSON' : String(err.message),
    }
    res.status(err.status).json(body)
    return
  }
  const [status, body] = errorResponse(err)
  res.status(status).json(body)
}
