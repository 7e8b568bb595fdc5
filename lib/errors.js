'use strict'
// Error classes. Every rejection of this package is one of these, with a
// stable `code`. The native layer rejects with a JSON payload that
// `fromNative` turns into the matching class; no key or token is ever in it.

class WmlNativeError extends Error {
  constructor(message, code, fields) {
    super(message)
    this.name = new.target.name
    this.code = code
    if (fields) {
      for (const k of ['status', 'iamErrorCode', 'requestId', 'errors', 'trace']) {
        if (fields[k] !== undefined) this[k] = fields[k]
      }
    }
  }
}

const classes = {}
function define(name, code) {
  const C = {
    [name]: class extends WmlNativeError {
      constructor(message, fields) {
        super(message, code, fields)
      }
    },
  }[name]
  classes[code] = C
  return C
}

const InvalidArgumentError = define('InvalidArgumentError', 'ERR_INVALID_ARG')
const IamError = define('IamError', 'ERR_IAM')
const WmlError = define('WmlError', 'ERR_WML')
const TimeoutError = define('TimeoutError', 'ERR_TIMEOUT')
const NetworkError = define('NetworkError', 'ERR_NETWORK')
const TlsError = define('TlsError', 'ERR_TLS')
const BadResponseError = define('BadResponseError', 'ERR_BAD_RESPONSE')
const AbortError = define('AbortError', 'ERR_ABORTED')

/** Builds the public error from the native layer's JSON payload, or undefined. */
function fromJson(text) {
  if (!text.startsWith('{"code":"')) return undefined
  try {
    const p = JSON.parse(text)
    const C = classes[p.code] || WmlNativeError
    return C === WmlNativeError ? new C(p.message, p.code, p) : new C(p.message, p)
  } catch {
    return undefined
  }
}

/** Builds the public error from one the native layer threw or rejected with. */
function fromNative(e) {
  if (e instanceof WmlNativeError) return e
  const msg = e && typeof e.message === 'string' ? e.message : ''
  const err = fromJson(msg)
  if (err) return err
  // A napi argument conversion failure: its text may quote the value, so it is not repeated.
  return new InvalidArgumentError('an argument has the wrong type')
}

function rethrow(e) {
  throw fromNative(e)
}

function invalid(message) {
  return new InvalidArgumentError(message)
}

module.exports = {
  WmlNativeError,
  InvalidArgumentError,
  IamError,
  WmlError,
  TimeoutError,
  NetworkError,
  TlsError,
  BadResponseError,
  AbortError,
  fromJson,
  fromNative,
  rethrow,
  invalid,
}
