'use strict';
// Runs a bridge server inside a worker_threads Worker, serves one request through JS, then ends
// the way workerData.ending says (teardown.test.js).
const { parentPort, workerData } = require('node:worker_threads');
const { rawServer } = require('./raw-bridge.js');
const { exchange } = require('./http-client.js');

const srv = rawServer(
  {
    host: '127.0.0.1',
    port: 0,
    threads: 1,
    pinThreads: false,
    drainTimeoutMs: 300,
    routes: [
      { method: 'GET', path: '/w', id: 1 },
      { method: 'GET', path: '/never', id: 2 },
    ],
  },
  (req, respond) => {
    if (req.handler === 1) respond({ body: 'from worker' });
    // /never: left unanswered, so teardown meets a request in flight
  },
);
const { port } = srv.start();

exchange(port, 'GET /w HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n').then(async (text) => {
  const ok = text.includes('from worker');
  if (workerData.ending === 'terminate-pending') {
    // A request JS holds when the worker goes away.
    require('node:net').connect(port, '127.0.0.1').write('GET /never HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
  }
  parentPort.postMessage({ ok });
  switch (workerData.ending) {
    case 'exit':
      process.exit(0);
      break;
    case 'natural':
      await srv.close(); // nothing keeps the worker alive afterwards
      break;
    case 'throw':
      throw new Error('uncaught in the worker');
    default: // terminate, terminate-pending: the main thread ends us while the server runs
      break;
  }
});
