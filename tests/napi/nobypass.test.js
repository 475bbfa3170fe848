'use strict';
// No bypass (issue 18): the answers the engine used to give itself to requests that matched the
// app (405, OPTIONS 204, 413, the handler timeout's 503, the 500 of an invalid header) go through
// the app's onRequest hooks, error handler and onSend/onResponse hooks when it has any; an app
// without hooks or handlers keeps the engine's answers byte for byte. Over real sockets and
// through inject.

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { lib, request } = require('./fixtures/helpers.cjs');

const { createApp } = lib();

const MODES = ['socket', 'inject'];

async function call(mode, app, base, { method = 'GET', url, headers = {}, body } = {}) {
  if (mode === 'socket') {
    const r = await request(base, url, { method, headers, body });
    return { status: r.status, headers: r.headers, text: r.text };
  }
  const r = await app.inject({ method, url, headers, body });
  return { status: r.statusCode, headers: r.headers, text: r.body };
}

// Writes `bytes` on a fresh connection and resolves with everything read until the server
// closes it (every case here ends with a close).
function rawClose(port, bytes, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    const chunks = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; read: ${Buffer.concat(chunks).toString('latin1')}`));
    }, timeoutMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}

// An app with the usual production shape: a JSON error format, an x-request-id on every answer
// (onSend), and a log of what onResponse saw.
function productionApp(options) {
  const app = createApp({ threads: 1, ...options });
  const seen = [];
  app.addHook('onSend', (req, reply) => {
    reply.header('x-request-id', `req-${req.id}`);
  });
  app.addHook('onResponse', (req, reply) => {
    seen.push(reply.statusCode);
  });
  app.setErrorHandler((err, req, reply) => {
    return { error: err.code, statusCode: reply.statusCode, message: err.message, bodyBytes: req.body.length };
  });
  app.get('/items', () => ['a', 'b']);
  app.post('/items', (req) => ({ got: req.body.length }));
  app.get('/slow', () => new Promise(() => {}));
  app.get('/bad-header', (req, reply) => {
    reply.header('x-injected', 'a\r\nset-cookie: stolen=1');
    return 'never sent';
  });
  app.get('/bad-name', (req, reply) => {
    reply.header('bad name', 'x');
    return 'never sent';
  });
  return { app, seen };
}

test('405, OPTIONS, 413, 503 and 500 go through the error handler and onSend/onResponse', async (t) => {
  const { app, seen } = productionApp({ handlerTimeoutMs: 200, bodyLimit: 1000 });
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  for (const mode of MODES) {
    const c = (opts) => call(mode, app, base, opts);
    const before = seen.length;

    let r = await c({ method: 'DELETE', url: '/items' });
    assert.equal(r.status, 405, mode);
    assert.equal(r.headers.allow, 'GET, HEAD, POST, OPTIONS');
    assert.match(r.headers['x-request-id'], /^req-\d+$/);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.deepEqual(JSON.parse(r.text), {
      error: 'FST_ERR_METHOD_NOT_ALLOWED', statusCode: 405,
      message: 'Method DELETE is not allowed on /items', bodyBytes: 0,
    });

    r = await c({ method: 'OPTIONS', url: '/items' });
    assert.equal(r.status, 204, `${mode}: no hook answered: the automatic 204`);
    assert.equal(r.headers.allow, 'GET, HEAD, POST, OPTIONS');
    assert.match(r.headers['x-request-id'], /^req-\d+$/, 'through onSend');
    assert.equal(r.text, '');

    r = await c({ method: 'POST', url: '/items', body: 'x'.repeat(1001) });
    assert.equal(r.status, 413, mode);
    assert.match(r.headers['x-request-id'], /^req-\d+$/);
    assert.equal(r.headers.connection, 'close', 'the body was not read: the connection ends');
    assert.deepEqual(JSON.parse(r.text), {
      error: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413, message: 'Request body is too large', bodyBytes: 0,
    });
    r = await c({ method: 'POST', url: '/items', body: 'x'.repeat(1000) });
    assert.deepEqual([r.status, JSON.parse(r.text)], [200, { got: 1000 }], 'at the limit: served');

    r = await c({ url: '/slow' });
    assert.equal(r.status, 503, mode);
    assert.match(r.headers['x-request-id'], /^req-\d+$/);
    assert.deepEqual(JSON.parse(r.text), {
      error: 'FST_ERR_HANDLER_TIMEOUT', statusCode: 503,
      message: 'The handler did not answer within 200 ms', bodyBytes: 0,
    });

    for (const url of ['/bad-header', '/bad-name']) {
      r = await c({ url });
      assert.equal(r.status, 500, `${mode} ${url}`);
      assert.match(r.headers['x-request-id'], /^req-\d+$/);
      assert.equal(r.headers['set-cookie'], undefined, 'nothing injected');
      const body = JSON.parse(r.text);
      assert.equal(body.error, 'FST_ERR_INVALID_HEADER');
      assert.equal(body.statusCode, 500);
    }
    // onResponse runs after the record was handed over (after the next flush): wait for it.
    const want = [405, 204, 413, 200, 503, 500, 500];
    const deadline = Date.now() + 5000;
    while (seen.length < before + want.length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
    assert.deepEqual(seen.slice(before), want, `${mode}: onResponse saw every answer`);
  }
});

test('a CORS preflight is answered by a plain onRequest hook', async (t) => {
  const app = createApp({ threads: 1 });
  app.addHook('onRequest', (req, reply) => {
    reply.header('access-control-allow-origin', '*');
    if (req.method === 'OPTIONS') {
      reply.code(204)
        .header('access-control-allow-methods', 'GET, PUT, DELETE')
        .header('access-control-allow-headers', 'content-type, authorization')
        .header('access-control-max-age', '600')
        .send();
    }
  });
  app.get('/api/things/:id', (req) => ({ id: req.params.id }));
  app.put('/api/things/:id', (req) => ({ put: req.params.id }));
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  const preflight = {
    origin: 'https://app.example', 'access-control-request-method': 'PUT',
    'access-control-request-headers': 'content-type',
  };
  for (const mode of MODES) {
    const c = (opts) => call(mode, app, base, opts);
    let r = await c({ method: 'OPTIONS', url: '/api/things/7', headers: preflight });
    assert.equal(r.status, 204, mode);
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal(r.headers['access-control-allow-methods'], 'GET, PUT, DELETE');
    assert.equal(r.headers['access-control-allow-headers'], 'content-type, authorization');
    assert.equal(r.headers['access-control-max-age'], '600');
    assert.equal(r.headers.allow, undefined, 'the hook answered, not the automatic 204');
    r = await c({ method: 'PUT', url: '/api/things/7', headers: { origin: 'https://app.example' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.deepEqual(JSON.parse(r.text), { put: '7' });
    // A method the path does not take is still refused, with the hook's header on it.
    r = await c({ method: 'DELETE', url: '/api/things/7' });
    assert.equal(r.status, 405);
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal(r.headers.allow, 'GET, HEAD, PUT, OPTIONS');
  }
});

test('an app without hooks or handlers gets the engine answers byte for byte', async (t) => {
  const app = createApp({ threads: 1, handlerTimeoutMs: 200, bodyLimit: 1000 });
  app.get('/a', () => 'hi');
  app.post('/a', () => 'posted');
  app.get('/slow', () => new Promise(() => {}));
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  const port = new URL(base).port;
  const cases = [
    ['DELETE /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'HTTP/1.1 405 Method Not Allowed\r\nServer: NexureJS\r\nDate: D\r\nContent-Type: text/plain\r\n' +
      'Allow: GET, HEAD, POST, OPTIONS\r\nContent-Length: 19\r\nConnection: close\r\n\r\nMethod Not Allowed\n'],
    ['OPTIONS /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'HTTP/1.1 204 No Content\r\nServer: NexureJS\r\nDate: D\r\nAllow: GET, HEAD, POST, OPTIONS\r\n' +
      'Connection: close\r\n\r\n'],
    ['POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\nabc',
      'HTTP/1.1 413 Content Too Large\r\nServer: NexureJS\r\nDate: D\r\nContent-Type: text/plain\r\n' +
      'Content-Length: 18\r\nConnection: close\r\n\r\nContent Too Large\n'],
    ['GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'HTTP/1.1 503 Service Unavailable\r\nServer: NexureJS\r\nDate: D\r\nContent-Type: text/plain\r\n' +
      'Content-Length: 20\r\nConnection: close\r\n\r\nService Unavailable\n'],
  ];
  for (const [ask, answer] of cases) {
    const got = await rawClose(port, ask);
    assert.equal(got.replace(/\r\nDate: [^\r]*/, '\r\nDate: D'), answer);
  }
  assert.equal(app._state.engineRoute, null, 'the engine keeps its answers: no JavaScript runs for them');
});

test('413 streams nothing into JavaScript: answered at the head, before the body is sent', async (t) => {
  let seen = null;
  const app = createApp({ threads: 1, bodyLimit: 64 * 1024 });
  app.setErrorHandler((err, req, reply) => {
    seen = { code: err.code, bodyBytes: req.body.length, declared: req.header('content-length') };
    reply.header('x-limit', String(err.limit));
    return { error: err.code };
  });
  app.post('/upload', () => 'stored');
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  const port = new URL(base).port;
  // Only the head (and a few bytes) of a 512 MiB upload is ever sent.
  const got = await rawClose(port,
    'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 536870912\r\n\r\nfirst bytes');
  assert.match(got, /^HTTP\/1\.1 413 Content Too Large\r\n/);
  assert.match(got, /\r\nx-limit: 65536\r\n/);
  assert.match(got, /\r\nConnection: close\r\n/);
  assert.ok(got.endsWith('{"error":"FST_ERR_CTP_BODY_TOO_LARGE"}'), got);
  assert.deepEqual(seen, { code: 'FST_ERR_CTP_BODY_TOO_LARGE', bodyBytes: 0, declared: '536870912' });

  // A chunked body has no length at its head: refused when its chunks reach the limit (the
  // engine holds what came before; none of it crosses into JavaScript).
  seen = null;
  const chunk = (n) => `${n.toString(16)}\r\n${'y'.repeat(n)}\r\n`;
  const chunked = await rawClose(port,
    'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' +
    chunk(40000) + chunk(40000));
  assert.match(chunked, /^HTTP\/1\.1 413 Content Too Large\r\n/);
  assert.ok(chunked.endsWith('{"error":"FST_ERR_CTP_BODY_TOO_LARGE"}'), chunked);
  assert.deepEqual(seen, { code: 'FST_ERR_CTP_BODY_TOO_LARGE', bodyBytes: 0, declared: undefined });

  // 100-continue on a path that does not take the method: answered at the head too, no go-ahead.
  seen = null;
  const refused = await rawClose(port,
    'PUT /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n');
  assert.match(refused, /^HTTP\/1\.1 405 Method Not Allowed\r\n/, 'no 100 Continue first');
  assert.match(refused, /\r\nAllow: POST, OPTIONS\r\n/i);
  assert.equal(seen.code, 'FST_ERR_METHOD_NOT_ALLOWED');
});

test('the handler timeout: 503 through the error handler; the engine answers if that hangs', async (t) => {
  const app = createApp({ threads: 1, handlerTimeoutMs: 150 });
  let lateAnswers = 0;
  app.setErrorHandler((err, req, reply) => {
    if (req.url === '/hang-twice') return new Promise(() => {});  // the error handler hangs too
    return { error: err.code };
  });
  app.get('/late', async () => {
    await new Promise((res) => setTimeout(res, 400));
    lateAnswers++;
    return 'too late';
  });
  app.get('/hang-twice', () => new Promise(() => {}));
  app.get('/quick', async () => { await null; return 'quick'; });
  const warnings = [];
  const onWarning = (w) => warnings.push(w.code);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  for (const mode of MODES) {
    const c = (opts) => call(mode, app, base, opts);
    let r = await c({ url: '/late' });
    assert.equal(r.status, 503, mode);
    assert.deepEqual(JSON.parse(r.text), { error: 'FST_ERR_HANDLER_TIMEOUT' });
    const started = Date.now();
    r = await c({ url: '/hang-twice' });
    const took = Date.now() - started;
    assert.equal(r.status, 503, `${mode}: the engine's backstop`);
    assert.equal(r.text, 'Service Unavailable\n');
    assert.match(r.headers['content-type'], /^text\/plain/);
    assert.ok(took >= 1000, `${mode}: the backstop comes a second after the app's timeout (${took} ms)`);
  }
  const deadline = Date.now() + 3000;
  while (lateAnswers < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
  assert.equal(lateAnswers, 2);
  // Requests answered in time leave the timeout list at once: nothing waits for its deadline.
  const quick = await Promise.all(Array.from({ length: 50 }, () => request(base, '/quick')));
  assert.ok(quick.every((r) => r.text === 'quick'));
  assert.equal(app._state.timeouts.first, null, 'no reply is kept by the handler timeout');
  assert.deepEqual(warnings.filter((w) => w === 'NEXURE_REPLY_ALREADY_SENT'), [],
    'a late answer after the timeout is dropped quietly');
});

test('an onRequest hook sees engine answers and may answer them itself or fail them', async (t) => {
  const app = createApp({ threads: 1 });
  app.addHook('onRequest', (req, reply) => {
    if (req.header('authorization') !== 'Bearer ok') {
      const err = new Error('who are you?');
      err.statusCode = 401;
      throw err;
    }
  });
  app.get('/private', () => 'secret');
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  for (const mode of MODES) {
    const c = (opts) => call(mode, app, base, opts);
    let r = await c({ method: 'POST', url: '/private' });
    assert.equal(r.status, 401, `${mode}: the hook runs before the 405`);
    assert.equal(JSON.parse(r.text).message, 'who are you?');
    r = await c({ method: 'POST', url: '/private', headers: { authorization: 'Bearer ok' } });
    assert.equal(r.status, 405);
    assert.equal(JSON.parse(r.text).code, 'FST_ERR_METHOD_NOT_ALLOWED', 'the default error handler');
    assert.equal(r.headers.allow, 'GET, HEAD, OPTIONS');
  }
});

test('engine answers use the hooks and error handler of the plugin that owns the path', async (t) => {
  const app = createApp({ threads: 1, bodyLimit: 100 });
  app.setErrorHandler((err) => ({ by: 'root', code: err.code }));
  app.get('/home', () => 'home');
  app.register(async (api) => {
    api.addHook('onSend', (req, reply) => { reply.header('x-api', 'yes'); });
    api.setErrorHandler((err, req, reply) => ({ by: 'api', code: err.code }));
    api.get('/things', () => []);
    api.post('/things', () => 'made');
  }, { prefix: '/api' });
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  for (const mode of MODES) {
    const c = (opts) => call(mode, app, base, opts);
    let r = await c({ method: 'DELETE', url: '/api/things' });
    assert.equal(r.status, 405, mode);
    assert.deepEqual(JSON.parse(r.text), { by: 'api', code: 'FST_ERR_METHOD_NOT_ALLOWED' });
    assert.equal(r.headers['x-api'], 'yes');
    r = await c({ method: 'POST', url: '/api/things', body: 'z'.repeat(101) });
    assert.equal(r.status, 413, mode);
    assert.deepEqual(JSON.parse(r.text), { by: 'api', code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
    assert.equal(r.headers['x-api'], 'yes');
    r = await c({ method: 'DELETE', url: '/home' });
    assert.equal(r.status, 405, mode);
    assert.deepEqual(JSON.parse(r.text), { by: 'root', code: 'FST_ERR_METHOD_NOT_ALLOWED' });
    assert.equal(r.headers['x-api'], undefined, 'the plugin\'s hook stays in the plugin');
  }
});

test('a streamed reply leaves the handler timeout once it starts, and is not cut by it', async (t) => {
  const app = createApp({ threads: 1, handlerTimeoutMs: 200 });
  app.addHook('onSend', (req, reply) => { reply.header('x-request-id', String(req.id)); });
  app.get('/numbers', async (req, reply) => {
    async function* numbers() {
      for (let i = 1; i <= 4; i++) {
        await new Promise((res) => setTimeout(res, 100));
        yield `${i}\n`;
      }
    }
    return reply.send(numbers());
  });
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  const r = await request(base, '/numbers');
  assert.equal(r.status, 200);
  assert.equal(r.text, '1\n2\n3\n4\n', 'streamed past handlerTimeoutMs without a 503');
  assert.equal(app._state.timeouts.first, null);
});
