'use strict';
// Express 5 itself, for scripts/compare.sh: the same app as ultimate-express.js (api-shape.js
// expressApp), on Node's http (HTTP=node, the default) or on nexurejs/http (HTTP=nexurejs), so
// that the three run the same Express code side by side (issue 21).
//   PORT=8080 [HOST=127.0.0.1] [APP=hello|api] [HTTP=node|nexurejs] node bench/compare/servers/express.js
const { listenAddress, appKind, load, expressApp, httpModule, closeAll } = require('./api-shape.js');

const { port, host } = listenAddress('express.js');
const kind = appKind('express.js');
const { http } = httpModule('express.js');
const express = load('express.js', 'express');

const server = http.createServer(expressApp(express, kind));
// As node-http.js: keep the load generator's connections open between runs.
server.keepAliveTimeout = 60_000;
server.on('error', (err) => {
  console.error(`express.js: ${err.message}`);
  process.exit(1);
});
server.listen(port, host, () => {
  const address = server.address();
  console.log(`express listening on http://${address.address}:${address.port}`);
});
function stop() {
  server.close(() => process.exit(0));
  closeAll(server);
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
