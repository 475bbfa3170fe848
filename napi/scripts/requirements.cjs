'use strict';
// What building the addon from source needs on the host, checked before the build starts, with
// the Debian/Ubuntu package that provides each piece (napi/README.md, "Building from source").
//
// checkRequirements({ staticDeps }) → { missing: [{ pkg, what }], optional: [...], apt }
//   missing: every required package absent (tools on PATH, headers the compiler cannot include,
//   pkg-config modules, the llhttp sources, with staticDeps the static archives too);
//   apt: the exact `apt-get install ...` line for them ('' when nothing is missing).
// Tools are looked up on PATH ($CXX and $CC override g++ and gcc); the llhttp sources in
// NEXURE_LLHTTP_DIR / NEXURE_LLHTTP_INCLUDE_DIR (defaults: Debian's node-llhttp paths), which the
// build passes on to CMake.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const LLHTTP_DIR = process.env.NEXURE_LLHTTP_DIR || '/usr/share/llhttp';
const LLHTTP_INCLUDE_DIR = process.env.NEXURE_LLHTTP_INCLUDE_DIR || '/usr/share/include/llhttp';

// Every package a build from source needs on Debian 12, in the order the apt line lists them.
// (ninja-build: make works too, ninja is what the presets use and is faster.)
// zlib, libbrotli and libzstd are the compression module's (net/compress/), needed only by a tree
// that has it.
const COMPRESSION = fs.existsSync(path.join(__dirname, '..', '..', 'net', 'compress', 'CMakeLists.txt'));
// libssl-dev (libcrypto: SHA-1 and base64 for the handshake) and zlib are WebSocket's (net/ws/).
const WEBSOCKET = fs.existsSync(path.join(__dirname, '..', '..', 'net', 'ws', 'CMakeLists.txt'));
const PACKAGES = [
  'cmake', 'g++', 'pkg-config', 'liburing-dev', 'libnuma-dev',
  ...(COMPRESSION || WEBSOCKET ? ['zlib1g-dev'] : []),
  ...(COMPRESSION ? ['libbrotli-dev', 'libzstd-dev'] : []),
  ...(WEBSOCKET ? ['libssl-dev'] : []),
  'node-llhttp', 'ninja-build',
];

function which(cmd) {
  if (cmd.includes('/')) return fs.existsSync(cmd) ? cmd : null;
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, cmd);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return null;
}

// The first word of $CXX / $CC (they may carry flags or a launcher).
function compiler(envName, fallback) {
  const value = (process.env[envName] || '').trim();
  return value ? value.split(/\s+/)[0] : fallback;
}

// Headers: asked of the compiler (its own search path, CPATH included) in one run; without a
// compiler, looked for in /usr/include and /usr/local/include.
function missingHeaders(cxx, headers) {
  if (cxx) {
    const src = headers
      .map((h, i) => `#if !__has_include(<${h}>)\n#error nexure-missing-${i}\n#endif\n`)
      .join('');
    const r = spawnSync(cxx, ['-E', '-x', 'c++', '-o', '/dev/null', '-'], {
      input: src,
      encoding: 'utf8',
    });
    if (!r.error) {
      const out = `${r.stdout || ''}${r.stderr || ''}`;
      return headers.filter((_, i) => out.includes(`nexure-missing-${i}`));
    }
  }
  return headers.filter(
    (h) => !['/usr/include', '/usr/local/include'].some((d) => fs.existsSync(path.join(d, h))),
  );
}

function pkgConfigHas(module) {
  const r = spawnSync('pkg-config', ['--exists', module]);
  return !r.error && r.status === 0;
}

function checkRequirements({ staticDeps = false } = {}) {
  const missing = [];
  const optional = [];
  const need = (pkg, what) => missing.push({ pkg, what });

  if (!which('cmake')) need('cmake', 'cmake is not on PATH');
  const cxx = compiler('CXX', 'g++');
  const cxxPath = which(cxx);
  if (!cxxPath) need('g++', `the C++ compiler ${cxx} is not on PATH`);
  const cc = compiler('CC', 'gcc');
  if (!which(cc) && !missing.some((m) => m.pkg === 'g++')) {
    need('g++', `the C compiler ${cc} is not on PATH (llhttp is C)`);
  }
  const havePkgConfig = Boolean(which('pkg-config'));
  if (!havePkgConfig) need('pkg-config', 'pkg-config is not on PATH');
  if (!which('ninja') && !which('make')) {
    need('ninja-build', 'neither ninja nor make is on PATH');
  } else if (!which('ninja')) {
    optional.push({ pkg: 'ninja-build', what: 'ninja builds faster than make' });
  }

  // header → [package, pkg-config module]; zstd is optional (NEXURE_ZSTD=AUTO: the zstd coding is
  // left out without it).
  const headers = {
    'liburing.h': ['liburing-dev', 'liburing'],
    'numa.h': ['libnuma-dev', 'numa'],
    ...(COMPRESSION ? { 'zlib.h': ['zlib1g-dev', 'zlib'], 'brotli/encode.h': ['libbrotli-dev', 'libbrotlienc'] } : {}),
    ...(WEBSOCKET ? { 'zlib.h': ['zlib1g-dev', 'zlib'], 'openssl/sha.h': ['libssl-dev', 'libcrypto'] } : {}),
  };
  const optionalHeaders = COMPRESSION
    ? { 'zstd.h': ['libzstd-dev', 'libzstd', 'the zstd content coding is left out'] }
    : {};
  const absent = missingHeaders(cxxPath, [...Object.keys(headers), ...Object.keys(optionalHeaders)]);
  for (const h of absent) {
    if (headers[h]) need(headers[h][0], `the header <${h}> cannot be included`);
    else optional.push({ pkg: optionalHeaders[h][0], what: `<${h}> cannot be included: ${optionalHeaders[h][2]}` });
  }
  if (havePkgConfig) {
    for (const [pkg, module] of Object.values(headers)) {
      if (!pkgConfigHas(module) && !missing.some((m) => m.pkg === pkg)) {
        need(pkg, `pkg-config knows no module ${module}`);
      }
    }
  }
  const llhttpSources = ['llhttp.c', 'api.c', 'http.c'].map((f) => path.join(LLHTTP_DIR, f));
  const llhttpAbsent = llhttpSources.filter((f) => !fs.existsSync(f));
  if (llhttpAbsent.length) {
    need('node-llhttp', `the llhttp sources are missing (${llhttpAbsent.join(', ')}; NEXURE_LLHTTP_DIR)`);
  } else if (!fs.existsSync(path.join(LLHTTP_INCLUDE_DIR, 'llhttp.h'))) {
    need('node-llhttp', `${path.join(LLHTTP_INCLUDE_DIR, 'llhttp.h')} is missing (NEXURE_LLHTTP_INCLUDE_DIR)`);
  }

  if (staticDeps && cxxPath) {
    for (const [archive, pkg] of [['libstdc++.a', 'g++'], ['libgcc_eh.a', 'g++']]) {
      const r = spawnSync(cxxPath, [`-print-file-name=${archive}`], { encoding: 'utf8' });
      const file = (r.stdout || '').trim();
      if (!path.isAbsolute(file) || !fs.existsSync(file)) {
        need(pkg, `${cxx} has no ${archive} (a static build links it)`);
      }
    }
    if (havePkgConfig && pkgConfigHas('liburing')) {
      const r = spawnSync('pkg-config', ['--variable=libdir', 'liburing'], { encoding: 'utf8' });
      const archive = path.join((r.stdout || '').trim(), 'liburing.a');
      if (!fs.existsSync(archive)) need('liburing-dev', `${archive} is missing (a static build links it)`);
    }
  }

  // One entry per package, in PACKAGES' order (then any other).
  const byPkg = new Map();
  for (const m of missing) {
    if (!byPkg.has(m.pkg)) byPkg.set(m.pkg, []);
    byPkg.get(m.pkg).push(m.what);
  }
  const order = (p) => (PACKAGES.includes(p) ? PACKAGES.indexOf(p) : PACKAGES.length);
  const pkgs = [...byPkg.keys()].sort((a, b) => order(a) - order(b));
  return {
    missing: pkgs.map((pkg) => ({ pkg, what: byPkg.get(pkg).join('; ') })),
    optional,
    apt: pkgs.length ? `apt-get install ${pkgs.join(' ')}` : '',
  };
}

// The message for a failed check: each package and why, then the apt line.
function describeMissing(result) {
  const width = Math.max(...result.missing.map((m) => m.pkg.length));
  const lines = result.missing.map((m) => `  ${m.pkg.padEnd(width)}  ${m.what}`);
  return (
    `${result.missing.length === 1 ? 'a required system package is' : `${result.missing.length} required system packages are`} missing:\n` +
    `${lines.join('\n')}\n` +
    `Install ${result.missing.length === 1 ? 'it' : 'them'} (Debian/Ubuntu, as root):\n` +
    `  ${result.apt}\n` +
    `(everything a build from source needs: apt-get install ${PACKAGES.join(' ')})`
  );
}

module.exports = { PACKAGES, LLHTTP_DIR, LLHTTP_INCLUDE_DIR, checkRequirements, describeMissing, which };
