// A real redis-server for the suites (the fleet token store's tests): its
// own process on a free 127.0.0.1 port, no persistence, its data in a temp
// dir. `npm test` installs redis-server first (scripts/ensure-redis.js).
import { before, after } from 'node:test'
import { spawn } from 'node:child_process'
import net from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

const INSTALL_HINT =
  'redis-server is needed for these tests and was not found on PATH. Install it: ' +
  '`apt-get install -y redis-server` (Debian/Ubuntu), `brew install redis` (macOS), ' +
  'or run `node scripts/ensure-redis.js` (what `npm test` and CI run first).'

// redis-server runs under a small sh watchdog that SIGKILLs it when our end
// of its stdin closes: on kill()/stop(), and also when this process dies in
// any way (a test runner's timeout, SIGKILL), so no server outlives a run.
// Its first argument is the server's dir, made before and removed after.
const WATCHDOG = [
  'dir=$1; shift',
  'mkdir -p "$dir"',
  'exec 3<&0',
  'redis-server "$@" </dev/null &',
  'pid=$!',
  // The shell's own messages ("Killed") must not die of SIGPIPE once we are gone.
  'exec 2>/dev/null',
  '(read _ <&3; kill -9 $pid 2>/dev/null) &',
  'wait $pid; status=$?',
  'rm -rf "$dir"',
  'exit $status',
].join('\n')

/** A port nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/**
 * Sends one command (`command(port, 'SET', 'k', 'v')`) on a fresh connection
 * and resolves with the reply: a string for +simple and $bulk replies (null
 * for a nil bulk), a number for :integers; an -error reply rejects. Arrays
 * are not decoded (this is a test probe, not a client).
 */
export function command(port, ...args) {
  const parts = [`*${args.length}\r\n`]
  for (const a of args) parts.push(`$${Buffer.byteLength(String(a))}\r\n${a}\r\n`)
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port })
    let buf = Buffer.alloc(0)
    const done = (err, value) => {
      sock.destroy()
      clearTimeout(timer)
      err ? reject(err) : resolve(value)
    }
    const timer = setTimeout(() => done(new Error(`no reply from 127.0.0.1:${port}`)), 2000)
    sock.on('error', (err) => done(err))
    sock.on('connect', () => sock.write(parts.join('')))
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk])
      const eol = buf.indexOf('\r\n')
      if (eol < 0) return
      const head = buf.subarray(1, eol).toString()
      switch (String.fromCharCode(buf[0])) {
        case '+':
          return done(null, head)
        case '-':
          return done(new Error(`redis: ${head}`))
        case ':':
          return done(null, Number(head))
        case '$': {
          const n = Number(head)
          if (n < 0) return done(null, null)
          if (buf.length < eol + 2 + n + 2) return
          return done(null, buf.subarray(eol + 2, eol + 2 + n).toString())
        }
        default:
          return done(new Error(`reply type ${String.fromCharCode(buf[0])} is not decoded here`))
      }
    })
  })
}

/** Resolves with 'PONG' (or rejects: not listening, no answer, an error reply). */
export const ping = (port) => command(port, 'PING')

/** Whether a server answers at all (an error reply such as NOAUTH counts). */
const answers = (port) =>
  command(port, 'PING').then(() => true, (err) => String(err.message).startsWith('redis: '))

/** Whether `cmd` is an executable file on PATH. */
async function onPath(cmd) {
  const { access, constants } = await import('node:fs/promises')
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    try {
      await access(path.join(dir, cmd), constants.X_OK)
      return true
    } catch {}
  }
  return false
}

/**
 * Starts a fresh redis-server: `{ url, port, dir, stop(), kill(), restart() }`.
 * `kill()` is a crash (SIGKILL), `restart()` a fresh empty server on the
 * same port, `stop()` kills it and removes its dir (call it after the tests,
 * or use `useRedis`). `args` are more redis-server arguments.
 */
export async function startRedis({ args = [] } = {}) {
  const port = await freePort()
  const dir = mkdtempSync(path.join(tmpdir(), 'wmln-redis-'))
  const argv = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--loglevel', 'warning',
    '--dir', dir,
    ...args,
  ]
  let child = null

  async function launch() {
    if (!(await onPath('redis-server'))) throw new Error(INSTALL_HINT)
    const proc = spawn('sh', ['-c', WATCHDOG, 'sh', dir, ...argv], { stdio: ['pipe', 'ignore', 'pipe'] })
    let stderr = ''
    proc.stderr.on('data', (d) => (stderr += d))
    const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })))
    // Lets the watchdog go if redis-server ended on its own.
    exited.then(() => proc.stdin.destroy())
    const failed = new Promise((_, reject) => {
      proc.once('error', reject)
      exited.then(({ code, signal }) =>
        reject(new Error(`redis-server exited at start (${signal ?? code}): ${stderr.trim()}`)))
    })
    failed.catch(() => {})
    proc.exited = exited
    child = proc
    const deadline = Date.now() + 10_000
    for (;;) {
      const up = await Promise.race([answers(port), failed])
      if (up) return
      if (Date.now() > deadline) {
        await kill()
        throw new Error(`redis-server did not answer on 127.0.0.1:${port} within 10 s: ${stderr.trim()}`)
      }
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  async function kill() {
    const proc = child
    child = null
    if (!proc) return
    proc.stdin.end()
    await proc.exited
  }

  await launch()
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    dir,
    kill,
    async restart() {
      await kill()
      await launch()
    },
    async stop() {
      await kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Starts one server before the file's tests (handing it to `onStart`) and stops it after. */
export function useRedis(onStart, options) {
  let redis
  before(async () => {
    redis = await startRedis(options)
    onStart(redis)
  })
  after(() => redis?.stop())
}
