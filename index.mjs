// ESM entry: the same module as the CommonJS one.
import cjs from './index.js'

export const {
  getIamToken,
  getIamTokenInfo,
  clearTokenCache,
  configureTokenCache,
  tokenCacheStats,
  IamAuthenticator,
  WmlClient,
  WmlNativeError,
  InvalidArgumentError,
  IamError,
  WmlError,
  TimeoutError,
  NetworkError,
  TlsError,
  BadResponseError,
  AbortError,
  InternalError,
} = cjs
export default cjs
