'use strict';
// Hono through @hono/node-server (createAdaptorServer with the createServer of nexurejs/http, or
// of Node's http): routes, JSON bodies, middleware, a streamed body, errors: every request must
// come back the same from both.

const test = require('node:test');
const { startBoth, compareCases } = require('./harness.cjs');

const { Hono } = require('hono');
const { cors } = require('hono/cors');
const { createAdaptorServer } = require('@hono/node-server');

function makeApp(http) {
  const app = new Hono();
  app.use('/api/*', cors({ origin: 'https://example.com' }));
  app.use('*', async (c, next) => {
    await next();
    c.header('x-hono', '1');
  });
  app.get('/api/users/:id', (c) => c.json({ id: c.req.param('id'), q: c.req.query('q') ?? null }));
  app.post('/api/users', async (c) => c.json({ created: await c.req.json() }, 201));
  app.post('/api/echo', async (c) => c.body(await c.req.arrayBuffer(), 200, { 'content-type': 'application/octet-stream' }));
  app.get('/text', (c) => c.text('plain text'));
  app.get('/stream', () => new Response(new ReadableStream({
    start(controller) {
      for (const s of ['x,', 'y,', 'z']) controller.enqueue(new TextEncoder().encode(s));
      controller.close();
    },
  }), { headers: { 'content-type': 'text/plain' } }));
  app.get('/redirect', (c) => c.redirect('/text'));
  app.get('/boom', () => {
    throw new Error('hono error');
  });
  app.onError((err, c) => c.json({ error: err.message }, 500));
  return createAdaptorServer({ fetch: app.fetch, createServer: http.createServer });
}

const CASES = [
  ['a route with a parameter and a query', { path: '/api/users/3?q=find' }],
  ['a JSON body', { method: 'POST', path: '/api/users', headers: { 'content-type': 'application/json' }, body: '{"name":"Ken"}' }],
  ['a binary echo', { method: 'POST', path: '/api/echo', body: Buffer.alloc(150 * 1024, 9) }],
  ['text', { path: '/text' }],
  ['a streamed body', { path: '/stream' }],
  ['a redirect', { path: '/redirect' }],
  ['an error to onError', { path: '/boom' }],
  ['a CORS preflight', { method: 'OPTIONS', path: '/api/users', headers: { origin: 'https://example.com', 'access-control-request-method': 'POST' } }],
  ['no route', { path: '/nowhere' }],
  ['HEAD', { method: 'HEAD', path: '/text' }],
];

test('Hono on @hono/node-server answers alike on node:http and nexurejs/http', async (t) => {
  const both = await startBoth(makeApp);
  t.after(() => both.stop());
  await compareCases(t, both, CASES);
});
