// ESM entry of wml-native/testing: re-exports the CommonJS implementation.
import cjs from './index.js'

export const {
  startFakeServer,
  FakeServer,
  FIXTURES,
  ROUTES,
  MORE_INFO,
  WATSONX_MORE_INFO,
  GRANTS,
  DEFAULT_MODEL_ID,
  DEFAULT_CHAT_MODEL_ID,
  DEFAULT_EMBEDDING_MODEL_ID,
  DEFAULT_RERANK_MODEL_ID,
  DEFAULT_MODELS,
  DEFAULT_TRUSTED_PROFILES,
  DEFAULT_CPD_USERS,
  MAX_EMBEDDING_INPUTS,
  predict,
  predictRow,
  generate,
  tokenize,
  embed,
  rerankScore,
  chat,
  chatDeltas,
  toolArguments,
} = cjs

export default cjs
