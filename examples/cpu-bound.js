'use strict';
// A handler that computes: GET /work spends about 1 ms of CPU in JavaScript (a fixed amount of
// arithmetic, the same for every request) and answers what it computed. With JS_THREADS=N the
// handlers run on N JavaScript threads (createApp's jsThreads), fed by one engine: each thread
// loads this same module, builds the same app, and its listen() attaches to the engine the
// main thread started.
//   node examples/cpu-bound.js                  (PORT=3000, one JavaScript thread)
//   JS_THREADS=2 PORT=8080 node examples/cpu-bound.js
// State rules: every thread has its own module state (variables, caches, connections); share
// through a database, a SharedArrayBuffer, or messages. See README "JavaScript on every core".
const { isMainThread, threadId } = require('node:worker_threads');
const { createApp } = require('nexurejs');

const jsThreads = Number(process.env.JS_THREADS ?? 1);
const app = createApp({ jsThreads });

// About 1 ms once optimized on this project's 2-core reference machine: 600,000 rounds of
// xorshift32 (WORK_ROUNDS changes it).
const ROUNDS = Number(process.env.WORK_ROUNDS ?? 600000);
function work(seed) {
  let x = seed | 0 || 1;
  let sum = 0;
  for (let i = 0; i < ROUNDS; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    sum = (sum + x) | 0;
  }
  return sum >>> 0;
}

app.get('/work', (req) => ({ result: work(Number(req.query.seed ?? 1)), thread: threadId }));

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST || '127.0.0.1';

app.listen({ port, host }).then((url) => {
  if (isMainThread) console.log(`listening on ${url} with ${jsThreads} JavaScript thread(s)`);
}, (err) => {
  console.error(err.message);
  process.exit(1);
});

// Ctrl-C / SIGTERM (delivered to the main thread): stop accepting, let in-flight requests
// finish, stop the JavaScript threads, exit.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    app.close().then(() => process.exit(0));
  });
}
