'use strict'
// VPC instance metadata service: PUT /instance_identity/v1/token (an instance
// identity token) and POST /instance_identity/v1/iam_token (an IAM token for a
// trusted profile). The 2025-08-26 paths /identity/v1/token and
// /identity/v1/iam_tokens are served the same way.
const { isPlainObject, isValidVersionDate, jsonReply } = require('../util')
const { vpcError } = require('../errors')
const { ISSUERS, GRANTS, iamClaims, vpcIdentityClaims } = require('../tokens')

const MIN_EXPIRES_IN = 5
const MAX_EXPIRES_IN = 3600
const DEFAULT_EXPIRES_IN = 300
/** The only tokens POST .../iam_token takes: instance identity tokens. */
const IDENTITY_ISSUERS = new Set([ISSUERS.vpcIdentity])

/** Versions from this date on must use the /identity/v1/... paths (VPC docs). */
const NEW_PATHS_FROM = '2025-07-15'

const field = (name, value) => (value === undefined ? { name, type: 'field' } : { name, type: 'field', value: String(value) })

function checkVersion(ctx) {
  const version = ctx.url.searchParams.get('version')
  const target = { name: 'version', type: 'parameter' }
  if (version == null) {
    return vpcError(ctx, 400, 'validation_required_field_missing', 'The query parameter `version` is required.', target)
  }
  if (!isValidVersionDate(version)) {
    return vpcError(ctx, 400, 'invalid_value', `The query parameter \`version\` must be a date YYYY-MM-DD, got '${version}'.`, { ...target, value: version })
  }
  if (version >= NEW_PATHS_FROM && ctx.url.pathname.startsWith('/instance_identity/')) {
    return vpcError(ctx, 400, 'invalid_value',
      `Version ${version} is not supported on ${ctx.url.pathname}: from ${NEW_PATHS_FROM} use the /identity/v1/ paths.`, { ...target, value: version })
  }
  return null
}

/** The JSON object body as the server parsed it (an empty body is `{}`), or `{ error }`. */
function body(ctx) {
  if (ctx.bodyText.trim() === '') return { value: {} }
  if (!ctx.json.ok || !isPlainObject(ctx.json.value)) {
    return { error: vpcError(ctx, 400, 'validation_invalid_json', 'The request body must be a JSON object.') }
  }
  return { value: ctx.json.value }
}

/** The VPC token answer: `{access_token, created_at, expires_at, expires_in}`. */
function vpcTokenReply(ctx, server, claims, lifetimeSec) {
  const { token, iat, exp, lifetime } = server.mintFor(ctx, claims, { lifetimeSec })
  return jsonReply(200, {
    access_token: token,
    created_at: new Date(iat * 1000).toISOString(),
    expires_at: new Date(exp * 1000).toISOString(),
    expires_in: lifetime,
  })
}

/** PUT /instance_identity/v1/token?version=... with `Metadata-Flavor: ibm` and `{expires_in}`. */
function handleVpcToken(ctx, server) {
  const bad = checkVersion(ctx)
  if (bad) return bad
  if (ctx.req.headers['metadata-flavor'] !== 'ibm') {
    return vpcError(ctx, 400, 'validation_required_field_missing', 'The header `Metadata-Flavor: ibm` is required.', { name: 'Metadata-Flavor', type: 'header' })
  }
  const { error, value } = body(ctx)
  if (error) return error
  const expiresIn = value.expires_in ?? DEFAULT_EXPIRES_IN
  if (!Number.isInteger(expiresIn)) {
    return vpcError(ctx, 400, 'invalid_value', 'The `expires_in` field must be an integer.', field('expires_in', JSON.stringify(expiresIn)))
  }
  if (expiresIn < MIN_EXPIRES_IN || expiresIn > MAX_EXPIRES_IN) {
    const bound = expiresIn > MAX_EXPIRES_IN ? `must not exceed \`${MAX_EXPIRES_IN}\`` : `must be at least \`${MIN_EXPIRES_IN}\``
    return vpcError(ctx, 400, 'invalid_value', `The \`expires_in\` field ${bound}.`, field('expires_in', expiresIn))
  }
  return vpcTokenReply(ctx, server, vpcIdentityClaims(server.instance), expiresIn)
}

/** POST /instance_identity/v1/iam_token?version=... with `Authorization: Bearer <identity token>` and optional `{trusted_profile: {id} | {crn} | {name}}`. */
function handleVpcIamToken(ctx, server) {
  const bad = checkVersion(ctx)
  if (bad) return bad
  const { problem } = server.tokens.fromBearer(ctx.req.headers.authorization, IDENTITY_ISSUERS)
  if (problem) {
    return vpcError(ctx, 401, 'not_authorized', problem === 'missing'
      ? 'The request needs an instance identity access token: Authorization: Bearer <token>.'
      : 'The instance identity access token is not valid or has expired.')
  }
  const { error, value } = body(ctx)
  if (error) return error
  const tp = value.trusted_profile
  let profile
  if (tp === undefined) {
    profile = server.trustedProfiles[0]
    if (!profile) return vpcError(ctx, 400, 'trusted_profile_required', 'No trusted profile is linked to this instance: name one in trusted_profile.', field('trusted_profile'))
  } else {
    const given = isPlainObject(tp) ? ['id', 'crn', 'name'].filter((k) => tp[k] !== undefined) : []
    if (given.length !== 1) {
      return vpcError(ctx, 400, 'invalid_value', 'trusted_profile must have exactly one of id, crn or name.', field('trusted_profile'))
    }
    profile = server.findTrustedProfile({ [given[0]]: tp[given[0]] })
    if (!profile) {
      return vpcError(ctx, 404, 'trusted_profile_not_found', `The trusted profile ${tp[given[0]]} is not linked to this instance.`, field('trusted_profile'))
    }
  }
  return vpcTokenReply(ctx, server, iamClaims({ profile, grant: GRANTS.crToken }))
}

module.exports = { handleVpcToken, handleVpcIamToken }
