'use strict';
// A 1 GiB streamed upload to a route that hashes it ({ body: 'stream' }) grows the server
// process's RSS by less than 32 MiB (64 MiB under AddressSanitizer): the server runs in a child
// process and its VmRSS is sampled from /proc while the body flows, by Content-Length and chunked.
// The baseline is taken after a 128 MiB upload: by then V8 has sized its young generation and
// the garbage the copied chunks leave (freed by V8 when it decides to collect) has reached its
// steady level; from the fresh process, the whole run must stay within 64 MiB. Under ASan the
// warm-up is 512 MiB, to fill its quarantine (256 MiB of freed memory by default, which would
// otherwise keep growing through the measured upload), and the bound from the fresh process
// does not apply (the quarantine alone is larger).

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { rss, sampleRss, allowance, underAsan, content, writeAll } = require('./fixtures/upload.cjs');

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const WARM_UP = (underAsan() ? 512 : 128) * MiB;

async function startServer(t) {
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'hash-server.cjs')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  t.after(() => child.kill('SIGKILL'));
  const deadline = Date.now() + 10000;
  while (!/listening on (http:\/\/\S+)/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the server did not start: ${out}${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { url: out.match(/listening on (http:\/\/\S+)/)[1], child };
}

function upload(url, size, { chunked = false, seed = 1 } = {}) {
  return new Promise((resolve, reject) => {
    const headers = chunked ? {} : { 'content-length': size };
    const req = http.request(`${url}/hash`, { method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(text), sent }));
    });
    req.on('error', reject);
    const hash = crypto.createHash('sha256');
    let sent = null;
    writeAll(req, content(size, seed), hash).then(() => {
      sent = hash.digest('hex');
      req.end();
    }, reject);
  });
}

for (const chunked of [false, true]) {
  test(`a 1 GiB upload (${chunked ? 'chunked' : 'Content-Length'}) grows the server's RSS by less than 32 MiB`, async (t) => {
    const s = await startServer(t);
    const fresh = rss(s.child.pid);
    const warm = await upload(s.url, WARM_UP, { chunked, seed: 7 });
    assert.equal(warm.json.sha256, warm.sent);
    const base = rss(s.child.pid);
    const stop = sampleRss(s.child.pid);
    const started = process.hrtime.bigint();
    const r = await upload(s.url, GiB, { chunked });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const peak = stop();
    assert.equal(r.status, 200);
    assert.equal(r.json.bytes, GiB);
    assert.equal(r.json.sha256, r.sent);
    const grown = peak - base;
    t.diagnostic(`RSS ${(fresh / MiB).toFixed(1)} MiB fresh, ${(base / MiB).toFixed(1)} MiB after ` +
      `${WARM_UP / MiB} MiB, peak ${(peak / MiB).toFixed(1)} MiB during 1 GiB (+${(grown / MiB).toFixed(1)} MiB); ` +
      `${(GiB / MiB / seconds).toFixed(0)} MiB/s`);
    assert.ok(grown < allowance(32 * MiB), `the server grew by ${(grown / MiB).toFixed(1)} MiB`);
    if (!underAsan()) {
      assert.ok(peak - fresh < 64 * MiB,
        `the server grew by ${((peak - fresh) / MiB).toFixed(1)} MiB from its start`);
    }
  });
}
