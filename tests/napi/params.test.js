'use strict';
// Routes that name a shared parameter position differently (find-my-way allows it; the native
// router keeps each route's names): over a socket and through inject().

const test = require('node:test');
const assert = require('node:assert/strict');
const { lib, request } = require('./fixtures/helpers.cjs');

const { createApp } = lib();

test('/users/:id beside /users/:userId/todos: each route sees its own parameter names', async (t) => {
  const app = createApp({ threads: 1 });
  app.get('/users/:id', (req) => ({ route: 'user', params: { ...req.params } }));
  app.get('/users/:userId/todos', (req) => ({ route: 'todos', params: { ...req.params } }));
  app.get('/users/:owner/todos/:todoId', (req) => ({ route: 'todo', params: { ...req.params } }));
  app.delete('/users/:uid', (req) => ({ route: 'delete', params: { ...req.params } }));
  app.get('/users/:who/files/*', (req) => ({ route: 'files', params: { ...req.params } }));
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());

  const cases = [
    ['GET', '/users/7', { route: 'user', params: { id: '7' } }],
    ['GET', '/users/7/todos', { route: 'todos', params: { userId: '7' } }],
    ['GET', '/users/a%20b/todos/42', { route: 'todo', params: { owner: 'a b', todoId: '42' } }],
    ['DELETE', '/users/9', { route: 'delete', params: { uid: '9' } }],
    ['GET', '/users/3/files/x/y.txt', { route: 'files', params: { who: '3', '*': 'x/y.txt' } }],
  ];
  for (const [method, url, expected] of cases) {
    const r = await request(base, url, { method });
    assert.equal(r.status, 200, `${method} ${url}: ${r.text}`);
    assert.deepEqual(JSON.parse(r.text), expected, `${method} ${url} over a socket`);
    const i = await app.inject({ method, url });
    assert.equal(i.statusCode, 200);
    assert.deepEqual(i.json(), expected, `${method} ${url} through inject`);
  }
});

test('the same path with another parameter name is still a duplicate route', async () => {
  const app = createApp();
  app.get('/users/:id', () => 'a');
  app.get('/users/:name', () => 'b');
  await assert.rejects(app.ready(), /invalid route GET \/users\/:name: already registered/);
  await app.close();
});
