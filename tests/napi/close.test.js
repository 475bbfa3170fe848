'use strict';
// app.close(): graceful (in-flight requests finish, new connections are refused), idempotent,
// and fine without listen(); a process with a closed app exits by itself.

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { lib, request, until, sleep } = require('./fixtures/helpers.cjs');

const { createApp } = lib();

function connectRefused(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', (err) => resolve(err.code === 'ECONNREFUSED'));
  });
}

test('close() lets an in-flight request finish, then refuses new connections', async () => {
  const app = createApp({ threads: 2 });
  let started = 0;
  let finished = 0;
  app.get('/slow', async () => {
    started++;
    await sleep(300);
    finished++;
    return 'slow done';
  });
  const base = await app.listen({ port: 0 });
  const port = Number(new URL(base).port);
  const inflight = request(base, '/slow');
  await until(() => started === 1, 'the slow handler to start');
  let closed = false;
  const closing = app.close().then(() => { closed = true; });
  await sleep(50);
  assert.equal(closed, false, 'close() waits for the in-flight request');
  const r = await inflight;
  assert.equal(r.status, 200);
  assert.equal(r.text, 'slow done');
  await closing;
  assert.equal(finished, 1);
  assert.equal(await connectRefused(port), true);
  assert.equal(app.address(), null);
  assert.equal(app.server, null);
  // idempotent, and listen() afterwards is an error
  await app.close();
  await assert.rejects(app.listen({ port: 0 }), /closed/);
});

test('close() without listen() resolves, before and after inject()', async () => {
  const a = createApp();
  await a.close();
  const b = createApp({ threads: 1 });
  b.get('/', () => 'b');
  assert.equal((await b.inject('/')).body, 'b');
  await b.close();
  await assert.rejects(b.inject('/'), /closed/);
});

test('a script that listens, serves and closes exits on its own', () => {
  const script = `
    const { createApp } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'napi', 'lib', 'index.cjs'))});
    (async () => {
      const app = createApp({ threads: 1 });
      app.get('/', () => 'x');
      const url = await app.listen({ port: 0 });
      const text = await (await fetch(url)).text();
      await app.close();
      console.log(text);
    })();
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 15000 });
  assert.equal(r.signal, null, `killed: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'x');
});
