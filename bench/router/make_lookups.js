#!/usr/bin/env node
// Checks bench/router/github_routes.txt and derives bench/router/github_lookups.txt from it.
//
//   node bench/router/make_lookups.js           check the routes, write github_lookups.txt
//   node bench/router/make_lookups.js --check   check the routes only (exit 1 on a problem)
//   node bench/router/make_lookups.js --out F   write the lookups to F instead (used by
//                                               scripts/bench-router.sh to see that the committed
//                                               github_lookups.txt is up to date)
//
// Route syntax (NexureJS's router and find-my-way): static segments, ":name" parameters (a whole
// segment, or up to a static suffix in the same segment such as ":name.json"), and a trailing "*"
// catch-all. The checks: well-formed lines, known methods, no duplicate (method, path) pairs, no
// parameter name twice in one route, and one parameter name per position of the tree, for every
// method (a position is the route prefix with parameter names erased, e.g. "/repos/:/:").
//
// Output lines are "METHOD PATH KIND", grouped by kind, in route-file order:
//   static  every route without parameters, its path as written;
//   param   every route with parameters, each ":name" replaced by a fixed realistic value and a
//           catch-all by a multi-segment rest ("heads/main");
//   miss    as many paths as there are param lines that match no route of their method: a param
//           path with one more segment, with a static segment changed, under another prefix, or
//           sent with a method that has no route there.
// Every line is verified against a matcher of the route syntax written here: a static or param
// path must be matched, with static-before-parameter-before-catch-all priority, by its own route;
// a miss path by no route of its method. The output is fully deterministic (no randomness, no
// time), so the committed file changes only when the routes do.
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const ROUTES_FILE = path.join(__dirname, 'github_routes.txt');
const LOOKUPS_FILE = path.join(__dirname, 'github_lookups.txt');
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const PARAM_RE = /^:([A-Za-z_][A-Za-z0-9_]*)(.*)$/;

function fail(msg) {
  process.stderr.write(`make_lookups.js: error: ${msg}\n`);
  process.exit(1);
}

// --- parsing and checks -------------------------------------------------------------------------

// parseSegment: {kind: 'static', text} | {kind: 'param', name, suffix} | {kind: 'catchall'}.
function parseSegment(seg, where) {
  if (seg === '*') return { kind: 'catchall' };
  if (seg.startsWith(':')) {
    const m = PARAM_RE.exec(seg);
    if (!m) throw new Error(`${where}: bad parameter segment '${seg}'`);
    if (m[2].includes(':') || m[2].includes('*')) {
      throw new Error(`${where}: only one parameter per segment is supported ('${seg}')`);
    }
    return { kind: 'param', name: m[1], suffix: m[2] };
  }
  if (seg === '' || seg.includes(':') || seg.includes('*')) {
    throw new Error(`${where}: bad static segment '${seg}'`);
  }
  return { kind: 'static', text: seg };
}

function readRoutes(file) {
  const text = fs.readFileSync(file, 'utf8');
  const routes = [];
  const errors = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${path.basename(file)}:${i + 1}`;
    const parts = line.split(/\s+/);
    if (parts.length !== 2) {
      errors.push(`${where}: expected 'METHOD /path', got '${line}'`);
      return;
    }
    const [method, p] = parts;
    if (!METHODS.includes(method)) {
      errors.push(`${where}: unknown method '${method}'`);
      return;
    }
    if (!p.startsWith('/')) {
      errors.push(`${where}: path must start with '/': '${p}'`);
      return;
    }
    try {
      const segs = p === '/' ? [] : p.slice(1).split('/').map((s) => parseSegment(s, where));
      segs.forEach((s, k) => {
        if (s.kind === 'catchall' && k !== segs.length - 1) {
          throw new Error(`${where}: '*' must be the last segment`);
        }
      });
      routes.push({ method, path: p, segs, where });
    } catch (e) {
      errors.push(e.message);
    }
  });
  return { routes, errors };
}

function checkRoutes(routes) {
  const errors = [];
  const seen = new Map();
  const names = new Map(); // position -> {name, where, method}
  for (const r of routes) {
    const key = `${r.method} ${r.path}`;
    if (seen.has(key)) errors.push(`${r.where}: duplicate route '${key}' (first at ${seen.get(key)})`);
    else seen.set(key, r.where);

    const inRoute = new Set();
    let position = '';
    for (const s of r.segs) {
      if (s.kind === 'static') {
        position += `/${s.text}`;
        continue;
      }
      if (s.kind === 'catchall') break;
      position += '/:';
      if (inRoute.has(s.name)) errors.push(`${r.where}: parameter ':${s.name}' used twice in ${r.path}`);
      inRoute.add(s.name);
      const prev = names.get(position);
      if (!prev) {
        names.set(position, { name: s.name, where: r.where, method: r.method });
      } else if (prev.name !== s.name) {
        const scope = prev.method === r.method ? `for ${r.method}` : `across methods (${prev.method}, ${r.method})`;
        errors.push(`${r.where}: parameter ':${s.name}' at ${position} ${scope}, but ':${prev.name}' at ${prev.where}`);
      }
      position += s.suffix;
    }
  }
  return errors;
}

// --- matcher ------------------------------------------------------------------------------------

// matchRoute: null when PATH does not match ROUTE, else an array with one rank per route segment
// (0 static, 1 parameter, 2 catch-all) used to pick the route a static-first router chooses.
function matchRoute(route, p) {
  if (!p.startsWith('/')) return null;
  const parts = p === '/' ? [] : p.slice(1).split('/');
  const rank = [];
  for (let i = 0; i < route.segs.length; i++) {
    const s = route.segs[i];
    if (s.kind === 'catchall') {
      // The rest of the path, possibly empty ("/git/refs/" matches "/git/refs/*").
      if (i > parts.length) return null;
      rank.push(2);
      return rank;
    }
    if (i >= parts.length) return null;
    const part = parts[i];
    if (s.kind === 'static') {
      if (part !== s.text) return null;
      rank.push(0);
    } else {
      if (part.length <= s.suffix.length || !part.endsWith(s.suffix)) return null;
      rank.push(1);
    }
  }
  return parts.length === route.segs.length ? rank : null;
}

function compareRank(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

// bestRoute: the route a static-first router picks for METHOD PATH, or null.
function bestRoute(routes, method, p) {
  let best = null;
  let bestRank = null;
  for (const r of routes) {
    if (r.method !== method) continue;
    const rank = matchRoute(r, p);
    if (rank && (best === null || compareRank(rank, bestRank) < 0)) {
      best = r;
      bestRank = rank;
    }
  }
  return best;
}

// --- values -------------------------------------------------------------------------------------

function hex(seed, len) {
  return crypto.createHash('sha1').update(seed).digest('hex').slice(0, len);
}

// Realistic values for the parameter names of the set; other names fall back to a short word
// made from the name (letters only, at most 8, plus its length: ":access_token" -> "accesst12").
const VALUES = {
  owner: 'nexure',
  repo: 'engine',
  number: '1347',
  sha: hex('nexure/engine@1347', 40),
  user: 'octocat',
  target_user: 'hubot',
  assignee: 'mona',
  org: 'nexure-labs',
  id: '90210',
  comment_id: '583311',
  client_id: 'Iv1.5d2c9a7f0b',
  access_token: hex('access_token', 40),
  name: 'bug',
  basehead: 'main...router-rewrite',
  ref: 'v1.4.0',
  branch: 'main',
  state: 'open',
  keyword: 'router',
  email: 'octo@nexure.dev',
};

function valueFor(name) {
  if (Object.prototype.hasOwnProperty.call(VALUES, name)) return VALUES[name];
  return name.replace(/[^a-z]/gi, '').slice(0, 8).toLowerCase() + String(name.length);
}

// The rest taken by a catch-all, chosen by the static segment in front of it.
const REST = {
  refs: 'heads/router-rewrite',
  contents: 'docs/guide/README.md',
};

function concretePath(route) {
  let prev = '';
  const out = route.segs.map((s) => {
    let v;
    if (s.kind === 'static') v = s.text;
    else if (s.kind === 'param') v = valueFor(s.name) + s.suffix;
    else v = REST[prev] || 'src/net/router';
    if (s.kind === 'static') prev = s.text;
    return v;
  });
  return `/${out.join('/')}`;
}

// --- misses -------------------------------------------------------------------------------------

// Words that are no static segment of the set; picked in turn, so the output is fixed.
const EXTRA = ['archive', 'settings', 'history', 'export', 'preview', 'raw', 'stats', 'graph'];
const UNKNOWN = ['widgets', 'badges', 'projects', 'wiki', 'packages', 'discussions', 'billing'];
const PREFIXES = ['/api/v3', '/v2', '/api', '/enterprise'];

function missCandidates(route, p, i) {
  const parts = p.slice(1).split('/');
  const statics = route.segs.map((s, k) => (s.kind === 'static' ? k : -1)).filter((k) => k >= 0);
  const out = [];
  // One more segment at the end.
  out.push({ method: route.method, path: `${p}/${EXTRA[(i >> 2) % EXTRA.length]}`, how: 'extra segment' });
  // One static segment changed: a near miss (the word with its last letter changed) or an
  // unknown word, at a static position chosen by the route's index.
  if (statics.length > 0) {
    const k = statics[i % statics.length];
    const changed = parts.slice();
    if ((i >> 2) % 2 === 0) {
      const w = changed[k];
      changed[k] = w.slice(0, -1) + (w.endsWith('x') ? 'q' : 'x');
    } else {
      changed[k] = UNKNOWN[(i >> 2) % UNKNOWN.length];
    }
    out.push({ method: route.method, path: `/${changed.join('/')}`, how: 'static segment changed' });
  }
  // Another prefix.
  out.push({ method: route.method, path: PREFIXES[(i >> 2) % PREFIXES.length] + p, how: 'other prefix' });
  // The same path with a method that has no route there.
  for (let m = 0; m < METHODS.length; m++) {
    const method = METHODS[(i + m) % METHODS.length];
    if (method !== route.method) out.push({ method, path: p, how: 'other method' });
  }
  // Rotate so the kinds of miss alternate along the file, then keep the rest as fall-backs.
  const turn = Math.min(i % 4, out.length - 1);
  return out.slice(turn).concat(out.slice(0, turn));
}

// --- main ---------------------------------------------------------------------------------------

function main() {
  const args = process.argv.slice(2);
  let checkOnly = false;
  let outFile = LOOKUPS_FILE;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--check') checkOnly = true;
    else if (args[i] === '--out' && i + 1 < args.length) outFile = path.resolve(args[++i]);
    else fail(`unknown argument '${args[i]}' (usage: make_lookups.js [--check] [--out FILE])`);
  }
  const { routes, errors } = readRoutes(ROUTES_FILE);
  errors.push(...checkRoutes(routes));
  if (errors.length > 0) fail(`${errors.length} problem(s) in ${ROUTES_FILE}:\n  ${errors.join('\n  ')}`);
  if (routes.length === 0) fail(`no routes in ${ROUTES_FILE}`);

  const staticLines = [];
  const paramLines = [];
  const missLines = [];
  const used = new Set();
  const problems = [];

  const add = (list, method, p, kind) => {
    const key = `${method} ${p}`;
    if (used.has(key)) return false;
    used.add(key);
    list.push(`${key} ${kind}`);
    return true;
  };

  const paramRoutes = [];
  for (const r of routes) {
    const isStatic = r.segs.every((s) => s.kind === 'static');
    const p = isStatic ? r.path : concretePath(r);
    const hit = bestRoute(routes, r.method, p);
    if (hit !== r) {
      problems.push(`${r.method} ${p} (for ${r.path}) is matched by ${hit ? hit.path : 'no route'}`);
      continue;
    }
    if (isStatic) {
      add(staticLines, r.method, p, 'static');
    } else {
      add(paramLines, r.method, p, 'param');
      paramRoutes.push({ route: r, path: p });
    }
  }

  const missHow = {};
  paramRoutes.forEach(({ route, path: p }, i) => {
    for (const c of missCandidates(route, p, i)) {
      if (bestRoute(routes, c.method, c.path) === null && add(missLines, c.method, c.path, 'miss')) {
        missHow[c.how] = (missHow[c.how] || 0) + 1;
        return;
      }
    }
    problems.push(`no miss path found for ${route.method} ${route.path}`);
  });

  if (problems.length > 0) fail(`${problems.length} lookup problem(s):\n  ${problems.join('\n  ')}`);

  const summary = `${routes.length} routes; lookups: ${staticLines.length} static, ` +
    `${paramLines.length} param, ${missLines.length} miss ` +
    `(${Object.entries(missHow).map(([k, v]) => `${v} ${k}`).join(', ')})`;
  if (checkOnly) {
    process.stderr.write(`make_lookups.js: ${ROUTES_FILE}: OK; ${summary}\n`);
    return;
  }
  const body = staticLines.concat(paramLines, missLines).join('\n') + '\n';
  fs.writeFileSync(outFile, body);
  process.stderr.write(`make_lookups.js: wrote ${path.relative(process.cwd(), outFile) || outFile}: ${summary}\n`);
}

main();
