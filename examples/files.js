'use strict';
// Streams, files, Server-Sent Events, streamed uploads, the client's address and compression in
// one nexurejs server (issue 18's example):
//   node examples/files.js                    (PORT=8080 HOST=0.0.0.0 node examples/files.js)
//
//   GET  /download/:name   a file of examples/public, sent by the engine (reply.sendFile)
//   GET  /public/...       examples/public mounted with app.static (index.html at /public/)
//   GET  /events           Server-Sent Events: 5 events, 100 ms apart
//   POST /upload           a streamed body of any size → { bytes, sha256 }
//   GET  /numbers/:count   the lines 1 … count, streamed from an async generator
//   GET  /whoami           { ip, port } of the client
// Answers of 1 KiB or more are compressed (gzip or brotli, by Accept-Encoding) on the engine's
// threads, not on this one.
const path = require('node:path');
const crypto = require('node:crypto');
const { createApp } = require('nexurejs');

const PUBLIC = path.join(__dirname, 'public');
const MAX_COUNT = 1_000_000;

const app = createApp({ compression: { threshold: 1024 } });

app.get('/download/:name', (req, reply) => reply.sendFile(req.params.name, { root: PUBLIC, maxAge: 60 }));

app.static('/public', PUBLIC, { index: 'index.html', maxAge: 60 });

const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
});

app.get('/events', (req, reply) => reply.sse((async function* events() {
  for (let i = 1; i <= 5 && !req.signal.aborted; i++) {
    if (i > 1) await sleep(100, req.signal);
    yield { event: 'tick', id: String(i), data: JSON.stringify({ n: i, at: new Date().toISOString() }) };
  }
})()));

app.post('/upload', { body: 'stream', bodyLimit: Number.MAX_SAFE_INTEGER }, async (req) => {
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  for await (const chunk of req) {
    bytes += chunk.length;
    hash.update(chunk);
  }
  return { bytes, sha256: hash.digest('hex') };
});

app.get('/numbers/:count', (req, reply) => {
  const count = Number(req.params.count);
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_COUNT) {
    return reply.code(400).send({ error: `count must be an integer from 0 to ${MAX_COUNT}` });
  }
  reply.type('text/plain; charset=utf-8');
  return reply.send((async function* numbers() {
    for (let i = 1; i <= count; i++) yield `${i}\n`;
  })());
});

app.get('/whoami', (req) => ({ ip: req.ip, port: req.socket.remotePort }));

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST || '127.0.0.1';

app.listen({ port, host }).then((url) => {
  console.log(`listening on ${url}`);
}, (err) => {
  console.error(err.message);
  process.exit(1);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    app.close().then(() => process.exit(0));
  });
}
