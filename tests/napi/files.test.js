'use strict';
// Files (napi/README.md "Files"): reply.sendFile() and app.static() over real sockets and through
// inject() (same statuses and headers), with hooks seeing file answers, the app's not-found
// handling for missing files, traversal attempts, ranges, 304s, HEAD, index files, precompressed
// siblings, a large file, and an app without hooks whose static files the engine serves alone.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { LIB, lib, request, rawExchange } = require('./fixtures/helpers.cjs');

const { createApp } = lib();

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nexure-files-js-'));
const root = path.join(base, 'public');
fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
fs.writeFileSync(path.join(base, 'secret.txt'), 'SECRET outside the root\n');
fs.writeFileSync(path.join(root, 'a.txt'), 'hello, files\n');
fs.writeFileSync(path.join(root, 'a.txt.gz'), 'gzip bytes');
fs.writeFileSync(path.join(root, 'digits.txt'), '0123456789');
fs.writeFileSync(path.join(root, 'sub', 'index.html'), '<h1>index</h1>');
fs.writeFileSync(path.join(root, '%2e%2e'), 'a file named %2e%2e');
const big = Buffer.alloc(3 * 1024 * 1024 + 17);
for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 12)) & 0xff;
fs.writeFileSync(path.join(root, 'big.bin'), big);
fs.symlinkSync('../secret.txt', path.join(root, 'link-out'));
fs.symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'link-abs'));
fs.symlinkSync('a.txt', path.join(root, 'link-in'));
test.after(() => fs.rmSync(base, { recursive: true, force: true }));

// An app whose hooks see every answer: static files and sendFile run through JavaScript.
function hookedApp(seen) {
  const app = createApp({ threads: 1 });
  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-on-send', String(reply.statusCode));
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    seen.push(`${req.url} ${reply.statusCode}`);
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ missing: req.url }));
  app.static('/static', root, { maxAge: 3600 });
  app.get('/download/:name', (req, reply) => reply.sendFile(req.params.name, { root, maxAge: 60, immutable: true }));
  app.get('/abs', (req, reply) => reply.sendFile(path.join(root, 'digits.txt')));
  app.get('/relative-without-root', (req, reply) => reply.sendFile('a.txt'));
  return app;
}

async function call(mode, app, url, { method = 'GET', headers = {} } = {}) {
  if (mode === 'socket') {
    const r = await request(app.server.url, url, { method, headers });
    return { status: r.status, headers: r.headers, body: r.body };
  }
  const r = await app.inject({ method, url, headers });
  return { status: r.statusCode, headers: r.headers, body: r.rawPayload };
}

// One raw request (the target exactly as given: no client normalises it).
async function raw(port, target, extra = '') {
  const [r] = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`, 1);
  return r;
}

for (const mode of ['socket', 'inject']) {
  test(`files through JavaScript (${mode})`, async (t) => {
    const seen = [];
    const app = hookedApp(seen);
    await app.listen({ port: 0 });
    t.after(() => app.close());

    await t.test('a file: type, validators, caching, and the hooks saw 200', async () => {
      const r = await call(mode, app, '/static/a.txt');
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'hello, files\n');
      assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(r.headers['content-length'], '13');
      assert.equal(r.headers['cache-control'], 'public, max-age=3600');
      assert.equal(r.headers['accept-ranges'], 'bytes');
      assert.match(r.headers.etag, /^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
      assert.equal(r.headers['last-modified'], fs.statSync(path.join(root, 'a.txt')).mtime.toUTCString());
      assert.equal(r.headers['x-on-send'], '200');
    });

    await t.test('304 from If-None-Match and If-Modified-Since', async () => {
      const first = await call(mode, app, '/static/a.txt');
      let r = await call(mode, app, '/static/a.txt', { headers: { 'if-none-match': first.headers.etag } });
      assert.equal(r.status, 304);
      assert.equal(r.body.length, 0);
      assert.equal(r.headers.etag, first.headers.etag);
      assert.equal(r.headers['x-on-send'], '304');
      r = await call(mode, app, '/static/a.txt', { headers: { 'if-modified-since': first.headers['last-modified'] } });
      assert.equal(r.status, 304);
      r = await call(mode, app, '/static/a.txt', {
        headers: { 'if-none-match': '"other"', 'if-modified-since': first.headers['last-modified'] },
      });
      assert.equal(r.status, 200, 'If-None-Match wins over If-Modified-Since');
    });

    await t.test('ranges: one range, suffix, open, past the end, several', async () => {
      let r = await call(mode, app, '/static/digits.txt', { headers: { range: 'bytes=2-4' } });
      assert.equal(r.status, 206);
      assert.equal(r.body.toString(), '234');
      assert.equal(r.headers['content-range'], 'bytes 2-4/10');
      assert.equal(r.headers['x-on-send'], '206');
      r = await call(mode, app, '/static/digits.txt', { headers: { range: 'bytes=-3' } });
      assert.equal(r.body.toString(), '789');
      r = await call(mode, app, '/static/digits.txt', { headers: { range: 'bytes=7-' } });
      assert.equal(r.body.toString(), '789');
      r = await call(mode, app, '/static/digits.txt', { headers: { range: 'bytes=10-' } });
      assert.equal(r.status, 416);
      assert.equal(r.headers['content-range'], 'bytes */10');
      r = await call(mode, app, '/static/digits.txt', { headers: { range: 'bytes=0-1,3-4' } });
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), '0123456789');
      const etag = (await call(mode, app, '/static/digits.txt')).headers.etag;
      r = await call(mode, app, '/static/digits.txt', { headers: { range: 'bytes=0-0', 'if-range': etag } });
      assert.equal(r.status, 206);
      r = await call(mode, app, '/static/digits.txt', { headers: { range: 'bytes=0-0', 'if-range': '"old"' } });
      assert.equal(r.status, 200);
    });

    await t.test('HEAD: the GET fields, no body', async () => {
      const g = await call(mode, app, '/static/big.bin');
      const h = await call(mode, app, '/static/big.bin', { method: 'HEAD' });
      assert.equal(h.status, 200);
      assert.equal(h.headers['content-length'], String(big.length));
      assert.equal(h.headers.etag, g.headers.etag);
      assert.equal(h.body.length, 0);
    });

    await t.test('a large file arrives whole', async () => {
      const r = await call(mode, app, '/static/big.bin');
      assert.equal(r.status, 200);
      assert.equal(r.body.length, big.length);
      assert.ok(r.body.equals(big));
    });

    await t.test('index files and the directory redirect', async () => {
      let r = await call(mode, app, '/static/sub/');
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), '<h1>index</h1>');
      assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
      r = await call(mode, app, '/static/sub');
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, '/static/sub/');
      r = await call(mode, app, '/static/');
      assert.equal(r.status, 404, 'no index.html at the root: never a listing');
    });

    await t.test('precompressed sibling by Accept-Encoding', async () => {
      let r = await call(mode, app, '/static/a.txt', { headers: { 'accept-encoding': 'gzip' } });
      assert.equal(r.body.toString(), 'gzip bytes');
      assert.equal(r.headers['content-encoding'], 'gzip');
      assert.equal(r.headers.vary, 'Accept-Encoding');
      assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
      r = await call(mode, app, '/static/a.txt', { headers: { 'accept-encoding': 'br' } });
      assert.equal(r.body.toString(), 'hello, files\n');
      assert.equal(r.headers['content-encoding'], undefined);
    });

    await t.test('sendFile: options, absolute path, missing file to the not-found handler', async () => {
      let r = await call(mode, app, '/download/a.txt');
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'hello, files\n');
      assert.equal(r.headers['cache-control'], 'public, max-age=60, immutable');
      r = await call(mode, app, '/abs');
      assert.equal(r.body.toString(), '0123456789');
      r = await call(mode, app, '/download/nope.txt');
      assert.equal(r.status, 404);
      assert.deepEqual(JSON.parse(r.body.toString()), { missing: '/download/nope.txt' });
      assert.equal(r.headers['x-on-send'], '404');
      r = await call(mode, app, '/download/..%2fsecret.txt');
      assert.equal(r.status, 404);
      assert.ok(!r.body.toString().includes('SECRET'));
      r = await call(mode, app, '/download/link-out');
      assert.equal(r.status, 404);
      r = await call(mode, app, '/relative-without-root');
      assert.equal(r.status, 500);
    });

    await t.test('onResponse saw the file answers with their statuses', async () => {
      await call(mode, app, '/static/digits.txt', { headers: { range: 'bytes=1-1' } });
      const deadline = Date.now() + 2000;
      while (!seen.includes('/static/digits.txt 206') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.ok(seen.includes('/static/digits.txt 206'), seen.join(', '));
      assert.ok(seen.includes('/download/nope.txt 404'), seen.join(', '));
    });
  });
}

test('traversal attempts never leave the root (raw targets over a socket)', async (t) => {
  const app = hookedApp([]);
  await app.listen({ port: 0 });
  t.after(() => app.close());
  const port = app.server.port;
  const attempts = [
    '/static/../secret.txt', '/static/%2e%2e/secret.txt', '/static/%2E%2E/secret.txt',
    '/static/..%2fsecret.txt', '/static/%2e%2e%2fsecret.txt', '/static/sub/..%2f..%2fsecret.txt',
    '/static/link-out', '/static/link-abs', '/static/a.txt%00.png', '/static//etc/passwd',
    '/static/%252e%252e%252fsecret.txt', '/download/%2e%2e%2fsecret.txt', '/download/%00',
  ];
  for (const target of attempts) {
    const r = await raw(port, target);
    assert.ok(r.status === 404 || r.status === 400, `${target} -> ${r.status}`);
    assert.ok(!r.text.includes('SECRET') && !r.text.includes('root:'), target);
  }
  assert.equal((await raw(port, '/static/%252e%252e')).text, 'a file named %2e%2e', 'decoded once');
  assert.equal((await raw(port, '/static/link-in')).text, 'hello, files\n', 'a link inside the root');
});

// Without hooks, not-found or error handler, app.static() is served by the engine alone: a child
// process blocks its JavaScript thread, and its static files still arrive (while its JS route
// cannot answer).
test('an app without hooks: static files served with the JavaScript thread blocked', async (t) => {
  const script = `
    const { createApp } = require(${JSON.stringify(path.join(LIB, 'index.cjs'))});
    const app = createApp({ threads: 1, handlerTimeoutMs: 200 });
    app.static('/static', ${JSON.stringify(root)});
    app.get('/js', () => 'from js');
    app.listen({ port: 0 }).then(() => {
      process.stdout.write(app.server.port + '\\n');
      process.stdin.once('data', () => {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3000);  // JS blocked
        process.exit(0);
      });
    });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const port = await new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
  child.stdin.write('block\n');
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  const r = await raw(port, '/static/a.txt');
  assert.equal(r.status, 200);
  assert.equal(r.text, 'hello, files\n');
  assert.ok(Date.now() - started < 2500, 'answered while the JS thread was blocked');
  const js = await raw(port, '/js');
  assert.equal(js.status, 503, 'the JavaScript route could not answer meanwhile');
});

test('static() and sendFile() check their arguments', () => {
  const app = createApp();
  assert.throws(() => app.static('static', root), /prefix/);
  assert.throws(() => app.static('/s', path.join(base, 'nope')), /cannot serve/);
  assert.throws(() => app.static('/s', path.join(root, 'a.txt')), /not a directory/);
  assert.throws(() => app.static('/s', root, { maxAge: -1 }), /maxAge/);
  assert.throws(() => app.static('/s', root, { bogus: 1 }), /unknown option bogus/);
});
