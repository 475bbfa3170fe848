#!/usr/bin/env bash
# Measures nexure-server and a reference nginx side by side in one run, as BENCHMARKING.md
# describes: each server alone pinned to CPU 1 (one worker), wrk pinned to CPU 0, two workloads
# (plain keep-alive and pipelined), and for each: requests/s, server CPU µs per request (from
# /proc/PID/stat of all the server's processes) and wrk's own CPU use, to see when wrk was the
# limit. Prints a Markdown table and writes the figures to bench/results/bench-<UTC time>.json.
# Several nexure-server binaries (before/after a change, one per allocator: bench-malloc.sh) can be
# measured in the same rounds as nginx with NEXURE_VARIANTS.
#
# Environment:
#   DURATION=5         seconds per wrk run          CONNECTIONS=64   wrk connections
#   PIPELINE=16        requests per write (pipelined workload)
#   SERVERS="nexure nginx"   which servers, in this order
#   WARMUP=1           warm-up seconds before the measured runs of each server
#   RESULTS_DIR=bench/results   where the JSON goes
#   SKIP_BUILD=1       use the existing build/release binary instead of running build.sh
#   ROUNDS=1           rounds; each round measures every server once, in turn, so that a noisy
#                      machine affects them alike. Ratios are per round; the summary is the median.
#   NEXURE_SERVER=path use another nexure-server binary (the one SERVERS calls "nexure")
#   NEXURE_VARIANTS="LABEL=path ..."   more nexure-server binaries, whitespace-separated; each is
#                      run and measured like nexure under its LABEL (letters, digits, ._+-),
#                      which SERVERS then names. SERVERS defaults to "LABEL... nginx" then, and
#                      the report adds each one's ratios to nginx. Only "nexure" is built here;
#                      variants must exist. Their version is what `path --version` prints. E.g.
#                        NEXURE_VARIANTS="before=/work/build-before/bin/nexure-server
#                          after=build/release/bin/nexure-server" SERVERS="before after nginx"
#   RESULTS_PREFIX=bench   the JSON is RESULTS_DIR/RESULTS_PREFIX-<UTC time>.json
#
# Everything runs on 127.0.0.1 and every step is bounded in time; servers started here are
# stopped (SIGTERM, bounded wait, SIGKILL) on exit, also on Ctrl-C or error.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-64}
PIPELINE=${PIPELINE:-16}
WARMUP=${WARMUP:-1}
RESULTS_DIR=${RESULTS_DIR:-$NX_ROOT/bench/results}
SKIP_BUILD=${SKIP_BUILD:-0}
ROUNDS=${ROUNDS:-1}
RESULTS_PREFIX=${RESULTS_PREFIX:-bench}

nx_require_positive DURATION CONNECTIONS PIPELINE WARMUP ROUNDS
[[ $RESULTS_PREFIX =~ ^[A-Za-z0-9._-]+$ ]] ||
    nx_die "RESULTS_PREFIX must be letters, digits and ._- only, got '$RESULTS_PREFIX'"
nx_parse_variants
variants=$((${#NX_VARIANTS[@]} > 0))
if ((variants)); then
    SERVERS=${SERVERS:-${NX_VARIANTS[*]} nginx}
else
    SERVERS=${SERVERS:-nexure nginx}
fi
nx_parse_servers "${NX_VARIANTS[@]}"
nexure_servers=() # the servers that are nexure-server binaries (nexure, variants), in order
for server in "${servers[@]}"; do
    if [[ $server != nginx && " ${nexure_servers[*]} " != *" $server "* ]]; then
        nexure_servers+=("$server")
    fi
done

nx_install_traps

# --- build and tools --------------------------------------------------------------------------
if ((want_nexure)) && [[ $SKIP_BUILD != 1 ]]; then
    bash "$NX_SCRIPTS/build.sh" release
else
    bash "$NX_SCRIPTS/setup.sh"
fi
nx_require wrk curl pgrep timeout getconf
[[ -x /usr/bin/time ]] || nx_die "/usr/bin/time not found (Debian package 'time'; run scripts/setup.sh)"
if ((want_nexure)); then
    [[ -x $NX_SERVER_BIN ]] || nx_die "$NX_SERVER_BIN not found; build it with scripts/build.sh"
fi
declare -A nexure_version=() # per nexure server: the git commit for nexure, --version for variants
for server in "${nexure_servers[@]}"; do
    if [[ $server == nexure ]]; then
        nexure_version[$server]=$(git -C "$NX_ROOT" rev-parse --verify -q --short HEAD \
            2>/dev/null || printf 'unknown')
    else
        bin=$(nx_nexure_bin "$server")
        [[ -x $bin ]] || nx_die "$bin (NEXURE_VARIANTS' $server) not found or not executable"
        nexure_version[$server]=$(nx_nexure_version "$bin")
    fi
done
if [[ " ${servers[*]} " == *" nginx "* ]]; then
    nx_require nginx
fi

nx_setup_pinning
clk_tck=$(nx_clk_tck)
work=""
nx_tmpdir work
wrk_limit=$((DURATION + 30))
nx_log "$NX_PIN_NOTE"
nx_log "wrk -t1 -c$CONNECTIONS -d${DURATION}s; pipelined depth $PIPELINE; CLK_TCK $clk_tck"

# --- servers ------------------------------------------------------------------------------------
# start_nexure SERVER, start_nginx: start the server (pinned) and set server_pid, server_port,
# server_version and server_binary. SERVER is nexure or a NEXURE_VARIANTS label.

start_nexure() {
    server_binary=$(nx_nexure_bin "$1")
    nx_start_server server_pid server_port "$work/$1" 20 \
        "${NX_PIN_SERVER[@]}" "$server_binary" --host 127.0.0.1 --port 0 --threads 1 || return 1
    nx_wait_port "$server_port" 10 "$server_pid" || return 1
    server_version=${nexure_version[$1]}
}

start_nginx() {
    server_binary=$(command -v nginx)
    server_port=$(nx_free_port)
    nx_start_nginx server_pid "$work/nginx" "$server_port" 10 "${NX_PIN_SERVER[@]}" || return 1
    server_version=$(nx_nginx_version)
}

# --- measurements -------------------------------------------------------------------------------
rows=()                # "server workload" in run order
declare -A res=()      # res[server/workload/field]
failures=()

# measure SERVER WORKLOAD WRK-ARGS...: one measured wrk run against the running server.
measure() {
    local server=$1 workload=$2
    shift 2
    rows+=("$server $workload $round")
    nx_measure_wrk "$server/$workload/$round" "$server_pid" "$work/$server-$workload" \
        "$wrk_limit" -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$@"
}

for ((round = 1; round <= ROUNDS; round++)); do
for server in "${servers[@]}"; do
    nx_log "round $round/$ROUNDS: starting $server"
    server_pid="" server_port="" server_version="" server_binary=""
    started=1
    if [[ $server == nginx ]]; then
        start_nginx || started=0
    else
        start_nexure "$server" || started=0
    fi
    if ((!started)); then
        failures+=("$server: did not start")
        [[ -z $server_pid ]] || nx_stop_pid "$server_pid" 5
        continue
    fi
    res[$server/version]=$server_version
    res[$server/binary]=$server_binary
    url="http://127.0.0.1:$server_port/plaintext"
    body=$(curl -s --max-time 5 "$url" || true)
    if [[ $body != "Hello, World!" ]]; then
        nx_warn "$server answered GET /plaintext with '$body' instead of 'Hello, World!'"
        failures+=("$server: wrong /plaintext body")
    fi
    nx_log "$server (pid $server_pid) on port $server_port: warming up ${WARMUP}s"
    nx_run_wrk "$work/$server-warmup.wrk" "$work/$server-warmup.time" "$((WARMUP + 30))" \
        -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "$url" || nx_warn "warm-up wrk run failed"
    measure "$server" plain "$url"
    measure "$server" pipelined -s "$NX_PIPELINE_LUA" "$url" -- "$PIPELINE"
    nx_stop_pid "$server_pid" 10
    res[$server/exit_status]=$NX_STOP_STATUS
    if ((NX_STOP_STATUS != 0)); then
        nx_warn "$server exited with status $NX_STOP_STATUS after SIGTERM"
        failures+=("$server: exit status $NX_STOP_STATUS after SIGTERM")
    fi
done
done

# --- report -------------------------------------------------------------------------------------
# ratio NUM_KEY DEN_KEY: prints NUM/DEN with 3 decimals, or "null".
ratio() { nx_ratio "${res[$1]:-null}" "${res[$2]:-null}"; }

printf '\n'
printf 'Pinning: %s. wrk -t1 -c%s -d%ss, pipelined depth %s.\n\n' \
    "$NX_PIN_NOTE" "$CONNECTIONS" "$DURATION" "$PIPELINE"
if ((variants)); then
    printf 'nexure-server binaries:\n\n'
    for server in "${nexure_servers[@]}"; do
        printf -- '- %s: %s (%s)\n' "$server" "$(nx_nexure_bin "$server")" \
            "${nexure_version[$server]}"
    done
    printf '\n'
fi
printf '| server | workload | req/s | µs CPU/req | server CPU %% | wrk CPU %% | errors |\n'
printf '|--------|----------|------:|-----------:|-------------:|----------:|--------|\n'
for row in "${rows[@]}"; do
    read -r server workload round <<<"$row"
    key="$server/$workload/$round"
    wrk_cell=${res[$key/wrk_cpu_pct]}
    if nx_wrk_bound "$wrk_cell"; then wrk_cell="$wrk_cell (wrk-bound)"; fi
    label="$server ${res[$server/version]}"
    # A variant's version is long; the list above the table gives it.
    if [[ ${res[$server/version]} == unknown ]] || nx_is_variant "$server"; then label=$server; fi
    ((ROUNDS == 1)) || label="$label (round $round)"
    printf '| %s | %s | %.0f | %s | %s | %s | %s |\n' "$label" \
        "$workload" "${res[$key/rps]}" "${res[$key/us_per_req]}" "${res[$key/server_cpu_pct]}" \
        "$wrk_cell" "${res[$key/errors_text]}"
done

if ((ROUNDS > 1)); then
    printf '\nMedians over %s rounds:\n\n' "$ROUNDS"
    printf '| server | workload | req/s | µs CPU/req |\n|--------|----------|------:|-----------:|\n'
    for server in "${servers[@]}"; do
        for workload in plain pipelined; do
            rps=() cpu=()
            for ((round = 1; round <= ROUNDS; round++)); do
                rps+=("${res[$server/$workload/$round/rps]:-null}")
                cpu+=("${res[$server/$workload/$round/us_per_req]:-null}")
            done
            printf '| %s | %s | %.0f | %s |\n' "$server" "$workload" "$(nx_median3 "${rps[@]}")" \
                "$(nx_median3 "${cpu[@]}")"
        done
    done
fi
# ratios_over_nginx SERVER: sets rps_ratios and cpu_ratios (per round) and rps_ratio and cpu_ratio
# (their medians): SERVER's pipelined req/s and plain µs CPU/req over nginx's in the same round.
ratios_over_nginx() {
    rps_ratios=() cpu_ratios=()
    for ((round = 1; round <= ROUNDS; round++)); do
        rps_ratios+=("$(ratio "$1/pipelined/$round/rps" "nginx/pipelined/$round/rps")")
        cpu_ratios+=("$(ratio "$1/plain/$round/us_per_req" "nginx/plain/$round/us_per_req")")
    done
    rps_ratio=$(nx_median3 "${rps_ratios[@]}")
    cpu_ratio=$(nx_median3 "${cpu_ratios[@]}")
}
# ratios_json: the ratios_over_nginx figures as a JSON object.
ratios_json() {
    printf '{"pipelined_req_per_sec": %s, "plain_cpu_us_per_req": %s, ' "$rps_ratio" "$cpu_ratio"
    printf '"pipelined_req_per_sec_per_round": [%s], ' "$(IFS=,; echo "${rps_ratios[*]}")"
    printf '"plain_cpu_us_per_req_per_round": [%s]}' "$(IFS=,; echo "${cpu_ratios[*]}")"
}

declare -A variant_ratios_json=() # variants: the ratios of each nexure server, as JSON
if ((variants)); then
    if [[ " ${servers[*]} " == *" nginx "* ]] && ((${#nexure_servers[@]} > 0)); then
        printf '\nRatios to nginx in the same round (pipelined req/s: higher is better; plain µs'
        printf ' CPU/req:\nlower is better)'
        ((ROUNDS == 1)) || printf ', medians over %s rounds' "$ROUNDS"
        printf ':\n\n| server | pipelined req/s | plain µs CPU/req |'
        ((ROUNDS == 1)) || printf ' pipelined req/s per round | plain µs CPU/req per round |'
        printf '\n|--------|----------------:|-----------------:|'
        ((ROUNDS == 1)) || printf -- '---------------------------|----------------------------|'
        printf '\n'
    fi
    for server in "${nexure_servers[@]}"; do
        ratios_over_nginx "$server"
        variant_ratios_json[$server]=$(ratios_json)
        [[ " ${servers[*]} " == *" nginx "* ]] || continue
        printf '| %s/nginx | %s | %s |' "$server" "$rps_ratio" "$cpu_ratio"
        if ((ROUNDS > 1)); then
            printf ' %s | %s |' "${rps_ratios[*]}" "${cpu_ratios[*]}"
        fi
        printf '\n'
    done
else
    ratios_over_nginx nexure
    if [[ $rps_ratio != null || $cpu_ratio != null ]]; then
        if ((ROUNDS > 1)); then
            printf '\nPer round, nexure/nginx pipelined req/s: %s\n' "${rps_ratios[*]}"
            printf 'Per round, nexure/nginx plain µs CPU/req: %s\n' "${cpu_ratios[*]}"
            printf 'Medians over %s rounds:\n' "$ROUNDS"
        fi
        printf '\nnexure/nginx, pipelined req/s:   %s (higher is better)\n' "$rps_ratio"
        printf 'nexure/nginx, plain µs CPU/req:  %s (lower is better)\n' "$cpu_ratio"
    fi
fi
for row in "${rows[@]}"; do
    read -r server workload round <<<"$row"
    if nx_wrk_bound "${res[$server/$workload/$round/wrk_cpu_pct]}"; then
        printf '\nNote: wrk used more than 90%% of a core in at least one run, so req/s there shows'
        printf ' the load\ngenerator'\''s limit; compare µs CPU/req instead.\n'
        break
    fi
done

# --- JSON -------------------------------------------------------------------------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)

mkdir -p "$RESULTS_DIR"
json="$RESULTS_DIR/$RESULTS_PREFIX-$stamp.json"
{
    printf '{\n'
    nx_json_host_fields
    nx_json_wrk_setup_fields "$NX_PIN_NOTE"
    printf '  "results": ['
    sep=''
    for row in "${rows[@]}"; do
        read -r server workload round <<<"$row"
        key="$server/$workload/$round"
        printf '%s\n    {"server": %s, "version": %s, "binary": %s, "workload": %s, ' "$sep" \
            "$(nx_json_str "$server")" "$(nx_json_str "${res[$server/version]}")" \
            "$(nx_json_str "${res[$server/binary]}")" "$(nx_json_str "$workload")"
        printf '"round": %s, %s}' "$round" "$(nx_json_wrk_fields "$key")"
        sep=','
    done
    printf '\n  ],\n'
    if ((variants)); then
        # The binaries and versions again, for variants that did not start (they have no rows).
        printf '  "nexure_servers": {'
        sep=''
        for server in "${nexure_servers[@]}"; do
            printf '%s\n    %s: {"binary": %s, "version": %s}' "$sep" "$(nx_json_str "$server")" \
                "$(nx_json_str "$(nx_nexure_bin "$server")")" \
                "$(nx_json_str "${nexure_version[$server]}")"
            sep=','
        done
        printf '\n  },\n  "ratios_over_nginx": {'
        sep=''
        for server in "${nexure_servers[@]}"; do
            printf '%s\n    %s: %s' "$sep" "$(nx_json_str "$server")" \
                "${variant_ratios_json[$server]}"
            sep=','
        done
        printf '\n  },\n'
    else
        printf '  "ratios_nexure_over_nginx": %s,\n' "$(ratios_json)"
    fi
    printf '  "failures": %s\n}\n' "$(nx_json_strings "${failures[@]}")"
} >"$json"
printf '\nResults written to %s\n' "${json#"$NX_ROOT"/}"

nx_exit_on_failures "${failures[@]}"
