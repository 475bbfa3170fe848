'use strict';
// File uploads with multipart/form-data: POST /upload parses the form with busboy as the body
// arrives (a { body: 'stream' } route: the engine never buffers it), writes each file to a
// temporary directory and answers with each file's name, size and SHA-256, and the text fields.
// Memory stays bounded whatever the file sizes: busboy reads from req.stream(), whose
// backpressure reaches the client's socket.
//   node examples/upload-multipart.js          (PORT=8080 HOST=0.0.0.0 node ...)
//   curl -F file=@big.iso -F note=hello http://127.0.0.1:3000/upload
// busboy is this example's own dependency (npm install busboy; a devDependency of the checkout).
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pipeline } = require('node:stream/promises');
const busboy = require('busboy');
const { createApp } = require('nexurejs');

const MAX_UPLOAD = 10 * 1024 ** 3;  // the whole request body: 413 beyond
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nexure-uploads-'));

const app = createApp();

app.post('/upload', { body: 'stream', bodyLimit: MAX_UPLOAD }, async (req, reply) => {
  let form;
  try {
    form = busboy({ headers: req.headers, limits: { files: 16, fields: 64 } });
  } catch (err) {
    // Not multipart/form-data, or no boundary.
    return reply.code(415).send({ error: err.message });
  }
  const files = [];
  const fields = {};
  const writes = [];
  form.on('file', (field, stream, info) => {
    // The client's name is only a label: the file on disk gets a name of our own.
    const target = path.join(dir, crypto.randomUUID());
    const hash = crypto.createHash('sha256');
    const entry = { field, name: info.filename, type: info.mimeType, bytes: 0, sha256: '', path: target };
    files.push(entry);
    stream.on('data', (chunk) => {
      hash.update(chunk);
      entry.bytes += chunk.length;
    });
    writes.push(pipeline(stream, fs.createWriteStream(target)).then(() => {
      entry.sha256 = hash.digest('hex');
    }));
  });
  form.on('field', (name, value) => { fields[name] = value; });
  // The body goes into busboy with backpressure; a client that leaves (or a body over the limit)
  // rejects the pipeline, and the error handler answers.
  await pipeline(req.stream(), form);
  await Promise.all(writes);
  return { files: files.map(({ path: _p, ...rest }) => rest), fields };
});

app.get('/', (req, reply) => reply.type('text/html').send(
  '<form method="post" action="/upload" enctype="multipart/form-data">' +
  '<input type="file" name="file" multiple> <input name="note"> <button>Upload</button></form>'));

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST || '127.0.0.1';

app.listen({ port, host }).then((url) => {
  console.log(`listening on ${url} (files go to ${dir})`);
}, (err) => {
  console.error(err.message);
  process.exit(1);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    app.close().then(() => process.exit(0));
  });
}
