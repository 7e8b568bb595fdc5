'use strict'
// The environment of every process a test (or scripts/node-matrix.js) starts.
// CommonJS, so that the CommonJS fixtures and scripts use it as the .mjs
// suites do.

/**
 * Set for every process a test starts: the addon then refuses at once
 * (ERR_INVALID_ARG) any request to a host that is not loopback, so that no
 * test can reach iam.cloud.ibm.com or the VPC metadata address.
 */
const TEST_ENV = Object.freeze({ WML_NATIVE_TEST_LOOPBACK_ONLY: '1' })

/**
 * What a child must not inherit from the developer's environment: this
 * package's own settings (WML_NATIVE_*: a token store, its key, debug
 * output), IBM's credential settings (<NAME>_* of any name holding WML_,
 * e.g. WML_APIKEY or CPD_WML_URL; IBMCLOUD_*, IBM_CREDENTIALS_FILE,
 * VCAP_SERVICES) and the proxy variables, in either case.
 */
const NOT_INHERITED = /WML_|^IBMCLOUD_|^IBM_CREDENTIALS_FILE$|^VCAP_SERVICES$|^(HTTPS?|ALL|NO)_PROXY$/i

/** This process's environment without what NOT_INHERITED names, with TEST_ENV, then `extra`. */
function childEnv(extra = {}) {
  const env = {}
  for (const [k, v] of Object.entries(process.env)) if (!NOT_INHERITED.test(k)) env[k] = v
  return { ...env, ...TEST_ENV, ...extra }
}

/** A fresh environment: this process's PATH only, with TEST_ENV, then `extra`. */
function freshEnv(extra = {}) {
  return { PATH: process.env.PATH, ...TEST_ENV, ...extra }
}

/**
 * `env` without what an enclosing `npm run` sets (npm_*, INIT_CWD: an npm
 * started with them works on the repository instead of its own directory)
 * and without NODE_OPTIONS and NODE_PATH (which another Node version may
 * reject, or which resolve modules from elsewhere).
 */
function withoutNpm(env) {
  const out = {}
  for (const [k, v] of Object.entries(env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || k === 'NODE_OPTIONS' || k === 'NODE_PATH') continue
    out[k] = v
  }
  return out
}

module.exports = { TEST_ENV, NOT_INHERITED, childEnv, freshEnv, withoutNpm }
