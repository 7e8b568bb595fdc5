// The package as users get it: `npm pack` the repository, check what the
// tarball holds, then install it (with the platform package carrying this
// host's binary, the way napi-rs publishes) into a NEW project outside the
// repository, offline, and use it from CommonJS, ESM, TypeScript, the CLI and
// the Express example.
//
// Slow steps (marked [slow]): the offline `npm install` (~1 s) and five tsc
// runs (~3-5 s of CPU each, started together; the fifth builds the Express
// example against the installed package). The whole file takes ~15 s on
// an idle 2-core machine (~35 s on a loaded one). Needs the addon built for
// this host (else the install part is skipped) and npm on PATH; no network.
// Set WML_KEEP_PACKAGE_TEST_DIR=1 to keep the temp dir for inspection.
//
//   node --test __test__/package.test.mjs      (npm run test:package)
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { builtinModules, createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { childEnv, withoutNpm } from './helpers/child-env.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const FIXTURE = path.join(ROOT, '__test__', 'fixtures', 'consumer')
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
const TYPES_NODE = path.join(ROOT, 'node_modules', '@types', 'node')
const EXAMPLE = path.join(ROOT, 'examples', 'express')
const hasExpress = ['express', '@types/express'].every((m) => fs.existsSync(path.join(ROOT, 'node_modules', m, 'package.json')))
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))

// ------------------------------------------------------------------ helpers

/**
 * The environment for child processes (npm, node, tsc): childEnv() (no
 * WML_/IBM/proxy settings of the developer's; loopback only), also without
 * the `npm_*` variables an enclosing `npm run` sets (npm_config_local_prefix
 * and friends would point the install back at the repository) and without
 * NODE_OPTIONS.
 */
function cleanEnv(extra = {}) {
  return { ...withoutNpm(childEnv()), ...extra }
}

/** Runs a command; resolves with { code, stdout, stderr, ms } (never rejects on exit code). */
function run(cmd, args, { cwd, env = cleanEnv(), input } = {}) {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const isWinScript = process.platform === 'win32' && cmd === 'npm'
    const child = spawn(isWinScript ? 'npm.cmd' : cmd, args, { cwd, env, shell: isWinScript, stdio: 'pipe' })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }))
    child.stdin.end(input)
  })
}

/** As `run`, but rejects with the output when the exit code is not 0. */
async function runOk(cmd, args, opts) {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`)
  }
  return r
}

/** `npm pack --json` of `dir` into `dest`; returns npm's report of the one tarball. */
async function npmPack(dir, dest) {
  const { stdout } = await runOk('npm', ['pack', '--json', '--pack-destination', dest], { cwd: dir })
  // Lifecycle scripts (prepack...) may print before the JSON.
  const json = JSON.parse(stdout.slice(stdout.indexOf('[')))
  assert.equal(json.length, 1)
  return { ...json[0], tarball: path.join(dest, json[0].filename) }
}

/** The napi-rs platform suffix of this host, as native.js picks it (e.g. `linux-x64-gnu`). */
function hostSuffix() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const report = process.report?.getReport?.()
    return `linux-${arch}-${report?.header?.glibcVersionRuntime ? 'gnu' : 'musl'}`
  }
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]))

/** Relative and bare module specifiers of a JS or .d.ts source (static and dynamic). */
function specifiers(source) {
  const out = []
  const re = /\brequire\(\s*(['"])([^'"]+)\1\s*\)|\bfrom\s+(['"])([^'"]+)\3|\bimport\(\s*(['"])([^'"]+)\5\s*\)|^\s*import\s+(['"])([^'"]+)\7/gm
  for (const m of source.matchAll(re)) out.push(m[2] ?? m[4] ?? m[6] ?? m[8])
  return out
}

/**
 * What index.d.ts promises: the exported names (values and types), the
 * members of exported interfaces and classes, and the string literals of
 * exported union types. Read with the TypeScript compiler API.
 */
function declaredApi(dtsFile) {
  const ts = createRequire(import.meta.url)('typescript')
  const sf = ts.createSourceFile(dtsFile, fs.readFileSync(dtsFile, 'utf8'), ts.ScriptTarget.Latest, true)
  const values = new Set()
  const all = new Set()
  const exported = (node) => node.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
  const literalsOf = (type) => {
    if (ts.isUnionTypeNode(type)) return type.types.flatMap(literalsOf)
    if (ts.isLiteralTypeNode(type) && ts.isStringLiteral(type.literal)) return [type.literal.text]
    return []
  }
  for (const st of sf.statements) {
    if (!exported(st) || !st.name) continue
    const name = st.name.text
    all.add(name)
    if (ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) values.add(name)
    if (ts.isInterfaceDeclaration(st) || ts.isClassDeclaration(st)) {
      for (const m of st.members) if (m.name && ts.isIdentifier(m.name)) all.add(m.name.text)
    }
    if (ts.isFunctionDeclaration(st)) {
      // Inline object types of parameters and results (configureTokenCache, tokenCacheStats).
      for (const t of [...st.parameters.map((p) => p.type), st.type]) {
        if (t && ts.isTypeLiteralNode(t)) for (const m of t.members) if (m.name) all.add(m.name.text)
      }
    }
    if (ts.isTypeAliasDeclaration(st)) for (const lit of literalsOf(st.type)) all.add(lit)
  }
  return { values, all }
}

// ------------------------------------------------------------------ setup

const suffix = hostSuffix()
const binaryName = `${pkg.napi.binaryName}.${suffix}.node`
const builtBinary = path.join(ROOT, binaryName)
const canInstall = fs.existsSync(builtBinary) && fs.existsSync(path.join(ROOT, 'npm', suffix, 'package.json'))

let tmp // the temp dir holding everything below
let packed // npm's report of the root tarball
let consumer // the fresh consumer project
let installed // resolves once the consumer project is installed (or rejects)
let tscRuns // the consumer's tsc runs, started together: { nodenext, node10, bundler, bad, express }

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wml-native-package-'))
  packed = await npmPack(ROOT, tmp)
})

after(() => {
  if (tmp && !process.env.WML_KEEP_PACKAGE_TEST_DIR) fs.rmSync(tmp, { recursive: true, force: true })
  else if (tmp) console.log(`kept ${tmp}`)
})

/**
 * [slow] Builds the consumer project: packs the platform package (npm/<host>
 * plus the built binary), packs the root package as `napi pre-publish` would
 * publish it (with `optionalDependencies` on every platform package), and
 * installs both tarballs into a new project with `npm install --offline` and
 * an empty cache, so nothing comes from the registry and the optional
 * platform packages that cannot be fetched must not break the install.
 */
async function install() {
  // The platform package, as the release job assembles it.
  const platformDir = path.join(tmp, 'platform')
  fs.cpSync(path.join(ROOT, 'npm', suffix), platformDir, { recursive: true })
  fs.copyFileSync(builtBinary, path.join(platformDir, binaryName))
  const platform = await npmPack(platformDir, tmp)

  // The root package with the optionalDependencies napi pre-publish adds.
  const stageDir = path.join(tmp, 'stage')
  for (const { path: file } of packed.files) {
    fs.mkdirSync(path.dirname(path.join(stageDir, file)), { recursive: true })
    fs.copyFileSync(path.join(ROOT, file), path.join(stageDir, file))
  }
  const stagedPkg = JSON.parse(fs.readFileSync(path.join(stageDir, 'package.json'), 'utf8'))
  stagedPkg.optionalDependencies = {}
  for (const dir of fs.readdirSync(path.join(ROOT, 'npm')).sort()) {
    stagedPkg.optionalDependencies[`${pkg.name}-${dir}`] = pkg.version
  }
  fs.writeFileSync(path.join(stageDir, 'package.json'), JSON.stringify(stagedPkg, null, 2) + '\n')
  fs.mkdirSync(path.join(tmp, 'published'))
  const root = await npmPack(stageDir, path.join(tmp, 'published'))

  consumer = path.join(tmp, 'consumer')
  fs.mkdirSync(consumer)
  fs.writeFileSync(
    path.join(consumer, 'package.json'),
    JSON.stringify({ name: 'wml-native-consumer', version: '1.0.0', private: true, type: 'module' }, null, 2),
  )
  const r = await runOk(
    'npm',
    ['install', '--offline', '--no-audit', '--no-fund', '--cache', path.join(tmp, 'npm-cache'), root.tarball, platform.tarball],
    { cwd: consumer },
  )
  return r.ms
}

/**
 * The Express example as its README tells users to take it into their own
 * project: src/ and tsconfig.json copied, the `paths` entry deleted, so
 * `wml-native` is the installed package. It lives in consumer/express-app (a
 * CommonJS package: the example compiles to CommonJS); express and
 * @types/express are the repository's devDependencies, linked, so the test
 * stays offline.
 */
function copyExpressExample() {
  const ts = createRequire(import.meta.url)('typescript')
  const app = path.join(consumer, 'express-app')
  fs.cpSync(path.join(EXAMPLE, 'src'), path.join(app, 'src'), { recursive: true })
  const file = path.join(EXAMPLE, 'tsconfig.json')
  const { config, error } = ts.parseConfigFileTextToJson(file, fs.readFileSync(file, 'utf8'))
  assert.ok(!error && config.compilerOptions.paths, 'examples/express/tsconfig.json has no paths entry to delete')
  delete config.compilerOptions.paths
  fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify(config, null, 2))
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'express-app', private: true, type: 'commonjs' }))
  for (const m of ['express', '@types/express']) {
    fs.symlinkSync(path.join(ROOT, 'node_modules', m), path.join(consumer, 'node_modules', m), 'junction')
  }
}

// ------------------------------------------------------------------ tests

describe('npm pack', () => {
  test('the tarball holds what users need and nothing else', () => {
    const files = packed.files.map((f) => f.path).sort()
    const allowed =
      /^(package\.json|README\.md|CHANGELOG\.md|LICEN[CS]E(\.md|\.txt)?|index\.(js|mjs|d\.ts)|native\.js|lib\/.+|bin\/.+|testing\/(index\.(js|mjs|d\.ts)|cli\.js|lib\/.+\.js|fixtures\/[^/]+\.pem))$/
    const forbidden = /^(src|__test__|target|bench|examples|npm|scripts|fuzz|node_modules|\.ci|\.git)\/|^Cargo\.|\.node$|\.tgz$|\.rs$/
    assert.deepEqual(files.filter((f) => forbidden.test(f)), [], 'build and test files must not be published')
    assert.deepEqual(files.filter((f) => !allowed.test(f)), [], 'unexpected files in the tarball')

    const required = [
      'package.json',
      'index.js',
      'index.mjs',
      'index.d.ts',
      'native.js',
      'testing/index.js',
      'testing/index.mjs',
      'testing/index.d.ts',
      'testing/cli.js',
      'testing/fixtures/ca.pem',
      'testing/fixtures/cert.pem',
      'testing/fixtures/key.pem',
    ]
    assert.deepEqual(required.filter((f) => !files.includes(f)), [], 'files missing from the tarball')
    assert.ok(files.includes('README.md'), 'the package has no README.md (add one at the repository root)')
    assert.equal(packed.name, pkg.name)
    assert.equal(packed.version, pkg.version)
  })

  test('every path package.json points at (main, types, exports, bin) is in the tarball', () => {
    const files = new Set(packed.files.map((f) => f.path))
    const targets = [pkg.main, pkg.types]
    const walk = (v) => {
      if (typeof v === 'string') targets.push(v)
      else if (v && typeof v === 'object') Object.values(v).forEach(walk)
    }
    walk(pkg.exports)
    walk(typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : pkg.bin)
    const missing = targets.filter(Boolean).map((t) => path.posix.normalize(t)).filter((t) => !files.has(t))
    assert.deepEqual(missing, [])
  })

  test('packed code requires only packed files, Node built-ins and the platform packages', () => {
    const files = new Set(packed.files.map((f) => f.path))
    const deps = new Set(Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies }))
    const problems = []
    for (const file of files) {
      if (!/\.(c?js|mjs|d\.ts)$/.test(file)) continue
      for (const spec of specifiers(fs.readFileSync(path.join(ROOT, file), 'utf8'))) {
        if (spec.startsWith('.')) {
          // native.js tries binaries that ship in platform packages (./wml-native.<target>.node, WASI).
          if (file === 'native.js' && spec.startsWith(`./${pkg.napi.binaryName}.`)) continue
          const base = path.posix.join(path.posix.dirname(file), spec)
          const candidates = [base, `${base}.js`, `${base}.json`, `${base}/index.js`, base.replace(/\.js$/, '.d.ts')]
          if (spec === '..' || spec === '../') candidates.push('index.js')
          if (!candidates.some((c) => files.has(path.posix.normalize(c)))) problems.push(`${file}: ${spec}`)
        } else {
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]
          const ok =
            BUILTINS.has(spec) ||
            BUILTINS.has(name) ||
            deps.has(name) ||
            name === pkg.name || // self-reference, e.g. the fixtures' docs
            name.startsWith(`${pkg.name}-`) || // platform packages (native.js)
            (file === 'native.js' && name === '@napi-rs/wasm-runtime')
          if (!ok) problems.push(`${file}: ${spec} (not a dependency)`)
        }
      }
    }
    assert.deepEqual(problems, [])
  })

  test('npm/ holds one platform package per napi target, matching native.js', () => {
    const nativeJs = fs.readFileSync(path.join(ROOT, 'native.js'), 'utf8')
    const dirs = fs.readdirSync(path.join(ROOT, 'npm')).sort()
    assert.equal(dirs.length, pkg.napi.targets.length, `npm/ has ${dirs.join(', ')}`)
    for (const dir of dirs) {
      const p = JSON.parse(fs.readFileSync(path.join(ROOT, 'npm', dir, 'package.json'), 'utf8'))
      const binary = `${pkg.napi.binaryName}.${dir}.node`
      assert.equal(p.name, `${pkg.name}-${dir}`)
      assert.equal(p.version, pkg.version, `${p.name}: version`)
      assert.equal(p.main, binary)
      assert.deepEqual(p.files, [binary])
      assert.ok(nativeJs.includes(`require('${p.name}')`), `native.js does not load ${p.name}`)
      assert.ok(nativeJs.includes(`require('./${binary}')`), `native.js does not look for ./${binary}`)
      const [os_, cpu, abi] = dir.split('-')
      assert.deepEqual(p.os, [os_], `${p.name}: os`)
      assert.deepEqual(p.cpu, [cpu], `${p.name}: cpu`)
      if (os_ === 'linux') assert.deepEqual(p.libc, [abi === 'musl' ? 'musl' : 'glibc'], `${p.name}: libc`)
      else assert.equal(p.libc, undefined)
      assert.ok(fs.existsSync(path.join(ROOT, 'npm', dir, 'README.md')), `${p.name}: README.md`)
    }
  })
})

describe('installed into a new project', { skip: !canInstall && `no ${binaryName} built for this host` }, () => {
  before(async () => {
    installed = install()
    await installed
  })

  test('require() exposes every declared export, with the binary of the platform package', async (t) => {
    t.diagnostic(`npm install --offline of the packed tarballs took ${await installed} ms`)
    const code = `
      const m = require('wml-native')
      const loaded = Object.keys(require.cache).filter((f) => f.endsWith('.node'))
      console.log(JSON.stringify({ keys: Object.keys(m), main: require.resolve('wml-native'), loaded }))`
    const { stdout } = await runOk(process.execPath, ['--input-type=commonjs', '-e', code], { cwd: consumer })
    const out = JSON.parse(stdout)
    const { values } = declaredApi(path.join(consumer, 'node_modules', 'wml-native', 'index.d.ts'))
    assert.deepEqual([...out.keys].sort(), [...values].sort(), 'runtime exports differ from index.d.ts')
    assert.equal(out.main, path.join(fs.realpathSync(consumer), 'node_modules', 'wml-native', 'index.js'))
    assert.deepEqual(out.loaded, [
      path.join(fs.realpathSync(consumer), 'node_modules', `${pkg.name}-${suffix}`, binaryName),
    ])
  })

  test('ESM import gives the same named exports and a default export', async () => {
    const code = `
      import * as ns from 'wml-native'
      import wml, { getIamToken, WmlClient } from 'wml-native'
      import { createRequire } from 'node:module'
      const cjs = createRequire(import.meta.url)('wml-native')
      if (getIamToken !== cjs.getIamToken || WmlClient !== cjs.WmlClient || wml !== cjs) throw new Error('ESM and CJS differ')
      console.log(JSON.stringify(Object.keys(ns).filter((k) => k !== 'default').sort()))`
    const { stdout } = await runOk(process.execPath, ['--input-type=module', '-e', code], { cwd: consumer })
    const { values } = declaredApi(path.join(consumer, 'node_modules', 'wml-native', 'index.d.ts'))
    assert.deepEqual(JSON.parse(stdout), [...values].sort())
  })

  test('wml-native/testing works from require() and import, and its fake server answers', async () => {
    const cjsCode = `
      const t = require('wml-native/testing')
      console.log(JSON.stringify(Object.keys(t).sort()))`
    const cjs = JSON.parse((await runOk(process.execPath, ['--input-type=commonjs', '-e', cjsCode], { cwd: consumer })).stdout)
    const esmCode = `
      import * as t from 'wml-native/testing'
      import { getIamToken, clearTokenCache } from 'wml-native'
      const server = await t.startFakeServer()
      try {
        const token = await getIamToken('packaged-key', { url: server.url })
        if (token.split('.').length !== 3 || server.iamRequestsFor('packaged-key') !== 1) throw new Error('no token')
      } finally {
        clearTokenCache()
        await server.close()
      }
      console.log(JSON.stringify(Object.keys(t).filter((k) => k !== 'default').sort()))`
    const esm = JSON.parse((await runOk(process.execPath, ['--input-type=module', '-e', esmCode], { cwd: consumer })).stdout)
    assert.deepEqual(esm, cjs)
    for (const name of ['startFakeServer', 'FakeServer', 'FIXTURES', 'predict', 'generate']) assert.ok(cjs.includes(name), name)
  })

  test('the bin entries are installed and run', { skip: !pkg.bin && 'no bin in package.json' }, async () => {
    const bins = typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : pkg.bin
    for (const name of Object.keys(bins)) {
      const link = path.join(consumer, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.cmd` : name)
      assert.ok(fs.existsSync(link), `node_modules/.bin/${name} was not created`)
      if (process.platform === 'win32') continue
      const r = await runOk(link, ['--version'], { cwd: consumer })
      assert.match(r.stdout, new RegExp(pkg.version.replace(/\./g, '\\.')))
    }
  })

  describe('TypeScript consumer', { skip: !fs.existsSync(TSC) && 'typescript is not installed' }, () => {
    before(async () => {
      await installed
      for (const f of fs.readdirSync(FIXTURE)) fs.copyFileSync(path.join(FIXTURE, f), path.join(consumer, f))
      // @types/node as the consumer's own devDependency would provide it (the
      // package's types use AbortSignal); linked, so the test stays offline.
      fs.mkdirSync(path.join(consumer, 'node_modules', '@types'), { recursive: true })
      fs.symlinkSync(TYPES_NODE, path.join(consumer, 'node_modules', '@types', 'node'), 'junction')
      if (hasExpress) copyExpressExample()
      // [slow] The tsc runs take a few seconds each: start them all now.
      const tsc = (...args) => run(process.execPath, [TSC, '--pretty', 'false', ...args], { cwd: consumer })
      tscRuns = {
        nodenext: tsc('-p', 'tsconfig.json'), // emits dist/index.js
        node10: tsc('-p', 'tsconfig.json', '--noEmit', '--module', 'commonjs', '--moduleResolution', 'node10', '--esModuleInterop'),
        bundler: tsc('-p', 'tsconfig.json', '--noEmit', '--module', 'preserve', '--moduleResolution', 'bundler'),
        bad: tsc('-p', 'tsconfig.bad.json'),
        express: hasExpress ? tsc('-p', path.join('express-app', 'tsconfig.json')) : undefined,
      }
    })

    test('index.ts uses every export, field and literal index.d.ts declares', () => {
      const { all } = declaredApi(path.join(consumer, 'node_modules', 'wml-native', 'index.d.ts'))
      const source = fs.readFileSync(path.join(FIXTURE, 'index.ts'), 'utf8')
      const unused = [...all].filter((name) => !new RegExp(`\\b${name}\\b`).test(source))
      assert.deepEqual(unused, [], 'add these to __test__/fixtures/consumer/index.ts')
    })

    test('[slow] index.ts passes tsc --strict (nodenext), also with node10/commonjs and bundler resolution, and runs', async (t) => {
      const [nodenext, node10, bundler] = await Promise.all([tscRuns.nodenext, tscRuns.node10, tscRuns.bundler])
      assert.equal(nodenext.code, 0, `tsc (nodenext):\n${nodenext.stdout}${nodenext.stderr}`)
      assert.equal(node10.code, 0, `tsc (node10, commonjs):\n${node10.stdout}${node10.stderr}`)
      assert.equal(bundler.code, 0, `tsc (bundler):\n${bundler.stdout}${bundler.stderr}`)
      t.diagnostic(`tsc (${Object.values(tscRuns).filter(Boolean).length} runs at once): nodenext ${nodenext.ms} ms, node10 ${node10.ms} ms, bundler ${bundler.ms} ms`)

      // The compiled consumer, for real, against wml-native/testing's fake server.
      // WmlClient.fromEnv() reads the environment, ./ibm-credentials.env and
      // ~/ibm-credentials.env: hide the developer's own configuration from it
      // (cleanEnv has no WML_ setting of any service name).
      const env = cleanEnv({ HOME: consumer, USERPROFILE: consumer })
      for (const k of Object.keys(env)) {
        if (/^NOT_CONFIGURED_ANYWHERE_/.test(k)) delete env[k]
      }
      const r = await run(process.execPath, [path.join('dist', 'index.js')], { cwd: consumer, env })
      assert.equal(r.code, 0, `the compiled consumer failed:\n${r.stdout}${r.stderr}`)
      const last = JSON.parse(r.stdout.trim().split('\n').pop())
      assert.equal(last.ok, true)
      assert.ok(last.checks >= 10, `only ${last.checks} checks ran`)
    })

    test('[slow] bad.ts fails tsc with exactly the marked errors', async () => {
      const r = await tscRuns.bad
      assert.notEqual(r.code, 0, 'tsc accepted bad.ts: the type check cannot fail')
      const expected = new Map()
      fs.readFileSync(path.join(consumer, 'bad.ts'), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const m = /\/\/ @error (TS\d+)\s*$/.exec(line)
          if (m) expected.set(i + 1, m[1])
        })
      assert.ok(expected.size >= 5)
      const reported = new Map()
      for (const m of r.stdout.matchAll(/^bad\.ts\((\d+),\d+\): error (TS\d+):/gm)) reported.set(Number(m[1]), m[2])
      assert.deepEqual(reported, expected, `tsc output:\n${r.stdout}`)
    })

    test('[slow] the Express example builds against the installed package (paths entry deleted) and serves /score', {
      skip: !hasExpress && 'express / @types/express are not installed',
    }, async (t) => {
      const r = await tscRuns.express
      assert.equal(r.code, 0, `tsc -p express-app:\n${r.stdout}${r.stderr}`)
      const code = `
        const http = require('node:http')
        const { once } = require('node:events')
        const { startFakeServer } = require('wml-native/testing')
        const { createApp } = require('./dist/app.js')
        ;(async () => {
          const fake = await startFakeServer()
          const server = http.createServer(createApp({ credentials: { url: fake.url, apikey: 'express-consumer', iamUrl: fake.url } }))
          await once(server.listen(0, '127.0.0.1'), 'listening')
          const post = (id) => fetch('http://127.0.0.1:' + server.address().port + '/score/' + id, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ input_data: [{ fields: ['a'], values: [[1], [2]] }] }),
          })
          const ok = await post('dep-1')
          const missing = await post('unknown-dep')
          const out = { ok: ok.status, rows: (await ok.json()).predictions[0].values.length, missing: missing.status, error: (await missing.json()).error }
          server.closeAllConnections()
          server.close()
          await fake.close()
          console.log(JSON.stringify({ ...out, express: require('express/package.json').version }))
        })()`
      const app = path.join(consumer, 'express-app')
      const { stdout } = await runOk(process.execPath, ['--input-type=commonjs', '-e', code], { cwd: app })
      const out = JSON.parse(stdout.trim().split('\n').pop())
      t.diagnostic(`express ${out.express}, tsc ${r.ms} ms`)
      assert.deepEqual({ ...out, express: undefined }, { ok: 200, rows: 2, missing: 404, error: 'deployment_not_found', express: undefined })
    })
  })
})
