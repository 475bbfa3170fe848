'use strict';
// A small JSON API with nexurejs: route parameters, a JSON body, hooks, error handling, a
// not-found handler, a plugin with a prefix and a health check the engine answers by itself.
//   node examples/api.js              (PORT and HOST as in hello.js)
//   curl localhost:3000/health
//   curl -X POST localhost:3000/api/users -H 'content-type: application/json' -d '{"name":"Ada"}'
//   curl localhost:3000/api/users/1
//   curl localhost:3000/api/users/99          → 404 from the error handler
//   curl -X POST localhost:3000/api/users -d 'nope'   → 400 (invalid JSON)
const { createApp, httpError } = require('nexurejs');

const app = createApp({ handlerTimeoutMs: 5000, bodyLimit: 64 * 1024 });

// Served entirely by the engine, in C++: no JavaScript runs for it.
app.fixed('GET', '/health', { status: 200, body: { status: 'ok' } });

// Hooks: time every request and tag every response.
const started = new WeakMap();
app.addHook('onRequest', (req) => {
  started.set(req, process.hrtime.bigint());
});
app.addHook('onSend', (req, reply) => {
  reply.header('x-powered-by', 'nexurejs');
});
app.addHook('onResponse', (req, reply) => {
  const us = Number(process.hrtime.bigint() - started.get(req)) / 1000;
  console.log(`${req.method} ${req.url} ${reply.statusCode} ${us.toFixed(0)}µs`);
});

// Errors: a statusCode on the error picks the status; anything else is a 500.
app.setErrorHandler((err, req, reply) => {
  const status = reply.statusCode >= 400 ? reply.statusCode : 500;
  if (status >= 500) console.error(err);
  reply.code(status).send({ error: err.message, status });
});

app.setNotFoundHandler((req, reply) => {
  reply.code(404).send({ error: `no route for ${req.method} ${req.path}` });
});

// The API, as a plugin under /api.
app.register(async (api) => {
  const users = new Map([[1, { id: 1, name: 'Grace' }]]);
  let nextId = 2;

  api.get('/users', (req) => {
    const limit = Number(req.query.limit ?? 10);
    return [...users.values()].slice(0, limit);
  });

  api.get('/users/:id', (req) => {
    const user = users.get(Number(req.params.id));
    if (!user) throw httpError(404, `user ${req.params.id} not found`);
    return user;
  });

  api.post('/users', async (req, reply) => {
    const { name } = await req.json();  // invalid JSON: a 400 through the error handler
    if (typeof name !== 'string' || name === '') throw httpError(422, 'name must be a non-empty string');
    const user = { id: nextId++, name };
    users.set(user.id, user);
    reply.code(201).header('location', `/api/users/${user.id}`);
    return user;
  });

  api.delete('/users/:id', (req, reply) => {
    if (!users.delete(Number(req.params.id))) throw httpError(404, `user ${req.params.id} not found`);
    reply.code(204).send();
  });
}, { prefix: '/api' });

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST || '127.0.0.1';
app.listen({ port, host }).then((url) => {
  console.log(`listening on ${url}`);
}, (err) => {
  console.error(err.message);
  process.exit(1);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    app.close().then(() => process.exit(0));
  });
}
