'use strict';
// Node's own `http` module answering the TechEmpower-style plaintext request, for
// scripts/compare.sh (see bench/compare/README.md).
//
//   PORT=8080 [HOST=127.0.0.1] [HTTP=node|nexurejs] node bench/compare/servers/node-http.js
//
// GET / and GET /plaintext answer `Hello, World!` as text/plain with Content-Length (Node adds
// Date and keeps the connection alive); anything else is a 404. One process, one event loop:
// the same single-core budget as nexure-server --threads 1 and nginx with one worker.

// HTTP=nexurejs: the same listener on nexurejs/http (issue 21).
const { httpModule, closeAll } = require('./api-shape.js');

const { http } = httpModule('node-http.js');

const port = Number.parseInt(process.env.PORT ?? '', 10);
const host = process.env.HOST || '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`node-http.js: PORT must be a TCP port (0-65535), got '${process.env.PORT ?? ''}'`);
  process.exit(2);
}

const body = Buffer.from('Hello, World!');
const notFound = Buffer.from('Not Found');

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && (req.url === '/' || req.url === '/plaintext')) {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': notFound.length });
  res.end(notFound);
});

// A load generator opens its connections at once and keeps them; keep the defaults from closing
// them between two runs against the same server.
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;

server.on('error', (err) => {
  console.error(`node-http.js: ${err.message}`);
  process.exit(1);
});

server.listen(port, host, () => {
  const address = server.address();
  console.log(`node-http listening on http://${address.address}:${address.port}`);
});

function stop() {
  server.close(() => process.exit(0));
  closeAll(server);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
