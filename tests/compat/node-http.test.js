'use strict';
// Node's http API itself, as a plain 'request' listener uses it, on node:http and on
// nexurejs/http: the same bytes on the wire and the same events.

const test = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const net = require('node:net');
const { startBoth, compareCases, raw, request, nexureHttp } = require('./harness.cjs');

function listener(req, res) {
  const url = new URL(req.url, 'http://x');
  switch (url.pathname) {
    case '/write-head-array':
      res.writeHead(201, 'Made', ['X-One', '1', 'X-Two', 'a', 'X-Two', 'b', 'Content-Type', 'text/plain']);
      res.end('made');
      return;
    case '/set-get-remove': {
      res.setHeader('X-Keep', 'yes');
      res.setHeader('X-Drop', 'no');
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.removeHeader('x-drop');
      res.appendHeader('X-Keep', 'also');
      const seen = { keep: res.getHeader('x-keep'), has: res.hasHeader('X-Drop'), names: res.getHeaderNames(), sent: res.headersSent };
      res.end(JSON.stringify(seen));
      return;
    }
    case '/chunks':
      res.setHeader('content-type', 'text/plain');
      res.write('one,');
      res.write(Buffer.from('two,'));
      res.write('three', 'utf8', () => setTimeout(() => res.end(), 5));
      return;
    case '/flush-headers':
      res.statusCode = 202;
      res.flushHeaders();
      setTimeout(() => res.end('later'), 20);
      return;
    case '/length':
      res.writeHead(200, { 'Content-Length': 5 });
      res.end('12345');
      return;
    case '/no-content':
      res.statusCode = 204;
      res.end();
      return;
    case '/close':
      res.setHeader('Connection', 'close');
      res.end('bye');
      return;
    case '/echo-info':
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({
        method: req.method, url: req.url, httpVersion: req.httpVersion, headers: req.headers,
        rawHeaders: req.rawHeaders, remote: req.socket.remoteAddress, family: req.socket.remoteFamily,
        local: req.socket.localAddress, complete: req.complete,
      }));
      return;
    case '/echo': {
      const h = crypto.createHash('sha256');
      let n = 0;
      req.on('data', (c) => {
        n += c.length;
        h.update(c);
      });
      req.on('end', () => res.end(JSON.stringify({ n, sha256: h.digest('hex'), complete: req.complete })));
      return;
    }
    case '/ignore-body':
      res.end('not read');
      return;
    case '/throw':
      throw new Error('listener bug');
    case '/method':
      res.end(`${req.method} ${req.url}`);
      return;
    case '/statusmessage':
      res.statusMessage = 'Fine Indeed';
      res.end();
      return;
    case '/trailers':
      res.writeHead(200, { 'Trailer': 'X-Sum', 'Content-Type': 'text/plain' });
      res.write('body');
      res.addTrailers({ 'X-Sum': '42' });
      res.end();
      return;
    default:
      res.statusCode = 404;
      res.end('not here');
  }
}

const CASES = [
  ['writeHead with a raw header array and a reason', { path: '/write-head-array' }],
  ['setHeader, appendHeader, removeHeader, getHeader', { path: '/set-get-remove' }],
  ['several writes: chunked', { path: '/chunks' }],
  ['flushHeaders, then the body later', { path: '/flush-headers' }],
  ['a Content-Length given by writeHead', { path: '/length' }],
  ['204', { path: '/no-content' }],
  ['Connection: close from the listener', { path: '/close' }],
  ['HEAD of a chunked answer', { method: 'HEAD', path: '/chunks' }],
  ['the request as the listener sees it', { path: '/echo-info?a=1', headers: { 'X-Mixed-Case': 'v', accept: 'text/plain' } }],
  ['a body read by data events', { method: 'POST', path: '/echo', body: crypto.randomBytes(3 * 1024 * 1024) }],
  ['a body never read', { method: 'POST', path: '/ignore-body', body: crypto.randomBytes(256 * 1024) }],
  ['a status message', { path: '/statusmessage' }],
  ['WebDAV PROPFIND', { method: 'PROPFIND', path: '/method', headers: { depth: '1' } }],
  ['WebDAV MKCOL', { method: 'MKCOL', path: '/method' }],
  ['PURGE', { method: 'PURGE', path: '/method?x=1' }],
  ['M-SEARCH', { method: 'M-SEARCH', path: '/method' }],
  ['trailers', { path: '/trailers' }],
];

test('Node\'s response API gives the same answers on node:http and nexurejs/http', async (t) => {
  const both = await startBoth((http) => http.createServer(listener));
  t.after(() => both.stop());
  // The ports differ, and so does the Host header a listener echoes (equal otherwise).
  await compareCases(t, both, CASES, (c) => ({
    ...c,
    body: c.body.replace(/"host":"127\.0\.0\.1:\d+"/, '"host":"127.0.0.1:PORT"')
      .replace(/"Host","127\.0\.0\.1:\d+"/, '"Host","127.0.0.1:PORT"'),
  }));
});

test('HTTP/1.0 and Expect: 100-continue on the wire', async (t) => {
  const both = await startBoth((http) => http.createServer(listener));
  t.after(() => both.stop());
  const strip = (s) => s.replace(/\r\nDate: [^\r]*/g, '');
  const out10 = {};
  for (const s of both.servers) out10[s.name] = strip(await raw(s.port, 'GET /chunks HTTP/1.0\r\n\r\n'));
  assert.strictEqual(out10['nexurejs/http'], out10['node:http']);
  assert.match(out10['node:http'], /one,two,three$/);

  // The client waits for 100 Continue before it sends the body.
  for (const s of both.servers) {
    const got = await new Promise((resolve, reject) => {
      const socket = net.connect(s.port, '127.0.0.1');
      let text = '';
      let sent = false;
      socket.on('connect', () => socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n'));
      socket.on('data', (c) => {
        text += c.toString('latin1');
        if (!sent && text.includes('100 Continue\r\n\r\n')) {
          sent = true;
          socket.write('hello');
        }
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(got, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/, s.name);
    assert.match(got, /"n":5/, s.name);
  }
});

test('a client that leaves mid-answer: the request and the response close, the stream stops', async (t) => {
  for (const http of [require('node:http'), nexureHttp]) {
    const events = [];
    let stopped;
    const stoppedP = new Promise((resolve) => { stopped = resolve; });
    const server = http.createServer((req, res) => {
      req.on('close', () => events.push('req close'));
      res.on('close', () => {
        events.push(`res close (finished ${res.writableFinished})`);
        stopped();
      });
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const piece = Buffer.alloc(64 * 1024, 1);
      const pump = () => {
        while (!res.destroyed && res.write(piece));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = net.connect(server.address().port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => socket.once('data', resolve));
    socket.destroy();
    await stoppedP;
    await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => server.close(resolve));
    assert.ok(events.includes('req close'), `${events}`);
    assert.ok(events.includes('res close (finished false)'), `${events}`);
  }
});

test('a slow reader holds the writer (res.write returns false, then drain), memory stays bounded', async (t) => {
  const total = 32 * 1024 * 1024;
  let maxBuffered = 0;
  const server = nexureHttp.createServer((req, res) => {
    const piece = Buffer.alloc(256 * 1024, 7);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += piece.length;
        const more = res.write(piece);
        maxBuffered = Math.max(maxBuffered, res.writableLength);
        if (!more) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const got = await new Promise((resolve, reject) => {
    const req = require('node:http').get({ port: server.address().port, host: '127.0.0.1', path: '/', agent: false }, (res) => {
      let n = 0;
      res.on('data', (c) => {
        n += c.length;
        // Read slowly: pause a little now and then.
        if (n % (4 * 1024 * 1024) < c.length) {
          res.pause();
          setTimeout(() => res.resume(), 30);
        }
      });
      res.on('end', () => resolve(n));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  assert.strictEqual(got, total);
  assert.ok(maxBuffered <= 2 * 1024 * 1024, `the response buffered ${maxBuffered} bytes`);
});

test('a listener that throws: 500, and the server goes on', async (t) => {
  const server = nexureHttp.createServer(listener);
  server.on('error', () => {});  // the listener's exception is reported here
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const port = server.address().port;
  const r = await request(port, { path: '/throw' });
  assert.strictEqual(r.status, 500);
  const ok = await request(port, { path: '/length' });
  assert.strictEqual(ok.body.toString(), '12345');
});

test('what nexurejs/http does not support is refused by name', () => {
  const server = nexureHttp.createServer();
  assert.throws(() => server.on('upgrade', () => {}), { code: 'NEXURE_ERR_HTTP_UNSUPPORTED', message: /'upgrade' event/ });
  assert.throws(() => server.on('connect', () => {}), { code: 'NEXURE_ERR_HTTP_UNSUPPORTED' });
  assert.throws(() => server.closeAllConnections(), { code: 'NEXURE_ERR_HTTP_UNSUPPORTED', message: /only after close\(\)/ });
  assert.throws(() => nexureHttp.createServer({ insecureHTTPParser: true }), { code: 'NEXURE_ERR_HTTP_UNSUPPORTED', message: /insecureHTTPParser/ });
  assert.throws(() => nexureHttp.createServer({ bogus: 1 }), /unknown createServer option bogus/);
  assert.throws(() => server.listen(70000), { code: 'ERR_SOCKET_BAD_PORT' });
  server.close((err) => assert.strictEqual(err.code, 'ERR_SERVER_NOT_RUNNING'));
});

test('listen, address, close and their events', async () => {
  const server = nexureHttp.createServer((req, res) => res.end('x'));
  const events = [];
  server.on('listening', () => events.push('listening'));
  server.on('close', () => events.push('close'));
  const listened = new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
  // Bound at once, as on Node (supertest reads the port right after listen()).
  assert.strictEqual(server.listening, true);
  assert.ok(server.address().port > 0);
  assert.deepStrictEqual(events, []);
  await listened;
  const a = server.address();
  assert.strictEqual(a.address, '127.0.0.1');
  assert.strictEqual(a.family, 'IPv4');
  assert.ok(a.port > 0);
  const other = nexureHttp.createServer();
  const err = await new Promise((resolve) => {
    other.on('error', resolve);
    other.listen(a.port, '127.0.0.1');
  });
  assert.strictEqual(err.code, 'EADDRINUSE');
  assert.strictEqual(err.syscall, 'listen');
  await new Promise((resolve) => {
    server.close(resolve);
    // As Fastify's close() does, after close().
    server.closeIdleConnections();
    server.closeAllConnections();
  });
  assert.deepStrictEqual(events, ['listening', 'close']);
  assert.strictEqual(server.address(), null);
});

test('nexurejs/http resolves through the package exports, from CommonJS and from ESM', () => {
  const { execFileSync } = require('node:child_process');
  const root = require('node:path').join(__dirname, '..', '..');
  const cjs = execFileSync(process.execPath, ['-e',
    "const h = require('nexurejs/http'); process.stdout.write(String(h.createServer === require('./napi/lib/http.cjs').createServer))"],
  { cwd: root, encoding: 'utf8' });
  assert.strictEqual(cjs, 'true');
  const esm = execFileSync(process.execPath, ['--input-type=module', '-e',
    "import http, { createServer, Server } from 'nexurejs/http'; process.stdout.write(String(http.createServer === createServer && new Server() instanceof Server))"],
  { cwd: root, encoding: 'utf8' });
  assert.strictEqual(esm, 'true');
});

test('a client that leaves before any answer: the listener learns it, and close() still finishes', async () => {
  for (const http of [require('node:http'), nexureHttp]) {
    const events = [];
    let client;
    let answered;
    const late = new Promise((resolve) => { answered = resolve; });
    const server = http.createServer((req, res) => {
      req.on('aborted', () => events.push('aborted'));
      res.on('close', () => events.push('res close'));
      client.destroy();
      setTimeout(() => {
        events.push(`late write ${res.write('x')}`);
        answered();
      }, 100);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = require('node:http').get({ port: server.address().port, host: '127.0.0.1' });
    client.on('error', () => {});
    await late;
    const t0 = Date.now();
    await new Promise((resolve) => server.close(resolve));
    assert.ok(Date.now() - t0 < 2000, `close() took ${Date.now() - t0} ms`);
    assert.deepStrictEqual(events.slice(0, 2), ['aborted', 'res close'], `${events}`);
  }
});

test('an answer that does not read a body the client holds back for 100 Continue: the connection closes, nothing stalls', async (t) => {
  const server = nexureHttp.createServer((req, res) => res.end(`not read ${req.url}`));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const t0 = Date.now();
  const text = await new Promise((resolve, reject) => {
    const c = net.connect(server.address().port, '127.0.0.1');
    let got = '';
    c.on('connect', () => c.write('POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n' +
      'Expect: 100-continue\r\n\r\n'));
    c.on('data', (d) => { got += d; });
    c.on('close', () => resolve(got));
    c.on('error', reject);
  });
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(text, /not read \/big$/);
  assert.doesNotMatch(text, /100 Continue/);
});

test('listen() on a Unix socket path is refused by name', () => {
  const server = nexureHttp.createServer();
  assert.throws(() => server.listen('/tmp/nexure-test.sock'), { code: 'NEXURE_ERR_HTTP_UNSUPPORTED', message: /Unix socket path/ });
  assert.throws(() => server.listen({ path: '/tmp/nexure-test.sock' }), { code: 'NEXURE_ERR_HTTP_UNSUPPORTED' });
});
