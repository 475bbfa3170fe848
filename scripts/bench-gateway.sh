#!/usr/bin/env bash
# The API gateway (examples/cpp/gateway.cc, nexure-example-gateway) against nginx's own proxy_pass,
# both forwarding to the same upstream over kept-alive connections (issue 17): requests per second
# and the proxy's CPU µs per proxied request, measured in the same rounds. The goal is at most
# 0.5× nginx's CPU per proxied request.
#
# Layout, all on 127.0.0.1 (BENCHMARKING.md's pinning, with one more process on the load core):
#   CPU 0: wrk, and the upstream: one nginx worker (bench/nginx/upstream.conf.in) answering every
#          /api/ request with {"id":42,"name":"widget"}. Started once, shared by both proxies.
#   CPU 1: the proxy under test, alone, one worker:
#          gateway  nexure-example-gateway --threads 1 --upstream 127.0.0.1:<upstream port>
#          nginx    nginx, worker_processes 1, proxy_pass to an `upstream` block with
#                   `keepalive 256` (bench/nginx/proxy.conf.in)
# Each round starts each proxy in turn (the order alternates between rounds, so that neither always
# runs first), checks that GET /api/items/42 through it returns the upstream's status, type and
# body (curl), warms it up for WARMUP s, runs wrk twice against that path — plain keep-alive
# (-t1 -cCONNECTIONS) and pipelined (PIPELINE requests per write, bench/wrk/pipeline.lua) — and
# stops it. Per run: req/s, the proxy's CPU µs per request (utime+stime of its processes from
# /proc/PID/stat, before and after, over wrk's response count), the proxy's, the upstream's and
# wrk's CPU %, wrk's errors, and the CPU time of everything else on the machine ("other load",
# from /proc/stat). A run with any wrk error (socket errors, non-2xx answers) is not a valid
# figure: it is reported, left out of the medians and ratios, and the script exits 1.
# Summary: medians over ROUNDS of req/s and µs CPU/req per proxy and workload, and the medians of
# the per-round ratios gateway/nginx. Prints Markdown tables; writes
# RESULTS_DIR/gateway-<UTC time>.json.
#
# Environment:
#   DURATION=5         seconds per wrk run          CONNECTIONS=64   wrk connections
#   PIPELINE=16        requests per write (pipelined workload)
#   ROUNDS=3           rounds; each measures both proxies once
#   WARMUP=1           warm-up seconds before each proxy's measured runs
#   RESULTS_DIR=bench/results   where the JSON goes
#   SKIP_BUILD=1       use the existing build/release gateway instead of building it
#   NEXURE_GATEWAY=path   another nexure-example-gateway binary
#
# Every step is bounded in time; the processes started here are stopped by PID (SIGTERM, bounded
# wait, SIGKILL) on exit, also on Ctrl-C or error.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-64}
PIPELINE=${PIPELINE:-16}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-1}
RESULTS_DIR=${RESULTS_DIR:-$NX_ROOT/bench/results}
SKIP_BUILD=${SKIP_BUILD:-0}
GATEWAY_BIN=${NEXURE_GATEWAY:-$NX_ROOT/build/release/bin/nexure-example-gateway}
REQUEST_PATH=/api/items/42
GOAL_CPU_RATIO=0.5
PROXIES=(gateway nginx)
WORKLOADS=(plain pipelined)

nx_require_positive DURATION CONNECTIONS PIPELINE ROUNDS WARMUP

nx_install_traps

# --- build and tools --------------------------------------------------------------------------
if [[ $SKIP_BUILD != 1 && -z ${NEXURE_GATEWAY:-} ]]; then
    nx_log "building nexure-example-gateway (release preset)"
    nx_build_release "$NX_ROOT/build/release" 1800 nexure-example-gateway ||
        nx_die "building nexure-example-gateway failed"
fi
nx_require wrk curl nginx pgrep timeout getconf awk
[[ -x /usr/bin/time ]] || nx_die "/usr/bin/time not found (Debian package 'time'; run scripts/setup.sh)"
[[ -x $GATEWAY_BIN ]] || nx_die "$GATEWAY_BIN not found; build it with" \
    "'cmake --build --preset release --target nexure-example-gateway'"

nx_setup_pinning
if ((NX_PINNED)); then
    pin_note="the proxy under test pinned to CPU 1 (alone); wrk and the upstream nginx pinned to"
    pin_note+=" CPU 0 (shared)"
else
    pin_note=$NX_PIN_NOTE
fi
clk_tck=$(nx_clk_tck)
work=""
nx_tmpdir work
wrk_limit=$((DURATION + 30))
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
nx_log "$pin_note"
nx_log "wrk -t1 -c$CONNECTIONS -d${DURATION}s GET $REQUEST_PATH; pipelined depth $PIPELINE;" \
    "$ROUNDS round(s); load average $load_at_start"

declare -A res=() # res[proxy/workload/round/field], as nx_measure_wrk fills it, and more
failures=()
rows=() # "proxy workload round" in run order

# --- the upstream ------------------------------------------------------------------------------
upstream_port=$(nx_free_port)
upstream_pid=""
nx_nginx_conf "$NX_ROOT/bench/nginx/upstream.conf.in" "$work/upstream" "$upstream_port"
nx_run_nginx upstream_pid "$work/upstream" "$upstream_port" 10 "${NX_PIN_LOAD[@]}" ||
    nx_die "the upstream nginx did not start"
mapfile -t upstream_pids < <(nx_proc_tree "$upstream_pid")

# fetch URL: GETs URL (bounded) into $work/fetch.body and prints "STATUS CONTENT-TYPE".
fetch() {
    curl -s --max-time 5 -o "$work/fetch.body" -w '%{http_code} %{content_type}' "$1" || true
}

expected_head=$(fetch "http://127.0.0.1:$upstream_port$REQUEST_PATH")
expected_body=$(cat "$work/fetch.body" 2>/dev/null || true)
[[ $expected_head == "200 application/json" && -n $expected_body ]] ||
    nx_die "the upstream answered GET $REQUEST_PATH with '$expected_head' '$expected_body'"
nx_log "upstream (pid $upstream_pid) on port $upstream_port answers $expected_body"

# --- the proxies -------------------------------------------------------------------------------
# start_PROXY: starts the proxy pinned to CPU 1 on a free port and sets proxy_pid and proxy_port.

start_gateway() {
    proxy_port=$(nx_free_port)
    nx_spawn proxy_pid "$work/gateway-$round.out" "$work/gateway-$round.err" \
        "${NX_PIN_SERVER[@]}" "$GATEWAY_BIN" --upstream "127.0.0.1:$upstream_port" \
        --port "$proxy_port" --threads 1
    if ! nx_wait_port "$proxy_port" 10 "$proxy_pid"; then
        cat "$work/gateway-$round.out" "$work/gateway-$round.err" >&2
        return 1
    fi
}

start_nginx() {
    proxy_port=$(nx_free_port)
    nx_nginx_conf "$NX_ROOT/bench/nginx/proxy.conf.in" "$work/proxy-$round" "$proxy_port" \
        "UPSTREAM_PORT=$upstream_port"
    nx_run_nginx proxy_pid "$work/proxy-$round" "$proxy_port" 10 "${NX_PIN_SERVER[@]}"
}

# measure PROXY WORKLOAD WRK-ARGS...: one measured wrk run through the running proxy; adds the
# upstream's CPU time and the rest of the machine's to nx_measure_wrk's figures, and marks the
# run valid when wrk ran to its end without any error.
measure() {
    local proxy=$1 workload=$2
    shift 2
    local key="$proxy/$workload/$round" up0 up1 stat0 stat1 rc=0
    rows+=("$proxy $workload $round")
    up0=$(nx_cpu_ticks_sum "${upstream_pids[@]}")
    stat0=$(nx_proc_stat_cpu)
    local nfail=${#failures[@]}
    nx_measure_wrk "$key" "$proxy_pid" "$work/$proxy-$workload-$round" "$wrk_limit" \
        -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$@" || rc=$?
    stat1=$(nx_proc_stat_cpu)
    up1=$(nx_cpu_ticks_sum "${upstream_pids[@]}")
    local up=$((up1 - up0)) wrk_ticks wall_us
    wall_us=$(awk -v s="${res[$key/wall_s]}" 'BEGIN { printf "%d", s * 1e6 }')
    wrk_ticks=$(tail -n 1 "$work/$proxy-$workload-$round.time" |
        awk -v hz="$clk_tck" '{ printf "%d", ($1 + $2) * hz }')
    res[$key/upstream_ticks]=$up
    res[$key/upstream_us_per_req]=$(nx_cpu_us_per_req "$up" "${res[$key/requests]}")
    res[$key/upstream_cpu_pct]=$(nx_cpu_percent "$up" "$wall_us")
    read -r "res[$key/other_pct]" "res[$key/steal_pct]" < <(nx_other_load "$stat0" "$stat1" \
        "$((res[$key/ticks] + up + wrk_ticks))" "$wall_us")
    res[$key/valid]=true
    if ((rc != 0 || ${#failures[@]} > nfail || NX_WRK_REQUESTS == 0)); then
        res[$key/valid]=false
        ((${#failures[@]} > nfail)) || failures+=("$key: wrk counted no responses")
    elif ((NX_WRK_SOCK_ERRORS + NX_WRK_NON2XX > 0)); then
        res[$key/valid]=false
        failures+=("$key: wrk saw errors (${res[$key/errors_text]}): not a valid figure")
    fi
    nx_log "$key: upstream CPU ${res[$key/upstream_cpu_pct]}%, other load" \
        "${res[$key/other_pct]}% of a core, steal ${res[$key/steal_pct]}%"
}

for ((round = 1; round <= ROUNDS; round++)); do
    order=("${PROXIES[@]}")
    ((round % 2 == 1)) || order=("${PROXIES[1]}" "${PROXIES[0]}")
    for proxy in "${order[@]}"; do
        nx_log "round $round/$ROUNDS: starting $proxy"
        proxy_pid="" proxy_port=""
        if ! "start_$proxy"; then
            failures+=("$proxy/$round: did not start")
            [[ -z $proxy_pid ]] || nx_stop_pid "$proxy_pid" 5
            continue
        fi
        url="http://127.0.0.1:$proxy_port$REQUEST_PATH"
        head=$(fetch "$url")
        body=$(cat "$work/fetch.body" 2>/dev/null || true)
        if [[ $head != "$expected_head" || $body != "$expected_body" ]]; then
            nx_warn "$proxy answered GET $REQUEST_PATH with '$head' '$body' instead of" \
                "'$expected_head' '$expected_body'"
            failures+=("$proxy/$round: wrong answer to GET $REQUEST_PATH: '$head' '$body'")
            nx_stop_pid "$proxy_pid" 10
            continue
        fi
        nx_log "$proxy (pid $proxy_pid) on port $proxy_port answers the upstream's body;" \
            "warming up ${WARMUP}s"
        nx_run_wrk "$work/$proxy-warmup.wrk" "$work/$proxy-warmup.time" "$((WARMUP + 30))" \
            -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "$url" || nx_warn "warm-up wrk run failed"
        measure "$proxy" plain "$url"
        measure "$proxy" pipelined -s "$NX_PIPELINE_LUA" "$url" -- "$PIPELINE"
        nx_stop_pid "$proxy_pid" 10
        if ((NX_STOP_STATUS != 0)); then
            nx_warn "$proxy exited with status $NX_STOP_STATUS after SIGTERM"
            failures+=("$proxy/$round: exit status $NX_STOP_STATUS after SIGTERM")
        fi
        if [[ $proxy == gateway ]]; then
            n=$(grep -c '^gateway: ' "$work/gateway-$round.err" || true)
            if ((n > 0)); then
                nx_warn "the gateway logged $n failed upstream call(s) in round $round, e.g.:"
                grep -m3 '^gateway: ' "$work/gateway-$round.err" >&2 || true
                failures+=("gateway/$round: $n failed upstream call(s) logged")
            fi
        fi
    done
done
if ! nx_pid_alive "$upstream_pid"; then
    failures+=("the upstream nginx died during the run")
fi
nx_stop_pid "$upstream_pid" 10

# --- report -------------------------------------------------------------------------------------
# field_values PROXY WORKLOAD FIELD: the FIELD of every round's run, "null" for a missing or
# invalid run (so medians and ratios leave it out).
field_values() {
    local r key
    for ((r = 1; r <= ROUNDS; r++)); do
        key="$1/$2/$r"
        if [[ ${res[$key/valid]:-false} == true ]]; then
            printf '%s\n' "${res[$key/$3]}"
        else
            printf 'null\n'
        fi
    done
}

declare -A med=() ratio_med=() ratio_rounds=()
for proxy in "${PROXIES[@]}"; do
    for workload in "${WORKLOADS[@]}"; do
        for field in rps us_per_req upstream_us_per_req; do
            mapfile -t vals < <(field_values "$proxy" "$workload" "$field")
            med[$proxy/$workload/$field]=$(nx_median3 "${vals[@]}")
        done
    done
done
for workload in "${WORKLOADS[@]}"; do
    for field in rps us_per_req; do
        mapfile -t g < <(field_values gateway "$workload" "$field")
        mapfile -t n < <(field_values nginx "$workload" "$field")
        per_round=()
        for ((r = 0; r < ROUNDS; r++)); do
            per_round+=("$(nx_ratio "${g[r]}" "${n[r]}")")
        done
        ratio_rounds[$workload/$field]="${per_round[*]}"
        ratio_med[$workload/$field]=$(nx_median3 "${per_round[@]}")
    done
done

nginx_version=$(nx_nginx_version)
printf '\n'
printf 'Pinning: %s. wrk -t1 -c%s -d%ss GET %s, pipelined depth %s; upstream nginx %s answers %s.\n\n' \
    "$pin_note" "$CONNECTIONS" "$DURATION" "$REQUEST_PATH" "$PIPELINE" "$nginx_version" \
    "$expected_body"
printf '| proxy | workload | round | req/s | proxy µs CPU/req | proxy CPU %% | upstream CPU %% | wrk CPU %% | other load %% | errors |\n'
printf '|-------|----------|------:|------:|-----------------:|------------:|---------------:|----------:|-------------:|--------|\n'
for row in "${rows[@]}"; do
    read -r proxy workload round <<<"$row"
    key="$proxy/$workload/$round"
    errors=${res[$key/errors_text]}
    [[ ${res[$key/valid]} == true ]] || errors="$errors (not valid)"
    printf '| %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s |\n' "$proxy" "$workload" \
        "$round" "${res[$key/rps]}" "${res[$key/us_per_req]}" "${res[$key/server_cpu_pct]}" \
        "${res[$key/upstream_cpu_pct]}" "${res[$key/wrk_cpu_pct]}" "${res[$key/other_pct]}" \
        "$errors"
done
for row in "${rows[@]}"; do
    read -r proxy workload round <<<"$row"
    other=${res[$proxy/$workload/$round/other_pct]}
    if awk -v p="$other" 'BEGIN { exit !(p != "null" && p > 10) }'; then
        printf '\nNote: "other load" above 10%% of a core means that other work shared the machine'
        printf ' during that run;\nits figures are less reliable (the medians soften one such run).\n'
        break
    fi
done

printf '\nMedians over %s round(s) (valid runs only):\n\n' "$ROUNDS"
printf '| proxy | workload | req/s | proxy µs CPU/req | upstream µs CPU/req |\n'
printf '|-------|----------|------:|-----------------:|--------------------:|\n'
for proxy in "${PROXIES[@]}"; do
    for workload in "${WORKLOADS[@]}"; do
        rps=${med[$proxy/$workload/rps]}
        [[ $rps == null ]] || rps=$(printf '%.0f' "$rps")
        printf '| %s | %s | %s | %s | %s |\n' "$proxy" "$workload" "$rps" \
            "${med[$proxy/$workload/us_per_req]}" "${med[$proxy/$workload/upstream_us_per_req]}"
    done
done

printf '\ngateway/nginx in the same round (medians of the per-round ratios; goal: µs CPU/req <= %s):\n\n' \
    "$GOAL_CPU_RATIO"
printf '| workload | req/s ratio | µs CPU/req ratio | per round (req/s; CPU) | goal |\n'
printf '|----------|------------:|-----------------:|------------------------|------|\n'
declare -A goal_met=()
for workload in "${WORKLOADS[@]}"; do
    cpu=${ratio_med[$workload/us_per_req]}
    if [[ $cpu == null ]]; then
        goal_met[$workload]=null
    elif awk -v r="$cpu" -v g="$GOAL_CPU_RATIO" 'BEGIN { exit !(r <= g) }'; then
        goal_met[$workload]=true
    else
        goal_met[$workload]=false
    fi
    case ${goal_met[$workload]} in
        true) verdict=met ;;
        false) verdict="not met" ;;
        *) verdict="no figure" ;;
    esac
    printf '| %s | %s | %s | %s; %s | %s |\n' "$workload" "${ratio_med[$workload/rps]}" "$cpu" \
        "${ratio_rounds[$workload/rps]}" "${ratio_rounds[$workload/us_per_req]}" "$verdict"
done
for row in "${rows[@]}"; do
    read -r proxy workload round <<<"$row"
    if nx_wrk_bound "${res[$proxy/$workload/$round/wrk_cpu_pct]}"; then
        printf '\nNote: wrk used more than 90%% of CPU 0 in at least one run (CPU 0 also runs the'
        printf ' upstream), so req/s\nthere shows the load side'\''s limit; compare µs CPU/req.\n'
        break
    fi
done

# --- JSON -------------------------------------------------------------------------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RESULTS_DIR"
json="$RESULTS_DIR/gateway-$stamp.json"
# json_num_list "A B C": a JSON array of numbers/nulls from a space-separated list.
json_num_list() { printf '[%s]' "$(tr ' ' ',' <<<"$1")"; }
{
    printf '{\n'
    nx_json_host_fields
    nx_json_wrk_setup_fields "$pin_note"
    printf '  "warmup_s": %s,\n' "$WARMUP"
    printf '  "nginx_version": %s,\n' "$(nx_json_str "$nginx_version")"
    printf '  "gateway_binary": %s,\n' "$(nx_json_str "$GATEWAY_BIN")"
    printf '  "load_average_at_start": %s,\n' "$(nx_json_str "$load_at_start")"
    printf '  "request": %s,\n' "$(nx_json_str "GET $REQUEST_PATH")"
    printf '  "upstream_body": %s,\n' "$(nx_json_str "$expected_body")"
    note="server_* fields are the proxy under test's; upstream_* the upstream nginx's (on CPU 0"
    note+=" with wrk); other_load_percent is the rest of the machine's CPU time during the run, in"
    note+=" % of one core"
    printf '  "note": %s,\n' "$(nx_json_str "$note")"
    printf '  "results": ['
    sep=''
    for row in "${rows[@]}"; do
        read -r proxy workload round <<<"$row"
        key="$proxy/$workload/$round"
        printf '%s\n    {"proxy": %s, "workload": %s, "round": %s, "valid": %s, %s, ' "$sep" \
            "$(nx_json_str "$proxy")" "$(nx_json_str "$workload")" "$round" \
            "${res[$key/valid]}" "$(nx_json_wrk_fields "$key")"
        printf '"upstream_cpu_ticks": %s, "upstream_cpu_us_per_req": %s, ' \
            "${res[$key/upstream_ticks]}" "${res[$key/upstream_us_per_req]}"
        printf '"upstream_cpu_percent": %s, "other_load_percent": %s, "steal_percent": %s}' \
            "${res[$key/upstream_cpu_pct]}" "${res[$key/other_pct]}" "${res[$key/steal_pct]}"
        sep=','
    done
    printf '\n  ],\n  "medians": {'
    sep=''
    for proxy in "${PROXIES[@]}"; do
        printf '%s\n    %s: {' "$sep" "$(nx_json_str "$proxy")"
        wsep=''
        for workload in "${WORKLOADS[@]}"; do
            printf '%s%s: {"req_per_sec": %s, "server_cpu_us_per_req": %s, "upstream_cpu_us_per_req": %s}' \
                "$wsep" "$(nx_json_str "$workload")" "${med[$proxy/$workload/rps]}" \
                "${med[$proxy/$workload/us_per_req]}" "${med[$proxy/$workload/upstream_us_per_req]}"
            wsep=', '
        done
        printf '}'
        sep=','
    done
    printf '\n  },\n  "ratios_gateway_over_nginx": {'
    sep=''
    for workload in "${WORKLOADS[@]}"; do
        printf '%s\n    %s: {"req_per_sec": %s, "cpu_us_per_req": %s, ' "$sep" \
            "$(nx_json_str "$workload")" "${ratio_med[$workload/rps]}" \
            "${ratio_med[$workload/us_per_req]}"
        printf '"req_per_sec_per_round": %s, "cpu_us_per_req_per_round": %s, "goal_met": %s}' \
            "$(json_num_list "${ratio_rounds[$workload/rps]}")" \
            "$(json_num_list "${ratio_rounds[$workload/us_per_req]}")" "${goal_met[$workload]}"
        sep=','
    done
    printf '\n  },\n  "goal_cpu_ratio": %s,\n' "$GOAL_CPU_RATIO"
    printf '  "failures": %s\n}\n' "$(nx_json_strings "${failures[@]}")"
} >"$json"
printf '\nResults written to %s\n' "${json#"$NX_ROOT"/}"

nx_exit_on_failures "${failures[@]}"
