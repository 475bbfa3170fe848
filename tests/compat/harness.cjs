'use strict';
// The compat suites' harness: the same application served twice, once by Node's own `http` and
// once by `nexurejs/http`, and the same requests sent to both; a test compares what came back
// (status, headers, body), so that the suite proves the two behave alike, not merely that
// nexurejs answers.

const assert = require('node:assert');
const nodeHttp = require('node:http');
const net = require('node:net');
const path = require('node:path');
const nexureHttp = require(path.join(__dirname, '..', '..', 'napi', 'lib', 'http.cjs'));

const SERVERS = [
  { name: 'node:http', http: nodeHttp },
  { name: 'nexurejs/http', http: nexureHttp },
];

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.removeListener('error', reject);
      resolve(server.address().port);
    });
  });
}

function close(server) {
  return new Promise((resolve) => server.close(() => resolve()));
}

// Starts `make(http)` (an object with the server, or the server itself) on both: returns
// [{ name, port, server }, ...] and a stop() for after the test.
async function startBoth(make) {
  const started = [];
  for (const s of SERVERS) {
    const server = await make(s.http);
    const port = await listen(server);
    started.push({ name: s.name, port, server });
  }
  return {
    servers: started,
    stop: () => Promise.all(started.map((s) => close(s.server))),
  };
}

// One request with Node's client on a fresh connection: { status, headers, body (Buffer) }.
function request(port, { method = 'GET', path: target = '/', headers = {}, body = null } = {}) {
  return new Promise((resolve, reject) => {
    const req = nodeHttp.request({ host: '127.0.0.1', port, method, path: target, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error(`no answer to ${method} ${target} within 10 s`)));
    if (body !== null) req.end(body);
    else req.end();
  });
}

// Raw bytes over one TCP connection; resolves with everything the server sent until it closed
// or until `idleMs` passed without bytes.
function raw(port, bytes, idleMs = 300) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    let timer = null;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(done, idleMs);
    };
    socket.on('connect', () => {
      socket.write(bytes);
      arm();
    });
    socket.on('data', (c) => {
      chunks.push(c);
      arm();
    });
    socket.on('end', done);
    socket.on('error', reject);
  });
}

// What a comparison looks at: the status, the headers but Date (and the ones a test names), and
// the body.
function comparable(r, ignore = []) {
  const headers = {};
  for (const [k, v] of Object.entries(r.headers)) {
    if (k === 'date' || ignore.includes(k)) continue;
    headers[k] = v;
  }
  return { status: r.status, headers, body: r.body.toString('latin1') };
}

// Sends `req` to each server; returns the answers by server name.
async function each(started, req) {
  const out = {};
  for (const s of started.servers) out[s.name] = await request(s.port, typeof req === 'function' ? req() : req);
  return out;
}

// One subtest per [name, request] of `cases`: both servers must give the same comparable()
// answer (`fix` may rewrite one first, e.g. to blank a port both bodies name).
async function compareCases(t, started, cases, fix = (c) => c) {
  for (const [name, req] of cases) {
    await t.test(name, async () => {
      const got = await each(started, req);
      const node = fix(comparable(got['node:http']));
      assert.ok(node.status > 0);
      assert.deepStrictEqual(fix(comparable(got['nexurejs/http'])), node);
    });
  }
}

// A directory of static files for the suites (removed after the test file): hello.txt and a
// 300 KiB big.bin, with a fixed mtime so that both servers give the same ETag and
// Last-Modified.
function staticDir(test) {
  const fs = require('node:fs');
  const os = require('node:os');
  const crypto = require('node:crypto');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexure-compat-static-'));
  fs.writeFileSync(path.join(dir, 'hello.txt'), 'Hello from a static file.\n');
  fs.writeFileSync(path.join(dir, 'big.bin'), crypto.randomBytes(300 * 1024));
  const when = new Date('2026-01-02T03:04:05Z');
  for (const f of fs.readdirSync(dir)) fs.utimesSync(path.join(dir, f), when, when);
  test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// A multipart/form-data body of `parts` ({ name, value, filename? }).
function multipart(boundary, parts) {
  const out = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename) head += `; filename="${p.filename}"\r\nContent-Type: application/octet-stream`;
    out.push(Buffer.from(head + '\r\n\r\n'), Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value), Buffer.from('\r\n'));
  }
  out.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(out);
}

module.exports = {
  SERVERS, startBoth, request, raw, comparable, each, compareCases, staticDir, multipart, nexureHttp,
};
