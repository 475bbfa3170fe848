#!/usr/bin/env bash
# Counts the instructions RequestParser::feed() executes per request in nexure-bench-micro's
# BM_ParsePipelined16 (16 pipelined wrk-style GETs per feed), under valgrind's callgrind.
#
# Instruction counts do not depend on the machine's load, so two builds (before and after a
# parser change) compare exactly even on a busy 2-core VM, where timings spread by 15 %.
# Collection is limited to the benchmark function; the figure is feed()'s inclusive count
# (llhttp and the callbacks included) divided by the number of feed() calls and by 16.
#
#   bash scripts/callgrind-parse.sh [BENCH_BINARY...]   (default: build/release/bin/nexure-bench-micro)
#
# Prints one line per binary: feed calls, instructions per feed, instructions per request.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

nx_require valgrind python3
(($# > 0)) || set -- "$NX_ROOT/build/release/bin/nexure-bench-micro"

nx_install_traps
work=""
nx_tmpdir work
for bin in "$@"; do
    [[ -x $bin ]] || nx_die "no $bin: build it with cmake --build --preset release"
    out="$work/callgrind.out"
    valgrind --tool=callgrind --callgrind-out-file="$out" \
        --toggle-collect='(anonymous namespace)::BM_ParsePipelined16(*' \
        "$bin" --benchmark_filter='BM_ParsePipelined16$' --benchmark_min_time=0.05 \
        >"$work/bench.log" 2>"$work/valgrind.log" || nx_die "callgrind failed: $work/valgrind.log"
    python3 - "$out" "$bin" <<'EOF'
import re
import sys

# In callgrind's format, "cfn=(id) name" names a callee (the name only on its first use, here or
# in an "fn=" line), "calls=N ..." follows, and the next line holds the inclusive cost.
names, callee, calls, inclusive = {}, None, 0, 0
lines = open(sys.argv[1]).read().split("\n")
for i, line in enumerate(lines):
    m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line)
    if m:
        if m.group(2):
            names[m.group(1)] = m.group(2)
        callee = names.get(m.group(1), "") if line.startswith("cfn") else None
    elif line.startswith("calls=") and callee and "RequestParser::feed" in callee:
        calls += int(line.split("=")[1].split()[0])
        inclusive += int(lines[i + 1].split()[1])
if calls == 0:
    sys.exit("no calls of RequestParser::feed recorded")
print(f"{sys.argv[2]}: {calls} feed calls, {inclusive / calls:.1f} instructions per feed, "
      f"{inclusive / calls / 16:.2f} per request")
EOF
done
