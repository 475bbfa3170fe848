#!/usr/bin/env node
'use strict';
// Builds the prebuilt addon the npm package carries (`npm run prebuilt`; `npm pack` runs it
// first, as the prepack script): napi/README.md, "Prebuilt addon".
//
//   build/prebuilt/                              the CMake tree (NEXURE_STATIC_DEPS=ON, Release)
//   prebuilds/<platform>-<arch>-glibc/nexurejs.node
//   prebuilds/<platform>-<arch>-glibc/manifest.json   what it requires and how it was made
//
// The native libraries are linked statically (cmake/NexureStaticDeps.cmake), so the module needs
// nothing beyond glibc; this script refuses to write a prebuilt that needs more (readelf's NEEDED
// list, objdump's symbol versions). The minimum glibc is read off the binary: the highest
// GLIBC_x.y among the symbol versions it references.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { buildFromSource, BuildError, fail, say } = require('./build-addon.js');
const { inspectElf, prebuiltProblems, sourcesHash, fileSha256 } = require('./prebuilt.cjs');
const { prebuiltDir, ADDON } = require('../lib/locate.cjs');

const root = path.resolve(__dirname, '..', '..');

function cacheValue(buildDir, name) {
  const cache = fs.readFileSync(path.join(buildDir, 'CMakeCache.txt'), 'utf8');
  const m = new RegExp(`^${name}:[A-Z]+=(.*)$`, 'm').exec(cache);
  return m ? m[1] : null;
}

function firstLine(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.error || r.status !== 0 ? null : (r.stdout || '').split('\n')[0].trim();
}

function osName() {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'));
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

function gitState() {
  if (!fs.existsSync(path.join(root, '.git'))) return { commit: null, dirty: null };
  const commit = firstLine('git', ['-C', root, 'rev-parse', 'HEAD']);
  const r = spawnSync('git', ['-C', root, 'status', '--porcelain', '--', 'CMakeLists.txt', 'cmake', 'alloc', 'engine', 'net', 'napi/src', 'napi/CMakeLists.txt'], { encoding: 'utf8' });
  return { commit, dirty: r.status === 0 ? r.stdout.trim() !== '' : null };
}

async function main() {
  if (process.platform !== 'linux') throw new BuildError('the prebuilt addon is built on Linux');
  const buildDir = path.join(root, 'build', 'prebuilt');
  const { file: built } = await buildFromSource({ buildDir, outFile: null, staticDeps: true, reason: 'the prebuilt addon, static dependencies' });

  const info = inspectElf(built);
  const problems = prebuiltProblems(info);
  if (problems.length) {
    throw new BuildError(`${built} is not fit to ship as the prebuilt addon:\n  ${problems.join('\n  ')}\n(cmake/NexureStaticDeps.cmake links the native libraries statically: a new dependency must be found with nexure_native_library())`);
  }
  const deps = JSON.parse(fs.readFileSync(path.join(buildDir, 'nexure-static-deps.json'), 'utf8'));
  const napi = Number(cacheValue(buildDir, 'NEXURE_NAPI_VERSION'));
  if (!napi) throw new BuildError(`NEXURE_NAPI_VERSION is not in ${buildDir}/CMakeCache.txt`);
  const march = cacheValue(buildDir, 'NEXURE_MARCH') || null;
  const date = process.env.SOURCE_DATE_EPOCH
    ? new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000)
    : new Date();
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

  const dir = prebuiltDir(root);
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(dir, ADDON);
  const tmp = `${target}.${process.pid}.tmp`;
  fs.copyFileSync(built, tmp);
  fs.renameSync(tmp, target);

  const manifest = {
    package: pkg.name,
    version: pkg.version,
    file: ADDON,
    sha256: fileSha256(target),
    platform: process.platform,
    arch: process.arch,
    libc: 'glibc',
    glibc: info.glibc,
    napi,
    march,
    needed: info.needed,
    staticArchives: deps.archives,
    leftOut: deps.leftOut,
    numa: !deps.leftOut.includes('numa'),
    sources: sourcesHash(root),
    built: {
      date: date.toISOString(),
      ...gitState(),
      os: osName(),
      glibc: process.report.getReport().header.glibcVersionRuntime || null,
      compiler: firstLine(process.env.CXX || 'g++', ['--version']),
      cmake: firstLine('cmake', ['--version']),
      node: process.version,
    },
  };
  const manifestFile = path.join(dir, 'manifest.json');
  fs.writeFileSync(`${manifestFile}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  fs.renameSync(`${manifestFile}.tmp`, manifestFile);
  say(`prebuilt ${path.relative(root, target)} (${(fs.statSync(target).size / 1048576).toFixed(1)} MiB): needs ${info.needed.join(', ')}; glibc >= ${info.glibc}, Node-API >= ${napi}, ${march || 'any x86-64'}${manifest.numa ? '' : '; without NUMA placement (no position-independent libnuma.a)'}`);
}

main().catch(fail);
