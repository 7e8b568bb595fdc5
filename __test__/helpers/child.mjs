// Node child processes of the tests: a script run by `node -e` in the
// repository root, with the test environment of child-env.js.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { childEnv, freshEnv } from './child-env.js'

/** The repository root (where `require('./index.js')` finds the package). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Runs `node -e code` in `cwd` (default: the repository root) with
 * childEnv(env), or with `fresh`, freshEnv(env) (PATH only); kills it with
 * SIGKILL after `timeoutMs`. Resolves `{ code, signal, out, err, ms }` once
 * its output has ended (`signal` is SIGKILL if it had to be killed).
 */
export function runNode(code, { env = {}, fresh = false, cwd = ROOT, timeoutMs = 20_000 } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now()
    const child = spawn(process.execPath, ['-e', code], {
      cwd,
      env: fresh ? freshEnv(env) : childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, out, err, ms: Date.now() - t0 })
    })
  })
}
