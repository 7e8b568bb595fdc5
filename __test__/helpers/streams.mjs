// Helpers of the stream suites: reading a stream whole, and waiting for the
// fake server to see something (a close) without a fixed sleep.
import { sleep } from './secrets.mjs'

/** Every item of an async iterable, in order. */
export async function collect(iterable) {
  const out = []
  for await (const chunk of iterable) out.push(chunk)
  return out
}

/** Polls `cond` every 10 ms; resolves true once it holds, false after `ms`. */
export async function waitFor(cond, ms = 3000) {
  const t0 = Date.now()
  while (!cond()) {
    if (Date.now() - t0 > ms) return false
    await sleep(10)
  }
  return true
}
