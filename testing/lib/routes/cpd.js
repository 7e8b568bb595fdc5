'use strict'
// Cloud Pak for Data: POST /icp4d-api/v1/authorize with {username, password}
// or {username, api_key} -> {_messageCode_, message, token}.
const { isPlainObject, jsonReply } = require('../util')
const { cpdError } = require('../errors')
const { cpdClaims } = require('../tokens')

/** POST /icp4d-api/v1/authorize */
function handleCpd(ctx, server) {
  const json = ctx.json
  if (!json.ok || !isPlainObject(json.value)) return cpdError(ctx, 400, '400', 'The request body must be a JSON object.')
  const { username, password, api_key: apikey } = json.value
  if (typeof username !== 'string' || !username) return cpdError(ctx, 400, '400', 'Missing username.')
  if ((password === undefined) === (apikey === undefined)) {
    return cpdError(ctx, 400, '400', 'Give exactly one of password or api_key.')
  }
  const user = server.cpdUsers.find((u) => u.username === username)
  const ok = user && (password !== undefined ? user.password !== undefined && password === user.password : user.apikey !== undefined && apikey === user.apikey)
  if (!ok) return cpdError(ctx, 401, '401', 'Invalid username or password.')
  const { token } = server.mintFor(ctx, cpdClaims({ username, viaApikey: apikey !== undefined }))
  return jsonReply(200, { _messageCode_: '200', message: 'Success', token })
}

module.exports = { handleCpd }
