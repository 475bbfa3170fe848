'use strict';
// Streamed responses and event records over the raw binding (napi/PROTOCOL.md, "Streamed
// responses" and "Event records"): the flag bits of response records as the worker frames
// them, the writable events that give the window back, the abort event, and a cut stream.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { rawServer } = require('./support/raw-bridge.js');
const { exchange } = require('./support/http-client.js');

const OPEN = 2;
const DATA = 4;
const END = 8;
const CLOSE = 1;

const ROUTES = [{ method: 'GET', path: '/s/:n', id: 1 }];

function start(handler, extra = {}, opts = {}) {
  const srv = rawServer({ host: '127.0.0.1', port: 0, threads: 1, pinThreads: false, routes: ROUTES, ...extra },
    handler, opts);
  const info = srv.start();
  return { srv, port: info.port };
}

// The head and the raw body bytes of one response.
function split(text) {
  const at = text.indexOf('\r\n\r\n');
  return [text.slice(0, at), text.slice(at + 4)];
}

async function until(predicate, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('open, data and end records make a chunked body; the bytes come back as writable credit', async () => {
  const { srv, port } = start((req, respond) => {
    respond({ status: 200, headers: [['Content-Type', 'text/plain']], body: 'first,', flags: OPEN });
    setTimeout(() => {
      respond({ status: 200, body: 'second,', flags: DATA });
      setTimeout(() => respond({ status: 200, body: 'last', flags: DATA | END }), 20);
    }, 20);
  });
  const text = await exchange(port, 'GET /s/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const [head, body] = split(text);
  assert.match(head, /^HTTP\/1\.1 200 /);
  assert.match(head, /\r\nTransfer-Encoding: chunked/i);
  assert.doesNotMatch(head, /Content-Length/i);
  assert.equal(body, '6\r\nfirst,\r\n7\r\nsecond,\r\n4\r\nlast\r\n0\r\n\r\n');
  // The open and the data record were credited (the end record needs no credit).
  await until(() => srv.events.filter((e) => e.type === 2).reduce((n, e) => n + e.data.readUInt32LE(0), 0) === 13,
    'writable credit for 13 bytes');
  for (const e of srv.events.filter((x) => x.type === 2)) {
    assert.equal(e.data.length, 4);
    assert.equal(e.total, 40);
    assert.deepEqual(e.zero, [0, 0, 0]);
  }
  await srv.close();
});

test('a Content-Length header on the open record frames the stream by length', async () => {
  const { srv, port } = start((req, respond) => {
    respond({ status: 200, headers: [['content-length', '10']], body: 'abcde', flags: OPEN });
    setTimeout(() => respond({ status: 200, body: 'fghij', flags: DATA | END }), 10);
  });
  const text = await exchange(port, 'GET /s/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const [head, body] = split(text);
  assert.match(head, /\r\nContent-Length: 10/i);
  assert.doesNotMatch(head, /chunked/i);
  assert.equal(body, 'abcdefghij');
  await srv.close();
});

test('a data record with the close flag and no end cuts the stream: no last chunk, the connection closes', async () => {
  const { srv, port } = start((req, respond) => {
    respond({ status: 200, body: 'partial', flags: OPEN });
    setTimeout(() => respond({ status: 200, flags: DATA | CLOSE }), 10);
  });
  const text = await exchange(port, 'GET /s/1 HTTP/1.1\r\nHost: x\r\n\r\n');  // keep-alive asked
  const body = split(text)[1];
  assert.equal(body, '7\r\npartial\r\n');  // and then the server closed (exchange resolves on end)
  await srv.close();
});

test('HTTP/1.0 gets a close-delimited stream; HEAD gets the head only', async () => {
  const { srv, port } = start((req, respond) => {
    respond({ status: 200, body: 'one ', flags: OPEN });
    setTimeout(() => respond({ status: 200, body: 'two', flags: DATA | END }), 10);
  });
  const text = await exchange(port, 'GET /s/1 HTTP/1.0\r\n\r\n');
  const [head, body] = split(text);
  assert.doesNotMatch(head, /chunked|Content-Length/i);
  assert.equal(body, 'one two');
  const headText = await exchange(port, 'HEAD /s/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(headText, /chunked/i);
  assert.equal(split(headText)[1], '');
  await srv.close();
});

test('the handler timeout posts an abort event with the request\'s ticket', async () => {
  const seen = [];
  const { srv, port } = start((req) => seen.push(req), { handlerTimeoutMs: 100 });
  const text = await exchange(port, 'GET /s/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(text, /^HTTP\/1\.1 503 /);
  await until(() => srv.events.length === 1, 'the abort event');
  const [e] = srv.events;
  assert.equal(e.type, 1);
  assert.deepEqual(e.ticket.slice(0, 3), seen[0].ticket.slice(0, 3));
  assert.equal(e.data.length, 0);
  assert.equal(e.total, 32);
  await srv.close();
});

test('a client that leaves posts one abort event per request it was waiting for', async () => {
  const seen = [];
  const answers = [];
  const { srv, port } = start((req, respond) => {
    seen.push(req);
    answers.push(respond);
  });
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((r) => socket.on('connect', r));
  socket.write('GET /s/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /s/2 HTTP/1.1\r\nHost: x\r\n\r\n');
  await until(() => seen.length === 2, 'both requests');
  socket.destroy();
  await until(() => srv.events.length === 2, 'two abort events');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(srv.events.length, 2);
  assert.deepEqual(srv.events.map((e) => e.type), [1, 1]);
  assert.deepEqual(srv.events.map((e) => e.ticket[2]).sort(), seen.map((r) => r.ticket[2]).sort());
  // Answers given afterwards are taken or dropped quietly; nothing is reported twice.
  for (const respond of answers) respond({ status: 200, body: 'late' });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(srv.events.length, 2);
  await srv.close();
});

test('a stream whose client reads nothing stops being credited; the credit comes once it reads', async (t) => {
  const piece = Buffer.alloc(60 * 1024, 0x61);
  let ticketReq = null;
  let respondFn = null;
  let sent = 0;
  const credited = () => srvRef.events.filter((e) => e.type === 2).reduce((n, e) => n + e.data.readUInt32LE(0), 0);
  const { srv, port } = start((req, respond) => {
    ticketReq = req;
    respondFn = respond;
    respond({ status: 200, body: piece, flags: OPEN });
    sent += piece.length;
  });
  const srvRef = srv;
  const socket = net.connect(port, '127.0.0.1');
  t.after(() => {
    socket.destroy();
    return srv.close();
  });
  let received = 0;
  socket.on('data', (d) => { received += d.length; });
  await new Promise((r) => socket.on('connect', r));
  socket.pause();
  socket.write('GET /s/1 HTTP/1.1\r\nHost: x\r\n\r\n');
  await until(() => ticketReq !== null, 'the request');
  // Send while credit comes back, like a JavaScript source with a 512 KiB window would.
  const WINDOW = 512 * 1024;
  for (let rounds = 0; rounds < 400; rounds++) {
    while (sent - credited() < WINDOW) {
      respondFn({ status: 200, body: piece, flags: DATA });
      sent += piece.length;
    }
    const before = credited();
    await new Promise((r) => setTimeout(r, 20));
    if (credited() === before && rounds > 5) break;
  }
  // Stalled: the engine holds at most its output high-water mark plus the kernel's buffers, and
  // no more credit comes while the client reads nothing.
  const stalled = credited();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(credited(), stalled);
  assert.ok(sent - stalled <= WINDOW + piece.length);
  socket.resume();
  await until(() => credited() === sent, 'credit for everything sent once the client reads', 10000);
  respondFn({ status: 200, flags: DATA | END });
});
