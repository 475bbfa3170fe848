'use strict';
// Request ids and logging (napi/lib/logger.cjs): genReqId, requestIdHeader, the logger option
// (true, pino options, a pino instance), app.log, req.log with reqId, the request log lines.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Writable } = require('node:stream');
const pino = require('pino');
const { lib, request, until } = require('./fixtures/helpers.cjs');

const { createApp } = lib();

// A pino destination that keeps the parsed lines.
function sink() {
  const lines = [];
  const stream = new Writable({
    write(chunk, enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, stream };
}

test('without id options req.id is a number; requestIdHeader and genReqId as in Fastify 5', async (t) => {
  const plain = createApp({ threads: 1 });
  plain.get('/', (req) => ({ id: req.id }));
  assert.equal(typeof (await plain.inject('/')).json().id, 'number');
  await plain.close();

  let n = 0;
  const app = createApp({ threads: 1, requestIdHeader: 'x-request-id', genReqId: (req) => `gen-${req.method}-${++n}` });
  app.get('/', (req) => ({ id: req.id }));
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  let r = await request(base, '/', { headers: { 'x-request-id': 'from-client' } });
  assert.deepEqual(JSON.parse(r.text), { id: 'from-client' });
  r = await request(base, '/');
  assert.match(JSON.parse(r.text).id, /^gen-GET-\d+$/);
  assert.deepEqual((await app.inject({ url: '/', headers: { 'X-Request-Id': 'inj' } })).json(), { id: 'inj' });

  const headerOnly = createApp({ requestIdHeader: 'request-id' });
  headerOnly.get('/', (req) => ({ id: req.id }));
  assert.match((await headerOnly.inject('/')).json().id, /^req-[0-9a-z]+$/);
  assert.equal((await headerOnly.inject({ url: '/', headers: { 'request-id': 'abc' } })).json().id, 'abc');
  await headerOnly.close();
  assert.throws(() => createApp({ genReqId: 'x' }), /genReqId must be a function/);
});

test('logger: a pino instance; app.log, req.log with reqId, incoming request / request completed', async (t) => {
  const { lines, stream } = sink();
  const logger = pino({ level: 'info' }, stream);
  const app = createApp({ threads: 1, logger, requestIdHeader: 'x-request-id' });
  assert.equal(app.log, logger);
  app.get('/hello/:name', (req, reply) => {
    req.log.info({ name: req.params.name }, 'handling');
    assert.equal(reply.log, req.log);
    return 'hi';
  });
  app.get('/fail', () => { throw new Error('broken'); });
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  app.log.info('started');

  const r = await request(base, '/hello/bob', { headers: { 'x-request-id': 'r-1', host: 'example.test' } });
  assert.equal(r.text, 'hi');
  await until(() => lines.some((l) => l.msg === 'request completed' && l.reqId === 'r-1'), 'the request log');
  const mine = lines.filter((l) => l.reqId === 'r-1');
  assert.deepEqual(mine.map((l) => l.msg), ['incoming request', 'handling', 'request completed']);
  const { remotePort, ...logged } = mine[0].req;
  assert.deepEqual(logged, { method: 'GET', url: '/hello/bob', host: 'example.test', remoteAddress: '127.0.0.1' });
  assert.ok(Number.isInteger(remotePort) && remotePort > 0);
  assert.equal(mine[1].name, 'bob');
  assert.deepEqual(mine[2].res, { statusCode: 200 });
  assert.equal(typeof mine[2].responseTime, 'number');
  assert.ok(mine[2].responseTime >= 0);
  assert.ok(lines.some((l) => l.msg === 'started'));

  await request(base, '/fail', { headers: { 'x-request-id': 'r-2' } });
  await until(() => lines.some((l) => l.msg === 'request completed' && l.reqId === 'r-2'), 'the request log');
  const err = lines.find((l) => l.level === 50);
  assert.ok(err, 'a 5xx is logged at level error');
  assert.equal(err.err.message, 'broken');
  assert.deepEqual(lines.find((l) => l.reqId === 'r-2' && l.msg === 'request completed').res, { statusCode: 500 });
});

test('logger: pino options with a stream, disableRequestLogging, a custom label', async () => {
  const { lines, stream } = sink();
  const app = createApp({ logger: { level: 'debug', stream }, disableRequestLogging: true, requestIdLogLabel: 'rid' });
  app.get('/', (req) => { req.log.debug('inside'); return 'x'; });
  assert.equal((await app.inject('/')).body, 'x');
  assert.equal(lines.length, 1);
  assert.equal(lines[0].msg, 'inside');
  assert.equal(typeof lines[0].rid, 'number');
  assert.equal(lines[0].level, 20);
  await app.close();
});

test('without a logger, app.log and req.log exist and do nothing', async () => {
  const app = createApp();
  app.get('/', (req) => {
    req.log.info('nothing');
    return req.log === app.log && req.log.child({}) === req.log ? 'silent' : 'not silent';
  });
  assert.equal((await app.inject('/')).body, 'silent');
  assert.equal(app.log.level, 'silent');
  await app.close();
});
