#!/usr/bin/env node
'use strict'
/**
 * Makes sure `redis-server` is on PATH: the token store tests (cargo test
 * and the Node suites) start their own servers on free 127.0.0.1 ports.
 *
 *   node scripts/ensure-redis.js      (run first by `npm test` and .ci/run)
 *
 * Found: prints its version and exits 0. Missing, as root on a system with
 * apt-get: installs Debian's redis-server (running `apt-get update` first if
 * the install fails), then makes sure the package's own service is not left
 * running on port 6379 (no test uses it). Otherwise: prints how to install
 * it and exits 1.
 */
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

function onPath(cmd) {
  return (process.env.PATH || '')
    .split(path.delimiter)
    .filter(Boolean)
    .some((dir) => {
      try {
        fs.accessSync(path.join(dir, cmd), fs.constants.X_OK)
        return true
      } catch {
        return false
      }
    })
}

function version() {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : null
}

function run(cmd, args) {
  console.log(`ensure-redis: ${cmd} ${args.join(' ')}`)
  const r = spawnSync(cmd, args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
  return r.status === 0
}

/** The Debian package may start (and enable) its service: stop it. */
function stopPackagedService() {
  const quiet = { stdio: 'ignore' }
  if (fs.existsSync('/run/systemd/system') && onPath('systemctl')) {
    spawnSync('systemctl', ['disable', '--now', 'redis-server'], quiet)
  } else if (onPath('service')) {
    spawnSync('service', ['redis-server', 'stop'], quiet)
  }
}

function main() {
  const found = onPath('redis-server') && version()
  if (found) {
    console.log(`ensure-redis: ${found}`)
    return 0
  }
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (root && onPath('apt-get')) {
    const install = ['install', '-y', '--no-install-recommends', 'redis-server']
    const ok = run('apt-get', install) || (run('apt-get', ['update']) && run('apt-get', install))
    const installed = ok && version()
    if (installed) {
      stopPackagedService()
      console.log(`ensure-redis: installed ${installed}`)
      return 0
    }
    console.error('ensure-redis: installing redis-server with apt-get failed')
  }
  console.error(
    [
      'ensure-redis: redis-server is not on PATH; the token store tests need it.',
      'Install it, then run the tests again:',
      '  Debian/Ubuntu: sudo apt-get install -y redis-server',
      '                 (then `sudo systemctl disable --now redis-server`: the tests start their own)',
      '  Fedora/RHEL:   sudo dnf install -y redis   (or valkey)',
      '  macOS:         brew install redis',
    ].join('\n'),
  )
  return 1
}

process.exitCode = main()
