'use strict';
// nexurejs answering the small API of api-shape.js (issue 20's "small API") for
// scripts/compare.sh, with the Fastify-like hooks an app would use: an async onRequest checks the
// bearer token, the route answers JSON, an onSend hook adds x-request-id. The hello world is
// examples/hello.js. Engine workers: the default (one per core the process may use).
//   PORT=8080 [HOST=127.0.0.1] node bench/compare/servers/nexurejs-api.js
const path = require('node:path');
const { BEARER, user, listenAddress } = require('./api-shape.js');
const { createApp, httpError } = require(path.join(__dirname, '..', '..', '..', 'napi', 'lib', 'index.cjs'));

const { port, host } = listenAddress('nexurejs-api.js');
const app = createApp();
let nextId = 0;
app.addHook('onRequest', async (req) => {
  if (req.headers.authorization !== BEARER) throw httpError(401, 'missing or wrong bearer token');
});
app.addHook('onSend', async (req, reply) => {
  reply.header('x-request-id', String(++nextId));
});
app.get('/api/v1/users/:id', async (req) => user(req.params.id));

app.listen({ port, host }).then((url) => console.log(`nexurejs listening on ${url}`), (err) => {
  console.error(`nexurejs-api.js: ${err.message}`);
  process.exit(1);
});
// compare.sh stops it with SIGTERM and counts an exit status other than 0 as a problem.
process.once('SIGTERM', () => app.close().then(() => process.exit(0)));
