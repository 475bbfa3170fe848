'use strict';
// Teardown (napi/README.md, "Teardown"): stop/stopped/destroy, worker_threads ending every way,
// process.exit() mid-traffic, and native memory returning after gc.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { Worker } = require('node:worker_threads');
const { rawServer, binding } = require('./support/raw-bridge.js');
const { exchange, parseResponses } = require('./support/http-client.js');

const support = path.join(__dirname, 'support');

function server(handler, extra = {}) {
  return rawServer(
    { host: '127.0.0.1', port: 0, threads: 2, pinThreads: false, routes: [{ method: 'GET', path: '/', id: 1 }], ...extra },
    handler,
  );
}

test('stop() returns at once, stopped() turns true after one more drain(), destroy() frees', async () => {
  const srv = server((req, respond) => respond({ body: 'x' }));
  assert.equal(binding.stopped(srv.handle), true, 'a server never started counts as stopped');
  const { port } = srv.start();
  assert.equal(binding.stopped(srv.handle), false);
  await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const drainsBefore = srv.drains;
  binding.stop(srv.handle);
  await srv.whenStopped();
  assert.equal(binding.stopped(srv.handle), true);
  const deadline = Date.now() + 5000;
  while (srv.drains === drainsBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.ok(srv.drains > drainsBefore, 'drain() ran when the workers finished');
  binding.destroy(srv.handle);
  binding.destroy(srv.handle); // idempotent
  assert.throws(() => binding.pull(srv.handle, 0, 1), /destroyed/);
  assert.throws(() => binding.start(srv.handle), /destroyed/);
  assert.equal(binding.stopped(srv.handle), true);
});

test('destroy() without stop(): what JS holds is answered 503 at once, not after drainTimeoutMs', async () => {
  let held = false;
  const srv = server(() => {
    held = true; // never answered: JS is about to go away
  }, { drainTimeoutMs: 20000 });
  const { port } = srv.start();
  const pending = exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  while (!held) await new Promise((r) => setTimeout(r, 5));
  const began = Date.now();
  binding.destroy(srv.handle);
  const took = Date.now() - began;
  // The worker answers at once and closes; destroy() then waits at most for the linger of that
  // close (2 s: this thread cannot read the FIN while it is blocked in destroy()).
  assert.ok(took < 8000, `destroy() took ${took} ms (drainTimeoutMs is 20000)`);
  const [res] = parseResponses(await pending);
  assert.equal(res.status, 503);
  assert.equal(res.headers.connection, 'close');
});

test('a stopped server no longer accepts connections', async () => {
  const srv = server((req, respond) => respond({ body: 'x' }));
  const { port } = srv.start();
  await srv.close();
  await assert.rejects(exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 2000 }));
});

test('stop() lets a request JS holds finish: its answer still goes out', async () => {
  let answer;
  const srv = server((req, respond) => {
    answer = respond;
  });
  const { port } = srv.start();
  const pending = exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  while (!answer) await new Promise((r) => setTimeout(r, 5));
  binding.stop(srv.handle);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(binding.stopped(srv.handle), false, 'the worker waits for the answer');
  answer({ body: 'late but delivered' });
  const [res] = parseResponses(await pending);
  assert.equal(res.body, 'late but delivered');
  await srv.whenStopped();
  binding.destroy(srv.handle);
});

test('destroy() without stop() tears down at once, bounded by drainTimeoutMs', async () => {
  const srv = server(() => {}, { drainTimeoutMs: 200 });
  const { port } = srv.start();
  const pending = exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 3000 }).catch(() => 'closed');
  while (srv.drains === 0) await new Promise((r) => setTimeout(r, 5));
  const t0 = Date.now();
  binding.destroy(srv.handle);
  assert.ok(Date.now() - t0 < 2000, `destroy took ${Date.now() - t0} ms`);
  await pending;
});

for (const ending of ['natural', 'exit', 'terminate', 'terminate-pending', 'throw']) {
  test(`worker_threads ending by '${ending}', 3 rounds, leave nothing behind`, async () => {
    for (let round = 0; round < 3; round++) {
      const w = new Worker(path.join(support, 'worker-server.js'), { workerData: { ending }, stderr: true });
      w.stderr.resume();
      const errors = [];
      w.on('error', (err) => errors.push(err));
      const exited = new Promise((resolve) => w.once('exit', resolve));
      const msg = await new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('exit', (code) => reject(new Error(`worker exited (${code}) before serving`)));
      });
      assert.equal(msg.ok, true);
      if (ending.startsWith('terminate')) await w.terminate();
      await exited;
      if (ending === 'throw') assert.match(String(errors[0]), /uncaught in the worker/);
      else assert.deepEqual(errors, []);
    }
    // Every server a worker made was finalized with its env.
    assert.equal(binding.__stats().servers, binding.__stats().envServers);
  });
}

function runChild(args, { timeout = 20000, env = process.env } = {}) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout, env });
  return { ...r, ms: Date.now() - t0 };
}

test('main-thread process.exit() mid-traffic exits 0 (answered and pending requests)', () => {
  for (const mode of ['answered', 'pending']) {
    for (let round = 0; round < 3; round++) {
      // A process that exits with engine threads still running (left to the OS on purpose) cannot
      // be leak-checked: LSan's tracer cannot stop io_uring's kernel worker threads, and TSan
      // reports the threads themselves (napi/README.md, "Sanitizers").
      const env = {
        ...process.env,
        ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || ''}:detect_leaks=0`,
        TSAN_OPTIONS: `${process.env.TSAN_OPTIONS || ''} report_thread_leaks=0`,
      };
      const r = runChild([path.join(support, 'exit-child.js'), mode], { env });
      assert.equal(r.signal, null, `${mode}: killed by ${r.signal}; stderr: ${r.stderr}`);
      assert.equal(r.status, 0, `${mode}: exit code ${r.status}; stderr: ${r.stderr}`);
      assert.ok(r.ms < 8000, `${mode}: took ${r.ms} ms`);
    }
  }
});

test('--expose-gc: 50 servers created, served and destroyed leave no native memory', () => {
  const r = runChild(['--expose-gc', path.join(support, 'gc-child.js'), '50'], { timeout: 40000 });
  assert.equal(r.status, 0, r.stderr);
  const { before, live, after } = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.ok(live.blocks >= before.blocks);
  assert.equal(after.servers, 0);
  assert.equal(after.blocks, before.blocks, JSON.stringify({ before, live, after }));
});
