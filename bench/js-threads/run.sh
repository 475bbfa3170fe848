#!/usr/bin/env bash
# Issue 20's "JavaScript on every core" figure: examples/cpu-bound.js (GET /work, about 1 ms of
# JavaScript CPU per request) with JS_THREADS=1 and JS_THREADS=2 on the same engine, rounds
# alternating between the two, each driven by wrk for --duration seconds over 16 connections.
# Reports requests/s and the server's CPU per request (all its threads, /proc) per run, the
# medians, and the ratio 2 threads / 1 thread. Nothing is pinned: two JavaScript threads need
# both cores, and wrk shares them (its own CPU use is reported: at about 2,000 requests/s it is a
# few percent of one core). Nothing is asserted.
#
#   bench/js-threads/run.sh [--duration S] [--rounds N] [--connections C]
#
# Writes bench/results/js-threads-<UTC time>.json and .md (--results-dir DIR elsewhere). About
# rounds x 2 x (S + 3) seconds: under a minute with the defaults.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-16}
RESULTS_DIR=${RESULTS_DIR:-$NX_ROOT/bench/results}
while (($#)); do
    case $1 in
        --duration) DURATION=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --connections) CONNECTIONS=$2; shift 2 ;;
        --results-dir) RESULTS_DIR=$2; shift 2 ;;
        -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
        *) nx_die "unknown option $1 (see --help)" ;;
    esac
done
nx_require_positive DURATION ROUNDS CONNECTIONS
nx_require node wrk python3
[[ -f $NX_ROOT/napi/lib/nexurejs.node ]] || nx_die "the addon is not built (npm install at the root)"

nx_install_traps
nx_tmpdir work
NX_PIN_LOAD=()
declare -A res=()
failures=()
ROWS="$work/rows.tsv"
: >"$ROWS"

run_one() {  # threads round
    local threads=$1 round=$2 pid port key="t$1-r$2"
    JS_THREADS=$threads PORT=0 nx_start_server pid port "$work/$key" 30 \
        node "$NX_ROOT/examples/cpu-bound.js" || { failures+=("$key: did not start"); return 0; }
    # A check, then a warm-up (Node's JIT, on every thread).
    if ! curl -fsS "http://127.0.0.1:$port/work" | grep -q '"result"'; then
        failures+=("$key: GET /work did not answer")
        nx_stop_pid "$pid"
        return 0
    fi
    wrk -t1 -c "$CONNECTIONS" -d 2s "http://127.0.0.1:$port/work" >/dev/null 2>&1 || true
    nx_measure_wrk "$key" "$pid" "$work/$key" $((DURATION + 30)) \
        -t1 -c "$CONNECTIONS" -d "${DURATION}s" "http://127.0.0.1:$port/work"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$threads" "$round" "${res[$key/rps]}" \
        "${res[$key/us_per_req]}" "${res[$key/server_cpu_pct]}" "${res[$key/wrk_cpu_pct]}" \
        "${res[$key/errors_text]}" >>"$ROWS"
    nx_stop_pid "$pid"
}

for ((round = 1; round <= ROUNDS; round++)); do
    run_one 1 "$round"
    run_one 2 "$round"
done

nx_host_info
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$RESULTS_DIR/js-threads-$stamp"
mkdir -p "$RESULTS_DIR"
printf '%s\n' "${failures[@]}" >"$work/failures.txt"
python3 - "$ROWS" "$out" "$stamp" "$DURATION" "$ROUNDS" "$CONNECTIONS" "$NX_KERNEL" \
    "$NX_CPU_MODEL" "$NX_NPROC" "$NX_GIT_COMMIT" "$NX_GIT_DIRTY" "$(node --version)" \
    "$work/failures.txt" <<'PY'
import json, statistics, sys
(rows_path, out, stamp, duration, rounds, conns, kernel, cpu, nproc, commit, dirty, node,
 failures_path) = sys.argv[1:]
runs = []
for line in open(rows_path):
    threads, rnd, rps, us, server_pct, wrk_pct, errors = line.rstrip("\n").split("\t")
    runs.append({"js_threads": int(threads), "round": int(rnd), "req_per_s": float(rps),
                 "server_cpu_us_per_req": None if us == "null" else float(us),
                 "server_cpu_percent": None if server_pct == "null" else float(server_pct),
                 "wrk_cpu_percent": float(wrk_pct), "errors": errors})
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
medians = {t: {"req_per_s": med([r["req_per_s"] for r in runs if r["js_threads"] == t]),
               "server_cpu_us_per_req": med([r["server_cpu_us_per_req"] for r in runs if r["js_threads"] == t]),
               "server_cpu_percent": med([r["server_cpu_percent"] for r in runs if r["js_threads"] == t])}
           for t in (1, 2)}
# Per-round ratios (each pair ran back to back), and their median.
ratios = []
for rnd in sorted({r["round"] for r in runs}):
    one = [r for r in runs if r["round"] == rnd and r["js_threads"] == 1]
    two = [r for r in runs if r["round"] == rnd and r["js_threads"] == 2]
    if one and two and one[0]["req_per_s"] > 0:
        ratios.append(two[0]["req_per_s"] / one[0]["req_per_s"])
failures = [l.strip() for l in open(failures_path) if l.strip()]
doc = {"benchmark": "js-threads", "time": stamp,
       "method": {"server": "examples/cpu-bound.js (GET /work, ~1 ms of JavaScript CPU)",
                  "load": f"wrk -t1 -c{conns} -d{duration}s, after a 2 s warm-up",
                  "rounds": int(rounds), "pinning": "none (two JavaScript threads need both cores)"},
       "host": {"kernel": kernel, "cpu": cpu, "nproc": int(nproc), "commit": commit,
                "dirty": dirty == "true", "node": node},
       "runs": runs, "medians": {str(k): v for k, v in medians.items()},
       "ratio_per_round": ratios, "ratio_median": med(ratios), "failures": failures}
json.dump(doc, open(out + ".json", "w"), indent=2)
lines = [f"# jsThreads: examples/cpu-bound.js, 1 against 2 JavaScript threads ({stamp})", "",
         f"Host: {cpu}, {nproc} CPUs, Linux {kernel}, node {node}, commit {commit}{' (dirty)' if dirty == 'true' else ''}.",
         f"wrk -t1 -c{conns}, {duration} s per run after a 2 s warm-up, {rounds} rounds alternating; "
         "nothing pinned.", "",
         "| JS threads | round | req/s | server CPU µs/req | server CPU % | wrk CPU % | errors |",
         "|---:|---:|---:|---:|---:|---:|---|"]
for r in runs:
    lines.append(f"| {r['js_threads']} | {r['round']} | {r['req_per_s']:.0f} | "
                 f"{r['server_cpu_us_per_req']} | {r['server_cpu_percent']} | {r['wrk_cpu_percent']} | {r['errors']} |")
lines += ["", "| JS threads | median req/s | median server CPU µs/req |", "|---:|---:|---:|"]
for t in (1, 2):
    m = medians[t]
    lines.append(f"| {t} | {m['req_per_s']:.0f} | {m['server_cpu_us_per_req']} |" if m["req_per_s"] else f"| {t} | — | — |")
if ratios:
    lines += ["", "Requests/s with 2 JavaScript threads ÷ with 1, per round: " +
              ", ".join(f"{x:.2f}×" for x in ratios) + f"; median **{med(ratios):.2f}×**."]
if failures:
    lines += ["", "Failures:", ""] + [f"- {f}" for f in failures]
open(out + ".md", "w").write("\n".join(lines) + "\n")
print(out + ".md")
PY
cat "$out.md"
nx_exit_on_failures "${failures[@]}"
