'use strict'
/**
 * One watsonx.ai inference client, in its own process so that its CPU
 * figures are its own. Started by bench/inference.js:
 *
 *   node bench/inference-client.js <chat|embed> <ours|sdk> <server url> [<CA certificate path>]
 *
 * ours: this package's WmlClient (`chat`, `embed`), given the CA as `caCert`.
 * sdk:  @ibm-cloud/watsonx-ai's WatsonXAI (`textChat`, `embedText`) with an
 *       ibm-cloud-sdk-core IamAuthenticator, as IBM's README sets them up; it
 *       has no CA option, so its process runs with NODE_EXTRA_CA_CERTS.
 *
 * chat:  BENCH_CHAT_CONCURRENCY (32) callers loop on a chat call (system +
 *        user message, max_tokens 50) and check the answer; after a warm-up,
 *        calls completed and CPU used are counted over a window.
 * embed: one call embedding BENCH_EMBED_INPUTS (5,000) texts at 768
 *        dimensions, BENCH_EMBED_WARMUP (2) times unmeasured, then
 *        BENCH_EMBED_CALLS (6) times measured, one after the other. The service takes
 *        1,000 inputs per request: ours splits by itself; with the SDK
 *        (which does not) the caller splits into runs of 1,000 and sends them
 *        all at once with Promise.all, as its users must. Per call: wall time,
 *        process CPU, main-thread CPU.
 *
 * Main-thread CPU comes from /proc/self/task/<pid>/schedstat (ns, the time
 * the JS thread was on a CPU), else from .../stat (clock ticks). Prints one
 * JSON line.
 */
const fs = require('node:fs')
const { ROOT, driveCallers, mainThreadCpuUs, median } = require('./common')

const [task, variant, url, caPath] = process.argv.slice(2)
const ca = caPath ? fs.readFileSync(caPath, 'utf8') : undefined
const num = (name, dflt) => Number(process.env[name]) || dflt

const CHAT_MODEL = 'ibm/granite-3-8b-instruct'
const EMBED_MODEL = 'ibm/slate-125m-english-rtrvr-v2'
const PROJECT = 'bench-project'
const APIKEY = `bench-inference-${variant}`
const MAX_INPUTS = 1000

const messages = [
  { role: 'system', content: 'You are a helpful assistant. Answer in one short sentence.' },
  { role: 'user', content: 'What is the capital of France, and which river runs through it?' },
]
const chatCheck = (res) => Boolean(res && res.choices && res.choices[0] && typeof res.choices[0].message.content === 'string' &&
  res.choices[0].message.content.startsWith('You said:'))

function fail(message) {
  process.stderr.write(`[inference ${task} ${variant}] ${message}\n`)
  process.exit(2)
}

/** Main-thread CPU in µs: schedstat (ns resolution) where there is one, else stat (ticks). */
function mainThreadUs() {
  try {
    const ns = Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0])
    if (Number.isFinite(ns)) return { us: ns / 1000, source: 'schedstat' }
  } catch {}
  const c = mainThreadCpuUs()
  return c && { us: c.user + c.system, source: 'stat' }
}

/** { chat(), embed(inputs) } of the variant: each resolves the parsed answer. */
function makeClient() {
  if (variant === 'ours') {
    const { WmlClient } = require(ROOT)
    const client = new WmlClient({ url, apikey: APIKEY, iamUrl: url, caCert: ca, projectId: PROJECT })
    return {
      chat: () => client.chat({ model_id: CHAT_MODEL, messages, max_tokens: 50 }),
      embed: (inputs) => client.embed({ model_id: EMBED_MODEL, inputs }),
    }
  }
  if (variant === 'sdk') {
    const { WatsonXAI } = require('@ibm-cloud/watsonx-ai')
    const { IamAuthenticator } = require('ibm-cloud-sdk-core')
    const service = WatsonXAI.newInstance({
      version: '2024-05-31',
      serviceUrl: url,
      authenticator: new IamAuthenticator({ apikey: APIKEY, url }),
    })
    return {
      chat: async () => (await service.textChat({ modelId: CHAT_MODEL, messages, projectId: PROJECT, maxTokens: 50 })).result,
      async embed(inputs) {
        const runs = []
        for (let i = 0; i < inputs.length; i += MAX_INPUTS) runs.push(inputs.slice(i, i + MAX_INPUTS))
        const answers = await Promise.all(runs.map((run) => service.embedText({ modelId: EMBED_MODEL, inputs: run, projectId: PROJECT })))
        const first = answers[0].result
        return {
          ...first,
          results: answers.flatMap((a) => a.result.results),
          input_token_count: answers.reduce((n, a) => n + a.result.input_token_count, 0),
        }
      },
    }
  }
  return fail(`unknown variant ${variant} (ours|sdk)`)
}

async function chatTask(client) {
  const figures = await driveCallers(client.chat, {
    concurrency: num('BENCH_CHAT_CONCURRENCY', 32),
    warmupMs: num('BENCH_WARMUP_MS', 2000),
    measureMs: num('BENCH_MEASURE_MS', 8000),
    check: chatCheck,
  })
  return { task, variant, ...figures }
}

async function embedTask(client) {
  const n = num('BENCH_EMBED_INPUTS', 5000)
  const warmup = num('BENCH_EMBED_WARMUP', 2)
  const calls = num('BENCH_EMBED_CALLS', 6)
  const inputs = Array.from({ length: n }, (_, i) => `passage ${i}: the quick brown fox jumps over the lazy dog near river ${i % 97}`)
  const check = (res) => {
    const last = res.results[n - 1]
    if (res.results.length !== n || !last || last.embedding.length !== 768 || typeof last.embedding[767] !== 'number') {
      throw new Error(`unexpected answer: ${res.results.length} results`)
    }
  }
  for (let i = 0; i < warmup; i++) check(await client.embed(inputs))
  const runs = []
  for (let i = 0; i < calls; i++) {
    const main0 = mainThreadUs()
    const cpu0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    const res = await client.embed(inputs)
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
    const cpu = process.cpuUsage(cpu0)
    const main1 = mainThreadUs()
    check(res)
    runs.push({
      wallMs: +wallMs.toFixed(1),
      cpuMs: +((cpu.user + cpu.system) / 1000).toFixed(1),
      mainThreadMs: main0 && main1 ? +((main1.us - main0.us) / 1000).toFixed(2) : null,
    })
  }
  const mean = (k) => +(runs.reduce((a, r) => a + r[k], 0) / runs.length).toFixed(2)
  return {
    task,
    variant,
    inputs: n,
    dimensions: 768,
    warmup,
    calls,
    wallMsMedian: median(runs.map((r) => r.wallMs)),
    cpuMsPerCall: mean('cpuMs'),
    mainThreadMsPerCall: runs.every((r) => r.mainThreadMs != null) ? mean('mainThreadMs') : null,
    mainThreadSource: (mainThreadUs() || {}).source || null,
    maxRssMB: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
    runs,
  }
}

async function main() {
  if (!['chat', 'embed'].includes(task) || !url) fail('usage: node bench/inference-client.js <chat|embed> <ours|sdk> <url> [<CA path>]')
  const client = makeClient()
  const out = task === 'chat' ? await chatTask(client) : await embedTask(client)
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`[inference ${task} ${variant}] failed: ${err && err.stack || err}\n`)
    process.exit(1)
  },
)
