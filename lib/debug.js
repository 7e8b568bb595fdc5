'use strict'
// Opt-in debug logging to stderr, the JS half of it (Rust logs requests,
// retries and refreshes): set WML_NATIVE_DEBUG=1. Keys appear only as a short
// one-way fingerprint; tokens never.
const { createHash } = require('node:crypto')

const value = process.env.WML_NATIVE_DEBUG ?? ''
const enabled = value !== '' && value !== '0' && value.toLowerCase() !== 'false'

function fingerprint(apikey) {
  return '#' + createHash('sha256').update(apikey).digest('hex').slice(0, 6)
}

function debug(message) {
  process.stderr.write(`[wml-native] ${message}\n`)
}

module.exports = { enabled, debug, fingerprint }
