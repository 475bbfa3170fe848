'use strict';
// Where the native addon is (napi/README.md, "Finding the addon"). binding.cjs loads what
// locate() returns; the install script (napi/scripts/install.cjs) writes to the same places.
//
// In order:
//   1. NEXURE_ADDON, a path (a sanitizer build, a build of your own): only that file;
//   2. a build from source: napi/lib/nexurejs.node (npm install in a checkout, or an installed
//      package whose host did not match the prebuilt) or, for a checkout that another project
//      installed as a linked folder, the build the install script made outside the checkout
//      (checkoutBuildDir()); the newer of the two when both exist;
//   3. the prebuilt addon the npm package carries: prebuilds/<platform>-<arch>-glibc/.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');

const root = path.resolve(__dirname, '..', '..');
const ADDON = 'nexurejs.node';

function isCheckout(dir = root) {
  return fs.existsSync(path.join(dir, '.git'));
}

function realpath(dir) {
  try {
    return fs.realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

// The directory a linked checkout's addon is built in: one per checkout (by its real path) under
// NEXURE_CACHE_DIR, or $XDG_CACHE_HOME/nexurejs, or ~/.cache/nexurejs. Never inside the checkout:
// `npm install /path/to/checkout` must not write into it.
function checkoutBuildDir(dir = root) {
  const base =
    process.env.NEXURE_CACHE_DIR ||
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'nexurejs');
  const id = crypto.createHash('sha256').update(realpath(dir)).digest('hex').slice(0, 16);
  return path.join(base, `checkout-${path.basename(realpath(dir))}-${id}`);
}

function prebuiltDir(dir = root) {
  return path.join(dir, 'prebuilds', `${process.platform}-${process.arch}-glibc`);
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

// Every place looked at, in order, with whether a file is there: [{ file, kind, exists }].
function candidates() {
  if (process.env.NEXURE_ADDON) {
    const file = path.resolve(process.env.NEXURE_ADDON);
    return [{ file, kind: 'NEXURE_ADDON', exists: fs.existsSync(file) }];
  }
  const built = [{ file: path.join(root, 'napi', 'lib', ADDON), kind: 'built' }];
  if (isCheckout()) {
    built.push({ file: path.join(checkoutBuildDir(), ADDON), kind: 'built outside the checkout' });
  }
  for (const c of built) c.mtime = mtime(c.file);
  built.sort((a, b) => b.mtime - a.mtime);
  const prebuilt = { file: path.join(prebuiltDir(), ADDON), kind: 'prebuilt' };
  prebuilt.mtime = mtime(prebuilt.file);
  return [...built, prebuilt].map(({ file, kind, mtime: m }) => ({ file, kind, exists: m >= 0 }));
}

// The addon to load: { file, kind }, or null when there is none (`tried` then lists where).
function locate() {
  const tried = candidates();
  const found = tried.find((c) => c.exists);
  return found ? { file: found.file, kind: found.kind, tried } : { file: null, kind: null, tried };
}

module.exports = { root, ADDON, isCheckout, checkoutBuildDir, prebuiltDir, candidates, locate };
