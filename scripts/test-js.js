#!/usr/bin/env node
'use strict'
/**
 * Runs the JS suites with `node --test`, one file at a time, in the test
 * environment: this environment without the developer's WML_* (e.g. a
 * WML_NATIVE_TOKEN_STORE), IBM credential and proxy settings, and with
 * WML_NATIVE_TEST_LOOPBACK_ONLY=1 (see __test__/helpers/child-env.js).
 *
 *   node scripts/test-js.js [FILE...]      (npm run test:js; default: every __test__/*.test.mjs)
 */
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { childEnv } = require('../__test__/helpers/child-env.js')

const ROOT = path.resolve(__dirname, '..')
const given = process.argv.slice(2)
const files = given.length > 0
  ? given
  : fs.readdirSync(path.join(ROOT, '__test__')).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => path.join('__test__', f))
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { cwd: ROOT, stdio: 'inherit', env: childEnv() })
if (r.error) throw r.error
process.exitCode = r.status ?? 1
