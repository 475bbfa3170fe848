#!/usr/bin/env bash
# Express's own test suite (expressjs/express at v5.1.0, mocha + supertest) run twice: on Node's
# http, then with http.createServer replaced by nexurejs/http's (preload.cjs). Reports both
# counts and every test that passes on Node but not here.
#
#   bash tests/compat/express-suite/run.sh [EXPRESS_GIT]
#
# EXPRESS_GIT: a clone of expressjs/express (a git directory or a work tree) that has the tag;
# default $EXPRESS_GIT or /work/.mirror/expressjs+express/repo. Its devDependencies come from the
# npm registry. Work directory: build/express-suite (EXPRESS_SUITE_DIR). The report is written
# to build/express-suite/report.md as well.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
tag=${EXPRESS_TAG:-v5.1.0}
src=${1:-${EXPRESS_GIT:-/work/.mirror/expressjs+express/repo}}
work=${EXPRESS_SUITE_DIR:-$root/build/express-suite}

if ! git --git-dir="$src" rev-parse --verify -q "$tag^{commit}" >/dev/null 2>&1 &&
    ! git -C "$src" rev-parse --verify -q "$tag^{commit}" >/dev/null 2>&1; then
    echo "run.sh: no expressjs/express clone with tag $tag at '$src'" >&2
    echo "  give one: git clone https://github.com/expressjs/express && bash $0 express" >&2
    exit 2
fi
gitdir=$src
git --git-dir="$src" rev-parse --verify -q "$tag^{commit}" >/dev/null 2>&1 || gitdir=$(git -C "$src" rev-parse --absolute-git-dir)

rm -rf "$work/express"
mkdir -p "$work/express"
git --git-dir="$gitdir" archive "$tag" | tar -x -C "$work/express"
(cd "$work/express" && npm install --no-audit --no-fund --loglevel=error >"$work/npm-install.log" 2>&1) || {
    echo "run.sh: npm install in $work/express failed; see $work/npm-install.log" >&2
    exit 1
}

# One run: mocha's JSON report into $work/$1.json (a failing test is not a failing run here).
run() {
    local name=$1
    shift
    (cd "$work/express" && timeout 1200 node_modules/.bin/mocha --require test/support/env "$@" \
        --reporter json --check-leaks --exit test/ test/acceptance/ >"$work/$name.json" 2>"$work/$name.err") || true
}
run node
run nexure --require "$here/preload.cjs"

python3 - "$work" "$tag" <<'PY' | tee "$work/report.md"
import json, sys
work, tag = sys.argv[1], sys.argv[2]
def load(name):
    text = open(f"{work}/{name}.json").read()
    start = text.find('{\n  "stats"')
    return json.loads(text[start:] if start >= 0 else text)
node, nexure = load("node"), load("nexure")
def passed(r): return {t["fullTitle"] for t in r["passes"]}
def failed(r): return {t["fullTitle"]: t.get("err", {}).get("message", "") for t in r["failures"]}
print(f"# Express {tag}'s test suite on Node's http and on nexurejs/http\n")
print("| run | tests | passed | failed | pending |\n|---|---:|---:|---:|---:|")
for name, r in (("node:http", node), ("nexurejs/http", nexure)):
    s = r["stats"]
    print(f"| {name} | {s['tests']} | {s['passes']} | {s['failures']} | {s['pending']} |")
lost = sorted(passed(node) - passed(nexure))
nf = failed(nexure)
print(f"\nPassing on node:http, not on nexurejs/http: {len(lost)}\n")
for t in lost:
    print(f"- {t}: {nf.get(t, 'not run').splitlines()[0] if nf.get(t) else 'not run'}")
PY
