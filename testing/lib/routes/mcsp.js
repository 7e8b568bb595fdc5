'use strict'
// MCSP (watsonx.ai on AWS) API key -> token. Served on the paths the SDKs
// use: /siusermgr/api/1.0/apikeys/token (ibm-cloud-sdk-core McspAuthenticator),
// /api/2.0/apikeys/token (@ibm-cloud/watsonx-ai on AWS) and
// /api/2.0/{accounts|subscriptions|services}/{id}/apikeys/token (McspV2Authenticator).
const { isPlainObject, jsonReply } = require('../util')
const { iamError } = require('../errors')
const { mcspClaims } = require('../tokens')

/** POST .../apikeys/token with `{apikey}` -> `{token, token_type, expires_in}`. */
function handleMcsp(ctx, server) {
  const json = ctx.json
  if (!json.ok || !isPlainObject(json.value)) return iamError(ctx, 400, 'BXNIM0105E', 'The request body must be a JSON object.')
  const { apikey } = json.value
  if (typeof apikey !== 'string' || !apikey) return iamError(ctx, 400, 'BXNIM0109E', 'Property missing or empty. Missing property: apikey')
  if (server.isInvalidApikey(apikey)) return iamError(ctx, 400, 'BXNIM0415E', 'Provided API key could not be found.')
  const { token, lifetime } = server.mintFor(ctx, mcspClaims(apikey))
  return jsonReply(200, { token, token_type: 'Bearer', expires_in: lifetime })
}

module.exports = { handleMcsp }
