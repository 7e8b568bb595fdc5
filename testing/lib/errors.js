'use strict'
// Error builders: the one place error bodies are shaped, one builder per
// service shape (WML/watsonx.ai, IAM, VPC metadata, Cloud Pak for Data, MCSP).
const http = require('http')
const crypto = require('crypto')
const { randomHex, iamTimestamp, jsonReply } = require('./util')

const MORE_INFO = 'https://cloud.ibm.com/apidocs/machine-learning'
const WATSONX_MORE_INFO = 'https://cloud.ibm.com/apidocs/watsonx-ai'
const VPC_MORE_INFO = 'https://cloud.ibm.com/docs/vpc?topic=vpc-imd-configure-service'

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

const VPC_DEFAULT_ERRORS = {
  400: ['bad_request', 'The request is not valid.'],
  401: ['not_authorized', 'The request is not authorized.'],
  403: ['forbidden', 'The request is forbidden.'],
  404: ['not_found', 'The resource was not found.'],
  405: ['method_not_allowed', 'Method not allowed.'],
  413: ['request_too_large', 'The request entity is too large.'],
  429: ['too_many_requests', 'Too many requests. Try again later.'],
}

function statusText(status, fallback) {
  return http.STATUS_CODES[status] || fallback
}

function wmlDefaultError(status) {
  if (WML_DEFAULT_ERRORS[status]) return WML_DEFAULT_ERRORS[status]
  if (status >= 500) return ['internal_error', `${statusText(status, 'Server error')}: the service could not process the request.`]
  return ['invalid_request', statusText(status, 'Request failed.')]
}

function iamDefaultError(status) {
  if (IAM_DEFAULT_ERRORS[status]) return IAM_DEFAULT_ERRORS[status]
  if (status >= 500) return ['BXNIM0012E', `${statusText(status, 'Server error')}: internal error.`]
  return ['BXNIM0100E', statusText(status, 'Request failed.')]
}

function vpcDefaultError(status) {
  if (VPC_DEFAULT_ERRORS[status]) return VPC_DEFAULT_ERRORS[status]
  if (status >= 500) return ['internal_error', `${statusText(status, 'Server error')}: internal error.`]
  return ['bad_request', statusText(status, 'Request failed.')]
}

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
  const [defCode, defMessage] = iamDefaultError(status)
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
  const [defCode, defMessage] = vpcDefaultError(status)
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
