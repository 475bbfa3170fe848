'use strict';
// Run with --expose-gc: create, start, stop and destroy servers, drop them, collect, and print
// what native memory is left (teardown.test.js).
const { rawServer, binding } = require('./raw-bridge.js');
const { exchange } = require('./http-client.js');

const rounds = Number(process.argv[2] || 50);

// One server's life, in its own frame so that nothing of it stays reachable afterwards.
async function round(i) {
  {
    const srv = rawServer(
      { host: '127.0.0.1', port: 0, threads: 1, pinThreads: false, routes: [{ method: 'GET', path: '/', id: 1 }] },
      (req, respond) => respond({ body: String(i) }),
    );
    const { port } = srv.start();
    if (i % 10 === 0) {
      const text = await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      if (!text.endsWith(String(i))) throw new Error(`round ${i}: ${text}`);
    }
    await srv.close();
  }
}

async function main() {
  const before = binding.__stats();
  for (let i = 0; i < rounds; i++) await round(i);
  const live = binding.__stats();
  for (let k = 0; k < 10; k++) {
    global.gc();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 5));
  }
  const after = binding.__stats();
  console.log(JSON.stringify({ before, live, after }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
