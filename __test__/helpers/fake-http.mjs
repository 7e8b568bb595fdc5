// Plain HTTP helpers for the tests of the fake server itself (fake-*.test.mjs):
// requests made with fetch / node:http(s), SSE parsing, error-shape checks.
import assert from 'node:assert/strict'
import http from 'node:http'
import https from 'node:https'
import { spawn } from 'node:child_process'
import { childEnv } from './child-env.js'

export const VERSION = '2024-05-01'
export const GRANT = {
  apikey: 'urn:ibm:params:oauth:grant-type:apikey',
  crToken: 'urn:ibm:params:oauth:grant-type:cr-token',
  assume: 'urn:ibm:params:oauth:grant-type:assume',
}

/** POST /identity/token with a urlencoded form. */
export function iamPost(server, form, headers = {}) {
  return fetch(`${server.url}/identity/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json', ...headers },
    body: new URLSearchParams(form).toString(),
  })
}

/** A JSON request; `token` adds a Bearer header, `version` (default VERSION, null for none) the query. */
export function jsonRequest(server, path, body, { method = 'POST', token, version = VERSION, headers = {}, signal } = {}) {
  const u = new URL(path, server.url)
  if (version !== null) u.searchParams.set('version', version)
  return fetch(u, {
    method,
    headers: {
      Accept: 'application/json',
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  })
}

/** `{ status, headers, body }` (body parsed as JSON when it is). */
export async function json(resPromise) {
  const res = await resPromise
  const text = await res.text()
  let body = text
  try {
    body = JSON.parse(text)
  } catch {
    // keep the text
  }
  return { status: res.status, headers: res.headers, body }
}

export function decodeJwt(token) {
  const [h, p, s] = token.split('.')
  assert.ok(s && s.length > 0, 'JWT has a signature part')
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
  }
}

/** The SSE events of a stream body: `[{ id, event, data }]` (comments skipped). */
export function parseSse(text) {
  const events = []
  for (const block of text.split(/\n\n/)) {
    const ev = { data: [] }
    let any = false
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue
      any = true
      const i = line.indexOf(':')
      const field = line.slice(0, i)
      const value = line.slice(i + 1).replace(/^ /, '')
      if (field === 'data') ev.data.push(value)
      else ev[field] = value
    }
    if (any) events.push({ ...ev, data: JSON.parse(ev.data.join('\n')) })
  }
  return events
}

/** A WML/watsonx error body: `{errors:[{code,message,more_info}],trace,status_code}`. */
export function assertWmlError(body, status, code, moreInfo = /^https:\/\/cloud\.ibm\.com\/apidocs\/(machine-learning|watsonx-ai)/) {
  assert.equal(body.status_code, status, JSON.stringify(body))
  assert.match(body.trace, /^[0-9a-f]{32}$/)
  assert.equal(body.errors.length, 1)
  assert.equal(body.errors[0].code, code, JSON.stringify(body))
  assert.ok(typeof body.errors[0].message === 'string' && body.errors[0].message.length > 0)
  if (typeof moreInfo === 'string') assert.equal(body.errors[0].more_info, moreInfo)
  else assert.match(body.errors[0].more_info, moreInfo)
}

const IAM_CONTEXT_KEYS = ['requestId', 'requestType', 'userAgent', 'url', 'instanceId', 'threadId', 'host', 'startTime',
  'endTime', 'elapsedTime', 'locale', 'clusterName']

/** An IAM error body: `{errorCode, errorMessage, context: {...}}`, IAM's context fields, of `requestType`. */
export function assertIamError(body, code, requestType = 'incoming.Identity_Token') {
  assert.equal(body.errorCode, code, JSON.stringify(body))
  assert.ok(typeof body.errorMessage === 'string' && body.errorMessage.length > 0)
  assert.equal(typeof body.context.requestId, 'string')
  assert.deepEqual(Object.keys(body.context).sort(), [...IAM_CONTEXT_KEYS].sort())
  assert.equal(body.context.requestType, requestType)
}

/** A VPC API error body: `{errors:[{code,message,more_info,target?}],trace,status_code}`. */
export function assertVpcError(body, status, code, targetName) {
  assert.equal(body.status_code, status, JSON.stringify(body))
  assert.equal(typeof body.trace, 'string')
  assert.equal(body.errors.length, 1)
  assert.equal(body.errors[0].code, code, JSON.stringify(body))
  assert.equal(typeof body.errors[0].message, 'string')
  if (targetName) assert.equal(body.errors[0].target.name, targetName)
}

/**
 * Raw http(s) request that records how the body arrived: resolves
 * `{ status, headers, chunks, body }`; rejects on socket/TLS errors, and on a
 * cut response with `err.partial` (the bytes received) and `err.status`.
 */
export function rawRequest(url, { method = 'POST', headers = {}, body, ca, servername, agent = false, onChunk } = {}) {
  const u = new URL(url)
  const lib = u.protocol === 'https:' ? https : http
  return new Promise((resolve, reject) => {
    const req = lib.request(u, { method, headers, ca, servername, agent }, (res) => {
      const chunks = []
      res.on('data', (c) => {
        chunks.push(c)
        if (onChunk) onChunk(c, req, res)
      })
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, chunks, body: Buffer.concat(chunks).toString() }))
      res.on('error', (err) => { err.partial = Buffer.concat(chunks); err.status = res.statusCode; reject(err) })
      res.on('aborted', () => {
        const err = new Error('response aborted')
        err.partial = Buffer.concat(chunks)
        err.status = res.statusCode
        reject(err)
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * Runs testing/cli.js with `args`; resolves `{ child, line, exited }` once it
 * printed its first line (`exited` resolves `{ code, signal }`).
 */
export async function startCli(cli, args) {
  const child = spawn(process.execPath, [cli, ...args], { env: childEnv(), stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const line = await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (c) => {
      out += c
      if (out.includes('\n')) resolve(out)
    })
    child.on('exit', () => reject(new Error(`cli exited early: ${out}`)))
  })
  return { child, line, exited }
}
