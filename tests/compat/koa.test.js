'use strict';
// A Koa 3 app (@koa/router with parameters, koa-body for JSON, forms and multipart uploads,
// cookies, an error-handling middleware, a streamed body, redirects) served unchanged by Node's
// http and by nexurejs/http: every request must come back the same from both.

const test = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { Readable } = require('node:stream');
const { startBoth, each, compareCases, multipart } = require('./harness.cjs');

const Koa = require('koa');
const Router = require('@koa/router');
const { koaBody } = require('koa-body');

function makeApp(http) {
  const app = new Koa({ keys: ['koa-secret'] });
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      ctx.status = err.status || 500;
      ctx.body = { error: err.message };
    }
  });
  app.use(koaBody({ multipart: true, jsonLimit: '64kb', formidable: { maxFileSize: 1024 * 1024 } }));
  const router = new Router({ prefix: '/api' });
  router.get('/users/:id', (ctx) => {
    ctx.body = { id: ctx.params.id, query: ctx.query, ip: ctx.ip, method: ctx.method, secure: ctx.secure };
  });
  router.post('/users', (ctx) => {
    ctx.status = 201;
    ctx.body = { created: ctx.request.body };
  });
  router.post('/upload', (ctx) => {
    const file = ctx.request.files.file;
    const bytes = fs.readFileSync(file.filepath);
    ctx.body = { name: file.originalFilename, size: file.size, sha256: crypto.createHash('sha256').update(bytes).digest('hex'), title: ctx.request.body.title };
  });
  router.get('/cookies', (ctx) => {
    ctx.cookies.set('visit', 'yes', { signed: true });
    ctx.body = { a: ctx.cookies.get('a') ?? null };
  });
  router.get('/stream', (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = Readable.from(['one,', 'two,', 'three']);
  });
  router.get('/redirect', (ctx) => ctx.redirect('/api/users/1'));
  router.get('/boom', () => {
    const err = new Error('forbidden here');
    err.status = 403;
    throw err;
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  return http.createServer(app.callback());
}

const upload = crypto.randomBytes(200 * 1024);
const boundary = 'koa-boundary';

const CASES = [
  ['a route with parameters and a query', { path: '/api/users/9?x=1&y=2' }],
  ['a JSON body', { method: 'POST', path: '/api/users', headers: { 'content-type': 'application/json' }, body: '{"name":"Grace"}' }],
  ['a urlencoded form', { method: 'POST', path: '/api/users', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=two' }],
  ['malformed JSON', { method: 'POST', path: '/api/users', headers: { 'content-type': 'application/json' }, body: '{nope' }],
  ['a multipart upload', { method: 'POST', path: '/api/upload', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: multipart(boundary, [{ name: 'title', value: 'koa title' }, { name: 'file', filename: 'up.bin', value: upload }]) }],
  ['cookies in and a signed cookie out', { path: '/api/cookies', headers: { cookie: 'a=42' } }],
  ['a streamed body', { path: '/api/stream' }],
  ['a redirect', { path: '/api/redirect' }],
  ['an error with a status', { path: '/api/boom' }],
  ['a method the path does not take (allowedMethods: 405)', { method: 'DELETE', path: '/api/users/1' }],
  ['OPTIONS (allowedMethods)', { method: 'OPTIONS', path: '/api/users' }],
  ['no route (Koa\'s 404)', { path: '/elsewhere' }],
  ['HEAD of a route', { method: 'HEAD', path: '/api/users/3' }],
];

test('Koa with @koa/router and koa-body answers alike on node:http and nexurejs/http', async (t) => {
  const both = await startBoth(makeApp);
  t.after(() => both.stop());
  await compareCases(t, both, CASES);
  await t.test('the upload arrived whole', async () => {
    const got = await each(both, CASES.find((c) => c[0] === 'a multipart upload')[1]);
    assert.strictEqual(JSON.parse(got['nexurejs/http'].body).sha256, crypto.createHash('sha256').update(upload).digest('hex'));
  });
});
