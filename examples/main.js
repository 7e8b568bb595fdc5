#!/usr/bin/env node
'use strict'
// The main job: get a token, score a deployment, stream a generation, and
// print each step.
//
// With no settings it starts the bundled local IAM + WML + watsonx.ai server
// (wml-native/testing) and talks to it, so it runs offline with no account.
// With IBMCLOUD_API_KEY and WML_DEPLOYMENT_ID set it talks to IBM Cloud:
//   IBMCLOUD_API_KEY            your API key (never put it on the command line)
//   WML_URL                     default https://us-south.ml.cloud.ibm.com
//   WML_DEPLOYMENT_ID           a deployment to score
//   WML_PAYLOAD_FILE            optional JSON scoring payload (default: a small sample)
//   WML_GENERATION_DEPLOYMENT_ID  optional deployed foundation model to stream from
//   IAM_URL                     optional IAM base URL
const fs = require('node:fs')
const path = require('node:path')
const { getIamTokenInfo, WmlClient, tokenCacheStats } = require('..')

const SAMPLE = {
  input_data: [
    {
      fields: ['GENDER', 'AGE', 'MARITAL_STATUS', 'PROFESSION'],
      values: [
        ['M', 23, 'Single', 'Student'],
        ['F', 55, 'Married', 'Executive'],
        ['M', 41, 'Married', 'Trades'],
      ],
    },
  ],
}

function step(title) {
  console.log(`\n== ${title}`)
}

async function settings() {
  const apikey = process.env.IBMCLOUD_API_KEY
  if (apikey && process.env.WML_DEPLOYMENT_ID) {
    return {
      mode: 'IBM Cloud',
      apikey,
      url: process.env.WML_URL || 'https://us-south.ml.cloud.ibm.com',
      iamUrl: process.env.IAM_URL || undefined,
      deployment: process.env.WML_DEPLOYMENT_ID,
      generation: process.env.WML_GENERATION_DEPLOYMENT_ID,
      payload: process.env.WML_PAYLOAD_FILE
        ? JSON.parse(fs.readFileSync(path.resolve(process.env.WML_PAYLOAD_FILE), 'utf8'))
        : SAMPLE,
      close: async () => {},
    }
  }
  if (apikey) console.log('IBMCLOUD_API_KEY is set but WML_DEPLOYMENT_ID is not: using the local server.')
  const { startFakeServer } = require('../testing')
  const server = await startFakeServer({ streamIntervalMs: 40 })
  return {
    mode: `local fake IBM Cloud at ${server.url}`,
    apikey: 'demo-api-key',
    url: server.url,
    iamUrl: server.url,
    deployment: 'demo-deployment',
    generation: 'demo-granite',
    payload: SAMPLE,
    server,
    close: () => server.close(),
  }
}

async function main() {
  const s = await settings()
  console.log(`wml-native demo against ${s.mode}`)
  try {
    step('1. IAM token')
    const info = await getIamTokenInfo(s.apikey, { url: s.iamUrl })
    const claims = JSON.parse(Buffer.from(info.accessToken.split('.')[1] || '', 'base64url').toString() || '{}')
    console.log(`token type ${info.tokenType}, ${info.accessToken.length} characters (not printed)`)
    console.log(`expires ${new Date(info.expiration * 1000).toISOString()} (in ${info.expiresIn} s), scope "${info.scope ?? ''}"`)
    if (claims.sub) console.log(`subject ${claims.sub}, account ${claims.account?.bss ?? '-'}`)

    const client = new WmlClient({ url: s.url, apikey: s.apikey, iamUrl: s.iamUrl })

    step(`2. Score deployment ${s.deployment}`)
    const t0 = process.hrtime.bigint()
    const res = await client.score(s.deployment, s.payload, { transactionId: `demo-${Date.now()}` })
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    for (const block of res.predictions) {
      console.log(`fields: ${JSON.stringify(block.fields)}`)
      for (const row of block.values.slice(0, 10)) console.log(`  ${JSON.stringify(row)}`)
    }
    console.log(`scored ${s.payload.input_data.reduce((n, b) => n + b.values.length, 0)} rows in ${ms.toFixed(1)} ms`)

    if (s.generation) {
      step(`3. Stream a generation from ${s.generation}`)
      process.stdout.write('> ')
      let last
      for await (const chunk of client.generateTextStream(s.generation, {
        input: 'Explain in one sentence why caching IAM tokens matters.',
        parameters: { max_new_tokens: 24, decoding_method: 'greedy' },
      })) {
        last = chunk.results[0]
        process.stdout.write(last.generated_text)
      }
      console.log(`\nstop reason: ${last?.stop_reason}, ${last?.generated_token_count} tokens`)
    } else {
      step('3. Streaming skipped (set WML_GENERATION_DEPLOYMENT_ID)')
    }

    step('4. Token cache')
    const stats = tokenCacheStats()
    console.log(`${stats.size} key(s) cached, ${stats.requests} IAM request(s) for everything above`)
    if (s.server) console.log(`the local server saw ${s.server.stats.iam} IAM request(s)`)
  } finally {
    await s.close()
  }
}

main().catch((e) => {
  console.error(`\nfailed: ${e.code ?? ''} ${e.message}`)
  process.exitCode = 1
})
