#!/usr/bin/env node
'use strict';
// The package's install script (`npm install`, `npm rebuild nexurejs`): napi/README.md,
// "Installing". It decides where the addon comes from:
//
//   in a checkout (a .git next to package.json), npm run there  → built from source into
//     build/npm, copied to napi/lib/nexurejs.node (the developer's build);
//   in a checkout that another project installed as a linked folder (`npm install
//     /path/to/checkout`)                                        → the prebuilt if it fits (below),
//     else built from source OUTSIDE the checkout (locate.cjs's checkoutBuildDir(), under
//     ~/.cache/nexurejs): the checkout is never written to;
//   an installed package (from the registry or a tarball)       → the prebuilt if it fits, else
//     built from source into the package's own build/npm and napi/lib/.
//
// The prebuilt (prebuilds/<platform>-<arch>-glibc/, made by prebuild.cjs) fits when the host
// matches its manifest (linux, x64, glibc and Node-API at least the recorded ones, the CPU level),
// the file is the one the manifest describes (sha256), the package's native sources are those it
// was built from, and it actually loads: require() in a child process.
//
// Environment:
//   NEXURE_SKIP_BUILD=1        do nothing (the prebuilt, if any, is still what loads)
//   NEXURE_BUILD_FROM_SOURCE=1 never use the prebuilt (e.g. to build for -march=native)
//   NEXURE_CACHE_DIR           where a linked checkout is built (default ~/.cache/nexurejs)
//   and build-addon.js's (NEXURE_BUILD_TYPE, CXX, CC, NEXURE_LLHTTP_DIR, ...).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { buildFromSource, BuildError, fail, say } = require('./build-addon.js');
const { hostFacts, mismatches, sourcesHash, fileSha256 } = require('./prebuilt.cjs');
const { isCheckout, checkoutBuildDir, prebuiltDir, ADDON } = require('../lib/locate.cjs');

const root = path.resolve(__dirname, '..', '..');

function realpath(p) {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function flag(name) {
  const v = process.env[name];
  return Boolean(v) && v !== '0' && v.toLowerCase() !== 'false';
}

// { ok: true, file, manifest } or { ok: false, why } for the prebuilt this package carries.
function checkPrebuilt() {
  const dir = prebuiltDir(root);
  const manifestFile = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) {
    return { ok: false, why: `there is no prebuilt addon for ${process.platform}-${process.arch} in this package` };
  }
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  } catch (err) {
    return { ok: false, why: `${manifestFile} is unreadable: ${err.message}` };
  }
  const file = path.join(dir, manifest.file || ADDON);
  if (!fs.existsSync(file)) return { ok: false, why: `${file} is missing` };
  if (fileSha256(file) !== manifest.sha256) {
    return { ok: false, why: `${file} is not the file its manifest describes (sha256 differs)` };
  }
  const why = mismatches(manifest, hostFacts());
  if (why.length) return { ok: false, why: `the prebuilt does not fit this host: ${why.join('; ')}` };
  if (!manifest.sources || sourcesHash(root).sha256 !== manifest.sources.sha256) {
    return { ok: false, why: 'the native sources here differ from those the prebuilt was built from' };
  }
  const load = spawnSync(
    process.execPath,
    ['-e', `const b = require(${JSON.stringify(file)}); if (typeof b.createServer !== 'function') process.exit(3);`],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (load.error || load.status !== 0) {
    const detail = (load.stderr || (load.error && load.error.message) || `exit ${load.status}`).trim().split('\n').slice(0, 5).join(' ');
    return { ok: false, why: `the prebuilt does not load into ${process.execPath}: ${detail}` };
  }
  return { ok: true, file, manifest };
}

function removeIfExists(file) {
  try {
    fs.unlinkSync(file);
    return true;
  } catch {
    return false;
  }
}

async function main() {
  if (flag('NEXURE_SKIP_BUILD')) {
    say('NEXURE_SKIP_BUILD is set: not installing the native addon');
    return;
  }
  if (process.platform !== 'linux') {
    throw new BuildError(`nexurejs runs on Linux only (it is built on io_uring); this is ${process.platform}.`);
  }
  const checkout = isCheckout(root);
  const localPrefix = process.env.npm_config_local_prefix;
  const linked = checkout && Boolean(localPrefix) && realpath(localPrefix) !== realpath(root);

  if (checkout && !linked) {
    await buildFromSource({
      buildDir: path.join(root, 'build', 'npm'),
      outFile: path.join(root, 'napi', 'lib', ADDON),
      buildType: process.env.NEXURE_BUILD_TYPE || 'Release',
      reason: 'npm install in a checkout',
    });
    return;
  }

  // The build made for this package or linked checkout (the loader prefers it to the prebuilt).
  const outDir = linked ? checkoutBuildDir(root) : null;
  const builtFile = linked ? path.join(outDir, ADDON) : path.join(root, 'napi', 'lib', ADDON);
  if (linked) {
    say(`${root} is a checkout installed as a linked folder by ${localPrefix}: nothing is written into it`);
  }

  let reason;
  if (flag('NEXURE_BUILD_FROM_SOURCE')) {
    reason = 'NEXURE_BUILD_FROM_SOURCE is set';
  } else {
    const started = Date.now();
    const pre = checkPrebuilt();
    if (pre.ok) {
      // An older build from source would be loaded first: the decision made here is what loads.
      if (removeIfExists(builtFile)) say(`removed the earlier build ${builtFile}`);
      const m = pre.manifest;
      say(`using the prebuilt addon ${path.relative(root, pre.file)} (built ${m.built && m.built.date}${m.built && m.built.commit ? ` from ${m.built.commit.slice(0, 12)}` : ''}; needs glibc >= ${m.glibc}, Node-API >= ${m.napi}; checked in ${((Date.now() - started) / 1000).toFixed(1)} s)${m.numa ? '' : '; it has no NUMA placement (build from source for that: NEXURE_BUILD_FROM_SOURCE=1)'}`);
      return;
    }
    reason = pre.why;
  }
  say(`${reason}: building from source`);
  await buildFromSource({
    buildDir: linked ? path.join(outDir, 'build') : path.join(root, 'build', 'npm'),
    outFile: builtFile,
    buildType: process.env.NEXURE_BUILD_TYPE || 'Release',
  });
}

main().catch(fail);
