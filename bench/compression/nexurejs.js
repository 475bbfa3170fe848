'use strict';
// nexurejs serving the 200 KB JSON answer with the engine's compression (COMPRESSION=off: none),
// one engine worker. Prints "listening on http://HOST:PORT" for scripts/bench-compression.sh.
const path = require('node:path');
const { createApp } = require(path.join(__dirname, '..', '..', 'napi', 'lib', 'index.cjs'));
const DATA = require('./data.js');

const compression = process.env.COMPRESSION === 'off' ? false
  : { threshold: 1024, encodings: ['br', 'gzip'], levels: { gzip: 6, brotli: 4 } };
const app = createApp({ threads: 1, pinThreads: false, compression });
app.get('/data', (req, reply) => reply.type('application/json').send(DATA));
app.listen({ port: Number(process.env.PORT || 0), host: '127.0.0.1' }).then((url) => {
  console.log(`nexurejs listening on ${url}`);
});
