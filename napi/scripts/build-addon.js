#!/usr/bin/env node
'use strict';
// Builds the native addon from source with CMake (napi/README.md, "Building from source").
// The install script (install.cjs) and the prebuilt's script (prebuild.cjs) call
// buildFromSource(); run directly, it builds napi/lib/nexurejs.node in this tree, or with
// NEXURE_SANITIZE a sanitizer build in its own directory (scripts/test.sh does that). Nothing is
// downloaded: the Node-API headers are those of the node running this script
// (cmake/NodeApi.cmake).
//
// Before configuring, every system package the build needs is checked (requirements.cjs): a
// missing one stops it with the exact `apt-get install` line. While it runs, each configure and
// build step is printed with the time elapsed; the whole output is kept in <build dir>/build.log
// and its end is printed if the build fails.
//
// Environment (direct runs and the install script):
//   NEXURE_BUILD_TYPE=...   CMake build type (default Release; Debug with NEXURE_SANITIZE)
//   NEXURE_SANITIZE=...     e.g. address,undefined or thread: builds into build/npm-<sanitizers>
//                           and leaves napi/lib/ alone; load it with NEXURE_ADDON=<path> and
//                           LD_PRELOAD (see napi/README.md)
//   NEXURE_LLHTTP_DIR, NEXURE_LLHTTP_INCLUDE_DIR   where llhttp's C sources and header are
//   CXX, CC                 the compilers (default g++, gcc)
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { checkRequirements, describeMissing, which, LLHTTP_DIR, LLHTTP_INCLUDE_DIR } = require('./requirements.cjs');

const root = path.resolve(__dirname, '..', '..');

class BuildError extends Error {}

function say(msg) {
  process.stdout.write(`nexurejs: ${msg}\n`);
}

function seconds(since) {
  return ((Date.now() - since) / 1000).toFixed(1);
}

// Runs a command, printing its progress lines ("[12/52] Building CXX object ..." from ninja,
// "[ 45%] ..." from make, CMake's own "-- ..." configure lines) with the elapsed time, and
// appending everything to the log. Resolves to { status, output }.
function runStep(cmd, args, { log, since, echo }) {
  return new Promise((resolve) => {
    fs.appendFileSync(log, `\n$ ${cmd} ${args.join(' ')}\n`);
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let partial = '';
    const onData = (chunk) => {
      const text = chunk.toString('utf8');
      output += text;
      fs.appendFileSync(log, text);
      const lines = (partial + text).split('\n');
      partial = lines.pop();
      for (const line of lines) {
        if (echo(line)) process.stdout.write(`nexurejs: [${seconds(since).padStart(5)} s] ${line}\n`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => resolve({ status: -1, output: `${output}\n${err.message}` }));
    child.on('close', (status) => resolve({ status, output }));
  });
}

// Names the Debian package for what CMake could not find (the check before the build covers the
// usual cases; this is for what slips past it).
function hint(output) {
  const hints = [];
  if (/liburing/i.test(output)) hints.push('liburing-dev');
  if (/\bnuma\b/i.test(output)) hints.push('libnuma-dev');
  if (/zlib/i.test(output)) hints.push('zlib1g-dev');
  if (/brotli/i.test(output)) hints.push('libbrotli-dev');
  if (/libcrypto|openssl/i.test(output)) hints.push('libssl-dev');
  if (/llhttp/i.test(output)) hints.push('node-llhttp');
  if (/PkgConfig|pkg-config/i.test(output)) hints.push('pkg-config');
  if (/CMAKE_CXX_COMPILER|CMAKE_C_COMPILER/.test(output)) hints.push('g++');
  let text = hints.length ? `\nThis looks like a missing package: apt-get install ${hints.join(' ')}` : '';
  if (/Node.js headers|node_api\.h/.test(output)) {
    text += '\nThe Node.js headers of this node (node_api.h, uv.h) were not found: see the message above.';
  }
  return text;
}

// Builds the addon and copies it to `outFile` (copy, then rename: a process loading the addon
// meanwhile sees the old file or the new one, never half of one), then loads it once in a child
// process. Throws a BuildError whose message says what to do.
//   buildDir: the CMake binary directory; outFile: where the addon goes (null: leave it in
//   buildDir); staticDeps: NEXURE_STATIC_DEPS (the prebuilt); sanitize; buildType.
async function buildFromSource({
  buildDir,
  outFile,
  staticDeps = false,
  sanitize = '',
  buildType = sanitize ? 'Debug' : 'Release',
  reason = '',
}) {
  const started = Date.now();
  if (process.platform !== 'linux') {
    throw new BuildError(`nexurejs runs on Linux only (it is built on io_uring); this is ${process.platform}.`);
  }
  say(`building the native addon from source${reason ? ` (${reason})` : ''}`);
  const req = checkRequirements({ staticDeps });
  if (req.missing.length) throw new BuildError(describeMissing(req));
  for (const o of req.optional) say(`note: ${o.pkg} is not installed (${o.what})`);

  fs.mkdirSync(buildDir, { recursive: true });
  const log = path.join(buildDir, 'build.log');
  fs.writeFileSync(log, `nexurejs build, ${new Date().toISOString()}\n`);

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
    `-DNEXURE_STATIC_DEPS=${staticDeps ? 'ON' : 'OFF'}`,
    `-DNEXURE_SANITIZE=${sanitize}`,
    `-DNEXURE_LLHTTP_DIR=${LLHTTP_DIR}`,
    `-DNEXURE_LLHTTP_INCLUDE_DIR=${LLHTTP_INCLUDE_DIR}`,
    `-DNODE_EXECUTABLE=${process.execPath}`,
  ];
  // Ninja when available (faster, and what the presets use); a tree configured with another
  // generator keeps it.
  if (which('ninja') && !fs.existsSync(path.join(buildDir, 'CMakeCache.txt'))) {
    configure.push('-G', 'Ninja');
  }

  say(`configuring (${buildType}${staticDeps ? ', static dependencies' : ''}${sanitize ? `, sanitize=${sanitize}` : ''}) in ${buildDir}`);
  let r = await runStep('cmake', configure, {
    log,
    since: started,
    echo: (l) => /^-- (Node-API|NEXURE_STATIC_DEPS|Configuring done|Generating done)/.test(l) || /CMake (Error|Warning)/.test(l),
  });
  if (r.status !== 0) {
    throw new BuildError(`cmake configure failed (full log: ${log}):\n${r.output.trim().split('\n').slice(-40).join('\n')}${hint(r.output)}`);
  }

  const jobs = String(process.env.NEXURE_BUILD_JOBS || Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length));
  say(`building (${jobs} jobs)`);
  r = await runStep('cmake', ['--build', buildDir, '--target', 'nexurejs', '--parallel', jobs], {
    log,
    since: started,
    echo: (l) => /^\[\s*\d+(\/\d+|%)\]/.test(l),
  });
  if (r.status !== 0) {
    // Only a missing header names a package here: a compiler error is not a missing package (every
    // compile command line mentions the llhttp and node include directories).
    const fatal = r.output.split('\n').filter((l) => /fatal error: .*: No such file or directory/.test(l));
    throw new BuildError(`the build failed (full log: ${log}):\n${r.output.trim().split('\n').slice(-60).join('\n')}${fatal.length ? hint(fatal.join('\n')) : ''}`);
  }

  const built = path.join(buildDir, 'napi', 'nexurejs.node');
  if (!fs.existsSync(built)) throw new BuildError(`the build succeeded but ${built} is missing`);
  let file = built;
  if (outFile) {
    fs.mkdirSync(path.dirname(outFile), { recursive: true });
    const tmp = `${outFile}.${process.pid}.tmp`;
    fs.copyFileSync(built, tmp);
    fs.renameSync(tmp, outFile);
    file = outFile;
  }
  if (!sanitize) {
    // Smoke test in a child process: the file loads into this node (symbols bind, -z now).
    const load = spawnSync(process.execPath, ['-e', `const b = require(${JSON.stringify(file)}); if (typeof b.createServer !== 'function') process.exit(3);`], { encoding: 'utf8' });
    if (load.error || load.status !== 0) {
      throw new BuildError(`the built addon does not load into ${process.execPath}:\n${(load.stderr || '').trim()}`);
    }
  }
  say(`built ${file} in ${seconds(started)} s`);
  return { file, seconds: (Date.now() - started) / 1000 };
}

function fail(err) {
  process.stderr.write(`\nnexurejs: the native addon could not be built: ${err instanceof BuildError ? err.message : err.stack}\n\n`);
  process.exit(1);
}

async function main() {
  const sanitize = (process.env.NEXURE_SANITIZE || '').trim();
  const buildType = process.env.NEXURE_BUILD_TYPE || (sanitize ? 'Debug' : 'Release');
  if (sanitize) {
    const buildDir = path.join(root, 'build', `npm-${sanitize.replace(/[^A-Za-z0-9]+/g, '-')}`);
    const { file } = await buildFromSource({ buildDir, outFile: null, sanitize, buildType });
    const cxx = process.env.CXX || 'g++';
    say(`napi/lib/ left as is; run it with: LD_PRELOAD=$(${cxx} -print-file-name=lib${sanitize.startsWith('thread') ? 'tsan' : 'asan'}.so) NEXURE_ADDON=${file} node ...`);
    return;
  }
  await buildFromSource({
    buildDir: path.join(root, 'build', 'npm'),
    outFile: path.join(root, 'napi', 'lib', 'nexurejs.node'),
    buildType,
  });
}

if (require.main === module) main().catch(fail);

module.exports = { buildFromSource, BuildError, fail, say };
