'use strict';
// Fastify 5 through its serverFactory option (the server is nexurejs/http's, or Node's), with
// @fastify/cors and @fastify/static, schemas, hooks, errors and a streamed reply: every request
// must come back the same from both.

const test = require('node:test');
const { Readable } = require('node:stream');
const { startBoth, compareCases, staticDir } = require('./harness.cjs');

const Fastify = require('fastify');
const cors = require('@fastify/cors');
const fastifyStatic = require('@fastify/static');

async function makeApp(http, root) {
  let server = null;
  const app = Fastify({
    serverFactory: (handler) => {
      server = http.createServer((req, res) => handler(req, res));
      return server;
    },
  });
  await app.register(cors, { origin: 'https://example.com' });
  await app.register(fastifyStatic, { root, prefix: '/static/' });
  app.addHook('onRequest', async (req, reply) => {
    if (req.url.startsWith('/private') && req.headers.authorization !== 'Bearer ok') {
      reply.code(401).send({ error: 'no' });
    }
  });
  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-served-by', 'fastify');
    return payload;
  });
  app.get('/users/:id', {
    schema: { params: { type: 'object', properties: { id: { type: 'integer' } } } },
  }, async (req) => ({ id: req.params.id, query: req.query }));
  app.post('/users', {
    schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } },
  }, async (req, reply) => reply.code(201).send({ created: req.body }));
  app.get('/private/data', async () => ({ secret: 1 }));
  app.get('/stream', (req, reply) => {
    reply.type('text/plain').send(Readable.from(['a,', 'b,', 'c']));
  });
  app.get('/boom', async () => {
    throw new Error('exploded');
  });
  await app.ready();
  return server;
}

const CASES = [
  ['a route with a typed parameter', { path: '/users/12?a=b' }],
  ['a parameter the schema refuses (400)', { path: '/users/abc' }],
  ['a JSON body', { method: 'POST', path: '/users', headers: { 'content-type': 'application/json' }, body: '{"name":"Linus"}' }],
  ['a body the schema refuses (400)', { method: 'POST', path: '/users', headers: { 'content-type': 'application/json' }, body: '{"nome":"x"}' }],
  ['malformed JSON (400)', { method: 'POST', path: '/users', headers: { 'content-type': 'application/json' }, body: '{' }],
  ['an unsupported media type (415)', { method: 'POST', path: '/users', headers: { 'content-type': 'text/xml' }, body: '<a/>' }],
  ['an onRequest hook that answers (401)', { path: '/private/data' }],
  ['past the hook', { path: '/private/data', headers: { authorization: 'Bearer ok' } }],
  ['a streamed reply', { path: '/stream' }],
  ['a thrown error (500)', { path: '/boom' }],
  ['a CORS preflight', { method: 'OPTIONS', path: '/users', headers: { origin: 'https://example.com', 'access-control-request-method': 'POST' } }],
  ['a static file', { path: '/static/hello.txt' }],
  ['a static file, a range', { path: '/static/big.bin', headers: { range: 'bytes=0-99' } }],
  ['a large static file', { path: '/static/big.bin' }],
  ['no route (404)', { path: '/nowhere' }],
  ['HEAD of a route', { method: 'HEAD', path: '/users/5' }],
];

test('Fastify through serverFactory answers alike on node:http and nexurejs/http', async (t) => {
  const root = staticDir(test);
  const both = await startBoth((http) => makeApp(http, root));
  t.after(() => both.stop());
  await compareCases(t, both, CASES);
});
