'use strict'
// IAM POST /identity/token: the apikey, cr-token (trusted profile from a
// compute resource) and assume (trusted profile from an IAM token) grants.
const crypto = require('crypto')
const { mediaType, jsonReply } = require('../util')
const { iamError } = require('../errors')
const { GRANTS, ISSUERS, iamClaims, imsUserId } = require('../tokens')

const PROFILE_SELECTORS = ['profile_id', 'profile_crn', 'profile_name']

function validBasicAuth(header) {
  const m = /^Basic\s+(\S+)\s*$/i.exec(header)
  if (!m) return false
  const decoded = Buffer.from(m[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon > 0 && colon < decoded.length - 1
}

const missing = (ctx, name) => iamError(ctx, 400, 'BXNIM0109E', `Property missing or empty. Missing property: ${name}`)

/** The IAM token answer (the same for every grant). */
function tokenReply(ctx, server, claims, { userId } = {}) {
  const { token, exp, lifetime } = server.mintFor(ctx, claims)
  const body = { access_token: token, refresh_token: 'not_supported' }
  if (userId !== undefined) body.ims_user_id = userId
  Object.assign(body, { token_type: 'Bearer', expires_in: lifetime, expiration: exp, scope: 'ibm openid' })
  return jsonReply(200, body, { 'Transaction-Id': `fake-${crypto.randomUUID()}`, 'Cache-Control': 'no-store' })
}

/** The trusted profile a cr-token or assume request names, or an IAM error reply. */
function profileFor(ctx, server, form, { nameNeedsAccount }) {
  const given = PROFILE_SELECTORS.filter((k) => form[k])
  if (!given.length) return { error: missing(ctx, 'profile_id, profile_crn or profile_name') }
  if (form.profile_name && nameNeedsAccount && !form.account) return { error: missing(ctx, 'account') }
  const profile = server.findTrustedProfile({
    id: form.profile_id, crn: form.profile_crn, name: form.profile_name, account: form.account,
  })
  if (!profile) {
    const named = given.map((k) => `${k} '${form[k]}'`).join(', ')
    return {
      error: iamError(ctx, 400, 'BXNIM0398E', 'Selected trusted profile not eligible.', undefined,
        `The given token is not permitted to assume the indicated trusted profile; ${named}.`),
    }
  }
  return { profile }
}

function handleApikeyGrant(ctx, server, form) {
  if (!form.apikey) return missing(ctx, 'apikey')
  if (server.isInvalidApikey(form.apikey)) return iamError(ctx, 400, 'BXNIM0415E', 'Provided API key could not be found.')
  return tokenReply(ctx, server, iamClaims({ apikey: form.apikey }), { userId: imsUserId(form.apikey) })
}

function handleCrTokenGrant(ctx, server, form) {
  if (!form.cr_token) return missing(ctx, 'cr_token')
  if (server.isInvalidCrToken(form.cr_token)) {
    return iamError(ctx, 400, 'BXNIM0481E', 'Provided compute resource token is not valid or has expired.')
  }
  const { error, profile } = profileFor(ctx, server, form, { nameNeedsAccount: false })
  if (error) return error
  return tokenReply(ctx, server, iamClaims({ profile, grant: GRANTS.crToken }))
}

function handleAssumeGrant(ctx, server, form) {
  if (!form.access_token) return missing(ctx, 'access_token')
  const claims = server.tokens.verify(form.access_token)
  if (!claims || claims.iss !== ISSUERS.iam) return iamError(ctx, 400, 'BXNIM0407E', 'Provided access token is invalid.')
  if (!server.tokens.isLive(claims)) return iamError(ctx, 400, 'BXNIM0407E', 'Provided access token has expired.')
  const { error, profile } = profileFor(ctx, server, form, { nameNeedsAccount: true })
  if (error) return error
  return tokenReply(ctx, server, iamClaims({ profile, grant: GRANTS.assume }))
}

const GRANT_HANDLERS = {
  [GRANTS.apikey]: handleApikeyGrant,
  [GRANTS.crToken]: handleCrTokenGrant,
  [GRANTS.assume]: handleAssumeGrant,
}

/** POST /identity/token */
function handleIam(ctx, server) {
  const { req, form } = ctx
  if (mediaType(req) !== 'application/x-www-form-urlencoded') {
    return iamError(ctx, 400, 'BXNIM0105E', 'Invalid Content-Type: expected application/x-www-form-urlencoded.')
  }
  if (req.headers.authorization !== undefined && !validBasicAuth(req.headers.authorization)) {
    return iamError(ctx, 400, 'BXNIM0345E', 'Client credentials are missing or invalid: the Authorization header must be Basic base64(client_id:client_secret).')
  }
  if (!form.grant_type) return iamError(ctx, 400, 'BXNIM0308E', 'Property missing or empty. Missing property: grant_type')
  const handler = GRANT_HANDLERS[form.grant_type]
  if (!handler) return iamError(ctx, 400, 'BXNIM0308E', `Unsupported grant_type: ${form.grant_type}`)
  return handler(ctx, server, form)
}

/** Parses the form and keeps the per-key, per-grant and per-cr-token counts (every request, faulted or not). */
function recordIam(ctx, server, entry) {
  ctx.form = mediaType(ctx.req) === 'application/x-www-form-urlencoded'
    ? Object.fromEntries(new URLSearchParams(ctx.bodyText))
    : {}
  entry.form = ctx.form
  const { stats } = server
  const bump = (map, key) => map.set(key, (map.get(key) || 0) + 1)
  if (typeof ctx.form.apikey === 'string') bump(stats.iamByKey, ctx.form.apikey)
  if (typeof ctx.form.grant_type === 'string') bump(stats.iamByGrant, ctx.form.grant_type)
  if (typeof ctx.form.cr_token === 'string') bump(stats.iamByCrToken, ctx.form.cr_token)
}

module.exports = { handleIam, recordIam }
