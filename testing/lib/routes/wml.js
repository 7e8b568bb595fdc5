'use strict'
// Checks shared by the WML and watsonx.ai routes (bearer token, version,
// deployment, JSON body, project/space, model), and WML online scoring.
const { isPlainObject, isValidVersionDate, jsonReply } = require('../util')
const { wmlError, wmlHeaders } = require('../errors')
const { BEARER_ISSUERS } = require('../tokens')
const { predict, modelSupports } = require('../models')

/** The 401 `[code, message]` of each bearer token problem (TokenIssuer#fromBearer). */
const BEARER_PROBLEMS = {
  missing: ['authentication_token_not_valid', 'Authorization header with a Bearer token is missing.'],
  invalid: ['authentication_token_not_valid', 'Authentication token is not valid.'],
  expired: ['authentication_token_expired', 'Authentication token has expired.'],
}

/** The verified claims of the request's bearer token, or `{ error }` (a 401 reply). */
function checkBearer(ctx, server) {
  const { claims, problem } = server.tokens.fromBearer(ctx.req.headers.authorization, BEARER_ISSUERS)
  if (problem) return { error: wmlError(ctx, 401, ...BEARER_PROBLEMS[problem]) }
  return { claims }
}

/** A 400 reply when `?version=` is missing or not a YYYY-MM-DD date, else null. */
function checkVersion(ctx) {
  const version = ctx.url.searchParams.get('version')
  if (isValidVersionDate(version)) return null
  return wmlError(ctx, 400, 'invalid_input_argument',
    version == null
      ? 'Missing query parameter `version`: specify the API version date as YYYY-MM-DD.'
      : `Invalid value for query parameter \`version\`: '${version}' is not a date in the format YYYY-MM-DD.`)
}

/** Auth, version and deployment checks shared by every WML route; an error reply or null. */
function checkWml(ctx, server) {
  const { error } = checkBearer(ctx, server)
  if (error) return error
  const bad = checkVersion(ctx)
  if (bad) return bad
  const id = ctx.params.deploymentId
  if (id != null && /^(unknown|missing)/.test(id)) {
    return wmlError(ctx, 404, 'deployment_not_found', `Deployment with id '${id}' does not exist. Re-try with a valid deployment id.`)
  }
  return null
}

/** The parsed JSON object body, or `{ error }` (a json_type_error reply). */
function jsonBody(ctx) {
  if (!ctx.json.ok) return { error: wmlError(ctx, 400, 'json_type_error', `Json document is not valid: ${ctx.json.error.message}`) }
  if (!isPlainObject(ctx.json.value)) return { error: wmlError(ctx, 400, 'json_type_error', 'Json document is not valid: expected an object.') }
  return { value: ctx.json.value }
}

/** `{code, message}` of a body validation failure. */
function invalid(message, code = 'json_validation_error') {
  return { code, message: code === 'json_validation_error' ? `Json document validation error: ${message}` : message }
}

/** The invalid_request_entity failure of a body naming neither a project nor a space. */
function checkContext(body) {
  if (body.project_id || body.space_id || body.wml_instance_crn) return null
  return invalid('Missing either space_id or project_id or wml_instance_crn', 'invalid_request_entity')
}

/**
 * The catalogue entry for `body.model_id`, or `{ error }`: 404
 * model_not_supported for an unknown model, 400 model_no_support_for_function
 * when the model does not offer `fn`.
 */
function lookupModel(ctx, server, modelId, fn) {
  const model = server.models.get(modelId)
  if (!model) return { error: wmlError(ctx, 404, 'model_not_supported', `Model '${modelId}' is not supported`) }
  if (fn && !modelSupports(model, fn)) {
    return { error: wmlError(ctx, 400, 'model_no_support_for_function', `Model '${modelId}' does not support function 'function_${fn}'`) }
  }
  return { model }
}

/**
 * The common start of a watsonx.ai inference route: auth, version,
 * deployment, JSON body, then `validate(body)` (`{code, message}` or null),
 * then (model routes only) project/space and the model. Returns `{ body, model }`
 * or `{ error }`.
 */
function beginInference(ctx, server, { fn, validate, needsModel = ctx.params.deploymentId == null }) {
  const denied = checkWml(ctx, server)
  if (denied) return { error: denied }
  const { error, value } = jsonBody(ctx)
  if (error) return { error }
  if (needsModel && (typeof value.model_id !== 'string' || !value.model_id)) {
    const bad = invalid("required property 'model_id' is missing")
    return { error: wmlError(ctx, 400, bad.code, bad.message) }
  }
  const bad = validate(value) || (needsModel ? checkContext(value) : null)
  if (bad) return { error: wmlError(ctx, 400, bad.code, bad.message) }
  if (!needsModel) return { body: value, model: undefined }
  const found = lookupModel(ctx, server, value.model_id, fn)
  if (found.error) return { error: found.error }
  return { body: value, model: found.model }
}

/** A message naming the problem with `input_data`, or null when valid. */
function validateInputData(inputData) {
  if (inputData === undefined) return "required property 'input_data' is missing"
  if (!Array.isArray(inputData) || inputData.length === 0) return "'input_data' must be a non-empty array"
  for (let i = 0; i < inputData.length; i++) {
    const block = inputData[i]
    const where = `input_data[${i}]`
    if (!isPlainObject(block)) return `'${where}' must be an object`
    if (!Array.isArray(block.values)) return `required property '${where}.values' is missing or not an array`
    if (block.fields !== undefined && !Array.isArray(block.fields)) return `'${where}.fields' must be an array`
    if (block.id !== undefined && typeof block.id !== 'string') return `'${where}.id' must be a string`
  }
  return null
}

/** POST /ml/v4/deployments/{id}/predictions */
function handlePredictions(ctx, server) {
  const denied = checkWml(ctx, server)
  if (denied) return denied
  const { error, value } = jsonBody(ctx)
  if (error) return error
  const bad = validateInputData(value.input_data)
  if (bad) return wmlError(ctx, 400, 'json_validation_error', `Json document validation error: ${bad}`)
  return jsonReply(200, { predictions: predict(value.input_data) }, wmlHeaders(ctx))
}

module.exports = { checkBearer, checkVersion, checkWml, jsonBody, invalid, checkContext, lookupModel, beginInference, handlePredictions }
