'use strict';
// The hub of createApp({ jsThreads }) (napi/src/hub.h) under load from every side at once:
// three JavaScript threads taking, stealing and answering while the server's thread pumps,
// concurrent and pipelined requests, bodies, streamed answers, and a thread that dies mid-load.
// Run by scripts/test.sh under ThreadSanitizer (halt_on_error: a race ends the server with a
// report on stderr, and this test fails on its exit status). The app is
// tests/napi/fixtures/js-threads-app.cjs, run as a child process with this process's environment
// (NEXURE_ADDON, LD_PRELOAD, TSAN_OPTIONS).
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { request, rawExchange, startNode } = require('../fixtures/helpers.cjs');

const APP = path.join(__dirname, '..', 'fixtures', 'js-threads-app.cjs');

test('three JavaScript threads under mixed load, one of them dying: every request answered, no race', async (t) => {
  const s = await startNode(t, APP, { JS_THREADS: '3' }, 60000);
  const url = s.url;
  assert.ok(url, `the app did not start: ${s.errors()}`);
  const port = Number(new URL(url).port);

  const body = Buffer.alloc(100 * 1024, 'b');
  const targets = ['/who', '/later', '/block?ms=2'];
  // `tolerant`: while a thread dies, the requests it holds are answered 500 and closed, and a
  // streamed answer it had begun is cut (the client sees the connection end mid-body).
  const get = (tolerant, ...a) => request(...a).catch((e) => {
    if (tolerant && e.code === 'ECONNRESET') return { status: 500, headers: { connection: 'close' }, cut: true };
    throw e;
  });
  const check = (r, tolerant) => {
    if (tolerant && r.status === 500) {
      assert.equal(r.headers.connection, 'close');
      return false;
    }
    assert.equal(r.status, 200, `${r.status} ${r.text.slice(0, 200)}\n${s.errors()}`);
    return true;
  };
  const loops = (tolerant) => Array.from({ length: 6 }, async (_, k) => {
    let failed = 0;
    for (let i = 0; i < 25; i++) {
      if (i % 5 === 4) {
        const r = await get(tolerant, url, '/echo', { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
        if (check(r, tolerant)) assert.ok(r.body.equals(body));
        else failed++;
      } else if (i % 7 === 6) {
        const r = await get(tolerant, url, '/stream');
        if (check(r, tolerant)) assert.equal(r.body.length, 16 * 64 * 1024);
        else failed++;
      } else {
        const target = targets[(i + k) % 3];
        if (!check(await get(tolerant, url, `${target}${target.includes('?') ? '&' : '?'}n=${i}`), tolerant)) failed++;
      }
    }
    return failed;
  });
  const pipelined = Array.from({ length: 3 }, async () => {
    const list = Array.from({ length: 20 }, (_, i) => `/${['who', 'later', 'block'][i % 3]}?ms=1&n=${i}`);
    const raw = list.map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join('');
    const responses = await rawExchange(port, raw, list.length, 60000);
    assert.deepEqual(responses.map((r) => JSON.parse(r.text).n), list.map((_, i) => String(i)));
  });
  // Everything answered while every thread lives; then the same load while one dies.
  await Promise.all([...loops(false), ...pipelined]);
  const crash = request(url, '/crash');
  const failed = (await Promise.all(loops(true))).reduce((a, b) => a + b, 0);
  assert.equal((await crash).status, 500);
  // Only what the dying thread held (it takes one request at a time): a few at most.
  assert.ok(failed <= 6, `${failed} requests failed while one thread died`);
  s.child.kill('SIGTERM');
  const { code, signal } = await s.exited;
  assert.doesNotMatch(s.errors(), /ThreadSanitizer|AddressSanitizer|LeakSanitizer/, s.errors());
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, s.errors());
});
