'use strict';
// createApp({ jsThreads: N }): the app's handlers on N JavaScript threads (worker_threads), all
// fed by one engine through the native hub (napi/src/hub.h, napi/PROTOCOL.md "JavaScript
// threads").
//
// The thread that calls listen() starts the engine and N threads, each of which loads the app's
// module again (the process's main module), builds the same app and, in its own listen(),
// attaches to the hub (binding.attachThread) instead of starting a server. That thread then runs
// no handler: its doorbell moves records between the engine and the threads in native code. A
// request goes to the thread with the fewest requests in hand; a thread that is free takes the
// oldest waiting request of a busy one; each connection's answers keep their order in the
// engine whichever thread gives them.
//
// ThreadPool is the main thread's side (start, watch, replace, close); threadRole() and
// announce() are a thread's.

const { Worker, isMainThread, workerData, parentPort } = require('node:worker_threads');
const path = require('node:path');

const ROLE = '__nexurejsThread';
// A thread that fails within this long of starting is not replaced again (a crash loop).
const RESTART_WINDOW_MS = 1000;
const CLOSE_WAIT_MS = 5000;
// A thread whose app has not listened by then fails the main thread's listen().
const ATTACH_WAIT_MS = 60000;

// This thread's role when it is one of an app's JavaScript threads, else null.
function threadRole() {
  if (isMainThread || workerData === null || typeof workerData !== 'object') return null;
  const role = workerData[ROLE];
  return role !== undefined && role !== null && typeof role === 'object' ? role : null;
}

// What the threads' apps must register exactly alike: the route ids follow registration order.
function routeSignature(routes) {
  return routes.map((r) => `${r.method} ${r.path} ${r.id}`).join('\n');
}

// A thread's message to the main thread ('ready', 'failed', 'closed').
function announce(what, detail) {
  if (parentPort !== null) parentPort.postMessage({ [ROLE]: what, detail });
}

// The module the threads load: the process's main module.
function appModule() {
  const file = process.argv[1];
  if (typeof file !== 'string' || file === '') {
    throw new Error('createApp({ jsThreads }): the app must be started from a module file ' +
      '(node app.js): each JavaScript thread loads that module');
  }
  return path.resolve(file);
}

class ThreadPool {
  // `role`: what every thread gets (hub token, info, url, route signature); `errorLog`: where
  // failures are reported.
  constructor(count, role, errorLog) {
    this.count = count;
    this.role = role;
    this.errorLog = errorLog;
    this.file = appModule();
    this.threads = new Array(count).fill(null);
    this.closing = false;
  }

  // Starts every thread; resolves once each has attached, rejects with the first failure.
  start() {
    const started = [];
    for (let lane = 0; lane < this.count; lane++) started.push(this.spawn(lane));
    return Promise.all(started);
  }

  spawn(lane) {
    const t = { lane, worker: null, ready: false, readyAt: 0, closed: false, exited: null };
    this.threads[lane] = t;
    return new Promise((resolve, reject) => {
      const worker = new Worker(this.file, {
        workerData: { [ROLE]: { ...this.role, lane, count: this.count } },
        argv: process.argv.slice(2),
      });
      t.worker = worker;
      t.exited = new Promise((done) => worker.once('exit', done));
      let failure = null;
      const late = setTimeout(() => {
        reject(new Error(`JavaScript thread ${lane} did not listen within ${ATTACH_WAIT_MS / 1000} s: the app ` +
          'module must call listen() on the app it creates with jsThreads, on every thread'));
        worker.terminate();
      }, ATTACH_WAIT_MS);
      late.unref();
      worker.once('exit', () => clearTimeout(late));
      worker.on('message', (m) => {
        if (m === null || typeof m !== 'object' || m[ROLE] === undefined) return;
        if (m[ROLE] === 'ready') {
          clearTimeout(late);
          t.ready = true;
          t.readyAt = Date.now();
          resolve();
        } else if (m[ROLE] === 'failed') {
          failure = new Error(`JavaScript thread ${lane}: ${m.detail}`);
        } else if (m[ROLE] === 'closed') {
          t.closed = true;
        }
      });
      worker.on('error', (err) => {
        failure = failure ?? err;
        if (t.ready) this.errorLog.log(`JavaScript thread ${lane} failed; its requests in hand were answered 500`, err);
      });
      worker.on('exit', (code) => {
        if (!t.ready) {
          reject(failure ?? new Error(`JavaScript thread ${lane} exited (code ${code}) before its app listened: ` +
            'the app module must call listen() on the app it creates with jsThreads'));
          return;
        }
        if (this.closing || this.threads[lane] !== t) return;
        // The thread's requests in hand were answered 500 (Hub::detach); those waiting for it
        // went to the other threads. Replace it, unless it keeps failing at once.
        if (Date.now() - t.readyAt < RESTART_WINDOW_MS) {
          this.errorLog.log(`JavaScript thread ${lane} exited (code ${code}) within ${RESTART_WINDOW_MS} ms ` +
            'of starting; it is not replaced', failure ?? new Error(`exit code ${code}`));
          return;
        }
        this.spawn(lane).catch((err) => {
          this.errorLog.log(`JavaScript thread ${lane} could not be replaced`, err);
        });
      });
    });
  }

  // The engine has stopped: each thread's app closes (it sees stopped()); wait for them, then
  // end any thread still running after CLOSE_WAIT_MS (timers or sockets of the app's own).
  async close() {
    this.closing = true;
    await Promise.all(this.threads.map(async (t) => {
      if (t === null || t.worker === null) return;
      let timer = null;
      const late = new Promise((resolve) => { timer = setTimeout(resolve, CLOSE_WAIT_MS); });
      const closedOrExited = new Promise((resolve) => {
        if (t.closed) { resolve(); return; }
        t.worker.on('message', (m) => { if (m !== null && typeof m === 'object' && m[ROLE] === 'closed') resolve(); });
        t.exited.then(resolve);
      });
      await Promise.race([closedOrExited, late]);
      clearTimeout(timer);
      await t.worker.terminate();
    }));
  }
}

module.exports = { ThreadPool, threadRole, routeSignature, announce };
