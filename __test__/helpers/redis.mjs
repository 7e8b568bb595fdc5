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
 * Parses one RESP2 reply at the start of `buf`: `{ value, end }`, or null
 * if more bytes are needed. Bulk strings are Buffers (null for nil), arrays
 * arrays, :integers numbers, +simple strings strings; -errors are
 * `{ error }`.
 */
function parseReply(buf, at = 0) {
  const eol = buf.indexOf('\r\n', at)
  if (eol < 0) return null
  const head = buf.subarray(at + 1, eol).toString()
  const next = eol + 2
  switch (String.fromCharCode(buf[at])) {
    case '+':
      return { value: head, end: next }
    case '-':
      return { value: { error: head }, end: next }
    case ':':
      return { value: Number(head), end: next }
    case '$': {
      const n = Number(head)
      if (n < 0) return { value: null, end: next }
      if (buf.length < next + n + 2) return null
      return { value: Buffer.from(buf.subarray(next, next + n)), end: next + n + 2 }
    }
    case '*': {
      const n = Number(head)
      if (n < 0) return { value: null, end: next }
      const items = []
      let end = next
      for (let i = 0; i < n; i++) {
        const item = parseReply(buf, end)
        if (item === null) return null
        items.push(item.value)
        end = item.end
      }
      return { value: items, end }
    }
    default:
      throw new Error(`reply type ${String.fromCharCode(buf[at])} is not decoded here`)
  }
}

/**
 * Sends one command (`commandRaw(port, 'GET', key)`) on a fresh connection
 * and resolves with the reply as `parseReply` decodes it (binary safe:
 * arguments may be Buffers, bulk replies are Buffers); an -error reply
 * rejects. A test probe, not a client.
 */
export function commandRaw(port, ...args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const bytes = Buffer.isBuffer(a) ? a : Buffer.from(String(a))
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'))
  }
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
    sock.on('connect', () => sock.write(Buffer.concat(parts)))
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk])
      let reply
      try {
        reply = parseReply(buf)
      } catch (err) {
        return done(err)
      }
      if (reply === null) return
      const { value } = reply
      if (value !== null && typeof value === 'object' && 'error' in value) return done(new Error(`redis: ${value.error}`))
      done(null, value)
    })
  })
}

/** Buffers (and arrays of them) as strings. */
const asText = (v) => (Buffer.isBuffer(v) ? v.toString() : Array.isArray(v) ? v.map(asText) : v)

/**
 * As `commandRaw`, with bulk replies as strings (`command(port, 'SET', 'k',
 * 'v')`): a string for +simple and $bulk replies (null for a nil bulk), a
 * number for :integers, an array of those for arrays.
 */
export async function command(port, ...args) {
  return asText(await commandRaw(port, ...args))
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
