'use strict';
// Response compression (createApp({ compression }), route { compression }, reply.compress()):
// over real sockets the engine compresses on its worker threads; inject() emulates it with
// node:zlib. Every case runs in both modes, and both must agree: the same Content-Encoding,
// Vary and ETag, and bodies that decode (node:zlib) to the same bytes.

const test = require('node:test');
const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const { lib, request } = require('./fixtures/helpers.cjs');

const { createApp } = lib();

const MODES = ['socket', 'inject'];

function decode(coding, body) {
  if (coding === undefined) return body;
  if (coding === 'gzip') return zlib.gunzipSync(body);
  if (coding === 'br') return zlib.brotliDecompressSync(body);
  if (coding === 'zstd' && typeof zlib.zstdDecompressSync === 'function') return zlib.zstdDecompressSync(body);
  throw new Error(`cannot decode ${coding} here`);
}

async function call(mode, app, base, { method = 'GET', url, headers = {} }) {
  let r;
  if (mode === 'socket') {
    r = await request(base, url, { method, headers });
    r = { status: r.status, headers: r.headers, raw: r.body };
  } else {
    const i = await app.inject({ method, url, headers });
    r = { status: i.statusCode, headers: i.headers, raw: i.rawPayload };
  }
  r.decoded = method === 'HEAD' ? r.raw : decode(r.headers['content-encoding'], r.raw);
  return r;
}

function bigJson(n) {
  const items = [];
  for (let i = 0; JSON.stringify(items).length < n; i++) items.push({ id: i, name: `user ${i}`, active: i % 3 === 0 });
  return items;
}

const ITEMS = bigJson(20000);
const HUGE = bigJson(300 * 1024);  // stashed: more than 64 KiB of body
const PAGE = '<p>hello compression</p>\n'.repeat(200);

function compressingApp(options = { threshold: 1024 }) {
  const app = createApp({ threads: 2, compression: options });
  app.get('/json', () => ITEMS);
  app.get('/huge', () => HUGE);
  app.get('/small', () => ({ tiny: true }));
  app.get('/png', (req, reply) => reply.type('image/png').send(Buffer.alloc(5000, 7)));
  app.get('/page', (req, reply) => reply.type('text/html').header('etag', '"p1"').header('vary', 'Origin').send(PAGE));
  app.get('/raw', (req, reply) => reply.compress(false).type('text/html').send(PAGE));
  app.get('/forced', (req, reply) => reply.compress(true).type('application/octet-stream').send('x'.repeat(200)));
  app.get('/encoded', (req, reply) => reply.type('text/plain').header('content-encoding', 'gzip').send(zlib.gzipSync(PAGE)));
  app.get('/not-modified', (req, reply) => reply.code(304).header('etag', '"p1"').send());
  app.get('/off', { compression: false }, () => ITEMS);
  app.get('/gzip-only', { compression: { encodings: ['gzip'] } }, () => ITEMS);
  app.get('/later', async () => {
    await new Promise((r) => setTimeout(r, 10));
    return ITEMS;
  });
  return app;
}

async function listening(t, app) {
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  return base;
}

test('the coding follows Accept-Encoding, and both modes agree', async (t) => {
  const app = compressingApp();
  const base = await listening(t, app);
  const expected = Buffer.from(JSON.stringify(ITEMS));
  const cases = [
    ['gzip', 'gzip'], ['br', 'br'], ['gzip, br', 'br'], ['gzip;q=1, br;q=0.2', 'gzip'],
    ['identity', undefined], ['', undefined], ['deflate', undefined],
    ['gzip;q=0, br;q=0', undefined],
  ];
  for (const [accept, coding] of cases) {
    const seen = [];
    for (const mode of MODES) {
      const headers = accept === '' ? {} : { 'accept-encoding': accept };
      const r = await call(mode, app, base, { url: '/json', headers });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-encoding'], coding, `${mode} ${accept}`);
      assert.equal(r.headers.vary, 'Accept-Encoding', `${mode} ${accept}`);
      assert.equal(Number(r.headers['content-length']), r.raw.length);
      assert.deepEqual(r.decoded, expected, `${mode} ${accept}`);
      if (coding !== undefined) assert.ok(r.raw.length < expected.length / 3);
      seen.push(r.headers['content-type']);
    }
    assert.equal(seen[0], seen[1]);
  }
});

test('small bodies, images, bodiless answers and opt-outs go out unencoded', async (t) => {
  const app = compressingApp();
  const base = await listening(t, app);
  const gz = { 'accept-encoding': 'gzip, br' };
  for (const mode of MODES) {
    for (const url of ['/small', '/png', '/raw', '/off', '/not-modified']) {
      const r = await call(mode, app, base, { url, headers: gz });
      assert.equal(r.headers['content-encoding'], undefined, `${mode} ${url}`);
    }
    assert.equal((await call(mode, app, base, { url: '/small', headers: gz })).headers.vary, undefined);
    assert.equal((await call(mode, app, base, { url: '/off', headers: gz })).headers.vary, undefined);
    assert.equal((await call(mode, app, base, { url: '/raw', headers: gz })).raw.toString(), PAGE);
    const nm = await call(mode, app, base, { url: '/not-modified', headers: gz });
    assert.equal(nm.status, 304);
    assert.equal(nm.headers.etag, '"p1"');
    // An answer encoded by the handler keeps its own encoding, once.
    const enc = await call(mode, app, base, { url: '/encoded', headers: { 'accept-encoding': 'br, gzip' } });
    assert.equal(enc.headers['content-encoding'], 'gzip');
    assert.equal(enc.decoded.toString(), PAGE);
  }
});

test('reply.compress(true), a route\'s own encodings, ETag and Vary', async (t) => {
  const app = compressingApp();
  const base = await listening(t, app);
  for (const mode of MODES) {
    const forced = await call(mode, app, base, { url: '/forced', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(forced.headers['content-encoding'], 'gzip', mode);
    assert.equal(forced.decoded.toString(), 'x'.repeat(200));
    const gzipOnly = await call(mode, app, base, { url: '/gzip-only', headers: { 'accept-encoding': 'br, gzip;q=0.5' } });
    assert.equal(gzipOnly.headers['content-encoding'], 'gzip', mode);
    const none = await call(mode, app, base, { url: '/gzip-only', headers: { 'accept-encoding': 'br' } });
    assert.equal(none.headers['content-encoding'], undefined, mode);
    const page = await call(mode, app, base, { url: '/page', headers: { 'accept-encoding': 'br' } });
    assert.equal(page.headers['content-encoding'], 'br', mode);
    assert.equal(page.headers.etag, 'W/"p1"', mode);
    assert.equal(page.headers.vary, 'Origin, Accept-Encoding', mode);
    assert.equal(page.decoded.toString(), PAGE);
    const plain = await call(mode, app, base, { url: '/page' });
    assert.equal(plain.headers.etag, '"p1"', mode);
    assert.equal(plain.headers.vary, 'Origin, Accept-Encoding', mode);
  }
});

test('HEAD gets the head of the encoded GET', async (t) => {
  const app = compressingApp();
  const base = await listening(t, app);
  for (const mode of MODES) {
    const get = await call(mode, app, base, { url: '/json', headers: { 'accept-encoding': 'gzip' } });
    const head = await call(mode, app, base, { method: 'HEAD', url: '/json', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(head.raw.length, 0);
    assert.equal(head.headers['content-encoding'], 'gzip', mode);
    assert.equal(head.headers['content-length'], get.headers['content-length'], mode);
  }
});

test('big stashed bodies and answers given after an await are compressed too', async (t) => {
  const app = compressingApp();
  const base = await listening(t, app);
  for (const mode of MODES) {
    for (const coding of ['gzip', 'br']) {
      const huge = await call(mode, app, base, { url: '/huge', headers: { 'accept-encoding': coding } });
      assert.equal(huge.headers['content-encoding'], coding);
      assert.deepEqual(JSON.parse(huge.decoded.toString()), HUGE);
      const later = await call(mode, app, base, { url: '/later', headers: { 'accept-encoding': coding } });
      assert.equal(later.headers['content-encoding'], coding);
      assert.deepEqual(JSON.parse(later.decoded.toString()), ITEMS);
    }
  }
});

test('compression: true uses the defaults, the threshold is the app\'s, and it is off by default', async (t) => {
  const on = createApp({ compression: true });
  on.get('/n/:n', (req) => 'a'.repeat(Number(req.params.n)));
  const onBase = await listening(t, on);
  const off = createApp();
  off.get('/n/:n', (req) => 'a'.repeat(Number(req.params.n)));
  const offBase = await listening(t, off);
  const high = createApp({ compression: { threshold: 5000, encodings: ['gzip'] } });
  high.get('/n/:n', (req) => 'a'.repeat(Number(req.params.n)));
  const highBase = await listening(t, high);
  const ae = { 'accept-encoding': 'br, gzip' };
  for (const mode of MODES) {
    assert.equal((await call(mode, on, onBase, { url: '/n/1023', headers: ae })).headers['content-encoding'], undefined);
    assert.equal((await call(mode, on, onBase, { url: '/n/1024', headers: ae })).headers['content-encoding'], 'br');
    assert.equal((await call(mode, off, offBase, { url: '/n/100000', headers: ae })).headers['content-encoding'], undefined);
    assert.equal((await call(mode, high, highBase, { url: '/n/4999', headers: ae })).headers['content-encoding'], undefined);
    const r = await call(mode, high, highBase, { url: '/n/5000', headers: ae });
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal(r.decoded.toString(), 'a'.repeat(5000));
  }
});

test('bad compression options are refused with the cause', () => {
  assert.throws(() => createApp({ compression: 'yes' }), /compression must be a boolean or an object/);
  assert.throws(() => createApp({ compression: { threshold: -1 } }), /threshold must be an integer/);
  assert.throws(() => createApp({ compression: { encodings: ['deflate'] } }), /unknown encoding 'deflate'/);
  assert.throws(() => createApp({ compression: { levels: { brotli: 12 } } }), /levels.brotli must be an integer from 0 to 11/);
  assert.throws(() => createApp({ compression: { level: 3 } }), /unknown key level/);
  const app = createApp();
  assert.throws(() => app.get('/x', { compression: { encodings: 'lzma' } }, () => 1), /unknown encoding 'lzma'/);
  assert.throws(() => app.get('/y', { compression: 3 }, () => 1), /compression must be a boolean or an object/);
});
