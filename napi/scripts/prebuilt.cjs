'use strict';
// The prebuilt addon: what a binary requires (read off the ELF file), what this host offers, and
// whether the one a package carries may be used here (napi/README.md, "Prebuilt addon").
// Used by prebuild.cjs (writes prebuilds/<platform>-<arch>-glibc/manifest.json), install.cjs
// (decides between the prebuilt and a build from source) and tests/napi/install.test.js.
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

// The shared libraries a prebuilt may need: glibc's own, present on every glibc system.
const GLIBC_LIBRARIES = [
  /^libc\.so\.6$/,
  /^libm\.so\.6$/,
  /^libpthread\.so\.0$/,
  /^libdl\.so\.2$/,
  /^librt\.so\.1$/,
  /^ld-linux-x86-64\.so\.2$/,
  /^ld-linux-aarch64\.so\.1$/,
];

// x86-64-v2 (NEXURE_MARCH's default): the CPU flags the compiler may use at that level.
const MARCH_FLAGS = {
  'x86-64': [],
  'x86-64-v2': ['cx16', 'lahf_lm', 'popcnt', 'sse4_1', 'sse4_2', 'ssse3'],
};

function compareVersions(a, b) {
  const pa = String(a).split('.').map(Number);
  const pb = String(b).split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] || 0) - (pb[i] || 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

function tool(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed: ${r.error ? r.error.message : r.stderr.trim()} (binutils)`);
  }
  return r.stdout;
}

// What an ELF shared object needs from the system, read with readelf and objdump (binutils):
//   needed: its DT_NEEDED libraries;
//   glibc: the highest GLIBC_x.y among its versioned symbol references (the oldest glibc it loads
//     with), versions: every version it references (GLIBC_2.x, GLIBCXX_3.4.x, GCC_x, ...);
//   undefined: undefined dynamic symbols without a version (for an addon: napi_*, uv_*, node_api_*
//     that node provides, and weak references), as names.
function inspectElf(file) {
  const dyn = tool('readelf', ['-dW', file]);
  const needed = [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const syms = tool('objdump', ['-T', file]);
  const versions = new Set();
  const undefinedPlain = [];
  for (const line of syms.split('\n')) {
    // 0000000000000000      DF *UND*	0000000000000000 (GLIBC_2.34) pthread_create
    // 0000000000000000  w   DF *UND*	0000000000000000 (GLIBC_2.34) __pthread_key_create
    // 0000000000000000      D  *UND*	0000000000000000  Base        napi_create_object
    const at = line.indexOf('*UND*');
    if (at < 0) continue;
    const flags = line.slice(0, at).replace(/^[0-9a-f]+/, '');
    const rest = line.slice(at + '*UND*'.length);
    const version = /\(([A-Za-z_]+_[0-9.]+)\)/.exec(rest);
    if (version) versions.add(version[1]);
    else if (!/\bw\b/.test(flags)) undefinedPlain.push(rest.trim().split(/\s+/).pop());
  }
  const glibc = [...versions]
    .filter((v) => v.startsWith('GLIBC_'))
    .map((v) => v.slice('GLIBC_'.length))
    .sort(compareVersions)
    .pop() || null;
  return { needed, glibc, versions: [...versions].sort(), undefined: undefinedPlain };
}

// The problems that stop an ELF file from being a prebuilt that needs only glibc (empty: none).
function prebuiltProblems(info) {
  const problems = [];
  const foreign = info.needed.filter((n) => !GLIBC_LIBRARIES.some((re) => re.test(n)));
  if (foreign.length) problems.push(`it needs shared libraries beyond glibc: ${foreign.join(', ')}`);
  const nonGlibc = info.versions.filter((v) => !v.startsWith('GLIBC_'));
  if (nonGlibc.length) problems.push(`it references versioned symbols of other libraries: ${nonGlibc.join(', ')}`);
  const strays = info.undefined.filter((s) => !/^(napi_|node_api_|uv_)/.test(s));
  if (strays.length) {
    problems.push(`undefined symbols that neither glibc nor node provide: ${strays.slice(0, 10).join(', ')}${strays.length > 10 ? ', ...' : ''}`);
  }
  if (!info.glibc) problems.push('no GLIBC_ symbol version found (is it a glibc binary?)');
  return problems;
}

// The files a build from source reads (native sources and the CMake files), hashed in a stable
// order: the manifest records it so that a prebuilt whose sources have changed since is not used.
const SOURCE_DIRS = ['cmake', 'alloc', 'engine', 'net', path.join('napi', 'src')];
const SOURCE_FILES = ['CMakeLists.txt', path.join('napi', 'CMakeLists.txt')];
const SOURCE_RE = /(\.(h|hh|hpp|c|cc|cpp|cmake|in|map)|^CMakeLists\.txt)$/;

function sourcesHash(root) {
  const files = [];
  const walk = (rel) => {
    let entries;
    try {
      entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.isFile() && SOURCE_RE.test(e.name)) files.push(r);
    }
  };
  for (const d of SOURCE_DIRS) walk(d);
  for (const f of SOURCE_FILES) if (fs.existsSync(path.join(root, f))) files.push(f);
  files.sort();
  const h = crypto.createHash('sha256');
  for (const f of files) {
    h.update(f.split(path.sep).join('/'));
    h.update('\0');
    h.update(fs.readFileSync(path.join(root, f)));
    h.update('\0');
  }
  return { sha256: h.digest('hex'), files: files.length };
}

function fileSha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

// This host, as the manifest's requirements are compared with it. The C library comes from
// node's own report (glibcVersionRuntime is absent under musl).
function hostFacts() {
  let glibc = null;
  try {
    glibc = process.report.getReport().header.glibcVersionRuntime || null;
  } catch {
    glibc = null;
  }
  let cpuFlags = null;
  try {
    const m = /^flags\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuFlags = new Set(m[1].split(/\s+/));
  } catch {
    cpuFlags = null;
  }
  return {
    platform: process.platform,
    arch: process.arch,
    libc: glibc ? 'glibc' : 'other',
    glibc,
    napi: Number(process.versions.napi) || 0,
    cpuFlags,
  };
}

// Why the prebuilt described by `manifest` cannot be used on `host` (empty: it can).
function mismatches(manifest, host) {
  const why = [];
  if (manifest.platform !== host.platform) why.push(`it is for ${manifest.platform}, this is ${host.platform}`);
  if (manifest.arch !== host.arch) why.push(`it is for ${manifest.arch}, this is ${host.arch}`);
  if (manifest.libc !== host.libc) why.push(`it needs ${manifest.libc}, this host's C library is not glibc`);
  else if (compareVersions(host.glibc, manifest.glibc) < 0) {
    why.push(`it needs glibc >= ${manifest.glibc}, this host has ${host.glibc}`);
  }
  if (host.napi < manifest.napi) why.push(`it needs Node-API >= ${manifest.napi}, this node has ${host.napi}`);
  const flags = MARCH_FLAGS[manifest.march];
  if (manifest.march && !flags) why.push(`it is built for an unknown CPU level ${manifest.march}`);
  else if (flags && host.cpuFlags) {
    const absent = flags.filter((f) => !host.cpuFlags.has(f));
    if (absent.length) why.push(`it is built for ${manifest.march}, this CPU lacks ${absent.join(', ')}`);
  }
  return why;
}

module.exports = {
  GLIBC_LIBRARIES,
  compareVersions,
  inspectElf,
  prebuiltProblems,
  sourcesHash,
  fileSha256,
  hostFacts,
  mismatches,
};
