'use strict';
// Cookies (napi/lib/cookies.cjs): req.cookies, reply.setCookie/clearCookie (several Set-Cookie
// headers on the wire), signed cookies with a secret and secret rotation, over a socket and
// through inject().

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { lib, request } = require('./fixtures/helpers.cjs');

const { createApp } = lib();

function cookieApp(secret) {
  const app = createApp({ threads: 1, cookieSecret: secret });
  app.get('/read', (req) => ({ ...req.cookies }));
  app.get('/set', (req, reply) => {
    reply.setCookie('session', 'a b;c', { httpOnly: true, sameSite: 'lax', maxAge: 60 })
      .setCookie('theme', 'dark', { path: '/app', secure: true })
      .setCookie('theme', 'light', { path: '/app', secure: true })  // replaces the one above
      .setCookie('signed', 'user-1', { signed: true })
      .clearCookie('old', { domain: 'example.com' });
    return 'ok';
  });
  app.get('/check', (req) => {
    const r = req.unsignCookie(req.cookies.signed ?? '');
    return r;
  });
  return app;
}

async function both(app, base, url, headers) {
  const s = await request(base, url, { headers });
  const i = await app.inject({ url, headers });
  return [
    { status: s.status, headers: s.headers, text: s.text },
    { status: i.statusCode, headers: i.headers, text: i.body },
  ];
}

test('req.cookies parses the Cookie header; setCookie/clearCookie send one Set-Cookie each', async (t) => {
  const app = cookieApp('s3cret');
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());

  for (const r of await both(app, base, '/read', { cookie: 'a=1; b=hello%20world; c="q"' })) {
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.text), { a: '1', b: 'hello world', c: '"q"' });
  }
  for (const r of await both(app, base, '/read', {})) assert.deepEqual(JSON.parse(r.text), {});

  const expectedSig = crypto.createHmac('sha256', 's3cret').update('user-1').digest('base64').replace(/=+$/, '');
  for (const r of await both(app, base, '/set', {})) {
    assert.equal(r.status, 200);
    assert.deepEqual(r.headers['set-cookie'], [
      'session=a%20b%3Bc; Max-Age=60; Path=/; HttpOnly; SameSite=Lax',
      'theme=light; Path=/app; Secure',
      `signed=${encodeURIComponent(`user-1.${expectedSig}`)}; Path=/`,
      'old=; Domain=example.com; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
    ]);
  }
});

test('signed cookies: unsignCookie checks the HMAC, rotation renews, tampering is invalid', async (t) => {
  const app = cookieApp(['new-key', 'old-key']);
  const base = await app.listen({ port: 0 });
  t.after(() => app.close());
  const sign = (key, v) => `${v}.${crypto.createHmac('sha256', key).update(v).digest('base64').replace(/=+$/, '')}`;

  const cases = [
    [sign('new-key', 'alice'), { valid: true, renew: false, value: 'alice' }],
    [sign('old-key', 'alice'), { valid: true, renew: true, value: 'alice' }],
    [sign('other', 'alice'), { valid: false, renew: false, value: null }],
    [sign('new-key', 'alice').replace('alice', 'admin'), { valid: false, renew: false, value: null }],
    ['no-signature', { valid: false, renew: false, value: null }],
  ];
  for (const [value, expected] of cases) {
    for (const r of await both(app, base, '/check', { cookie: `signed=${encodeURIComponent(value)}` })) {
      assert.deepEqual(JSON.parse(r.text), expected, value);
    }
  }
  assert.equal(app.signCookie('x'), sign('new-key', 'x'));
  // inject({ cookies }) sends them; the response's cookies come back parsed.
  const i = await app.inject({ url: '/check', cookies: { signed: sign('new-key', 'bob') } });
  assert.deepEqual(i.json(), { valid: true, renew: false, value: 'bob' });
  const set = await app.inject('/set');
  assert.deepEqual(set.cookies[0], { name: 'session', value: 'a b;c', maxAge: 60, path: '/', httpOnly: true, sameSite: 'lax' });
  assert.equal(set.cookies.length, 4);
  assert.deepEqual(app.unsignCookie(sign('old-key', 'x')), { valid: true, renew: true, value: 'x' });
});

test("secure: 'auto' is Secure only when the request came over HTTPS (through a trusted proxy)", async () => {
  const app = createApp({ trustProxy: true });
  app.get('/', (req, reply) => reply.setCookie('s', '1', { secure: 'auto' }).send(req.protocol));
  let r = await app.inject('/');
  assert.equal(r.body, 'http');
  assert.equal(r.headers['set-cookie'][0], 's=1; Path=/');
  r = await app.inject({ url: '/', headers: { 'x-forwarded-proto': 'https' } });
  assert.equal(r.body, 'https');
  assert.equal(r.headers['set-cookie'][0], 's=1; Path=/; Secure');
  await app.close();
});

test('signed cookies without a secret, and invalid cookie names, are errors through the error handler', async () => {
  const app = createApp({ threads: 1 });
  app.get('/sign', (req, reply) => reply.setCookie('a', 'b', { signed: true }).send('no'));
  app.get('/bad', (req, reply) => reply.setCookie('bad name', 'v').send('no'));
  app.get('/unsign', (req) => req.unsignCookie('x.y'));
  let r = await app.inject('/sign');
  assert.equal(r.statusCode, 500);
  assert.match(r.json().message, /signed cookies need a secret: createApp\(\{ cookieSecret/);
  r = await app.inject('/bad');
  assert.equal(r.statusCode, 500);
  assert.match(r.json().message, /argument name is invalid/);
  r = await app.inject('/unsign');
  assert.equal(r.statusCode, 500);
  assert.throws(() => createApp({ cookieSecret: [] }), /cookieSecret must not be an empty array/);
  assert.throws(() => createApp({ cookieSecret: 42 }), /cookieSecret must be a non-empty string/);
  await app.close();
});
