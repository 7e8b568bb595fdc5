#!/usr/bin/env node
'use strict'
/**
 * Runs the fake IAM + WML + watsonx.ai server in its own process.
 *
 *   node testing/cli.js [--port N] [--host 127.0.0.1] [--tls[=MODE]]
 *     [--token-lifetime S] [--token-issued-ago S] [--clock-skew S] [--no-date]
 *     [--stream-interval-ms MS] [--interleave-tool-calls] [--request-history N]
 *     [--invalid-apikey KEY]... [--invalid-cr-token TOKEN]...
 *     [--trusted-profile JSON]... [--cpd-user JSON]... [--options JSON]
 *
 * MODE: ca (the default of a bare --tls), self-signed, self-signed-wrong-host,
 * self-signed-expired. --trusted-profile and --cpd-user take one JSON object
 * each ({"id":..,"name":..,"account":..,"crn":..} / {"username":..,"password":..,"apikey":..})
 * and replace the defaults; --options takes a JSON object of any startFakeServer
 * options, applied first.
 *
 * Prints one line of JSON when listening: {"url":"http://127.0.0.1:PORT"}
 * (with --tls also "ca": the path of the certificate to trust), then runs
 * until SIGTERM/SIGINT, closes and exits 0.
 */
const { startFakeServer } = require('./index.js')
const { TLS_MODES, tlsMode } = require('./lib/tls')

const USAGE = 'usage: node testing/cli.js [--port N] [--host H] [--tls[=ca|self-signed|self-signed-wrong-host|self-signed-expired]] ' +
  '[--token-lifetime S] [--token-issued-ago S] [--clock-skew S] [--no-date] [--stream-interval-ms MS] ' +
  '[--interleave-tool-calls] [--request-history N] [--invalid-apikey KEY]... [--invalid-cr-token TOKEN]... ' +
  '[--trusted-profile JSON]... [--cpd-user JSON]... [--options JSON]'

function parseArgs(argv) {
  const base = {}
  const options = {}
  for (let i = 0; i < argv.length; i++) {
    let [flag, value] = argv[i].split(/=(.*)/s)
    const next = () => {
      if (value === undefined) value = argv[++i]
      if (value === undefined) throw new Error(`${flag} needs a value`)
      return value
    }
    const number = ({ signed = false } = {}) => {
      const n = Number(next())
      if (!Number.isFinite(n) || (!signed && n < 0)) throw new Error(`${flag} needs a ${signed ? '' : 'non-negative '}number, got ${value}`)
      return n
    }
    const json = () => {
      try {
        const v = JSON.parse(next())
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object')
        return v
      } catch {
        throw new Error(`${flag} needs a JSON object`)
      }
    }
    switch (flag) {
      case '--port': options.port = number(); break
      case '--host': options.host = next(); break
      case '--tls': options.tls = value === undefined ? true : value; break
      case '--token-lifetime': options.tokenLifetimeSec = number(); break
      case '--token-issued-ago': options.tokenIssuedAgoSec = number(); break
      case '--clock-skew': options.clockSkewSec = number({ signed: true }); break
      case '--no-date': options.sendDate = false; break
      case '--stream-interval-ms': options.streamIntervalMs = number(); break
      case '--interleave-tool-calls': options.interleaveToolCalls = true; break
      case '--request-history': options.requestHistory = number(); break
      case '--invalid-apikey': (options.invalidApikeys ||= []).push(next()); break
      case '--invalid-cr-token': (options.invalidCrTokens ||= []).push(next()); break
      case '--trusted-profile': (options.trustedProfiles ||= []).push(json()); break
      case '--cpd-user': (options.cpdUsers ||= []).push(json()); break
      case '--options': Object.assign(base, json()); break
      case '--help': case '-h':
        process.stdout.write(USAGE + '\n')
        process.exit(0)
        break
      default:
        // Name an unknown option, never echo a value (it may be a pasted secret).
        throw new Error(/^--[a-z][a-z-]*$/.test(flag) ? `unknown option ${flag}` : 'unexpected argument (not shown)')
    }
  }
  const merged = { ...base, ...options }
  tlsMode(merged.tls) // throws on an unknown mode
  return merged
}

async function main() {
  let options
  try {
    options = parseArgs(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`${err.message}\n${USAGE}\n`)
    process.exit(2)
  }
  // Handlers first, so a signal that arrives while starting still ends cleanly.
  let server
  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    if (server) await server.close() // not started yet: nothing to close
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)

  server = await startFakeServer(options)
  const info = { url: server.url }
  if (server.tlsMode) info.ca = TLS_MODES[server.tlsMode].trust
  process.stdout.write(JSON.stringify(info) + '\n')
}

main().catch((err) => {
  process.stderr.write(`fake server failed: ${err && err.stack || err}\n`)
  process.exit(1)
})
