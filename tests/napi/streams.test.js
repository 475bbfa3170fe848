'use strict';
// Streamed replies (reply.send(stream), reply.sse()) and req.signal over real sockets, and
// through app.inject() where it applies: the bytes on the wire, backpressure from a slow reader,
// aborts that reach the source, sources that fail, and payloads that cannot be sent.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { Readable, Stream } = require('node:stream');
const { lib, request, until, sleep, capturingErrors } = require('./fixtures/helpers.cjs');

const { createApp } = lib();

// Sends raw bytes and resolves with everything received until the server closes the connection.
function raw(port, data, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const socket = net.connect(port, '127.0.0.1', () => socket.write(data));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`));
    }, timeoutMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function split(text) {
  const at = text.indexOf('\r\n\r\n');
  return { head: text.slice(0, at), body: text.slice(at + 4) };
}

function timeouts() {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

async function* numbers(count) {
  for (let i = 1; i <= count; i++) yield `${i}\n`;
}

function sourcesApp() {
  const app = createApp({ threads: 1 });
  app.get('/gen/:n', (req, reply) => reply.send(numbers(Number(req.params.n))));
  app.get('/readable', (req, reply) => reply.send(Readable.from([Buffer.from('ab'), 'cd', new Uint8Array([101, 102])])));
  app.get('/web', (req, reply) => reply.send(new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode('web '));
      c.enqueue(new TextEncoder().encode('stream'));
      c.close();
    },
  })));
  app.get('/file', (req, reply) => {
    reply.type('text/markdown');
    return reply.send(fs.createReadStream(path.join(__dirname, '..', '..', 'napi', 'PROTOCOL.md')));
  });
  app.get('/length', (req, reply) => {
    reply.header('Content-Length', 9);
    reply.send(Readable.from(['abc', 'def', 'ghi']));
  });
  app.get('/big', (req, reply) => {
    // 3 MiB in 100 KiB chunks: several records per chunk, several windows.
    const chunk = Buffer.alloc(100 * 1024);
    let i = 0;
    reply.send(new Readable({
      read() {
        if (i === 31) return this.push(null);
        chunk.fill(i++ & 0xff);
        this.push(Buffer.from(chunk));
      },
    }));
  });
  app.get('/empty', (req, reply) => reply.send(numbers(0)));
  app.get('/nocontent', (req, reply) => reply.code(204).send(numbers(5)));
  return app;
}

test('Readable, ReadableStream, async generator and file streams arrive whole, chunked; inject() collects them', async (t) => {
  const app = sourcesApp();
  const base = await app.listen(0);
  t.after(() => app.close());
  const cases = [
    ['/gen/5', '1\n2\n3\n4\n5\n'],
    ['/readable', 'abcdef'],
    ['/web', 'web stream'],
    ['/file', fs.readFileSync(path.join(__dirname, '..', '..', 'napi', 'PROTOCOL.md'), 'utf8')],
    ['/empty', ''],
  ];
  for (const [url, expected] of cases) {
    const r = await request(base, url);
    assert.equal(r.status, 200, url);
    assert.equal(r.headers['transfer-encoding'], 'chunked', url);
    assert.equal(r.headers['content-length'], undefined, url);
    assert.equal(r.text, expected, url);
    const i = await app.inject(url);
    assert.equal(i.statusCode, 200, url);
    assert.equal(i.body, expected, url);
  }
  const file = await request(base, '/file');
  assert.equal(file.headers['content-type'], 'text/markdown');
  const big = await request(base, '/big');
  assert.equal(big.body.length, 31 * 100 * 1024);
  for (let k = 0; k < 31; k++) assert.equal(big.body[k * 100 * 1024 + 5], k);
});

test('Content-Length when the reply sets it, close-delimited for HTTP/1.0, no body for HEAD and 204', async (t) => {
  const app = sourcesApp();
  const base = await app.listen(0);
  t.after(() => app.close());
  const { port } = new URL(base);
  const withLength = split(await raw(port, 'GET /length HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
  assert.match(withLength.head, /\r\ncontent-length: 9\r\n|\r\nContent-Length: 9/i);
  assert.doesNotMatch(withLength.head, /chunked/i);
  assert.equal(withLength.body, 'abcdefghi');

  const old = split(await raw(port, 'GET /gen/3 HTTP/1.0\r\n\r\n'));
  assert.doesNotMatch(old.head, /chunked|content-length/i);
  assert.equal(old.body, '1\n2\n3\n');

  const head = split(await raw(port, 'HEAD /gen/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
  assert.match(head.head, /^HTTP\/1\.1 200/);
  assert.equal(head.body, '');
  const noContent = split(await raw(port, 'GET /nocontent HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
  assert.match(noContent.head, /^HTTP\/1\.1 204/);
  assert.equal(noContent.body, '');
  // The connection stays usable after a streamed answer (keep-alive, pipelined).
  const two = await raw(port, 'GET /gen/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /gen/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(two.match(/HTTP\/1\.1 200/g).length, 2);
  assert.ok(two.includes('2\r\n1\n\r\n2\r\n2\n\r\n0\r\n\r\n'));
});

test('a source failing mid-stream cuts the body (no last chunk, the connection closes) and is logged', async (t) => {
  const app = createApp({ threads: 1 });
  app.get('/fails', (req, reply) => reply.send((async function* () {
    yield 'first piece;';
    await sleep(10);
    throw new Error('the database went away');
  })()));
  app.get('/fails-at-once', (req, reply) => reply.send((async function* () {
    throw Object.assign(new Error('no such report'), { statusCode: 404 });
  })()));
  app.get('/missing-file', (req, reply) => reply.send(fs.createReadStream('/nonexistent/nexure-test')));
  app.get('/ok', () => 'still serving');
  const base = await app.listen(0);
  t.after(() => app.close());
  const { port } = new URL(base);
  const logged = await capturingErrors(async () => {
    const text = await raw(port, 'GET /fails HTTP/1.1\r\nHost: x\r\n\r\n');  // keep-alive asked
    const { head, body } = split(text);
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.equal(body, 'c\r\nfirst piece;\r\n');  // no "0\r\n\r\n": the client sees it was cut
  });
  assert.ok(logged.some((l) => l.includes('the database went away')), logged.join('\n'));
  // A source that fails before its first chunk goes to the error handling (its status kept).
  const atOnce = await request(base, '/fails-at-once');
  assert.equal(atOnce.status, 404);
  assert.equal(JSON.parse(atOnce.text).message, 'no such report');
  const missing = await request(base, '/missing-file');
  assert.equal(missing.status, 500);
  assert.equal(JSON.parse(missing.text).code, 'ENOENT');
  assert.equal((await request(base, '/ok')).text, 'still serving');
  // inject(): the same error handling for a source failing at once.
  assert.equal((await app.inject('/fails-at-once')).statusCode, 404);
});

test('a client leaving mid-stream destroys the source and fires req.signal', async (t) => {
  const app = createApp({ threads: 1 });
  let destroyed = false;
  let produced = 0;
  let signalFired = false;
  app.get('/forever', (req, reply) => {
    req.signal.addEventListener('abort', () => { signalFired = true; });
    const chunk = Buffer.alloc(64 * 1024, 0x78);
    reply.send(new Readable({
      read() {
        produced += chunk.length;
        this.push(chunk);
      },
      destroy(err, cb) {
        destroyed = true;
        cb(err);
      },
    }));
  });
  const base = await app.listen(0);
  t.after(() => app.close());
  await new Promise((resolve, reject) => {
    http.get(`${base}/forever`, (res) => {
      let got = 0;
      res.on('data', (d) => {
        got += d.length;
        if (got > 1024 * 1024) {
          res.destroy();
          resolve();
        }
      });
      res.on('error', () => {});
    }).on('error', reject);
  });
  await until(() => destroyed && signalFired, 'the source destroyed and req.signal fired');
  const at = produced;
  await sleep(100);
  assert.equal(produced, at, 'nothing is read from the source after the abort');
});

test('a slow reader pauses the source: the server holds a bounded amount, then everything arrives', async (t) => {
  const app = createApp({ threads: 1 });
  const TOTAL = 48 * 1024 * 1024;
  let produced = 0;
  app.get('/slow', (req, reply) => {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    reply.send(new Readable({
      read() {
        if (produced >= TOTAL) return this.push(null);
        produced += chunk.length;
        this.push(chunk);
      },
    }));
  });
  const base = await app.listen(0);
  t.after(() => app.close());
  const { port } = new URL(base);
  const socket = net.connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  let received = 0;
  let ended = false;
  socket.on('data', (d) => { received += d.length; });
  socket.on('end', () => { ended = true; });
  await new Promise((r) => socket.on('connect', r));
  socket.pause();  // reads nothing: the kernel's buffers fill, then the engine's output
  socket.write('GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  // Wait until production stops, then check that it stays stopped and bounded.
  let last = -1;
  await until(() => {
    const stable = produced === last && produced > 0;
    last = produced;
    return stable;
  }, 'the source to pause', 10000).catch(() => {});
  await sleep(300);
  const paused = produced;
  await sleep(300);
  assert.equal(produced, paused, 'the source is not read while the client reads nothing');
  // Window (512 KiB) + the connection's high-water mark (1 MiB) + the kernel's socket buffers
  // (a few MiB on loopback) + the Readable's own buffer: far below the 48 MiB body.
  assert.ok(paused < 16 * 1024 * 1024, `${paused} bytes produced while the client read nothing`);
  socket.resume();
  await until(() => ended, 'the whole body', 30000);
  assert.equal(produced, TOTAL);
  assert.ok(received > TOTAL);
});

test('values that are not JSON-able data are a 500 from the error handler, never their internals as JSON', async (t) => {
  const app = createApp({ threads: 1 });
  const seen = [];
  app.setErrorHandler((err, req, reply) => {
    seen.push(err.code);
    reply.code(err.statusCode ?? 500).send({ code: err.code, message: err.message });
  });
  const legacy = new Stream();  // pipe() but no async iteration
  legacy.path = '/etc/secret';
  const values = {
    function: () => 'x',
    symbol: Symbol('s'),
    bigint: 10n,
    promise: Promise.resolve(1),
    legacy,
    sync: (function* () { yield 1; })(),
  };
  for (const name of Object.keys(values)) app.get(`/${name}`, (req, reply) => reply.send(values[name]));
  const base = await app.listen(0);
  t.after(() => app.close());
  for (const name of Object.keys(values)) {
    for (const r of [await request(base, `/${name}`), await app.inject(`/${name}`)]) {
      const status = r.status ?? r.statusCode;
      const text = r.text ?? r.body;
      assert.equal(status, 500, name);
      const body = JSON.parse(text);
      assert.equal(body.code, 'NEXURE_ERR_REP_INVALID_PAYLOAD_TYPE', name);
      assert.doesNotMatch(text, /secret/, name);
    }
  }
  assert.ok(seen.every((c) => c === 'NEXURE_ERR_REP_INVALID_PAYLOAD_TYPE'));
  // Without an error handler: the default 500 body names the code too.
  const plain = createApp({ threads: 1 });
  plain.get('/fn', (req, reply) => reply.send(() => 1));
  const r = await capturingErrors(async () => {
    const res = await plain.inject('/fn');
    assert.equal(res.statusCode, 500);
    assert.equal(res.json().code, 'NEXURE_ERR_REP_INVALID_PAYLOAD_TYPE');
    assert.match(res.json().message, /cannot send a function/);
  });
  assert.ok(r.length > 0);
  await plain.close();
});

test('reply.sse(): framing, headers, and inject()', async (t) => {
  const app = createApp({ threads: 1 });
  app.get('/events', (req, reply) => reply.sse((async function* () {
    yield 'plain';
    yield { event: 'update', id: 7, data: 'line one\nline two\r\nline three' };
    yield { data: { n: 1 } };
    yield { retry: 2500, comment: 'hello' };
  })()));
  app.get('/bad', (req, reply) => reply.sse([{ event: 'a\nb', data: 'x' }]));
  const base = await app.listen(0);
  t.after(() => app.close());
  const expected = 'data: plain\n\n' +
    'id: 7\nevent: update\ndata: line one\ndata: line two\ndata: line three\n\n' +
    'data: {"n":1}\n\n' +
    ': hello\nretry: 2500\n\n';
  const r = await request(base, '/events');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/event-stream');
  assert.equal(r.headers['cache-control'], 'no-cache');
  assert.equal(r.headers['x-accel-buffering'], 'no');
  assert.equal(r.headers['transfer-encoding'], 'chunked');
  assert.equal(r.text, expected);
  const i = await app.inject('/events');
  assert.equal(i.headers['content-type'], 'text/event-stream');
  assert.equal(i.body, expected);
  // An event that cannot be framed (a line break in its name) ends the stream, logged.
  const logged = await capturingErrors(async () => {
    const bad = await request(base, '/bad').catch((err) => err);
    assert.ok(bad instanceof Error || bad.status === 500);
  });
  assert.ok(logged.some((l) => l.includes('line break')), logged.join('\n'));
});

test('reply.sse(): each event leaves at once, heartbeats while idle, cleanup when the client leaves', async (t) => {
  const app = createApp({ threads: 1 });
  let returned = false;
  let signalFired = false;
  let push = null;
  app.get('/live', (req, reply) => {
    req.signal.addEventListener('abort', () => { signalFired = true; });
    // A source that waits for the test to push events; return() is how it learns the end.
    const queue = [];
    let wake = null;
    push = (v) => {
      queue.push(v);
      if (wake) wake();
    };
    const source = {
      [Symbol.asyncIterator]() { return this; },
      async next() {
        while (queue.length === 0) await new Promise((r) => { wake = r; });
        return { done: false, value: queue.shift() };
      },
      async return() {
        returned = true;
        return { done: true, value: undefined };
      },
    };
    reply.sse(source, { heartbeat: 40 });
  });
  const base = await app.listen(0);
  t.after(() => app.close());
  const before = timeouts();
  let text = '';
  let res;
  await new Promise((resolve, reject) => {
    http.get(`${base}/live`, (r) => {
      res = r;
      r.setEncoding('utf8');
      r.on('data', (d) => { text += d; });
      r.on('error', () => {});
      resolve();
    }).on('error', reject);
  });
  assert.equal(res.headers['content-type'], 'text/event-stream');
  push({ event: 'tick', data: '1' });
  await until(() => text.includes('event: tick\ndata: 1\n\n'), 'the first event, at once');
  await until(() => text.split(':\n\n').length >= 3, 'two heartbeats while idle');
  push('second');
  await until(() => text.includes('data: second\n\n'), 'the second event');
  res.destroy();
  await until(() => returned && signalFired, 'return() called and req.signal fired');
  await until(() => timeouts() <= before, 'the heartbeat timer cleared');
});

test('req.signal fires when the client leaves a slow handler, and on the handler timeout; it stays quiet otherwise', async (t) => {
  const app = createApp({ threads: 1, handlerTimeoutMs: 300 });
  const fired = {};
  app.get('/wait/:name', async (req) => {
    const name = req.params.name;
    const signal = req.signal;
    fired[name] = false;
    signal.addEventListener('abort', () => { fired[name] = signal.reason.code; });
    await sleep(name === 'late' ? 1000 : 600);
    return 'done';
  });
  app.get('/late-read', async (req) => {
    await sleep(200);  // the client is gone by now; the signal is made only after that
    return { aborted: req.signal.aborted };
  });
  let lateAborted = null;
  app.get('/late-read-2', async (req) => {
    await sleep(200);
    lateAborted = req.signal.aborted;
    return 'x';
  });
  app.get('/quick', (req) => ({ aborted: req.signal.aborted }));
  const base = await app.listen(0);
  t.after(() => app.close());
  const { port } = new URL(base);
  // The client leaves after 50 ms.
  const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /wait/left HTTP/1.1\r\nHost: x\r\n\r\n'));
  socket.on('error', () => {});
  await until(() => fired.left === false, 'the handler to start');
  socket.destroy();
  await until(() => fired.left === 'NEXURE_ERR_ABORTED', 'req.signal on the client leaving');
  // The handler timeout (300 ms) answers 503 and fires the signal.
  const r = await request(base, '/wait/late');
  assert.equal(r.status, 503);
  await until(() => fired.late === 'NEXURE_ERR_ABORTED', 'req.signal on the handler timeout');
  // Read after the client left: already aborted.
  const s2 = net.connect(port, '127.0.0.1', () => s2.write('GET /late-read-2 HTTP/1.1\r\nHost: x\r\n\r\n'));
  s2.on('error', () => {});
  await sleep(50);
  s2.destroy();
  await until(() => lateAborted !== null, 'the late read');
  assert.equal(lateAborted, true);
  // An ordinary request: never aborted.
  assert.deepEqual(JSON.parse((await request(base, '/quick')).text), { aborted: false });
  assert.deepEqual((await app.inject('/quick')).json(), { aborted: false });
});

test('onSend hooks see the stream; onResponse runs when it ended', async (t) => {
  const app = createApp({ threads: 1 });
  const order = [];
  app.addHook('onSend', async (req, reply, payload) => {
    order.push(`onSend:${typeof payload[Symbol.asyncIterator]}`);
    reply.header('x-streamed', 'yes');
  });
  app.addHook('onResponse', async () => { order.push('onResponse'); });
  app.get('/gen', (req, reply) => reply.send(numbers(3)));
  const base = await app.listen(0);
  t.after(() => app.close());
  const r = await request(base, '/gen');
  assert.equal(r.text, '1\n2\n3\n');
  assert.equal(r.headers['x-streamed'], 'yes');
  await until(() => order.includes('onResponse'), 'onResponse');
  assert.deepEqual(order, ['onSend:function', 'onResponse']);
});

test('close() with a stream still open (its client reads nothing) destroys the source', async () => {
  const app = createApp({ threads: 1, drainTimeoutMs: 200 });
  let destroyed = false;
  let produced = 0;
  app.get('/forever', (req, reply) => {
    const chunk = Buffer.alloc(64 * 1024, 0x7a);
    reply.send(new Readable({
      read() {
        produced += chunk.length;
        this.push(chunk);
      },
      destroy(err, cb) {
        destroyed = true;
        cb(err);
      },
    }));
  });
  const base = await app.listen(0);
  const { port } = new URL(base);
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((r) => socket.on('connect', r));
  socket.pause();
  socket.write('GET /forever HTTP/1.1\r\nHost: x\r\n\r\n');
  await until(() => produced > 1024 * 1024, 'the stream to start');
  await app.close();
  await until(() => destroyed, 'the source destroyed');
  socket.destroy();
});

test('req.signal fires when the app\'s own handler timeout answers (an app with an error handler)', async (t) => {
  const app = createApp({ threads: 1, handlerTimeoutMs: 200 });
  let reason = null;
  app.setErrorHandler((err, req, reply) => reply.code(err.statusCode ?? 500).send({ code: err.code ?? null }));
  app.get('/slow', async (req) => {
    req.signal.addEventListener('abort', () => { reason = req.signal.reason.code; });
    await sleep(600);
    return 'late';
  });
  const base = await app.listen(0);
  t.after(() => app.close());
  const r = await request(base, '/slow');
  assert.equal(r.status, 503);
  await until(() => reason !== null, 'req.signal');
  assert.equal(reason, 'NEXURE_ERR_ABORTED');
});
