#!/usr/bin/env bash
# Router lookups, NexureJS against find-my-way, on the GitHub API route set of bench/router:
# build/release/bin/nexure-bench-router --json and node bench/router/fmw_bench.js each register
# the routes of github_routes.txt and time the lookups of github_lookups.txt by kind (static,
# param, miss) in ns per lookup. Both run on the same CPU (taskset -c 1 when there are 2+ CPUs),
# one after the other, ROUNDS times, so that a noisy machine affects them alike. Prints a Markdown
# table of the medians and writes the raw rounds to bench/results/router-<UTC time>.json.
#
# Environment:
#   ROUNDS=3                   rounds; each runs nexure-bench-router, then fmw_bench.js
#   SKIP_BUILD=1               use the existing build/release binary instead of running build.sh
#   FMW_SECONDS=1              seconds fmw_bench.js measures each kind
#   RESULTS_DIR=bench/results  where the JSON goes
#   NEXURE_BENCH_ROUTER=path   use another nexure-bench-router binary
#
# find-my-way comes from bench/router/package-lock.json (npm ci, only when node_modules does not
# hold the locked version). Every run is bounded in time.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-3}
SKIP_BUILD=${SKIP_BUILD:-0}
FMW_SECONDS=${FMW_SECONDS:-1}
RESULTS_DIR=${RESULTS_DIR:-$NX_ROOT/bench/results}
BENCH_BIN=${NEXURE_BENCH_ROUTER:-$NX_ROOT/build/release/bin/nexure-bench-router}
ROUTER_DIR=$NX_ROOT/bench/router
KINDS=(static param miss)
RUN_LIMIT=300 # seconds, per run of either benchmark

if ! nx_is_uint "$ROUNDS" || ((10#$ROUNDS == 0)); then
    nx_die "ROUNDS must be a positive integer, got '$ROUNDS'"
fi
ROUNDS=$((10#$ROUNDS))
if ! [[ $FMW_SECONDS =~ ^[0-9]*\.?[0-9]+$ ]] || ! awk -v s="$FMW_SECONDS" 'BEGIN { exit !(s > 0) }'; then
    nx_die "FMW_SECONDS must be a positive number of seconds, got '$FMW_SECONDS'"
fi

nx_install_traps

# --- build, tools, data -------------------------------------------------------------------------
if [[ $SKIP_BUILD != 1 ]]; then
    bash "$NX_SCRIPTS/build.sh" release
else
    bash "$NX_SCRIPTS/setup.sh"
fi
nx_require node npm timeout
[[ -x $BENCH_BIN ]] || nx_die "$BENCH_BIN not found: nexure-bench-router is built by the release" \
    "preset (scripts/build.sh release); if the build has no such target yet, this benchmark" \
    "cannot run (NEXURE_BENCH_ROUTER=path names another binary)"

work=""
nx_tmpdir work

# The committed lookups must be the ones make_lookups.js derives from the committed routes (this
# also checks the route file).
node "$ROUTER_DIR/make_lookups.js" --out "$work/lookups.txt" 2>"$work/make_lookups.err" || {
    cat "$work/make_lookups.err" >&2
    nx_die "bench/router/github_routes.txt did not pass make_lookups.js's checks"
}
cmp -s "$work/lookups.txt" "$ROUTER_DIR/github_lookups.txt" ||
    nx_die "bench/router/github_lookups.txt is out of date; regenerate it with" \
        "'node bench/router/make_lookups.js'"

# locked_fmw_version / installed_fmw_version: find-my-way's version in package-lock.json and in
# node_modules (empty when absent).
locked_fmw_version() {
    node -e 'const l = require(process.argv[1]);
        const p = l.packages && l.packages["node_modules/find-my-way"];
        process.stdout.write(p && p.version ? p.version : "")' "$ROUTER_DIR/package-lock.json"
}
installed_fmw_version() {
    node -e 'try { process.stdout.write(require(process.argv[1]).version) } catch (e) {}' \
        "$ROUTER_DIR/node_modules/find-my-way/package.json"
}

if [[ -f $ROUTER_DIR/package-lock.json ]]; then
    locked=$(locked_fmw_version)
    [[ -n $locked ]] || nx_die "bench/router/package-lock.json locks no find-my-way"
    if [[ $(installed_fmw_version) != "$locked" ]]; then
        nx_log "installing find-my-way $locked in bench/router (npm ci)"
        (cd "$ROUTER_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
            nx_die "npm ci in bench/router failed"
    fi
else
    nx_log "bench/router has no package-lock.json: npm install"
    (cd "$ROUTER_DIR" && npm install --no-audit --no-fund --loglevel=error >/dev/null) ||
        nx_die "npm install in bench/router failed"
fi
fmw_version=$(installed_fmw_version)
[[ -n $fmw_version ]] || nx_die "find-my-way is not installed in bench/router/node_modules"

# --- pinning ------------------------------------------------------------------------------------
PIN=()
cpus=$(nproc 2>/dev/null || printf '1')
if ! nx_have taskset; then
    pin_note="taskset is not available: both benchmarks run unpinned"
elif ((cpus < 2)); then
    pin_note="only $cpus CPU available: both benchmarks run unpinned"
elif ! taskset -c 1 true 2>/dev/null; then
    pin_note="CPU 1 is not usable by taskset: both benchmarks run unpinned"
else
    PIN=(taskset -c 1)
    pin_note="both benchmarks pinned to CPU 1"
fi
nx_log "$pin_note; $ROUNDS round(s); find-my-way $fmw_version, node $(node --version)"

# --- runs ---------------------------------------------------------------------------------------
# summarize FILE ROUTER: checks that FILE holds one JSON object of the shape both benchmarks print,
# from ROUTER, writes it without whitespace to FILE.compact and prints
# "static param miss routes n_static n_param n_miss version".
summarize() {
    # shellcheck disable=SC2016 # ${...} here are JavaScript template expressions
    node -e '
const fs = require("fs");
const [file, want] = process.argv.slice(1);
const bad = (msg) => { process.stderr.write(`${file}: ${msg}\n`); process.exit(1); };
let j;
try { j = JSON.parse(fs.readFileSync(file, "utf8")); } catch (e) { bad(`not JSON: ${e.message}`); }
if (j === null || typeof j !== "object") bad("not a JSON object");
if (j.router !== want) bad(`"router" is ${JSON.stringify(j.router)}, expected "${want}"`);
const out = [];
for (const k of ["static", "param", "miss"]) {
  const v = j.ns_per_lookup && j.ns_per_lookup[k];
  if (typeof v !== "number" || !(v > 0)) bad(`ns_per_lookup.${k} is not a positive number`);
  out.push(v);
}
if (!Number.isInteger(j.routes)) bad("routes is not an integer");
out.push(j.routes);
for (const k of ["static", "param", "miss"]) {
  const v = j.lookups && j.lookups[k];
  if (!Number.isInteger(v)) bad(`lookups.${k} is not an integer`);
  out.push(v);
}
out.push(String(j.version || "unknown").replace(/\s+/g, "_"));
// Compacted from the text itself, not re-serialized, so that numbers keep every digit printed
// (a 64-bit checksum does not survive a round trip through a JavaScript number).
const text = fs.readFileSync(file, "utf8").trim();
let compact = "", inString = false;
for (let i = 0; i < text.length; i++) {
  const c = text[i];
  if (inString) {
    compact += c;
    if (c === "\\") compact += text[++i];
    else if (c === "\"") inString = false;
  } else if (c === "\"") {
    inString = true;
    compact += c;
  } else if (!/\s/.test(c)) {
    compact += c;
  }
}
fs.writeFileSync(`${file}.compact`, compact);
process.stdout.write(out.join(" ") + "\n");' "$1" "$2"
}

declare -A res=() # res[router/round/field]
failures=()

# run_one NAME ROUTER-LABEL CMD...: one run, from the repository root, pinned and bounded.
run_one() {
    local name=$1 label=$2 rc=0 line
    shift 2
    local out="$work/$name-$round.json" err="$work/$name-$round.err"
    (cd "$NX_ROOT" && timeout -k 5 "$RUN_LIMIT" "${PIN[@]}" "$@") >"$out" 2>"$err" || rc=$?
    if ((rc != 0)); then
        cat "$err" >&2
        ((rc != 124)) || nx_die "$name did not finish within ${RUN_LIMIT}s (round $round)"
        nx_die "$name failed with exit status $rc (round $round): $*"
    fi
    line=$(summarize "$out" "$label") || {
        cat "$err" >&2
        nx_die "$name printed no valid result (round $round); its output is above"
    }
    local -a f
    read -r -a f <<<"$line"
    res[$name/$round/static]=${f[0]}
    res[$name/$round/param]=${f[1]}
    res[$name/$round/miss]=${f[2]}
    res[$name/$round/routes]=${f[3]}
    res[$name/$round/lookups]="${f[4]} ${f[5]} ${f[6]}"
    res[$name/version]=${f[7]}
    res[$name/$round/raw]=$(<"$out.compact")
    nx_log "round $round/$ROUNDS: $name: static ${f[0]}, param ${f[1]}, miss ${f[2]} ns/lookup"
}

for ((round = 1; round <= ROUNDS; round++)); do
    run_one nexure nexure "$BENCH_BIN" --json
    run_one fmw find-my-way node "$ROUTER_DIR/fmw_bench.js" --seconds "$FMW_SECONDS"
done

# Both must have measured the same set.
for ((round = 1; round <= ROUNDS; round++)); do
    if [[ ${res[nexure/$round/routes]} != "${res[fmw/$round/routes]}" ||
        ${res[nexure/$round/lookups]} != "${res[fmw/$round/lookups]}" ]]; then
        failures+=("round $round: nexure measured ${res[nexure/$round/routes]} routes and lookups\
 (static param miss) ${res[nexure/$round/lookups]}, find-my-way ${res[fmw/$round/routes]}\
 and ${res[fmw/$round/lookups]}: the two did not measure the same set")
    fi
done

# --- report -------------------------------------------------------------------------------------
# median VALUES...: the median of numbers, or "null" when there are none.
median() { nx_fmt3 "$(nx_median "$@")"; }
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "null" || b == "null" || b + 0 == 0) print "null"; else printf "%.2f", a / b }'
}

declare -A med=() speedup=()
for kind in "${KINDS[@]}"; do
    for name in nexure fmw; do
        vals=()
        for ((round = 1; round <= ROUNDS; round++)); do
            vals+=("${res[$name/$round/$kind]}")
        done
        med[$name/$kind]=$(median "${vals[@]}")
    done
    speedup[$kind]=$(ratio "${med[fmw/$kind]}" "${med[nexure/$kind]}")
done

read -r n_static n_param n_miss <<<"${res[fmw/1/lookups]}"
declare -A n_lookups=([static]=$n_static [param]=$n_param [miss]=$n_miss)
printf '\n%s routes (bench/router/github_routes.txt); %s. Medians over %s round(s).\n\n' \
    "${res[fmw/1/routes]}" "$pin_note" "$ROUNDS"
printf '| kind | nexure ns/lookup (median) | find-my-way %s ns/lookup (median) | speed-up (fmw/nexure) |\n' \
    "$fmw_version"
printf '|------|--------------------------:|-------------------------------:|----------------------:|\n'
for kind in "${KINDS[@]}"; do
    printf '| %s (%s lookups) | %s | %s | %s× |\n' "$kind" "${n_lookups[$kind]}" \
        "${med[nexure/$kind]}" "${med[fmw/$kind]}" "${speedup[$kind]}"
done
if ((ROUNDS > 1)); then
    printf '\nPer round (ns/lookup, static/param/miss):\n'
    for ((round = 1; round <= ROUNDS; round++)); do
        printf '  round %s: nexure %s/%s/%s, find-my-way %s/%s/%s\n' "$round" \
            "${res[nexure/$round/static]}" "${res[nexure/$round/param]}" "${res[nexure/$round/miss]}" \
            "${res[fmw/$round/static]}" "${res[fmw/$round/param]}" "${res[fmw/$round/miss]}"
    done
fi

# --- JSON -------------------------------------------------------------------------------------
# json_medians NAME: {"static": ..., "param": ..., "miss": ...}, the medians of NAME.
json_medians() {
    printf '{"static": %s, "param": %s, "miss": %s}' "${med[$1/static]}" "${med[$1/param]}" \
        "${med[$1/miss]}"
}

stamp=$(date -u +%Y%m%dT%H%M%SZ)

mkdir -p "$RESULTS_DIR"
json="$RESULTS_DIR/router-$stamp.json"
{
    printf '{\n'
    nx_json_host_fields
    printf '  "node": %s,\n' "$(nx_json_str "$(node --version)")"
    printf '  "find_my_way_version": %s,\n' "$(nx_json_str "$fmw_version")"
    printf '  "pinned": %s,\n' "$( ((${#PIN[@]} > 0)) && echo true || echo false)"
    printf '  "pinning": %s,\n' "$(nx_json_str "$pin_note")"
    printf '  "rounds": %s,\n  "fmw_seconds_per_kind": %s,\n' "$ROUNDS" "$FMW_SECONDS"
    printf '  "routes": %s,\n' "${res[fmw/1/routes]}"
    printf '  "lookups": {"static": %s, "param": %s, "miss": %s},\n' "$n_static" "$n_param" "$n_miss"
    printf '  "median_ns_per_lookup": {\n    "nexure": %s,\n    "find-my-way": %s\n  },\n' \
        "$(json_medians nexure)" "$(json_medians fmw)"
    printf '  "speedup_fmw_over_nexure": {"static": %s, "param": %s, "miss": %s},\n' \
        "${speedup[static]}" "${speedup[param]}" "${speedup[miss]}"
    printf '  "raw": {'
    outer=''
    for name in nexure fmw; do
        key=$name
        [[ $name != fmw ]] || key=find-my-way
        printf '%s\n    "%s": [' "$outer" "$key"
        sep=''
        for ((round = 1; round <= ROUNDS; round++)); do
            printf '%s\n      %s' "$sep" "${res[$name/$round/raw]}"
            sep=','
        done
        printf '\n    ]'
        outer=','
    done
    printf '\n  },\n'
    printf '  "failures": %s\n}\n' "$(nx_json_strings "${failures[@]}")"
} >"$json"
printf '\nResults written to %s\n' "${json#"$NX_ROOT"/}"

nx_exit_on_failures "${failures[@]}"
