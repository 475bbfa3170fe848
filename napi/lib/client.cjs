'use strict';
// The client of a request: req.ip, req.ips, req.socket, req.protocol, req.host, req.hostname,
// and createApp({ trustProxy }) — as Fastify has them, with the `proxy-addr` package deciding
// which X-Forwarded-For hops to believe.
//
// The connection's two ends come in the request record (PROTOCOL.md, offsets 64-103: the
// engine asks the kernel once per connection). Everything here is computed on first read and
// cached on the request, so requests that never read it pay nothing.

const proxyaddr = require('proxy-addr');
const { REQ, formatAddress } = require('./records.cjs');

// createApp({ trustProxy }) → the function proxy-addr calls as trust(address, hop), or null
// (trust nobody: req.ip is the socket's peer, forwarded headers are ignored).
function compileTrust(option) {
  if (option === undefined || option === null || option === false) return null;
  if (option === true) return () => true;
  if (typeof option === 'number') {
    if (!Number.isInteger(option) || option < 0) {
      throw new TypeError(`createApp(): option trustProxy as a hop count must be an integer >= 0, got ${option}`);
    }
    return (address, hop) => hop < option;
  }
  if (typeof option === 'function') return option;
  if (typeof option === 'string' || Array.isArray(option)) {
    const list = typeof option === 'string' ? option.split(',').map((s) => s.trim()) : option;
    try {
      return proxyaddr.compile(list);
    } catch (err) {
      throw new TypeError(`createApp(): option trustProxy: ${err.message} (an address, a CIDR ` +
        "range, or 'loopback', 'linklocal', 'uniquelocal')");
    }
  }
  throw new TypeError('createApp(): option trustProxy must be a boolean, a hop count, an address ' +
    `or CIDR list (a string or an array) or a function, got ${typeof option}`);
}

// The last value of a header that may be a list ('a, b' → 'b'): the one the nearest proxy set.
function lastEntry(value) {
  if (Array.isArray(value)) value = value[value.length - 1];
  const comma = value.lastIndexOf(',');
  return (comma === -1 ? value : value.slice(comma + 1)).trim();
}

// The connection's ends, decoded from the record once: { remoteAddress, remotePort,
// remoteFamily, localAddress, localPort, encrypted }. For inject(), the values it was given.
function socketOf(req) {
  let s = req._socket;
  if (s !== undefined) return s;
  const u8 = req._u8;
  if (u8 === null) throw req._released();
  const off = req._off;
  const family = u8[off + REQ.FAMILY_BYTE];
  const port = (at) => u8[off + at] | (u8[off + at + 1] << 8);
  s = {
    remoteAddress: family === 0 ? undefined : formatAddress(u8, off + REQ.REMOTE_ADDRESS_BYTE, family),
    remotePort: family === 0 ? undefined : port(REQ.REMOTE_PORT_BYTE),
    remoteFamily: family === 4 ? 'IPv4' : family === 6 ? 'IPv6' : undefined,
    localAddress: family === 0 ? undefined : formatAddress(u8, off + REQ.LOCAL_ADDRESS_BYTE, family),
    localPort: family === 0 ? undefined : port(REQ.LOCAL_PORT_BYTE),
    encrypted: false,
  };
  req._socket = s;
  return s;
}

// What proxy-addr reads of a request (Node's IncomingMessage shape).
function forwardedView(req) {
  const s = socketOf(req);
  const xff = req.headers['x-forwarded-for'];
  const headers = xff === undefined ? {} : { 'x-forwarded-for': xff };
  return { headers, connection: s, socket: s };
}

function trustOf(req) {
  const route = req._route;
  return route !== null && route !== undefined && route.trust !== undefined ? route.trust : null;
}

// Whether the immediate peer is a trusted proxy (then its X-Forwarded-Host/-Proto count).
function peerTrusted(req) {
  const trust = trustOf(req);
  if (trust === null) return false;
  const address = socketOf(req).remoteAddress;
  return address !== undefined && trust(address, 0);
}

// Adds the getters to the Request class (request.cjs stays about the record).
function install(Request) {
  Object.defineProperties(Request.prototype, {
    socket: {
      configurable: true,
      get() { return socketOf(this); },
    },
    ip: {
      configurable: true,
      get() {
        let v = this._ip;
        if (v === undefined) {
          const trust = trustOf(this);
          v = trust === null ? socketOf(this).remoteAddress : proxyaddr(forwardedView(this), trust);
          this._ip = v;
        }
        return v;
      },
    },
    // With trustProxy: the addresses from the socket's peer outwards, as far as trusted
    // (proxyaddr.all); without it undefined, as in Fastify.
    ips: {
      configurable: true,
      get() {
        const trust = trustOf(this);
        if (trust === null) return undefined;
        let v = this._ips;
        if (v === undefined) v = this._ips = proxyaddr.all(forwardedView(this), trust);
        return v;
      },
    },
    protocol: {
      configurable: true,
      get() {
        const proto = this.headers['x-forwarded-proto'];
        if (proto !== undefined && peerTrusted(this)) return lastEntry(proto).toLowerCase();
        return socketOf(this).encrypted ? 'https' : 'http';
      },
    },
    // The Host header (with its port), or X-Forwarded-Host when the peer is a trusted proxy;
    // '' when there is none (an HTTP/1.0 request may omit it).
    host: {
      configurable: true,
      get() {
        const forwarded = this.headers['x-forwarded-host'];
        if (forwarded !== undefined && peerTrusted(this)) return lastEntry(forwarded);
        return this.headers.host ?? '';
      },
    },
    // host without its port ('[::1]' for an IPv6 literal).
    hostname: {
      configurable: true,
      get() {
        const host = this.host;
        if (host[0] === '[') {
          const end = host.indexOf(']');
          return end === -1 ? host : host.slice(0, end + 1);
        }
        const colon = host.indexOf(':');
        return colon === -1 ? host : host.slice(0, colon);
      },
    },
  });
}

module.exports = { compileTrust, install, socketOf };
