'use strict';
// createApp({ jsThreads }): handlers on several JavaScript threads fed by one engine
// (napi/lib/js-threads.cjs, napi/src/hub.h). The app runs as a child process, as a user runs it:
// each thread loads its module (tests/napi/fixtures/js-threads-app.cjs).

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const { lib, request, rawExchange, sleep, startNode } = require('./fixtures/helpers.cjs');

const APP = path.join(__dirname, 'fixtures', 'js-threads-app.cjs');

async function start(t, env = {}) {
  const s = await startNode(t, APP, env);
  if (s.url !== null) {
    s.port = Number(new URL(s.url).port);
    s.main = Number(s.output().match(/ main (\d+)/)[1]);
  }
  return s;
}

const json = async (p) => { const r = await p; assert.equal(r.status, 200, r.text); return JSON.parse(r.text); };

test('requests are served by both JavaScript threads, never by the thread that listens', async (t) => {
  const s = await start(t);
  const seen = new Set();
  for (let round = 0; round < 5 && seen.size < 2; round++) {
    const answers = await Promise.all(Array.from({ length: 16 }, () => json(request(s.url, '/block?ms=5'))));
    for (const a of answers) seen.add(a.thread);
  }
  assert.equal(seen.size, 2, `threads seen: ${[...seen]}`);
  assert.ok(!seen.has(s.main));
  s.child.kill('SIGTERM');
  assert.deepEqual(await s.exited, { code: 0, signal: null });
});

test('work stealing: requests waiting for a blocked thread are taken by the free one', async (t) => {
  const s = await start(t);
  // Thread A blocks for 1.5 s; thread B for 300 ms. The fast requests sent meanwhile are shared
  // out between the two (both have one request in hand); B takes its own when it is free, then
  // steals those waiting for A.
  const t0 = Date.now();
  const long = json(request(s.url, '/block?ms=1500&n=long')).then((a) => ({ ...a, at: Date.now() - t0 }));
  await sleep(150);
  const short = json(request(s.url, '/block?ms=300&n=short'));
  await sleep(100);
  const sent = Date.now();
  const fast = await Promise.all(Array.from({ length: 6 }, (_, i) =>
    json(request(s.url, `/who?n=${i}`)).then((a) => ({ ...a, ms: Date.now() - sent }))));
  const shortAnswer = await short;
  const longAnswer = await long;
  assert.notEqual(longAnswer.thread, shortAnswer.thread, 'the two blocking requests ran on different threads');
  for (const a of fast) {
    assert.equal(a.thread, shortAnswer.thread, `request ${a.n} was answered by the free thread`);
    assert.ok(a.ms < 1000, `request ${a.n} took ${a.ms} ms: it waited for the blocked thread`);
  }
  assert.ok(longAnswer.at >= 1500);
});

test('answers from different threads keep each connection\'s order (pipelined)', async (t) => {
  const s = await start(t);
  const targets = ['/block?ms=200&n=0', '/who?n=1', '/later?n=2', '/block?ms=50&n=3', '/who?n=4', '/who?n=5',
    '/later?n=6', '/block?ms=20&n=7'];
  const raw = targets.map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join('');
  const responses = await rawExchange(s.port, raw, targets.length, 10000);
  const answers = responses.map((r) => { assert.equal(r.status, 200); return JSON.parse(r.text); });
  assert.deepEqual(answers.map((a) => a.n), targets.map((_, i) => String(i)));
  assert.ok(new Set(answers.map((a) => a.thread)).size === 2, 'both threads answered some of them');
});

test('request bodies, streamed uploads, stashed answers and streamed answers cross the hub intact', async (t) => {
  const s = await start(t);
  const body = crypto.randomBytes(300 * 1024);
  const echoes = await Promise.all(Array.from({ length: 4 }, () =>
    request(s.url, '/echo', { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } })));
  for (const r of echoes) {
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(body), `echo of ${body.length} bytes came back as ${r.body.length}`);
  }
  const upload = crypto.randomBytes(8 * 1024 * 1024);
  const digest = crypto.createHash('sha256').update(upload).digest('hex');
  const uploads = await Promise.all(Array.from({ length: 3 }, () =>
    json(request(s.url, '/upload', { method: 'POST', body: upload, headers: { 'content-type': 'application/octet-stream' } }))));
  for (const u of uploads) assert.deepEqual([u.bytes, u.sha256], [upload.length, digest]);
  const streams = await Promise.all(Array.from({ length: 4 }, () => request(s.url, '/stream')));
  for (const r of streams) {
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 16 * 64 * 1024);
  }
});

test('a thread that fails: its request in hand is answered 500, the others go on, it is replaced', async (t) => {
  const s = await start(t);
  await sleep(1100);  // past the crash-loop window: a failing thread is replaced
  const before = new Set();
  while (before.size < 2) {
    for (const a of await Promise.all(Array.from({ length: 8 }, () => json(request(s.url, '/block?ms=3'))))) before.add(a.thread);
  }
  const crashed = await request(s.url, '/crash');
  assert.equal(crashed.status, 500);
  assert.equal(crashed.headers.connection, 'close');
  for (let i = 0; i < 10; i++) assert.equal((await request(s.url, '/who')).status, 200);
  // The replacement is a new thread.
  const after = new Set();
  for (let round = 0; round < 50 && after.size < 2; round++) {
    for (const a of await Promise.all(Array.from({ length: 8 }, () => json(request(s.url, '/block?ms=3'))))) after.add(a.thread);
  }
  assert.equal(after.size, 2, `threads answering after the failure: ${[...after]}`);
  assert.match(s.errors(), /JavaScript thread \d failed/);
  assert.match(s.errors(), /the thread fails on purpose/);
  s.child.kill('SIGTERM');
  assert.deepEqual(await s.exited, { code: 0, signal: null });
});

test('a thread whose app registers other routes fails listen() with the reason', async (t) => {
  const s = await start(t, { MISMATCH: '1' });
  assert.equal(s.url, null);
  assert.deepEqual(await s.exited, { code: 1, signal: null });
  assert.match(s.errors(), /listen failed: JavaScript thread \d: createApp\(\{ jsThreads \}\): JavaScript thread \d registered other routes/);
});

test('jsThreads: option checks, no WebSocket routes, inject() in the thread that builds the app', async () => {
  const { createApp } = lib();
  assert.throws(() => createApp({ jsThreads: 0 }), /jsThreads must be an integer >= 1/);
  assert.throws(() => createApp({ jsThreads: 1.5 }), /jsThreads must be an integer >= 1/);
  assert.throws(() => createApp({ jsThreads: 300 }), /jsThreads must be at most 256/);
  const withWs = createApp({ jsThreads: 2 });
  withWs.ws('/chat', { message() {} });
  await assert.rejects(withWs.listen(0), /WebSocket routes \(app\.ws\) are served by one JavaScript thread only/);
  await withWs.close();
  const app = createApp({ jsThreads: 2 });
  app.get('/a', () => ({ ok: true }));
  const r = await app.inject({ method: 'GET', url: '/a' });
  assert.equal(r.statusCode, 200);
  assert.deepEqual(r.json(), { ok: true });
  await app.close();
});

test('close() is graceful: a request a thread is still computing is answered, then everything exits', async (t) => {
  const s = await start(t);
  const inFlight = request(s.url, '/block?ms=600&n=last');
  await sleep(150);
  s.child.kill('SIGTERM');
  const r = await inFlight;
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.text).n, 'last');
  assert.deepEqual(await s.exited, { code: 0, signal: null });
});
