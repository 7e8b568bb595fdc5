// Asserts that no API key or token reaches an error's message, stack,
// properties or util.inspect output.
import assert from 'node:assert/strict'
import { inspect } from 'node:util'

export function assertNoSecrets(err, secrets) {
  const views = [
    String(err && err.message),
    String(err && err.stack),
    inspect(err, { depth: 10, showHidden: true }),
    JSON.stringify(err),
    JSON.stringify(Object.fromEntries(Object.entries(err ?? {}))),
  ]
  for (const s of secrets.filter(Boolean)) {
    for (const v of views) {
      assert.ok(!v.includes(s), `secret ${s.slice(0, 6)}... leaked in: ${v.slice(0, 300)}`)
    }
  }
}

/** Collects unhandled rejections for the duration of a test. */
export function watchUnhandled() {
  const seen = []
  const on = (r) => seen.push(r)
  process.on('unhandledRejection', on)
  return {
    seen,
    stop() {
      process.off('unhandledRejection', on)
      return seen
    },
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
