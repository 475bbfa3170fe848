#!/usr/bin/env bash
# Memory per idle keep-alive connection (issue 4), nexure-server against the reference nginx in one
# run. For each server (one worker, pinned to CPU 1 like bench.sh does): start it with a file
# descriptor limit large enough, send one warm-up request, read its RSS once it is steady, let
# nexure-idle-conns (pinned to CPU 0) open CONNECTIONS connections and send one keep-alive request
# on each, wait until all are answered and idle, read the RSS again once it is steady, and stop
# both. The figure is (RSS after - RSS before) * 1024 / connections held, in bytes: VmRSS of
# /proc/PID/status of nexure-server, and of nginx's worker (the master holds no connection; the
# master+worker sum is reported too). The kernel's TCP socket memory (the "mem" pages of
# /proc/net/sockstat, all TCP sockets of the host, both ends) is reported as context only.
# Prints a Markdown table and writes the figures to bench/results/idle-<UTC time>.json.
#
# Environment:
#   CONNECTIONS=9000        idle connections per server
#   SERVERS="nexure nginx"  which servers, in this order
#   ROUNDS=1                rounds; each measures every server once, in turn; the summary is the
#                           median per server
#   SKIP_BUILD=1            use the existing build/release binaries instead of running build.sh
#   RESULTS_DIR=bench/results   where the JSON goes
#   NEXURE_SERVER=path      use another nexure-server binary
#   NEXURE_IDLE_CONNS=path  use another nexure-idle-conns binary
#
# Everything runs on 127.0.0.1 and every step is bounded in time; the processes started here are
# stopped (SIGTERM, bounded wait, SIGKILL) on exit, also on Ctrl-C or error.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONNECTIONS=${CONNECTIONS:-9000}
SERVERS=${SERVERS:-nexure nginx}
ROUNDS=${ROUNDS:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
RESULTS_DIR=${RESULTS_DIR:-$NX_ROOT/bench/results}
IDLE_CONNS_BIN=${NEXURE_IDLE_CONNS:-$NX_ROOT/build/release/bin/nexure-idle-conns}
GOAL_BYTES=512        # issue 4: under 512 bytes per idle connection
SETTLE_S=10           # bound on waiting for a steady RSS
SETUP_S=120           # bound on nexure-idle-conns opening and using its connections
HOLD_S=300            # nexure-idle-conns' own hold limit, in case this script dies unexpectedly
IDLE_TIMEOUT_S=300    # the servers' idle keep-alive timeout (nginx.conf.in: keepalive_timeout)

nx_require_positive CONNECTIONS ROUNDS
CONNECTIONS=$((10#$CONNECTIONS))
ROUNDS=$((10#$ROUNDS))
nx_parse_servers

nx_install_traps

# --- build and tools --------------------------------------------------------------------------
if [[ $SKIP_BUILD != 1 ]]; then
    bash "$NX_SCRIPTS/build.sh" release
else
    bash "$NX_SCRIPTS/setup.sh"
fi
nx_require curl pgrep prlimit
[[ -x $IDLE_CONNS_BIN ]] || nx_die "$IDLE_CONNS_BIN not found; build it with scripts/build.sh" \
    "(or: cmake --build --preset release --target nexure-idle-conns)"
if ((want_nexure)); then
    [[ -x $NX_SERVER_BIN ]] || nx_die "$NX_SERVER_BIN not found; build it with scripts/build.sh"
fi
if [[ " ${servers[*]} " == *" nginx "* ]]; then
    nx_require nginx
fi
nx_have ss || nx_warn "ss not found (iproute2): the servers' open connections are not counted"

# The servers need a descriptor per connection plus their own; the client as many.
nx_setup_nofile $((CONNECTIONS + 64))
nx_setup_pinning
if ((NX_PINNED)); then
    pin_note="server pinned to CPU 1, nexure-idle-conns pinned to CPU 0"
else
    pin_note=${NX_PIN_NOTE/wrk/nexure-idle-conns}
fi
page_size=$(getconf PAGESIZE)
work=""
nx_tmpdir work
nx_log "$pin_note; $CONNECTIONS connections; RLIMIT_NOFILE $NX_NOFILE_LIMIT for the processes"

# --- servers ------------------------------------------------------------------------------------
# start_<server>: starts the server, pinned and with the descriptor limit, and sets server_pid,
# server_port, server_version and mem_pids (the processes whose RSS is the figure: the ones that
# hold the connections) and all_pids (all the server's processes).

start_nexure() {
    nx_start_server server_pid server_port "$work/nexure-$round" 20 \
        "${NX_NOFILE_PREFIX[@]}" "${NX_PIN_SERVER[@]}" "$NX_SERVER_BIN" --host 127.0.0.1 \
        --port 0 --threads 1 --idle-timeout-ms $((IDLE_TIMEOUT_S * 1000)) || return 1
    nx_wait_port "$server_port" 10 "$server_pid" || return 1
    server_version=$(git -C "$NX_ROOT" rev-parse --verify -q --short HEAD 2>/dev/null ||
        printf 'unknown')
    mem_pids=("$server_pid")
    all_pids=("$server_pid")
}

start_nginx() {
    server_port=$(nx_free_port)
    nx_start_nginx server_pid "$work/nginx-$round" "$server_port" 10 \
        "${NX_NOFILE_PREFIX[@]}" "${NX_PIN_SERVER[@]}" || return 1
    server_version=$(nx_nginx_version)
    mapfile -t mem_pids < <(pgrep -P "$server_pid")
    if ((${#mem_pids[@]} != 1)); then
        nx_warn "nginx has ${#mem_pids[@]} worker processes instead of 1"
        return 1
    fi
    all_pids=("$server_pid" "${mem_pids[@]}")
}

# established PORT: prints how many TCP connections to PORT are established on the server side.
established() {
    if nx_have ss; then
        ss -Htn state established "( sport = :$1 )" 2>/dev/null | wc -l
    else
        printf 'null\n'
    fi
}

# --- measurements -------------------------------------------------------------------------------
rows=()           # "server round" in run order
declare -A res=() # res[server/round/field]
failures=()

# measure SERVER: one measurement of the running server; fills res[SERVER/round/...].
measure() {
    local server=$1 key="$1/$round"
    local before after all_before all_after tcp_before tcp_after
    local ready_file="$work/ready-$server-$round"

    if ! nx_settled_rss_kib before "$SETTLE_S" "${mem_pids[@]}"; then
        nx_warn "$server: the RSS before the connections did not settle within ${SETTLE_S}s"
        failures+=("$server round $round: RSS before did not settle")
    fi
    all_before=$(nx_rss_kib_sum "${all_pids[@]}") || true
    tcp_before=$(nx_tcp_mem_pages)

    local client_pid t0 t1 line held=""
    local client_out="$work/client-$server-$round.out" client_err="$work/client-$server-$round.err"
    t0=$(nx_now_us)
    nx_spawn client_pid "$client_out" "$client_err" \
        "${NX_NOFILE_PREFIX[@]}" "${NX_PIN_LOAD[@]}" "$IDLE_CONNS_BIN" --host 127.0.0.1 \
        --port "$server_port" --connections "$CONNECTIONS" --hold-seconds "$HOLD_S" \
        --ready-file "$ready_file"
    local deadline=$((t0 + SETUP_S * 1000000))
    until [[ -s $ready_file ]]; do
        if ! nx_pid_alive "$client_pid"; then
            break
        fi
        if (($(nx_now_us) > deadline)); then
            nx_warn "$server: nexure-idle-conns was not ready within ${SETUP_S}s"
            break
        fi
        sleep 0.05
    done
    t1=$(nx_now_us)
    if [[ -s $ready_file ]] && read -r line <"$ready_file" && [[ $line =~ ^ready\ ([0-9]+)$ ]]; then
        held=${BASH_REMATCH[1]}
    fi
    if [[ -z $held ]]; then
        nx_warn "$server: nexure-idle-conns did not get its connections ready; its output:"
        cat "$client_out" "$client_err" >&2
        failures+=("$server round $round: the client did not get ready")
        nx_stop_pid "$client_pid" 10
        return 1
    fi
    local shown=0 # whether the client's report was shown already
    if ((held != CONNECTIONS)); then
        failures+=("$server round $round: only $held of $CONNECTIONS connections succeeded")
        nx_warn "$server: only $held of $CONNECTIONS connections succeeded:"
        cat "$client_err" >&2
        shown=1
    fi

    local settled=true
    if ! nx_settled_rss_kib after "$SETTLE_S" "${mem_pids[@]}"; then
        nx_warn "$server: the RSS with the connections open did not settle within ${SETTLE_S}s"
        failures+=("$server round $round: RSS after did not settle")
        settled=false
    fi
    all_after=$(nx_rss_kib_sum "${all_pids[@]}") || true
    tcp_after=$(nx_tcp_mem_pages)
    local open
    open=$(established "$server_port")
    if [[ $open != null ]] && ((open < held)); then
        failures+=("$server round $round: the server had $open connections open, not $held")
        nx_warn "$server: the server had only $open of the $held connections open when measured"
    fi

    nx_stop_pid "$client_pid" 10
    if ((NX_STOP_STATUS != 0)); then
        nx_warn "$server: nexure-idle-conns exited with status $NX_STOP_STATUS"
        ((shown)) || cat "$client_err" >&2
        failures+=("$server round $round: nexure-idle-conns exit status $NX_STOP_STATUS")
    fi
    if ! nx_pid_alive "$server_pid"; then
        failures+=("$server round $round: the server died during the run")
    fi

    rows+=("$server $round")
    res[$key/held]=$held
    res[$key/setup_s]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
    res[$key/rss_before]=$before
    res[$key/rss_after]=$after
    res[$key/settled]=$settled
    res[$key/bytes]=$(per_conn "$before" "$after" 1024 "$held")
    res[$key/all_before]=$all_before
    res[$key/all_after]=$all_after
    res[$key/all_bytes]=$(per_conn "$all_before" "$all_after" 1024 "$held")
    res[$key/tcp_before]=$tcp_before
    res[$key/tcp_after]=$tcp_after
    res[$key/tcp_bytes]=$(per_conn "$tcp_before" "$tcp_after" "$page_size" "$held")
    res[$key/open]=$open
    nx_log "round $round: $server: RSS $before -> $after KiB for $held connections:" \
        "${res[$key/bytes]} bytes each; kernel TCP memory $tcp_before -> $tcp_after pages"
}

# per_conn BEFORE AFTER UNIT_BYTES CONNECTIONS: (AFTER - BEFORE) * UNIT_BYTES / CONNECTIONS with
# one decimal, or "null".
per_conn() {
    awk -v a="$1" -v b="$2" -v u="$3" -v n="$4" 'BEGIN {
        if (a == "null" || b == "null" || n + 0 == 0) print "null"
        else printf "%.1f\n", (b - a) * u / n }'
}

for ((round = 1; round <= ROUNDS; round++)); do
    for server in "${servers[@]}"; do
        nx_log "round $round/$ROUNDS: starting $server"
        server_pid="" server_port="" server_version=""
        mem_pids=() all_pids=()
        if ! "start_$server"; then
            failures+=("$server: did not start")
            [[ -z $server_pid ]] || nx_stop_pid "$server_pid" 5
            continue
        fi
        res[$server/version]=$server_version
        body=$(curl -s --max-time 5 "http://127.0.0.1:$server_port/plaintext" || true)
        if [[ $body != "Hello, World!" ]]; then
            nx_warn "$server answered GET /plaintext with '$body' instead of 'Hello, World!'"
            failures+=("$server: wrong /plaintext body")
        fi
        measure "$server" || true
        nx_stop_pid "$server_pid" 10
        if ((NX_STOP_STATUS != 0)); then
            nx_warn "$server exited with status $NX_STOP_STATUS after SIGTERM"
            failures+=("$server: exit status $NX_STOP_STATUS after SIGTERM")
        fi
    done
done

# --- report -------------------------------------------------------------------------------------
label() {
    local server=$1 version=${res[$1/version]:-unknown}
    if [[ $version == unknown ]]; then
        printf '%s' "$server"
    else
        printf '%s %s' "$server" "$version"
    fi
}

printf '\n%s. Idle keep-alive connections after one request each; RSS is VmRSS.\n\n' "$pin_note"
printf '| server | connections | RSS before KiB | RSS after KiB | bytes per connection |\n'
printf '|--------|------------:|---------------:|--------------:|---------------------:|\n'
for row in "${rows[@]}"; do
    read -r server round <<<"$row"
    key="$server/$round"
    name=$(label "$server")
    ((ROUNDS == 1)) || name="$name (round $round)"
    if [[ $server == nginx ]]; then
        printf '| %s, worker | %s | %s | %s | %s |\n' "$name" "${res[$key/held]}" \
            "${res[$key/rss_before]}" "${res[$key/rss_after]}" "${res[$key/bytes]}"
        printf '| %s, master+worker | %s | %s | %s | %s |\n' "$name" "${res[$key/held]}" \
            "${res[$key/all_before]}" "${res[$key/all_after]}" "${res[$key/all_bytes]}"
    else
        printf '| %s | %s | %s | %s | %s |\n' "$name" "${res[$key/held]}" \
            "${res[$key/rss_before]}" "${res[$key/rss_after]}" "${res[$key/bytes]}"
    fi
done

printf '\nContext (not part of the figure): kernel memory of all TCP sockets of the host, both\n'
printf 'ends (/proc/net/sockstat, %s-byte pages; it moves in per-CPU steps of 1 MiB: coarse):\n' \
    "$page_size"
for row in "${rows[@]}"; do
    read -r server round <<<"$row"
    key="$server/$round"
    printf '  %s%s: %s -> %s pages, %s bytes per connection; connections open at the server: %s\n' \
        "$server" "$( ((ROUNDS == 1)) || printf ' (round %s)' "$round")" \
        "${res[$key/tcp_before]}" "${res[$key/tcp_after]}" "${res[$key/tcp_bytes]}" \
        "${res[$key/open]}"
done

declare -A med=()
for server in "${servers[@]}"; do
    vals=()
    for ((round = 1; round <= ROUNDS; round++)); do
        vals+=("${res[$server/$round/bytes]:-null}")
    done
    med[$server]=$(nx_median "${vals[@]}")
done
printf '\n'
((ROUNDS == 1)) || printf 'Medians over %s rounds:\n' "$ROUNDS"
for server in "${servers[@]}"; do
    what="bytes per idle connection"
    [[ $server != nginx ]] || what="$what (worker)"
    printf '%s: %s %s\n' "$(label "$server")" "${med[$server]}" "$what"
done
if [[ -n ${med[nexure]:-} && ${med[nexure]} != null ]]; then
    if awk -v b="${med[nexure]}" -v g="$GOAL_BYTES" 'BEGIN { exit !(b < g) }'; then
        printf 'nexure is under the goal of %s bytes per idle connection.\n' "$GOAL_BYTES"
    else
        printf 'nexure is NOT under the goal of %s bytes per idle connection.\n' "$GOAL_BYTES"
    fi
fi

# --- JSON -------------------------------------------------------------------------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)
nginx_version=""
! nx_have nginx || nginx_version=$(nx_nginx_version)

mkdir -p "$RESULTS_DIR"
json="$RESULTS_DIR/idle-$stamp.json"
{
    printf '{\n'
    nx_json_host_fields
    printf '  "nginx_version": %s,\n' "$(nx_json_str "$nginx_version")"
    printf '  "pinned": %s,\n' "$( ((NX_PINNED)) && echo true || echo false)"
    printf '  "pinning": %s,\n' "$(nx_json_str "$pin_note")"
    printf '  "connections": %s,\n  "rounds": %s,\n  "rlimit_nofile": %s,\n' \
        "$CONNECTIONS" "$ROUNDS" "$NX_NOFILE_LIMIT"
    printf '  "idle_timeout_s": %s,\n  "page_size": %s,\n  "goal_bytes_per_connection": %s,\n' \
        "$IDLE_TIMEOUT_S" "$page_size" "$GOAL_BYTES"
    printf '  "results": ['
    sep=''
    for row in "${rows[@]}"; do
        read -r server round <<<"$row"
        key="$server/$round"
        rss_of="server"
        [[ $server != nginx ]] || rss_of="worker"
        printf '%s\n    {"server": %s, "version": %s, "round": %s, ' "$sep" \
            "$(nx_json_str "$server")" "$(nx_json_str "${res[$server/version]}")" "$round"
        printf '"connections": %s, "setup_s": %s, "rss_of": "%s", ' \
            "${res[$key/held]}" "${res[$key/setup_s]}" "$rss_of"
        printf '"rss_before_kib": %s, "rss_after_kib": %s, "rss_settled": %s, ' \
            "${res[$key/rss_before]}" "${res[$key/rss_after]}" "${res[$key/settled]}"
        printf '"bytes_per_connection": %s, ' "${res[$key/bytes]}"
        printf '"all_processes": {"rss_before_kib": %s, "rss_after_kib": %s, ' \
            "${res[$key/all_before]}" "${res[$key/all_after]}"
        printf '"bytes_per_connection": %s}, ' "${res[$key/all_bytes]}"
        printf '"kernel_tcp_mem_pages": {"before": %s, "after": %s, ' \
            "${res[$key/tcp_before]}" "${res[$key/tcp_after]}"
        printf '"bytes_per_connection": %s}, ' "${res[$key/tcp_bytes]}"
        printf '"server_connections_open": %s}' "${res[$key/open]}"
        sep=','
    done
    printf '\n  ],\n'
    printf '  "median_bytes_per_connection": {'
    sep=''
    for server in "${servers[@]}"; do
        printf '%s%s: %s' "$sep" "$(nx_json_str "$server")" "${med[$server]}"
        sep=', '
    done
    printf '},\n'
    printf '  "failures": %s\n}\n' "$(nx_json_strings "${failures[@]}")"
} >"$json"
printf '\nResults written to %s\n' "${json#"$NX_ROOT"/}"

nx_exit_on_failures "${failures[@]}"
