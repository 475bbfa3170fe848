'use strict';
// An Express 5 app (express.json, cors, helmet, cookie-parser, express.static, multer, a router
// with parameters, error middleware) served unchanged by Node's http and by nexurejs/http: every
// request below must come back the same from both (status, headers but Date, body).

const test = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const { startBoth, each, compareCases, raw, staticDir, multipart } = require('./harness.cjs');

const express = require('express');
const cors = require('cors');
const helmet = require('helmet');
const cookieParser = require('cookie-parser');
const multer = require('multer');

const publicDir = staticDir(test);

function sha256(b) {
  return crypto.createHash('sha256').update(b).digest('hex');
}

function makeApp(http) {
  const app = express();
  app.use(helmet());
  app.use(cors({ origin: 'https://example.com', credentials: true }));
  app.use(cookieParser('cookie-secret'));
  app.use(express.json({ limit: '64kb' }));
  app.use('/static', express.static(publicDir));
  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: 1024 * 1024 } });

  const router = express.Router();
  router.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id, query: req.query, ip: req.ip, protocol: req.protocol, host: req.hostname });
  });
  router.post('/users', (req, res) => res.status(201).json({ created: req.body }));
  app.use('/api', router);

  app.get('/cookies', (req, res) => {
    res.cookie('plain', 'v1');
    res.cookie('signed', 'v2', { signed: true, httpOnly: true });
    res.json({ cookies: req.cookies, signed: req.signedCookies });
  });
  app.post('/upload', upload.single('file'), (req, res) => {
    res.json({ name: req.file.originalname, size: req.file.size, sha256: sha256(req.file.buffer), title: req.body.title });
  });
  app.get('/stream', (req, res) => {
    res.type('text/plain');
    res.write('first,');
    setTimeout(() => res.end('second'), 5);
  });
  app.get('/redirect', (req, res) => res.redirect('/api/users/1'));
  app.get('/boom', () => {
    throw new Error('boom');
  });
  app.get('/async-boom', async () => {
    const err = new Error('teapot');
    err.status = 418;
    throw err;
  });
  app.use((err, req, res, next) => {
    res.status(err.status || 500).json({ error: err.message, type: err.type });
  });
  return http.createServer(app);
}

const upload = crypto.randomBytes(300 * 1024);
const boundary = 'nexure-compat-boundary';

const CASES = [
  ['a route with parameters and a query', { path: '/api/users/42?sort=name&tags=a&tags=b' }],
  ['a JSON body', { method: 'POST', path: '/api/users', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Ada', roles: ['admin'] }) }],
  ['malformed JSON (body-parser error to the error middleware)', { method: 'POST', path: '/api/users', headers: { 'content-type': 'application/json' }, body: '{"name": ' }],
  ['a JSON body over express.json\'s limit (413)', { method: 'POST', path: '/api/users', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(100 * 1024) }) }],
  ['a static file', { path: '/static/hello.txt' }],
  ['a static file, conditional (304)', { path: '/static/hello.txt', headers: { 'if-none-match': 'W/"1a-19b7ca98c88"' } }],
  ['a static file, HEAD', { method: 'HEAD', path: '/static/hello.txt' }],
  ['a static file, a range (206)', { path: '/static/big.bin', headers: { range: 'bytes=100-199' } }],
  ['a large static file', { path: '/static/big.bin' }],
  ['a static file that does not exist (404 from Express)', { path: '/static/missing.txt' }],
  ['a CORS preflight', { method: 'OPTIONS', path: '/api/users', headers: { origin: 'https://example.com', 'access-control-request-method': 'POST' } }],
  ['a CORS request', { path: '/api/users/7', headers: { origin: 'https://example.com' } }],
  ['cookies in, plain and signed cookies out', { path: '/cookies', headers: { cookie: 'a=1; b=two; signed=s%3Av2.xyz' } }],
  ['a multer upload', { method: 'POST', path: '/upload', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: multipart(boundary, [{ name: 'title', value: 'a title' }, { name: 'file', filename: 'data.bin', value: upload }]) }],
  ['a streamed (chunked) answer', { path: '/stream' }],
  ['a redirect', { path: '/redirect' }],
  ['a thrown error to the error middleware', { path: '/boom' }],
  ['a rejected async handler to the error middleware (Express 5)', { path: '/async-boom' }],
  ['no route (Express\'s 404)', { path: '/nowhere' }],
  ['HEAD of a route', { method: 'HEAD', path: '/api/users/1' }],
];

test('Express 5 with its middleware answers alike on node:http and nexurejs/http', async (t) => {
  const both = await startBoth(makeApp);
  t.after(() => both.stop());
  await compareCases(t, both, CASES);
  await t.test('the upload arrived whole', async () => {
    const got = await each(both, CASES.find((c) => c[0] === 'a multer upload')[1]);
    const body = JSON.parse(got['nexurejs/http'].body);
    assert.deepStrictEqual(body, { name: 'data.bin', size: upload.length, sha256: sha256(upload), title: 'a title' });
  });
});

test('pipelined requests on one connection come back in order, as on node:http', async (t) => {
  const both = await startBoth(makeApp);
  t.after(() => both.stop());
  const bytes = 'GET /api/users/1 HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /static/hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
  const out = {};
  for (const s of both.servers) out[s.name] = (await raw(s.port, bytes, 2000)).replace(/\r\nDate: [^\r]*/g, '');
  assert.strictEqual(out['nexurejs/http'], out['node:http']);
  assert.strictEqual(out['node:http'].split('HTTP/1.1 200 OK').length - 1, 3);
});
