// A small forward proxy on 127.0.0.1 for tests: plain-HTTP requests in
// absolute form and CONNECT tunnels, each recorded in `seen`.
import http from 'node:http'
import net from 'node:net'

export async function startProxy() {
  const seen = []
  const proxy = http.createServer((req, res) => {
    seen.push(req.url)
    const u = new URL(req.url)
    const up = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode, r.headers)
        r.pipe(res)
      },
    )
    up.on('error', () => res.destroy())
    req.pipe(up)
  })
  proxy.on('connect', (req, sock, head) => {
    seen.push(`CONNECT ${req.url}`)
    const [host, port] = req.url.split(':')
    const up = net.connect(Number(port), host, () => {
      sock.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      up.write(head)
      up.pipe(sock)
      sock.pipe(up)
    })
    up.on('error', () => sock.destroy())
    sock.on('error', () => up.destroy())
  })
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${proxy.address().port}`, seen, close: () => new Promise((r) => { proxy.closeAllConnections?.(); proxy.close(r) }) }
}
