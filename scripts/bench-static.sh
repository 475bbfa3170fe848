#!/usr/bin/env bash
# Static files: `nexure-server --static DIR` (net/files/, read + send on the worker's io_uring ring)
# against nginx serving the same directory with sendfile on (bench/nginx/static.conf.in), for files
# of 1 KiB, 1 MiB and 100 MiB (issue 18): requests/s, the server's CPU µs per request and GB/s of
# body, measured in the same rounds, same core rules as BENCHMARKING.md (server alone on CPU 1, one
# worker; wrk on CPU 0).
#
# Each round starts each server in turn (the order alternates between rounds), checks that every
# file comes back whole (curl, byte count), then runs wrk once per file size: -t1 with
# CONNECTIONS_1K / CONNECTIONS_1M / CONNECTIONS_100M connections for DURATION seconds (plain
# keep-alive GETs; a 100 MiB answer takes tens of milliseconds, so fewer connections). GB/s is
# req/s × the file's size. A run with any wrk error is not a valid figure: reported, left out of
# the medians and ratios, and the script exits 1.
# Prints Markdown tables; writes RESULTS_DIR/static-<UTC time>.json.
#
# Environment:
#   DURATION=3   seconds per wrk run     ROUNDS=2   rounds (each measures both servers)
#   CONNECTIONS_1K=64  CONNECTIONS_1M=16  CONNECTIONS_100M=4
#   RESULTS_DIR=bench/results   SKIP_BUILD=1 (use build/release's nexure-server as it is)
#   NEXURE_SERVER=path          another nexure-server binary
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-2}
CONNECTIONS_1K=${CONNECTIONS_1K:-64}
CONNECTIONS_1M=${CONNECTIONS_1M:-16}
CONNECTIONS_100M=${CONNECTIONS_100M:-4}
RESULTS_DIR=${RESULTS_DIR:-$NX_ROOT/bench/results}
SKIP_BUILD=${SKIP_BUILD:-0}
SERVER_BIN=${NEXURE_SERVER:-$NX_ROOT/build/release/bin/nexure-server}
SERVERS=(nexure nginx)
SIZES=(1k 1m 100m)
declare -A BYTES=([1k]=1024 [1m]=1048576 [100m]=104857600)
declare -A CONNS=([1k]=$CONNECTIONS_1K [1m]=$CONNECTIONS_1M [100m]=$CONNECTIONS_100M)
# For nx_json_wrk_setup_fields: null, the connections differ per size (each result has its own).
CONNECTIONS=null
PIPELINE=1

nx_require_positive DURATION ROUNDS CONNECTIONS_1K CONNECTIONS_1M CONNECTIONS_100M
nx_install_traps

if [[ $SKIP_BUILD != 1 && -z ${NEXURE_SERVER:-} ]]; then
    nx_log "building nexure-server (release preset)"
    nx_build_release "$NX_ROOT/build/release" 1800 nexure-server || nx_die "building nexure-server failed"
fi
nx_require wrk curl nginx pgrep timeout getconf awk head
[[ -x /usr/bin/time ]] || nx_die "/usr/bin/time not found (Debian package 'time'; run scripts/setup.sh)"
[[ -x $SERVER_BIN ]] || nx_die "$SERVER_BIN not found; build it with" \
    "'cmake --build --preset release --target nexure-server'"

nx_setup_pinning
pin_note=$NX_PIN_NOTE
work=""
nx_tmpdir work
root="$work/files"
mkdir -p "$root"
for size in "${SIZES[@]}"; do
    head -c "${BYTES[$size]}" /dev/urandom >"$root/$size.bin"
done
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
nx_log "$pin_note; wrk -t1 -d${DURATION}s; $ROUNDS round(s); load average $load_at_start"

declare -A res=()
failures=()
rows=()

start_nexure() {
    port=$(nx_free_port)
    nx_spawn pid "$work/nexure-$round.out" "$work/nexure-$round.err" "${NX_PIN_SERVER[@]}" \
        "$SERVER_BIN" --port "$port" --threads 1 --static "$root"
    if ! nx_wait_port "$port" 10 "$pid"; then
        cat "$work/nexure-$round.out" "$work/nexure-$round.err" >&2
        return 1
    fi
}

start_nginx() {
    port=$(nx_free_port)
    nx_nginx_conf "$NX_ROOT/bench/nginx/static.conf.in" "$work/nginx-$round" "$port" "ROOT=$root"
    nx_run_nginx pid "$work/nginx-$round" "$port" 10 "${NX_PIN_SERVER[@]}"
}

# check URL BYTES: the file comes back whole, with status 200.
check() {
    local got
    got=$(curl -s --max-time 20 -o /dev/null -w '%{http_code} %{size_download}' "$1" || true)
    [[ $got == "200 $2" ]] || {
        nx_warn "GET $1 answered '$got' instead of '200 $2'"
        return 1
    }
}

wrk_limit=$((DURATION + 60))
for ((round = 1; round <= ROUNDS; round++)); do
    order=("${SERVERS[@]}")
    ((round % 2 == 1)) || order=("${SERVERS[1]}" "${SERVERS[0]}")
    for server in "${order[@]}"; do
        nx_log "round $round/$ROUNDS: starting $server"
        pid="" port=""
        if ! "start_$server"; then
            failures+=("$server/$round: did not start")
            [[ -z $pid ]] || nx_stop_pid "$pid" 5
            continue
        fi
        ok=1
        for size in "${SIZES[@]}"; do
            check "http://127.0.0.1:$port/static/$size.bin" "${BYTES[$size]}" || ok=0
        done
        if ((!ok)); then
            failures+=("$server/$round: a file did not come back whole")
            nx_stop_pid "$pid" 10
            continue
        fi
        for size in "${SIZES[@]}"; do
            key="$server/$size/$round"
            rows+=("$server $size $round")
            nfail=${#failures[@]}
            nx_measure_wrk "$key" "$pid" "$work/$server-$size-$round" "$wrk_limit" \
                -t1 -c"${CONNS[$size]}" -d"${DURATION}s" "http://127.0.0.1:$port/static/$size.bin" || true
            res[$key/gbps]=$(awk -v r="${res[$key/rps]}" -v b="${BYTES[$size]}" \
                'BEGIN { printf "%.3f", r * b / 1e9 }')
            res[$key/valid]=true
            if ((${#failures[@]} > nfail || NX_WRK_REQUESTS == 0 || NX_WRK_SOCK_ERRORS + NX_WRK_NON2XX > 0)); then
                res[$key/valid]=false
                failures+=("$key: wrk errors or no responses (${res[$key/errors_text]})")
            fi
        done
        nx_stop_pid "$pid" 10
    done
done

# --- report -------------------------------------------------------------------------------------
field_values() {
    local r key
    for ((r = 1; r <= ROUNDS; r++)); do
        key="$1/$2/$r"
        if [[ ${res[$key/valid]:-false} == true ]]; then printf '%s\n' "${res[$key/$3]}"; else printf 'null\n'; fi
    done
}
declare -A med=() ratio=() ratio_rounds=()
for server in "${SERVERS[@]}"; do
    for size in "${SIZES[@]}"; do
        for field in rps us_per_req gbps; do
            mapfile -t vals < <(field_values "$server" "$size" "$field")
            med[$server/$size/$field]=$(nx_median3 "${vals[@]}")
        done
    done
done
for size in "${SIZES[@]}"; do
    for field in rps us_per_req; do
        mapfile -t a < <(field_values nexure "$size" "$field")
        mapfile -t b < <(field_values nginx "$size" "$field")
        per=()
        for ((r = 0; r < ROUNDS; r++)); do per+=("$(nx_ratio "${a[r]}" "${b[r]}")"); done
        ratio_rounds[$size/$field]="${per[*]}"
        ratio[$size/$field]=$(nx_median3 "${per[@]}")
    done
done

nginx_version=$(nx_nginx_version)
printf '\nPinning: %s. wrk -t1 -d%ss, plain keep-alive GETs; nginx %s with sendfile on.\n\n' \
    "$pin_note" "$DURATION" "$nginx_version"
printf '| server | file | round | conns | req/s | GB/s | server µs CPU/req | server CPU %% | wrk CPU %% | errors |\n'
printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n'
for row in "${rows[@]}"; do
    read -r server size round <<<"$row"
    key="$server/$size/$round"
    errors=${res[$key/errors_text]}
    [[ ${res[$key/valid]} == true ]] || errors="$errors (not valid)"
    printf '| %s | %s | %s | %s | %.0f | %s | %s | %s | %s | %s |\n' "$server" "$size" "$round" \
        "${CONNS[$size]}" "${res[$key/rps]}" "${res[$key/gbps]}" "${res[$key/us_per_req]}" \
        "${res[$key/server_cpu_pct]}" "${res[$key/wrk_cpu_pct]}" "$errors"
done
printf '\nMedians over %s round(s), and nexure/nginx in the same round (medians of per-round ratios):\n\n' "$ROUNDS"
printf '| file | nexure req/s | nginx req/s | nexure GB/s | nginx GB/s | nexure µs CPU/req | nginx µs CPU/req | req/s ratio | CPU/req ratio |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for size in "${SIZES[@]}"; do
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$size" \
        "${med[nexure/$size/rps]}" "${med[nginx/$size/rps]}" "${med[nexure/$size/gbps]}" \
        "${med[nginx/$size/gbps]}" "${med[nexure/$size/us_per_req]}" "${med[nginx/$size/us_per_req]}" \
        "${ratio[$size/rps]}" "${ratio[$size/us_per_req]}"
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RESULTS_DIR"
json="$RESULTS_DIR/static-$stamp.json"
json_num_list() { printf '[%s]' "$(tr ' ' ',' <<<"$1")"; }
{
    printf '{\n'
    nx_json_host_fields
    nx_json_wrk_setup_fields "$pin_note"
    printf '  "nginx_version": %s,\n' "$(nx_json_str "$nginx_version")"
    printf '  "server_binary": %s,\n' "$(nx_json_str "$SERVER_BIN")"
    printf '  "load_average_at_start": %s,\n' "$(nx_json_str "$load_at_start")"
    printf '  "note": %s,\n' "$(nx_json_str "GET /static/<size>.bin of random bytes; gbps = req_per_sec x file bytes / 1e9; nginx with sendfile on, one worker")"
    printf '  "results": ['
    sep=''
    for row in "${rows[@]}"; do
        read -r server size round <<<"$row"
        key="$server/$size/$round"
        printf '%s\n    {"server": %s, "file": %s, "file_bytes": %s, "connections": %s, "round": %s, "valid": %s, "gbps": %s, %s}' \
            "$sep" "$(nx_json_str "$server")" "$(nx_json_str "$size")" "${BYTES[$size]}" \
            "${CONNS[$size]}" "$round" "${res[$key/valid]}" "${res[$key/gbps]}" "$(nx_json_wrk_fields "$key")"
        sep=','
    done
    printf '\n  ],\n  "medians": {'
    sep=''
    for server in "${SERVERS[@]}"; do
        printf '%s\n    %s: {' "$sep" "$(nx_json_str "$server")"
        ssep=''
        for size in "${SIZES[@]}"; do
            printf '%s%s: {"req_per_sec": %s, "gbps": %s, "server_cpu_us_per_req": %s}' "$ssep" \
                "$(nx_json_str "$size")" "${med[$server/$size/rps]}" "${med[$server/$size/gbps]}" \
                "${med[$server/$size/us_per_req]}"
            ssep=', '
        done
        printf '}'
        sep=','
    done
    printf '\n  },\n  "ratios_nexure_over_nginx": {'
    sep=''
    for size in "${SIZES[@]}"; do
        printf '%s\n    %s: {"req_per_sec": %s, "cpu_us_per_req": %s, "req_per_sec_per_round": %s, "cpu_us_per_req_per_round": %s}' \
            "$sep" "$(nx_json_str "$size")" "${ratio[$size/rps]}" "${ratio[$size/us_per_req]}" \
            "$(json_num_list "${ratio_rounds[$size/rps]}")" "$(json_num_list "${ratio_rounds[$size/us_per_req]}")"
        sep=','
    done
    printf '\n  },\n  "failures": %s\n}\n' "$(nx_json_strings "${failures[@]}")"
} >"$json"
printf '\nResults written to %s\n' "${json#"$NX_ROOT"/}"
nx_exit_on_failures "${failures[@]}"
