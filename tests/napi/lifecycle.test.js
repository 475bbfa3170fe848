'use strict';
// Hooks, error handlers, the not-found handler, plugins with prefixes, fixed routes that never
// enter JavaScript, and the errors of registration and start-up. Every request case runs over a
// socket and through inject.

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { lib, request, until } = require('./fixtures/helpers.cjs');

const { createApp, httpError } = lib();

const MODES = ['socket', 'inject'];

async function call(mode, app, base, { method = 'GET', url, headers = {}, body } = {}) {
  if (mode === 'socket') {
    const r = await request(base, url, { method, headers, body });
    return { status: r.status, headers: r.headers, text: r.text };
  }
  const r = await app.inject({ method, url, headers, body });
  return { status: r.statusCode, headers: r.headers, text: r.body };
}

test('hooks run in order: onRequest, preHandler, handler, onSend, onResponse', async (t) => {
  const log = [];
  const app = createApp({ threads: 1 });
  app.addHook('onRequest', async (req) => {
    await null;
    log.push(`onRequest ${req.url}`);
  });
  app.addHook('preHandler', (req, reply, done) => {
    log.push('preHandler(cb)');
    setTimeout(done, 1);
  });
  app.addHook('onSend', async (req, reply, payload) => {
    log.push(`onSend ${payload}`);
    return typeof payload === 'string' ? payload.toUpperCase() : payload;
  });
  app.addHook('onSend', (req, reply, payload, done) => {
    log.push(`onSend2 ${payload}`);
    done(null, `[${payload}]`);
  });
  app.addHook('onResponse', async (req, reply) => {
    await null;
    log.push(`onResponse ${reply.statusCode} ${req.params.name ?? '-'}`);
  });
  app.get('/hello/:name', {
    onRequest: (req) => { log.push('route onRequest'); },
    preHandler: [(req) => { log.push('route preHandler'); }],
    config: { tag: 'x' },
  }, async (req) => {
    log.push(`handler ${req.routeConfig.tag} ${req.routePath}`);
    return `hi ${req.params.name}`;
  });
  app.get('/deny', { onRequest: (req, reply) => { reply.code(401).send('denied'); } }, () => {
    log.push('handler must not run');
    return 'no';
  });
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());

  for (const mode of MODES) {
    log.length = 0;
    const r = await call(mode, app, base, { url: '/hello/bob' });
    assert.equal(r.text, '[HI BOB]', mode);
    assert.equal(r.headers['content-length'], '8');
    await until(() => log.length === 8, `${mode}: onResponse`);
    assert.deepEqual(log, [
      'onRequest /hello/bob', 'route onRequest', 'preHandler(cb)', 'route preHandler',
      'handler x /hello/:name', 'onSend hi bob', 'onSend2 HI BOB', 'onResponse 200 bob',
    ], mode);

    log.length = 0;
    const d = await call(mode, app, base, { url: '/deny' });
    assert.equal(d.status, 401);
    assert.equal(d.text, '[DENIED]');
    await until(() => log.some((l) => l.startsWith('onResponse')), `${mode}: onResponse after deny`);
    assert.deepEqual(log, ['onRequest /deny', 'onSend denied', 'onSend2 DENIED', 'onResponse 401 -']);
  }
});

test('setErrorHandler: its answer, the status of the error, and a plain 500 when it fails', async (t) => {
  const app = createApp({ threads: 1 });
  const seen = [];
  app.setErrorHandler(async (err, req, reply) => {
    seen.push(`${reply.statusCode} ${err.message}`);
    if (err.message === 'explode') throw new Error('the error handler failed');
    await null;
    return { custom: true, message: err.message, path: req.path };
  });
  app.get('/teapot', () => {
    throw httpError(418, 'tea');
  });
  app.get('/plain', () => {
    throw new Error('plain');
  });
  app.get('/explode', async () => {
    throw new Error('explode');
  });
  app.get('/bad-type', { onSend: () => 42 }, () => 'x');
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  for (const mode of MODES) {
    seen.length = 0;
    let r = await call(mode, app, base, { url: '/teapot' });
    assert.equal(r.status, 418);
    assert.deepEqual(JSON.parse(r.text), { custom: true, message: 'tea', path: '/teapot' });
    r = await call(mode, app, base, { url: '/plain' });
    assert.equal(r.status, 500);
    assert.equal(JSON.parse(r.text).custom, true);
    r = await call(mode, app, base, { url: '/explode' });
    assert.equal(r.status, 500);
    assert.equal(r.headers['content-type'], 'text/plain');
    assert.equal(r.text, 'Internal Server Error\n');
    // an onSend hook returning something that is not a payload is an error too
    r = await call(mode, app, base, { url: '/bad-type' });
    assert.equal(r.status, 500);
    assert.deepEqual(seen, ['418 tea', '500 plain', '500 explode',
      '500 an onSend hook must return a string, a Buffer, null or undefined'], mode);
    assert.equal((await call(mode, app, base, { url: '/teapot' })).status, 418);
  }
});

test('setNotFoundHandler: unknown paths reach it; 405, OPTIONS, HEAD and fixed routes do not', async (t) => {
  // (405 and OPTIONS go through the app's hooks and error handler: tests/napi/nobypass.test.js.)
  const app = createApp({ threads: 1 });
  let requests = 0;
  app.addHook('onRequest', () => { requests++; });
  app.get('/a', () => 'a');
  app.post('/b/:id', (req) => `b${req.params.id}`);
  app.get('/static/*', (req) => `static ${req.params['*']}`);
  app.fixed('GET', '/health', { body: 'ok' });
  app.setNotFoundHandler((req, reply) => {
    assert.equal(reply.statusCode, 404);
    return { notFound: req.url, method: req.method, params: { ...req.params } };
  });
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  for (const mode of MODES) {
    const c = (opts) => call(mode, app, base, opts);
    let r = await c({ url: '/zzz?x=1' });
    assert.equal(r.status, 404);
    assert.deepEqual(JSON.parse(r.text), { notFound: '/zzz?x=1', method: 'GET', params: {} });
    r = await c({ method: 'DELETE', url: '/deep/er/path' });
    assert.equal(r.status, 404);
    assert.equal(JSON.parse(r.text).method, 'DELETE');
    r = await c({ method: 'POST', url: '/a' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'GET, HEAD, OPTIONS');
    assert.equal(JSON.parse(r.text).code, 'FST_ERR_METHOD_NOT_ALLOWED', 'the default error handler');
    r = await c({ method: 'GET', url: '/b/1' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'POST, OPTIONS');
    r = await c({ method: 'OPTIONS', url: '/a' });
    assert.equal(r.status, 204);
    assert.equal(r.headers.allow, 'GET, HEAD, OPTIONS');
    r = await c({ method: 'OPTIONS', url: '/nothing-here' });
    assert.equal(r.status, 404);
    r = await c({ method: 'HEAD', url: '/a' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '1');
    assert.equal(r.text, '');
    r = await c({ method: 'HEAD', url: '/missing' });
    assert.equal(r.status, 404);
    assert.equal(r.text, '');
    assert.equal((await c({ url: '/static/x/y' })).text, 'static x/y');
    assert.equal((await c({ method: 'POST', url: '/b/9' })).text, 'b9');
    const before = requests;
    r = await c({ url: '/health' });
    assert.equal(r.text, 'ok');
    assert.equal(requests, before, `${mode}: a fixed route runs no hook`);
  }
});

test('a fixed route is served by the engine without entering JavaScript', async (t) => {
  const app = createApp({ threads: 1 });
  let hooks = 0;
  app.addHook('onRequest', () => { hooks++; });
  app.fixed('GET', '/health', { status: 203, headers: [['x-a', 'b']], body: Buffer.from('up') });
  app.get('/js', () => 'js');
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  for (let i = 0; i < 20; i++) {
    const r = await request(base, '/health');
    assert.equal(r.status, 203);
    assert.equal(r.text, 'up');
    assert.equal(r.headers['x-a'], 'b');
    assert.equal(r.headers['content-type'], 'application/octet-stream');
  }
  assert.equal(hooks, 0);
  await request(base, '/js');
  assert.equal(hooks, 1, 'the counter does count JS requests');
});

test('register(): prefixes, nesting, async and callback plugins; hooks added in a plugin stay in it', async (t) => {
  const app = createApp({ threads: 1 });
  app.get('/root', () => 'root');
  app.register(async (api, opts) => {
    assert.equal(opts.version, 1);
    assert.equal(api.prefix, '/api');
    await new Promise((r) => setTimeout(r, 5));
    api.get('/', () => 'api index');
    api.get('/items/:id', (req) => ({ id: req.params.id, route: req.routePath }));
    api.addHook('onSend', (req, reply, payload) => { reply.header('x-plugin', '1'); });
    api.register((v2, o, done) => {
      v2.get('/x', function handler() { return `v2 ${this.prefix}`; });
      done();
    }, { prefix: '/v2/' });
  }, { prefix: '/api', version: 1 });
  app.register({ default: async (scope) => { scope.get('/esm-style', () => 'esm'); } });
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  for (const mode of MODES) {
    const c = (url) => call(mode, app, base, { url });
    assert.equal((await c('/api')).text, 'api index');
    assert.equal((await c('/api/')).text, 'api index');
    assert.deepEqual(JSON.parse((await c('/api/items/3')).text), { id: '3', route: '/api/items/:id' });
    assert.equal((await c('/api/v2/x')).text, 'v2 /api/v2');
    assert.equal((await c('/esm-style')).text, 'esm');
    const root = await c('/root');
    assert.equal(root.text, 'root');
    assert.equal(root.headers['x-plugin'], undefined, 'a plugin\'s hook does not reach the parent\'s routes');
    assert.equal((await c('/api/items/3')).headers['x-plugin'], '1');
    assert.equal((await c('/api/v2/x')).headers['x-plugin'], '1', 'nor does it miss the plugin\'s children');
    assert.equal((await c('/items/3')).status, 404);
  }
});

test('a failing async plugin makes listen() reject', async () => {
  const app = createApp({ threads: 1 });
  app.register(async () => {
    throw new Error('plugin broke');
  });
  await assert.rejects(app.listen({ port: 0 }), /plugin broke/);
  await app.close();
});

test('options and registration errors name the cause', async () => {
  assert.throws(() => createApp({ thread: 2 }), { name: 'TypeError', message: /unknown option thread/ });
  assert.throws(() => createApp({ limits: { maxBody: 1 } }), /unknown option limits\.maxBody/);
  assert.throws(() => createApp({ threads: -1 }), /threads must be an integer/);
  assert.throws(() => createApp({ pinThreads: 'yes' }), /pinThreads must be a boolean/);
  const app = createApp({ threads: 1 });
  assert.throws(() => app.get('nope', () => 1), /must be a string starting with '\/'/);
  assert.throws(() => app.get('/x', { schema: {} }, () => 1), /unknown route option schema/);
  assert.throws(() => app.addHook('onError', () => {}), /unknown hook onError/);
  assert.throws(() => app.route({ method: 'FETCH', url: '/x', handler() {} }), /unknown method FETCH/);
  assert.throws(() => app.fixed('GET', '/f', { code: 200 }), /unknown field code/);
  assert.throws(() => app.get('/x'), /handler must be a function/);

  // The router's own rules surface with its message when the app starts.
  const bad = createApp({ threads: 1 });
  bad.get('/a/:', () => 1);
  await assert.rejects(bad.listen({ port: 0 }), /invalid route GET \/a\/:.*parameter needs a name/);
  await bad.close();

  const dup = createApp({ threads: 1 });
  dup.get('/same', () => 1);
  dup.get('/same', () => 2);
  await assert.rejects(dup.inject('/same'), /invalid route GET \/same/);
  await dup.close();
});

test('registration after listen() or inject() throws', async (t) => {
  const app = createApp({ threads: 1 });
  app.get('/', () => 'x');
  assert.equal((await app.inject('/')).body, 'x');
  assert.throws(() => app.get('/late', () => 1), /the app has started/);
  await app.listen({ port: 0 });
  t.after(() => app.close());
  assert.throws(() => app.post('/late', () => 1), /the app has started/);
  assert.throws(() => app.addHook('onRequest', () => {}), /the app has started/);
  assert.throws(() => app.setErrorHandler(() => {}), /the app has started/);
  assert.throws(() => app.register(async () => {}), /the app has started/);
  await assert.rejects(app.listen({ port: 0 }), /already listening/);
});

test('listen() on a port in use rejects with the engine message; the app can listen again', async (t) => {
  const blocker = net.createServer();
  await new Promise((r) => blocker.listen(0, '127.0.0.1', r));
  t.after(() => blocker.close());
  const port = blocker.address().port;
  const app = createApp({ threads: 1 });
  app.get('/', () => 'again');
  await assert.rejects(app.listen({ port, host: '127.0.0.1' }), (err) => {
    assert.ok(err instanceof Error);
    assert.match(err.message, new RegExp(`${port}|in use`, 'i'));
    return true;
  });
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  assert.equal((await request(base, '/')).text, 'again');
});
