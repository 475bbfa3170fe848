#!/usr/bin/env bash
# Counts the instructions nexure-server executes per request, end to end in user space (receive
# completion, parse, route, handler, framing, send preparation, the loop), under valgrind's
# callgrind, for one or more builds: the exact way to compare two builds of the request path on
# a busy machine, where CPU-time figures spread by 10-15 % (BENCHMARKING.md). The kernel's share
# (loopback TCP, io_uring) is not counted: it is the same for both builds.
#
#   bash scripts/callgrind-server.sh NAME=BINARY [NAME=BINARY...]
#   (default: current=build/release/bin/nexure-server)
#
# For each build: nexure-server --threads 1 under callgrind; nexload (build/release/bin) sends a
# warm-up, the counters are zeroed, then REQUESTS (default 50,000) GET TARGET (default /plaintext;
# /co-plaintext is the same answer from a coroutine handler) pipelined 16 deep on 8 connections,
# then REQUESTS plain keep-alive on 8 connections; the counters are dumped after each run. Prints
# instructions per request for both, and writes them to
# bench/results/callgrind-server-<UTC>.json (RECORD=0: print only).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

nx_require valgrind callgrind_control python3
REQUESTS=${REQUESTS:-50000}
nx_is_uint "$REQUESTS" || nx_die "REQUESTS must be a number"
TARGET=${TARGET:-/plaintext}
[[ $TARGET == /* ]] || nx_die "TARGET must be a path, like /plaintext"
NEXLOAD=${NEXLOAD:-$NX_ROOT/build/release/bin/nexload}
[[ -x $NEXLOAD ]] || nx_die "no $NEXLOAD: build it with bash scripts/build.sh release"
(($# > 0)) || set -- "current=$NX_ROOT/build/release/bin/nexure-server"

nx_install_traps
work=""
nx_tmpdir work
stamp=$(date -u +%Y%m%dT%H%M%SZ)
commit=$(git -C "$NX_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=false
[[ -z $(git -C "$NX_ROOT" status --porcelain 2>/dev/null) ]] || dirty=true

# total_ir FILE: the "summary:"/"totals:" instruction count of a callgrind dump.
total_ir() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }

rows=()
for spec in "$@"; do
    name=${spec%%=*}
    bin=${spec#*=}
    [[ $name != "$spec" && -x $bin ]] || nx_die "expected NAME=BINARY with an executable, got '$spec'"
    out="$work/$name.callgrind"
    pid=""
    port=""
    nx_start_server pid port "$work/$name" 120 \
        valgrind --tool=callgrind --callgrind-out-file="$out.%p" "$bin" --port 0 --threads 1 ||
        nx_die "$name did not start under callgrind"
    load() { "$NEXLOAD" -t 1 -c 8 --no-pin -n "$REQUESTS" "$@" "http://127.0.0.1:$port$TARGET" \
        >"$work/$name.load" 2>&1 || nx_die "nexload failed against $name: $(cat "$work/$name.load")"; }
    "$NEXLOAD" -t 1 -c 8 --no-pin -n 5000 --pipeline 16 "http://127.0.0.1:$port$TARGET" \
        >/dev/null 2>&1 || nx_die "warm-up failed against $name"
    callgrind_control -z "$pid" >/dev/null
    load --pipeline 16
    callgrind_control -d pipelined "$pid" >/dev/null
    load
    callgrind_control -d plain "$pid" >/dev/null
    nx_stop_pid "$pid" 60
    pipelined=$(total_ir "$(ls "$out".*.1 2>/dev/null | head -1)")
    plain=$(total_ir "$(ls "$out".*.2 2>/dev/null | head -1)")
    [[ -n $pipelined && -n $plain ]] || nx_die "no callgrind dumps for $name in $work"
    ppr=$(python3 -c "print(f'{$pipelined / $REQUESTS:.1f}')")
    lpr=$(python3 -c "print(f'{$plain / $REQUESTS:.1f}')")
    printf '%-12s pipelined-16: %10s instructions/request   plain: %10s instructions/request\n' \
        "$name" "$ppr" "$lpr"
    rows+=("{\"name\": $(nx_json_str "$name"), \"binary\": $(nx_json_str "$bin"), \"requests\": $REQUESTS, \"pipelined_instructions_per_request\": $ppr, \"plain_instructions_per_request\": $lpr}")
done

if [[ ${RECORD:-1} == 1 ]]; then
    file="$NX_ROOT/bench/results/callgrind-server-$stamp.json"
    {
        printf '{\n  "script": "scripts/callgrind-server.sh",\n  "date": "%s",\n' "$stamp"
        printf '  "commit": "%s",\n  "git_dirty": %s,\n  "requests_per_run": %s,\n' \
            "$commit" "$dirty" "$REQUESTS"
        printf '  "target": %s,\n' "$(nx_json_str "$TARGET")"
        joined=""
        for row in "${rows[@]}"; do joined+="${joined:+,$'\n'    }$row"; done
        printf '  "builds": [\n    %s\n  ]\n}\n' "$joined"
    } >"$file"
    nx_log "wrote $file"
fi
