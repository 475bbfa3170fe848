'use strict';
// The TypeScript declarations (napi/lib/index.d.ts), type-checked with the project's tsc
// (the typescript devDependency): route parameters inferred from path literals, the package's
// types from ESM (.mts) and CommonJS (.cts), and a parameter typo that must be error TS2339.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');
const TSC = path.join(ROOT, 'node_modules', '.bin', 'tsc');

function tsc(project) {
  assert.ok(fs.existsSync(TSC),
    `${TSC} is missing: run \`npm install\` in ${ROOT} first (typescript is a devDependency)`);
  return spawnSync(TSC, ['-p', path.join(__dirname, 'types', project), '--noEmit'],
    { cwd: ROOT, encoding: 'utf8', timeout: 120000 });
}

test('the declarations type-check the uses in tests/napi/types (pass.ts, esm.mts, cjs.cts)', () => {
  const r = tsc('tsconfig.json');
  assert.equal(r.error, undefined);
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});

test('a typo in a route parameter is a type error (TS2339)', () => {
  const r = tsc('tsconfig.typo.json');
  assert.equal(r.error, undefined);
  assert.notEqual(r.status, 0, 'typo.ts must not type-check');
  assert.match(r.stdout, /typo\.ts\(4,\d+\): error TS2339: Property 'idd' does not exist on type '\{ id: string; \}'/);
  assert.equal((r.stdout.match(/error TS/g) || []).length, 1, `only the typo:\n${r.stdout}`);
});
