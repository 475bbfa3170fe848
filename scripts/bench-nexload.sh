#!/usr/bin/env bash
# Measures how much load nexload drives compared with wrk, from one core, against the same
# server (issue 7: at least 1.5x wrk's requests/s pipelined, goal 2x). Each server alone pinned
# to CPU 1, the load generator pinned to CPU 0; per round and workload, wrk and nexload run one
# after the other against the same server process, in alternating order. Reports requests/s, the
# load generator's CPU use (near 100% means it was the limit) and the server's, and the ratio
# nexload/wrk per round; the summary is the median of the per-round ratios. Writes
# bench/results/nexload-<UTC time>.json and prints a Markdown table.
#
# Servers:
#   canned   nexload-canned (bench/load/canned_server.cc): counts request ends and answers each
#            with a canned response, so it is never the limit — this is the comparison of the
#            load generators themselves.
#   nexure   nexure-server --threads 1: what the two drive against the real engine (the server
#            is then the limit in pipelined mode, so both land close to it).
#
# Environment:
#   DURATION=5  seconds per run      CONNECTIONS=64      PIPELINE=16      ROUNDS=3
#   SERVERS="canned nexure"          WORKLOADS="pipelined plain"
#   SKIP_BUILD=1   use the existing build/release binaries     RESULTS_DIR=bench/results
#
# Everything runs on 127.0.0.1; every step is bounded in time; servers are stopped on exit.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-64}
PIPELINE=${PIPELINE:-16}
ROUNDS=${ROUNDS:-3}
SERVERS=${SERVERS:-canned nexure}
WORKLOADS=${WORKLOADS:-pipelined plain}
SKIP_BUILD=${SKIP_BUILD:-0}
RESULTS_DIR=${RESULTS_DIR:-$NX_ROOT/bench/results}
BUILD_DIR=$NX_ROOT/build/release

nx_require_positive DURATION CONNECTIONS PIPELINE ROUNDS
read -r -a servers <<<"$SERVERS"
read -r -a workloads <<<"$WORKLOADS"
for s in "${servers[@]}"; do
    [[ $s == canned || $s == nexure ]] || nx_die "SERVERS: unknown server '$s' (canned, nexure)"
done
for w in "${workloads[@]}"; do
    [[ $w == pipelined || $w == plain ]] || nx_die "WORKLOADS: unknown '$w' (pipelined, plain)"
done
((${#servers[@]} > 0 && ${#workloads[@]} > 0)) || nx_die "SERVERS and WORKLOADS must not be empty"

nx_install_traps
if [[ $SKIP_BUILD != 1 ]]; then
    bash "$NX_SCRIPTS/build.sh" release
fi
nx_require wrk timeout getconf
[[ -x /usr/bin/time ]] || nx_die "/usr/bin/time not found (Debian package 'time'; run scripts/setup.sh)"
NEXLOAD=$BUILD_DIR/bin/nexload
CANNED=$BUILD_DIR/bin/nexload-canned
for bin in "$NEXLOAD" "$CANNED" "$NX_SERVER_BIN"; do
    [[ -x $bin ]] || nx_die "$bin not found; build it with scripts/build.sh release"
done

nx_setup_pinning
nx_log "$NX_PIN_NOTE"
clk_tck=$(nx_clk_tck)
work=""
nx_tmpdir work
limit=$((DURATION + 30))

declare -A res=()
failures=()

# run_tool TOOL WORKLOAD URL: one measured run; sets res[...] for this server/workload/round.
run_tool() {
    local tool=$1 workload=$2 url=$3
    local key="$server/$workload/$round/$tool" out="$work/$tool.out" timefile="$work/$tool.time"
    local -a pids
    mapfile -t pids < <(nx_proc_tree "$server_pid")
    local ticks0 ticks1 t0 t1 rc=0 rps requests
    ticks0=$(nx_cpu_ticks_sum "${pids[@]}")
    t0=$(nx_now_us)
    if [[ $tool == wrk ]]; then
        local -a args=(-t1 -c"$CONNECTIONS" -d"${DURATION}s")
        [[ $workload == pipelined ]] && args+=(-s "$NX_PIPELINE_LUA" "$url" -- "$PIPELINE")
        [[ $workload == plain ]] && args+=("$url")
        nx_run_wrk "$out" "$timefile" "$limit" "${args[@]}" || rc=$?
        nx_parse_wrk "$out"
        rps=$NX_WRK_RPS
        requests=$NX_WRK_REQUESTS
        res[$key/errors]=$((NX_WRK_SOCK_ERRORS + NX_WRK_NON2XX))
    else
        local depth=1
        [[ $workload == pipelined ]] && depth=$PIPELINE
        /usr/bin/time -f '%U %S %e' -o "$timefile" timeout -k 5 "$limit" "${NX_PIN_LOAD[@]}" \
            "$NEXLOAD" -t 1 -c "$CONNECTIONS" -d "${DURATION}s" --pipeline "$depth" \
            --no-progress --json "$work/nexload.json" "$url" >"$out" 2>&1 || rc=$?
        read -r requests rps errors < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["requests"], "%.2f" % r["rps"], r["errors"]["total"])' "$work/nexload.json" 2>/dev/null ||
            echo "0 0 0")
        res[$key/errors]=$errors
    fi
    t1=$(nx_now_us)
    ticks1=$(nx_cpu_ticks_sum "${pids[@]}")
    if ((rc != 0)); then
        nx_warn "$tool failed (exit $rc) against $server ($workload):"
        cat "$out" >&2
        failures+=("$server $workload round $round: $tool exit $rc")
    fi
    res[$key/rps]=$rps
    res[$key/requests]=$requests
    res[$key/load_cpu_pct]=$(nx_wrk_cpu_percent "$timefile")
    res[$key/server_cpu_pct]=$(awk -v d="$((ticks1 - ticks0))" -v hz="$clk_tck" -v a="$t0" \
        -v b="$t1" 'BEGIN { printf "%.1f", (d / hz) / ((b - a) / 1e6) * 100 }')
    nx_log "round $round: $server $workload $tool: $rps req/s, load generator CPU" \
        "${res[$key/load_cpu_pct]}%, server CPU ${res[$key/server_cpu_pct]}%," \
        "errors ${res[$key/errors]}"
}

for ((round = 1; round <= ROUNDS; round++)); do
    for server in "${servers[@]}"; do
        server_pid="" server_port=""
        if [[ $server == canned ]]; then
            cmd=("$CANNED" --host 127.0.0.1 --port 0)
        else
            cmd=("$NX_SERVER_BIN" --host 127.0.0.1 --port 0 --threads 1)
        fi
        if ! nx_start_server server_pid server_port "$work/$server" 20 "${NX_PIN_SERVER[@]}" \
            "${cmd[@]}" || ! nx_wait_port "$server_port" 10 "$server_pid"; then
            failures+=("$server: did not start")
            [[ -z $server_pid ]] || nx_stop_pid "$server_pid" 5
            continue
        fi
        url="http://127.0.0.1:$server_port/plaintext"
        timeout 20 "${NX_PIN_LOAD[@]}" "$NEXLOAD" -t 1 -c "$CONNECTIONS" -d 1s --no-progress \
            "$url" >/dev/null 2>&1 || nx_warn "warm-up run failed"
        for workload in "${workloads[@]}"; do
            # Alternate which tool goes first, so that neither always gets the fresher server.
            if ((round % 2)); then order=(wrk nexload); else order=(nexload wrk); fi
            for tool in "${order[@]}"; do
                run_tool "$tool" "$workload" "$url"
            done
        done
        nx_stop_pid "$server_pid" 10
    done
done

# --- report ---------------------------------------------------------------------------------
# Per server and workload, over the rounds that have both tools: sum[KEY/wrk|nexload] (medians of
# req/s), sum[KEY/ratios] (per-round nexload/wrk), sum[KEY/ratio] (their median), sum[KEY/cpu] and
# sum[KEY/scpu] (per-round CPU of the load generators and of the server, "wrk/nexload%").
declare -A sum=()
for server in "${servers[@]}"; do
    for workload in "${workloads[@]}"; do
        wrk_rps=() nl_rps=() ratios=() cpu=() scpu=()
        for ((round = 1; round <= ROUNDS; round++)); do
            k="$server/$workload/$round"
            a=${res[$k/wrk/rps]:-}
            b=${res[$k/nexload/rps]:-}
            [[ -n $a && -n $b ]] || continue
            wrk_rps+=("$a")
            nl_rps+=("$b")
            ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { if (a > 0) printf "%.3f", b / a; else print "null" }')")
            cpu+=("${res[$k/wrk/load_cpu_pct]}/${res[$k/nexload/load_cpu_pct]}%")
            scpu+=("${res[$k/wrk/server_cpu_pct]}/${res[$k/nexload/server_cpu_pct]}%")
        done
        k="$server/$workload"
        sum[$k/wrk]=$(nx_median "${wrk_rps[@]}")
        sum[$k/nexload]=$(nx_median "${nl_rps[@]}")
        sum[$k/ratio]=$(nx_median "${ratios[@]}")
        sum[$k/ratios]="${ratios[*]}"
        sum[$k/cpu]="${cpu[*]}"
        sum[$k/scpu]="${scpu[*]}"
    done
done

mkdir -p "$RESULTS_DIR"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
json="$RESULTS_DIR/nexload-$stamp.json"
{
    printf '{\n'
    nx_json_host_fields
    printf '  "wrk_version": %s,\n' "$(nx_json_str "$(wrk -v 2>&1 | head -n1 | awk '{print $2}')")"
    printf '  "duration_s": %s, "connections": %s, "pipeline": %s, "rounds": %s,\n' \
        "$DURATION" "$CONNECTIONS" "$PIPELINE" "$ROUNDS"
    printf '  "runs": ['
    sep=''
    for ((round = 1; round <= ROUNDS; round++)); do
        for server in "${servers[@]}"; do
            for workload in "${workloads[@]}"; do
                for tool in wrk nexload; do
                    key="$server/$workload/$round/$tool"
                    [[ -n ${res[$key/rps]:-} ]] || continue
                    printf '%s\n    {"round": %s, "server": "%s", "workload": "%s", "tool": "%s", ' \
                        "$sep" "$round" "$server" "$workload" "$tool"
                    printf '"rps": %s, "requests": %s, "errors": %s, "load_cpu_pct": %s, ' \
                        "${res[$key/rps]}" "${res[$key/requests]}" "${res[$key/errors]}" \
                        "${res[$key/load_cpu_pct]}"
                    printf '"server_cpu_pct": %s}' "${res[$key/server_cpu_pct]}"
                    sep=','
                done
            done
        done
    done
    printf '\n  ],\n  "summary": ['
    sep=''
    for server in "${servers[@]}"; do
        for workload in "${workloads[@]}"; do
            k="$server/$workload"
            printf '%s\n    {"server": "%s", "workload": "%s", "wrk_rps": %s, "nexload_rps": %s, ' \
                "$sep" "$server" "$workload" "${sum[$k/wrk]}" "${sum[$k/nexload]}"
            printf '"ratio": %s, "ratios": [%s]}' "${sum[$k/ratio]}" \
                "$(tr ' ' ',' <<<"${sum[$k/ratios]}")"
            sep=','
        done
    done
    printf '\n  ]\n}\n'
} >"$json"

printf '\n| server | workload | wrk req/s | nexload req/s | nexload / wrk (per-round) | load CPU wrk / nexload | server CPU wrk / nexload |\n'
printf '|---|---|---:|---:|---|---|---|\n'
for server in "${servers[@]}"; do
    for workload in "${workloads[@]}"; do
        k="$server/$workload"
        printf '| %s | %s | %s | %s | %s (%s) | %s | %s |\n' "$server" "$workload" \
            "${sum[$k/wrk]}" "${sum[$k/nexload]}" "${sum[$k/ratio]}" "${sum[$k/ratios]}" \
            "${sum[$k/cpu]}" "${sum[$k/scpu]}"
    done
done
printf '\nresults: %s\n' "${json#"$NX_ROOT"/}"
nx_exit_on_failures "${failures[@]}"
