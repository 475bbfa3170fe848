'use strict';
// app.ws() and app.publish() (napi/lib/ws.cjs) over real sockets, with the `ws` npm client:
// echo of text and binary, messages near and over maxPayload, fan-out across workers,
// backpressure and drain with a client that stops reading, the server's memory while it
// publishes to a paused client, close codes both ways, a throwing handler (1011), close() (1001),
// permessage-deflate, subprotocols and the idle timeout.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const WebSocket = require('ws');
const { lib, request, until, sleep, capturingErrors } = require('./fixtures/helpers.cjs');

const { createApp, httpError, SENT, BACKPRESSURE, DROPPED } = lib();

const KIB = 1024;
const MIB = 1024 * KIB;
// An ASan build of the addon (NEXURE_ADDON, libasan preloaded: scripts/test.sh): its allocator's
// redzones, shadow memory and quarantine add to what the memory tests measure.
const ASAN = /asan|address/.test(`${process.env.NEXURE_ADDON ?? ''} ${process.env.LD_PRELOAD ?? ''}`);

async function serve(t, setup, options = { threads: 2 }) {
  const app = createApp(options);
  setup(app);
  const url = await app.listen(0);
  t.after(() => app.close());
  return { app, base: url.replace(/^http/, 'ws') };
}

// A connected client; `messages` collects [data, isBinary]; `closed` resolves { code, reason }.
function connect(url, options) {
  const ws = new WebSocket(url, options);
  const messages = [];
  ws.on('message', (data, isBinary) => messages.push([isBinary ? data : data.toString('utf8'), isBinary]));
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })));
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, messages, closed, opened };
}

async function open(url, options) {
  const c = connect(url, options);
  await c.opened;
  return c;
}

// A fixture server in a child process (so that its RSS is its own), started and killed with the
// test: `base` is its URL, `state()` its GET /state. Under ASan (the addon and its runtime
// preloaded, as scripts/test.sh runs it) freed memory waits in a 256 MiB quarantine, which the
// RSS would show: the child keeps it small.
async function serverProcess(t, fixture, ...args) {
  const env = ASAN ? { ...process.env, ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ?? 'detect_leaks=1'}:quarantine_size_mb=16` } : process.env;
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', fixture), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'], env,
  });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  await until(() => out.includes('\n'), 'the server to start', 10000);
  const base = out.trim();
  const state = async () => JSON.parse((await request(base, '/state')).text);
  return { child, base, state };
}

test('echo: text stays text (a string), binary stays binary (a Buffer), in order', async (t) => {
  const seen = [];
  const { base } = await serve(t, (app) => app.ws('/echo', {
    message(ws, message, isBinary) {
      seen.push([typeof message, Buffer.isBuffer(message), isBinary]);
      assert.equal(ws.send(message, isBinary), SENT);
    },
  }));
  const c = await open(`${base}/echo`);
  c.ws.send('hello');
  c.ws.send(Buffer.from([0, 1, 2, 255]));
  c.ws.send('héllo wörld ✓');
  c.ws.send(new Uint8Array(0));
  await until(() => c.messages.length === 4, 'four echoes');
  assert.deepEqual(c.messages, [
    ['hello', false], [Buffer.from([0, 1, 2, 255]), true], ['héllo wörld ✓', false], [Buffer.alloc(0), true],
  ]);
  assert.deepEqual(seen, [['string', false, false], ['object', true, true], ['string', false, false], ['object', true, true]]);
  c.ws.close();
  await c.closed;
});

test('send() takes strings, Buffers, ArrayBuffers and TypedArrays; isBinary defaults to "not a string"', async (t) => {
  const { base } = await serve(t, (app) => app.ws('/kinds', {
    open(ws) {
      ws.send('text');
      ws.send(Buffer.from('buffer'));
      ws.send(new TextEncoder().encode('typed').buffer);
      ws.send(new Uint16Array([0x4241]));
      ws.send(new DataView(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2));
      ws.send('as binary', true);
      ws.send(Buffer.from('as text'), false);
    },
  }));
  const c = await open(`${base}/kinds`);
  await until(() => c.messages.length === 7, 'seven messages');
  assert.deepEqual(c.messages, [
    ['text', false], [Buffer.from('buffer'), true], [Buffer.from('typed'), true], [Buffer.from('AB'), true],
    [Buffer.from([2, 3]), true], [Buffer.from('as binary'), true], ['as text', false],
  ]);
  c.ws.close();
});

test('a message near maxPayload crosses whole (in pieces through the ring) both ways', async (t) => {
  const maxPayload = 5 * MIB;
  const { base } = await serve(t, (app) => app.ws('/big', {
    maxPayload,
    maxBackpressure: 16 * MIB,
    message(ws, message, isBinary) {
      ws.send(message, isBinary);
    },
  }));
  const c = await open(`${base}/big`, { maxPayload: 0 });
  const big = Buffer.alloc(maxPayload - 16);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
  c.ws.send(big);
  const text = 'ä'.repeat((3 * MIB) / 2);  // 3 MiB of UTF-8, two bytes per character
  c.ws.send(text);
  await until(() => c.messages.length === 2, 'the two large echoes', 20000);
  assert.equal(c.messages[0][1], true);
  assert.ok(c.messages[0][0].equals(big), 'the binary echo is byte for byte the message');
  assert.equal(c.messages[1][0], text);
  c.ws.close();
});

test('borrowMessages lends binary messages as views of the ring: echoes are byte for byte, kept copies stay intact, text is a string', async (t) => {
  const lent = [];
  const kept = [];
  const { base } = await serve(t, (app) => app.ws('/borrow', {
    borrowMessages: true,
    maxPayload: 4 * MIB,
    maxBackpressure: 16 * MIB,
    message(ws, message, isBinary) {
      if (isBinary) {
        // A view into the engine's memory, not an allocation of its own.
        lent.push(message.buffer.byteLength > message.length);
        kept.push(Buffer.from(message));
      }
      ws.send(message, isBinary);
    },
  }));
  const c = await open(`${base}/borrow`, { maxPayload: 0 });
  const sent = [];
  for (let i = 0; i < 200; i++) {
    const m = Buffer.alloc(1 + ((i * 7919) % (20 * KIB)));
    for (let k = 0; k < m.length; k++) m[k] = (i * 131 + k * 31) & 255;
    sent.push(m);
    c.ws.send(m);
  }
  c.ws.send('text stays a string');
  const big = Buffer.alloc(3 * MIB, 0x5a);  // crosses in pieces: handed over whole, as a copy
  c.ws.send(big);
  await until(() => c.messages.length === 202, 'the 202 echoes', 20000);
  for (let i = 0; i < 200; i++) {
    assert.equal(c.messages[i][1], true);
    assert.ok(c.messages[i][0].equals(sent[i]), `echo ${i} is byte for byte the message`);
    assert.ok(kept[i].equals(sent[i]), `the copy kept of message ${i} is intact`);
  }
  assert.deepEqual(c.messages[200], ['text stays a string', false]);
  assert.ok(c.messages[201][0].equals(big));
  assert.ok(lent.slice(0, 200).every(Boolean), 'the binary messages were lent views');
  assert.throws(() => createApp().ws('/x', { borrowMessages: 'yes' }), /ws\(\/x\): borrowMessages must be a boolean/);
  c.ws.close();
});

test('a message over maxPayload closes the connection with 1009', async (t) => {
  let serverClose = null;
  const { base } = await serve(t, (app) => app.ws('/limited', {
    maxPayload: 64 * KIB,
    message(ws, message) {
      ws.send(`got ${message.length}`);
    },
    close(ws, code) {
      serverClose = code;
    },
  }));
  const c = await open(`${base}/limited`);
  c.ws.send(Buffer.alloc(64 * KIB));  // exactly the limit: fine
  await until(() => c.messages.length === 1, 'the answer to a message of maxPayload bytes');
  assert.deepEqual(c.messages[0], ['got 65536', false]);
  c.ws.send(Buffer.alloc(64 * KIB + 1));
  const { code } = await c.closed;
  assert.equal(code, 1009);
  await until(() => serverClose !== null, 'the close handler');
  assert.equal(serverClose, 1009);
});

test('chat fan-out: app.publish reaches every subscriber on every worker, the sender included', async (t) => {
  const { base } = await serve(t, (app) => app.ws('/chat', {
    open(ws) {
      assert.equal(ws.subscribe('room'), true);
      assert.equal(ws.isSubscribed('room'), true);
      assert.equal(ws.isSubscribed('other'), false);
    },
    message(ws, message, isBinary) {
      app.publish('room', message, isBinary);
    },
  }), { threads: 2 });
  const clients = [];
  for (let i = 0; i < 6; i++) clients.push(await open(`${base}/chat`));
  await sleep(50);  // every open (and subscribe) applied on its worker
  clients.forEach((c, i) => c.ws.send(`from ${i}`));
  for (const c of clients) await until(() => c.messages.length === 6, 'six messages on every client');
  for (const c of clients) {
    assert.deepEqual(c.messages.map((m) => m[0]).sort(), [0, 1, 2, 3, 4, 5].map((i) => `from ${i}`));
  }
  for (const c of clients) c.ws.close();
});

test('ws.publish leaves the sender out; unsubscribe stops delivery; ws.data is per socket', async (t) => {
  let n = 0;
  const { base } = await serve(t, (app) => app.ws('/topic', {
    open(ws) {
      ws.data.n = n++;
      ws.subscribe('t');
      assert.deepEqual(ws.getTopics(), ['t']);
      assert.equal(ws.remoteAddress, '127.0.0.1');
      assert.ok(ws.remotePort > 0);
    },
    message(ws, message) {
      if (message === 'leave') {
        assert.equal(ws.unsubscribe('t'), true);
        assert.equal(ws.unsubscribe('t'), false);
        ws.send('left');
        return;
      }
      assert.equal(ws.publish('t', `${ws.data.n}:${message}`), true);
    },
  }));
  const a = await open(`${base}/topic`);
  const b = await open(`${base}/topic`);
  const c = await open(`${base}/topic`);
  await sleep(50);
  a.ws.send('hi');
  await until(() => b.messages.length === 1 && c.messages.length === 1, 'b and c got it');
  assert.deepEqual(b.messages[0], ['0:hi', false]);
  assert.deepEqual(c.messages[0], ['0:hi', false]);
  c.ws.send('leave');
  await until(() => c.messages.length === 2, 'left');
  b.ws.send('again');
  await until(() => a.messages.length === 1, 'a got it');
  assert.deepEqual(a.messages[0], ['1:again', false]);
  await sleep(100);
  assert.equal(c.messages.length, 2, 'c unsubscribed: nothing more');
  assert.equal(b.messages.length, 1, 'b is the sender: left out');
  for (const x of [a, b, c]) x.ws.close();
});

test('backpressure: send() says BACKPRESSURE over maxBackpressure, drain() follows once the client reads', async (t) => {
  const CHUNK = 64 * KIB;
  const TOTAL = 16 * MIB;
  const log = { backpressure: 0, drains: 0, maxBuffered: 0, sent: 0 };
  const { base } = await serve(t, (app) => app.ws('/flood', {
    maxBackpressure: 256 * KIB,
    message(ws) {
      ws.data.pump = () => {
        while (ws.data.i < TOTAL / CHUNK) {
          const chunk = Buffer.alloc(CHUNK, ws.data.i & 0xff);
          chunk.writeUInt32BE(ws.data.i, 0);
          ws.data.i++;
          const r = ws.send(chunk, true);
          log.sent++;
          log.maxBuffered = Math.max(log.maxBuffered, ws.getBufferedAmount());
          if (r === BACKPRESSURE) {
            log.backpressure++;
            return;
          }
          assert.equal(r, SENT);
        }
      };
      ws.data.i = 0;
      ws.data.pump();
    },
    drain(ws) {
      log.drains++;
      ws.data.pump();
    },
  }), { threads: 1 });
  const c = await open(`${base}/flood`);
  c.ws._socket.pause();  // the client stops reading; the kernel buffers fill
  c.ws.send('go');
  await sleep(500);
  assert.ok(log.backpressure >= 1, 'send() reported backpressure');
  const sentWhilePaused = log.sent;
  assert.ok(sentWhilePaused < TOTAL / CHUNK, `the producer waited for drain (sent ${sentWhilePaused} of ${TOTAL / CHUNK})`);
  await sleep(200);
  assert.equal(log.sent, sentWhilePaused, 'nothing more is produced while the client does not read');
  c.ws._socket.resume();
  await until(() => c.messages.length === TOTAL / CHUNK, 'every chunk', 30000);
  c.messages.forEach(([m], i) => assert.equal(m.readUInt32BE(0), i));
  assert.ok(log.drains >= 1);
  assert.ok(log.maxBuffered > 0);
  c.ws.close();
});

test('an app that ignores BACKPRESSURE gets DROPPED at the limit; everything SENT or BACKPRESSURE arrives', async (t) => {
  let queued = -1;
  let dropped = 0;
  const { base } = await serve(t, (app) => app.ws('/ignore', {
    maxBackpressure: 128 * KIB,
    message(ws) {
      // 400 messages of 16 KiB in one go, far more than the limit: the first ones are queued,
      // the rest refused here, before they reach the engine.
      queued = 0;
      for (let i = 0; i < 400; i++) {
        const m = Buffer.alloc(16 * KIB, i & 0xff);
        m.writeUInt32BE(i, 0);
        const r = ws.send(m);
        if (r === DROPPED) dropped++;
        else queued++;
      }
    },
  }), { threads: 1 });
  const c = await open(`${base}/ignore`);
  c.ws.send('go');
  await until(() => queued >= 0, 'the sends');
  assert.ok(dropped > 0 && queued > 0, `queued ${queued}, dropped ${dropped}`);
  assert.ok(queued * 16 * KIB <= 128 * KIB + 16 * KIB, `no more than the limit was queued (${queued} messages)`);
  await until(() => c.messages.length === queued, 'every queued message');
  c.messages.forEach(([m], i) => assert.equal(m.readUInt32BE(0), i));
  await sleep(100);
  assert.equal(c.messages.length, queued, 'nothing beyond what send() said was queued');
  c.ws.close();
});

test('memory stays bounded while the server publishes to a client that does not read', async (t) => {
  const { child, base, state } = await serverProcess(t, 'ws-publish-server.cjs');
  const wsBase = base.replace(/^http/, 'ws');
  const paused = await open(`${wsBase}/feed`);
  paused.ws._socket.pause();
  const reader = await open(`${wsBase}/feed`);
  await sleep(50);
  const before = (await state()).rss;
  // 256 MiB published in 16 KiB messages (the fixture paces itself on setImmediate).
  reader.ws.send('publish 16384 16384');
  let peak = before;
  for (const deadline = Date.now() + 90000; ;) {
    await sleep(100);
    const s = await state();
    peak = Math.max(peak, s.rss);
    if (s.left === 0) break;
    assert.ok(Date.now() < deadline, `the publisher did not finish (${s.left} left)`);
  }
  const growth = peak - before;
  t.diagnostic(`RSS ${(before / MIB).toFixed(1)} MiB before, ${(peak / MIB).toFixed(1)} MiB at the peak; ${reader.messages.length} messages read by the other client`);
  assert.ok(growth < 96 * MIB, `RSS grew by ${(growth / MIB).toFixed(1)} MiB publishing 256 MiB to a paused client`);
  assert.ok(reader.messages.length > 0, 'the reading client was not held up by the paused one');
  paused.ws.terminate();
  reader.ws.close();
  child.stdin.end();
});

test('a synchronous publish loop that outruns the worker is bounded: publish() says false beyond the backlog bound, and what it took arrives', async (t) => {
  // The JavaScript thread hands records over; a worker whose response ring is full leaves them
  // with the native side until that thread hands over again — which a synchronous loop never
  // does. Unbounded, this loop would leave ~256 MiB queued in the server.
  const { child, base, state } = await serverProcess(t, 'ws-publish-server.cjs');
  const reader = await open(`${base.replace(/^http/, 'ws')}/burst`);
  assert.match(reader.ws.extensions, /permessage-deflate/);
  await sleep(50);
  const count = 16384;
  reader.ws.send(`burst ${count} ${16 * KIB}`);
  let s;
  for (const deadline = Date.now() + 60000; ;) {
    await sleep(100);
    s = await state();
    if (s.burst !== null) break;
    assert.ok(Date.now() < deadline, 'the burst did not finish');
  }
  const { taken, refused, before, after } = s.burst;
  t.diagnostic(`${taken} of ${count} 16 KiB publishes taken, ${refused} refused; RSS ${(before / MIB).toFixed(1)} MiB before the loop, ${(after / MIB).toFixed(1)} MiB after it`);
  assert.equal(taken + refused, count);
  assert.ok(refused > 0, 'publish() never said false: nothing bounds the loop');
  // What the loop may leave held: 16 MiB of stashed bodies and 16 MiB of posted publishes
  // (BACKLOG_LIMIT each), one staging buffer and 1 MiB of unflushed stashes.
  const limit = (ASAN ? 96 : 64) * MIB;
  assert.ok(after - before < limit, `RSS grew by ${((after - before) / MIB).toFixed(1)} MiB in a loop of ${count} publishes of 16 KiB`);
  // Every publish that said true reaches the subscriber (its limit is far above what it holds),
  // in order.
  await until(() => reader.messages.length >= taken, `the ${taken} messages taken to arrive (${reader.messages.length} so far)`, 60000);
  await sleep(200);
  assert.equal(reader.messages.length, taken);
  reader.messages.forEach(([data], i) => assert.equal(data.readUInt32BE(0), i));
  reader.ws.close();
  child.stdin.end();
});

test('a JavaScript handler slower than the network stops the socket being read; memory stays bounded, nothing is lost', async (t) => {
  // The engine reads a message, hands it to the request ring and goes on; when the ring is full
  // it must stop reading that socket (TCP then pushes back on the client), not queue the rest.
  const { child, base, state } = await serverProcess(t, 'ws-sink-server.cjs', '1');
  const client = await open(`${base.replace(/^http/, 'ws')}/sink`);
  await sleep(50);
  const before = (await state()).rss;
  // 192 MiB in 64 KiB messages, sent as fast as the client may (the ws client buffers what TCP
  // does not take, in this process, not the server's).
  const count = 3072;
  const message = Buffer.alloc(64 * KIB, 0x62);
  for (let i = 0; i < count; i++) {
    message.writeUInt32BE(i, 0);
    client.ws.send(message, { binary: true });
  }
  let peak = before;
  let s;
  for (const deadline = Date.now() + 90000; ;) {
    await sleep(100);
    s = await state();
    peak = Math.max(peak, s.rss);
    if (s.received === count) break;
    assert.ok(Date.now() < deadline, `the handler did not get every message (${s.received} of ${count})`);
  }
  const growth = peak - before;
  t.diagnostic(`RSS ${(before / MIB).toFixed(1)} MiB before, ${(peak / MIB).toFixed(1)} MiB at the peak, for ${(count * message.length / MIB).toFixed(0)} MiB received by a 1 ms-per-message handler`);
  assert.equal(s.outOfOrder, 0);
  assert.equal(s.bytes, count * message.length);
  assert.ok(growth < 96 * MIB, `RSS grew by ${(growth / MIB).toFixed(1)} MiB while a slow handler received 192 MiB`);
  client.ws.close();
  child.stdin.end();
});

test('close codes both ways: the client\'s code and reason reach close(); ws.end(code, reason) reaches the client', async (t) => {
  const closes = [];
  const { base } = await serve(t, (app) => app.ws('/close', {
    message(ws, message) {
      if (message === 'end me') {
        ws.end(4001, 'as asked');
        assert.equal(ws.send('too late'), DROPPED);
        assert.equal(ws.isOpen, false);
      }
    },
    close(ws, code, reason) {
      closes.push([code, reason]);
    },
  }));
  const a = await open(`${base}/close`);
  a.ws.close(4000, 'bye now');
  assert.equal((await a.closed).code, 4000);
  await until(() => closes.length === 1, 'the server close handler');
  assert.deepEqual(closes[0], [4000, 'bye now']);

  const b = await open(`${base}/close`);
  b.ws.send('end me');
  assert.deepEqual(await b.closed, { code: 4001, reason: 'as asked' });
  await until(() => closes.length === 2, 'the second close');
  assert.equal(closes[1][0], 4001);
  assert.equal(b.messages.length, 0);

  const c = await open(`${base}/close`);
  c.ws.terminate();  // TCP ends without a close frame
  await until(() => closes.length === 3, 'the third close');
  assert.equal(closes[2][0], 1006);
});

test('ws.end() refuses codes an endpoint may not send and reasons over 123 bytes', async (t) => {
  const errors = [];
  const { base } = await serve(t, (app) => app.ws('/bad', {
    open(ws) {
      for (const [code, reason] of [[1005, ''], [1006, ''], [999, ''], [5000, ''], [1000, 'x'.repeat(124)]]) {
        try {
          ws.end(code, reason);
        } catch (err) {
          errors.push(err.constructor.name);
        }
      }
      ws.end(1000, 'fine');
    },
  }));
  const c = connect(`${base}/bad`);
  assert.deepEqual(await c.closed, { code: 1000, reason: 'fine' });
  assert.deepEqual(errors, ['RangeError', 'RangeError', 'RangeError', 'RangeError', 'RangeError']);
});

test('a handler that throws (or rejects) is logged and its socket closed with 1011; the server lives on', async (t) => {
  await capturingErrors(async (lines) => {
    const { base } = await serve(t, (app) => app.ws('/throw', {
      message(ws, message) {
        if (message === 'sync') throw new Error('boom in message');
        if (message === 'async') return Promise.reject(new Error('async boom'));
        ws.send('fine');
      },
    }));
    const a = await open(`${base}/throw`);
    a.ws.send('sync');
    assert.equal((await a.closed).code, 1011);
    const b = await open(`${base}/throw`);
    b.ws.send('async');
    assert.equal((await b.closed).code, 1011);
    const c = await open(`${base}/throw`);
    c.ws.send('hello');
    await until(() => c.messages.length === 1, 'a healthy socket still works');
    assert.ok(lines.some((l) => l.includes('/throw: the message handler threw') && l.includes('boom in message')), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes('async boom')), lines.join('\n'));
    c.ws.close();
  });
});

test('app.close() ends open sockets with 1001 and runs their close handlers', async () => {
  const app = createApp({ threads: 2 });
  const closes = [];
  app.ws('/stay', { close: (ws, code) => closes.push(code) });
  const base = (await app.listen(0)).replace(/^http/, 'ws');
  const clients = [await open(`${base}/stay`), await open(`${base}/stay`), await open(`${base}/stay`)];
  await sleep(50);
  await app.close();
  for (const c of clients) assert.equal((await c.closed).code, 1001);
  assert.deepEqual(closes, [1001, 1001, 1001]);
  assert.equal(app.publish('room', 'x'), false, 'publishing after close reaches nobody');
});

test('permessage-deflate is negotiated and messages round-trip compressed', async (t) => {
  const { base } = await serve(t, (app) => app.ws('/deflate', {
    compression: { threshold: 16 },
    message(ws, message, isBinary) {
      ws.send(message, isBinary);
    },
  }));
  const c = await open(`${base}/deflate`, { perMessageDeflate: true });
  assert.match(c.ws.extensions, /permessage-deflate/);
  const text = 'the quick brown fox jumps over the lazy dog. '.repeat(4000);  // 180 KB
  const binary = Buffer.alloc(200 * KIB, 7);
  const readBefore = c.ws._socket.bytesRead;
  c.ws.send(text);
  c.ws.send(binary);
  await until(() => c.messages.length === 2, 'both echoes');
  assert.equal(c.messages[0][0], text);
  assert.ok(c.messages[1][0].equals(binary));
  const read = c.ws._socket.bytesRead - readBefore;
  assert.ok(read < 40 * KIB, `the echoes crossed compressed (${read} bytes for ${text.length + binary.length})`);

  const plain = await open(`${base}/deflate`, { perMessageDeflate: false });
  assert.equal(plain.ws.extensions, '');
  plain.ws.send('works uncompressed too');
  await until(() => plain.messages.length === 1, 'the echo');
  c.ws.close();
  plain.ws.close();
});

test('a route without compression does not negotiate it', async (t) => {
  const { base } = await serve(t, (app) => app.ws('/plain', { message: (ws, m) => ws.send(m) }));
  const c = await open(`${base}/plain`, { perMessageDeflate: true });
  assert.equal(c.ws.extensions, '');
  c.ws.close();
});

test('subprotocols: the client\'s first choice among those the server speaks', async (t) => {
  let chosen = null;
  const { base } = await serve(t, (app) => app.ws('/proto', {
    subprotocols: ['chat.v2', 'chat.v1'],
    open(ws) {
      chosen = ws.protocol;
    },
  }));
  const c = await open(`${base}/proto`, ['chat.v0', 'chat.v1', 'chat.v2']);
  assert.equal(c.ws.protocol, 'chat.v1');
  await until(() => chosen !== null, 'open');
  assert.equal(chosen, 'chat.v1');
  c.ws.close();
});

test('idle timeout: a silent client is closed (1001); with automatic pings a live one stays', async (t) => {
  const closes = [];
  const { base } = await serve(t, (app) => {
    app.ws('/quiet', { idleTimeout: 1, sendPingsAutomatically: false, close: (ws, code) => closes.push(code) });
    // A ping at half the timeout; the client has the other half to answer (a loaded machine,
    // a sanitizer build: leave it time).
    app.ws('/pinged', { idleTimeout: 3 });
  });
  const started = Date.now();
  const quiet = await open(`${base}/quiet`);
  quiet.ws.pong = () => {};  // never answers anything (no pings come anyway)
  const { code } = await quiet.closed;
  assert.equal(code, 1001);
  assert.ok(Date.now() - started >= 900, 'not before the timeout');
  await until(() => closes.length === 1, 'the close handler');
  assert.equal(closes[0], 1001);

  const live = await open(`${base}/pinged`);
  let pings = 0;
  live.ws.on('ping', () => pings++);
  await sleep(4500);
  assert.ok(pings >= 1, 'the server pinged the idle client');
  assert.equal(live.ws.readyState, WebSocket.OPEN, 'the client answered with pongs and stays open');
  live.ws.close();
});

test('app.ws() checks its options when called', () => {
  const app = createApp();
  assert.throws(() => app.ws('/x', { upgrade: {} }), /upgrade must be a function/);
  assert.throws(() => app.ws('x', {}), /must be a string starting with '\/'/);
  assert.throws(() => app.ws('/x', { mesage() {} }), /unknown option mesage/);
  assert.throws(() => app.ws('/x', { message: 1 }), /message must be a function/);
  assert.throws(() => app.ws('/x', { maxPayload: 0 }), /maxPayload must be an integer/);
  assert.throws(() => app.ws('/x', { compression: { level: 12 } }), /compression.level/);
  app.ws('/x', {});
  assert.throws(() => app.ws('/x', {}), /exists already/);
  return app.close();
});

test('a WebSocket route answers a plain GET (no upgrade) with 426 or 400, not 200', async (t) => {
  const { app } = await serve(t, (a) => a.ws('/only-ws', {}));
  const r = await request(app.server.url, '/only-ws');
  assert.ok(r.status === 426 || r.status === 400, `status ${r.status}`);
});

// The answer to an upgrade request that was not upgraded: { status, body }.
function refused(url, options) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on('unexpected-response', (req, res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    ws.on('open', () => reject(new Error('the upgrade was accepted')));
    ws.on('error', () => {});
  });
}

test('upgrade hook: sees the request, returns ws.data (sync or async), refuses with an HTTP status', async (t) => {
  const opened = [];
  await capturingErrors(async (lines) => {
    const { base } = await serve(t, (app) => app.ws('/auth', {
      async upgrade(req) {
        const token = req.headers['x-token'];
        await sleep(20);  // an asynchronous check; the request stays readable after it
        if (req.query.fail === 'yes') throw new Error('the check broke');
        if (token !== 'secret') throw httpError(401, 'no valid token');
        return { user: req.query.user, ip: req.ip, path: req.url };
      },
      open(ws) {
        opened.push(ws.data);
        ws.send(`hello ${ws.data.user}`);
      },
    }));
    const ok = await open(`${base}/auth?user=ada`, { headers: { 'x-token': 'secret' } });
    await until(() => ok.messages.length === 1, 'the greeting');
    assert.deepEqual(ok.messages[0], ['hello ada', false]);
    assert.deepEqual(opened, [{ user: 'ada', ip: '127.0.0.1', path: '/auth?user=ada' }]);

    assert.deepEqual(await refused(`${base}/auth?user=eve`, { headers: { 'x-token': 'guess' } }),
      { status: 401, body: 'no valid token\n' });
    const broken = await refused(`${base}/auth?fail=yes`, { headers: { 'x-token': 'secret' } });
    assert.equal(broken.status, 500);
    assert.ok(!broken.body.includes('the check broke'), 'a 500 does not show the error');
    assert.ok(lines.some((l) => l.includes('/auth: the upgrade hook failed') && l.includes('the check broke')), lines.join('\n'));
    assert.equal(opened.length, 1);
    ok.ws.close();
  });
});

test('upgrade hook: a synchronous one, and many upgrades at once each get their own data', async (t) => {
  let n = 0;
  const { base } = await serve(t, (app) => app.ws('/sync', {
    upgrade: (req) => ({ n: n++, name: req.query.name }),
    open(ws) {
      ws.send(`${ws.data.name}`);
    },
  }), { threads: 2 });
  const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => open(`${base}/sync?name=c${i}`)));
  for (let i = 0; i < clients.length; i++) {
    await until(() => clients[i].messages.length === 1, 'the greeting');
    assert.equal(clients[i].messages[0][0], `c${i}`);
  }
  assert.equal(n, 20);
  for (const c of clients) c.ws.close();
});
