#!/usr/bin/env node
// find-my-way on the GitHub API route set: the reference figures for nexure-bench-router.
//
//   node bench/router/fmw_bench.js [--seconds S] [--warmup S]
//
// Registers every route of github_routes.txt with a no-op handler, reads github_lookups.txt,
// checks that every "static" and "param" lookup finds its route and every "miss" finds none (exit
// 1 otherwise), then measures router.find(method, path) for each kind: S seconds (default 1) of
// passes over that kind's lookups after a warm-up of all kinds, timed with process.hrtime.bigint.
// Prints one line of JSON on stdout:
//   {"router":"find-my-way","version":"x.y.z","node":"v20...","ns_per_lookup":{"static":..,
//    "param":..,"miss":..},"routes":N,"lookups":{"static":n,"param":n,"miss":n},...}
// Install find-my-way first: (cd bench/router && npm ci).
'use strict';

const fs = require('fs');
const path = require('path');

const KINDS = ['static', 'param', 'miss'];
const ROUTES_FILE = path.join(__dirname, 'github_routes.txt');
const LOOKUPS_FILE = path.join(__dirname, 'github_lookups.txt');

function fail(msg) {
  process.stderr.write(`fmw_bench.js: error: ${msg}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = { seconds: 1, warmup: 0.5 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write('usage: node fmw_bench.js [--seconds S] [--warmup S]\n');
      process.exit(0);
    }
    const m = /^--(seconds|warmup)(?:=(.*))?$/.exec(a);
    if (!m) fail(`unknown argument '${a}' (try --help)`);
    const v = m[2] !== undefined ? m[2] : argv[++i];
    const n = Number(v);
    if (v === undefined || v === '' || !Number.isFinite(n) || n < 0 || (m[1] === 'seconds' && n === 0)) {
      fail(`--${m[1]} needs a ${m[1] === 'seconds' ? 'positive' : 'non-negative'} number of seconds, got '${v}'`);
    }
    opts[m[1]] = n;
  }
  return opts;
}

// readLines FILE: the non-blank lines that are not '#' comments, as [lineNumber, fields].
function readLines(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    fail(`cannot read ${file}: ${e.message}`);
  }
  const out = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line !== '' && !line.startsWith('#')) out.push([i + 1, line.split(/\s+/)]);
  });
  return out;
}

function loadFindMyWay() {
  try {
    const FindMyWay = require('find-my-way');
    const { version } = require('find-my-way/package.json');
    return { FindMyWay, version };
  } catch (e) {
    fail(`cannot load find-my-way (${e.code || e.message}); install it with: (cd ${path.relative(process.cwd(), __dirname) || '.'} && npm ci)`);
  }
  return null;
}

// rebuild ROUTE PARAMS: the path ROUTE gives with PARAMS filled in (used to check param hits).
function rebuild(route, params) {
  return route.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_, name) => params[name]).replace(/\*$/, () => params['*']);
}

function noop() {}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { FindMyWay, version } = loadFindMyWay();
  const router = FindMyWay();

  // Routes: each gets its own store so a hit can be traced back to the route it found.
  const routes = [];
  const rejected = [];
  for (const [ln, f] of readLines(ROUTES_FILE)) {
    if (f.length !== 2) fail(`${path.basename(ROUTES_FILE)}:${ln}: expected 'METHOD /path'`);
    const [method, p] = f;
    const store = { id: routes.length + 1, method, path: p };
    try {
      router.on(method, p, noop, store);
      routes.push(store);
    } catch (e) {
      rejected.push(`${path.basename(ROUTES_FILE)}:${ln}: ${method} ${p}: ${e.message}`);
    }
  }
  if (rejected.length > 0) {
    fail(`find-my-way ${version} rejected ${rejected.length} route(s):\n  ${rejected.join('\n  ')}`);
  }
  if (routes.length === 0) fail(`no routes in ${ROUTES_FILE}`);

  // Lookups, by kind.
  const lookups = {};
  for (const k of KINDS) lookups[k] = { methods: [], paths: [] };
  for (const [ln, f] of readLines(LOOKUPS_FILE)) {
    if (f.length !== 3 || !KINDS.includes(f[2])) {
      fail(`${path.basename(LOOKUPS_FILE)}:${ln}: expected 'METHOD PATH static|param|miss', got '${f.join(' ')}'`);
    }
    lookups[f[2]].methods.push(f[0]);
    lookups[f[2]].paths.push(f[1]);
  }
  for (const k of KINDS) {
    if (lookups[k].paths.length === 0) fail(`no '${k}' lookups in ${LOOKUPS_FILE}`);
  }

  // Verification: static lookups find the route of the same path, param lookups a route that gives
  // back the same path from the parameters found, misses nothing.
  const wrong = [];
  for (const k of KINDS) {
    const { methods, paths } = lookups[k];
    for (let i = 0; i < paths.length; i++) {
      const r = router.find(methods[i], paths[i]);
      const what = `${k} lookup ${methods[i]} ${paths[i]}`;
      if (k === 'miss') {
        if (r !== null) wrong.push(`${what} found route ${r.store.method} ${r.store.path}`);
      } else if (r === null) {
        wrong.push(`${what} found no route`);
      } else if (r.store.method !== methods[i]) {
        wrong.push(`${what} found a ${r.store.method} route`);
      } else if (k === 'static' && r.store.path !== paths[i]) {
        wrong.push(`${what} found route ${r.store.path}`);
      } else if (k === 'param' && rebuild(r.store.path, r.params) !== paths[i]) {
        wrong.push(`${what} found route ${r.store.path} with params ${JSON.stringify(r.params)}`);
      }
    }
  }
  if (wrong.length > 0) {
    fail(`find-my-way ${version}: ${wrong.length} lookup(s) did not give the expected result:\n  ${wrong.join('\n  ')}`);
  }

  // The checksum adds the id of every route found (1 for a miss), so the result of every
  // find() is used and the loop cannot be dropped.
  let checksum = 0;
  const run = (methods, paths, budgetNs) => {
    const n = paths.length;
    let passes = 0;
    const t0 = process.hrtime.bigint();
    let t1 = t0;
    do {
      for (let i = 0; i < n; i++) {
        const r = router.find(methods[i], paths[i]);
        checksum = (checksum + (r === null ? 1 : r.store.id)) | 0;
      }
      passes++;
      t1 = process.hrtime.bigint();
    } while (t1 - t0 < budgetNs);
    return { ns: Number(t1 - t0), count: passes * n };
  };

  // Warm-up over all kinds together, so the code measured has seen every kind of path.
  const all = { methods: [], paths: [] };
  for (const k of KINDS) {
    all.methods.push(...lookups[k].methods);
    all.paths.push(...lookups[k].paths);
  }
  if (opts.warmup > 0) run(all.methods, all.paths, BigInt(Math.round(opts.warmup * 1e9)));

  const nsPerLookup = {};
  const measured = {};
  for (const k of KINDS) {
    const { ns, count } = run(lookups[k].methods, lookups[k].paths, BigInt(Math.round(opts.seconds * 1e9)));
    nsPerLookup[k] = Math.round((ns / count) * 1000) / 1000;
    measured[k] = count;
  }

  const counts = {};
  for (const k of KINDS) counts[k] = lookups[k].paths.length;
  process.stdout.write(JSON.stringify({
    router: 'find-my-way',
    version,
    node: process.version,
    ns_per_lookup: nsPerLookup,
    routes: routes.length,
    lookups: counts,
    seconds_per_kind: opts.seconds,
    measured_lookups: measured,
    checksum,
  }) + '\n');
}

main();
