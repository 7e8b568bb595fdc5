#!/usr/bin/env node
'use strict'
/**
 * watsonx.ai inference, ours against IBM's @ibm-cloud/watsonx-ai, over HTTPS:
 *
 *   node bench/inference.js [--json]
 *
 * The fake server runs in its own process (testing/cli.js --tls); each client
 * runs in its own bench/inference-client.js process, in ABBA order:
 *   chat        32 callers on `chat` / `textChat`: req/s, process and
 *               main-thread CPU per call;
 *   embeddings  5,000 inputs at 768 dimensions per call (`embed` /
 *               `embedText`, split into 1,000s by the caller): wall time,
 *               process and main-thread CPU per call.
 * Prints the tables (or, with --json, one JSON line for bench/run.js, which
 * renders the same sections through `sections`).
 *
 * Knobs (env): BENCH_INFERENCE_ROUNDS (2), BENCH_WARMUP_MS (2000),
 * BENCH_MEASURE_MS (8000), BENCH_CHAT_CONCURRENCY (32), BENCH_EMBED_INPUTS
 * (5000), BENCH_EMBED_WARMUP (2), BENCH_EMBED_CALLS (6).
 */
const path = require('node:path')
const {
  combineRuns, envInfo, envLine, median, textTable, startFakeServerProcess, runJsonChild, ratio, fmtRatio, goalLine,
} = require('./common')

const ROUNDS = Number(process.env.BENCH_INFERENCE_ROUNDS) || 2
const VARIANTS = ['ours', 'sdk']
const NAMES = { ours: 'ours WmlClient', sdk: '@ibm-cloud/watsonx-ai WatsonXAI' }
const GOALS = {
  chatMainThread: 0.3, // chat main-thread CPU per call, ours / sdk <= 0.3
  embedMainThread: 0.15, // embeddings main-thread CPU per call, ours / sdk <= 0.15
  embedWall: 0.7, // embeddings wall time per call, ours / sdk <= 0.7
}

/** Several embeddings runs of one variant as one. */
function combineEmbed(rs) {
  const all = rs.flatMap((r) => r.runs)
  const mean = (k) => +(all.reduce((a, x) => a + x[k], 0) / all.length).toFixed(2)
  return {
    rounds: rs.length,
    calls: all.length,
    wallMsMedian: median(all.map((x) => x.wallMs)),
    cpuMsPerCall: mean('cpuMs'),
    mainThreadMsPerCall: all.every((x) => x.mainThreadMs != null) ? mean('mainThreadMs') : null,
    mainThreadSource: rs[0].mainThreadSource,
    maxRssMB: Math.max(...rs.map((r) => r.maxRssMB)),
  }
}

/** Runs both benchmarks; resolves { chat, embed, ratios, problems }. */
async function inferencePhase() {
  const problems = []
  const { url, ca, stop } = await startFakeServerProcess({ args: ['--tls'] })
  const order = []
  for (let r = 0; r < ROUNDS; r++) order.push(...(r % 2 ? [...VARIANTS].reverse() : VARIANTS))
  const runs = { chat: { ours: [], sdk: [] }, embed: { ours: [], sdk: [] } }
  try {
    for (const task of ['chat', 'embed']) {
      for (const v of order) {
        // The SDK (axios over Node's https) has no CA option: it trusts the CA through the environment.
        const env = v === 'sdk' ? { NODE_EXTRA_CA_CERTS: ca } : {}
        try {
          const res = await runJsonChild([path.join(__dirname, 'inference-client.js'), task, v, url, ca], 180_000, env)
          if (res.errors) problems.push(`${task} ${v}: ${res.errors} errors (first: ${String(res.firstError).split('\n')[0]})`)
          const line = task === 'chat'
            ? `${res.rps} calls/s, ${res.cpuUsPerReq} µs CPU/call, ${res.mainThreadUsPerReq} µs main thread/call`
            : `${res.wallMsMedian} ms/call, ${res.cpuMsPerCall} ms CPU/call, ${res.mainThreadMsPerCall} ms main thread/call`
          console.error(`[inference] ${task} ${v}: ${line}`)
          runs[task][v].push(res)
        } catch (err) {
          problems.push(err.message)
          console.error(`[inference] ${err.message}`)
        }
      }
    }
  } finally {
    await stop()
  }
  const pick = (task, combine) => Object.fromEntries(VARIANTS.map((v) => [v, runs[task][v].length ? combine(runs[task][v]) : { unavailable: 'no successful run' }]))
  const chat = pick('chat', combineRuns)
  const embed = pick('embed', combineEmbed)
  const first = runs.chat.ours[0] || runs.chat.sdk[0] || {}
  const firstEmbed = runs.embed.ours[0] || runs.embed.sdk[0] || {}
  return {
    chat: { concurrency: first.concurrency, warmupMs: first.warmupMs, measureSec: first.seconds, rounds: ROUNDS, variants: chat },
    embed: { inputs: firstEmbed.inputs, dimensions: firstEmbed.dimensions, warmup: firstEmbed.warmup, calls: firstEmbed.calls, rounds: ROUNDS, variants: embed },
    ratios: {
      chatMainThread: ratio(chat.ours.mainThreadUsPerReq, chat.sdk.mainThreadUsPerReq, GOALS.chatMainThread, '<='),
      chatCpu: ratio(chat.ours.cpuUsPerReq, chat.sdk.cpuUsPerReq),
      chatRps: ratio(chat.ours.rps, chat.sdk.rps),
      embedMainThread: ratio(embed.ours.mainThreadMsPerCall, embed.sdk.mainThreadMsPerCall, GOALS.embedMainThread, '<='),
      embedWall: ratio(embed.ours.wallMsMedian, embed.sdk.wallMsMedian, GOALS.embedWall, '<='),
      embedCpu: ratio(embed.ours.cpuMsPerCall, embed.sdk.cpuMsPerCall),
    },
    problems,
  }
}


/** The report as sections of { title, head, rows, notes } (bench/run.js renders them too). */
function sections(res) {
  const r = res.ratios
  const num = (x, d = 1) => (x == null ? '—' : x.toFixed(d))
  const c = res.chat
  const e = res.embed
  return [
    {
      title: `watsonx.ai chat over HTTPS: ${c.concurrency} concurrent callers, ${c.warmupMs / 1000} s warm-up + ` +
        `${c.measureSec != null ? Math.round(c.measureSec) : '?'} s measured, ${c.rounds} round(s) per client`,
      head: ['client', 'calls/s', 'process CPU µs/call', 'main-thread CPU µs/call', 'max RSS MB', 'errors'],
      rows: VARIANTS.map((v) => {
        const x = c.variants[v]
        if (x.unavailable) return [NAMES[v], '—', '—', '—', '—', x.unavailable]
        return [`${NAMES[v]}.${v === 'ours' ? 'chat' : 'textChat'}`, x.rps.toFixed(0), num(x.cpuUsPerReq), num(x.mainThreadUsPerReq), x.maxRssMB.toFixed(0), x.errors]
      }),
      notes: [
        goalLine('main-thread CPU/call ours / SDK', r.chatMainThread),
        `process CPU/call ours / SDK: ${fmtRatio(r.chatCpu)}; calls/s ours / SDK: ${fmtRatio(r.chatRps)} (information)`,
      ],
    },
    {
      title: `watsonx.ai embeddings over HTTPS: ${e.inputs} inputs x ${e.dimensions} dimensions per call, ` +
        `${e.warmup} warm-up + ${e.calls} measured calls, ${e.rounds} round(s) per client`,
      head: ['client', 'wall ms/call (median)', 'process CPU ms/call', 'main-thread CPU ms/call', 'max RSS MB'],
      rows: VARIANTS.map((v) => {
        const x = e.variants[v]
        if (x.unavailable) return [NAMES[v], '—', '—', '—', x.unavailable]
        const how = v === 'ours' ? '.embed (splits itself)' : '.embedText x 5 (Promise.all)'
        return [NAMES[v] + how, num(x.wallMsMedian), num(x.cpuMsPerCall), num(x.mainThreadMsPerCall, 2), x.maxRssMB.toFixed(0)]
      }),
      notes: [
        goalLine('main-thread CPU/call ours / SDK', r.embedMainThread),
        goalLine('wall time/call ours / SDK', r.embedWall),
        `process CPU/call ours / SDK: ${fmtRatio(r.embedCpu)} (information)`,
      ],
    },
  ]
}

const METHOD = '**watsonx.ai inference** (`bench/inference.js`): the fake server over HTTPS in its own process ' +
  '(`testing/cli.js --tls`), each client in its own `bench/inference-client.js` process, ABBA order. ' +
  'Ours: `new WmlClient({ url, apikey, iamUrl, caCert, projectId })`; the SDK: `WatsonXAI.newInstance({ version, serviceUrl, ' +
  'authenticator: new IamAuthenticator({ apikey, url }) })` (@ibm-cloud/watsonx-ai 1.7.x), trusting the CA through `NODE_EXTRA_CA_CERTS`. ' +
  'Chat: a system and a user message, `max_tokens` 50, every answer checked; figures over the measured window as for scoring. ' +
  'Embeddings: 5,000 distinct texts at 768 dimensions per call; the service takes 1,000 inputs per request, so the SDK caller splits ' +
  'into 5 runs and sends them at once (`Promise.all`), while `embed` splits by itself (4 requests in flight); each answer is checked ' +
  '(5,000 vectors of 768 numbers). Main-thread CPU of the embeddings calls from `/proc/self/task/<pid>/schedstat` (ns); of the chat calls ' +
  'from `/proc/self/task/<pid>/stat` (clock ticks) over the whole window. The server, both clients and other work share 2 cores: ' +
  'figures move between runs.'

async function main() {
  const json = process.argv.includes('--json')
  const env = envInfo()
  if (!json) console.log(envLine(env))
  const res = await inferencePhase()
  if (json) {
    process.stdout.write(JSON.stringify(res) + '\n')
  } else {
    for (const sec of sections(res)) {
      console.log(`\n${sec.title}\n`)
      console.log(textTable(sec.head, sec.rows))
      for (const n of sec.notes) console.log(`  ${n}`)
    }
    for (const p of res.problems) console.log(`PROBLEM: ${p}`)
  }
  // With --json the problems travel in the JSON (bench/run.js reports them).
  process.exitCode = res.problems.length && !json ? 1 : 0
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err && err.stack || err)
    process.exitCode = 1
  })
}

module.exports = { inferencePhase, sections, METHOD }
