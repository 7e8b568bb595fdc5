// @ts-check
'use strict'
// The authenticator classes, with ibm-cloud-sdk-core's class and option
// names. Each is a thin shell over a native authenticator (options are read
// and checked in Rust, once); tokens come from the one process-wide cache.
// util.inspect and JSON.stringify show the non-secret settings only.
const native = require('../native.js')
const { Authenticator, handles } = require('./iam')
const { fromNative } = require('./errors')

const REDACTED = '<redacted>'
const { DEFAULT_IAM_URL, DEFAULT_VPC_URL } = native

/**
 * What inspect/toJSON show of `options`: the `plain` string options as
 * given, `<redacted>` for each `secret` one that is set, and `url`'s
 * default when it is not given.
 * @param {unknown} options
 * @param {string[]} plain
 * @param {string[]} secret
 * @param {string} [defaultUrl]
 * @returns {Record<string, string>}
 */
function shown(options, plain, secret, defaultUrl) {
  /** @type {Record<string, string>} */
  const out = {}
  const o = options !== null && typeof options === 'object' ? /** @type {Record<string, unknown>} */ (options) : {}
  for (const k of plain) {
    const v = o[k]
    if (typeof v === 'string' && v !== '') out[k] = v
    else if (k === 'url' && defaultUrl !== undefined) out[k] = defaultUrl
  }
  for (const k of secret) {
    if (typeof o[k] === 'string' && o[k] !== '') out[k] = REDACTED
  }
  return out
}

const PROFILE = ['iamProfileId', 'iamProfileName', 'iamProfileCrn']

/** An IBM Cloud API key, exchanged at IAM. */
class IamAuthenticator extends Authenticator {
  /** @param {any} options `{ apikey, url?, clientId?, clientSecret?, scope?, ...transport }` */
  constructor(options) {
    super(() => native.NativeAuthenticator.iam(options), 'iam', shown(options, ['url', 'clientId', 'scope'], ['apikey', 'clientSecret'], DEFAULT_IAM_URL))
  }
}

/**
 * A trusted profile from a compute resource (IKS, ROKS/OpenShift, Code
 * Engine): the platform's token file is read again for every token request.
 */
class ContainerAuthenticator extends Authenticator {
  /** @param {any} options `{ iamProfileId | iamProfileName | iamProfileCrn, crTokenFilename?, url?, ... }` */
  constructor(options) {
    super(
      () => native.NativeAuthenticator.container(options),
      'container',
      shown(options, ['url', 'crTokenFilename', ...PROFILE, 'clientId', 'scope'], ['clientSecret'], DEFAULT_IAM_URL),
    )
  }
}

/** A trusted profile assumed with an API key (an API key token first, then IAM's assume grant). */
class IamAssumeAuthenticator extends Authenticator {
  /** @param {any} options `{ apikey, iamProfileId | iamProfileCrn | (iamProfileName + iamAccountId), url?, ... }` */
  constructor(options) {
    super(
      () => native.NativeAuthenticator.iamAssume(options),
      'iamAssume',
      shown(options, ['url', ...PROFILE, 'iamAccountId', 'clientId', 'scope'], ['apikey', 'clientSecret'], DEFAULT_IAM_URL),
    )
  }
}

/** A trusted profile of a VPC virtual server instance, from its metadata service. */
class VpcInstanceAuthenticator extends Authenticator {
  /** @param {any} [options] `{ url?, iamProfileId? | iamProfileCrn? | iamProfileName?, ... }` */
  constructor(options) {
    super(() => native.NativeAuthenticator.vpc(options), 'vpc', shown(options, ['url', ...PROFILE], [], DEFAULT_VPC_URL))
  }
}

/** Cloud Pak for Data: a username with a password or an API key. */
class CloudPakForDataAuthenticator extends Authenticator {
  /** @param {any} options `{ url, username, password | apikey, disableSslVerification?, caCert?, ... }` */
  constructor(options) {
    super(() => native.NativeAuthenticator.cp4d(options), 'cp4d', shown(options, ['url', 'username'], ['password', 'apikey']))
  }
}

/** MCSP API keys: watsonx.ai on AWS. */
class McspAuthenticator extends Authenticator {
  /** @param {any} options `{ apikey, url, ... }` */
  constructor(options) {
    super(() => native.NativeAuthenticator.mcsp(options), 'mcsp', shown(options, ['url'], ['apikey']))
  }
}

/**
 * A bearer token you manage. Never refreshed; `setBearerToken()` replaces
 * it for the next call. A token whose JWT says it has expired is refused
 * (InvalidArgumentError) instead of being sent.
 */
class BearerTokenAuthenticator extends Authenticator {
  /** @param {any} options `{ bearerToken }` */
  constructor(options) {
    super(() => native.NativeAuthenticator.bearer(options), 'bearerToken', shown(options, [], ['bearerToken']))
  }

  /** @param {string} bearerToken the new token; the next call uses it */
  setBearerToken(bearerToken) {
    try {
      // The native half the base class keeps (handles), not a copy of it.
      /** @type {import('../native').NativeAuthenticator} */ (handles.get(this)).setBearerToken(bearerToken)
    } catch (e) {
      throw fromNative(e)
    }
  }
}

/** No authentication: no Authorization header is sent; asking it for a token rejects. */
class NoAuthAuthenticator extends Authenticator {
  constructor() {
    super(() => native.NativeAuthenticator.noAuth(), 'noAuth', {})
  }
}

module.exports = {
  Authenticator,
  IamAuthenticator,
  ContainerAuthenticator,
  IamAssumeAuthenticator,
  VpcInstanceAuthenticator,
  CloudPakForDataAuthenticator,
  McspAuthenticator,
  BearerTokenAuthenticator,
  NoAuthAuthenticator,
}
