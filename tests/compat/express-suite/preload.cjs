'use strict';
// Loaded with `mocha --require` before Express and supertest: every http.createServer() of the
// process (Express's app.listen(), supertest's server for an app) makes a nexurejs/http server.
// run.sh runs Express's suite with it and without it (Node's own http).
const http = require('node:http');
const path = require('node:path');
const nexure = require(path.join(__dirname, '..', '..', '..', 'napi', 'lib', 'http.cjs'));

http.createServer = nexure.createServer;
