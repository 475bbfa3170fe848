'use strict';
// A child process that calls process.exit() while the bridge is busy (teardown.test.js).
// argv[2]: 'answered' (exit from a handler mid-flood) or 'pending' (exit while JS holds
// requests it has not answered).
const net = require('node:net');
const { rawServer } = require('./raw-bridge.js');

const mode = process.argv[2];
let served = 0;
const srv = rawServer(
  { host: '127.0.0.1', port: 0, threads: 2, pinThreads: false, routes: [{ method: 'GET', path: '/r', id: 1 }] },
  (req, respond) => {
    served++;
    if (mode === 'pending' && served > 50) {
      if (served === 200) setImmediate(() => process.exit(0));
      return; // never answered
    }
    respond({ body: 'r' });
    if (mode === 'answered' && served === 300) process.exit(0);
  },
);
const { port } = srv.start();
const request = 'GET /r HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(20);
for (let c = 0; c < 8; c++) {
  const s = net.connect(port, '127.0.0.1');
  s.on('connect', () => {
    s.write(request);
    s.on('data', () => s.write(request));
  });
  s.on('error', () => {});
}
setTimeout(() => {
  console.error('the child did not exit by itself');
  process.exit(2);
}, 10000).unref();
