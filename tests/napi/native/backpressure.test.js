'use strict';
// A JS side that does not pull: the worker's request ring fills, the bridge reports saturated()
// and the worker stops reading the sockets that feed it, so the clients' writes stall in TCP
// instead of growing the server's memory. Once JS pulls again, every request is answered.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { rawServer, binding } = require('./support/raw-bridge.js');

const BODY = 32 * 1024;
const PER_CONNECTION = 1200; // 2 x 1200 x 32 KiB = 75 MiB: far beyond the 4 MiB ring and TCP buffers
const CONNECTIONS = 2;

function client(port, id) {
  const request = Buffer.concat([
    Buffer.from(`POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: ${BODY}\r\n\r\n`),
    Buffer.alloc(BODY, 97 + id),
  ]);
  const c = { written: 0, answered: 0, lastProgress: Date.now(), waiting: false, done: null };
  const socket = net.connect(port, '127.0.0.1');
  let pending = '';
  c.done = new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (d) => {
      pending += d.toString('latin1');
      // Each answer: a head and a body "<id>:<length>".
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) break;
        const length = Number(/content-length: (\d+)/i.exec(pending.slice(0, end))[1]);
        if (pending.length < end + 4 + length) break;
        const body = pending.slice(end + 4, end + 4 + length);
        assert.equal(body, `${String.fromCharCode(97 + id)}:${BODY}`);
        pending = pending.slice(end + 4 + length);
        c.answered++;
      }
      if (c.answered === PER_CONNECTION) {
        socket.destroy();
        resolve();
      }
    });
  });
  socket.on('connect', async () => {
    while (c.written < PER_CONNECTION) {
      c.written++;
      if (!socket.write(request)) {
        c.waiting = true;
        await new Promise((r) => socket.once('drain', r));
        c.waiting = false;
      }
      c.lastProgress = Date.now();
    }
  });
  return c;
}

test('a JS side that does not pull stops the server reading; pulling again answers everything', async () => {
  const srv = rawServer(
    {
      host: '127.0.0.1',
      port: 0,
      threads: 1,
      pinThreads: false,
      handlerTimeoutMs: 0,
      limits: { maxBodySize: 64 * 1024 },
      routes: [{ method: 'POST', path: '/up', id: 1 }],
    },
    (req, respond) => respond({ body: `${String.fromCharCode(req.body[0])}:${req.body.length}` }),
    { pull: false },
  );
  const { port } = srv.start();
  const ring = binding.requestViews(srv.handle)[0].byteLength;
  assert.equal(ring, 4 * 1024 * 1024);
  const rssBefore = process.memoryUsage().rss;
  const clients = [];
  for (let i = 0; i < CONNECTIONS; i++) clients.push(client(port, i));

  // Wait until every writer is blocked and has made no progress for 500 ms.
  const deadline = Date.now() + 15000;
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    const now = Date.now();
    if (clients.every((c) => c.waiting && now - c.lastProgress > 500)) break;
    assert.ok(now < deadline, `the writers never stalled: ${JSON.stringify(clients.map((c) => c.written))}`);
  }
  const written = clients.reduce((n, c) => n + c.written, 0);
  if (process.env.NEXURE_TEST_VERBOSE) console.log({ written, drains: srv.drains, rss: process.memoryUsage().rss - rssBefore });
  assert.ok(written < CONNECTIONS * PER_CONNECTION, 'the server stopped taking requests');
  assert.ok(srv.drains >= 1, 'the doorbell rang for the waiting requests');
  assert.equal(clients.reduce((n, c) => n + c.answered, 0), 0);
  // Whatever the server holds is bounded by the ring and one loop turn, not by what was sent.
  const growth = process.memoryUsage().rss - rssBefore;
  assert.ok(growth < 48 * 1024 * 1024, `rss grew by ${(growth / 1048576).toFixed(1)} MiB`);

  srv.resume();
  await Promise.all(clients.map((c) => c.done));
  assert.deepEqual(clients.map((c) => c.answered), [PER_CONNECTION, PER_CONNECTION]);
  await srv.close();
});
