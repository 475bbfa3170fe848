'use strict';
// HTTP reason phrases (the engine's table, net/http/status.cc) and the error helpers the
// request pipeline uses: an error's status, the default error body, bounded logging.

const REASONS = {
  100: 'Continue', 101: 'Switching Protocols',
  200: 'OK', 201: 'Created', 202: 'Accepted', 203: 'Non-Authoritative Information',
  204: 'No Content', 205: 'Reset Content', 206: 'Partial Content',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other',
  304: 'Not Modified', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  407: 'Proxy Authentication Required', 408: 'Request Timeout', 409: 'Conflict', 410: 'Gone',
  411: 'Length Required', 412: 'Precondition Failed', 413: 'Content Too Large',
  414: 'URI Too Long', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable',
  417: 'Expectation Failed', 421: 'Misdirected Request', 422: 'Unprocessable Content',
  426: 'Upgrade Required', 428: 'Precondition Required', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
};

function reasonPhrase(status) {
  return REASONS[status] || 'Unknown';
}

// An Error carrying an HTTP status, like the ones `http-errors` makes: the default error handler
// answers with `statusCode` when it is 4xx or 5xx.
function httpError(statusCode, message, cause) {
  const err = new Error(message, cause === undefined ? undefined : { cause });
  err.statusCode = statusCode;
  return err;
}

// An Error with an HTTP status and a Fastify-style `code` (the errors the app pipeline raises
// itself, so that an error handler can tell them apart: `err.code === 'FST_ERR_...'`).
function codedError(statusCode, code, message) {
  const err = new Error(message);
  err.statusCode = statusCode;
  err.code = code;
  return err;
}

// The answers the engine hands over to the app (napi/lib/engine-answers.cjs), and the ones the
// app raises where the engine would have answered: each an error for the error handler.
const ERRORS = {
  // 405: the path has routes, not for this method; `allow` lists the methods it has.
  methodNotAllowed(method, path, allow) {
    const err = codedError(405, 'FST_ERR_METHOD_NOT_ALLOWED', `Method ${method} is not allowed on ${path}`);
    err.allow = allow;
    return err;
  },
  // 413: the body is over the limit; it was not read (the connection closes after the answer).
  bodyTooLarge(limit) {
    const err = codedError(413, 'FST_ERR_CTP_BODY_TOO_LARGE', 'Request body is too large');
    err.limit = limit;
    return err;
  },
  // 503: the handler (and its hooks) did not answer within handlerTimeoutMs.
  handlerTimeout(ms) {
    return codedError(503, 'FST_ERR_HANDLER_TIMEOUT', `The handler did not answer within ${ms} ms`);
  },
  // 500: a response header the wire cannot carry (set by a handler or hook).
  invalidHeader(name, why) {
    const shown = String(name).slice(0, 64);
    return codedError(500, 'FST_ERR_INVALID_HEADER', `Invalid response header ${JSON.stringify(shown)}: ${why}`);
  },
  // Any other status the engine handed over (a newer engine than this layer).
  engine(status) {
    return codedError(status, 'FST_ERR_ENGINE_ANSWER', reasonPhrase(status));
  },
};

// The status an error asks for: its `statusCode` (or `status`) when that is an integer 400..599,
// else 500.
function statusOf(err) {
  if (err !== null && typeof err === 'object') {
    let s = err.statusCode;
    if (s === undefined) s = err.status;
    if (Number.isInteger(s) && s >= 400 && s <= 599) return s;
  }
  return 500;
}

// Logging that cannot flood stderr: a server failing on every request logs its first errors and
// then says it stopped (as the engine does for C++ handler errors).
const LOG_LIMIT = 20;

class ErrorLog {
  constructor() {
    this.count = 0;
  }

  log(what, err) {
    if (this.count >= LOG_LIMIT) return;
    this.count++;
    const detail = err instanceof Error ? (err.stack || err.message) : String(err);
    console.error(`nexurejs: ${what}: ${detail}`);
    if (this.count === LOG_LIMIT) console.error('nexurejs: further errors are not logged');
  }
}

module.exports = { REASONS, reasonPhrase, httpError, codedError, ERRORS, statusOf, ErrorLog };
