#!/usr/bin/env node
'use strict';
// Builds the native addon with CMake and puts it at napi/lib/nexurejs.node (napi/README.md).
// It is the package's "install" script, so it runs on `npm install` (in a checkout or as a
// dependency) and on `npm rebuild nexurejs`. Nothing is downloaded: the Node-API headers are
// those of the node running this script (cmake/NodeApi.cmake).
//
// Environment:
//   NEXURE_SKIP_BUILD=1     do nothing (e.g. a packaging step that builds elsewhere)
//   NEXURE_BUILD_TYPE=...   CMake build type (default Release; Debug with NEXURE_SANITIZE)
//   NEXURE_SANITIZE=...     e.g. address,undefined or thread: builds into its own directory
//                           (build/npm-<sanitizers>) and leaves napi/lib/ alone; load it with
//                           NEXURE_ADDON=<path> and LD_PRELOAD (see napi/README.md)
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const libDir = path.join(root, 'napi', 'lib');
const target = path.join(libDir, 'nexurejs.node');

function say(msg) {
  process.stdout.write(`nexurejs: ${msg}\n`);
}

function fail(msg) {
  process.stderr.write(`\nnexurejs: the native addon could not be built.\n${msg}\n\n`);
  process.exit(1);
}

if (process.env.NEXURE_SKIP_BUILD && process.env.NEXURE_SKIP_BUILD !== '0') {
  say('NEXURE_SKIP_BUILD is set: not building the native addon');
  process.exit(0);
}
if (process.platform !== 'linux') {
  fail(`nexurejs runs on Linux only (it is built on io_uring); this is ${process.platform}.`);
}

const APT = 'apt-get install cmake g++ pkg-config liburing-dev libnuma-dev node-llhttp';

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  return r;
}

function have(cmd, args = ['--version']) {
  const r = run(cmd, args);
  return !r.error && r.status === 0;
}

if (!have('cmake')) fail(`cmake is missing. On Debian/Ubuntu: ${APT}`);
const cxx = process.env.CXX || 'g++';
if (!have(cxx)) fail(`no C++ compiler (${cxx}). On Debian/Ubuntu: ${APT}`);
if (!have('pkg-config')) fail(`pkg-config is missing. On Debian/Ubuntu: ${APT}`);

const sanitize = (process.env.NEXURE_SANITIZE || '').trim();
const buildType = process.env.NEXURE_BUILD_TYPE || (sanitize ? 'Debug' : 'Release');
const buildDir = sanitize
  ? path.join(root, 'build', `npm-${sanitize.replace(/[^A-Za-z0-9]+/g, '-')}`)
  : path.join(root, 'build', 'npm');

const configure = [
  '-S', root,
  '-B', buildDir,
  `-DCMAKE_BUILD_TYPE=${buildType}`,
  '-DNEXURE_BUILD_NAPI=ON',
  '-DNEXURE_NAPI_ONLY=ON',
  '-DNEXURE_BUILD_TESTS=OFF',
  '-DNEXURE_BUILD_BENCH=OFF',
  '-DNEXURE_BUILD_EXAMPLES=OFF',
  '-DNEXURE_MALLOC=system',
  `-DNEXURE_SANITIZE=${sanitize}`,
  `-DNODE_EXECUTABLE=${process.execPath}`,
];
// Ninja when available (faster, and what the presets use); a tree configured with another
// generator keeps it.
if (have('ninja') && !fs.existsSync(path.join(buildDir, 'CMakeCache.txt'))) {
  configure.push('-G', 'Ninja');
}

// Names the Debian package for what CMake could not find.
function hint(output) {
  const hints = [];
  if (/liburing/i.test(output)) hints.push('liburing-dev (io_uring)');
  if (/\bnuma\b/i.test(output)) hints.push('libnuma-dev');
  if (/llhttp/i.test(output)) hints.push('node-llhttp (the llhttp C sources)');
  if (/PkgConfig|pkg-config/i.test(output)) hints.push('pkg-config');
  if (/CMAKE_CXX_COMPILER|CMAKE_C_COMPILER/.test(output)) hints.push('g++');
  if (/Node.js headers|node_api\.h/.test(output)) {
    hints.push('the Node.js headers of this node (node_api.h and uv.h; see the message above)');
  }
  return hints.length
    ? `Missing: ${hints.join(', ')}.\nOn Debian/Ubuntu: ${APT}`
    : `On Debian/Ubuntu the build needs: ${APT}`;
}

const started = Date.now();
say(`configuring (${buildType}${sanitize ? `, sanitize=${sanitize}` : ''}) in ${path.relative(root, buildDir)}`);
let r = run('cmake', configure);
if (r.error || r.status !== 0) {
  const out = `${r.stdout || ''}${r.stderr || ''}`;
  fail(`cmake configure failed:\n${out.trim()}\n\n${hint(out)}`);
}

const jobs = String(Math.max(1, (os.availableParallelism ? os.availableParallelism() : os.cpus().length)));
say(`building (${jobs} jobs)`);
r = run('cmake', ['--build', buildDir, '--target', 'nexurejs', '--parallel', jobs]);
if (r.error || r.status !== 0) {
  const out = `${r.stdout || ''}${r.stderr || ''}`;
  // Only a missing header names a package here: a compiler error is not a missing package (every
  // compile command line mentions the llhttp and node include directories).
  const fatal = out.split('\n').filter((l) => /fatal error: .*: No such file or directory/.test(l));
  const missing = fatal.length ? `\n\n${hint(fatal.join('\n'))}` : '';
  fail(`the build failed:\n${out.trim().split('\n').slice(-60).join('\n')}${missing}`);
}

const built = path.join(buildDir, 'napi', 'nexurejs.node');
if (!fs.existsSync(built)) fail(`the build succeeded but ${built} is missing`);

if (sanitize) {
  say(`built ${built} in ${((Date.now() - started) / 1000).toFixed(1)} s (napi/lib/ left as is).`);
  say(`run it with: LD_PRELOAD=$(${cxx} -print-file-name=lib${sanitize.startsWith('thread') ? 'tsan' : 'asan'}.so) NEXURE_ADDON=${built} node ...`);
  process.exit(0);
}

// Copy then rename: a process loading the addon meanwhile sees the old file or the new one,
// never half of one.
const tmp = `${target}.${process.pid}.tmp`;
fs.copyFileSync(built, tmp);
fs.renameSync(tmp, target);

// Smoke test in a child process: the file loads into this node (symbols bind, -z now).
r = run(process.execPath, ['-e', `const b = require(${JSON.stringify(target)}); if (typeof b.createServer !== 'function') process.exit(3);`]);
if (r.error || r.status !== 0) {
  fail(`the built addon does not load into ${process.execPath}:\n${(r.stderr || '').trim()}`);
}
say(`built ${path.relative(root, target)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
