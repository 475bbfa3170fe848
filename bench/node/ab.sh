#!/usr/bin/env bash
# Two builds of the nexurejs JavaScript layer (and its addon) against each other in the same run,
# rounds alternating, with the method of BENCHMARKING.md: the server pinned to CPU 1, wrk pinned
# to CPU 0, 64 connections, 5 s, plain keep-alive and pipelined depth 16. Reports requests/s and
# the server's CPU microseconds per request (utime+stime from /proc) per run and as medians.
#
#   bash bench/node/ab.sh BEFORE_LIB AFTER_LIB [rounds]      (HOOKED=1 for the hooked app)
#
# A lib is a napi/lib directory with its nexurejs.node, e.g. of another commit:
#   git archive <commit> | tar -x -C /tmp/before && (cd /tmp/before && npm install)
#   bash bench/node/ab.sh /tmp/before/napi/lib napi/lib 3
# It only measures; nothing is asserted.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
(($# >= 2)) || { echo "usage: ab.sh BEFORE_LIB AFTER_LIB [rounds]" >&2; exit 2; }
libs=("$(cd "$1" && pwd)" "$(cd "$2" && pwd)")
rounds=${3:-3}
hz=$(getconf CLK_TCK)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

measure() {  # label lib mode
    local label=$1 lib=$2 mode=$3
    LIB=$lib HOOKED=${HOOKED:-0} taskset -c 1 node "$here/ab-server.js" > "$log" 2>&1 &
    local pid=$!
    for _ in $(seq 600); do grep -q '^ready' "$log" && break; sleep 0.05; done
    local port
    port=$(awk '/^ready/ {print $2}' "$log")
    if [[ -z $port ]]; then echo "$label $mode: the server did not start: $(cat "$log")" >&2; kill "$pid"; return; fi
    curl -s "http://127.0.0.1:$port/plaintext" > /dev/null
    local t0 t1 out
    t0=$(cpu_ticks "$pid")
    if [[ $mode == plain ]]; then
        out=$(taskset -c 0 wrk -t1 -c64 -d5s "http://127.0.0.1:$port/plaintext")
    else
        out=$(taskset -c 0 wrk -t1 -c64 -d5s -s "$here/../wrk/pipeline.lua" "http://127.0.0.1:$port/plaintext" -- 16)
    fi
    t1=$(cpu_ticks "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    local reqs rps
    reqs=$(awk '/requests in/ {print $1}' <<< "$out")
    rps=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
    awk -v l="$label" -v m="$mode" -v r="$rps" -v n="$reqs" -v a="$t0" -v b="$t1" -v hz="$hz" \
        'BEGIN { printf "%s %s rps=%.0f cpu_us_per_req=%.2f\n", l, m, r, (b - a) / hz * 1e6 / n }'
}

results=$(mktemp)
for ((r = 1; r <= rounds; r++)); do
    for mode in plain pipelined; do
        measure before "${libs[0]}" "$mode" | tee -a "$results"
        measure after "${libs[1]}" "$mode" | tee -a "$results"
    done
done
echo "medians over $rounds rounds (HOOKED=${HOOKED:-0}):"
python3 - "$results" <<'PY'
import collections, re, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r'(\S+) (\S+) rps=(\d+) cpu_us_per_req=([\d.]+)', line)
    if m:
        runs[(m.group(2), m.group(1))].append((float(m.group(3)), float(m.group(4))))
for (mode, label), v in sorted(runs.items()):
    print(f'  {mode:>9} {label:>6}: {statistics.median(x[0] for x in v):>9.0f} req/s, '
          f'{statistics.median(x[1] for x in v):.2f} us CPU/req  (per run: {[x[1] for x in v]})')
PY
rm -f "$results"
