'use strict';
// examples/hello.js and examples/api.js run as a user would run them (PORT=0), answer what their
// comments promise, and exit cleanly on SIGTERM.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { request } = require('./fixtures/helpers.cjs');

const EXAMPLES = path.join(__dirname, '..', '..', 'examples');

async function start(t, file) {
  const child = spawn(process.execPath, [path.join(EXAMPLES, file)], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  t.after(() => child.kill('SIGKILL'));
  const deadline = Date.now() + 10000;
  while (!/listening on (http:\/\/\S+)/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${file} did not start: ${out}${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const url = out.match(/listening on (http:\/\/\S+)/)[1];
  return { url, exited, output: () => out, errors: () => err, child };
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
