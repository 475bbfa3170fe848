'use strict';
// Body parsing by Content-Type (napi/lib/body.cjs): req.json() answers 415 for a non-JSON type
// unless strictContentType is false; `body: 'parse'` routes get Fastify's req.body. Every case
// over a socket and through inject().

const test = require('node:test');
const assert = require('node:assert/strict');
const { lib, request } = require('./fixtures/helpers.cjs');

const { createApp } = lib();

async function both(app, base, { method = 'POST', url, headers = {}, body }) {
  const s = await request(base, url, { method, headers, body });
  const i = await app.inject({ method, url, headers, body });
  const out = [];
  for (const r of [{ status: s.status, text: s.text }, { status: i.statusCode, text: i.body }]) {
    out.push({ status: r.status, json: r.text === '' ? undefined : JSON.parse(r.text) });
  }
  return out;
}

test('req.json(): JSON and +json types parse, other types are 415 unless strictContentType: false', async (t) => {
  const app = createApp({ threads: 1 });
  app.post('/json', async (req) => ({ got: await req.json() }));
  app.post('/lax', { strictContentType: false }, async (req) => ({ got: await req.json() }));
  app.setErrorHandler((err, req, reply) => reply.code(err.statusCode ?? 500).send({ code: err.code, status: err.statusCode }));
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  const body = '{"a":1}';
  const cases = [
    ['/json', 'application/json', 200, { got: { a: 1 } }],
    ['/json', 'Application/JSON; charset=utf-8', 200, { got: { a: 1 } }],
    ['/json', 'application/vnd.api+json', 200, { got: { a: 1 } }],
    ['/json', 'text/plain', 415, { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', status: 415 }],
    ['/json', 'application/x-www-form-urlencoded', 415, { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', status: 415 }],
    ['/json', undefined, 415, { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', status: 415 }],
    ['/lax', 'text/plain', 200, { got: { a: 1 } }],
    ['/lax', undefined, 200, { got: { a: 1 } }],
  ];
  for (const [url, type, status, json] of cases) {
    const headers = type === undefined ? {} : { 'content-type': type };
    for (const r of await both(app, base, { url, headers, body })) {
      assert.equal(r.status, status, `${url} ${type}`);
      assert.deepEqual(r.json, json, `${url} ${type}`);
    }
  }
  for (const r of await both(app, base, { url: '/json', headers: { 'content-type': 'application/json' }, body: '{' })) {
    assert.deepEqual(r, { status: 400, json: { code: 'FST_ERR_CTP_INVALID_JSON_BODY', status: 400 } });
  }

  const appLax = createApp({ strictContentType: false });
  appLax.post('/', async (req) => req.json());
  assert.deepEqual((await appLax.inject({ method: 'POST', url: '/', headers: { 'content-type': 'text/plain' }, body: '[1]' })).json(), [1]);
  await appLax.close();
});

test("body: 'parse': JSON parsed, text a string, no body undefined, other types 415, empty JSON 400", async (t) => {
  const app = createApp({ threads: 1 });
  const seen = (req) => ({ body: req.body === undefined ? '(undefined)' : req.body, type: typeof req.body });
  app.post('/p', { body: 'parse' }, seen);
  app.delete('/p', { body: 'parse' }, seen);
  app.get('/p', { body: 'parse' }, seen);
  app.post('/lax', { body: 'parse', strictContentType: false }, (req) => ({ isBuffer: Buffer.isBuffer(req.body), length: req.body.length }));
  app.post('/raw', (req) => ({ isBuffer: Buffer.isBuffer(req.body) }));
  app.post('/hooked', {
    body: 'parse',
    preHandler: (req, reply) => { reply.header('x-seen', typeof req.body); },
  }, (req) => req.body);
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());

  const expect = async (opts, status, json) => {
    for (const r of await both(app, base, opts)) {
      assert.equal(r.status, status, JSON.stringify(opts));
      if (json !== undefined) assert.deepEqual(r.json, json, JSON.stringify(opts));
    }
  };
  await expect({ url: '/p', headers: { 'content-type': 'application/json' }, body: '{"x":[1,2]}' }, 200, { body: { x: [1, 2] }, type: 'object' });
  await expect({ url: '/p', headers: { 'content-type': 'application/problem+json' }, body: '"s"' }, 200, { body: 's', type: 'string' });
  await expect({ url: '/p', headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'héllo' }, 200, { body: 'héllo', type: 'string' });
  await expect({ url: '/p', body: undefined }, 200, { body: '(undefined)', type: 'undefined' });
  await expect({ method: 'GET', url: '/p', headers: { 'content-type': 'application/json' } }, 200, { body: '(undefined)', type: 'undefined' });
  await expect({ url: '/p', headers: { 'content-type': 'application/octet-stream' }, body: 'xx' }, 415);
  await expect({ url: '/p', body: 'no type' }, 415);
  await expect({ url: '/p', headers: { 'content-type': 'application/json', 'content-length': '0' }, body: '' }, 400);
  await expect({ url: '/p', headers: { 'content-type': 'application/json' }, body: '{bad' }, 400);
  await expect({ url: '/lax', headers: { 'content-type': 'image/png' }, body: 'abc' }, 200, { isBuffer: true, length: 3 });
  await expect({ url: '/raw', headers: { 'content-type': 'application/json' }, body: '{}' }, 200, { isBuffer: true });
  const h = await app.inject({ method: 'POST', url: '/hooked', headers: { 'content-type': 'application/json' }, body: '{"k":"v"}' });
  assert.equal(h.headers['x-seen'], 'object', 'req.body is parsed before the preHandler hooks');
  assert.deepEqual(h.json(), { k: 'v' });
  const bad = await app.inject({ method: 'POST', url: '/p', body: 'x' });
  assert.equal(bad.json().code, 'FST_ERR_CTP_INVALID_MEDIA_TYPE');
});

test("body: 'parse' as the app's default; unknown modes are refused", async () => {
  const app = createApp({ body: 'parse' });
  app.post('/', (req) => ({ body: req.body }));
  app.post('/buffer', { body: 'buffer' }, (req) => ({ isBuffer: Buffer.isBuffer(req.body) }));
  assert.deepEqual((await app.inject({ method: 'POST', url: '/', body: { a: 1 } })).json(), { body: { a: 1 } });
  assert.deepEqual((await app.inject({ method: 'POST', url: '/buffer', body: { a: 1 } })).json(), { isBuffer: true });
  await app.close();
  assert.throws(() => createApp({ body: 'yaml' }), /body must be one of 'buffer', 'parse'/);
  assert.throws(() => createApp().post('/', { body: 'json' }, () => 1), /body must be one of/);
});
