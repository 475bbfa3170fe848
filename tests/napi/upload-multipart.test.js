'use strict';
// examples/upload-multipart.js run as a user runs it (PORT=0, a child process): two files of
// 100 MB and a text field in one multipart/form-data request, parsed by busboy from req.stream()
// and written to disk; the answer names each file with its size and SHA-256 (checked against
// what was sent, and against the files on disk), and the server's RSS stays bounded.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { rss, sampleRss, allowance, underAsan, content, writeAll } = require('./fixtures/upload.cjs');

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'upload-multipart.js');
const MB = 1000 * 1000;

async function start(t) {
  const child = spawn(process.execPath, [EXAMPLE], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  t.after(() => child.kill('SIGKILL'));
  const deadline = Date.now() + 10000;
  while (!/listening on (http:\/\/\S+) \(files go to (\S+)\)/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the example did not start: ${out}${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const [, url, dir] = out.match(/listening on (http:\/\/\S+) \(files go to (\S+)\)/);
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { url, dir, child, errors: () => err };
}

// Sends a multipart/form-data request with `files` ([{ field, name, size, seed }]) and
// `fields`, streamed chunked; resolves { status, json, sent: [sha256 per file] }.
function upload(url, files, fields) {
  const boundary = `----nexure${crypto.randomBytes(8).toString('hex')}`;
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/upload`, {
      method: 'POST', agent: false,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode, text, sent });
      });
    });
    req.on('error', reject);
    const sent = [];
    (async () => {
      for (const [name, value] of Object.entries(fields)) {
        req.write(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
      }
      for (const f of files) {
        req.write(`--${boundary}\r\nContent-Disposition: form-data; name="${f.field}"; filename="${f.name}"\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n');
        const hash = crypto.createHash('sha256');
        await writeAll(req, content(f.size, f.seed), hash);
        sent.push(hash.digest('hex'));
        req.write('\r\n');
      }
      req.end(`--${boundary}--\r\n`);
    })().catch(reject);
  });
}

function sha256File(file) {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    fs.createReadStream(file).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

test('examples/upload-multipart.js takes two 100 MB files with busboy in bounded memory', async (t) => {
  const s = await start(t);
  // An upload first: the baseline is taken with the paths warm and V8's heap at its steady size
  // (see upload-memory.test.js; under ASan, 320 MB to fill its quarantine); from the fresh
  // process the run must stay within 64 MiB (not checked under ASan).
  const fresh = rss(s.child.pid);
  const warmSize = (underAsan() ? 320 : 64) * MB;
  const warm = await upload(s.url, [{ field: 'file', name: 'warm.bin', size: warmSize, seed: 9 }], {});
  assert.equal(warm.status, 200, warm.text);
  const base = rss(s.child.pid);
  const stop = sampleRss(s.child.pid);
  const files = [
    { field: 'file', name: 'first.bin', size: 100 * MB, seed: 1 },
    { field: 'file', name: 'second name.bin', size: 100 * MB + 7, seed: 2 },
  ];
  const r = await upload(s.url, files, { note: 'two files' });
  const peak = stop();
  assert.equal(r.status, 200, r.text);
  const body = JSON.parse(r.text);
  assert.deepEqual(body.fields, { note: 'two files' });
  assert.equal(body.files.length, 2);
  for (let i = 0; i < 2; i++) {
    assert.equal(body.files[i].name, files[i].name);
    assert.equal(body.files[i].bytes, files[i].size);
    assert.equal(body.files[i].sha256, r.sent[i]);
  }
  // What reached the disk is what was sent.
  const onDisk = fs.readdirSync(s.dir).map((f) => path.join(s.dir, f)).filter((f) => fs.statSync(f).size >= 100 * MB && fs.statSync(f).size < 101 * MB);
  const hashes = (await Promise.all(onDisk.map(sha256File))).sort();
  assert.deepEqual(hashes, [...r.sent].sort());
  const grown = peak - base;
  t.diagnostic(`server RSS ${(fresh / 2 ** 20).toFixed(1)} MiB fresh, ${(base / 2 ** 20).toFixed(1)} MiB ` +
    `after ${warmSize / MB} MB, peak ${(peak / 2 ** 20).toFixed(1)} MiB during 200 MB (+${(grown / 2 ** 20).toFixed(1)} MiB)`);
  assert.ok(grown < allowance(32 * 2 ** 20), `the server grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
  if (!underAsan()) {
    assert.ok(peak - fresh < 64 * 2 ** 20,
      `the server grew by ${((peak - fresh) / 2 ** 20).toFixed(1)} MiB from its start`);
  }
});

test('examples/upload-multipart.js answers 415 to a body that is not multipart', async (t) => {
  const s = await start(t);
  const r = await new Promise((resolve, reject) => {
    const req = http.request(`${s.url}/upload`, { method: 'POST', headers: { 'content-type': 'text/plain' } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end('not a form');
  });
  assert.equal(r.status, 415);
  assert.match(r.text, /Unsupported content type/i);
});
