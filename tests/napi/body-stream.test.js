'use strict';
// Streamed request bodies ({ body: 'stream', bodyLimit }, body-stream.cjs) over real sockets:
// uploads hashed as they arrive (Content-Length and chunked), a slow consumer pushing back on the
// client, 413 by length and by chunks, a client leaving mid-body, 100-continue only when the
// handler reads, a body nobody reads, pipelined requests after a streamed body, and inject().

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const net = require('node:net');
const { Readable } = require('node:stream');
const { lib, parseResponses } = require('./fixtures/helpers.cjs');

const { createApp } = lib();

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

async function hashBody(req) {
  const h = crypto.createHash('sha256');
  let bytes = 0;
  for await (const chunk of req) {
    h.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: h.digest('hex') };
}

function post(url, body, { chunked = false, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (!chunked) h['content-length'] = body.length;
    const r = http.request(url, { method: 'POST', headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
    });
    r.on('error', reject);
    if (chunked) {
      for (let i = 0; i < body.length; i += 100000) r.write(body.subarray(i, i + 100000));
      r.end();
    } else {
      r.end(body);
    }
  });
}

function waitFor(check, ms = 5000) {
  return new Promise((resolve, reject) => {
    const until = Date.now() + ms;
    const tick = () => {
      if (check()) resolve();
      else if (Date.now() > until) reject(new Error('condition not met in time'));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

// A raw connection: write bytes, read what comes back.
function connect(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(conn));
    const conn = { socket, buf: Buffer.alloc(0), closed: false };
    socket.on('data', (d) => { conn.buf = Buffer.concat([conn.buf, d]); });
    socket.on('close', () => { conn.closed = true; });
    socket.on('error', () => {});
    socket.once('error', reject);
  });
}

test('an upload is hashed as it arrives, by Content-Length and chunked', async () => {
  const app = createApp();
  app.post('/upload', { body: 'stream' }, (req) => hashBody(req));
  const url = await app.listen({ port: 0 });
  try {
    const body = crypto.randomBytes(8 * 1024 * 1024 + 13);
    const expected = { bytes: body.length, sha256: sha256(body) };
    let r = await post(url + '/upload', body);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.text), expected);
    r = await post(url + '/upload', body, { chunked: true });
    assert.deepEqual(JSON.parse(r.text), expected);
    r = await post(url + '/upload', Buffer.alloc(0));
    assert.deepEqual(JSON.parse(r.text), { bytes: 0, sha256: sha256(Buffer.alloc(0)) });
  } finally {
    await app.close();
  }
});

test('a paused stream pushes back on the client; resuming finishes the upload', async () => {
  const app = createApp();
  let stream = null;
  let done = null;
  app.post('/slow', { body: 'stream' }, (req) => {
    stream = req.stream();
    stream.pause();
    return new Promise((resolve) => { done = resolve; }).then(() => hashBody(req));
  });
  const url = await app.listen({ port: 0 });
  const conn = await connect(app.address().port);
  try {
    const total = 64 * 1024 * 1024;
    const piece = crypto.randomBytes(1024 * 1024);
    conn.socket.write(`POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: ${total}\r\n\r\n`);
    let written = 0;
    // Writes until the server stops taking bytes: no 'drain' within half a second.
    let stalled = false;
    await waitFor(() => stream !== null);
    while (written < total && !stalled) {
      const ok = conn.socket.write(piece);
      written += piece.length;
      if (!ok) {
        stalled = !(await Promise.race([
          new Promise((r) => conn.socket.once('drain', () => r(true))),
          new Promise((r) => setTimeout(() => r(false), 500)),
        ]));
      }
    }
    assert.ok(stalled && written < total, `the client could send ${written} of ${total} bytes`);
    // What JavaScript holds is bounded by the credit window, not by the upload.
    assert.ok(stream.readableLength <= 1024 * 1024 + 64 * 1024,
      `JavaScript holds ${stream.readableLength} bytes`);
    const hash = crypto.createHash('sha256');
    const responded = new Promise((resolve) => {
      const check = () => {
        const { responses } = parseResponses(conn.buf);
        if (responses.length > 0) resolve(responses[0]);
        else setTimeout(check, 10);
      };
      check();
    });
    done();
    // Write the rest as the server takes it.
    for (let i = written; i < total; i += piece.length) {
      if (!conn.socket.write(piece)) await new Promise((r) => conn.socket.once('drain', r));
    }
    for (let i = 0; i < total; i += piece.length) hash.update(piece);
    const res = await responded;
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.text), { bytes: total, sha256: hash.digest('hex') });
  } finally {
    conn.socket.destroy();
    await app.close();
  }
});

test('bodyLimit: 413 by Content-Length before the handler, and by chunks (the stream errors)', async () => {
  const app = createApp();
  let calls = 0;
  let streamError = null;
  app.post('/small', { body: 'stream', bodyLimit: 1000 }, async (req) => {
    calls++;
    try {
      return await hashBody(req);
    } catch (err) {
      streamError = err;
      throw err;
    }
  });
  const url = await app.listen({ port: 0 });
  try {
    let r = await post(url + '/small', Buffer.alloc(1001));
    assert.equal(r.status, 413);
    assert.equal(calls, 0);
    r = await post(url + '/small', Buffer.alloc(1000, 1));
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.text).bytes, 1000);
    r = await post(url + '/small', Buffer.alloc(300000, 2), { chunked: true });
    assert.equal(r.status, 413);
    await waitFor(() => streamError !== null);
    assert.equal(streamError.statusCode, 413);
  } finally {
    await app.close();
  }
});

test('a client that leaves mid-body makes the stream error (400)', async () => {
  const app = createApp();
  let got = null;
  app.post('/upload', { body: 'stream' }, async (req) => {
    try {
      await hashBody(req);
      got = 'ended';
    } catch (err) {
      got = err;
    }
    return 'x';
  });
  await app.listen({ port: 0 });
  const conn = await connect(app.address().port);
  try {
    conn.socket.write('POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n');
    conn.socket.write(Buffer.alloc(5000, 3));
    await new Promise((r) => setTimeout(r, 50));
    conn.socket.destroy();
    await waitFor(() => got !== null);
    assert.ok(got instanceof Error, `the stream ended instead of failing: ${got}`);
    assert.equal(got.statusCode, 400);
  } finally {
    await app.close();
  }
});

test('pipelined requests after a streamed body are answered in order', async () => {
  const app = createApp();
  app.post('/upload', { body: 'stream' }, (req) => hashBody(req));
  app.get('/next', () => 'next');
  await app.listen({ port: 0 });
  const conn = await connect(app.address().port);
  try {
    const body = crypto.randomBytes(300000);
    conn.socket.write(Buffer.concat([
      Buffer.from(`POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n`), body,
      Buffer.from('GET /next HTTP/1.1\r\nHost: t\r\n\r\n'),
      Buffer.from('POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'),
      Buffer.from('GET /next HTTP/1.1\r\nHost: t\r\n\r\n'),
    ]));
    await waitFor(() => parseResponses(conn.buf).responses.length === 4);
    const rs = parseResponses(conn.buf).responses;
    assert.deepEqual(JSON.parse(rs[0].text), { bytes: body.length, sha256: sha256(body) });
    assert.equal(rs[1].text, 'next');
    assert.deepEqual(JSON.parse(rs[2].text), { bytes: 3, sha256: sha256(Buffer.from('abc')) });
    assert.equal(rs[3].text, 'next');
  } finally {
    conn.socket.destroy();
    await app.close();
  }
});

test('Expect: 100-continue is answered when the handler reads, not before, and not when it does not', async () => {
  const app = createApp();
  let reading = false;
  app.post('/upload', { body: 'stream' }, async (req) => {
    await new Promise((r) => setTimeout(r, 100));
    reading = true;
    return hashBody(req);
  });
  app.post('/refuse', { body: 'stream' }, (req, reply) => reply.code(403).send('no'));
  await app.listen({ port: 0 });
  const conn = await connect(app.address().port);
  try {
    conn.socket.write('POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    await waitFor(() => conn.buf.length > 0);
    assert.ok(reading, '100 Continue came before the handler asked for the body');
    assert.equal(conn.buf.toString('latin1'), 'HTTP/1.1 100 Continue\r\n\r\n');
    conn.buf = Buffer.alloc(0);
    conn.socket.write('hello');
    await waitFor(() => parseResponses(conn.buf).responses.length === 1);
    assert.equal(JSON.parse(parseResponses(conn.buf).responses[0].text).bytes, 5);

    const other = await connect(app.address().port);
    other.socket.write('POST /refuse HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n');
    await waitFor(() => other.closed);
    const text = other.buf.toString('latin1');
    assert.ok(!text.includes('100 Continue'), text);
    assert.match(text, /^HTTP\/1\.1 403 /);
    assert.match(text, /connection: close/i);
  } finally {
    conn.socket.destroy();
    await app.close();
  }
});

test('a body the handler never reads is dropped after the answer; the connection goes on', async () => {
  const app = createApp();
  app.post('/ignore', { body: 'stream' }, () => 'ignored');
  app.get('/next', () => 'next');
  await app.listen({ port: 0 });
  const conn = await connect(app.address().port);
  try {
    const n = 5 * 1024 * 1024;
    conn.socket.write(`POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: ${n}\r\n\r\n`);
    conn.socket.write(Buffer.alloc(n, 7));
    conn.socket.write('GET /next HTTP/1.1\r\nHost: t\r\n\r\n');
    await waitFor(() => parseResponses(conn.buf).responses.length === 2);
    const rs = parseResponses(conn.buf).responses;
    assert.equal(rs[0].text, 'ignored');
    assert.equal(rs[1].text, 'next');
  } finally {
    conn.socket.destroy();
    await app.close();
  }
});

test('req.body on a stream route says to use req.stream(); req.stream() works on buffered routes', async () => {
  const app = createApp();
  app.post('/s', { body: 'stream' }, (req) => {
    assert.throws(() => req.body, /streams its body/);
    return hashBody(req);
  });
  app.post('/b', (req) => hashBody(req));
  assert.throws(() => app.post('/x', { bodyLimit: 5 }, () => 'x'), /bodyLimit applies to streamed bodies/);
  assert.throws(() => app.post('/y', { body: 'file' }, () => 'x'), /body must be one of 'buffer', 'parse', 'stream'/);
  const url = await app.listen({ port: 0 });
  try {
    const body = Buffer.from('buffered body');
    const r = await post(url + '/b', body);
    assert.deepEqual(JSON.parse(r.text), { bytes: body.length, sha256: sha256(body) });
    const s = await post(url + '/s', body);
    assert.equal(JSON.parse(s.text).bytes, body.length);
  } finally {
    await app.close();
  }
});

test('inject(): a stream route takes the payload as a stream, bounded by bodyLimit', async () => {
  const app = createApp();
  app.post('/upload', { body: 'stream', bodyLimit: 100000 }, (req) => hashBody(req));
  app.post('/buffered', async (req) => ({ length: req.body.length }));
  try {
    const parts = [Buffer.from('a'.repeat(1000)), Buffer.from('b'.repeat(2000))];
    let r = await app.inject({ method: 'POST', url: '/upload', payload: Readable.from(parts) });
    assert.deepEqual(r.json(), { bytes: 3000, sha256: sha256(Buffer.concat(parts)) });
    r = await app.inject({ method: 'POST', url: '/upload', payload: 'hello' });
    assert.equal(r.json().bytes, 5);
    r = await app.inject({ method: 'POST', url: '/upload', payload: Buffer.alloc(100001) });
    assert.equal(r.statusCode, 413);
    const big = (async function* gen() { for (let i = 0; i < 20; i++) yield Buffer.alloc(10000); })();
    r = await app.inject({ method: 'POST', url: '/upload', payload: big });
    assert.equal(r.statusCode, 413);
    r = await app.inject({ method: 'POST', url: '/buffered', payload: Readable.from(parts) });
    assert.deepEqual(r.json(), { length: 3000 });
  } finally {
    await app.close();
  }
});

test('with an error handler (no bypass), a stream route keeps its own limit and its 413s go through the app', async () => {
  const app = createApp();
  app.setErrorHandler((err, req, reply) => reply.code(err.statusCode ?? 500).send({ mine: true, status: err.statusCode }));
  app.post('/upload', { body: 'stream' }, (req) => hashBody(req));
  app.post('/small', { body: 'stream', bodyLimit: 1000 }, (req) => hashBody(req));
  const url = await app.listen({ port: 0 });
  try {
    // Past the app's 1 MiB bodyLimit: a stream route is not bound by it.
    const body = crypto.randomBytes(3 * 1024 * 1024);
    let r = await post(url + '/upload', body);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.text), { bytes: body.length, sha256: sha256(body) });
    r = await post(url + '/small', Buffer.alloc(5000));
    assert.equal(r.status, 413);
    assert.equal(JSON.parse(r.text).mine, true, r.text);
    r = await post(url + '/small', Buffer.alloc(300000), { chunked: true });
    assert.equal(r.status, 413);
    assert.deepEqual(JSON.parse(r.text), { mine: true, status: 413 });
  } finally {
    await app.close();
  }
});
