#!/usr/bin/env node
'use strict'
// How an asynchronous native call comes back to JS, measured on the one
// call whose native work is nearly nothing: getIamTokenInfo() of a cached
// token (the cache answers at once; what is left is the hand-off to the
// I/O thread and back). Run it against any build of the package:
//
//   node bench/async-mechanism.js [package root]
//
// bench/ASYNC.md records the side-by-side run that chose the mechanism:
// the per-call napi deferred (commit 9d7512c) against the batched
// completion queue (what the package uses now).
const path = require('node:path')
const { mainThreadCpuUs } = require('./common')

const root = path.resolve(process.argv[2] || path.join(__dirname, '..'))
const m = require(path.join(root, 'index.js'))
const { startFakeServer } = require(path.join(root, 'testing', 'index.js'))

/** Main-thread CPU in µs (Linux /proc, at the clock tick's resolution). */
function mainThreadUs() {
  const c = mainThreadCpuUs()
  if (!c) throw new Error('bench/async-mechanism.js reads the main thread\'s CPU from /proc: Linux only')
  return c.user + c.system
}

function measure(label, n, run) {
  const m0 = mainThreadUs()
  const c0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  return run().then(() => {
    const ns = Number(process.hrtime.bigint() - t0)
    const c = process.cpuUsage(c0)
    return {
      label,
      calls: n,
      wallUsPerCall: +(ns / 1000 / n).toFixed(2),
      processCpuUsPerCall: +((c.user + c.system) / n).toFixed(2),
      mainThreadCpuUsPerCall: +((mainThreadUs() - m0) / n).toFixed(2),
    }
  })
}

async function main() {
  const server = await startFakeServer()
  const opts = { url: server.url }
  await m.getIamTokenInfo('async-key', opts)
  const rows = []
  for (let round = 0; round < 3; round++) {
    const burst = 20000
    rows.push(await measure('burst of 20,000 concurrent calls', burst, () => Promise.all(Array.from({ length: burst }, () => m.getIamTokenInfo('async-key', opts)))))
    const seq = 5000
    rows.push(await measure('5,000 calls, each awaited', seq, async () => {
      for (let i = 0; i < seq; i++) await m.getIamTokenInfo('async-key', opts)
    }))
  }
  await server.close()
  const best = (label) => rows.filter((r) => r.label === label).sort((a, b) => a.mainThreadCpuUsPerCall - b.mainThreadCpuUsPerCall)[0]
  const out = { root, node: process.version, rows: [best('burst of 20,000 concurrent calls'), best('5,000 calls, each awaited')] }
  console.log(JSON.stringify(out, null, 2))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
