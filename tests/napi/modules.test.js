'use strict';
// `import` and `require` of the package both work (child processes running fixtures), and they
// share one instance.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

function run(file) {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', file)],
    { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.signal, null, `${file} was killed: ${r.stderr}`);
  assert.equal(r.status, 0, `${file} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim());
}

test('ESM: import { createApp } from "nexurejs" serves requests; one instance with require()', () => {
  assert.deepEqual(run('esm-app.mjs'), { body: { hello: 'world' }, sameInstance: true, httpError: 'function' });
});

test('CommonJS: require("nexurejs") serves requests; `default` is the module itself', () => {
  assert.deepEqual(run('cjs-app.cjs'), { text: 'cjs ok', same: true });
});
