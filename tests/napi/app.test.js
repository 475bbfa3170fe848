'use strict';
// The public API end to end over the real binding: every case runs twice, over a socket
// (node:http against app.listen()) and through app.inject(), and both must give the same answer
// (inject emulates what the engine does itself).

const test = require('node:test');
const assert = require('node:assert/strict');
const { lib, request, rawExchange } = require('./fixtures/helpers.cjs');

const { createApp, httpError } = lib();

const MODES = ['socket', 'inject'];

// { status, headers, text } the same way for both modes.
async function call(mode, app, base, { method = 'GET', url, headers = {}, body } = {}) {
  if (mode === 'socket') {
    const r = await request(base, url, { method, headers, body });
    return { status: r.status, headers: r.headers, text: r.text, raw: r.body };
  }
  const r = await app.inject({ method, url, headers, body });
  return { status: r.statusCode, headers: r.headers, text: r.body, raw: r.rawPayload };
}

function mainApp() {
  const app = createApp({ threads: 2, handlerTimeoutMs: 300 });
  app.get('/', () => 'Hello, World!');
  app.get('/json', () => ({ a: 1, list: [1, 'two', null] }));
  app.get('/buffer', () => Buffer.from([0, 1, 2, 255]));
  app.get('/number', () => 42);
  app.get('/null', () => null);
  app.get('/false', () => false);
  app.get('/status', (req, reply) => {
    reply.code(201).header('X-Custom', 'v').headers({ 'x-b': 'c', 'set-cookie': ['a=1', 'b=2'] })
      .type('text/html').send('<b>hi</b>');
  });
  app.get('/users/:id', (req) => ({ id: req.params.id, query: { ...req.query }, path: req.path, url: req.url }));
  app.get('/geo/:lat-:lng', (req) => ({ ...req.params }));
  app.get('/files/*', (req) => req.params['*']);
  app.get('/headers', (req) => ({
    dup: req.headers['x-dup'], upper: req.header('X-TEST'), cookie: req.headers['set-cookie'] ?? null,
    missing: req.header('nope') ?? null, version: req.httpVersion,
  }));
  app.post('/echo', async (req) => {
    const body = await req.json();
    return { got: body, type: req.headers['content-type'] };
  });
  app.post('/text', async (req) => `text:${await req.text()}`);
  app.post('/raw', (req) => ({ length: req.body.length, sum: req.body.reduce((a, b) => a + b, 0), isBuffer: Buffer.isBuffer(req.body) }));
  app.post('/json-strict', async (req) => ({ parsed: await req.json() }));
  app.get('/throw', () => {
    throw new Error('boom');
  });
  app.get('/reject', async () => {
    await null;
    throw httpError(418, 'short and stout');
  });
  app.get('/later', (req, reply) => {
    setTimeout(() => reply.send('later'), 20);
  });
  app.get('/async-style', async (req, reply) => {
    await new Promise((r) => setTimeout(r, 10));
    reply.code(202).send({ ok: true });
  });
  app.get('/never', () => undefined);
  app.get('/big', () => 'x'.repeat(200 * 1024));
  app.get('/bigbuf', () => Buffer.alloc(100 * 1024, 7));
  app.get('/empty', (req, reply) => reply.code(204).send());
  app.get('/unicode', () => 'héllo wörld €');
  app.get('/close', (req, reply) => reply.header('connection', 'close').send('bye'));
  app.fixed('GET', '/health', { status: 200, headers: { 'x-fixed': '1' }, body: 'ok' });
  app.fixed('GET', '/fixed.json', { body: { up: true } });
  app.route({ method: ['PUT', 'PATCH'], url: '/multi/:x', handler: (req) => `${req.method} ${req.params.x}` });
  app.all('/everything', (req) => req.method);
  return app;
}

test('the API over a socket and through inject', async (t) => {
  const app = mainApp();
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(app.address().port, Number(new URL(base).port));
  assert.equal(app.address().family, 'IPv4');
  assert.equal(app.server.threads, 2);
  assert.equal(app.server.url, base);

  for (const mode of MODES) {
    const c = (opts) => call(mode, app, base, opts);

    await t.test(`${mode}: string, JSON, Buffer, number, null and boolean results`, async () => {
      let r = await c({ url: '/' });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(r.headers['content-length'], '13');
      assert.equal(r.text, 'Hello, World!');
      r = await c({ url: '/json' });
      assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
      assert.deepEqual(JSON.parse(r.text), { a: 1, list: [1, 'two', null] });
      r = await c({ url: '/buffer' });
      assert.equal(r.headers['content-type'], 'application/octet-stream');
      assert.deepEqual([...r.raw], [0, 1, 2, 255]);
      assert.equal((await c({ url: '/number' })).text, '42');
      assert.equal((await c({ url: '/null' })).text, 'null');
      assert.equal((await c({ url: '/false' })).text, 'false');
      r = await c({ url: '/unicode' });
      assert.equal(r.text, 'héllo wörld €');
      assert.equal(r.headers['content-length'], String(Buffer.byteLength('héllo wörld €')));
    });

    await t.test(`${mode}: status, headers and type`, async () => {
      const r = await c({ url: '/status' });
      assert.equal(r.status, 201);
      assert.equal(r.headers['content-type'], 'text/html');
      assert.equal(r.headers['x-custom'], 'v');
      assert.equal(r.headers['x-b'], 'c');
      assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
      assert.equal(r.text, '<b>hi</b>');
      const e = await c({ url: '/empty' });
      assert.equal(e.status, 204);
      assert.equal(e.text, '');
      assert.equal(e.headers['content-length'], undefined);
    });

    await t.test(`${mode}: params and query are percent-decoded`, async () => {
      let r = await c({ url: '/users/caf%C3%A9%20x+y?a=1&b=x+y%20z&a=2&flag&%E2%82%AC=%F0%9F%98%80' });
      assert.deepEqual(JSON.parse(r.text), {
        id: 'café x+y', query: { a: ['1', '2'], b: 'x y z', flag: '', '€': '😀' },
        path: '/users/caf%C3%A9%20x+y', url: '/users/caf%C3%A9%20x+y?a=1&b=x+y%20z&a=2&flag&%E2%82%AC=%F0%9F%98%80',
      });
      r = await c({ url: '/geo/1.5--2.25' });
      assert.deepEqual(JSON.parse(r.text), { lat: '1.5', lng: '-2.25' });
      r = await c({ url: '/files/a/b%2Fc.txt' });
      assert.equal(r.text, 'a/b/c.txt');
      r = await c({ url: '/users/7' });
      assert.deepEqual(JSON.parse(r.text).query, {});
    });

    await t.test(`${mode}: request headers: lower-case names, duplicates joined, set-cookie an array`, async () => {
      const r = await c({ url: '/headers', headers: { 'X-Dup': ['one', 'two'], 'X-Test': 'T', 'Set-Cookie': ['s=1', 't=2'] } });
      assert.deepEqual(JSON.parse(r.text), { dup: 'one, two', upper: 'T', cookie: ['s=1', 't=2'], missing: null, version: '1.1' });
    });

    await t.test(`${mode}: bodies: JSON, text, bytes; invalid JSON is a 400`, async () => {
      let r = await c({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: [1, 2] }) });
      assert.deepEqual(JSON.parse(r.text), { got: { x: [1, 2] }, type: 'application/json' });
      r = await c({ method: 'POST', url: '/text', body: 'héllo' });
      assert.equal(r.text, 'text:héllo');
      const bytes = Buffer.from([1, 2, 3, 250]);
      r = await c({ method: 'POST', url: '/raw', body: bytes });
      assert.deepEqual(JSON.parse(r.text), { length: 4, sum: 256, isBuffer: true });
      r = await c({ method: 'POST', url: '/json-strict', headers: { 'content-type': 'application/json' }, body: '{"a":' });
      assert.equal(r.status, 400);
      const err = JSON.parse(r.text);
      assert.equal(err.statusCode, 400);
      assert.equal(err.error, 'Bad Request');
      assert.match(err.message, /not valid JSON/);
      r = await c({ method: 'POST', url: '/json-strict', body: '' });
      assert.equal(r.status, 400);
      // req.json() refuses a body that is not declared JSON (Fastify's 415).
      r = await c({ method: 'POST', url: '/json-strict', body: '{"a":1}' });
      assert.equal(r.status, 415);
      r = await c({ method: 'POST', url: '/json-strict', headers: { 'content-type': 'text/plain' }, body: '{"a":1}' });
      assert.equal(r.status, 415);
      assert.equal(JSON.parse(r.text).code, 'FST_ERR_CTP_INVALID_MEDIA_TYPE');
    });

    await t.test(`${mode}: a throwing or rejecting handler goes through the error handler and the app keeps serving`, async () => {
      let r = await c({ url: '/throw' });
      assert.equal(r.status, 500);
      assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
      assert.deepEqual(JSON.parse(r.text), { statusCode: 500, error: 'Internal Server Error', message: 'boom' });
      r = await c({ url: '/reject' });
      assert.equal(r.status, 418);
      assert.deepEqual(JSON.parse(r.text), { statusCode: 418, error: 'Unknown', message: 'short and stout' });
      r = await c({ url: '/' });
      assert.equal(r.text, 'Hello, World!');
    });

    await t.test(`${mode}: answers sent later with reply.send()`, async () => {
      let r = await c({ url: '/later' });
      assert.equal(r.text, 'later');
      r = await c({ url: '/async-style' });
      assert.equal(r.status, 202);
      assert.deepEqual(JSON.parse(r.text), { ok: true });
    });

    await t.test(`${mode}: a handler that never answers gets 503 after handlerTimeoutMs`, async () => {
      const started = Date.now();
      const r = await c({ url: '/never' });
      assert.equal(r.status, 503);
      assert.equal(r.text, 'Service Unavailable\n');
      assert.ok(Date.now() - started >= 250, 'not before the timeout');
      assert.equal((await c({ url: '/' })).status, 200);
    });

    await t.test(`${mode}: large bodies (stashed beyond 64 KiB)`, async () => {
      let r = await c({ url: '/big' });
      assert.equal(r.text.length, 200 * 1024);
      assert.ok(/^x+$/.test(r.text));
      r = await c({ url: '/bigbuf' });
      assert.equal(r.raw.length, 100 * 1024);
      assert.ok(r.raw.every((b) => b === 7));
      const big = Buffer.alloc(300 * 1024, 1);
      r = await c({ method: 'POST', url: '/raw', body: big });
      assert.deepEqual(JSON.parse(r.text), { length: big.length, sum: big.length, isBuffer: true });
    });

    await t.test(`${mode}: fixed routes`, async () => {
      let r = await c({ url: '/health' });
      assert.equal(r.status, 200);
      assert.equal(r.text, 'ok');
      assert.equal(r.headers['x-fixed'], '1');
      assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
      r = await c({ url: '/fixed.json' });
      assert.deepEqual(JSON.parse(r.text), { up: true });
      assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
    });

    await t.test(`${mode}: 404, 405, OPTIONS and HEAD as the engine answers them`, async () => {
      let r = await c({ url: '/nope' });
      assert.equal(r.status, 404);
      assert.equal(r.text, 'Not Found\n');
      r = await c({ method: 'POST', url: '/' });
      assert.equal(r.status, 405);
      assert.equal(r.headers.allow, 'GET, HEAD, OPTIONS');
      assert.equal(r.text, 'Method Not Allowed\n');
      r = await c({ method: 'OPTIONS', url: '/multi/1' });
      assert.equal(r.status, 204);
      assert.equal(r.headers.allow, 'PUT, OPTIONS, PATCH');
      r = await c({ method: 'HEAD', url: '/' });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], '13');
      assert.equal(r.text, '');
      r = await c({ method: 'PATCH', url: '/multi/z' });
      assert.equal(r.text, 'PATCH z');
      for (const m of ['GET', 'POST', 'DELETE']) assert.equal((await c({ method: m, url: '/everything' })).text, m);
    });

    await t.test(`${mode}: connection: close is honoured`, async () => {
      const r = await c({ url: '/close' });
      assert.equal(r.text, 'bye');
      assert.equal(r.headers.connection, 'close');
    });
  }
});

test('a second send() is ignored with one warning', async (t) => {
  const app = createApp({ threads: 1 });
  app.get('/twice', (req, reply) => {
    reply.send('first');
    reply.send('second');
    return 'third';
  });
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  assert.equal((await request(base, '/twice')).text, 'first');
  assert.equal((await app.inject('/twice')).body, 'first');
  await new Promise((r) => setImmediate(r));
  assert.equal(warnings.filter((w) => w.code === 'NEXURE_REPLY_ALREADY_SENT').length, 1);
});

test('a body over the limit is refused with 413 (socket and inject)', async (t) => {
  const app = createApp({ threads: 1, bodyLimit: 1000 });
  let calls = 0;
  app.post('/up', (req) => {
    calls++;
    return req.body.length;
  });
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  assert.equal((await request(base, '/up', { method: 'POST', body: 'a'.repeat(1000) })).text, '1000');
  const r = await request(base, '/up', { method: 'POST', body: 'a'.repeat(1001) });
  assert.equal(r.status, 413);
  const i = await app.inject({ method: 'POST', url: '/up', body: 'a'.repeat(1001) });
  assert.equal(i.statusCode, 413);
  assert.equal(i.body, r.text);
  assert.equal(calls, 1);
});

test('an absolute-form target names the host the handler sees (RFC 9112 3.2.2)', async (t) => {
  const app = createApp({ threads: 1 });
  app.get('/host', (req) => ({ host: req.headers.host, header: req.header('host') }));
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  const { port } = new URL(base);
  // node:http sends origin-form only: the request goes out by hand.
  const raw = (target) => new Promise((resolve, reject) => {
    const socket = require('node:net').connect(Number(port), '127.0.0.1');
    let got = '';
    socket.on('data', (d) => { got += d; });
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
    socket.write(`GET ${target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
  });
  const absolute = await raw('http://other.example/host');
  assert.match(absolute, /^HTTP\/1\.1 200 /);
  assert.deepEqual(JSON.parse(absolute.slice(absolute.indexOf('\r\n\r\n') + 4)),
    { host: 'other.example', header: 'other.example' });
  const origin = await raw('/host');
  assert.deepEqual(JSON.parse(origin.slice(origin.indexOf('\r\n\r\n') + 4)), { host: 'a', header: 'a' });
});

test('many requests in flight across both workers, sync and async, all answered', async (t) => {
  const app = createApp({ threads: 2 });
  app.get('/n/:i', (req) => req.params.i);
  app.get('/a/:i', async (req) => {
    await new Promise((r) => setTimeout(r, Number(req.params.i) % 7));
    return `a${req.params.i}`;
  });
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  const jobs = [];
  for (let i = 0; i < 300; i++) {
    const url = i % 2 ? `/n/${i}` : `/a/${i}`;
    jobs.push(fetch(base + url).then((r) => r.text()).then((text) => assert.equal(text, i % 2 ? `${i}` : `a${i}`)));
  }
  await Promise.all(jobs);
});

test('req.headers inherits nothing: __proto__, constructor and toString are headers like any other', async (t) => {
  const app = createApp({ threads: 1 });
  app.get('/h', (req) => {
    const h = req.headers;
    return {
      own: ['__proto__', 'constructor', 'tostring'].map((k) => Object.prototype.hasOwnProperty.call(h, k)),
      values: [h.__proto__, h.constructor, h.tostring],
      inherited: [h.hasOwnProperty, h.valueOf, h['x-absent']].map((v) => v === undefined),
      keys: Object.keys(h),
    };
  });
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  const [r] = await rawExchange(Number(new URL(base).port),
    'GET /h HTTP/1.1\r\nHost: a\r\n__proto__: p\r\nConstructor: c\r\nToString: s\r\n\r\n', 1);
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.text), {
    own: [true, true, true], values: ['p', 'c', 's'], inherited: [true, true, true],
    keys: ['host', '__proto__', 'constructor', 'tostring'],
  });
});
