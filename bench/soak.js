#!/usr/bin/env node
'use strict'
/**
 * Soak test (`npm run soak`; not part of the default tests).
 *
 * Millions of cached `getIamToken` calls interleaved with `WmlClient.score`
 * calls (20-row payloads, ~32 in flight) against the fake IAM + WML server in
 * its own process (`node testing/cli.js --token-lifetime N`), with token
 * lifetimes short enough that every key is refreshed many times during the
 * run. Reports RSS and heap at start, after warm-up, in the middle and at the
 * end (after a forced full GC), the growth after warm-up (goal: < 10%), every
 * failed call with its code (goal: 0), the IAM requests the server saw, and
 * the duration; writes bench/SOAK.md. Exits 1 if any call failed (or the run
 * hit its time bound), 0 otherwise (the RSS goal is reported, not enforced).
 *
 * Knobs (environment):
 *   SOAK_TOKEN_CALLS     getIamToken calls                     5000000
 *   SOAK_SCORES          WmlClient.score calls                 200000
 *   SOAK_CONCURRENCY     scores in flight                      32
 *   SOAK_KEYS            distinct API keys (one client each)   100
 *   SOAK_TOKEN_KEYS      of which getIamToken also uses        50
 *   SOAK_TOKEN_LIFETIME  token lifetime on the server, s       6
 *   SOAK_ROWS            rows per scoring payload              20
 *   SOAK_WARMUP          fraction of the work that is warm-up  0.05
 *   SOAK_MAX_SECONDS     hard bound on the run                 900
 *   SOAK_REPORT          where to write the report (`-`: none) bench/SOAK.md
 *
 * The fake server's counters live in its own process: this file is also
 * loaded there (`node --require bench/soak.js testing/cli.js ...`, marked by
 * WML_SOAK_SERVER_HOOK=1) to answer "stats" questions over the IPC channel.
 * That hook also stops the server if this process goes away.
 */
const path = require('node:path')
const { ROOT, envInfo, envLine, startFakeServerProcess, sleep } = require('./common')

if (process.env.WML_SOAK_SERVER_HOOK === '1') {
  installServerHook()
} else {
  main().catch((err) => {
    process.stderr.write(`soak: ${err && err.stack || err}\n`)
    process.exit(1)
  })
}

// ------------------------------------------------------------ server side

/** Runs inside the fake server's process, before testing/cli.js. */
function installServerHook() {
  delete process.env.WML_SOAK_SERVER_HOOK
  const testing = require(path.join(ROOT, 'testing', 'index.js'))
  const start = testing.startFakeServer
  let server
  testing.startFakeServer = async (options) => {
    server = await start(options)
    return server
  }
  process.on('message', (msg) => {
    if (!msg || msg.type !== 'stats' || !process.connected) return
    const s = server && server.stats
    process.send({
      type: 'stats',
      id: msg.id,
      iam: s ? s.iam : 0,
      iamKeys: s ? s.iamByKey.size : 0,
      predictions: s ? s.predictions : 0,
      connections: s ? s.connections : 0,
      rss: process.memoryUsage().rss,
    })
  })
  // The parent went away (crashed, killed): stop like cli.js does on SIGTERM.
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'))
}

// ------------------------------------------------------------ client side

function knob(name, def, { min = 0, integer = true } = {}) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return def
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new Error(`${name} must be a${integer ? ' whole' : ''} number >= ${min}, got ${JSON.stringify(raw)}`)
  }
  return n
}

function config() {
  const report = process.env.SOAK_REPORT
  return {
    tokenCalls: knob('SOAK_TOKEN_CALLS', 5_000_000),
    scores: knob('SOAK_SCORES', 200_000),
    concurrency: knob('SOAK_CONCURRENCY', 32, { min: 1 }),
    keys: knob('SOAK_KEYS', 100, { min: 1 }),
    tokenKeys: knob('SOAK_TOKEN_KEYS', 50, { min: 1 }),
    lifetimeSec: knob('SOAK_TOKEN_LIFETIME', 6, { min: 1 }),
    rows: knob('SOAK_ROWS', 20, { min: 1 }),
    warmup: knob('SOAK_WARMUP', 0.05, { min: 0, integer: false }),
    maxSeconds: knob('SOAK_MAX_SECONDS', 900, { min: 1, integer: false }),
    report: report === '-' ? null : path.resolve(report || path.join(__dirname, 'SOAK.md')),
  }
}

/** A full GC, also without --expose-gc. */
function gcFunction() {
  if (typeof global.gc === 'function') return global.gc
  require('node:v8').setFlagsFromString('--expose-gc')
  return require('node:vm').runInNewContext('gc')
}

// The cache counts a token's life from the request, less a second for IAM's
// whole-second timestamps, and refreshes at 80% of that.
function refreshEverySec(lifetimeSec) {
  return (lifetimeSec - 1) * 0.8
}

const MB = 1024 * 1024
const mb = (bytes) => (bytes / MB).toFixed(1)
const tick = () => new Promise((resolve) => setImmediate(resolve))

/** Starts the fake server in its own process (with the stats hook); resolves { child, url, stats(), stop() }. */
async function startServer(lifetimeSec) {
  const { child, url, stop } = await startFakeServerProcess({
    args: ['--token-lifetime', String(lifetimeSec)],
    nodeArgs: ['--require', __filename],
    env: { WML_SOAK_SERVER_HOOK: '1' },
    ipc: true,
  })
  let lastId = 0
  const stats = () =>
    new Promise((resolve, reject) => {
      if (!child.connected) return reject(new Error('the fake server is gone'))
      const id = ++lastId
      const timer = setTimeout(() => {
        child.off('message', onMessage)
        reject(new Error('the fake server did not answer a stats request within 10 s'))
      }, 10_000)
      const onMessage = (msg) => {
        if (!msg || msg.type !== 'stats' || msg.id !== id) return
        clearTimeout(timer)
        child.off('message', onMessage)
        resolve(msg)
      }
      child.on('message', onMessage)
      child.send({ type: 'stats', id }, (err) => {
        if (!err) return
        clearTimeout(timer)
        child.off('message', onMessage)
        reject(err)
      })
    })
  // Never leave the server behind.
  process.once('exit', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return { child, url, stats, stop }
}

function payloads(rows, variants) {
  const professions = ['Student', 'Executive', 'Retired', 'Hospitality', 'Sales']
  return Array.from({ length: variants }, (_, v) => {
    const values = []
    for (let i = 0; i < rows; i++) {
      values.push([i % 2 ? 'M' : 'F', 20 + ((i * 7 + v * 13) % 60), i % 3 ? 'Single' : 'Married', professions[(i + v) % professions.length]])
    }
    return { input_data: [{ fields: ['GENDER', 'AGE', 'MARITAL_STATUS', 'PROFESSION'], values }] }
  })
}

function jwtClaims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'))
}

async function main() {
  const cfg = config()
  const crypto = require('node:crypto')
  const fs = require('node:fs')
  const m = require(ROOT)
  const { predict } = require(path.join(ROOT, 'testing', 'index.js'))
  const gc = gcFunction()
  const t0 = performance.now()
  const elapsed = () => (performance.now() - t0) / 1000

  const server = await startServer(cfg.lifetimeSec)
  const url = server.url

  // --- the work ---------------------------------------------------------
  const keys = Array.from({ length: cfg.keys }, (_, i) => `soak-key-${process.pid}-${i}-${crypto.randomBytes(6).toString('hex')}`)
  // The fake's tokens carry iam_id = IBMid-<first 10 hex of sha256(apikey)>: a token of the wrong key is a failure.
  const iamIds = keys.map((k) => `IBMid-${crypto.createHash('sha256').update(k).digest('hex').slice(0, 10).toUpperCase()}`)
  const tokenOptions = { url, maxRetries: 3 }
  // getIamToken cycles over the first tokenKeys keys (the JS hot path memoises up to 64); the scores use them all
  const tokenKeys = Math.min(cfg.tokenKeys, keys.length)
  const clients = keys.map((apikey) => new m.WmlClient({ url, apikey, iamUrl: url, maxRetries: 3 }))
  const bodies = payloads(cfg.rows, 8)
  const expected = bodies.map((b) => JSON.stringify({ predictions: predict(b.input_data) }))

  const failures = new Map() // code -> count
  const failureSamples = []
  let failed = 0
  const fail = (kind, i, err) => {
    failed++
    const code = (err && err.code) || 'ERR_UNKNOWN'
    failures.set(`${kind} ${code}`, (failures.get(`${kind} ${code}`) || 0) + 1)
    if (failureSamples.length < 20) {
      const line = `${kind} #${i} failed: ${code}${err && err.status ? ` (status ${err.status})` : ''}: ${err && err.message}`
      failureSamples.push(line)
      process.stderr.write(`soak: ${line}\n`)
    }
  }

  let scoresStarted = 0
  let scoresDone = 0
  let tokensDone = 0
  let tokensChecked = 0
  let aborted = false
  // Progress through the work: the scores lead (the token calls follow them), or the token calls alone.
  const progress = () => (cfg.scores > 0 ? scoresDone / cfg.scores : cfg.tokenCalls > 0 ? tokensDone / cfg.tokenCalls : 1)

  // --- measurements -----------------------------------------------------
  const checkpoints = []
  let maxRss = 0
  const sampler = setInterval(() => {
    maxRss = Math.max(maxRss, process.memoryUsage().rss)
  }, 250)
  sampler.unref()
  const measure = (label) => {
    gc()
    gc()
    const u = process.memoryUsage()
    maxRss = Math.max(maxRss, u.rss)
    const cp = {
      label,
      t: elapsed(),
      scores: scoresDone,
      tokens: tokensDone,
      rss: u.rss,
      heapUsed: u.heapUsed,
      heapTotal: u.heapTotal,
      external: u.external,
      cache: m.tokenCacheStats(),
    }
    checkpoints.push(cp)
    process.stdout.write(
      `[${cp.t.toFixed(1).padStart(6)} s] ${label.padEnd(8)} scores ${String(cp.scores).padStart(7)}  tokens ${String(cp.tokens).padStart(8)}  ` +
        `rss ${mb(cp.rss)} MB  heap ${mb(cp.heapUsed)}/${mb(cp.heapTotal)} MB  external ${mb(cp.external)} MB  iam requests (client) ${cp.cache.requests}\n`,
    )
    return cp
  }

  const deadline = setTimeout(() => {
    aborted = true
    process.stderr.write(`soak: hit SOAK_MAX_SECONDS (${cfg.maxSeconds} s); stopping\n`)
  }, cfg.maxSeconds * 1000)

  measure('start')
  const serverAtStart = await server.stats()
  let serverDied = null
  const onServerExit = (code, signal) => {
    serverDied = `the fake server exited during the run (code ${code}, signal ${signal})`
    aborted = true
    process.stderr.write(`soak: ${serverDied}; stopping\n`)
  }
  server.child.once('exit', onServerExit)
  // a line every 10 s, also when progress is slow
  const heartbeat = setInterval(() => {
    const u = process.memoryUsage()
    process.stdout.write(
      `[${elapsed().toFixed(1).padStart(6)} s] running  scores ${String(scoresDone).padStart(7)}  tokens ${String(tokensDone).padStart(8)}  rss ${mb(u.rss)} MB  heap ${mb(u.heapUsed)} MB  failed ${failed}\n`,
    )
  }, 10_000)
  heartbeat.unref()
  let warmedUp = false
  let middled = false
  let progressAt = 0.1

  const checkpoint = () => {
    const p = progress()
    if (!warmedUp && p >= cfg.warmup) {
      warmedUp = true
      measure('warm-up')
    }
    if (!middled && p >= 0.5) {
      middled = true
      measure('middle')
    }
    if (p >= progressAt && p < 1) {
      progressAt += 0.1
      const u = process.memoryUsage()
      process.stdout.write(
        `[${elapsed().toFixed(1).padStart(6)} s] progress scores ${String(scoresDone).padStart(7)}  tokens ${String(tokensDone).padStart(8)}  rss ${mb(u.rss)} MB  heap ${mb(u.heapUsed)} MB  failed ${failed}\n`,
      )
    }
  }
  const onScoreDone = () => {
    scoresDone++
    checkpoint()
  }

  // Scoring: `concurrency` loops, each one call in flight.
  const scorer = async () => {
    while (!aborted && scoresStarted < cfg.scores) {
      const i = scoresStarted++
      const v = i % bodies.length
      try {
        const res = await clients[i % clients.length].score('soak-deployment', bodies[v])
        if (JSON.stringify(res) !== expected[v]) {
          fail('score', i, { code: 'ERR_WRONG_ANSWER', message: `unexpected predictions: ${JSON.stringify(res).slice(0, 200)}` })
        }
      } catch (err) {
        fail('score', i, err)
      }
      onScoreDone()
    }
  }

  // Token calls, paced to stay in step with the scoring (both run throughout).
  const tokenLoop = async () => {
    const BATCH = 2000
    while (!aborted && tokensDone < cfg.tokenCalls) {
      const share = cfg.scores === 0 ? 1 : Math.min(1, (scoresDone + cfg.concurrency) / cfg.scores)
      const allowed = Math.min(cfg.tokenCalls, Math.ceil(cfg.tokenCalls * share))
      if (tokensDone >= allowed) {
        await sleep(2)
        continue
      }
      const end = Math.min(allowed, tokensDone + BATCH)
      for (let i = tokensDone; i < end; i++) {
        const k = i % tokenKeys
        try {
          const token = await m.getIamToken(keys[k], tokenOptions)
          if (typeof token !== 'string' || token.length < 20) {
            fail('token', i, { code: 'ERR_NOT_A_TOKEN', message: `got ${typeof token}` })
          } else if (i % 997 === 0) {
            tokensChecked++
            const claims = jwtClaims(token)
            if (claims.iam_id !== iamIds[k]) {
              fail('token', i, { code: 'ERR_WRONG_KEY', message: 'token issued for another API key' })
            } else if (!(claims.exp * 1000 > Date.now())) {
              fail('token', i, { code: 'ERR_EXPIRED_TOKEN', message: `exp ${claims.exp} is ${Date.now() / 1000 - claims.exp} s in the past` })
            }
          }
        } catch (err) {
          fail('token', i, err)
        }
        tokensDone++
      }
      if (cfg.scores === 0) checkpoint()
      await tick() // let scoring completions in
    }
  }

  process.stdout.write(
    `soak: ${cfg.tokenCalls} getIamToken + ${cfg.scores} score calls (${cfg.concurrency} in flight, ${cfg.rows} rows), ` +
      `${cfg.keys} keys (${tokenKeys} also for getIamToken), token lifetime ${cfg.lifetimeSec} s, fake server ${url} (pid ${server.child.pid})\n`,
  )
  const runStart = performance.now()
  await Promise.all([tokenLoop(), ...Array.from({ length: Math.min(cfg.concurrency, Math.max(1, cfg.scores)) }, scorer)])
  const runSeconds = (performance.now() - runStart) / 1000
  clearTimeout(deadline)
  clearInterval(heartbeat)
  server.child.off('exit', onServerExit)
  if (!warmedUp) measure('warm-up')
  if (!middled) measure('middle')
  const end = measure('end')
  clearInterval(sampler)
  const serverAtEnd = await server.stats().catch((err) => {
    process.stderr.write(`soak: no figures from the fake server: ${err.message}\n`)
    return { iam: NaN, predictions: NaN }
  })
  const serverExit = await server.stop()

  // --- summary ----------------------------------------------------------
  const warm = checkpoints.find((c) => c.label === 'warm-up')
  const start = checkpoints[0]
  const middle = checkpoints.find((c) => c.label === 'middle')
  const growth = ((end.rss - warm.rss) / warm.rss) * 100
  const heapGrowth = ((end.heapUsed - warm.heapUsed) / warm.heapUsed) * 100
  const iamRequests = serverAtEnd.iam - serverAtStart.iam
  const clientRequests = end.cache.requests - start.cache.requests
  const expectedRefreshes = Math.floor(runSeconds / (refreshEverySec(cfg.lifetimeSec))) * cfg.keys
  const extraPredictions = serverAtEnd.predictions - serverAtStart.predictions - scoresDone
  const goalMet = growth < 10
  const duration = elapsed()

  const lines = []
  lines.push('', '== soak summary ==')
  lines.push(`calls: ${tokensDone} getIamToken (${tokensChecked} token texts checked) + ${scoresDone} score`)
  lines.push(`failed calls: ${failed}${failed ? ' (' + [...failures].map(([k, n]) => `${k}: ${n}`).join(', ') + ')' : ''} (goal 0)`)
  for (const cp of checkpoints) {
    lines.push(`  ${cp.label.padEnd(8)} t=${cp.t.toFixed(1)} s  rss ${mb(cp.rss)} MB  heapUsed ${mb(cp.heapUsed)} MB  external ${mb(cp.external)} MB  cache size ${cp.cache.size}`)
  }
  lines.push(`RSS growth after warm-up: ${growth.toFixed(1)}% (${mb(warm.rss)} -> ${mb(end.rss)} MB; goal < 10%: ${goalMet ? 'goal met' : 'goal MISSED'}); max RSS ${mb(maxRss)} MB`)
  lines.push(`heapUsed growth after warm-up: ${heapGrowth.toFixed(1)}%`)
  lines.push(`IAM requests seen by the server: ${iamRequests} = ${cfg.keys} first tokens + ${iamRequests - cfg.keys} refreshes (client cache started ${clientRequests}; ~${expectedRefreshes} refreshes expected = ${cfg.keys} keys x ${runSeconds.toFixed(0)} s / ${(refreshEverySec(cfg.lifetimeSec)).toFixed(1)} s)`)
  lines.push(`prediction requests beyond one per score (retries, 401 re-sends): ${extraPredictions}`)
  lines.push(`duration: ${runSeconds.toFixed(1)} s of load (${duration.toFixed(1)} s in all); ${(scoresDone / runSeconds).toFixed(0)} scores/s, ${(tokensDone / runSeconds).toFixed(0)} token calls/s`)
  lines.push(`fake server exited with code ${serverExit.code}${serverExit.signal ? `, signal ${serverExit.signal}` : ''}`)
  if (aborted) lines.push(`ABORTED (${serverDied || `SOAK_MAX_SECONDS=${cfg.maxSeconds} reached`}): not all calls were made`)
  process.stdout.write(lines.join('\n') + '\n')

  if (cfg.report) {
    const row = (cp) =>
      `| ${cp.label} | ${cp.t.toFixed(1)} | ${cp.scores} | ${cp.tokens} | ${mb(cp.rss)} | ${mb(cp.heapUsed)} | ${mb(cp.heapTotal)} | ${mb(cp.external)} | ${cp.cache.size} | ${cp.cache.requests} |`
    const md = [
      '# wml-native soak results',
      '',
      `Generated by \`node bench/soak.js\` on ${new Date().toISOString()}.`,
      `Environment: ${envLine(envInfo())}. ` +
        'The fake IAM + WML server (`testing/cli.js`) runs in its own process on 127.0.0.1.',
      '',
      '## Settings',
      '',
      `- ${cfg.tokenCalls} cached \`getIamToken\` calls (SOAK_TOKEN_CALLS), interleaved with ${cfg.scores} \`WmlClient.score\` calls (SOAK_SCORES)`,
      `- ${cfg.concurrency} scores in flight (SOAK_CONCURRENCY), ${cfg.rows}-row payloads (SOAK_ROWS)`,
      `- ${cfg.keys} API keys (SOAK_KEYS), one WmlClient each, the first ${tokenKeys} also for getIamToken (SOAK_TOKEN_KEYS); token lifetime ${cfg.lifetimeSec} s (SOAK_TOKEN_LIFETIME): a refresh per key every ~${(refreshEverySec(cfg.lifetimeSec)).toFixed(1)} s`,
      `- warm-up: the first ${(cfg.warmup * 100).toFixed(0)}% of the scores (SOAK_WARMUP); memory figures after a forced full GC`,
      '',
      '## Results',
      '',
      `- failed calls: **${failed}** (goal 0)${failed ? ': ' + [...failures].map(([k, n]) => `${k} ${n}`).join(', ') : ''}`,
      `- RSS growth after warm-up: **${growth.toFixed(1)}%** (${mb(warm.rss)} → ${mb(end.rss)} MB; goal < 10%: ${goalMet ? 'goal met' : 'goal missed'}); max RSS seen ${mb(maxRss)} MB`,
      `- heapUsed growth after warm-up: ${heapGrowth.toFixed(1)}%`,
      `- RSS: start ${mb(start.rss)} MB, after warm-up ${mb(warm.rss)} MB, middle ${mb(middle.rss)} MB, end ${mb(end.rss)} MB`,
      `- IAM requests seen by the server: **${iamRequests}** = ${cfg.keys} first tokens + **${iamRequests - cfg.keys} refreshes** (the client cache started ${clientRequests}; about ${expectedRefreshes} refreshes expected from ${cfg.keys} keys × ${runSeconds.toFixed(0)} s / ${(refreshEverySec(cfg.lifetimeSec)).toFixed(1)} s)`,
      `- prediction requests beyond one per score (retries, 401 re-sends): ${extraPredictions}`,
      `- token texts checked (every 997th: right key, not expired): ${tokensChecked}`,
      `- duration: ${runSeconds.toFixed(1)} s of load, ${duration.toFixed(1)} s in all; ${(scoresDone / runSeconds).toFixed(0)} scores/s, ${(tokensDone / runSeconds).toFixed(0)} token calls/s`,
      aborted ? `- **aborted** (${serverDied || `SOAK_MAX_SECONDS=${cfg.maxSeconds} reached`}): not all calls were made` : null,
      '',
      '| checkpoint | t (s) | scores done | token calls done | RSS MB | heapUsed MB | heapTotal MB | external MB | cache size | IAM requests (client) |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...checkpoints.map(row),
      failureSamples.length ? '\n## First failures\n\n' + failureSamples.map((l) => `- ${l}`).join('\n') : null,
      '',
    ].filter((l) => l !== null)
    fs.writeFileSync(cfg.report, md.join('\n'))
    process.stdout.write(`wrote ${path.relative(process.cwd(), cfg.report) || cfg.report}\n`)
  }

  process.exitCode = failed > 0 || aborted ? 1 : 0
}
