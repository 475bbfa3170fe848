'use strict';
// napi/lib/ws.cjs against PROTOCOL.md's WebSocket records, without the engine: event records
// built as a worker writes them (encodeEventRecord) go through WsHub.record(), and the
// operations it stages are read back from the staging buffer. Covers what the socket tests reach
// only by chance: a message in pieces cut inside a UTF-8 sequence, two live sockets whose ids
// share their low half, the upgrade data carried by the open event, and send()'s accounting.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { LIB } = require('./fixtures/helpers.cjs');

const {
  WsHub, OP, EV, FLAG_WS, SENT, BACKPRESSURE, DROPPED, BACKLOG_LIMIT, BACKLOG_AT,
} = require(path.join(LIB, 'ws.cjs'));
const { Staging, encodeEventRecord } = require(path.join(LIB, 'records.cjs'));

function fakeApp() {
  const logged = [];
  const state = {
    handle: {}, started: true, stoppedSeen: false,
    staging: new Staging(new ArrayBuffer(256 * 1024)),
    index: new Uint32Array(BACKLOG_AT + 64),  // the pull index, then each worker's backlog
    errorLog: { log: (what, err) => logged.push(`${what}: ${err.message}`) },
    scheduleFlush() {},
  };
  return { state, logged, hub: new WsHub(state) };
}

function feed(hub, worker, record) {
  const u32 = new Uint32Array(record.buffer, record.byteOffset, record.length >>> 2);
  hub.record(worker, record, u32, 0);
}

function openData(port = 4242, protocol = '') {
  const d = Buffer.alloc(20 + Buffer.byteLength(protocol));
  d.writeUInt16LE(port, 0);
  d[2] = 4;
  d.set([10, 0, 0, 7], 4);
  d.write(protocol, 20);
  return d;
}

// The operations staged so far: { worker, op, lo, hi, arg, topicLength, body, flags }.
function staged(state) {
  const s = state.staging;
  const out = [];
  for (let p = 0; p < s.pos;) {
    const w = p >>> 2;
    out.push({
      worker: s.u16[(p >>> 1) + 2], op: s.u16[(p >>> 1) + 3], lo: s.u32[w + 2], hi: s.u32[w + 3],
      arg: s.u32[w + 4], topicLength: s.u32[w + 5],
      body: s.u8.subarray(p + 48, p + 48 + s.u32[w + 8]).toString('latin1'), flags: s.u32[w + 11],
    });
    p += s.u32[w];
  }
  s.pos = 0;
  return out;
}

test('open, messages (whole and in pieces cut inside a UTF-8 sequence), close', () => {
  const { hub, state } = fakeApp();
  const seen = [];
  hub.add('/r', {
    open(ws) { seen.push(['open', ws.remoteAddress, ws.remotePort, ws.protocol]); },
    message(ws, m, isBinary) { seen.push(['message', m, isBinary]); },
    close(ws, code, reason) { seen.push(['close', code, reason]); },
  });
  feed(hub, 1, encodeEventRecord({ ticket: [5, 0x01000002, 0, 0], type: EV.OPEN, data: openData(4242, 'chat') }));
  const text = Buffer.from('héllo ✓');  // é and ✓ are 2 and 3 bytes
  feed(hub, 1, encodeEventRecord({ ticket: [5, 0x01000002, 0, 0], type: EV.PIECE, data: text.subarray(0, 2) }));
  feed(hub, 1, encodeEventRecord({ ticket: [5, 0x01000002, 0, 0], type: EV.PIECE, data: text.subarray(2, 8) }));
  feed(hub, 1, encodeEventRecord({ ticket: [5, 0x01000002, 0, 0], type: EV.MESSAGE, data: text.subarray(8) }));
  feed(hub, 1, encodeEventRecord({ ticket: [5, 0x01000002, 0, 1], type: EV.MESSAGE, data: Buffer.from([1, 2]) }));
  // Another worker's socket with the same id gets nothing of it.
  feed(hub, 0, encodeEventRecord({ ticket: [5, 0x01000002, 0, 0], type: EV.MESSAGE, data: Buffer.from('lost') }));
  const close = Buffer.alloc(5);
  close.writeUInt16LE(4000, 0);
  close.write('bye', 2);
  feed(hub, 1, encodeEventRecord({ ticket: [5, 0x01000002, 0, 0], type: EV.CLOSE, data: close }));
  feed(hub, 1, encodeEventRecord({ ticket: [5, 0x01000002, 0, 0], type: EV.MESSAGE, data: Buffer.from('late') }));
  assert.deepEqual(seen, [
    ['open', '10.0.0.7', 4242, 'chat'], ['message', 'héllo ✓', false], ['message', Buffer.from([1, 2]), true],
    ['close', 4000, 'bye'],
  ]);
  assert.equal(hub.count, 0);
  assert.deepEqual(staged(state), []);
});

test('two live sockets of one worker whose ids share the low half stay apart', () => {
  const { hub } = fakeApp();
  const got = [];
  hub.add('/r', { open(ws) { ws.data.name = ws.remotePort; }, message(ws, m) { got.push(`${ws.data.name}:${m}`); } });
  feed(hub, 0, encodeEventRecord({ ticket: [9, 1, 0, 0], type: EV.OPEN, data: openData(1) }));
  feed(hub, 0, encodeEventRecord({ ticket: [9, 2, 0, 0], type: EV.OPEN, data: openData(2) }));
  feed(hub, 0, encodeEventRecord({ ticket: [9, 2, 0, 0], type: EV.MESSAGE, data: Buffer.from('b') }));
  feed(hub, 0, encodeEventRecord({ ticket: [9, 1, 0, 0], type: EV.MESSAGE, data: Buffer.from('a') }));
  feed(hub, 0, encodeEventRecord({ ticket: [9, 1, 0, 0], type: EV.CLOSE, data: Buffer.from([0xe8, 0x03]) }));
  feed(hub, 0, encodeEventRecord({ ticket: [9, 2, 0, 0], type: EV.MESSAGE, data: Buffer.from('c') }));
  feed(hub, 0, encodeEventRecord({ ticket: [9, 1, 0, 0], type: EV.MESSAGE, data: Buffer.from('gone') }));
  assert.deepEqual(got, ['2:b', '1:a', '2:c']);
  assert.equal(hub.count, 1);
  hub.closeAll();
  assert.equal(hub.count, 0);
});

test('operations are staged with flag bit 10 for the socket\'s worker and id', () => {
  const { hub, state } = fakeApp();
  let sock = null;
  hub.add('/r', { open(ws) { sock = ws; } });
  feed(hub, 3, encodeEventRecord({ ticket: [7, 8, 0, 0], type: EV.OPEN, data: openData() }));
  assert.equal(sock.send('hi'), SENT);
  assert.equal(sock.send(new Uint8Array([1, 2]), true, false), SENT);
  assert.equal(sock.subscribe('room'), true);
  assert.equal(sock.subscribe('room'), true);  // once on the wire
  assert.equal(sock.publish('room', 'all'), true);
  assert.equal(sock.unsubscribe('room'), true);
  sock.end(4001, 'done');
  assert.equal(sock.send('after'), DROPPED);
  assert.equal(hub.publishAll('room', Buffer.from('x')), true);
  const ops = staged(state);
  assert.ok(ops.every((o) => o.flags === FLAG_WS));
  assert.deepEqual(ops.map((o) => [o.worker, o.op, o.lo, o.hi, o.arg, o.topicLength, o.body]), [
    [3, OP.SEND, 7, 8, 2, 0, 'hi'],
    [3, OP.SEND, 7, 8, 1, 0, '\x01\x02'],
    [3, OP.SUBSCRIBE, 7, 8, 0, 0, 'room'],
    [3, OP.PUBLISH, 7, 8, 2, 4, 'roomall'],
    [3, OP.UNSUBSCRIBE, 7, 8, 0, 0, 'room'],
    [3, OP.END, 7, 8, 4001, 0, 'done'],
    [0, OP.PUBLISH_ALL, 0, 0, 3, 4, 'roomx'],
  ]);
});

test('send(): BACKPRESSURE when the bound reaches the limit (one check staged), DROPPED beyond it, SENT again after drain', () => {
  const { hub, state } = fakeApp();
  let sock = null;
  const drains = [];
  hub.add('/r', { maxBackpressure: 100, open(ws) { sock = ws; }, drain() { drains.push(sock.getBufferedAmount()); } });
  feed(hub, 0, encodeEventRecord({ ticket: [1, 1, 0, 0], type: EV.OPEN, data: openData() }));
  const m = 'x'.repeat(40);
  assert.equal(sock.send(m), SENT);
  assert.equal(sock.send(m), SENT);
  assert.equal(sock.send(m), BACKPRESSURE);  // 120 >= 100: queued, a check asks the worker
  assert.equal(sock.send(m), DROPPED);       // the bound is at the limit: not handed over
  assert.equal(sock.getBufferedAmount(), 120);
  let ops = staged(state);
  assert.deepEqual(ops.map((o) => o.op), [OP.SEND, OP.SEND, OP.SEND, OP.CHECK]);
  // The worker applied the three (120 bytes) and 90 of them are still unsent: over the limit.
  const report = (buffered, applied) => {
    const d = Buffer.alloc(8);
    d.writeUInt32LE(buffered, 0);
    d.writeUInt32LE(applied, 4);
    return d;
  };
  feed(hub, 0, encodeEventRecord({ ticket: [1, 1, 0, 0], type: EV.BACKPRESSURE, data: report(90, 120) }));
  assert.equal(sock.getBufferedAmount(), 90);
  assert.equal(sock.send('y'.repeat(5)), BACKPRESSURE);  // under the limit, but a drain is due
  feed(hub, 0, encodeEventRecord({ ticket: [1, 1, 0, 0], type: EV.DRAIN, data: report(0, 125) }));
  assert.deepEqual(drains, [0]);
  assert.equal(sock.send(m), SENT);
  ops = staged(state);
  assert.deepEqual(ops.map((o) => o.op), [OP.SEND, OP.SEND]);
});

test('a worker whose backlog is at its bound: send() says DROPPED (one check staged, a drain follows), publish() false', () => {
  const { hub, state } = fakeApp();
  let sock = null;
  const drains = [];
  hub.add('/r', { open(ws) { sock = ws; }, drain() { drains.push(true); } });
  feed(hub, 1, encodeEventRecord({ ticket: [5, 6, 0, 0], type: EV.OPEN, data: openData() }));
  state.index[BACKLOG_AT + 1] = BACKLOG_LIMIT - 1;
  assert.equal(sock.send('a'), SENT);
  assert.equal(sock.publish('t', 'b'), true);
  state.index[BACKLOG_AT + 1] = BACKLOG_LIMIT;
  assert.equal(sock.send('c'), DROPPED);
  assert.equal(sock.send('d'), DROPPED);
  assert.equal(sock.publish('t', 'e'), false);
  assert.equal(hub.publishAll('t', 'f'), true);  // worker 0's backlog is another's
  state.index[BACKLOG_AT] = BACKLOG_LIMIT + 5;
  assert.equal(hub.publishAll('t', 'g'), false);
  let ops = staged(state);
  assert.deepEqual(ops.map((o) => [o.worker, o.op, o.body]), [
    [1, OP.SEND, 'a'], [1, OP.PUBLISH, 'tb'], [1, OP.CHECK, ''], [0, OP.PUBLISH_ALL, 'tf'],
  ]);
  // The worker caught up and answered the check: sending works again.
  state.index[BACKLOG_AT + 1] = 0;
  const report = Buffer.alloc(8);
  report.writeUInt32LE(1, 4);
  feed(hub, 1, encodeEventRecord({ ticket: [5, 6, 0, 0], type: EV.DRAIN, data: report }));
  assert.deepEqual(drains, [true]);
  assert.equal(sock.send('h'), SENT);
  ops = staged(state);
  assert.deepEqual(ops.map((o) => [o.op, o.body]), [[OP.SEND, 'h']]);
});

test('an upgrade\'s data reaches the socket through the number in its open event', () => {
  const { hub, state } = fakeApp();
  const route = hub.add('/r', { upgrade: () => ({}), open(ws) { opened.push(ws.data); } });
  const opened = [];
  const req = (slot, generation) => ({ _worker: 2, _off: 0, _u32: new Uint32Array([slot, generation, 0, 0]), _running: 0 });
  route.behaviour.upgrade = (r) => ({ user: `u${r._u32[0]}` });
  hub.upgrade(route, req(4, 9), {});
  route.behaviour.upgrade = () => { throw Object.assign(new Error('who are you'), { statusCode: 401 }); };
  hub.upgrade(route, req(5, 1), {});
  const ops = staged(state);
  assert.deepEqual(ops.map((o) => [o.worker, o.op, o.lo, o.hi, o.body]), [
    [2, OP.ACCEPT, 4, 9, ''], [2, OP.REFUSE, 5, 1, 'who are you\n'],
  ]);
  assert.equal(ops[1].arg, 401);
  feed(hub, 2, encodeEventRecord({ ticket: [77, 1, route.id, ops[0].arg], type: EV.OPEN, data: openData() }));
  assert.deepEqual(opened, [{ user: 'u4' }]);
  assert.equal(hub.accepted.size, 0);
});
