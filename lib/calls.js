'use strict'
// Promises for native calls, settled in batches through one completion queue
// per JS environment (see src/node/completion.rs). The queue's threadsafe
// function is weak, so while calls are pending a long, idle interval keeps
// the event loop alive, and nothing does once they are all settled.
const native = require('../native.js')
const { fromJson, invalid } = require('./errors')

const TEXT = 0
const ERROR = 1
const pending = new Map()
let lastId = 0
let keepAlive = null

const queue = new native.CompletionQueue(settle)

function settle(codes, texts) {
  for (let i = 0; i < codes.length; i++) {
    const id = codes[i] >>> 2
    const p = pending.get(id)
    if (p === undefined) continue
    pending.delete(id)
    const kind = codes[i] & 3
    if (kind === TEXT) {
      let value
      try {
        value = p.parse(texts[i])
      } catch (e) {
        p.reject(e)
        continue
      }
      p.resolve(value)
    } else if (kind === ERROR) p.reject(fromJson(texts[i]) ?? invalid('unreadable native error'))
    else p.resolve(null)
  }
  if (pending.size === 0 && keepAlive !== null) {
    clearInterval(keepAlive)
    keepAlive = null
  }
}

function noop() {}

// Calls started in one tick are handed to the I/O thread with one wake-up.
let flushQueued = false
function flush() {
  flushQueued = false
  native.flushCalls()
}

function same(text) {
  return text
}

/**
 * Starts a native call: `start(queue, id)` hands the work to Rust (and may
 * throw synchronously for bad arguments); the returned promise settles with
 * `parse(text)` of the text it completes with (null for a stream's end).
 */
function nativeCall(start, parse = same) {
  lastId = (lastId + 1) & 0x3fffffff
  const id = lastId
  start(queue, id)
  if (!flushQueued) {
    flushQueued = true
    process.nextTick(flush)
  }
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, parse })
    if (keepAlive === null) keepAlive = setInterval(noop, 0x7fffffff)
  })
}

module.exports = { nativeCall }
