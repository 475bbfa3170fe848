'use strict';
// Raw HTTP/1.1 over node:net for the native tests: exact bytes out, exact bytes back.
const net = require('node:net');

// Sends `data` on one connection and resolves with everything received until the server closes
// (or until `until(received)` is true, then closes). Rejects after `timeoutMs`.
function exchange(port, data, { until, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const socket = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 400))}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    socket.on('connect', () => socket.write(data));
    socket.on('data', (d) => {
      chunks.push(d);
      if (until && until(Buffer.concat(chunks).toString('latin1'))) done();
    });
    socket.on('end', done);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

// Splits a byte stream of responses into {status, headers (lower-case names), body} objects.
function parseResponses(text) {
  const out = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`incomplete head: ${JSON.stringify(rest.slice(0, 200))}`);
    const lines = rest.slice(0, end).split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    const length = Number(headers['content-length'] || 0);
    if (rest.length < end + 4 + length) throw new Error('incomplete body');
    out.push({ status, headers, body: rest.slice(end + 4, end + 4 + length), head: lines });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

function countResponses(text) {
  let n = 0;
  try {
    n = parseResponses(text).length;
  } catch {
    return -1;
  }
  return n;
}

module.exports = { exchange, parseResponses, countResponses };
