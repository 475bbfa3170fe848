'use strict';
// examples/hello.js, examples/api.js and examples/files.js run as a user would run them (PORT=0),
// answer what their comments promise, and exit cleanly on SIGTERM.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { request, startNode } = require('./fixtures/helpers.cjs');

const EXAMPLES = path.join(__dirname, '..', '..', 'examples');

async function start(t, file, env = {}) {
  const s = await startNode(t, path.join(EXAMPLES, file), { PORT: '0', HOST: '127.0.0.1', ...env }, 10000);
  if (s.url === null) throw new Error(`${file} did not start: ${s.output()}${s.errors()}`);
  return s;
}

test('examples/hello.js answers Hello, World! and exits on SIGTERM', async (t) => {
  const s = await start(t, 'hello.js');
  assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const r = await request(s.url, '/');
  assert.equal(r.status, 200);
  assert.equal(r.text, 'Hello, World!');
  s.child.kill('SIGTERM');
  assert.deepEqual(await s.exited, { code: 0, signal: null });
});

test('examples/api.js: params, JSON bodies, hooks, errors, not-found and the fixed health route', async (t) => {
  const s = await start(t, 'api.js');
  const json = { 'content-type': 'application/json' };
  let r = await request(s.url, '/health');
  assert.deepEqual(JSON.parse(r.text), { status: 'ok' });
  r = await request(s.url, '/api/users/1');
  assert.deepEqual(JSON.parse(r.text), { id: 1, name: 'Grace' });
  assert.equal(r.headers['x-powered-by'], 'nexurejs');
  r = await request(s.url, '/api/users', { method: 'POST', headers: json, body: '{"name":"Ada"}' });
  assert.equal(r.status, 201);
  assert.equal(r.headers.location, '/api/users/2');
  assert.deepEqual(JSON.parse(r.text), { id: 2, name: 'Ada' });
  r = await request(s.url, '/api/users?limit=5');
  assert.deepEqual(JSON.parse(r.text).map((u) => u.name), ['Grace', 'Ada']);
  r = await request(s.url, '/api/users/99');
  assert.equal(r.status, 404);
  assert.deepEqual(JSON.parse(r.text), { error: 'user 99 not found', status: 404 });
  r = await request(s.url, '/api/users', { method: 'POST', headers: json, body: 'nope' });
  assert.equal(r.status, 400);
  r = await request(s.url, '/api/users', { method: 'POST', headers: json, body: '{"name":""}' });
  assert.equal(r.status, 422);
  r = await request(s.url, '/api/users/2', { method: 'DELETE' });
  assert.equal(r.status, 204);
  r = await request(s.url, '/nowhere');
  assert.equal(r.status, 404);
  assert.deepEqual(JSON.parse(r.text), { error: 'no route for GET /nowhere' });
  s.child.kill('SIGTERM');
  assert.deepEqual(await s.exited, { code: 0, signal: null });
  assert.match(s.output(), /GET \/api\/users\/1 200 \d+µs/);
  assert.doesNotMatch(s.output(), /GET \/health/, 'the fixed route never reached JavaScript');
});

test('examples/files.js: files, static, SSE, streamed upload and numbers, whoami, compression', async (t) => {
  const s = await start(t, 'files.js');
  const publicDir = path.join(EXAMPLES, 'public');
  const guide = fs.readFileSync(path.join(publicDir, 'guide.txt'));
  const index = fs.readFileSync(path.join(publicDir, 'index.html'));

  // A file sent by the engine: type, validators, Range, 304, compression above 1 KiB.
  let r = await request(s.url, '/download/guide.txt');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/plain/);
  assert.deepEqual(r.body, guide);
  assert.ok(r.headers.etag && r.headers['last-modified']);
  r = await request(s.url, '/download/guide.txt', { headers: { 'if-none-match': r.headers.etag } });
  assert.equal(r.status, 304);
  r = await request(s.url, '/download/guide.txt', { headers: { range: 'bytes=0-9' } });
  assert.equal(r.status, 206);
  assert.equal(r.headers['content-range'], `bytes 0-9/${guide.length}`);
  assert.deepEqual(r.body, guide.subarray(0, 10));
  r = await request(s.url, '/download/guide.txt', { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-encoding'], 'gzip');
  assert.deepEqual(zlib.gunzipSync(r.body), guide);
  r = await request(s.url, '/download/..%2Fhello.js');
  assert.equal(r.status, 404);
  r = await request(s.url, '/download/missing.txt');
  assert.equal(r.status, 404);

  // app.static with its index file.
  r = await request(s.url, '/public/');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/html/);
  assert.deepEqual(r.body, index);
  r = await request(s.url, '/public/guide.txt', { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(Number(r.headers['content-length']), guide.length);
  assert.equal(r.body.length, 0);

  // Server-Sent Events: 5 events about 100 ms apart.
  const began = Date.now();
  r = await request(s.url, '/events');
  const took = Date.now() - began;
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/event-stream/);
  const events = r.text.split('\n\n').filter((e) => e.includes('event: tick'));
  assert.equal(events.length, 5);
  events.forEach((e, i) => {
    const lines = e.split('\n').filter((l) => !l.startsWith(':'));
    assert.ok(lines.includes(`id: ${i + 1}`), e);
    assert.equal(JSON.parse(lines.find((l) => l.startsWith('data: ')).slice(6)).n, i + 1);
  });
  assert.ok(took >= 350, `5 events 100 ms apart arrived within ${took} ms`);

  // A streamed upload of 8 MiB in chunks.
  const upload = crypto.randomBytes(8 << 20);
  r = await request(s.url, '/upload', { method: 'POST', body: upload });
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.text), {
    bytes: upload.length, sha256: crypto.createHash('sha256').update(upload).digest('hex'),
  });

  // Lines from an async generator, compressed when large and asked for.
  r = await request(s.url, '/numbers/5');
  assert.equal(r.status, 200);
  assert.equal(r.text, '1\n2\n3\n4\n5\n');
  r = await request(s.url, '/numbers/20000', { headers: { 'accept-encoding': 'br' } });
  const expected = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join('');
  assert.equal(r.headers['content-encoding'], 'br');
  assert.equal(r.headers.vary, 'Accept-Encoding');
  assert.equal(zlib.brotliDecompressSync(r.body).toString(), expected);
  r = await request(s.url, '/numbers/nope');
  assert.equal(r.status, 400);

  // The client's own address.
  r = await request(s.url, '/whoami');
  const who = JSON.parse(r.text);
  assert.equal(who.ip, '127.0.0.1');
  assert.ok(Number.isInteger(who.port) && who.port > 0);

  s.child.kill('SIGTERM');
  assert.deepEqual(await s.exited, { code: 0, signal: null });
});

test('examples/websocket.js: /echo echoes text and binary, /chat reaches every client, the sender included', async (t) => {
  const WebSocket = require('ws');
  const s = await start(t, 'websocket.js');
  const base = s.url.replace(/^http/, 'ws');
  const client = (p) => new Promise((resolve, reject) => {
    const ws = new WebSocket(base + p);
    const got = [];
    ws.on('message', (data, isBinary) => got.push(isBinary ? ['binary', [...data]] : ['text', data.toString()]));
    ws.once('open', () => resolve({ ws, got }));
    ws.once('error', reject);
  });
  const echo = await client('/echo');
  echo.ws.send('hi');
  echo.ws.send(Buffer.from([1, 2, 3]));
  const a = await client('/chat');
  const b = await client('/chat');
  await new Promise((r) => setTimeout(r, 50));
  a.ws.send('hello room');
  const deadline = Date.now() + 5000;
  while (echo.got.length < 2 || a.got.length < 1 || b.got.length < 1) {
    assert.ok(Date.now() < deadline, `timed out: ${JSON.stringify([echo.got, a.got, b.got])}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.deepEqual(echo.got, [['text', 'hi'], ['binary', [1, 2, 3]]]);
  assert.deepEqual(a.got, [['text', 'hello room']]);
  assert.deepEqual(b.got, [['text', 'hello room']]);
  const closed = new Promise((resolve) => b.ws.on('close', (code) => resolve(code)));
  s.child.kill('SIGTERM');
  assert.equal(await closed, 1001);
  assert.deepEqual(await s.exited, { code: 0, signal: null });
});

test('examples/cpu-bound.js: GET /work computes on JS_THREADS=2 threads, the same answer on each', async (t) => {
  const s = await start(t, 'cpu-bound.js', { JS_THREADS: '2' });
  assert.match(s.output(), /with 2 JavaScript thread\(s\)/);
  const threads = new Set();
  const results = new Set();
  for (let round = 0; round < 10 && threads.size < 2; round++) {
    const answers = await Promise.all(Array.from({ length: 8 }, () => request(s.url, '/work')));
    for (const r of answers) {
      assert.equal(r.status, 200);
      const a = JSON.parse(r.text);
      threads.add(a.thread);
      results.add(a.result);
    }
  }
  assert.equal(threads.size, 2, 'both JavaScript threads answered');
  assert.equal(results.size, 1, 'the work is the same on every thread');
  s.child.kill('SIGTERM');
  assert.deepEqual(await s.exited, { code: 0, signal: null });
});
