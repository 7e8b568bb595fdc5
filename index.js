'use strict'
// wml-native: IBM Cloud IAM tokens and Watson Machine Learning scoring.
const iam = require('./lib/iam')
const authenticators = require('./lib/authenticators')
const { WmlClient } = require('./lib/wml')
const { getAuthenticatorFromEnv } = require('./lib/env')
const errors = require('./lib/errors')
const { configureTelemetry } = require('./lib/telemetry')

module.exports = {
  getIamToken: iam.getIamToken,
  getIamTokenInfo: iam.getIamTokenInfo,
  clearTokenCache: iam.clearTokenCache,
  configureTokenCache: iam.configureTokenCache,
  tokenCacheStats: iam.tokenCacheStats,
  configureTelemetry,
  // Authenticator and its subclasses (IamAuthenticator, ...).
  ...authenticators,
  getAuthenticatorFromEnv,
  WmlClient,
  WmlNativeError: errors.WmlNativeError,
  InvalidArgumentError: errors.InvalidArgumentError,
  IamError: errors.IamError,
  AuthError: errors.AuthError,
  WmlError: errors.WmlError,
  TimeoutError: errors.TimeoutError,
  NetworkError: errors.NetworkError,
  TlsError: errors.TlsError,
  BadResponseError: errors.BadResponseError,
  AbortError: errors.AbortError,
  InternalError: errors.InternalError,
}
