'use strict';
// The client of a request (client.cjs): req.ip, req.ips, req.socket, req.protocol, req.host,
// req.hostname and createApp({ trustProxy }), over real sockets (IPv4 and [::1]) and through
// inject(). What the client's own socket says is the reference for addresses and ports.

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { lib, parseResponses } = require('./fixtures/helpers.cjs');

const { createApp } = lib();

function whoami(options) {
  const app = createApp(options);
  app.get('/whoami', (req) => ({
    ip: req.ip, ips: req.ips ?? null, protocol: req.protocol, host: req.host, hostname: req.hostname,
    socket: {
      remoteAddress: req.socket.remoteAddress, remotePort: req.socket.remotePort,
      remoteFamily: req.socket.remoteFamily, localAddress: req.socket.localAddress,
      localPort: req.socket.localPort,
    },
  }));
  return app;
}

// Sends `raw` on a connection to host:port and resolves { responses, client } once `count`
// responses arrived; client: the socket's own view of both ends.
function exchange(host, port, raw, count = 1) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    let client = null;
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('timed out')); }, 5000);
    socket.on('connect', () => {
      client = {
        address: socket.localAddress, port: socket.localPort,
        serverAddress: socket.remoteAddress, serverPort: socket.remotePort,
      };
      socket.write(raw);
    });
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const { responses } = parseResponses(buf);
      if (responses.length >= count) {
        clearTimeout(timer);
        socket.end();
        resolve({ responses: responses.map((r) => JSON.parse(r.text)), client });
      }
    });
    socket.on('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

function get(path, headers = {}) {
  let raw = `GET ${path} HTTP/1.1\r\n`;
  if (!Object.keys(headers).some((n) => n.toLowerCase() === 'host')) raw += 'Host: example.test:8080\r\n';
  for (const [n, v] of Object.entries(headers)) raw += `${n}: ${v}\r\n`;
  return raw + '\r\n';
}

test('over IPv4: req.ip and req.socket are the connection\'s two ends, for pipelined requests too', async () => {
  const app = whoami();
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const { port } = app.address();
    const { responses, client } = await exchange('127.0.0.1', port, get('/whoami') + get('/whoami'), 2);
    for (const r of responses) {
      assert.equal(r.ip, '127.0.0.1');
      assert.equal(r.ips, null, 'req.ips is undefined without trustProxy (as in Fastify)');
      assert.deepEqual(r.socket, {
        remoteAddress: client.address, remotePort: client.port, remoteFamily: 'IPv4',
        localAddress: client.serverAddress, localPort: client.serverPort,
      });
      assert.equal(r.protocol, 'http');
      assert.equal(r.host, 'example.test:8080');
      assert.equal(r.hostname, 'example.test');
    }
    // A second connection: its own port.
    const second = await exchange('127.0.0.1', port, get('/whoami'));
    assert.equal(second.responses[0].socket.remotePort, second.client.port);
    assert.notEqual(second.client.port, client.port);
  } finally {
    await app.close();
  }
});

test('over IPv6 [::1]: addresses in RFC 5952 form, family IPv6', async (t) => {
  const app = whoami();
  try {
    await app.listen({ port: 0, host: '::1' });
  } catch (err) {
    await app.close();
    t.skip(`no IPv6 loopback: ${err.message}`);
    return;
  }
  try {
    const { port } = app.address();
    const { responses, client } = await exchange('::1', port, get('/whoami', { Host: '[::1]:9' }));
    const r = responses[0];
    assert.equal(r.ip, '::1');
    assert.deepEqual(r.socket, {
      remoteAddress: client.address, remotePort: client.port, remoteFamily: 'IPv6',
      localAddress: '::1', localPort: port,
    });
    assert.equal(r.host, '[::1]:9');
    assert.equal(r.hostname, '[::1]', 'an IPv6 literal keeps its brackets, loses its port');
  } finally {
    await app.close();
  }
});

test('trustProxy variants decide how far X-Forwarded-For is believed (real sockets)', async () => {
  const chain = { 'X-Forwarded-For': '203.0.113.9, 198.51.100.2, 10.0.0.5' };
  const cases = [
    // [trustProxy, expected ip, expected ips]
    [undefined, '127.0.0.1', null],
    [false, '127.0.0.1', null],
    [true, '203.0.113.9', ['127.0.0.1', '10.0.0.5', '198.51.100.2', '203.0.113.9']],
    [1, '10.0.0.5', ['127.0.0.1', '10.0.0.5']],
    [2, '198.51.100.2', ['127.0.0.1', '10.0.0.5', '198.51.100.2']],
    ['127.0.0.1', '10.0.0.5', ['127.0.0.1', '10.0.0.5']],
    ['loopback, 10.0.0.0/8', '198.51.100.2', ['127.0.0.1', '10.0.0.5', '198.51.100.2']],
    [['127.0.0.1/32', '10.0.0.5', '198.51.100.0/24'], '203.0.113.9',
      ['127.0.0.1', '10.0.0.5', '198.51.100.2', '203.0.113.9']],
    ['192.0.2.1', '127.0.0.1', ['127.0.0.1']],
    [(address, hop) => address === '127.0.0.1' || hop < 2, '198.51.100.2',
      ['127.0.0.1', '10.0.0.5', '198.51.100.2']],
  ];
  for (const [trustProxy, ip, ips] of cases) {
    const app = whoami(trustProxy === undefined ? {} : { trustProxy });
    await app.listen({ port: 0 });
    try {
      const { responses } = await exchange('127.0.0.1', app.address().port, get('/whoami', chain));
      assert.equal(responses[0].ip, ip, `trustProxy ${String(trustProxy)}`);
      assert.deepEqual(responses[0].ips, ips, `trustProxy ${String(trustProxy)}`);
    } finally {
      await app.close();
    }
  }
});

test('X-Forwarded-Host and -Proto count only when the peer is a trusted proxy', async () => {
  const headers = {
    'X-Forwarded-Host': 'spoofed.test, api.example.com', 'X-Forwarded-Proto': 'http, HTTPS',
    'X-Forwarded-For': '203.0.113.9',
  };
  for (const [trustProxy, host, protocol] of [
    [undefined, 'example.test:8080', 'http'],
    ['192.0.2.1', 'example.test:8080', 'http'],
    [true, 'api.example.com', 'https'],
    ['loopback', 'api.example.com', 'https'],
  ]) {
    const app = whoami(trustProxy === undefined ? {} : { trustProxy });
    await app.listen({ port: 0 });
    try {
      const { responses } = await exchange('127.0.0.1', app.address().port, get('/whoami', headers));
      assert.equal(responses[0].host, host, `trustProxy ${String(trustProxy)}`);
      assert.equal(responses[0].hostname, host.split(':')[0]);
      assert.equal(responses[0].protocol, protocol);
    } finally {
      await app.close();
    }
  }
});

test('an invalid trustProxy is refused at createApp() with the reason', () => {
  assert.throws(() => createApp({ trustProxy: 'not-an-ip' }), /trustProxy.*invalid IP address/);
  assert.throws(() => createApp({ trustProxy: -1 }), /hop count must be an integer >= 0/);
  assert.throws(() => createApp({ trustProxy: {} }), /trustProxy must be a boolean/);
});

test('inject(): the client is 127.0.0.1 unless remoteAddress says otherwise', async () => {
  const app = whoami({ trustProxy: 'loopback' });
  try {
    let r = (await app.inject('/whoami')).json();
    assert.equal(r.ip, '127.0.0.1');
    assert.equal(r.socket.remoteAddress, '127.0.0.1');
    assert.equal(r.socket.remoteFamily, 'IPv4');
    assert.equal(r.socket.localAddress, '127.0.0.1');
    assert.equal(r.host, 'localhost');
    r = (await app.inject({ url: '/whoami', remoteAddress: '2001:db8::7' })).json();
    assert.equal(r.ip, '2001:db8::7');
    assert.equal(r.socket.remoteFamily, 'IPv6');
    r = (await app.inject({
      url: '/whoami', headers: { 'x-forwarded-for': '203.0.113.9' },
    })).json();
    assert.equal(r.ip, '203.0.113.9', 'the default client is loopback: trusted here');
    assert.deepEqual(r.ips, ['127.0.0.1', '203.0.113.9']);
    await assert.rejects(app.inject({ url: '/whoami', remoteAddress: 'nope' }), /remoteAddress must be an IPv4 or IPv6/);
  } finally {
    await app.close();
  }
});

test('a request that never reads its client pays nothing for it (nothing decoded)', async () => {
  const app = createApp();
  let seen = null;
  app.get('/', (req) => {
    seen = req;
    return 'ok';
  });
  try {
    assert.equal((await app.inject('/')).body, 'ok');
    assert.equal(seen._socket, undefined);
    assert.equal(seen._ip, undefined);
  } finally {
    await app.close();
  }
});
