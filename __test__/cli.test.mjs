// The wml-native command line, run as a child process against the fake
// IAM + WML server, with a fresh environment (no stray IBMCLOUD_API_KEY).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { useFakeServer, keyMaker, useTmpDir } from './helpers/fake.mjs'
import { freshEnv } from './helpers/child-env.js'

const require = createRequire(import.meta.url)
const { startFakeServer } = require('../testing/index.js')
const pkg = require('../package.json')

const BIN = fileURLToPath(new URL('../bin/wml-native.js', import.meta.url))

let server
useFakeServer((s) => (server = s))
let tmp
useTmpDir('wml-cli-test-', (d) => (tmp = d))

// Every key a test uses is recorded here; no CLI output may ever contain one.
const keys = []
const newKey = keyMaker('cli-secret-key')
function freshKey() {
  const key = newKey()
  keys.push(key)
  return key
}

function writeFile(name, text) {
  const p = path.join(tmp, name)
  fs.writeFileSync(p, text)
  return p
}

/**
 * Runs the CLI with `args` and a fresh environment plus `env`; feeds `input`
 * on stdin. Resolves to { code, stdout, stderr } after checking that no
 * output mentions any API key.
 */
function cli(args, { env = {}, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: tmp,
      env: freshEnv({ HOME: tmp, ...env }),
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => {
      for (const key of keys) {
        assert.ok(!stdout.includes(key) && !stderr.includes(key), `an API key leaked: ${stdout}${stderr}`)
      }
      resolve({ code, stdout, stderr })
    })
    child.stdin.end(input)
  })
}

const PAYLOAD = { input_data: [{ fields: ['GENDER', 'AGE'], values: [['M', 23], ['F', 80]] }] }
const JWT = /^ey[\w-]+\.[\w-]+\.[\w-]+$/

// ------------------------------------------------------------------ token

test('token prints an IAM token for IBMCLOUD_API_KEY', async () => {
  const key = freshKey()
  const { code, stdout, stderr } = await cli(['token', '--iam-url', server.url], { env: { IBMCLOUD_API_KEY: key } })
  assert.equal(code, 0, stderr)
  assert.equal(stderr, '')
  assert.match(stdout, /\n$/)
  assert.match(stdout.trim(), JWT)
  assert.equal(server.iamRequestsFor(key), 1)
  assert.equal(server.lastRequest('iam').form.apikey, key)
})

test('token --json prints the token details', async () => {
  const key = freshKey()
  const { code, stdout, stderr } = await cli(['token', '--json', `--iam-url=${server.url}`], { env: { IBMCLOUD_API_KEY: key } })
  assert.equal(code, 0, stderr)
  const info = JSON.parse(stdout)
  assert.match(info.accessToken, JWT)
  assert.equal(info.tokenType, 'Bearer')
  assert.equal(info.expiresIn, 3600)
  assert.ok(info.expiration > Date.now() / 1000)
})

test('--apikey-file: the first line of the file is the key (and beats IBMCLOUD_API_KEY)', async () => {
  const fileKey = freshKey()
  const envKey = freshKey()
  const file = writeFile('key.txt', `  ${fileKey}  \r\nsecond line is ignored\n`)
  const { code, stdout, stderr } = await cli(['token', '--apikey-file', file, '--iam-url', server.url], {
    env: { IBMCLOUD_API_KEY: envKey },
  })
  assert.equal(code, 0, stderr)
  assert.match(stdout.trim(), JWT)
  assert.equal(server.iamRequestsFor(fileKey), 1)
  assert.equal(server.iamRequestsFor(envKey), 0)

  const empty = await cli(['token', '--apikey-file', writeFile('empty.txt', '\nlater\n'), '--iam-url', server.url])
  assert.equal(empty.code, 2)
  assert.match(empty.stderr, /first line is empty/)
  const missing = await cli(['token', '--apikey-file', path.join(tmp, 'absent.txt'), '--iam-url', server.url])
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /cannot read --apikey-file .*absent\.txt \(ENOENT\)/)
})

test('an API key on the command line is refused, explaining why, before anything is sent', async () => {
  const key = freshKey()
  const before = server.stats.iam
  // Each names the fake as its IAM (and service): only the refusal stands between it and a request.
  for (const args of [
    ['token', '--apikey', key, '--iam-url', server.url],
    ['token', `--apikey=${key}`, '--iam-url', server.url],
    ['token', '--api-key', key, '--iam-url', server.url],
    ['score', 'dep', 'p.json', '--apikey', key, '--url', server.url, '--iam-url', server.url],
  ]) {
    const { code, stdout, stderr } = await cli(args, { env: { IBMCLOUD_API_KEY: freshKey() } })
    assert.equal(code, 2, args.join(' '))
    assert.equal(stdout, '')
    assert.match(stderr, /is not accepted: an API key on the command line is visible to other users \(ps/)
    assert.match(stderr, /shell history/)
    assert.match(stderr, /IBMCLOUD_API_KEY/)
  }
  // A key passed where no argument belongs is not echoed either.
  const stray = await cli(['token', key, '--iam-url', server.url])
  assert.equal(stray.code, 2)
  const unknown = await cli([key, '--iam-url', server.url])
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /unknown command \(not shown\)/)
  // parseArgs repeats an unknown option's text; a key given as one is not shown.
  const dashed = await cli(['token', `--${key}`, '--iam-url', server.url])
  assert.equal(dashed.code, 2)
  assert.match(dashed.stderr, /unknown option \(not shown\)/)
  assert.equal(server.stats.iam, before)
})

test('no API key: exit 2 naming IBMCLOUD_API_KEY and --apikey-file', async () => {
  const before = server.stats.iam
  // The loopback guard stays set: WML_NATIVE_* variables are not WML
  // service settings (lib/env.js), so the CLI still asks for IBMCLOUD_API_KEY.
  const env = { IBMCLOUD_API_KEY: '  ' }
  for (const args of [['token'], ['score', 'dep', writeFile('p0.json', JSON.stringify(PAYLOAD)), '--url', server.url]]) {
    const { code, stdout, stderr } = await cli([...args, '--iam-url', server.url], { env })
    assert.equal(code, 2)
    assert.equal(stdout, '')
    assert.match(stderr, /no API key: set the IBMCLOUD_API_KEY environment variable, or pass --apikey-file FILE/)
  }
  assert.equal(server.stats.iam, before, 'nothing was sent')
})

test('an API key IAM rejects: exit 1 with the code and status on stderr', async () => {
  const key = `invalid-${freshKey()}`
  keys.push(key)
  const { code, stdout, stderr } = await cli(['token', '--iam-url', server.url], { env: { IBMCLOUD_API_KEY: key } })
  assert.equal(code, 1)
  assert.equal(stdout, '')
  assert.match(stderr, /^error ERR_IAM: /)
  assert.match(stderr, /status: 400/)
  assert.match(stderr, /BXNIM0415E/)
})

test('token serves every auth type through the <NAME>_* settings (--service, or WML_ by default)', async () => {
  const { DEFAULT_TRUSTED_PROFILES } = require('../testing/index.js')
  const crFile = writeFile('cr-token', `cli-cr-token-${process.pid}\n`)
  const container = {
    WML_AUTH_TYPE: 'container',
    WML_AUTH_URL: server.url,
    WML_CR_TOKEN_FILENAME: crFile,
    WML_IAM_PROFILE_ID: DEFAULT_TRUSTED_PROFILES[0].id,
  }
  let r = await cli(['token'], { env: container })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout.trim(), JWT)
  assert.equal(server.stats.iamByCrToken.get(`cli-cr-token-${process.pid}`), 1)

  const password = `cli-cpd-password-${process.pid}`
  keys.push(password)
  const cpd = { CPD_AUTH_TYPE: 'cp4d', CPD_URL: server.url, CPD_USERNAME: 'admin', CPD_PASSWORD: 'password' }
  r = await cli(['token', '--service', 'cpd', '--json'], { env: cpd })
  assert.equal(r.code, 0, r.stderr)
  const info = JSON.parse(r.stdout)
  assert.match(info.accessToken, JWT)
  assert.ok(info.expiration > Date.now() / 1000)
  assert.deepEqual(server.lastRequest('cpd').json, { username: 'admin', password: 'password' })

  // The token service's refusal: exit 1 with its fields, never the password.
  r = await cli(['token', '--service', 'cpd'], { env: { ...cpd, CPD_PASSWORD: password } })
  assert.equal(r.code, 1)
  assert.match(r.stderr, /^error ERR_AUTH: Cloud Pak for Data answered 401/)
  assert.match(r.stderr, /status: 401\n {2}token service: cp4d\n {2}service error code: 401/)

  // A missing cr-token file: exit 2 naming the file.
  r = await cli(['token'], { env: { ...container, WML_CR_TOKEN_FILENAME: path.join(tmp, 'gone') } })
  assert.equal(r.code, 2)
  assert.match(r.stderr, /^error ERR_INVALID_ARG: .*gone: no such file/)

  // What is missing is named; --iam-url does not mix with --service.
  r = await cli(['token', '--service', 'cpd'], { env: { CPD_AUTH_TYPE: 'cp4d', CPD_URL: server.url } })
  assert.equal(r.code, 2)
  assert.match(r.stderr, /CPD_USERNAME is not set/)
  r = await cli(['token', '--service', 'cpd', '--iam-url', server.url], { env: cpd })
  assert.equal(r.code, 2)
  assert.match(r.stderr, /--iam-url is for an API key; with --service set CPD_AUTH_URL/)
  // IBMCLOUD_API_KEY still wins over WML_ settings when no --service is given.
  const key = freshKey()
  r = await cli(['token', '--iam-url', server.url], { env: { ...container, IBMCLOUD_API_KEY: key } })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(server.iamRequestsFor(key), 1)
})

// ------------------------------------------------------------------ score

test('score reads a payload file and prints the response JSON', async () => {
  const key = freshKey()
  const file = writeFile('payload.json', JSON.stringify(PAYLOAD))
  const { code, stdout, stderr } = await cli(
    ['score', 'dep-cli', file, '--url', server.url, '--iam-url', server.url, '--version', '2024-03-14'],
    { env: { IBMCLOUD_API_KEY: key } },
  )
  assert.equal(code, 0, stderr)
  const res = JSON.parse(stdout)
  assert.deepEqual(res.predictions[0].values.map((v) => v[0]), ['N', 'Y'])
  assert.match(stdout, /^\{\n {2}"predictions"/) // pretty-printed
  const req = server.lastRequest('predictions')
  assert.equal(req.path, '/ml/v4/deployments/dep-cli/predictions')
  assert.equal(req.query.version, '2024-03-14')
  assert.deepEqual(req.json, PAYLOAD)
  assert.equal(server.iamRequestsFor(key), 1)
})

test('score - reads the payload from stdin; the URL defaults to WML_URL', async () => {
  const key = freshKey()
  const { code, stdout, stderr } = await cli(['score', 'dep-stdin', '-', '--iam-url', server.url], {
    env: { IBMCLOUD_API_KEY: key, WML_URL: server.url },
    input: JSON.stringify(PAYLOAD),
  })
  assert.equal(code, 0, stderr)
  assert.equal(JSON.parse(stdout).predictions[0].values.length, 2)
  assert.equal(server.lastRequest('predictions').path, '/ml/v4/deployments/dep-stdin/predictions')
})

test('an unknown deployment: exit 1, "error ERR_WML", the status and the service code on stderr', async () => {
  const file = writeFile('p404.json', JSON.stringify(PAYLOAD))
  const { code, stdout, stderr } = await cli(['score', 'unknown-dep', file, '--url', server.url, '--iam-url', server.url], {
    env: { IBMCLOUD_API_KEY: freshKey() },
  })
  assert.equal(code, 1)
  assert.equal(stdout, '')
  assert.match(stderr, /^error ERR_WML: /)
  assert.match(stderr, /status: 404/)
  assert.match(stderr, /deployment_not_found/)
  assert.match(stderr, /trace: [0-9a-f]{32}/)
})

test('--timeout bounds the call: a hung service gives exit 1 ERR_TIMEOUT', async () => {
  const file = writeFile('pt.json', JSON.stringify(PAYLOAD))
  server.fault({ route: 'predictions', hang: true, times: 1 })
  const t0 = Date.now()
  const { code, stderr } = await cli(['score', 'd', file, '--url', server.url, '--iam-url', server.url, '--timeout', '300'], {
    env: { IBMCLOUD_API_KEY: freshKey() },
  })
  assert.equal(code, 1)
  assert.match(stderr, /^error ERR_TIMEOUT: /)
  assert.ok(Date.now() - t0 < 5000)
})

test('a network failure: exit 1 ERR_NETWORK', async () => {
  const file = writeFile('pn.json', JSON.stringify(PAYLOAD))
  const dead = await startFakeServer()
  const url = dead.url
  await dead.close()
  const { code, stderr } = await cli(['score', 'd', file, '--url', url, '--iam-url', server.url], {
    env: { IBMCLOUD_API_KEY: freshKey() },
  })
  assert.equal(code, 1)
  assert.match(stderr, /^error ERR_NETWORK: /)
})

test('bad payloads and arguments: exit 2, nothing sent', async () => {
  const env = { IBMCLOUD_API_KEY: freshKey() }
  const before = { iam: server.stats.iam, predictions: server.stats.predictions }
  const common = ['--url', server.url, '--iam-url', server.url]
  const cases = [
    [['score', 'd', writeFile('bad.json', '{"input_data": [')], /bad\.json is not valid JSON \(it ends too early\)/],
    [['score', 'd', writeFile('bad2.json', '{"a": 1,\n  "b": nope}')], /bad2\.json is not valid JSON/],
    [['score', 'd', writeFile('empty.json', '')], /empty\.json is not valid JSON \(it is empty\)/],
    [['score', 'd', writeFile('array.json', '[1, 2]')], /array\.json must be a JSON object/],
    [['score', 'd', path.join(tmp, 'missing.json')], /cannot read the payload file .*missing\.json \(ENOENT\)/],
    [['score', 'd'], /score needs a deployment id and a payload file/],
    [['score', 'd', 'a.json', 'extra'], /score takes 2 arguments, got 3/],
    [['score', 'd', writeFile('ok.json', '{}'), '--version', '29-05-2023'], /--version must be an API version date/],
    [['score', 'd', writeFile('ok2.json', '{}'), '--timeout', '1.5s'], /--timeout must be a whole number/],
    [['score', 'd', writeFile('ok3.json', '{}'), '--bogus'], /Unknown option '--bogus'/],
    [['token', '--url', server.url], /Unknown option '--url'/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ]
  for (const [args, message] of cases) {
    const { code, stdout, stderr } = await cli([...args, ...common], { env })
    assert.equal(code, 2, `${args.join(' ')}: ${stderr}`)
    assert.equal(stdout, '')
    assert.match(stderr, message)
    assert.match(stderr, /Run "wml-native( \w+)? --help" for usage/)
  }
  // Invalid JSON on stdin too.
  const { code, stderr } = await cli(['score', 'd', '-', ...common], { env, input: 'not json' })
  assert.equal(code, 2)
  assert.match(stderr, /the payload on standard input is not valid JSON/)
  assert.deepEqual({ iam: server.stats.iam, predictions: server.stats.predictions }, before)
})

// ------------------------------------------------------------------ help

test('--help, -h and help <command> print usage with the exit codes; exit 0', async () => {
  for (const args of [['--help'], ['-h'], ['help']]) {
    const { code, stdout, stderr } = await cli(args)
    assert.equal(code, 0)
    assert.equal(stderr, '')
    assert.match(stdout, /^Usage: wml-native <command>/)
    assert.match(stdout, /token/)
    assert.match(stdout, /score <deployment-id> <payload\.json\|->/)
    assert.match(stdout, /Exit codes:\n {2}0 {2}success\n {2}1 {2}the service or the network failed/)
    assert.match(stdout, /2 {2}usage error/)
    assert.match(stdout, /IBMCLOUD_API_KEY/)
  }
  for (const command of ['token', 'score']) {
    for (const args of [[command, '--help'], [command, '-h'], ['help', command]]) {
      const { code, stdout } = await cli(args)
      assert.equal(code, 0)
      assert.match(stdout, new RegExp(`^Usage: wml-native ${command}`))
      assert.match(stdout, /Exit codes: 0 success, 1 [^]*?, 2 usage error/)
      assert.match(stdout, /--apikey-file FILE/)
    }
  }
  // --help wins over missing arguments and keys.
  assert.equal((await cli(['score', '--help'])).code, 0)
})

test('no command prints the usage on stderr with exit 2; --version prints the version', async () => {
  const none = await cli([])
  assert.equal(none.code, 2)
  assert.equal(none.stdout, '')
  assert.match(none.stderr, /^Usage: wml-native/)
  const v = await cli(['--version'])
  assert.equal(v.code, 0)
  assert.equal(v.stdout, `${pkg.version}\n`)
  const bad = await cli(['help', 'nope'])
  assert.equal(bad.code, 2)
})
