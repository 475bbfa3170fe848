'use strict';
// Installing nexurejs as a user does (napi/README.md, "Installing"): `npm pack` carries the
// prebuilt addon and its manifest; the packed tarball installs into a fresh project without a
// compiler and serves; the exact apt-get line when packages are missing; a checkout consumed with
// `npm install --install-links` or as a linked folder is left untouched, and a prebuilt that does
// not fit the host (glibc too new) falls back to a build from source, outside the checkout.
//
// Slow by nature (one static build for the pack, one build from source): about a minute on 2
// idle vCPUs. Skipped under the sanitizer runs (NEXURE_ADDON is set): they test the addon's
// memory, not its packaging.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const PLATFORM_DIR = `prebuilds/${process.platform}-${process.arch}-glibc`;
const skip =
  process.env.NEXURE_ADDON
    ? 'NEXURE_ADDON is set (a sanitizer run): the packaging is tested in the plain run'
    : process.platform !== 'linux' || process.arch !== 'x64'
      ? 'the prebuilt addon is for linux-x64'
      : false;

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const file = path.join(dir, cmd);
    if (dir && fs.existsSync(file)) return file;
  }
  return null;
}

// The environment of every npm/node child: none of the outer `npm test`'s npm_* settings (npm
// reads them as configuration), no sanitizer preload, no addon override.
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|NEXURE_|LD_PRELOAD$|ASAN_|UBSAN_|LSAN_|TSAN_|INIT_CWD$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function run(cmd, args, { cwd, env, timeout = 900_000 } = {}) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  const output = `${r.stdout || ''}${r.stderr || ''}`;
  return { status: r.status, output, error: r.error };
}

function npmCli() {
  if (process.env.npm_execpath && fs.existsSync(process.env.npm_execpath)) return process.env.npm_execpath;
  const npm = which('npm');
  assert.ok(npm, 'npm is not on PATH');
  return fs.realpathSync(npm);
}

// A PATH holding only node, npm and sh: no cmake, no compiler, no pkg-config.
function barePath(dir) {
  const bin = path.join(dir, 'bare-bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync(npmCli(), path.join(bin, 'npm'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  return bin;
}

function newProject(dir, name) {
  const project = path.join(dir, name);
  fs.mkdirSync(project, { recursive: true });
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  return project;
}

function npmInstall(project, spec, { env, extraArgs = [] } = {}) {
  return run(process.execPath, [npmCli(), 'install', '--no-audit', '--no-fund', '--foreground-scripts', ...extraArgs, spec], { cwd: project, env });
}

// In `project`, require('nexurejs'), serve GET /ping on port 0, fetch it; prints which addon
// file loaded (locate.cjs) and the answer.
const SERVE = `
const path = require('node:path');
const { createApp } = require('nexurejs');
const { locate } = require(path.join(path.dirname(require.resolve('nexurejs')), 'locate.cjs'));
const app = createApp({ threads: 1 });
app.get('/ping', () => ({ pong: true }));
app.listen({ port: 0, host: '127.0.0.1' }).then(async (url) => {
  const res = await fetch(url + '/ping');
  console.log(JSON.stringify({ status: res.status, body: await res.json(), addon: locate() }));
  await app.close();
});
`;

function serve(project, env) {
  const r = run(process.execPath, ['-e', SERVE], { cwd: project, env, timeout: 60_000 });
  assert.equal(r.status, 0, r.output);
  const result = JSON.parse(r.output.trim().split('\n').pop());
  assert.equal(result.status, 200);
  assert.deepEqual(result.body, { pong: true });
  return result.addon;
}

// Every file under `dir` (.git included) with its size and modification time.
function snapshot(dir) {
  const out = {};
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      const st = fs.lstatSync(path.join(dir, r));
      if (e.isDirectory()) walk(r);
      else out[r] = `${st.size}:${st.mtimeMs}`;
    }
  };
  walk('');
  return out;
}

test('the npm package: prebuilt addon, from source, checkouts', { skip, timeout: 1_800_000 }, async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nexure-install-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const env = cleanEnv({ NEXURE_CACHE_DIR: path.join(tmp, 'cache') });

  // npm pack runs the prepack script: the static build of the prebuilt (prebuild.cjs).
  const packed = run(process.execPath, [npmCli(), 'pack', '--pack-destination', tmp, '--foreground-scripts'], { cwd: ROOT, env });
  assert.equal(packed.status, 0, packed.output);
  const tarballs = fs.readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
  assert.equal(tarballs.length, 1, `npm pack's tarball: ${packed.output.slice(-2000)}`);
  const tarball = path.join(tmp, tarballs[0]);
  const unpacked = path.join(tmp, 'unpacked');
  fs.mkdirSync(unpacked);
  assert.equal(run('tar', ['xzf', tarball, '-C', unpacked]).status, 0);
  const pkgDir = path.join(unpacked, 'package');

  await t.test('npm pack carries the prebuilt and a manifest that tells the truth about it', () => {
    const addon = path.join(pkgDir, PLATFORM_DIR, 'nexurejs.node');
    const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, PLATFORM_DIR, 'manifest.json'), 'utf8'));
    assert.ok(fs.existsSync(addon));
    assert.ok(!fs.existsSync(path.join(pkgDir, 'napi', 'lib', 'nexurejs.node')), 'no developer build in the package');
    assert.equal(manifest.platform, 'linux');
    assert.equal(manifest.arch, 'x64');
    assert.equal(manifest.libc, 'glibc');
    assert.equal(manifest.napi, 8);
    assert.match(manifest.built.date, /^\d{4}-\d\d-\d\dT/);
    assert.equal(manifest.sha256, require('node:crypto').createHash('sha256').update(fs.readFileSync(addon)).digest('hex'));
    // Only glibc's libraries in NEEDED: liburing, libstdc++ and libgcc are inside.
    const dynamic = run('readelf', ['-dW', addon]);
    assert.equal(dynamic.status, 0, dynamic.output);
    const needed = [...dynamic.output.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
    assert.ok(needed.length > 0);
    for (const lib of needed) {
      assert.match(lib, /^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|ld-linux-x86-64\.so\.2)$/, `NEEDED ${lib}`);
    }
    assert.deepEqual(manifest.needed, needed);
    // The minimum glibc is the newest GLIBC_ version the binary references, and nothing
    // references libstdc++'s or libgcc's symbol versions.
    const symbols = run('objdump', ['-T', addon]).output;
    const glibc = [...new Set([...symbols.matchAll(/\(GLIBC_([0-9.]+)\)/g)].map((m) => m[1]))]
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
      .pop();
    assert.equal(manifest.glibc, glibc);
    assert.doesNotMatch(symbols, /GLIBCXX_|CXXABI_|\(GCC_|LIBURING_/);
    assert.equal(manifest.numa, false, 'Debian 12 has no position-independent libnuma.a');
  });

  await t.test('the packed tarball installs without a compiler and serves', () => {
    const project = newProject(tmp, 'consumer');
    const bare = { ...env, PATH: barePath(tmp) };
    const started = Date.now();
    const r = npmInstall(project, tarball, { env: bare });
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /nexurejs: using the prebuilt addon prebuilds\/linux-x64-glibc\/nexurejs\.node/);
    assert.doesNotMatch(r.output, /building|configuring/);
    assert.ok(!fs.existsSync(path.join(project, 'node_modules', 'nexurejs', 'build')), 'nothing was built');
    t.diagnostic(`install with the prebuilt: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const addon = serve(project, bare);
    assert.equal(addon.kind, 'prebuilt');
    assert.equal(fs.realpathSync(addon.file), fs.realpathSync(path.join(project, 'node_modules', 'nexurejs', PLATFORM_DIR, 'nexurejs.node')));
  });

  await t.test('with --ignore-scripts the loader still finds the prebuilt', () => {
    const project = newProject(tmp, 'ignore-scripts');
    const r = npmInstall(project, tarball, { env, extraArgs: ['--ignore-scripts'] });
    assert.equal(r.status, 0, r.output);
    assert.doesNotMatch(r.output, /nexurejs:/, 'the install script did not run');
    assert.equal(serve(project, env).kind, 'prebuilt');
  });

  await t.test('a build from source first names every missing package and the apt-get line', () => {
    const project = newProject(tmp, 'missing');
    // Nothing but node, npm and sh on PATH, and no llhttp sources where NEXURE_LLHTTP_DIR says.
    let r = npmInstall(project, tarball, {
      env: { ...env, PATH: barePath(path.join(tmp, 'm')), NEXURE_BUILD_FROM_SOURCE: '1', NEXURE_LLHTTP_DIR: path.join(tmp, 'no-llhttp') },
    });
    assert.notEqual(r.status, 0);
    assert.match(r.output, /NEXURE_BUILD_FROM_SOURCE is set: building from source/);
    assert.match(r.output, /5 required system packages are missing/);
    assert.match(r.output, /cmake +cmake is not on PATH/);
    assert.match(r.output, /node-llhttp +the llhttp sources are missing/);
    assert.match(r.output, /^(npm error )? {2}apt-get install cmake g\+\+ pkg-config node-llhttp ninja-build$/m);
    assert.doesNotMatch(r.output, /configuring/, 'the check comes before the build');
    // Every tool present: only the llhttp package is named.
    r = npmInstall(project, tarball, {
      env: { ...env, NEXURE_BUILD_FROM_SOURCE: '1', NEXURE_LLHTTP_DIR: path.join(tmp, 'no-llhttp') },
    });
    assert.notEqual(r.status, 0);
    assert.match(r.output, /a required system package is missing/);
    assert.match(r.output, /^(npm error )? {2}apt-get install node-llhttp$/m);
  });

  // A copy of this checkout as git sees it (uncommitted changes included), committed in a fresh
  // repository, with the prebuilt from the pack.
  const checkout = path.join(tmp, 'checkout');
  const files = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT });
  assert.equal(files.status, 0, files.output);
  for (const f of files.output.split('\0').filter(Boolean)) {
    if (!fs.existsSync(path.join(ROOT, f))) continue; // deleted, not yet committed
    fs.mkdirSync(path.dirname(path.join(checkout, f)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f), path.join(checkout, f));
  }
  fs.cpSync(path.join(pkgDir, 'prebuilds'), path.join(checkout, 'prebuilds'), { recursive: true });
  const git = (...args) => run('git', ['-c', 'user.name=test', '-c', 'user.email=test@localhost', ...args], { cwd: checkout });
  assert.equal(git('init', '-q').status, 0);
  assert.equal(git('add', '-A').status, 0);
  assert.equal(git('commit', '-q', '-m', 'snapshot').status, 0);
  // The README's way to give a linked checkout its runtime dependencies.
  const ci = run(process.execPath, [npmCli(), 'ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: checkout, env });
  assert.equal(ci.status, 0, ci.output);

  await t.test('npm install --install-links <checkout> copies it like a tarball and writes nothing into it', () => {
    const before = snapshot(checkout);
    const project = newProject(tmp, 'install-links');
    const r = npmInstall(project, checkout, { env, extraArgs: ['--install-links'] });
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /using the prebuilt addon/);
    assert.ok(!fs.lstatSync(path.join(project, 'node_modules', 'nexurejs')).isSymbolicLink());
    assert.deepEqual(snapshot(checkout), before);
    assert.equal(git('status', '--porcelain').output, '');
    assert.equal(serve(project, env).kind, 'prebuilt');
  });

  await t.test('npm install <checkout> (a link): a prebuilt that does not fit is built from source outside the checkout', () => {
    // The prebuilt now claims a glibc newer than any host has.
    const manifestFile = path.join(checkout, PLATFORM_DIR, 'manifest.json');
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
    manifest.glibc = '99.0';
    fs.writeFileSync(manifestFile, JSON.stringify(manifest));
    const before = snapshot(checkout);
    const project = newProject(tmp, 'linked');
    const started = Date.now();
    const r = npmInstall(project, checkout, { env });
    assert.equal(r.status, 0, r.output);
    assert.ok(fs.lstatSync(path.join(project, 'node_modules', 'nexurejs')).isSymbolicLink(), 'npm linked the folder');
    assert.match(r.output, /is a checkout installed as a linked folder by .*: nothing is written into it/);
    assert.match(r.output, /it needs glibc >= 99\.0, this host has [0-9.]+: building from source/);
    assert.match(r.output, /nexurejs: \[ *[0-9.]+ s\] \[\d+\/\d+\]|nexurejs: \[ *[0-9.]+ s\] \[ *\d+%\]/, 'build progress with elapsed time');
    t.diagnostic(`build from source: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.deepEqual(snapshot(checkout), before, 'the checkout is unchanged');
    assert.equal(git('status', '--porcelain').output, '');
    const addon = serve(project, env);
    assert.equal(addon.kind, 'built outside the checkout');
    assert.ok(addon.file.startsWith(path.join(tmp, 'cache')), addon.file);
  });
});
