# shellcheck shell=bash disable=SC2034 # (globals here are read by the scripts that source it)
# Shared helpers for the scripts in scripts/. Source this file; it is not meant to be run.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# NEXURE_SERVER, if set, names the nexure-server binary to use instead of build/release's.
# NEXURE_VARIANTS, if set, names more nexure-server binaries to compare (nx_parse_variants).
#
# It defines NX_ROOT (the repository root, found from this file's own location, so callers work
# from any directory), logging, process start/stop with bounded waits and an exit trap, port
# helpers, CPU-time accounting from /proc and the wrk runner/parser used by bench.sh and demo.sh.

if [[ -n "${NX_LIB_LOADED:-}" ]]; then
    return 0
fi
NX_LIB_LOADED=1

# Numbers are parsed and printed with a '.' decimal point whatever the user's locale is.
export LC_ALL=C

NX_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NX_SCRIPTS="$NX_ROOT/scripts"
NX_SERVER_BIN="${NEXURE_SERVER:-$NX_ROOT/build/release/bin/nexure-server}"
NX_PIPELINE_LUA="$NX_ROOT/bench/wrk/pipeline.lua"
NX_NAME="${0##*/}"

# ---------------------------------------------------------------------------------------------
# Messages

nx_log() { printf '%s: %s\n' "$NX_NAME" "$*" >&2; }
nx_warn() { printf '%s: warning: %s\n' "$NX_NAME" "$*" >&2; }
nx_die() {
    printf '%s: error: %s\n' "$NX_NAME" "$*" >&2
    exit 1
}

nx_have() { command -v "$1" >/dev/null 2>&1; }

# nx_require CMD...: dies naming every command that is not on PATH.
nx_require() {
    local cmd
    local -a absent=()
    for cmd in "$@"; do
        nx_have "$cmd" || absent+=("$cmd")
    done
    if ((${#absent[@]} > 0)); then
        nx_die "required command(s) not found: ${absent[*]} (run scripts/setup.sh)"
    fi
}

# nx_is_uint VALUE: true when VALUE is a non-negative decimal integer.
nx_is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# nx_require_positive VAR...: dies unless each named variable holds a positive decimal integer
# (the scripts' DURATION, ROUNDS, ... settings).
nx_require_positive() {
    local var
    for var in "$@"; do
        if ! nx_is_uint "${!var}" || ((10#${!var} == 0)); then
            nx_die "$var must be a positive integer, got '${!var}'"
        fi
    done
}

# nx_now_us: wall-clock time in microseconds.
nx_now_us() {
    local t=$EPOCHREALTIME
    printf '%s\n' "${t/./}"
}

# ---------------------------------------------------------------------------------------------
# Cleanup: processes started with nx_spawn, temporary directories and extra hooks are all
# released by nx_cleanup, which nx_install_traps runs on exit, Ctrl-C and SIGTERM.

NX_PIDS=()
NX_TMPDIRS=()
NX_EXIT_HOOKS=()

nx_on_exit() { NX_EXIT_HOOKS+=("$1"); }

nx_cleanup() {
    local status=$?
    set +e
    local pid hook dir
    for pid in "${NX_PIDS[@]}"; do
        nx_stop_pid "$pid" 5
    done
    for hook in "${NX_EXIT_HOOKS[@]}"; do
        "$hook"
    done
    for dir in "${NX_TMPDIRS[@]}"; do
        rm -rf -- "$dir"
    done
    NX_EXIT_HOOKS=()
    NX_TMPDIRS=()
    return "$status"
}

nx_install_traps() {
    trap nx_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# nx_tmpdir VAR: creates a private temporary directory, removed on exit, and stores its path.
nx_tmpdir() {
    local _nx_dir
    _nx_dir=$(mktemp -d "${TMPDIR:-/tmp}/nexure.XXXXXX")
    NX_TMPDIRS+=("$_nx_dir")
    printf -v "$1" '%s' "$_nx_dir"
}

# ---------------------------------------------------------------------------------------------
# Processes

# nx_pid_alive PID: true while PID exists and has not exited (a zombie counts as exited).
nx_pid_alive() {
    local line
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    line=${line##*) }
    [[ ${line:0:1} != Z && ${line:0:1} != X ]]
}

# nx_proc_tree PID: prints PID and all its descendants, one per line.
nx_proc_tree() {
    local child
    printf '%s\n' "$1"
    for child in $(pgrep -P "$1" 2>/dev/null); do
        nx_proc_tree "$child"
    done
}

# nx_forget_pid PID: drops PID from the list of processes stopped on exit.
nx_forget_pid() {
    local pid
    local -a keep=()
    for pid in "${NX_PIDS[@]}"; do
        [[ $pid == "$1" ]] || keep+=("$pid")
    done
    NX_PIDS=("${keep[@]}")
}

# nx_spawn PIDVAR STDOUT STDERR CMD...: starts CMD in the background with stdin from /dev/null,
# stores its PID in PIDVAR and registers it to be stopped on exit. CMD is exec'ed by the wrappers
# used here (taskset, stdbuf), so the PID is the program's own.
nx_spawn() {
    local _nx_pidvar=$1 _nx_out=$2 _nx_err=$3
    shift 3
    "$@" </dev/null >"$_nx_out" 2>"$_nx_err" &
    local _nx_pid=$!
    NX_PIDS+=("$_nx_pid")
    printf -v "$_nx_pidvar" '%s' "$_nx_pid"
}

# nx_wait_exit PID TIMEOUT_S: waits until PID has exited; fails if it is still alive after
# TIMEOUT_S seconds.
nx_wait_exit() {
    local deadline=$(($(nx_now_us) + $2 * 1000000))
    while nx_pid_alive "$1"; do
        (($(nx_now_us) < deadline)) || return 1
        sleep 0.05
    done
}

# nx_terminate PID TIMEOUT_S: SIGTERM, a bounded wait, then SIGKILL (and another bounded wait).
nx_terminate() {
    nx_pid_alive "$1" || return 0
    kill -TERM "$1" 2>/dev/null || true
    if ! nx_wait_exit "$1" "$2"; then
        nx_warn "process $1 did not exit within ${2}s of SIGTERM; sending SIGKILL"
        kill -KILL "$1" 2>/dev/null || true
        nx_wait_exit "$1" 5 || nx_warn "process $1 survived SIGKILL"
    fi
}

# nx_stop_pid PID [TIMEOUT_S]: stops PID with nx_terminate (default 10 s), then any of its
# descendants that outlived it. The exit status of PID (a child of this shell) is left in
# NX_STOP_STATUS; 128+N means it was killed by signal N.
NX_STOP_STATUS=0
nx_stop_pid() {
    local pid=$1 timeout=${2:-10} p status=0
    local -a tree=()
    mapfile -t tree < <(nx_proc_tree "$pid")
    nx_terminate "$pid" "$timeout"
    for p in "${tree[@]:1}"; do
        nx_terminate "$p" 2
    done
    wait "$pid" 2>/dev/null || status=$?
    nx_forget_pid "$pid"
    NX_STOP_STATUS=$status
}

# ---------------------------------------------------------------------------------------------
# Ports (everything here is on the loopback interface)

# nx_port_open PORT [HOST]: true when a TCP connection to HOST:PORT is accepted.
nx_port_open() {
    (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null
}

# nx_port_busy PORT: true when something listens on PORT (any address).
nx_port_busy() {
    if nx_have ss; then
        [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
    else
        nx_port_open "$1"
    fi
}

# nx_free_port: prints a TCP port that is currently free on 127.0.0.1.
nx_free_port() {
    local port
    if nx_have python3 && port=$(python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' 2>/dev/null) && nx_is_uint "$port"; then
        printf '%s\n' "$port"
        return 0
    fi
    nx_have ss || nx_die "cannot find a free port: neither python3 nor ss is available"
    local used tries
    used=$(ss -Htan 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }')
    for ((tries = 0; tries < 500; tries++)); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if ! grep -qx "$port" <<<"$used"; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    nx_die "cannot find a free port in 20000-59999"
}

# nx_wait_port PORT TIMEOUT_S [PID]: waits until 127.0.0.1:PORT accepts connections. Fails when
# the deadline passes or, if given, PID exits first.
nx_wait_port() {
    local port=$1 timeout=$2 pid=${3:-}
    local deadline=$(($(nx_now_us) + timeout * 1000000))
    until nx_port_open "$port"; do
        if [[ -n $pid ]] && ! nx_pid_alive "$pid"; then
            nx_warn "process $pid exited before port $port opened"
            return 1
        fi
        if (($(nx_now_us) > deadline)); then
            nx_warn "port $port did not open within ${timeout}s"
            return 1
        fi
        sleep 0.05
    done
}

# nx_start_server PIDVAR PORTVAR LOGBASE TIMEOUT_S CMD...: starts a server that prints
# "... listening on http://HOST:PORT ..." on stdout, waits for that line (bounded), and stores
# the PID and the port. Stdout goes to LOGBASE.out, stderr to LOGBASE.err. stdout is made line
# buffered so the line arrives even if the server does not flush it.
nx_start_server() {
    local _nx_pidvar=$1 _nx_portvar=$2 _nx_log=$3 _nx_timeout=$4 _nx_label=${3##*/}
    shift 4
    local -a _nx_cmd=("$@")
    if nx_have stdbuf; then
        _nx_cmd=(stdbuf -oL "${_nx_cmd[@]}")
    fi
    local _nx_spid
    nx_spawn _nx_spid "$_nx_log.out" "$_nx_log.err" "${_nx_cmd[@]}"
    printf -v "$_nx_pidvar" '%s' "$_nx_spid"
    local _nx_re='listening on http://[^:/]+:([0-9]+)'
    local _nx_line _nx_deadline=$(($(nx_now_us) + _nx_timeout * 1000000))
    while :; do
        if _nx_line=$(grep -m1 -E "$_nx_re" "$_nx_log.out" 2>/dev/null) &&
            [[ $_nx_line =~ $_nx_re ]]; then
            printf -v "$_nx_portvar" '%s' "${BASH_REMATCH[1]}"
            return 0
        fi
        if ! nx_pid_alive "$_nx_spid"; then
            nx_warn "$_nx_label exited before printing its 'listening on' line; its output:"
            cat "$_nx_log.out" "$_nx_log.err" >&2
            return 1
        fi
        if (($(nx_now_us) > _nx_deadline)); then
            nx_warn "$_nx_label printed no 'listening on http://HOST:PORT' line" \
                "within ${_nx_timeout}s; its output:"
            cat "$_nx_log.out" "$_nx_log.err" >&2
            return 1
        fi
        sleep 0.05
    done
}

# ---------------------------------------------------------------------------------------------
# CPU time

# nx_clk_tck: clock ticks per second used by /proc/PID/stat.
nx_clk_tck() { getconf CLK_TCK; }

# nx_cpu_ticks PID [sys]: prints utime+stime (fields 14 and 15 of /proc/PID/stat) of process PID,
# or with "sys" stime alone (the time spent in the kernel on its behalf). The process-level stat
# file sums all threads of the process, including threads that have already exited. Prints 0 and
# fails if the process is gone.
nx_cpu_ticks() {
    local line
    local -a f
    if ! { read -r line <"/proc/$1/stat"; } 2>/dev/null; then
        printf '0\n'
        return 1
    fi
    # Field 2 (comm) is in parentheses and may contain spaces; field 3 starts after the last ')'.
    read -r -a f <<<"${line##*) }"
    if [[ ${2:-} == sys ]]; then
        printf '%s\n' "${f[12]}"
    else
        printf '%s\n' "$((f[11] + f[12]))"
    fi
}

# nx_cpu_us_per_req TICKS REQUESTS: CPU microseconds per request for TICKS clock ticks of CPU
# time (nx_cpu_ticks), with three decimals; "null" when REQUESTS is 0.
nx_cpu_us_per_req() {
    awk -v d="$1" -v hz="$(nx_clk_tck)" -v n="$2" \
        'BEGIN { if (n > 0) printf "%.3f\n", d / hz * 1e6 / n; else print "null" }'
}

# nx_cpu_percent TICKS WALL_US: TICKS clock ticks of CPU time in percent of one core over WALL_US
# microseconds, with one decimal; "null" when WALL_US is 0.
nx_cpu_percent() {
    awk -v d="$1" -v hz="$(nx_clk_tck)" -v w="$2" \
        'BEGIN { if (w > 0) printf "%.1f\n", d / hz / (w / 1e6) * 100; else print "null" }'
}

# nx_cpu_ticks_sum PID...: prints the sum of nx_cpu_ticks over the PIDs.
nx_cpu_ticks_sum() {
    local pid ticks sum=0
    for pid in "$@"; do
        ticks=$(nx_cpu_ticks "$pid") || nx_warn "process $pid is gone; its CPU time is not counted"
        sum=$((sum + ticks))
    done
    printf '%s\n' "$sum"
}

# nx_proc_stat_cpu: prints the user+nice+system+irq+softirq and the steal clock ticks of the whole
# machine (the aggregate "cpu" line of /proc/stat, all CPUs together), as "busy steal". irq and
# softirq count as busy because tick accounting adds a tick spent in an interrupt to the
# interrupted task's stime while /proc/stat books it as irq/softirq (see compare.py).
nx_proc_stat_cpu() {
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $9; exit }' /proc/stat
}

# nx_other_load BEFORE AFTER OWN_TICKS WALL_US: what else ran on the machine between two readings
# of nx_proc_stat_cpu, in % of one core: "other steal", where other is the machine's busy time
# less OWN_TICKS (the measured processes' utime+stime) and steal the time the hypervisor gave to
# other guests. Both come from different accounting paths and are approximate; other is printed
# as measured, so a reading below zero (the counters disagree) stays visible.
nx_other_load() {
    local -a b a
    read -r -a b <<<"$1"
    read -r -a a <<<"$2"
    awk -v busy="$((a[0] - b[0]))" -v steal="$((a[1] - b[1]))" -v own="$3" -v wall="$4" \
        -v hz="$(nx_clk_tck)" 'BEGIN {
        if (wall <= 0) { print "null null"; exit }
        k = 100 / (hz * wall / 1e6)
        printf "%.1f %.1f\n", (busy - own) * k, steal * k }'
}

# ---------------------------------------------------------------------------------------------
# CPU pinning: server on CPU 1, load generator on CPU 0 (see BENCHMARKING.md).

NX_PINNED=0
NX_PIN_SERVER=()
NX_PIN_LOAD=()
NX_PIN_NOTE=""

nx_setup_pinning() {
    NX_PINNED=0
    NX_PIN_SERVER=()
    NX_PIN_LOAD=()
    local cpus
    cpus=$(nproc 2>/dev/null || printf '1')
    if ! nx_have taskset; then
        NX_PIN_NOTE="taskset is not available: server and wrk run unpinned"
    elif ((cpus < 2)); then
        NX_PIN_NOTE="only $cpus CPU available: server and wrk run unpinned and share it"
    elif ! taskset -c 0 true 2>/dev/null || ! taskset -c 1 true 2>/dev/null; then
        NX_PIN_NOTE="CPUs 0 and 1 are not both usable by taskset: server and wrk run unpinned"
    else
        NX_PINNED=1
        NX_PIN_SERVER=(taskset -c 1)
        NX_PIN_LOAD=(taskset -c 0)
        NX_PIN_NOTE="server pinned to CPU 1, wrk pinned to CPU 0"
    fi
}

# ---------------------------------------------------------------------------------------------
# wrk

# nx_run_wrk OUTFILE TIMEFILE LIMIT_S WRK-ARGS...: runs wrk (pinned per nx_setup_pinning) with
# its output in OUTFILE and its CPU usage "user system elapsed" (seconds) as the last line of
# TIMEFILE. LIMIT_S bounds the run. Returns wrk's exit status.
nx_run_wrk() {
    local out=$1 timefile=$2 limit=$3
    shift 3
    /usr/bin/time -f '%U %S %e' -o "$timefile" \
        timeout -k 5 "$limit" "${NX_PIN_LOAD[@]}" wrk "$@" >"$out" 2>&1
}

# nx_wrk_cpu_percent TIMEFILE: prints the load generator's CPU use in percent of one core.
nx_wrk_cpu_percent() {
    tail -n 1 "$1" | awk '{ if ($3 > 0) printf "%.1f\n", ($1 + $2) / $3 * 100; else print "0.0" }'
}

# nx_parse_wrk OUTFILE: parses wrk's report into NX_WRK_REQUESTS (total responses),
# NX_WRK_RPS (requests/sec), NX_WRK_SOCK_CONNECT/READ/WRITE/TIMEOUT (socket errors),
# NX_WRK_NON2XX (non-2xx/3xx responses), NX_WRK_LATENCY and NX_WRK_RPS_LINE (wrk's own lines).
nx_parse_wrk() {
    local out=$1
    read -r NX_WRK_REQUESTS NX_WRK_RPS NX_WRK_SOCK_CONNECT NX_WRK_SOCK_READ NX_WRK_SOCK_WRITE \
        NX_WRK_SOCK_TIMEOUT NX_WRK_NON2XX < <(awk '
        /^ *[0-9]+ requests in / { requests = $1 }
        /^Requests\/sec:/ { rps = $2 }
        /Socket errors:/ { gsub(",", ""); c = $4; r = $6; w = $8; t = $10 }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        END { printf "%d %.2f %d %d %d %d %d\n", requests, rps, c, r, w, t, non2xx }' "$out")
    NX_WRK_LATENCY=$(grep -m1 -E '^ *Latency ' "$out" | sed -E 's/^ +//; s/ +/ /g' || true)
    NX_WRK_RPS_LINE=$(grep -m1 -E '^Requests/sec:' "$out" | sed -E 's/ +/ /g' || true)
    NX_WRK_SOCK_ERRORS=$((NX_WRK_SOCK_CONNECT + NX_WRK_SOCK_READ + NX_WRK_SOCK_WRITE +
        NX_WRK_SOCK_TIMEOUT))
}

# nx_wrk_errors_text: one short human-readable summary of the last parsed wrk errors.
nx_wrk_errors_text() {
    if ((NX_WRK_SOCK_ERRORS == 0 && NX_WRK_NON2XX == 0)); then
        printf '0\n'
        return
    fi
    local -a parts=()
    ((NX_WRK_NON2XX == 0)) || parts+=("non-2xx/3xx $NX_WRK_NON2XX")
    ((NX_WRK_SOCK_CONNECT == 0)) || parts+=("connect $NX_WRK_SOCK_CONNECT")
    ((NX_WRK_SOCK_READ == 0)) || parts+=("read $NX_WRK_SOCK_READ")
    ((NX_WRK_SOCK_WRITE == 0)) || parts+=("write $NX_WRK_SOCK_WRITE")
    ((NX_WRK_SOCK_TIMEOUT == 0)) || parts+=("timeout $NX_WRK_SOCK_TIMEOUT")
    local joined
    joined=$(printf '%s, ' "${parts[@]}")
    printf '%s\n' "${joined%, }"
}

# nx_wrk_bound CPU_PERCENT: true when the load generator used more than 90 % of its core (what
# nx_wrk_cpu_percent prints): the run's req/s is then wrk's limit, and only CPU per request
# compares.
nx_wrk_bound() { awk -v p="$1" 'BEGIN { exit !(p > 90) }'; }

# nx_measure_wrk KEY PID OUTBASE LIMIT_S WRK-ARGS...: one measured wrk run (nx_run_wrk, output in
# OUTBASE.wrk and OUTBASE.time, bounded to LIMIT_S seconds) against the server PID, whose CPU time
# is that of PID and its descendants (utime+stime from /proc, read before and after the run).
# Stores in the caller's associative array `res`, under KEY/: requests, rps, ticks, wall_s,
# us_per_req (server CPU µs per response; "null" without responses), server_cpu_pct, wrk_cpu_pct,
# sock_connect, sock_read, sock_write, sock_timeout, non2xx and errors_text. A wrk failure or the
# server's death during the run is logged and appended to the caller's array `failures`. Leaves
# nx_parse_wrk's NX_WRK_* variables set.
# shellcheck disable=SC2004,SC2154 # res is the caller's associative array
nx_measure_wrk() {
    local key=$1 pid=$2 outbase=$3 limit=$4
    shift 4
    local -a pids
    mapfile -t pids < <(nx_proc_tree "$pid")
    local ticks0 ticks1 t0 t1 rc=0
    ticks0=$(nx_cpu_ticks_sum "${pids[@]}")
    t0=$(nx_now_us)
    nx_run_wrk "$outbase.wrk" "$outbase.time" "$limit" "$@" || rc=$?
    t1=$(nx_now_us)
    ticks1=$(nx_cpu_ticks_sum "${pids[@]}")
    if ((rc != 0)); then
        nx_warn "wrk failed (exit $rc) for $key:"
        cat "$outbase.wrk" >&2
        failures+=("$key: wrk exit $rc")
    fi
    if ! nx_pid_alive "$pid"; then
        failures+=("$key: the server died during the run")
        nx_warn "the server died during the $key run"
    fi
    nx_parse_wrk "$outbase.wrk"
    local ticks=$((ticks1 - ticks0))
    res[$key/requests]=$NX_WRK_REQUESTS
    res[$key/rps]=$NX_WRK_RPS
    res[$key/ticks]=$ticks
    res[$key/wall_s]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
    res[$key/us_per_req]=$(nx_cpu_us_per_req "$ticks" "$NX_WRK_REQUESTS")
    res[$key/server_cpu_pct]=$(nx_cpu_percent "$ticks" "$((t1 - t0))")
    res[$key/wrk_cpu_pct]=$(nx_wrk_cpu_percent "$outbase.time")
    res[$key/sock_connect]=$NX_WRK_SOCK_CONNECT
    res[$key/sock_read]=$NX_WRK_SOCK_READ
    res[$key/sock_write]=$NX_WRK_SOCK_WRITE
    res[$key/sock_timeout]=$NX_WRK_SOCK_TIMEOUT
    res[$key/non2xx]=$NX_WRK_NON2XX
    res[$key/errors_text]=$(nx_wrk_errors_text)
    nx_log "$key: $NX_WRK_RPS req/s, ${res[$key/us_per_req]} µs CPU/req," \
        "server CPU ${res[$key/server_cpu_pct]}%, wrk CPU ${res[$key/wrk_cpu_pct]}%," \
        "errors: ${res[$key/errors_text]}"
}

# nx_json_wrk_fields KEY: what nx_measure_wrk stored under KEY, as the members of a JSON object
# (requests, req_per_sec, server_cpu_ticks, server_cpu_us_per_req, server_cpu_percent, wall_s,
# wrk_cpu_percent, wrk_bound, non_2xx_3xx, socket_errors), comma-separated, without braces.
nx_json_wrk_fields() {
    local key=$1 bound=false
    if nx_wrk_bound "${res[$key/wrk_cpu_pct]}"; then bound=true; fi
    printf '"requests": %s, "req_per_sec": %s, "server_cpu_ticks": %s, ' \
        "${res[$key/requests]}" "${res[$key/rps]}" "${res[$key/ticks]}"
    printf '"server_cpu_us_per_req": %s, "server_cpu_percent": %s, "wall_s": %s, ' \
        "${res[$key/us_per_req]}" "${res[$key/server_cpu_pct]}" "${res[$key/wall_s]}"
    printf '"wrk_cpu_percent": %s, "wrk_bound": %s, "non_2xx_3xx": %s, ' \
        "${res[$key/wrk_cpu_pct]}" "$bound" "${res[$key/non2xx]}"
    printf '"socket_errors": {"connect": %s, "read": %s, "write": %s, "timeout": %s}' \
        "${res[$key/sock_connect]}" "${res[$key/sock_read]}" "${res[$key/sock_write]}" \
        "${res[$key/sock_timeout]}"
}

# ---------------------------------------------------------------------------------------------
# Reports: JSON strings, medians, what the figures were measured on

# nx_json_str STRING: prints STRING as a JSON string literal.
nx_json_str() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\t'/\\t}
    s=${s//$'\n'/\\n}
    s=${s//$'\r'/\\r}
    printf '"%s"' "$s"
}

# nx_median VALUES...: prints the median of the numbers ("null" entries are skipped; the mean of
# the two middle ones for an even count), or "null" when there are none.
nx_median() {
    printf '%s\n' "$@" | grep -v '^null$' | sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) print "null"; else if (NR % 2) printf "%.10g\n", v[(NR + 1) / 2];
              else printf "%.10g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# nx_host_info: sets NX_KERNEL, NX_CPU_MODEL, NX_NPROC, NX_GIT_COMMIT (full hash or "unknown")
# and NX_GIT_DIRTY (true when tracked files differ from HEAD, else false) for result files.
nx_host_info() {
    NX_KERNEL=$(uname -r)
    NX_CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
    if [[ -z $NX_CPU_MODEL ]]; then
        NX_CPU_MODEL=$(lscpu 2>/dev/null | awk -F': *' '/^Model name/ { print $2; exit }' || true)
    fi
    NX_CPU_MODEL=${NX_CPU_MODEL:-unknown}
    NX_NPROC=$(nproc 2>/dev/null || printf '1')
    NX_GIT_COMMIT=$(git -C "$NX_ROOT" rev-parse --verify -q HEAD 2>/dev/null || printf 'unknown')
    NX_GIT_DIRTY=false
    if [[ -n $(git -C "$NX_ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
        NX_GIT_DIRTY=true
    fi
}

# ---------------------------------------------------------------------------------------------
# Memory

# nx_rss_kib PID: prints the resident set size of process PID in KiB (VmRSS of
# /proc/PID/status). Prints 0 and fails if the process is gone.
nx_rss_kib() {
    local key value unit
    while read -r key value unit; do
        if [[ $key == VmRSS: ]]; then
            printf '%s\n' "$value"
            return 0
        fi
    done 2>/dev/null <"/proc/$1/status"
    printf '0\n'
    return 1
}

# nx_rss_kib_sum PID...: prints the sum of nx_rss_kib over the PIDs (pages shared between them
# count once per process); fails if any of them is gone.
nx_rss_kib_sum() {
    local pid kib sum=0 status=0
    for pid in "$@"; do
        kib=$(nx_rss_kib "$pid") || status=1
        sum=$((sum + kib))
    done
    printf '%s\n' "$sum"
    return "$status"
}

# nx_settled_rss_kib VAR TIMEOUT_S PID...: reads nx_rss_kib_sum of the PIDs every 200 ms until two
# reads in a row are equal, and stores that value in VAR. Fails, with the last value in VAR, when
# the RSS is still moving after TIMEOUT_S seconds or a process is gone.
nx_settled_rss_kib() {
    local _nx_var=$1 _nx_timeout=$2
    shift 2
    local _nx_deadline=$(($(nx_now_us) + _nx_timeout * 1000000))
    local _nx_prev _nx_cur
    _nx_prev=$(nx_rss_kib_sum "$@") || {
        printf -v "$_nx_var" '%s' "$_nx_prev"
        return 1
    }
    while :; do
        sleep 0.2
        _nx_cur=$(nx_rss_kib_sum "$@") || {
            printf -v "$_nx_var" '%s' "$_nx_cur"
            return 1
        }
        if ((_nx_cur == _nx_prev)); then
            printf -v "$_nx_var" '%s' "$_nx_cur"
            return 0
        fi
        if (($(nx_now_us) > _nx_deadline)); then
            printf -v "$_nx_var" '%s' "$_nx_cur"
            return 1
        fi
        _nx_prev=$_nx_cur
    done
}

# nx_tcp_mem_pages: prints the kernel's memory for all TCP sockets of the host, in pages (the
# "mem" field of the TCP line of /proc/net/sockstat), or "null" if it cannot be read.
nx_tcp_mem_pages() {
    local pages
    pages=$(awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) }' \
        /proc/net/sockstat 2>/dev/null || true)
    if nx_is_uint "$pages"; then
        printf '%s\n' "$pages"
    else
        printf 'null\n'
    fi
}

# ---------------------------------------------------------------------------------------------
# File descriptor limits

# nx_setup_nofile NEED: sets NX_NOFILE_LIMIT to the descriptor limit processes started with the
# NX_NOFILE_PREFIX command prefix (prlimit, which execs the command, so PIDs are kept) get: 65536,
# or the current hard limit when that is lower and cannot be raised (raising it needs
# CAP_SYS_RESOURCE). Dies when that is less than NEED.
nx_setup_nofile() {
    local need=$1 want=65536 hard
    nx_require prlimit
    hard=$(ulimit -Hn)
    if [[ $hard == unlimited ]]; then
        hard=$(cat /proc/sys/fs/nr_open 2>/dev/null || printf '1048576')
    fi
    if ((hard >= want)) || prlimit --nofile="$want:$want" true 2>/dev/null; then
        NX_NOFILE_LIMIT=$want
    else
        NX_NOFILE_LIMIT=$hard
    fi
    if ((NX_NOFILE_LIMIT < need)); then
        nx_die "$need file descriptors are needed per process, but the hard RLIMIT_NOFILE is" \
            "$hard and cannot be raised here (that needs root with CAP_SYS_RESOURCE); raise it" \
            "(ulimit -Hn, /etc/security/limits.conf, the container's ulimits) or use fewer"
    fi
    NX_NOFILE_PREFIX=(prlimit --nofile="$NX_NOFILE_LIMIT:$NX_NOFILE_LIMIT")
}

# ---------------------------------------------------------------------------------------------
# nginx: the reference server (bench/nginx/nginx.conf.in) and the other configurations of
# bench/nginx/ (the upstream and the proxy of bench-gateway.sh)

# nx_nginx_conf TEMPLATE DIR PORT [NAME=VALUE...]: writes DIR/nginx.conf (DIR created if needed)
# from TEMPLATE with @DIR@ replaced by DIR, @PORT@ by PORT and each @NAME@ by its VALUE (no value
# may hold a '#').
nx_nginx_conf() {
    local template=$1 dir=$2 port=$3 pair
    shift 3
    local -a subst=(-e "s#@DIR@#$dir#g" -e "s#@PORT@#$port#g")
    for pair in "$@"; do
        subst+=(-e "s#@${pair%%=*}@#${pair#*=}#g")
    done
    mkdir -p "$dir"
    sed "${subst[@]}" "$template" >"$dir/nginx.conf"
}

# nx_run_nginx PIDVAR DIR PORT TIMEOUT_S [WRAPPER...]: starts nginx's master with DIR/nginx.conf
# (written by nx_nginx_conf, listening on PORT) in the foreground under the WRAPPER commands
# (taskset, prlimit: commands that exec theirs), waits until PORT accepts connections and the
# master has forked its worker, and stores the master's PID. Logs are in DIR.
nx_run_nginx() {
    local _nx_pidvar=$1 _nx_dir=$2 _nx_port=$3 _nx_timeout=$4
    shift 4
    local _nx_mpid
    nx_spawn _nx_mpid "$_nx_dir/stdout.log" "$_nx_dir/stderr.log" \
        "$@" nginx -p "$_nx_dir/" -e "$_nx_dir/error.log" -c "$_nx_dir/nginx.conf"
    printf -v "$_nx_pidvar" '%s' "$_nx_mpid"
    if ! nx_wait_port "$_nx_port" "$_nx_timeout" "$_nx_mpid"; then
        cat "$_nx_dir/stderr.log" "$_nx_dir/error.log" >&2 2>/dev/null || true
        return 1
    fi
    # The master opens the socket before it forks the worker.
    local _nx_deadline=$(($(nx_now_us) + _nx_timeout * 1000000))
    until pgrep -P "$_nx_mpid" >/dev/null; do
        if (($(nx_now_us) > _nx_deadline)); then
            nx_warn "nginx started no worker process within ${_nx_timeout}s"
            return 1
        fi
        sleep 0.05
    done
}

# nx_start_nginx PIDVAR DIR PORT TIMEOUT_S [WRAPPER...]: the reference nginx on PORT: writes
# bench/nginx/nginx.conf.in into DIR (nx_nginx_conf) and starts it (nx_run_nginx).
nx_start_nginx() {
    nx_nginx_conf "$NX_ROOT/bench/nginx/nginx.conf.in" "$2" "$3" && nx_run_nginx "$@"
}

# nx_nginx_version: prints the version of the nginx on PATH (e.g. 1.22.1).
nx_nginx_version() { nginx -v 2>&1 | sed -E 's#.*nginx/##'; }

# nx_json_host_fields: the fields every result file starts with (timestamp, kernel, cpu_model,
# nproc, git_commit, git_dirty), one per line, indented two spaces, each ending with a comma.
# Calls nx_host_info.
nx_json_host_fields() {
    nx_host_info
    printf '  "timestamp": %s,\n' "$(nx_json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
    printf '  "kernel": %s,\n' "$(nx_json_str "$NX_KERNEL")"
    printf '  "cpu_model": %s,\n' "$(nx_json_str "$NX_CPU_MODEL")"
    printf '  "nproc": %s,\n' "$NX_NPROC"
    printf '  "git_commit": %s,\n' "$(nx_json_str "$NX_GIT_COMMIT")"
    printf '  "git_dirty": %s,\n' "$NX_GIT_DIRTY"
}

# nx_json_wrk_setup_fields PINNING: the fields that say how a wrk benchmark ran (wrk_version,
# pinned, pinning = PINNING, duration_s, connections, pipeline, rounds, clk_tck; from the caller's
# DURATION, CONNECTIONS, PIPELINE and ROUNDS and nx_setup_pinning), like nx_json_host_fields.
nx_json_wrk_setup_fields() {
    local version
    version=$(wrk -v 2>&1 | awk 'NR == 1 { print $2 }' || true)
    printf '  "wrk_version": %s,\n' "$(nx_json_str "$version")"
    printf '  "pinned": %s,\n' "$( ((NX_PINNED)) && echo true || echo false)"
    printf '  "pinning": %s,\n' "$(nx_json_str "$1")"
    printf '  "duration_s": %s,\n  "connections": %s,\n  "pipeline": %s,\n  "rounds": %s,\n' \
        "$DURATION" "$CONNECTIONS" "$PIPELINE" "$ROUNDS"
    printf '  "clk_tck": %s,\n' "$(nx_clk_tck)"
}

# nx_fmt3 VALUE: VALUE with three decimals, or "null" as is (for medians and ratios in reports).
nx_fmt3() {
    if [[ $1 == null ]]; then printf 'null'; else printf '%.3f' "$1"; fi
}

# nx_median3 VALUES...: nx_median with three decimals (nx_fmt3), or "null".
nx_median3() { nx_fmt3 "$(nx_median "$@")"; }

# nx_ratio A B: prints A/B with three decimals, or "null" when either is "null" or B is 0.
nx_ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "null" || b == "null" || b + 0 == 0) print "null"; else printf "%.3f", a / b }'
}

# nx_parse_servers [NAME...]: splits $SERVERS into the array `servers` (each must be nexure,
# nginx or one of the NAMEs, e.g. the labels of nx_parse_variants) and sets want_nexure=1 when
# nexure (the NX_SERVER_BIN binary) is among them. Dies with a message otherwise.
# shellcheck disable=SC2120 # the NAMEs are optional
nx_parse_servers() {
    # shellcheck disable=SC2153 # SERVERS is the caller's setting
    read -r -a servers <<<"$SERVERS"
    ((${#servers[@]} > 0)) || nx_die "SERVERS is empty"
    local s known=" nexure nginx $* "
    for s in "${servers[@]}"; do
        [[ $known == *" $s "* ]] ||
            nx_die "unknown server '$s' in SERVERS (known:$(printf ' %s' nexure nginx "$@"))"
    done
    want_nexure=0
    [[ " ${servers[*]} " == *" nexure "* ]] && want_nexure=1
    return 0
}

# ---------------------------------------------------------------------------------------------
# nexure-server variants: several nexure-server binaries compared in one run (bench.sh)

# nx_parse_variants: parses $NEXURE_VARIANTS, whitespace-separated LABEL=BINARY pairs such as
# "before=/work/build-before/bin/nexure-server after=build/release/bin/nexure-server", into
# NX_VARIANTS (the labels, in order) and NX_VARIANT_BIN[LABEL] (the binary, made absolute from the
# current directory, without ./ and ../). A label is letters, digits and ._+- (it names files and
# result keys) and is neither "nexure" nor "nginx", which SERVERS already uses; a binary path holds
# no whitespace. Both are empty when NEXURE_VARIANTS is unset or blank. Dies on a malformed or
# repeated label.
NX_VARIANTS=()
declare -gA NX_VARIANT_BIN=()
nx_parse_variants() {
    NX_VARIANTS=()
    NX_VARIANT_BIN=()
    local -a pairs=()
    read -r -a pairs <<<"${NEXURE_VARIANTS:-}"
    local pair label bin
    for pair in "${pairs[@]}"; do
        [[ $pair == *=* ]] || nx_die "NEXURE_VARIANTS: '$pair' is not LABEL=BINARY" \
            "(e.g. after=build/release/bin/nexure-server)"
        label=${pair%%=*} bin=${pair#*=}
        [[ $label =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] ||
            nx_die "NEXURE_VARIANTS: label '$label' must be letters, digits and ._+- only"
        [[ $label != nexure && $label != nginx ]] || nx_die "NEXURE_VARIANTS: the label '$label'" \
            "is reserved (SERVERS' own nexure and nginx); choose another one"
        [[ -z ${NX_VARIANT_BIN[$label]:-} ]] ||
            nx_die "NEXURE_VARIANTS: the label '$label' is given twice"
        [[ -n $bin ]] || nx_die "NEXURE_VARIANTS: '$label=' names no binary"
        [[ $bin == /* ]] || bin=$PWD/$bin
        bin=$(realpath -ms -- "$bin")
        NX_VARIANTS+=("$label")
        NX_VARIANT_BIN[$label]=$bin
    done
}

# nx_is_variant NAME: true when NAME is a label of nx_parse_variants.
nx_is_variant() { [[ -n ${NX_VARIANT_BIN[$1]:-} ]]; }

# nx_nexure_bin SERVER: prints the nexure-server binary of SERVER (nexure or a variant label).
nx_nexure_bin() {
    if [[ $1 == nexure ]]; then
        printf '%s\n' "$NX_SERVER_BIN"
    else
        printf '%s\n' "${NX_VARIANT_BIN[$1]}"
    fi
}

# nx_nexure_version BINARY: prints what `BINARY --version` says (its non-empty lines joined by
# ", ", e.g. "nexure-server 0.1.0, allocator: mimalloc"), or "unknown" when it says nothing or
# fails within 5 s.
nx_nexure_version() {
    local out
    out=$(timeout -k 2 5 "$1" --version 2>/dev/null |
        awk 'NF { sub(/[ \t\r]+$/, ""); printf "%s%s", sep, $0; sep = ", " }') || out=""
    printf '%s\n' "${out:-unknown}"
}

# nx_build_release DIR TIMEOUT_S TARGET [CMAKE-ARG...]: configures the "release" preset of
# CMakePresets.json (its generator and cache variables) into the binary directory DIR, with the
# CMAKE-ARGs (e.g. -DNEXURE_MALLOC=jemalloc) on top, and builds TARGET there with one job per CPU.
# Each of the two steps is stopped after TIMEOUT_S seconds. CMake's output goes to stderr, so the
# caller's stdout keeps only its report. Fails when either step does.
nx_build_release() {
    local dir=$1 limit=$2 target=$3
    shift 3
    (
        cd "$NX_ROOT" &&
            timeout -k 10 "$limit" cmake --preset release -B "$dir" "$@" &&
            timeout -k 10 "$limit" cmake --build "$dir" --target "$target" -j "$(nproc)"
    ) >&2
}

# nx_json_strings STRINGS...: a JSON array of the strings ([] when there are none).
nx_json_strings() {
    local sep='' s
    printf '['
    for s in "$@"; do
        printf '%s%s' "$sep" "$(nx_json_str "$s")"
        sep=', '
    done
    printf ']'
}

# nx_exit_on_failures FAILURES...: when there are any, lists them on stderr and exits 1.
nx_exit_on_failures() {
    (($# == 0)) && return 0
    nx_warn "problems during the run:"
    printf '  - %s\n' "$@" >&2
    exit 1
}
