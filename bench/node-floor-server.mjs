// Child process of bench/service.mjs: a bare node:http server (no framework) answering a fixed
// small JSON object to any request once its body is read; reports its URL over IPC.
import http from 'node:http'

const server = http.createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.setHeader('content-type', 'application/json; charset=utf-8')
    res.end('{"ok":true}')
  })
})
server.listen(0, '127.0.0.1', () => process.send(`http://127.0.0.1:${server.address().port}`))
process.on('disconnect', () => process.exit(0))
