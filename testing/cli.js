#!/usr/bin/env node
'use strict'
/**
 * Runs the fake IAM + WML + watsonx.ai server in its own process.
 *
 *   node testing/cli.js [--port N] [--host 127.0.0.1] [--token-lifetime S] [--tls]
 *                       [--stream-interval-ms MS] [--invalid-apikey KEY]...
 *
 * Prints one line of JSON when listening: {"url":"http://127.0.0.1:PORT"}
 * (with --tls also "ca": the path of the CA certificate to trust), then runs
 * until SIGTERM/SIGINT, closes and exits 0.
 */
const { startFakeServer, FIXTURES } = require('./index.js')

const USAGE = 'usage: node testing/cli.js [--port N] [--host H] [--token-lifetime S] [--tls] ' +
  '[--stream-interval-ms MS] [--invalid-apikey KEY]...'

function parseArgs(argv) {
  const options = {}
  for (let i = 0; i < argv.length; i++) {
    let [flag, value] = argv[i].split(/=(.*)/s)
    const next = () => {
      if (value === undefined) value = argv[++i]
      if (value === undefined) throw new Error(`${flag} needs a value`)
      return value
    }
    const number = () => {
      const n = Number(next())
      if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a non-negative number, got ${value}`)
      return n
    }
    switch (flag) {
      case '--port': options.port = number(); break
      case '--host': options.host = next(); break
      case '--token-lifetime': options.tokenLifetimeSec = number(); break
      case '--stream-interval-ms': options.streamIntervalMs = number(); break
      case '--invalid-apikey': (options.invalidApikeys ||= []).push(next()); break
      case '--tls': options.tls = true; break
      case '--help': case '-h':
        process.stdout.write(USAGE + '\n')
        process.exit(0)
        break
      default: throw new Error(`unknown argument ${argv[i]}`)
    }
  }
  return options
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
  if (options.tls) info.ca = FIXTURES.ca
  process.stdout.write(JSON.stringify(info) + '\n')
}

main().catch((err) => {
  process.stderr.write(`fake server failed: ${err && err.stack || err}\n`)
  process.exit(1)
})
