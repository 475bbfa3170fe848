'use strict';
// Fastify 5 answering the TechEmpower-style plaintext request, for scripts/compare.sh (see
// bench/compare/README.md). Fastify comes from bench/compare/node_modules (`npm ci` there;
// compare.sh does it).
//
//   PORT=8080 [HOST=127.0.0.1] [APP=hello|api] [HTTP=node|nexurejs] node bench/compare/servers/fastify.js
//
// APP=hello (default): GET / and GET /plaintext answer `Hello, World!` as text/plain; anything
// else gets Fastify's own 404. No logger, no plugins: the framework's routing, hooks and reply
// path only. APP=api: the small API of api-shape.js with Fastify's hooks (an async onRequest
// checks the bearer token, an onSend adds x-request-id).

const path = require('node:path');
const { BEARER, user, appKind, httpModule, closeAll } = require('./api-shape.js');

const port = Number.parseInt(process.env.PORT ?? '', 10);
const host = process.env.HOST || '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`fastify.js: PORT must be a TCP port (0-65535), got '${process.env.PORT ?? ''}'`);
  process.exit(2);
}

let Fastify;
try {
  Fastify = require('fastify');
} catch (err) {
  const dir = path.resolve(__dirname, '..');
  console.error(`fastify.js: cannot load fastify (${err.code || err.message}); ` +
    `run 'npm ci' in ${dir}`);
  process.exit(1);
}

// HTTP=nexurejs: Fastify on nexurejs/http, through its serverFactory option (issue 21).
const { http, kind: httpKind } = httpModule('fastify.js');
const app = Fastify({
  logger: false,
  // As node-http.js: keep the load generator's connections open between runs.
  keepAliveTimeout: 60_000,
  ...(httpKind === 'nexurejs' ? { serverFactory: (handler) => http.createServer(handler) } : {}),
});

if (appKind('fastify.js') === 'hello') {
  const hello = (request, reply) => {
    reply.header('content-type', 'text/plain');
    return 'Hello, World!';
  };
  app.get('/', hello);
  app.get('/plaintext', hello);
} else {
  let nextId = 0;
  app.addHook('onRequest', async (request, reply) => {
    if (request.headers.authorization !== BEARER) {
      reply.code(401).send({ error: 'missing or wrong bearer token' });
      return reply;
    }
  });
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-request-id', String(++nextId));
    return payload;
  });
  app.get('/api/v1/users/:id', async (request) => user(request.params.id));
}

app.listen({ port, host }).then(
  () => {
    const address = app.server.address();
    console.log(`fastify listening on http://${address.address}:${address.port}`);
  },
  (err) => {
    console.error(`fastify.js: ${err.message}`);
    process.exit(1);
  },
);

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  closeAll(app.server);
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
