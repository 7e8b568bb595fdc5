'use strict'
// Small helpers shared by the fake server's modules. Node built-ins only.
const crypto = require('crypto')

function noop() {}

function base64url(data) {
  return Buffer.from(data).toString('base64url')
}

function randomHex(bytes) {
  return crypto.randomBytes(bytes).toString('hex')
}

function round3(x) {
  return Math.round(x * 1000) / 1000
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function safeDecode(s) {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

function sha256Hex(s) {
  return crypto.createHash('sha256').update(String(s)).digest('hex')
}

/** "26.11.2025 09:37:21:123 GMT", the timestamp style of IAM error contexts. */
function iamTimestamp(ms) {
  const d = new Date(ms)
  const p = (n, w = 2) => String(n).padStart(w, '0')
  return `${p(d.getUTCDate())}.${p(d.getUTCMonth() + 1)}.${d.getUTCFullYear()} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}:${p(d.getUTCMilliseconds(), 3)} GMT`
}

function isValidVersionDate(v) {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v)) return false
  const d = new Date(`${v}T00:00:00Z`)
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === v
}

/** True when nothing more can (or should) be written to this response. */
function isGone(res) {
  return res.destroyed || res.writableEnded || !res.socket || res.socket.destroyed
}

function parseJson(text) {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch (err) {
    return { ok: false, error: err }
  }
}

function mediaType(req) {
  return (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase()
}

/** Reads the whole body; past `limit` bytes it keeps draining but drops the data. */
function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    let tooLarge = false
    req.on('data', (chunk) => {
      size += chunk.length
      if (size > limit) tooLarge = true
      if (!tooLarge) chunks.push(chunk)
    })
    req.on('end', () => resolve({ text: tooLarge ? '' : Buffer.concat(chunks).toString('utf8'), tooLarge, size }))
    req.on('error', reject)
    req.on('aborted', () => reject(new Error('request aborted')))
  })
}

/** A reply object (what route handlers return): status, headers and a string body. */
function jsonReply(status, obj, headers) {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(obj) }
}

/** The whitespace-separated words of a text: the fake models' tokens. */
function words(text) {
  return String(text).match(/\S+/g) || []
}

module.exports = {
  noop,
  base64url,
  randomHex,
  round3,
  isPlainObject,
  safeDecode,
  sha256Hex,
  iamTimestamp,
  isValidVersionDate,
  isGone,
  parseJson,
  mediaType,
  readBody,
  jsonReply,
  words,
}
