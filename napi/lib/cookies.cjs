'use strict';
// Cookies: `req.cookies` (parsed lazily with the `cookie` package), `reply.setCookie()` /
// `reply.clearCookie()` (serialized with `cookie`, one Set-Cookie header each), and signed
// cookies with the app's `cookieSecret`, compatible with @fastify/cookie's signer:
// `value.` + base64(HMAC-SHA256(value)) without padding, checked in constant time; an array of
// secrets signs with the first and accepts any (rotation: `renew` says the value should be signed
// again with the current secret).

const crypto = require('node:crypto');
const cookie = require('cookie');

class Signer {
  // `secrets`: a string or Buffer, or a non-empty array of them (the first one signs).
  constructor(secrets) {
    const list = Array.isArray(secrets) ? secrets : [secrets];
    if (list.length === 0) throw new TypeError('createApp(): option cookieSecret must not be an empty array');
    for (const s of list) {
      if (!(typeof s === 'string' || Buffer.isBuffer(s)) || s.length === 0) {
        throw new TypeError('createApp(): option cookieSecret must be a non-empty string or Buffer, ' +
          'or an array of them (the first signs, all are accepted)');
      }
    }
    this.secrets = list;
  }

  static mac(secret, value) {
    return crypto.createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, '');
  }

  sign(value) {
    if (typeof value !== 'string') throw new TypeError('signCookie(): the value must be a string');
    return `${value}.${Signer.mac(this.secrets[0], value)}`;
  }

  // { valid, renew, value } as @fastify/cookie's unsign: `value` is the unsigned value (null when
  // invalid), `renew` is true when an older secret of the rotation verified it.
  unsign(signed) {
    if (typeof signed !== 'string') throw new TypeError('unsignCookie(): the value must be a string');
    const dot = signed.lastIndexOf('.');
    if (dot !== -1) {
      const value = signed.slice(0, dot);
      const given = Buffer.from(signed.slice(dot + 1));
      for (let i = 0; i < this.secrets.length; i++) {
        const expected = Buffer.from(Signer.mac(this.secrets[i], value));
        if (expected.length === given.length && crypto.timingSafeEqual(expected, given)) {
          return { valid: true, renew: i !== 0, value };
        }
      }
    }
    return { valid: false, renew: false, value: null };
  }
}

function noSecret(what) {
  return new Error(`${what}: signed cookies need a secret: createApp({ cookieSecret: '...' }) ` +
    '(or an array of secrets, the first one signing)');
}

function signer(state, what) {
  const s = state.cookieSigner;
  if (s === null) throw noSecret(what);
  return s;
}

// The Cookie header parsed into an object without prototype ({} without the header).
function parseCookies(req) {
  const header = req.headers.cookie;
  return header === undefined ? { __proto__: null } : cookie.parse(header);
}

// reply.setCookie(): serializes with `cookie` (which validates name, value and attributes and
// throws a TypeError naming the bad one); `path` defaults to '/', `secure: 'auto'` is Secure over
// HTTPS only, `signed: true` signs the value
// with the app's secret; `expires` may be a Date or a timestamp in ms. A cookie set again with
// the same name, domain and path replaces the earlier one in this response.
function setCookie(reply, name, value, options) {
  const opts = options === undefined || options === null ? {} : { ...options };
  if (typeof opts !== 'object') throw new TypeError('setCookie(): options must be an object');
  if (opts.path === undefined) opts.path = '/';
  if (typeof opts.expires === 'number') opts.expires = new Date(opts.expires);
  // @fastify/cookie's 'auto': Secure when the request came over HTTPS (req.protocol, which
  // trustProxy lets a proxy's X-Forwarded-Proto decide).
  if (opts.secure === 'auto') opts.secure = reply.request.protocol === 'https';
  let v = String(value);
  if (opts.signed) v = signer(reply._state, 'setCookie()').sign(v);
  delete opts.signed;
  const line = cookie.serialize(String(name), v, opts);
  const key = `${name};${opts.domain ?? ''};${opts.path}`;
  let set = reply._cookies;
  if (set === null) set = reply._cookies = new Map();
  const old = set.get(key);
  set.set(key, line);
  let list = reply.getHeader('set-cookie');
  if (list === undefined) list = [];
  else if (!Array.isArray(list)) list = [String(list)];
  else list = list.slice();
  if (old !== undefined) {
    const at = list.indexOf(old);
    if (at !== -1) list.splice(at, 1);
  }
  list.push(line);
  reply.header('set-cookie', list);
  return reply;
}

// reply.clearCookie(): the same cookie (name, domain, path) expired in 1970, empty value.
function clearCookie(reply, name, options) {
  const opts = options === undefined || options === null ? {} : { ...options };
  delete opts.signed;
  delete opts.maxAge;
  opts.expires = new Date(0);
  return setCookie(reply, name, '', opts);
}

// Methods that the Request, Reply and App classes take over (defined on their prototypes).
const requestMethods = {
  // A request reaches its app's state through its route's scope.
  unsignCookie(value) { return signer(this._route.scope._state, 'unsignCookie()').unsign(value); },
};

const replyMethods = {
  setCookie(name, value, options) { return setCookie(this, name, value, options); },
  cookie(name, value, options) { return setCookie(this, name, value, options); },
  clearCookie(name, options) { return clearCookie(this, name, options); },
  signCookie(value) { return signer(this._state, 'signCookie()').sign(value); },
  unsignCookie(value) { return signer(this._state, 'unsignCookie()').unsign(value); },
};

const appMethods = {
  signCookie(value) { return signer(this._state, 'signCookie()').sign(value); },
  unsignCookie(value) { return signer(this._state, 'unsignCookie()').unsign(value); },
  parseCookie(header) { return cookie.parse(String(header)); },
};

// inject({ cookies: { name: value } }) → a Cookie header value.
function cookieHeader(values) {
  if (typeof values !== 'object') throw new TypeError('inject(): cookies must be an object { name: value }');
  const out = {};
  for (const name of Object.keys(values)) out[name] = String(values[name]);
  return cookie.stringifyCookie(out);
}

// An inject response's Set-Cookie header(s), parsed.
function parseSetCookies(header) {
  if (header === undefined) return [];
  return (Array.isArray(header) ? header : [header]).map((line) => cookie.parseSetCookie(line));
}

function install(proto, methods) {
  for (const name of Object.keys(methods)) {
    Object.defineProperty(proto, name, { value: methods[name], writable: true, configurable: true });
  }
}

module.exports = {
  Signer, parseCookies, setCookie, clearCookie, cookieHeader, parseSetCookies,
  requestMethods, replyMethods, appMethods, install,
};
