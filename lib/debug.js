'use strict'
// Opt-in debug logging to stderr, the JS half of it (Rust logs requests,
// retries and refreshes): set WML_NATIVE_DEBUG=1. Keys appear only as a short
// one-way fingerprint; tokens never. Lines of a traced call end with its
// trace id.
const { createHash } = require('node:crypto')

const value = process.env.WML_NATIVE_DEBUG ?? ''
const enabled = value !== '' && value !== '0' && value.toLowerCase() !== 'false'

function fingerprint(apikey) {
  return '#' + createHash('sha256').update(apikey).digest('hex').slice(0, 6)
}

/** lib/telemetry.js sets `traceId` once OpenTelemetry is in use: the active trace id, or ''. */
const context = { traceId: () => '' }

function debug(message) {
  const id = context.traceId()
  process.stderr.write(`[wml-native] ${message}${id ? ` trace=${id}` : ''}\n`)
}

module.exports = { enabled, debug, fingerprint, context }
