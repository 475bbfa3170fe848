'use strict';
// Files: reply.sendFile() and app.static() (napi/README.md, "Files").
//
// Who does what. The decision — which file (confined to the root: openat2 RESOLVE_BENEATH), which
// status (200/206/304/416) and which fields (Content-Type, ETag, Last-Modified, Cache-Control,
// Content-Range, Vary...) — is made by the engine's own rules (net/files/) through the binding's
// fileAnswer(), synchronously on the JS thread (an open and a statx: a few microseconds), so the
// app's onSend/onResponse hooks see the real status. The bytes are then sent by the engine: the
// response record carries flag bit 4 and names the file (napi/PROTOCOL.md, "File answers"); the
// worker re-opens it on its own io_uring ring and streams it — no file byte crosses into JS.
// inject() reads the bytes here instead (same headers and statuses).
//
// app.static(prefix, dir): a GET route '<prefix>/*'. When nothing of the app's would see its
// requests (no hook applies to it, no not-found or error handler), the engine serves it entirely
// (createServer's routes[i].static: no JavaScript per request); otherwise it runs through JS,
// like reply.sendFile, so that the hooks and handlers see every answer.

const fs = require('node:fs');
const nodePath = require('node:path');

const FLAG_FILE = 16;        // response record flag bit 4 (PROTOCOL.md)
const SPEC_HEAD_ONLY = 1;
const SPEC_NO_SYMLINKS = 2;
const SPEC_FIXED = 32;
const OPTION_KEYS = ['root', 'maxAge', 'immutable', 'index', 'precompressed', 'followSymlinks',
  'redirectDirectories'];

// A file answer on its way from send() to the record: onSend hooks get it as the payload (a hook
// that returns a string or a Buffer replaces the file with that body).
class FileAnswer {
  constructor(root, path, offset, length, etag, headOnly, noSymlinks) {
    this.root = root;
    this.path = path;  // relative to root
    this.offset = offset;
    this.length = length;
    this.etag = etag;
    this.headOnly = headOnly;
    this.noSymlinks = noSymlinks;
  }

  // The record's body (PROTOCOL.md, "File answers").
  encode() {
    const root = Buffer.from(this.root, 'utf8');
    const path = Buffer.from(this.path, 'utf8');
    const etag = Buffer.from(this.etag, 'latin1');
    const b = Buffer.allocUnsafe(SPEC_FIXED + root.length + path.length + etag.length);
    b.writeBigUInt64LE(BigInt(this.offset), 0);
    b.writeBigUInt64LE(BigInt(this.length), 8);
    b.writeUInt32LE((this.headOnly ? SPEC_HEAD_ONLY : 0) | (this.noSymlinks ? SPEC_NO_SYMLINKS : 0), 16);
    b.writeUInt32LE(root.length, 20);
    b.writeUInt32LE(path.length, 24);
    b.writeUInt32LE(etag.length, 28);
    root.copy(b, SPEC_FIXED);
    path.copy(b, SPEC_FIXED + root.length);
    etag.copy(b, SPEC_FIXED + root.length + path.length);
    return b;
  }

  // inject(): the bytes, read here (the engine is not involved).
  read() {
    if (this.length === 0) return Buffer.alloc(0);
    const fd = fs.openSync(nodePath.join(this.root, this.path), 'r');
    try {
      const out = Buffer.allocUnsafe(this.length);
      let got = 0;
      while (got < this.length) {
        const n = fs.readSync(fd, out, got, this.length - got, this.offset + got);
        if (n === 0) throw new Error(`${this.path} changed while it was read`);
        got += n;
      }
      return out;
    } finally {
      fs.closeSync(fd);
    }
  }
}

function fileError(status, message) {
  const err = new Error(message);
  err.statusCode = status;
  return err;
}

// Options of sendFile() and static(), checked and with their defaults (what the binding takes).
function normalizeOptions(where, options, needRoot) {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
  for (const k of Object.keys(options)) {
    if (!OPTION_KEYS.includes(k)) {
      throw new TypeError(`${where}: unknown option ${k} (known: ${OPTION_KEYS.join(', ')})`);
    }
  }
  const out = {
    maxAge: 0, immutable: false, index: ['index.html'], precompressed: true,
    followSymlinks: true, redirectDirectories: true,
  };
  if (options.root !== undefined) {
    if (typeof options.root !== 'string' || options.root === '') {
      throw new TypeError(`${where}: root must be a non-empty string`);
    }
    out.root = nodePath.resolve(options.root);
  } else if (needRoot) {
    throw new TypeError(`${where}: root is required`);
  }
  if (options.maxAge !== undefined) {
    const v = options.maxAge;
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new TypeError(`${where}: maxAge must be a whole number of seconds, got ${v}`);
    }
    out.maxAge = v;
  }
  for (const k of ['immutable', 'precompressed', 'followSymlinks', 'redirectDirectories']) {
    if (options[k] === undefined) continue;
    if (typeof options[k] !== 'boolean') throw new TypeError(`${where}: ${k} must be a boolean`);
    out[k] = options[k];
  }
  if (options.index !== undefined) {
    const v = options.index;
    if (v === false) out.index = [];
    else if (typeof v === 'string') out.index = [v];
    else if (Array.isArray(v) && v.every((s) => typeof s === 'string' && s !== '')) out.index = v.slice();
    else throw new TypeError(`${where}: index must be false, a file name or an array of them`);
  }
  return out;
}

// The app's not-found handling for a file that is not there: its not-found handler (with status
// 404), else the engine's plain 404 — through onSend/onResponse like any answer.
function notFound(state, req, reply) {
  reply.statusCode = 404;
  // The not-found handler of the deepest plugin scope whose prefix holds the path (Fastify's).
  const nf = state.scopeForPath(req.path).notFound;
  if (nf === null || nf === undefined) {
    reply.type('text/plain');
    state.send(reply, 'Not Found\n');
    return;
  }
  req._running++;
  let v;
  try {
    v = nf.handler.call(nf.scope, req, reply);
  } catch (err) {
    req._running--;
    state.fail(req, reply, err);
    return;
  }
  const settle = (r) => {
    req._running--;
    if (r !== undefined && r !== reply) state.answer(reply, r);
  };
  if (v !== null && typeof v === 'object' && typeof v.then === 'function') {
    v.then(settle, (err) => {
      req._running--;
      state.fail(req, reply, err);
    });
  } else {
    settle(v);
  }
}

// reply.sendFile(name, options) (url: name is a URL path below a static mount, decoded once by
// the engine's rules; otherwise a file name, not decoded).
function sendFile(state, reply, name, options, url = false) {
  const req = reply.request;
  let opts;
  try {
    opts = url ? options : normalizeOptions('reply.sendFile()', options, false);
    if (typeof name !== 'string') throw new TypeError('reply.sendFile(): the path must be a string');
  } catch (err) {
    state.fail(req, reply, err);
    return;
  }
  let root = opts.root;
  if (root === undefined) {
    if (!nodePath.isAbsolute(name)) {
      state.fail(req, reply, new TypeError('reply.sendFile(): a relative path needs options.root'));
      return;
    }
    root = '/';
  }
  const h = req.headers;
  const fields = [req.method, h['if-none-match'] ?? '', h['if-modified-since'] ?? '',
    h.range ?? '', h['if-range'] ?? '', h['accept-encoding'] ?? ''];
  let d;
  try {
    d = require('./binding.cjs').fileAnswer(root, name, url, fields, opts);
  } catch (err) {
    state.fail(req, reply, err);
    return;
  }
  switch (d.status) {
    case 200: case 206: case 304: case 416:
      break;
    case 301: {
      const q = req.querystring;
      reply.redirect(req.path + '/' + (q === '' ? '' : '?' + q), 301);
      return;
    }
    case 404:
      notFound(state, req, reply);
      return;
    case 400:
      state.fail(req, reply, fileError(400, `bad file path ${JSON.stringify(name)}`));
      return;
    case 403:
      state.fail(req, reply, fileError(403, `no permission to read ${JSON.stringify(name)}`));
      return;
    default:
      state.fail(req, reply, fileError(500, `${JSON.stringify(name)} could not be read (errno ${d.errno})`));
      return;
  }
  reply.statusCode = d.status;
  if (d.type !== '') reply.type(d.type);
  for (const [n, v] of d.headers) reply.header(n, v);
  if (d.status === 304 || d.status === 416) {
    state.send(reply, undefined);
    return;
  }
  state.send(reply, new FileAnswer(root, d.path, d.offset, d.length, d.etag, req.method === 'HEAD',
    !opts.followSymlinks));
}

// app.static(prefix, dir, options), for the app's State (app.cjs).
function addStatic(state, scope, prefix, dir, options) {
  state.checkOpen(`static ${prefix}`);
  if (typeof prefix !== 'string' || prefix[0] !== '/') {
    throw new TypeError(`static(): prefix must be a string starting with '/', got ${String(prefix)}`);
  }
  if (typeof dir !== 'string' || dir === '') throw new TypeError('static(): dir must be a non-empty string');
  const opts = normalizeOptions('static()', { ...options, root: dir }, true);
  let st;
  try {
    st = fs.statSync(opts.root);
  } catch (err) {
    throw new Error(`static(): cannot serve ${opts.root}: ${err.message}`);
  }
  if (!st.isDirectory()) throw new Error(`static(): ${opts.root} is not a directory`);
  const pattern = prefix.replace(/\/+$/, '') + '/*';
  // The part of the raw path the catch-all took: the route's pattern length, less the '*'.
  const full = (scope.prefix + pattern).length - 1;
  const handler = function serveStatic(req, reply) {
    sendFile(state, reply, req.path.slice(full), opts, true);
  };
  state.addRoute(scope, 'GET', pattern, undefined, handler);
  state.routes[state.routes.length - 1].static = opts;
}

// The route list createServer gets: static routes the engine may serve alone carry their
// options (after freeze() compiled the hooks: route.fast says that no hook applies).
function engineRoutes(state, configs) {
  if (state.notFounds.length !== 0) return configs;
  let out = configs;
  for (let i = 0; i < configs.length; i++) {
    const c = configs[i];
    if (c.id === undefined) continue;
    const route = state.routes[c.id];
    // route.fast: no hook applies (freeze() compiled them); no error handler of its scope either.
    if (route === undefined || route.static === undefined || !route.fast || route.errorHandler !== null) continue;
    if (out === configs) out = configs.slice();
    out[i] = { ...c, static: route.static };
  }
  return out;
}

module.exports = { FileAnswer, FLAG_FILE, sendFile, addStatic, engineRoutes };
