'use strict'
// The route table: which paths and methods each route serves, its error shape,
// how its body is read, and its handler.
//
// A route: { name, shape, methods, paths: [RegExp with named groups], body,
//   handle(ctx, server) -> reply, record?(ctx, server, entry),
//   credential?(ctx) -> the request's API key (for `fault({apikey})`),
//   issuesTokens?, stream?, moreInfo?, requestType? }
// A reply: { status, headers, body: string | Buffer } or { events: [data...] } (SSE, 200).
const { safeDecode } = require('../util')
const { WATSONX_MORE_INFO } = require('../errors')
const { handleIam, recordIam } = require('./iam')
const { handleVpcToken, handleVpcIamToken } = require('./vpc')
const { handleCpd } = require('./cpd')
const { handleMcsp } = require('./mcsp')
const { handlePredictions } = require('./wml')
const { handleGeneration } = require('./generation')
const { handleChat } = require('./chat')
const { handleEmbeddings, handleRerank, handleTokenization } = require('./text')
const { handleSpecs } = require('./specs')

const jsonField = (name) => (ctx) => (ctx.json && ctx.json.ok && ctx.json.value && typeof ctx.json.value[name] === 'string'
  ? ctx.json.value[name]
  : undefined)

const DEP = '/ml/v1/deployments/(?<deploymentId>[^/]+)'
const re = (s) => new RegExp(`^${s}$`)
const watsonx = (anchor) => `${WATSONX_MORE_INFO}#${anchor}`

const ROUTES = [
  {
    name: 'iam', shape: 'iam', methods: ['POST'], paths: [re('/identity/token')], body: 'form',
    handle: handleIam, record: recordIam, credential: (ctx) => ctx.form && ctx.form.apikey, issuesTokens: true,
  },
  {
    name: 'vpc_token', shape: 'vpc', methods: ['PUT'], paths: [re('/instance_identity/v1/token'), re('/identity/v1/token')],
    body: 'json', handle: handleVpcToken, issuesTokens: true,
  },
  {
    name: 'vpc_iam_token', shape: 'vpc', methods: ['POST'],
    paths: [re('/instance_identity/v1/iam_token'), re('/identity/v1/iam_tokens')], body: 'json', handle: handleVpcIamToken, issuesTokens: true,
  },
  {
    name: 'cpd', shape: 'cpd', methods: ['POST'], paths: [re('/icp4d-api/v1/authorize')], body: 'json',
    handle: handleCpd, credential: jsonField('api_key'), issuesTokens: true,
  },
  {
    name: 'mcsp', shape: 'mcsp', methods: ['POST'], requestType: 'incoming.Apikey_Token',
    paths: [re('/siusermgr/api/1\\.0/apikeys/token'), re('/api/2\\.0/apikeys/token'),
      re('/api/2\\.0/(?:accounts|subscriptions|services)/[^/]+/apikeys/token')],
    body: 'json', handle: handleMcsp, credential: jsonField('apikey'), issuesTokens: true,
  },
  {
    name: 'predictions', shape: 'wml', methods: ['POST'], paths: [re('/ml/v4/deployments/(?<deploymentId>[^/]+)/predictions')],
    body: 'json', handle: handlePredictions,
  },
  {
    name: 'generation', shape: 'wml', methods: ['POST'], paths: [re('/ml/v1/text/generation'), re(`${DEP}/text/generation`)],
    body: 'json', handle: handleGeneration,
  },
  {
    name: 'stream', shape: 'wml', methods: ['POST'], stream: true,
    paths: [re('/ml/v1/text/generation_stream'), re(`${DEP}/text/generation_stream`)], body: 'json', handle: handleGeneration,
  },
  {
    name: 'chat', shape: 'wml', methods: ['POST'], moreInfo: watsonx('text-chat'),
    paths: [re('/ml/v1/text/chat'), re(`${DEP}/text/chat`)], body: 'json', handle: handleChat,
  },
  {
    name: 'chat_stream', shape: 'wml', methods: ['POST'], stream: true, moreInfo: watsonx('text-chat-stream'),
    paths: [re('/ml/v1/text/chat_stream'), re(`${DEP}/text/chat_stream`)], body: 'json', handle: handleChat,
  },
  {
    name: 'embeddings', shape: 'wml', methods: ['POST'], moreInfo: watsonx('text-embeddings'),
    paths: [re('/ml/v1/text/embeddings')], body: 'json', handle: handleEmbeddings,
  },
  {
    name: 'rerank', shape: 'wml', methods: ['POST'], moreInfo: watsonx('text-rerank'),
    paths: [re('/ml/v1/text/rerank')], body: 'json', handle: handleRerank,
  },
  {
    name: 'tokenization', shape: 'wml', methods: ['POST'], moreInfo: watsonx('text-tokenization'),
    paths: [re('/ml/v1/text/tokenization')], body: 'json', handle: handleTokenization,
  },
  {
    name: 'models', shape: 'wml', methods: ['GET'], moreInfo: watsonx('list-foundation-model-specs'),
    paths: [re('/ml/v1/foundation_model_specs')], body: 'none', handle: handleSpecs,
  },
].map((r) => Object.freeze(r))

/** Route definitions by name. */
const ROUTE_TABLE = new Map(ROUTES.map((r) => [r.name, r]))

/** The route names faults, counters and `lastRequest` know about. */
const ROUTE_NAMES = Object.freeze(ROUTES.map((r) => r.name))

/** `{ route, params }` for a path (any method), or null. */
function matchRoute(pathname) {
  for (const route of ROUTES) {
    for (const p of route.paths) {
      const m = p.exec(pathname)
      if (m) {
        const params = {}
        for (const [k, v] of Object.entries(m.groups || {})) params[k] = safeDecode(v)
        return { route, params }
      }
    }
  }
  return null
}

module.exports = { ROUTE_TABLE, ROUTE_NAMES, matchRoute }
