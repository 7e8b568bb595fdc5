'use strict'
// Error builders: the one place error bodies are shaped, one builder per
// service shape (WML/watsonx.ai, IAM, VPC metadata, Cloud Pak for Data, MCSP).
const http = require('http')
const crypto = require('crypto')
const { randomHex, iamTimestamp, jsonReply } = require('./util')

const MORE_INFO = 'https://cloud.ibm.com/apidocs/machine-learning'
const WATSONX_MORE_INFO = 'https://cloud.ibm.com/apidocs/watsonx-ai'
const VPC_MORE_INFO = 'https://cloud.ibm.com/docs/vpc?topic=vpc-imd-configure-service'

/**
 * The code and message each shape gives a status when the fault or route
 * names none: per status, `[WML/watsonx.ai, IAM, VPC]`, each `[code, message]`.
 */
const DEFAULT_ERRORS = {
  400: [
    ['invalid_input_argument', 'Invalid input argument.'],
    ['BXNIM0415E', 'Provided API key could not be found.'],
    ['bad_request', 'The request is not valid.'],
  ],
  401: [
    ['authentication_token_not_valid', 'Authentication token is not valid.'],
    ['BXNIM0102E', 'Unauthorized: the request could not be authenticated.'],
    ['not_authorized', 'The request is not authorized.'],
  ],
  403: [
    ['authorization_rejected', 'Authorization rejected: the user is not allowed to access this resource.'],
    ['BXNIM0513E', 'You are not authorized to use this API key.'],
    ['forbidden', 'The request is forbidden.'],
  ],
  404: [
    ['deployment_not_found', 'Deployment does not exist. Re-try with a valid deployment id.'],
    ['BXNIM0404E', 'Not found.'],
    ['not_found', 'The resource was not found.'],
  ],
  405: [
    ['method_not_allowed', 'Method not allowed.'],
    ['BXNIM0405E', 'Method not allowed.'],
    ['method_not_allowed', 'Method not allowed.'],
  ],
  413: [
    ['request_entity_too_large', 'The request entity is larger than the limit of 64 MB.'],
    ['BXNIM0413E', 'Request entity too large.'],
    ['request_too_large', 'The request entity is too large.'],
  ],
  429: [
    ['rate_limit_reached_requests', 'The rate limit for requests has been reached. Try again later.'],
    ['BXNIM0420E', 'Too many requests. Try again later.'],
    ['too_many_requests', 'Too many requests. Try again later.'],
  ],
}

/**
 * Any other status, per shape: `[code for 5xx, what follows the status text
 * in its message, code for the rest]` (the rest's message is the status text).
 */
const OTHER_ERRORS = [
  ['internal_error', ': the service could not process the request.', 'invalid_request'],
  ['BXNIM0012E', ': internal error.', 'BXNIM0100E'],
  ['internal_error', ': internal error.', 'bad_request'],
]

const SHAPES = { wml: 0, iam: 1, vpc: 2 }

function statusText(status, fallback) {
  return http.STATUS_CODES[status] || fallback
}

/** `[code, message]` of a `shape` ('wml' | 'iam' | 'vpc') error with `status` when none is given. */
function defaultError(shape, status) {
  const i = SHAPES[shape]
  if (DEFAULT_ERRORS[status]) return DEFAULT_ERRORS[status][i]
  const [serverCode, serverMessage, otherCode] = OTHER_ERRORS[i]
  if (status >= 500) return [serverCode, `${statusText(status, 'Server error')}${serverMessage}`]
  return [otherCode, statusText(status, 'Request failed.')]
}

const wmlDefaultError = (status) => defaultError('wml', status)

/** The HTTP status a WML error code goes with (for stream error events). */
function wmlStatusFor(code) {
  if (/^authentication_token|not_valid$/.test(code)) return 401
  if (code === 'authorization_rejected') return 403
  if (/not_found$|^model_not_supported$/.test(code)) return 404
  if (/^rate_limit|^token_quota_reached$/.test(code)) return 429
  if (/internal|unavailable|timeout/.test(code)) return 500
  return 400
}

function wmlErrorBody(status, code, message, moreInfo = MORE_INFO) {
  return { errors: [{ code, message, more_info: moreInfo }], trace: randomHex(16), status_code: status }
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
  const moreInfo = (ctx.route && ctx.route.moreInfo) || MORE_INFO
  return jsonReply(status, wmlErrorBody(status, code || defCode, message || defMessage, moreInfo), wmlHeaders(ctx, headers))
}

/** An IAM-shaped JSON error reply (with a Transaction-Id header). MCSP answers in this shape too. */
function iamError(ctx, status, code, message, extraHeaders, errorDetails) {
  const [defCode, defMessage] = defaultError('iam', status)
  const requestId = `fake-${crypto.randomUUID()}`
  const end = ctx.clock()
  const body = {
    errorCode: code || defCode,
    errorMessage: message || defMessage,
    ...(errorDetails ? { errorDetails } : {}),
    context: {
      requestId,
      requestType: (ctx.route && ctx.route.requestType) || 'incoming.Identity_Token',
      userAgent: ctx.req.headers['user-agent'] || '',
      url: ctx.baseUrl,
      instanceId: 'iamid-fake-0',
      threadId: randomHex(3),
      host: 'iam-fake',
      startTime: iamTimestamp(ctx.start),
      endTime: iamTimestamp(end),
      elapsedTime: String(Math.max(0, end - ctx.start)),
      locale: 'en_US',
      clusterName: 'iam-id-fake',
    },
  }
  return jsonReply(status, body, { 'Content-Type': 'application/json', 'Transaction-Id': requestId, ...extraHeaders })
}

/** A VPC (instance metadata) API error: `{errors:[{code,message,more_info,target?}],trace,status_code}`. */
function vpcError(ctx, status, code, message, target, extraHeaders) {
  const [defCode, defMessage] = defaultError('vpc', status)
  const error = { code: code || defCode, message: message || defMessage, more_info: VPC_MORE_INFO }
  if (target) error.target = target
  const trace = crypto.randomUUID()
  return jsonReply(status, { errors: [error], trace, status_code: status }, { 'X-Request-Id': trace, ...extraHeaders })
}

/** A Cloud Pak for Data (zen) error: `{_messageCode_, message}`. */
function cpdError(ctx, status, code, message, extraHeaders) {
  return jsonReply(status, {
    _messageCode_: code || String(status),
    message: message || statusText(status, 'Request failed.'),
  }, extraHeaders)
}

const ERROR_BUILDERS = {
  wml: wmlError,
  iam: iamError,
  mcsp: iamError,
  cpd: cpdError,
  vpc: (ctx, status, code, message, extraHeaders) => vpcError(ctx, status, code, message, undefined, extraHeaders),
}

/** The error reply in the shape of the request's route (WML when no route matched). */
function routeError(ctx, status, code, message, extraHeaders) {
  const build = ERROR_BUILDERS[(ctx.route && ctx.route.shape) || 'wml']
  return build(ctx, status, code, message, extraHeaders)
}

function htmlErrorPage(status) {
  const title = `${status} ${statusText(status, 'Error')}`
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

module.exports = {
  MORE_INFO,
  WATSONX_MORE_INFO,
  VPC_MORE_INFO,
  wmlDefaultError,
  wmlStatusFor,
  wmlErrorBody,
  wmlHeaders,
  wmlError,
  iamError,
  vpcError,
  cpdError,
  routeError,
  htmlErrorPage,
}
