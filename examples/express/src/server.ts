// Starts the example app: `PORT=3000 node dist/server.js`.
//
// Configuration comes from the environment (or an ibm-credentials.env file),
// the way IBM's SDKs read it: WML_URL, WML_APIKEY, and optionally
// WML_AUTH_URL, WML_VERSION... (see README.md). HOST defaults to 127.0.0.1;
// PORT to 3000 (0 picks a free port; the line printed at startup says which).
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createApp } from './app'

let app: ReturnType<typeof createApp>
try {
  app = createApp()
} catch (err) {
  // e.g. "WML_URL is not set (environment or ibm-credentials.env)"
  console.error(`configuration error: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
}

const server = createServer(app)
server.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' }, () => {
  const { address, port } = server.address() as AddressInfo
  console.log(`listening on http://${address}:${port}`)
})

// On SIGTERM/SIGINT: stop accepting connections, let requests in flight
// finish for up to 5 s, then close the rest (which aborts their upstream calls).
function shutdown(): void {
  server.close(() => process.exit(0))
  server.closeIdleConnections()
  setTimeout(() => server.closeAllConnections(), 5000).unref()
}
process.once('SIGTERM', shutdown)
process.once('SIGINT', shutdown)
