'use strict'
/**
 * wml-native/testing: a faithful local fake of IBM Cloud IAM (API key,
 * trusted-profile cr-token and assume grants), the VPC instance metadata
 * token service, Cloud Pak for Data and MCSP token endpoints, Watson Machine
 * Learning online scoring and watsonx.ai inference (generation, chat with
 * tools, embeddings, rerank, tokenization, model specs; plain and SSE), with
 * fault injection. Node built-ins only. See index.d.ts for the documented API
 * and lib/ for the implementation (one module per concern).
 */
const { FakeServer, startFakeServer, DEFAULT_TRUSTED_PROFILES, DEFAULT_CPD_USERS, ROUTE_NAMES } = require('./lib/server')
const { FIXTURES } = require('./lib/tls')
const { MORE_INFO, WATSONX_MORE_INFO } = require('./lib/errors')
const { GRANTS } = require('./lib/tokens')
const models = require('./lib/models')
const { chat, chatDeltas, toolArguments } = require('./lib/chat-model')
const { MAX_INPUTS } = require('./lib/routes/text')

module.exports = {
  startFakeServer,
  FakeServer,
  FIXTURES,
  ROUTES: ROUTE_NAMES,
  MORE_INFO,
  WATSONX_MORE_INFO,
  GRANTS,
  DEFAULT_MODEL_ID: models.DEFAULT_MODEL_ID,
  DEFAULT_CHAT_MODEL_ID: models.DEFAULT_CHAT_MODEL_ID,
  DEFAULT_EMBEDDING_MODEL_ID: models.DEFAULT_EMBEDDING_MODEL_ID,
  DEFAULT_RERANK_MODEL_ID: models.DEFAULT_RERANK_MODEL_ID,
  DEFAULT_MODELS: models.DEFAULT_MODELS,
  DEFAULT_TRUSTED_PROFILES,
  DEFAULT_CPD_USERS,
  MAX_EMBEDDING_INPUTS: MAX_INPUTS,
  predict: models.predict,
  predictRow: models.predictRow,
  generate: models.generate,
  tokenize: models.tokenize,
  embed: models.embed,
  rerankScore: models.rerankScore,
  chat,
  chatDeltas,
  toolArguments,
}
