'use strict'
// Type checks of option objects, so a wrong type is a clear ERR_INVALID_ARG
// naming the option (and never reaches the native layer).
const { invalid } = require('./errors')

const IAM_OPTIONS = {
  url: 'string',
  clientId: 'string',
  clientSecret: 'string',
  scope: 'string',
  timeoutMs: 'number',
  maxRetries: 'number',
  headers: 'object',
  disableSslVerification: 'boolean',
  caCert: 'string',
}

/** Returns an InvalidArgumentError, or undefined when `o` is fine. */
function checkOptions(o, shape, what) {
  if (o === undefined || o === null) return undefined
  if (typeof o !== 'object') return invalid(`${what} must be an object`)
  for (const k in shape) {
    const v = o[k]
    if (v === undefined || v === null) continue
    if (typeof v !== shape[k]) return invalid(`${what}.${k} must be a ${shape[k]}`)
  }
  if (o.headers != null) {
    for (const [k, v] of Object.entries(o.headers)) {
      if (typeof v !== 'string') return invalid(`${what}.headers.${k} must be a string`)
    }
  }
  return undefined
}

/**
 * The IAM options check, unrolled: it runs on the cached-token path, where
 * the generic loop above costs more than the rest of the call.
 */
function checkIamOptions(o, what = 'options') {
  if (o === undefined || o === null) return undefined
  if (typeof o !== 'object') return invalid(`${what} must be an object`)
  const { url, clientId, clientSecret, scope, timeoutMs, maxRetries, headers, disableSslVerification, caCert } = o
  if (url != null && typeof url !== 'string') return invalid(`${what}.url must be a string`)
  if (clientId != null && typeof clientId !== 'string') return invalid(`${what}.clientId must be a string`)
  if (clientSecret != null && typeof clientSecret !== 'string') return invalid(`${what}.clientSecret must be a string`)
  if (scope != null && typeof scope !== 'string') return invalid(`${what}.scope must be a string`)
  if (timeoutMs != null && typeof timeoutMs !== 'number') return invalid(`${what}.timeoutMs must be a number`)
  if (maxRetries != null && typeof maxRetries !== 'number') return invalid(`${what}.maxRetries must be a number`)
  if (disableSslVerification != null && typeof disableSslVerification !== 'boolean') {
    return invalid(`${what}.disableSslVerification must be a boolean`)
  }
  if (caCert != null && typeof caCert !== 'string') return invalid(`${what}.caCert must be a string`)
  if (headers != null) return checkOptions(o, { headers: 'object' }, what)
  return undefined
}

/** Copies the IAM options the native layer reads (dropping null and unknown keys). */
function iamOptions(o) {
  const out = {}
  if (o) for (const k in IAM_OPTIONS) if (o[k] != null) out[k] = o[k]
  return out
}

module.exports = { IAM_OPTIONS, checkOptions, checkIamOptions, iamOptions }
