// ESM entry: the same module as the CommonJS one.
import cjs from './index.js'

export const {
  getIamToken,
  getIamTokenInfo,
  clearTokenCache,
  configureTokenCache,
  tokenCacheStats,
  configureTelemetry,
  Authenticator,
  IamAuthenticator,
  ContainerAuthenticator,
  IamAssumeAuthenticator,
  VpcInstanceAuthenticator,
  CloudPakForDataAuthenticator,
  McspAuthenticator,
  BearerTokenAuthenticator,
  NoAuthAuthenticator,
  getAuthenticatorFromEnv,
  WmlClient,
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
} = cjs
export default cjs
