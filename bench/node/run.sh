#!/usr/bin/env bash
# Issue 6's benchmark: the Node addon (examples/hello.js, a JavaScript handler) against Node's own
# `http` module and Fastify, with the method of BENCHMARKING.md (each server alone on CPU 1, the
# load generator on CPU 0, plain keep-alive and pipelined depth 16), in one run of
# scripts/compare.sh; then bench/node/targets.py works out the ratios the targets are stated in
# and appends them to the run's Markdown.
#
#   bash bench/node/run.sh [compare.sh options]    e.g. --rounds 5 --duration 5
#
# nexure-server (the C++ engine with C++ handlers) runs too, as the ceiling the bridge costs
# against. The addon is built first (npm install in the checkout) when it is missing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

if [[ ! -f $root/napi/lib/nexurejs.node ]]; then
    nx_log "building the Node addon (npm install)"
    (cd "$root" && npm install --no-audit --no-fund) || nx_die "npm install failed"
fi
results=${RESULTS_DIR:-$root/bench/results}
before=$(ls "$results"/compare-*.json 2>/dev/null | sort | tail -n 1 || true)
bash "$root/scripts/compare.sh" --servers nexure-node,node-http,fastify,nexure "$@"
after=$(ls "$results"/compare-*.json 2>/dev/null | sort | tail -n 1 || true)
[[ -n $after && $after != "$before" ]] || nx_die "compare.sh wrote no new results"
python3 "$root/bench/node/targets.py" "$after" --md "${after%.json}.md"
