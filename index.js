'use strict'
// wml-native: IBM Cloud IAM tokens and Watson Machine Learning scoring.
const iam = require('./lib/iam')
const { WmlClient } = require('./lib/wml')
const errors = require('./lib/errors')

module.exports = {
  getIamToken: iam.getIamToken,
  getIamTokenInfo: iam.getIamTokenInfo,
  clearTokenCache: iam.clearTokenCache,
  configureTokenCache: iam.configureTokenCache,
  tokenCacheStats: iam.tokenCacheStats,
  IamAuthenticator: iam.IamAuthenticator,
  WmlClient,
  WmlNativeError: errors.WmlNativeError,
  InvalidArgumentError: errors.InvalidArgumentError,
  IamError: errors.IamError,
  WmlError: errors.WmlError,
  TimeoutError: errors.TimeoutError,
  NetworkError: errors.NetworkError,
  TlsError: errors.TlsError,
  BadResponseError: errors.BadResponseError,
  AbortError: errors.AbortError,
  InternalError: errors.InternalError,
}
