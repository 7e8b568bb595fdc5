// @ts-check
'use strict'
// Promises for native calls, settled in batches through one completion
// queue per JS environment (see src/node/completion.rs). The queue's
// threadsafe function is weak, so while calls are pending a long, idle
// interval keeps the event loop alive, and nothing does once they are all
// settled.
const native = require('../native.js')
const { fromNative } = require('./errors')

// The kind of a value, in the low two bits of its code.
const TEXT = 0
const ERROR = 1
const END = 2

/** @typedef {{ resolve: (v: unknown) => void, reject: (e: unknown) => void, parse: (text: string) => unknown }} Pending */
/** @type {Map<number, Pending>} */
const pending = new Map()
let lastId = 0
/** @type {((fetch: any) => void) | null} */
let tokenFetchListener = null
/** @type {ReturnType<typeof setInterval> | null} */
let keepAlive = null

/**
 * @param {number[]} codes
 * @param {unknown[]} values
 */
function settle(codes, values) {
  for (let i = 0; i < codes.length; i++) {
    const id = codes[i] >>> 2
    const p = pending.get(id)
    if (p === undefined) {
      // Id 0 is never a call's: a token request nobody waited for (lib/telemetry.js).
      if (id === 0 && tokenFetchListener !== null) tokenFetchListener(values[i])
      continue
    }
    pending.delete(id)
    const kind = codes[i] & 3
    if (kind === TEXT) {
      let value
      try {
        value = p.parse(/** @type {string} */ (values[i]))
      } catch (e) {
        p.reject(e)
        continue
      }
      p.resolve(value)
    } else if (kind === ERROR) p.reject(fromNative(values[i]))
    else if (kind === END) p.resolve(null)
    else p.resolve(values[i])
  }
  if (pending.size === 0 && keepAlive !== null) {
    clearInterval(keepAlive)
    keepAlive = null
  }
}

const queue = new native.CompletionQueue(settle)

function noop() {}

// Calls started in one tick are handed to the I/O thread with one wake-up.
let flushQueued = false
function flush() {
  flushQueued = false
  native.flushCalls()
}

/** @param {string} text */
function same(text) {
  return text
}

/** A new call id (never 0, which is the token requests nobody waited for). */
function callId() {
  lastId = (lastId + 1) & 0x3fffffff || 1
  return lastId
}

/**
 * The promise of call `id`, just handed to Rust: it settles with
 * `parse(text)` of the text the call completes with, with a value as is, or
 * null for a stream's end.
 * @param {number} id
 * @param {(text: string) => unknown} [parse]
 * @returns {Promise<any>}
 */
function started(id, parse = same) {
  if (!flushQueued) {
    flushQueued = true
    process.nextTick(flush)
  }
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, parse })
    if (keepAlive === null) keepAlive = setInterval(noop, 0x7fffffff)
  })
}

/**
 * Starts a native call: `start(queue, id)` hands the work to Rust (and may
 * throw synchronously for bad arguments: the error is thrown on, as the
 * public class); then as `started`.
 * @param {(queue: import('../native').CompletionQueue, id: number) => void} start
 * @param {(text: string) => unknown} [parse]
 * @returns {Promise<any>}
 */
function nativeCall(start, parse) {
  const id = callId()
  try {
    start(queue, id)
  } catch (e) {
    throw fromNative(e)
  }
  return started(id, parse)
}

/**
 * Hands the token requests nobody waited for (completed as id 0, once
 * `observeTokenFetches` was called) to `listener`.
 * @param {(fetch: any) => void} listener
 */
function onTokenFetch(listener) {
  tokenFetchListener = listener
}

module.exports = { nativeCall, callId, started, queue, onTokenFetch }
