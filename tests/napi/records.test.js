'use strict';
// The record formats of napi/PROTOCOL.md as the JavaScript layer reads and writes them, checked
// against records built and decoded here by hand from the PROTOCOL tables (DataView, explicit
// offsets), without the native binding.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { LIB } = require('./fixtures/helpers.cjs');

const { Request } = require(path.join(LIB, 'request.cjs'));
const { encodeRequestRecord, Staging, decodeComponent, parseQuery } = require(path.join(LIB, 'records.cjs'));

// A request record laid out by hand at `base` inside a larger buffer (as in a ring).
function handRecord(base) {
  const buf = Buffer.alloc(base + 512, 0xee);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  const strings = [];
  let pos = 112 + 16 * (2 + 4);  // 2 params, 4 headers
  const str = (s) => {
    const at = pos;
    buf.write(s, base + pos, 'latin1');
    pos += Buffer.byteLength(s, 'latin1');
    strings.push(s);
    return [at, Buffer.byteLength(s, 'latin1')];
  };
  const target = str('/u/caf%C3%A9/x+y%2Fz?a=1&b=x+y%20z&a=2&e&%C3%A9=%E2%82%AC');
  const entries = [
    ['id', 'caf%C3%A9'], ['rest', 'x+y%2Fz'],
    ['Content-Type', 'application/json'], ['X-Dup', 'one'], ['x-dup', 'two'], ['Set-Cookie', 'a=1'],
  ];
  // one more set-cookie would need a 7th entry: keep 4 headers, test set-cookie as an array of 1
  const offsets = entries.map(([n, v]) => [str(n), str(v)]);
  const body = str('{"k":[1,2,3]}');
  dv.setUint32(base + 0, 11, true);  // ticket
  dv.setUint32(base + 4, 22, true);
  dv.setUint32(base + 8, 33, true);
  dv.setUint32(base + 12, 44, true);
  dv.setUint32(base + 16, 5, true);  // handler id
  dv.setUint8(base + 20, 2);  // POST
  dv.setUint8(base + 21, 0);  // HTTP/1.0
  dv.setUint8(base + 22, 2);  // P
  dv.setUint8(base + 23, 1);
  dv.setUint32(base + 24, 4, true);  // H
  dv.setUint32(base + 28, body[1], true);
  dv.setUint32(base + 32, target[0], true);
  dv.setUint32(base + 36, target[1], true);
  const q = '/u/caf%C3%A9/x+y%2Fz'.length;
  dv.setUint32(base + 40, target[0], true);
  dv.setUint32(base + 44, q, true);
  dv.setUint32(base + 48, target[0] + q + 1, true);
  dv.setUint32(base + 52, target[1] - q - 1, true);
  dv.setUint32(base + 56, body[0], true);
  dv.setUint32(base + 60, pos, true);
  offsets.forEach(([n, v], i) => {
    const e = base + 112 + 16 * i;
    dv.setUint32(e, n[0], true);
    dv.setUint32(e + 4, n[1], true);
    dv.setUint32(e + 8, v[0], true);
    dv.setUint32(e + 12, v[1], true);
  });
  return buf;
}

function requestAt(buf, base) {
  const u32 = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
  return new Request(buf, u32, base, 0, { path: '/u/:id/*', config: {} }, 'POST', 1);
}

test('a request record is decoded field by field, lazily, from where it lies', async () => {
  const buf = handRecord(256);
  const req = requestAt(buf, 256);
  assert.equal(req._headers, undefined);
  assert.equal(req._params, undefined);
  assert.equal(req._query, undefined);
  assert.equal(req.url, '/u/caf%C3%A9/x+y%2Fz?a=1&b=x+y%20z&a=2&e&%C3%A9=%E2%82%AC');
  assert.equal(req.path, '/u/caf%C3%A9/x+y%2Fz');
  assert.equal(req.querystring, 'a=1&b=x+y%20z&a=2&e&%C3%A9=%E2%82%AC');
  assert.equal(req.httpVersion, '1.0');
  assert.equal(req._headers, undefined, 'headers are decoded only when read');
  // params: percent-decoded, '+' stays '+' (a path), %2F decoded after matching
  assert.deepEqual({ ...req.params }, { id: 'café', rest: 'x+y/z' });
  const query = req.query;
  assert.equal(Object.getPrototypeOf(query), null);
  assert.deepEqual({ ...query }, { a: ['1', '2'], b: 'x y z', e: '', é: '€' });
  const h = req.headers;
  assert.equal(h['content-type'], 'application/json');
  assert.equal(h['x-dup'], 'one, two');
  assert.deepEqual(h['set-cookie'], ['a=1']);
  assert.equal(req.header('X-DUP'), 'one, two');
  assert.equal(req.header('missing'), undefined);
  assert.equal(req.body.toString(), '{"k":[1,2,3]}');
  assert.deepEqual(await req.json(), { k: [1, 2, 3] });
  assert.equal(await req.text(), '{"k":[1,2,3]}');
});

test('retain() copies the record out; detach() makes unread fields throw', () => {
  const buf = handRecord(64);
  const req = requestAt(buf, 64);
  const url = req.url;
  req._retain();
  buf.fill(0);  // the ring slot is reused
  assert.equal(req.url, url);
  assert.equal(req.params.id, 'café');
  assert.equal(req.headers['x-dup'], 'one, two');
  assert.equal(req.body.length, 13);

  const other = requestAt(handRecord(0), 0);
  const seen = other.path;
  other._detach();
  assert.equal(other.path, seen, 'a field read before stays readable');
  assert.throws(() => other.headers, /released after its response was sent/);
  assert.throws(() => other.body, /released/);
});

test('encodeRequestRecord() writes the PROTOCOL layout (read back by hand)', () => {
  const body = Buffer.from('hello');
  const rec = encodeRequestRecord({
    ticket: [1, 2, 3, 4], handler: 9, method: 8, target: '/p/v?x=1',
    params: [['id', 'v']], headers: [['Host', 'h'], ['A', 'b']], body,
  });
  const dv = new DataView(rec.buffer, rec.byteOffset, rec.length);
  const u32 = (o) => dv.getUint32(o, true);
  const s = (o, n) => rec.toString('latin1', o, o + n);
  assert.deepEqual([u32(0), u32(4), u32(8), u32(12), u32(16)], [1, 2, 3, 4, 9]);
  assert.deepEqual([rec[20], rec[21], rec[22], rec[23]], [8, 1, 1, 1]);
  assert.equal(u32(24), 2);
  assert.equal(u32(28), 5);
  assert.equal(s(u32(32), u32(36)), '/p/v?x=1');
  assert.equal(s(u32(40), u32(44)), '/p/v');
  assert.equal(s(u32(48), u32(52)), 'x=1');
  assert.equal(s(u32(56), 5), 'hello');
  assert.equal(u32(60), 112 + 3 * 16 + 8 + 3 + 5 + 2 + 5);
  assert.deepEqual([u32(104), u32(108)], [0, 0], 'no method name: the method is one the engine names');
  assert.deepEqual([rec[69], dv.getUint16(70, true)], [0, 0], 'not an engine answer');
  assert.equal(rec.length % 8, 0);
  const entry = (i) => [s(u32(112 + 16 * i), u32(116 + 16 * i)), s(u32(120 + 16 * i), u32(124 + 16 * i))];
  assert.deepEqual([entry(0), entry(1), entry(2)], [['id', 'v'], ['Host', 'h'], ['A', 'b']]);
});

// Response records decoded by hand from PROTOCOL.md's table.
function decodeResponses(ab, staged) {
  const buf = Buffer.from(ab);
  const dv = new DataView(ab);
  const out = [];
  for (let p = 0; p < staged;) {
    const length = dv.getUint32(p, true);
    assert.equal(length % 8, 0);
    assert.equal(p % 8, 0);
    const r = {
      worker: dv.getUint16(p + 4, true), status: dv.getUint16(p + 6, true),
      ticket: [0, 1, 2, 3].map((i) => dv.getUint32(p + 8 + 4 * i, true)),
      headers: [], kind: dv.getUint32(p + 36, true), stash: dv.getUint32(p + 40, true),
      flags: dv.getUint32(p + 44, true),
    };
    const count = dv.getUint32(p + 24, true);
    const block = dv.getUint32(p + 28, true);
    const bodyLength = dv.getUint32(p + 32, true);
    let h = p + 48;
    for (let i = 0; i < count; i++) {
      const n = dv.getUint16(h, true);
      const v = dv.getUint16(h + 2, true);
      r.headers.push([buf.toString('latin1', h + 4, h + 4 + n), buf.toString('latin1', h + 4 + n, h + 4 + n + v)]);
      h += 4 + n + v;
    }
    assert.equal(h - p - 48, block);
    r.bodyLength = bodyLength;
    r.body = r.kind === 0 ? buf.toString('utf8', h, h + bodyLength) : null;
    assert.ok(48 + block + (r.kind === 0 ? bodyLength : 0) <= length);
    out.push(r);
    p += length;
  }
  return out;
}

test('Staging.write() appends response records in the PROTOCOL layout', () => {
  const ab = new ArrayBuffer(4096);
  const st = new Staging(ab);
  const ticket = new Uint32Array([0, 7, 8, 9, 10]);
  assert.ok(st.write(3, ticket, 1, 201, 0, 'text/plain; charset=utf-8', { 'x-a': 'b', 'set-cookie': ['c=1', 'd=2'], 'x-n': 5 },
    'héllo €', 0, 0));
  assert.ok(st.write(0, ticket, 1, 204, 1, null, null, null, 0, 0));
  assert.ok(st.write(1, ticket, 1, 200, 0, null, null, Buffer.from([1, 2, 3]), 0, 0));
  assert.ok(st.write(1, ticket, 1, 200, 0, 'application/octet-stream', null, null, 42, 100000));
  const rs = decodeResponses(ab, st.pos);
  assert.equal(rs.length, 4);
  assert.deepEqual(rs[0], {
    worker: 3, status: 201, ticket: [7, 8, 9, 10], kind: 0, stash: 0, flags: 0, bodyLength: 10,
    headers: [['content-type', 'text/plain; charset=utf-8'], ['x-a', 'b'], ['set-cookie', 'c=1'],
      ['set-cookie', 'd=2'], ['x-n', '5']],
    body: 'héllo €',
  });
  assert.equal(rs[1].status, 204);
  assert.equal(rs[1].flags, 1);
  assert.equal(rs[1].bodyLength, 0);
  assert.equal(rs[2].bodyLength, 3);
  assert.deepEqual([rs[3].kind, rs[3].stash, rs[3].bodyLength, rs[3].body], [1, 42, 100000, null]);
});

test('Staging.write() refuses a record that does not fit, and throws when it never can', () => {
  const st = new Staging(new ArrayBuffer(4096));
  const t = new Uint32Array(4);
  assert.ok(st.write(0, t, 0, 200, 0, null, null, 'x'.repeat(1000), 0, 0));
  const before = st.pos;
  assert.equal(st.write(0, t, 0, 200, 0, null, null, 'y'.repeat(1500), 0, 0), false);
  assert.equal(st.pos, before, 'nothing written');
  st.pos = 0;
  assert.throws(() => st.write(0, t, 0, 200, 0, null, null, 'z'.repeat(5000), 0, 0), RangeError);
  assert.throws(() => st.write(0, t, 0, 200, 0, null, { 'x-big': 'v'.repeat(70000) }, null, 0, 0), RangeError);
});

test('percent-decoding and query parsing', () => {
  const d = (s, plus) => {
    const b = Buffer.from(s, 'latin1');
    return decodeComponent(b, 0, b.length, plus);
  };
  assert.equal(d('plain', false), 'plain');
  assert.equal(d('a%20b+c', false), 'a b+c');
  assert.equal(d('a%20b+c', true), 'a b c');
  assert.equal(d('%E2%82%AC', false), '€');
  assert.equal(d('100%', false), '100%');
  assert.equal(d('%zz%4', false), '%zz%4');
  assert.equal(d('%C3', false), '\ufffd');
  const q = (s) => {
    const b = Buffer.from(s, 'latin1');
    return { ...parseQuery(b, 0, b.length) };
  };
  assert.deepEqual(q(''), {});
  assert.deepEqual(q('a=1&&b&c=&a=2&a=3'), { a: ['1', '2', '3'], b: '', c: '' });
  assert.deepEqual(q('k%20x=v%3Dw&x=a+b'), { 'k x': 'v=w', x: 'a b' });
  assert.deepEqual(q('__proto__=1'), { ['__proto__']: '1' });
});
