// ESM entry of wml-native/testing: re-exports the CommonJS implementation.
import cjs from './index.js'

export const {
  startFakeServer,
  FakeServer,
  FIXTURES,
  MORE_INFO,
  DEFAULT_MODEL_ID,
  predict,
  predictRow,
  generate,
} = cjs

export default cjs
