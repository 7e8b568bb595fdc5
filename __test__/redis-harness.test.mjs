// The redis-server harness the fleet-store suites use: it starts a real
// server that answers, forgets everything on restart (no persistence), and
// leaves nothing running, even when the test process is killed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { startRedis, ping, command } from './helpers/redis.mjs'
import { sleep } from './helpers/secrets.mjs'
import { childEnv } from './helpers/child-env.js'

/** Resolves once nothing accepts connections on `port` (fails after 5 s). */
async function gone(port) {
  const deadline = Date.now() + 5000
  for (;;) {
    try {
      await ping(port)
    } catch (err) {
      if (err.code === 'ECONNREFUSED') return
    }
    assert.ok(Date.now() < deadline, `a redis-server still answers on ${port}`)
    await sleep(20)
  }
}

test('startRedis: answers PING on 127.0.0.1, kill/restart on the same port, stop leaves nothing', async () => {
  const redis = await startRedis()
  try {
    assert.equal(redis.url, `redis://127.0.0.1:${redis.port}/0`)
    assert.equal(await ping(redis.port), 'PONG')
    assert.equal(await command(redis.port, 'SET', 'k', 'v w'), 'OK')
    assert.equal(await command(redis.port, 'GET', 'k'), 'v w')
    assert.equal(await command(redis.port, 'GET', 'missing'), null)
    assert.equal(await command(redis.port, 'DBSIZE'), 1)
    await assert.rejects(command(redis.port, 'NOSUCHCOMMAND'), /redis: ERR/)

    await redis.kill()
    await assert.rejects(ping(redis.port), { code: 'ECONNREFUSED' })

    await redis.restart()
    assert.equal(await ping(redis.port), 'PONG')
    assert.equal(await command(redis.port, 'DBSIZE'), 0, 'nothing persisted across the restart')
  } finally {
    await redis.stop()
  }
  await assert.rejects(ping(redis.port), { code: 'ECONNREFUSED' })
  assert.equal(existsSync(redis.dir), false)
})

test('startRedis: two servers get two ports; extra arguments are passed on', async () => {
  const a = await startRedis()
  const b = await startRedis({ args: ['--requirepass', 'test-pass'] })
  try {
    assert.notEqual(a.port, b.port)
    await assert.rejects(ping(b.port), /NOAUTH/)
    assert.equal(await ping(a.port), 'PONG')
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
})

test('startRedis: the server dies with a test process that is SIGKILLed before stop()', async () => {
  const helper = new URL('./helpers/redis.mjs', import.meta.url).href
  const script = `
    const { startRedis } = await import(${JSON.stringify(helper)})
    const redis = await startRedis()
    console.log(JSON.stringify({ port: redis.port, dir: redis.dir }))
    setInterval(() => {}, 1000)
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [line] = await once(child.stdout, 'data')
  const { port, dir } = JSON.parse(String(line))
  assert.equal(await ping(port), 'PONG')
  assert.ok(existsSync(dir))
  child.kill('SIGKILL')
  await once(child, 'exit')
  await gone(port)
  const deadline = Date.now() + 5000
  while (existsSync(dir)) {
    assert.ok(Date.now() < deadline, `${dir} left behind`)
    await sleep(20)
  }
})
