// @ts-check
'use strict'
// Error classes. Every rejection of this package is one of these, with a
// stable `code`. The codes and class names follow the native list
// (`errorCodes()`, src/error.rs); a test checks that this file, the native
// list and index.d.ts agree. This module loads no native code (the CLI
// uses it before the addon is loaded).

const FIELDS = /** @type {const} */ (['status', 'iamErrorCode', 'service', 'errorCode', 'requestId', 'errors', 'trace'])

class WmlNativeError extends Error {
  /**
   * @param {string} message
   * @param {string} code
   * @param {Record<string, unknown> | undefined} [fields] the service's fields (status, errors, ...)
   */
  constructor(message, code, fields) {
    super(message)
    this.name = new.target.name
    /** @type {string} */
    this.code = code
    if (fields) {
      for (const k of FIELDS) {
        const v = fields[k]
        if (v !== undefined && v !== null) /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (this))[k] = v
      }
    }
  }
}

/** @type {Record<string, new (message: string, fields?: Record<string, unknown>) => WmlNativeError>} */
const classes = {}

/**
 * @param {string} name
 * @param {string} code
 */
function define(name, code) {
  const C = {
    [name]: class extends WmlNativeError {
      /**
       * @param {string} message
       * @param {Record<string, unknown>} [fields]
       */
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
const AuthError = define('AuthError', 'ERR_AUTH')
const WmlError = define('WmlError', 'ERR_WML')
const TimeoutError = define('TimeoutError', 'ERR_TIMEOUT')
const NetworkError = define('NetworkError', 'ERR_NETWORK')
const TlsError = define('TlsError', 'ERR_TLS')
const BadResponseError = define('BadResponseError', 'ERR_BAD_RESPONSE')
const AbortError = define('AbortError', 'ERR_ABORTED')
const InternalError = define('InternalError', 'ERR_INTERNAL')

/**
 * The public error for what the native layer reported: a `NativeError`
 * object from the completion queue, or an `Error` a native function threw
 * (its `code` is ours). Anything else is an argument napi could not convert,
 * whose text may quote the value, so it is not repeated.
 * @param {unknown} e
 * @returns {Error}
 */
function fromNative(e) {
  if (e instanceof WmlNativeError) return e
  if (e !== null && typeof e === 'object') {
    const { code, message } = /** @type {{ code?: unknown, message?: unknown }} */ (e)
    const C = typeof code === 'string' ? classes[code] : undefined
    if (C !== undefined && typeof message === 'string') return new C(message, /** @type {Record<string, unknown>} */ (e))
  }
  return new InvalidArgumentError('an argument has the wrong type')
}

/** @param {string} message */
function invalid(message) {
  return new InvalidArgumentError(message)
}

module.exports = {
  WmlNativeError,
  InvalidArgumentError,
  IamError,
  AuthError,
  WmlError,
  TimeoutError,
  NetworkError,
  TlsError,
  BadResponseError,
  AbortError,
  InternalError,
  classes,
  fromNative,
  invalid,
}
