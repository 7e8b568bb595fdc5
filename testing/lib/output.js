'use strict'
// Writing answers: plain bodies, SSE events, and the pacing faults
// (`trickleMs`, `splitBytes`, `resetAfterBytes`).
const { isGone } = require('./util')

/**
 * Writes a body honouring an `output` plan: `trickleMs` (1 byte per n ms),
 * `splitBytes` (pieces of n bytes, ~1 ms apart) and `resetAfterBytes` (destroy
 * the socket once n body bytes are out).
 */
class Output {
  constructor(res, output, sleep) {
    this.res = res
    this.sleep = sleep
    this.trickleMs = (output && output.trickleMs) || 0
    this.splitBytes = (output && output.splitBytes) || 0
    this.budget = output && output.resetAfterBytes != null ? output.resetAfterBytes : Infinity
    this.killed = false
  }

  get gone() {
    return this.killed || isGone(this.res)
  }

  get paced() {
    return this.trickleMs > 0 || this.splitBytes > 0 || this.budget !== Infinity
  }

  async write(data) {
    let buf = Buffer.isBuffer(data) ? data : Buffer.from(data)
    const cut = buf.length >= this.budget
    if (cut) buf = buf.subarray(0, this.budget)
    this.budget -= buf.length
    const size = this.trickleMs ? 1 : this.splitBytes || buf.length
    const pause = this.trickleMs || (this.splitBytes ? 1 : 0)
    for (let i = 0; i < buf.length; i += size) {
      if (i > 0 && pause) await this.sleep(pause)
      if (this.gone) return
      await this.writeChunk(buf.subarray(i, i + size))
    }
    if (cut) await this.kill()
  }

  writeChunk(chunk) {
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('close', done)
        resolve()
      }
      this.res.once('close', done)
      this.res.write(chunk, done)
    })
  }

  /** Makes sure the headers went out, then destroys the socket (the `resetAfterBytes` fault). */
  async kill() {
    if (this.gone) return
    this.res.flushHeaders()
    await this.sleep(10)
    this.killed = true
    if (this.res.socket) this.res.socket.destroy()
  }

  end() {
    if (!this.gone) this.res.end()
  }
}

/** Destroys a socket, with a TCP RST where the platform allows. */
function resetSocket(socket) {
  if (!socket || socket.destroyed) return
  if (typeof socket.resetAndDestroy === 'function' && !socket.encrypted) {
    try {
      socket.resetAndDestroy()
      return
    } catch {
      // fall through
    }
  }
  socket.destroy()
}

function sseEvent(id, event, data) {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

module.exports = { Output, resetSocket, sseEvent }
