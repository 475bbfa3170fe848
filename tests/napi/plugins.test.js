'use strict';
// Plugin encapsulation (napi/lib/scope.cjs): hooks, error handlers, not-found handlers and
// decorators added inside a plugin apply to that plugin's routes and its children only; a plugin
// marked skip-override (fastify-plugin's mark) adds them to its parent. Over a socket and through
// inject().

const test = require('node:test');
const assert = require('node:assert/strict');
const { lib, request } = require('./fixtures/helpers.cjs');

const { createApp } = lib();

function skipOverride(fn) {
  fn[Symbol.for('skip-override')] = true;
  return fn;
}

function buildApp() {
  const app = createApp({ threads: 1 });
  app.addHook('onRequest', (req, reply) => { reply.header('x-root', '1'); });
  app.decorate('version', '1.0');
  app.decorateRequest('user', null);
  app.get('/open', (req) => ({ user: req.user, hasAuth: 'auth' in req }));
  app.register(async (admin) => {
    admin.decorateRequest('auth', { getter() { return this.headers.authorization ?? 'none'; } });
    admin.decorateReply('tag', function tag(v) { return this.header('x-tag', v); });
    admin.decorate('area', 'admin');
    admin.addHook('onRequest', async (req, reply) => {
      req.user = 'admin-user';
      if (req.headers.authorization !== 'Bearer ok') reply.code(401).send({ denied: true });
    });
    admin.setErrorHandler((err, req, reply) => reply.code(409).send({ adminError: err.message }));
    admin.setNotFoundHandler((req, reply) => reply.send({ adminNotFound: req.url }));
    admin.get('/stats', function stats(req, reply) {
      reply.tag('t1');
      return { user: req.user, auth: req.auth, area: this.area, version: this.version };
    });
    admin.get('/boom', () => { throw new Error('admin broke'); });
    admin.register(async (deep) => {
      deep.get('/inner', (req) => ({ user: req.user, auth: req.auth }));
    }, { prefix: '/deep' });
  }, { prefix: '/admin' });
  app.register(skipOverride(async (shared) => {
    shared.decorate('db', 'sqlite');
    shared.addHook('onSend', (req, reply) => { reply.header('x-shared', '1'); });
  }), { prefix: '/ignored' });
  app.register(async (sibling) => {
    sibling.get('/sib', function sib(req) {
      return { area: this.area ?? null, db: this.db, hasTag: typeof sibling.hasReplyDecorator === 'function' && sibling.hasReplyDecorator('tag') };
    });
  });
  app.get('/boom', () => { throw new Error('root broke'); });
  app.setNotFoundHandler((req, reply) => reply.send({ rootNotFound: req.url }));
  return app;
}

async function both(app, base, url, headers = {}) {
  const s = await request(base, url, { headers });
  const i = await app.inject({ url, headers });
  return [
    { status: s.status, headers: s.headers, json: JSON.parse(s.text) },
    { status: i.statusCode, headers: i.headers, json: i.json() },
  ];
}

test('hooks, error and not-found handlers, decorators stay in their plugin', async (t) => {
  const app = buildApp();
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  const auth = { authorization: 'Bearer ok' };

  for (const r of await both(app, base, '/open')) {
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { user: null, hasAuth: false }, 'the plugin\'s hook and decorator stay out of the root');
    assert.equal(r.headers['x-root'], '1');
    assert.equal(r.headers['x-shared'], '1', 'a skip-override plugin\'s hook is the parent\'s');
  }
  for (const r of await both(app, base, '/admin/stats')) {
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, { denied: true });
    assert.equal(r.headers['x-root'], '1', 'the root\'s hook runs for the plugin\'s routes too');
  }
  for (const r of await both(app, base, '/admin/stats', auth)) {
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { user: 'admin-user', auth: 'Bearer ok', area: 'admin', version: '1.0' });
    assert.equal(r.headers['x-tag'], 't1');
  }
  for (const r of await both(app, base, '/admin/deep/inner', auth)) {
    assert.deepEqual(r.json, { user: 'admin-user', auth: 'Bearer ok' }, 'a child plugin inherits');
  }
  for (const r of await both(app, base, '/admin/boom', auth)) {
    assert.equal(r.status, 409);
    assert.deepEqual(r.json, { adminError: 'admin broke' });
  }
  for (const r of await both(app, base, '/boom')) {
    assert.equal(r.status, 500);
    assert.equal(r.json.message, 'root broke', 'the plugin\'s error handler stays in the plugin');
  }
  for (const r of await both(app, base, '/admin/nothing/here', auth)) {
    assert.equal(r.status, 404);
    assert.deepEqual(r.json, { adminNotFound: '/admin/nothing/here' });
  }
  for (const r of await both(app, base, '/admin/nothing')) {
    assert.equal(r.status, 401, 'the plugin\'s hooks run for its not-found answers');
  }
  for (const r of await both(app, base, '/elsewhere')) {
    assert.equal(r.status, 404);
    assert.deepEqual(r.json, { rootNotFound: '/elsewhere' });
  }
  for (const r of await both(app, base, '/sib')) {
    assert.deepEqual(r.json, { area: null, db: 'sqlite', hasTag: false }, 'siblings do not see each other\'s decorators');
  }
  assert.equal(app.hasDecorator('db'), true);
  assert.equal(app.hasDecorator('area'), false);
  assert.equal(app.hasRequestDecorator('user'), true);
  assert.equal(app.hasRequestDecorator('auth'), false);
  // The one place that says which scope answers for a path no route matched (not public API).
  const state = app._state;
  assert.equal(state.scopeForPath('/admin/zzz').prefix, '/admin');
  assert.equal(state.scopeForPath('/admin').prefix, '/admin');
  assert.equal(state.scopeForPath('/administrator'), state.rootScope);
  assert.equal(state.scopeForPath('/admin/deep/x').compiled.errorHandler !== null, true);
});

test('a not-found handler under a prefix with a parameter answers below that prefix', async () => {
  const app = createApp();
  app.register(async (org) => {
    org.get('/members', (req) => ({ org: req.params.org }));
    org.setNotFoundHandler((req, reply) => reply.send({ orgNotFound: req.url }));
  }, { prefix: '/orgs/:org' });
  assert.deepEqual((await app.inject('/orgs/acme/members')).json(), { org: 'acme' });
  const r = await app.inject('/orgs/acme/nothing');
  assert.equal(r.statusCode, 404);
  assert.deepEqual(r.json(), { orgNotFound: '/orgs/acme/nothing' });
  assert.equal((await app.inject('/elsewhere')).statusCode, 404);
  assert.equal((await app.inject('/elsewhere')).body, 'Not Found\n');
  assert.equal(app._state.scopeForPath('/orgs/acme/x').prefix, '/orgs/:org');
  assert.equal(app._state.scopeForPath('/orgs').prefix, '');
  await app.close();
});

test('decorator rules: no duplicates, no shared objects, dependencies, only before start', async () => {
  const app = createApp();
  app.decorate('a', 1);
  assert.throws(() => app.decorate('a', 2), /decorate\('a'\): the app already has it/);
  assert.throws(() => app.decorate('listen', 2), /already has it/);
  assert.throws(() => app.decorateRequest('headers', null), /requests already have it/);
  assert.throws(() => app.decorateReply('send', () => {}), /replies already have it/);
  assert.throws(() => app.decorateRequest('session', {}), /shared by every request/);
  assert.throws(() => app.decorate('b', 1, ['missing']), /depends on the decorator 'missing'/);
  app.decorate('b', 1, ['a']);
  app.decorateRequest('counter', 0);
  app.get('/', (req) => { req.counter++; return req.counter; });
  assert.equal((await app.inject('/')).body, '1');
  assert.equal((await app.inject('/')).body, '1', 'a field decorator starts afresh on every request');
  assert.throws(() => app.decorate('late', 1), /the app has started/);
  assert.throws(() => createApp().setNotFoundHandler(() => 1).setNotFoundHandler(() => 2),
    /already set for the prefix '\/'/);
  await app.close();
});
