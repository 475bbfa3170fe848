'use strict';
// uWebSockets.js (the bench-only "uWebSockets.js": "npm:uwebsockets@3.0.6" of bench/compare),
// the reference of bench/ws/run.sh. One process, one thread, port from PORT (0: any; the port is
// printed as "listening on http://127.0.0.1:PORT").
//   /echo  echoes every message with its opcode (text stays text, binary stays binary);
//   /chat  subscribes each client to the topic "room" and publishes what it receives there with
//          app.publish, which reaches EVERY subscriber, the sender included (ws.publish would
//          leave the sender out). nexload --ws-fanout counts the publisher's own copies apart
//          ("own"), so the subscribers' deliveries compare whichever a server does.
// No compression, 16 MiB message limit, no idle timeout (a benchmark's connections stay busy).
const path = require('node:path');
const uWS = require(require.resolve('uWebSockets.js', {
  paths: [path.join(__dirname, '..', '..', 'compare')],
}));

const port = Number(process.env.PORT || 0);
const app = uWS.App();
const behaviour = {
  compression: uWS.DISABLED,
  maxPayloadLength: 16 * 1024 * 1024,
  maxBackpressure: 64 * 1024 * 1024,
  idleTimeout: 0,
};
app.ws('/echo', {
  ...behaviour,
  message: (ws, message, isBinary) => {
    ws.send(message, isBinary);
  },
});
app.ws('/chat', {
  ...behaviour,
  open: (ws) => {
    ws.subscribe('room');
  },
  message: (ws, message, isBinary) => {
    app.publish('room', message, isBinary);
  },
});
app.any('/*', (res) => {
  res.writeStatus('404 Not Found').end('not a WebSocket endpoint: use /echo or /chat\n');
});
app.listen('127.0.0.1', port, (token) => {
  if (!token) {
    console.error(`uws: cannot listen on 127.0.0.1:${port}`);
    process.exit(1);
  }
  console.log(`listening on http://127.0.0.1:${uWS.us_socket_local_port(token)}`);
});
