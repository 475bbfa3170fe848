'use strict';
// Request body parsing by Content-Type, as Fastify's defaults do it.
// - `req.json()` parses only JSON types (`application/json`, `application/*+json`, any
//   parameters); another type, or a body without Content-Type, is a 415 error
//   (`FST_ERR_CTP_INVALID_MEDIA_TYPE`) through the error handler. `strictContentType: false`
//   (app or route option) parses whatever the type.
// - The route option (or app default) `body: 'parse'` sets `req.body` before the preHandler
//   hooks: the parsed JSON for JSON types (empty → 400 `FST_ERR_CTP_EMPTY_JSON_BODY`, invalid →
//   400 `FST_ERR_CTP_INVALID_JSON_BODY`), a string for `text/plain`, `undefined` for GET and HEAD
//   or a request without a body; any other type is 415 (with `strictContentType: false`,
//   `req.body` stays the Buffer instead). `body: 'buffer'` (the default) keeps `req.body` a Buffer.

const { httpError } = require('./errors.cjs');

const BODY_MODES = ['buffer', 'parse'];

// The media type of a Content-Type value: lower case, without parameters ('' when blank).
function mediaType(contentType) {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

function isJsonType(type) {
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

function codedError(status, code, message, cause) {
  const err = httpError(status, message, cause);
  err.code = code;
  return err;
}

function unsupported(contentType) {
  return codedError(415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE', `Unsupported Media Type: ${contentType}`);
}

function parseJson(text, contentType) {
  if (text.length === 0) {
    return codedError(400, 'FST_ERR_CTP_EMPTY_JSON_BODY',
      `Body cannot be empty when content-type is set to '${contentType}'`);
  }
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    return codedError(400, 'FST_ERR_CTP_INVALID_JSON_BODY', `Body is not valid JSON: ${err.message}`, err);
  }
}

// req.json(): resolves with the parsed body or rejects with a 400/415 error.
function json(req) {
  let text;
  try {
    const strict = req._route.strictContentType;
    const contentType = req.headers['content-type'];
    text = req._bodyText();
    if (strict) {
      if (contentType === undefined) {
        if (text.length !== 0) return Promise.reject(unsupported(contentType));
      } else if (!isJsonType(mediaType(contentType))) {
        return Promise.reject(unsupported(contentType));
      }
    }
    if (text.length === 0) {
      return Promise.reject(codedError(400, 'FST_ERR_CTP_EMPTY_JSON_BODY', 'Body is not valid JSON: the body is empty'));
    }
  } catch (err) {
    return Promise.reject(err);
  }
  const r = parseJson(text, 'application/json');
  return r instanceof Error ? Promise.reject(r) : Promise.resolve(r.value);
}

// For `body: 'parse'` routes: the value of req.body, or an Error (400/415) to fail with.
// `{ value }` so that a parsed `null` or `undefined` is told apart from an error.
function parse(req) {
  const method = req.method;
  if (method === 'GET' || method === 'HEAD') return { value: undefined };
  const headers = req.headers;
  const contentType = headers['content-type'];
  const length = req._bodyLength();
  if (length === 0 && (contentType === undefined ||
      (headers['content-length'] === undefined && headers['transfer-encoding'] === undefined))) {
    return { value: undefined };
  }
  if (contentType === undefined) {
    return req._route.strictContentType ? unsupported(contentType) : { value: req.body };
  }
  const type = mediaType(contentType);
  if (isJsonType(type)) return parseJson(req._bodyText(), contentType);
  if (type === 'text/plain') return { value: req._bodyText() };
  return req._route.strictContentType ? unsupported(contentType) : { value: req.body };
}

function checkMode(where, v) {
  if (!BODY_MODES.includes(v)) {
    throw new TypeError(`${where}: body must be one of ${BODY_MODES.map((m) => `'${m}'`).join(', ')}, got ${String(v)}`);
  }
  return v;
}

module.exports = { json, parse, mediaType, isJsonType, checkMode, BODY_MODES };
