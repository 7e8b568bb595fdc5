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

/** Copies the IAM options the native layer reads (dropping null and unknown keys). */
function iamOptions(o) {
  const out = {}
  if (o) for (const k in IAM_OPTIONS) if (o[k] != null) out[k] = o[k]
  return out
}

module.exports = { IAM_OPTIONS, checkOptions, iamOptions }
