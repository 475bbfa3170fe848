'use strict';
// The server bench/node/ab.sh measures: GET /plaintext answers "Hello, World!" from a JavaScript
// handler, with the package's JavaScript layer taken from $LIB (a napi/lib directory: the one of
// this checkout, or of another commit's build). With HOOKED=1 it is the "small API" shape of
// BENCHMARKING.md's hooks: an onRequest hook that reads a header and an onSend hook that sets
// x-request-id. One engine worker; prints "ready <port>" once it listens on a free port.
const path = require('node:path');

const lib = process.env.LIB || path.join(__dirname, '..', '..', 'napi', 'lib');
const { createApp } = require(path.join(lib, 'index.cjs'));

const app = createApp({ threads: 1 });
app.get('/plaintext', () => 'Hello, World!');
if (process.env.HOOKED === '1') {
  app.addHook('onRequest', (req) => {
    if (req.headers.authorization === 'no') throw new Error('refused');
  });
  app.addHook('onSend', (req, reply) => {
    reply.header('x-request-id', String(req.id));
  });
}
app.listen({ port: 0, host: '127.0.0.1' }).then((url) => console.log(`ready ${new URL(url).port}`));
