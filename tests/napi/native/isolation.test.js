'use strict';
// Engine threads never call N-API or libuv (napi/README.md, "Threading"): checked on the
// objects (nm), live (the NAPI() guard aborts), and on what the module exports.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..', '..');
const addon = process.env.NEXURE_ADDON || path.join(root, 'napi', 'lib', 'nexurejs.node');
const buildDir = process.env.NEXURE_BUILD_DIR || path.join(path.dirname(addon), '..');
// The object files of the bridge library: next to the module in a CMake tree (NEXURE_ADDON or
// NEXURE_BUILD_DIR), or in the npm build's tree.
function objectDir() {
  const candidates = [
    path.join(buildDir, 'CMakeFiles', 'nexure_napi.dir', 'src'),
    path.join(buildDir, 'napi', 'CMakeFiles', 'nexure_napi.dir', 'src'),
    path.join(root, 'build', 'npm', 'napi', 'CMakeFiles', 'nexure_napi.dir', 'src'),
  ];
  return candidates.find((d) => fs.existsSync(path.join(d, 'worker_bridge.cc.o')));
}

function nm(args) {
  const r = spawnSync('nm', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('the module exports exactly the two N-API entry points', () => {
  const symbols = nm(['-D', '--defined-only', addon])
    .split('\n')
    .filter(Boolean)
    .map((l) => l.trim().split(/\s+/).pop())
    .sort();
  assert.deepEqual(symbols, ['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
});

test('engine-thread object files reference no napi_, node_api_ or uv_ symbol', (t) => {
  const dir = objectDir();
  if (!dir) {
    t.skip('no CMake tree with the nexure_napi objects (run npm install, or set NEXURE_BUILD_DIR)');
    return;
  }
  // worker_bridge, ws_bridge, response_streams, channel and thread_role run on engine threads; js_side has no node
  // dependency either (addon.cc alone speaks N-API).
  for (const file of ['worker_bridge.cc.o', 'ws_bridge.cc.o', 'response_streams.cc.o', 'channel.cc.o', 'thread_role.cc.o', 'js_side.cc.o']) {
    const undefinedSymbols = nm(['-u', path.join(dir, file)]);
    const bad = undefinedSymbols.split('\n').filter((l) => /\b(napi_|node_api_|uv_)/.test(l));
    assert.deepEqual(bad, [], `${file} references ${bad.join(', ')}`);
  }
  // And the check would see one: addon.cc's object does reference napi_.
  const addonObject = path.join(dir, '..', '..', 'nexurejs.dir', 'src', 'addon.cc.o');
  if (fs.existsSync(addonObject)) assert.match(nm(['-u', addonObject]), /napi_/);
});

test('a napi call on an engine thread aborts the process with the reason', () => {
  const r = spawnSync(
    process.execPath,
    ['-e', `require(${JSON.stringify(path.join(root, 'napi', 'lib', 'binding.cjs'))}).__testNapiOnEngineThread()`],
    { encoding: 'utf8', timeout: 20000 },
  );
  assert.equal(r.signal, 'SIGABRT', `status ${r.status}, stderr: ${r.stderr}`);
  assert.match(r.stderr, /napi call on an engine thread/);
});
