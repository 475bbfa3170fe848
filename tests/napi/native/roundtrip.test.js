'use strict';
// The bridge end to end over the raw binding (napi/PROTOCOL.md): request records as JS sees
// them, response records framed by the worker, fixed routes served without JS, ordering of
// pipelined answers, stashed bodies, invalid answers.
const test = require('node:test');
const assert = require('node:assert/strict');
const { rawServer, binding } = require('./support/raw-bridge.js');
const { exchange, parseResponses } = require('./support/http-client.js');

const ROUTES = [
  { method: 'GET', path: '/hello/:name', id: 1 },
  { method: 'POST', path: '/echo', id: 2 },
  { method: 'GET', path: '/slow/:n', id: 3 },
  { method: 'GET', path: '/big', id: 4 },
  { method: 'GET', path: '/bad', id: 5 },
  { method: 'ALL', path: '/any', id: 6 },
  {
    method: 'GET',
    path: '/health',
    fixed: { status: 200, headers: [['Content-Type', 'text/plain'], ['X-Fixed', '1']], body: Buffer.from('ok\n') },
  },
];

function start(handler, extra = {}) {
  const srv = rawServer({ host: '127.0.0.1', port: 0, threads: 1, pinThreads: false, routes: ROUTES, ...extra }, handler);
  const info = srv.start();
  return { srv, port: info.port, info };
}

test('start() reports the bound port, address and thread count', async () => {
  const { srv, info } = start(() => {});
  assert.equal(info.address, '127.0.0.1');
  assert.ok(info.port > 0);
  assert.equal(info.threads, 1);
  assert.equal(binding.requestViews(srv.handle).length, 1);
  assert.ok(binding.requestViews(srv.handle)[0].byteLength >= 4 * 1024 * 1024);
  assert.equal(binding.staging(srv.handle).byteLength, 256 * 1024);
  assert.ok(binding.index(srv.handle) instanceof Uint32Array);
  await srv.close();
});

test('a fixed route is answered by the engine without calling drain()', async () => {
  const { srv, port } = start(() => assert.fail('no JS handler runs for a fixed route'));
  const text = await exchange(port, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const [res] = parseResponses(text);
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/plain');
  assert.equal(res.headers['x-fixed'], '1');
  assert.equal(res.body, 'ok\n');
  assert.equal(srv.drains, 0);
  await srv.close();
});

test('a JS route sees the request record and its answer goes out on the wire', async () => {
  const seen = [];
  const { srv, port } = start((req, respond) => {
    seen.push(req);
    respond({ status: 201, headers: [['Content-Type', 'text/plain'], ['X-Name', req.params.name]], body: `hi ${req.params.name}` });
  });
  const text = await exchange(port, 'GET /hello/ada?x=1&y=2 HTTP/1.1\r\nHost: example\r\nX-Custom: Value 1\r\nConnection: close\r\n\r\n');
  const [res] = parseResponses(text);
  assert.equal(res.head[0], 'HTTP/1.1 201 Created');
  assert.equal(res.headers['x-name'], 'ada');
  assert.equal(res.headers['content-type'], 'text/plain');
  assert.equal(res.headers.connection, 'close');
  assert.equal(res.body, 'hi ada');
  assert.equal(seen.length, 1);
  const req = seen[0];
  assert.equal(req.handler, 1);
  assert.equal(req.method, 'GET');
  assert.equal(req.minor, 1);
  assert.equal(req.keepAlive, false);
  assert.equal(req.target, '/hello/ada?x=1&y=2');
  assert.equal(req.path, '/hello/ada');
  assert.equal(req.query, 'x=1&y=2');
  assert.deepEqual(req.params, { name: 'ada' });
  assert.deepEqual(req.headers, [['Host', 'example'], ['X-Custom', 'Value 1'], ['Connection', 'close']]);
  assert.equal(req.body.length, 0);
  assert.equal(req.recordLength % 1, 0);
  assert.deepEqual([req.engineAnswer, req.engineStatus], [false, 0]);
  await srv.close();
});

test('engineAnswers: 405, OPTIONS and 413 arrive as engine answers (flag bit 1, the status)', async () => {
  const seen = [];
  const { srv, port } = start((req, respond) => {
    seen.push(req);
    respond({ status: 418, headers: [['Content-Type', 'text/plain']], body: `app ${req.engineStatus}` });
  }, { engineAnswers: 77, limits: { maxBodySize: 100 } });
  const text = await exchange(port,
    'DELETE /hello/x HTTP/1.1\r\nHost: x\r\n\r\n' +
    'OPTIONS /echo HTTP/1.1\r\nHost: x\r\n\r\n' +
    'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n');
  const rs = parseResponses(text);
  assert.deepEqual(rs.map((r) => r.body), ['app 405', 'app 204', 'app 413']);
  assert.equal(rs[2].headers.connection, 'close', 'the 413 body was not read: the connection ends');
  assert.deepEqual(seen.map((r) => [r.handler, r.engineAnswer, r.engineStatus, r.method, r.body.length]),
    [[77, true, 405, 'DELETE', 0], [77, true, 204, 'OPTIONS', 0], [77, true, 413, 'POST', 0]]);
  await srv.close();
});

test('request bodies arrive whole, chunked ones de-chunked', async () => {
  const { srv, port } = start((req, respond) => respond({ body: Buffer.concat([Buffer.from(`${req.body.length}:`), req.body]) }));
  const body = Buffer.alloc(20000, 'z').toString();
  const text = await exchange(
    port,
    `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
      'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
  );
  const [a, b] = parseResponses(text);
  assert.equal(a.body, `20000:${body}`);
  assert.equal(b.body, '5:abcde');
  await srv.close();
});

test('pipelined requests answered out of order by JS go out in request order', async () => {
  const { srv, port } = start((req, respond) => {
    const n = Number(req.params.n);
    // The first request is answered last.
    setTimeout(() => respond({ body: `answer ${n}` }), (5 - n) * 15);
  });
  let data = '';
  for (let n = 0; n < 5; n++) data += `GET /slow/${n} HTTP/1.1\r\nHost: x\r\n${n === 4 ? 'Connection: close\r\n' : ''}\r\n`;
  const text = await exchange(port, data);
  const bodies = parseResponses(text).map((r) => r.body);
  assert.deepEqual(bodies, ['answer 0', 'answer 1', 'answer 2', 'answer 3', 'answer 4']);
  await srv.close();
});

test('a JS answer keeps its place among fixed answers and the engine\'s own 404', async () => {
  const { srv, port } = start((req, respond) => setTimeout(() => respond({ body: 'late js' }), 30));
  const text = await exchange(
    port,
    'GET /hello/x HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  const res = parseResponses(text);
  assert.deepEqual(res.map((r) => r.status), [200, 200, 404]);
  assert.equal(res[0].body, 'late js');
  assert.equal(res[1].body, 'ok\n');
  await srv.close();
});

test('bodies above 64 KiB travel stashed, whole', async () => {
  const big = Buffer.alloc(300 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  const { srv, port } = start((req, respond) => respond({ headers: [['Content-Type', 'application/octet-stream']], body: big }));
  const text = await exchange(port, 'GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { timeoutMs: 10000 });
  const [res] = parseResponses(text);
  assert.equal(res.status, 200);
  assert.equal(Number(res.headers['content-length']), big.length);
  assert.ok(Buffer.from(res.body, 'latin1').equals(big));
  await srv.close();
});

test('an invalid header from JS becomes a 500, and the server keeps serving', async () => {
  const { srv, port } = start((req, respond) => {
    if (req.handler === 5) respond({ headers: [['Content-Length', '3']], body: 'abc' });
    else respond({ body: 'fine' });
  });
  const text = await exchange(port, 'GET /bad HTTP/1.1\r\nHost: x\r\n\r\nGET /hello/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const res = parseResponses(text);
  assert.equal(res[0].status, 500);
  assert.equal(res[res.length - 1].body, 'fine');
  await srv.close();
});

test('the close flag of a response record closes the connection after it', async () => {
  const { srv, port } = start((req, respond) => respond({ body: 'bye', close: true }));
  const text = await exchange(port, 'GET /hello/a HTTP/1.1\r\nHost: x\r\n\r\n');
  const [res] = parseResponses(text);
  assert.equal(res.body, 'bye');
  assert.equal(res.headers.connection, 'close');
  await srv.close();
});

test("'ALL' routes answer every routable method; HEAD is served by GET without a body", async () => {
  const methods = [];
  const { srv, port } = start((req, respond) => {
    methods.push(req.method);
    respond({ body: `m=${req.method}` });
  });
  let data = '';
  for (const m of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) data += `${m} /any HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`;
  data += 'HEAD /any HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
  const text = await exchange(port, data);
  assert.equal(text.match(/HTTP\/1\.1 200 OK/g).length, 7);
  assert.deepEqual(methods, ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
  assert.ok(text.endsWith('\r\n\r\n'), 'the HEAD answer has no body');
  await srv.close();
});

test('a request JS never answers gets 503 after handlerTimeoutMs', async () => {
  const { srv, port } = start(() => {}, { handlerTimeoutMs: 100 });
  const t0 = Date.now();
  const text = await exchange(port, 'GET /hello/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(parseResponses(text)[0].status, 503);
  assert.ok(Date.now() - t0 >= 90);
  await srv.close();
});

test('malformed response records are refused with an Error naming the problem', async () => {
  const { srv } = start(() => {});
  const dv = new DataView(binding.staging(srv.handle));
  dv.setUint32(0, 40, true); // shorter than the 48-byte header
  assert.throws(() => binding.flush(srv.handle, 48), /staging offset 0/);
  dv.setUint32(0, 48, true);
  dv.setUint16(4, 9, true); // no such worker
  assert.throws(() => binding.flush(srv.handle, 48), /no such worker/);
  dv.setUint16(4, 0, true);
  dv.setUint32(36, 1, true);
  dv.setUint32(40, 77, true); // unknown stash
  assert.throws(() => binding.flush(srv.handle, 48), /unknown stash id/);
  assert.throws(() => binding.flush(srv.handle, 1 << 20), /larger than the staging buffer/);
  await srv.close();
});

test('createServer() rejects invalid routes and config with the rule in the message', () => {
  const drain = () => {};
  assert.throws(() => binding.createServer({ routes: [{ method: 'GET', path: 'nope', id: 1 }] }, drain), /nope/);
  assert.throws(() => binding.createServer({ routes: [{ method: 'BREW', path: '/a', id: 1 }] }, drain), /unknown method 'BREW'/);
  assert.throws(
    () => binding.createServer({ routes: [{ method: 'GET', path: '/a', id: 1 }, { method: 'GET', path: '/a', id: 2 }] }, drain),
    /\/a/,
  );
  assert.throws(() => binding.createServer({ port: 70000 }, drain), /config\.port must be an integer/);
  assert.throws(() => binding.createServer({ routes: [{ method: 'GET', path: '/a' }] }, drain), /either an id/);
  assert.throws(
    () => binding.createServer({ routes: [{ method: 'GET', path: '/a', fixed: { status: 200, headers: [['Bad Name', 'x']] } }] }, drain),
    /route \/a/,
  );
});

test('start() fails with the engine\'s message when the port is taken', async () => {
  const { srv, port } = start(() => {});
  const other = binding.createServer({ host: '127.0.0.1', port, threads: 1, pinThreads: false, routes: [] }, () => {});
  assert.throws(() => binding.start(other), /./);
  binding.destroy(other);
  await srv.close();
});

test('match() routes without a socket', () => {
  const h = binding.createServer({ routes: ROUTES }, () => {});
  assert.deepEqual(binding.match(h, 'GET', '/hello/bob?q=1'), { kind: 'found', id: 1, params: { name: 'bob' } });
  assert.deepEqual(binding.match(h, 'HEAD', '/hello/bob'), { kind: 'found', id: 1, params: { name: 'bob' } });
  const fixed = binding.match(h, 'GET', '/health');
  assert.equal(fixed.kind, 'fixed');
  assert.equal(fixed.status, 200);
  assert.deepEqual(fixed.headers, [['Content-Type', 'text/plain'], ['X-Fixed', '1']]);
  assert.equal(fixed.body.toString(), 'ok\n');
  assert.deepEqual(binding.match(h, 'GET', '/missing'), { kind: 'notFound' });
  assert.deepEqual(binding.match(h, 'DELETE', '/echo'), { kind: 'methodNotAllowed', allow: 'POST, OPTIONS' });
  assert.deepEqual(binding.match(h, 'OPTIONS', '/echo'), { kind: 'options', allow: 'POST, OPTIONS' });
  assert.deepEqual(binding.match(h, 'BREW', '/echo'), { kind: 'notImplemented' });
  binding.destroy(h);
});

test('answers that find the response ring full wait on the JS side and all arrive, in order', async () => {
  // A 4 KiB response ring holds three of these answers: the rest overflow on the JS side and
  // are moved in as the worker consumes (js_wants_room rings the JS doorbell for the retry).
  const { srv, port } = start(
    (req, respond) => respond({ body: `${req.params.name}:`.padEnd(1200, '.') }),
    { __testResponseRingBytes: 4096 },
  );
  let data = '';
  for (let n = 0; n < 200; n++) data += `GET /hello/${n} HTTP/1.1\r\nHost: x\r\n${n === 199 ? 'Connection: close\r\n' : ''}\r\n`;
  const text = await exchange(port, data, { timeoutMs: 10000 });
  const res = parseResponses(text);
  assert.equal(res.length, 200);
  res.forEach((r, n) => assert.ok(r.body.startsWith(`${n}:`), `answer ${n}: ${r.body.slice(0, 10)}`));
  await srv.close();
});
