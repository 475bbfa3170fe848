'use strict';
// The bridge under the API: pipelined requests answered in order whatever order their async
// handlers finish in, request objects that stay valid across `await` while other requests flow
// through the ring, the release of finished requests, and batches whose responses overflow the
// staging buffer.

const test = require('node:test');
const assert = require('node:assert/strict');
const { lib, rawExchange, request, sleep } = require('./fixtures/helpers.cjs');

const { createApp } = lib();

function get(path, extra = '') {
  return `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
}

test('pipelined requests whose async handlers finish in reverse order are answered in order', async (t) => {
  const app = createApp({ threads: 2 });
  const finished = [];
  app.get('/delay/:ms', async (req) => {
    const ms = Number(req.params.ms);
    await sleep(ms);
    finished.push(ms);
    return `waited ${ms}`;
  });
  app.get('/now', () => 'now');
  app.fixed('GET', '/fixed', { body: 'fixed' });
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  const port = Number(new URL(base).port);
  const raw = get('/delay/150') + get('/delay/80') + get('/now') + get('/fixed') + get('/delay/0') + get('/missing');
  const responses = await rawExchange(port, raw, 6);
  assert.deepEqual(responses.map((r) => r.text),
    ['waited 150', 'waited 80', 'now', 'fixed', 'waited 0', 'Not Found\n']);
  assert.deepEqual(finished, [0, 80, 150], 'the handlers did finish in reverse order');
});

test('a request stays valid across awaits while other requests flow through the ring', async (t) => {
  const app = createApp({ threads: 2 });
  app.post('/hold/:id', async (req) => {
    // Nothing is read before the first await: the record must have been copied out of the ring.
    await sleep(20);
    await sleep(5);
    const early = req.headers['x-tag'];
    await new Promise((r) => setImmediate(r));
    await sleep(10);
    return {
      id: req.params.id, tag: early, q: req.query.q, url: req.url, method: req.method,
      body: req.body.toString(), text: await req.text(),
    };
  });
  app.get('/filler/:n', (req) => `filler ${req.params.n} ${req.headers['x-fill']}`);
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  const holds = [];
  for (let i = 0; i < 20; i++) {
    holds.push(request(base, `/hold/h${i}?q=${i}`, {
      method: 'POST', headers: { 'x-tag': `tag-${i}` }, body: `body-${i}-${'z'.repeat(i * 50)}`,
    }));
  }
  const fillers = [];
  for (let i = 0; i < 400; i++) {
    fillers.push(fetch(`${base}/filler/${i}`, { headers: { 'x-fill': `f${i}` } }).then((r) => r.text()));
  }
  const filled = await Promise.all(fillers);
  filled.forEach((text, i) => assert.equal(text, `filler ${i} f${i}`));
  const held = await Promise.all(holds);
  held.forEach((r, i) => {
    const body = `body-${i}-${'z'.repeat(i * 50)}`;
    assert.deepEqual(JSON.parse(r.text), {
      id: `h${i}`, tag: `tag-${i}`, q: String(i), url: `/hold/h${i}?q=${i}`, method: 'POST', body, text: body,
    });
  });
});

test('a finished request is released: later reads throw instead of returning other bytes', async (t) => {
  const app = createApp({ threads: 1 });
  let captured = null;
  app.get('/sync', (req) => {
    captured = req;
    void req.path;  // read now: stays readable
    return 'done';
  });
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  assert.equal((await request(base, '/sync')).text, 'done');
  await request(base, '/sync?again');  // the next pull releases the first batch
  // `captured` is now the second request, released after its batch when the third arrives
  const second = captured;
  await request(base, '/sync');
  assert.equal(second.path, '/sync');
  assert.throws(() => second.headers, /released after its response was sent/);
});

test('responses that overflow the staging buffer within one batch are flushed and all arrive', async (t) => {
  const app = createApp({ threads: 1 });
  app.get('/chunk/:i', (req) => `${req.params.i}:`.padEnd(60 * 1024, 'c'));
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  const port = Number(new URL(base).port);
  let raw = '';
  for (let i = 0; i < 12; i++) raw += get(`/chunk/${i}`);
  const responses = await rawExchange(port, raw, 12, 10000);
  responses.forEach((r, i) => {
    assert.equal(r.status, 200);
    assert.equal(r.text.length, 60 * 1024);
    assert.ok(r.text.startsWith(`${i}:`));
  });
});
