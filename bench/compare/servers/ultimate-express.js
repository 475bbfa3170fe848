'use strict';
// ultimate-express (Express's API on uWebSockets.js; its uWS dependency is overridden with the
// npm republish, bench/compare/package.json) for scripts/compare.sh: APP=hello answers GET
// /plaintext, APP=api the small API (api-shape.js) as an Express app writes it: an auth
// middleware, a middleware that adds x-request-id, a router with a param.
//   PORT=8080 [HOST=127.0.0.1] [APP=hello|api] node bench/compare/servers/ultimate-express.js
const { listenAddress, appKind, load, expressApp } = require('./api-shape.js');

const { port, host } = listenAddress('ultimate-express.js');
const kind = appKind('ultimate-express.js');
const express = load('ultimate-express.js', 'ultimate-express');

const app = expressApp(express, kind);
app.listen(port, host, () => {
  console.log(`ultimate-express listening on http://${host}:${port}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => process.exit(0));
}
