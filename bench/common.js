'use strict'
// Small helpers shared by the benchmark scripts.
const os = require('node:os')
const path = require('node:path')

/** Repository root (the package under test). */
const ROOT = path.resolve(__dirname, '..')

/** One line describing where the figures come from. */
function envInfo() {
  const cpus = os.cpus()
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: (cpus[0] && cpus[0].model || 'unknown').trim(),
    cores: cpus.length,
    date: new Date().toISOString(),
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** The 20-row, 4-field WML scoring payload every scoring variant sends. */
function scoringPayload() {
  const professions = ['Student', 'Executive', 'Retired', 'Hospitality', 'Sales']
  const values = []
  for (let i = 0; i < 20; i++) {
    values.push([i % 2 ? 'M' : 'F', 20 + i * 2, i % 3 ? 'Single' : 'Married', professions[i % professions.length]])
  }
  return { input_data: [{ fields: ['GENDER', 'AGE', 'MARITAL_STATUS', 'PROFESSION'], values }] }
}

/** Rejects after `ms` with `message` unless `promise` settles first (the timer never keeps the process alive). */
function withTimeout(promise, ms, message) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
    timer.unref()
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

module.exports = { ROOT, envInfo, median, scoringPayload, withTimeout }
