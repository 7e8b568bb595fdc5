// The setup the suites share: one fake IAM/WML server per test file, and a
// fresh API key per call so that no cache entry carries over between tests.
import { before, after, beforeEach } from 'node:test'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'

const require = createRequire(import.meta.url)
const { startFakeServer } = require('../../testing/index.js')

/**
 * Starts a fake server before the file's tests (handing it to `onStart`),
 * clears its faults before each test and closes it after the last one.
 */
export function useFakeServer(onStart, options) {
  let server
  before(async () => {
    server = await startFakeServer(options)
    onStart(server)
  })
  after(() => server.close())
  beforeEach(() => server.clearFaults())
}

/** `() => '<prefix>-<pid>-<n>-<random>'`: a key never used before. */
export function keyMaker(prefix) {
  let n = 0
  return () => `${prefix}-${process.pid}-${++n}-${Math.random().toString(36).slice(2)}`
}

/**
 * Makes a temp directory (named `<prefix>XXXXXX`) before the file's tests,
 * handing its path to `onCreate`, and removes it after the last one.
 */
export function useTmpDir(prefix, onCreate) {
  let dir
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
    onCreate(dir)
  })
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })
}
