#!/usr/bin/env bash
# Profiles a server under load with perf and turns the samples into a flame graph.
#
#   scripts/profile.sh [--server nexure|nginx | --pid PID[,PID...] [--url URL]] [--seconds N]
#                      [--out DIR] [--frequency HZ] [--call-graph dwarf|fp] [--connections N]
#                      [--keep-perf-data]
#
# By default it starts build/release/bin/nexure-server (NEXURE_SERVER=path for another binary)
# pinned to CPU 1 with --threads 1 on a free port of 127.0.0.1, drives it with wrk pinned to CPU 0
# (GET /plaintext, keep-alive, --connections, default 64), and records the server for --seconds
# (default 10) with `perf record -e cpu-clock` (a software clock: hardware counters are not
# available in VMs) and DWARF call graphs (--call-graph fp needs a build with frame pointers).
# --server nginx profiles the reference nginx the same way. --pid records processes that already
# run; it generates load only when --url names them on 127.0.0.1 (http://127.0.0.1:PORT/PATH).
#
# Writes to --out (default bench/results/profile-<UTC time>/): flamegraph.svg (self-contained:
# opens offline in a browser; hover for numbers, click to zoom, "Search" to highlight),
# stacks.folded (one line per stack with its sample count), top-functions.txt (how the run was
# made and the hottest functions, self and total), wrk.txt (wrk's report, when there was load) and,
# with --keep-perf-data, perf.data for `perf report -i`. Builds nothing: build the release preset
# first (scripts/build.sh release). Needs perf (Debian package linux-perf), python3 and wrk.
#
# Every step is bounded in time, load goes to 127.0.0.1 only, and the processes started here are
# stopped (SIGTERM, bounded wait, SIGKILL) on exit, also on Ctrl-C or error.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,25s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

server=nexure
server_given=0
pids_arg=""
url=""
seconds=10
out=""
frequency=499
call_graph=dwarf
connections=64
keep_data=0

# need_value OPTION VALUE: dies when the option has no value.
need_value() {
    [[ -n ${2:-} ]] || nx_die "$1 needs a value (see --help)"
}

while (($# > 0)); do
    case $1 in
        --server)
            need_value "$1" "${2:-}"
            server=$2 server_given=1
            shift 2
            ;;
        --pid)
            need_value "$1" "${2:-}"
            pids_arg=$2
            shift 2
            ;;
        --url)
            need_value "$1" "${2:-}"
            url=$2
            shift 2
            ;;
        --seconds)
            need_value "$1" "${2:-}"
            seconds=$2
            shift 2
            ;;
        --out)
            need_value "$1" "${2:-}"
            out=$2
            shift 2
            ;;
        --frequency)
            need_value "$1" "${2:-}"
            frequency=$2
            shift 2
            ;;
        --call-graph)
            need_value "$1" "${2:-}"
            call_graph=$2
            shift 2
            ;;
        --connections)
            need_value "$1" "${2:-}"
            connections=$2
            shift 2
            ;;
        --keep-perf-data)
            keep_data=1
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            nx_die "unknown argument '$1'"
            ;;
    esac
done

# --- arguments ----------------------------------------------------------------------------------
# check_range OPTION VALUE MIN MAX: dies unless VALUE is a whole number from MIN to MAX.
check_range() {
    if ! nx_is_uint "$2" || ((${#2} > 6 || 10#$2 < $3 || 10#$2 > $4)); then
        nx_die "$1 must be a whole number from $3 to $4, got '$2'"
    fi
}
check_range --seconds "$seconds" 1 600
check_range --frequency "$frequency" 1 10000
check_range --connections "$connections" 1 10000
seconds=$((10#$seconds)) frequency=$((10#$frequency)) connections=$((10#$connections))
[[ $call_graph == dwarf || $call_graph == fp ]] ||
    nx_die "--call-graph must be dwarf or fp, got '$call_graph'"
[[ $server == nexure || $server == nginx ]] ||
    nx_die "--server must be nexure or nginx, got '$server'"
if [[ -n $pids_arg ]]; then
    ((!server_given)) || nx_die "--pid and --server exclude each other"
    [[ $pids_arg =~ ^[0-9]+(,[0-9]+)*$ ]] ||
        nx_die "--pid takes process ids separated by commas, got '$pids_arg'"
elif [[ -n $url ]]; then
    nx_die "--url is for --pid; with --server the load goes to the server started here"
fi
if [[ -n $url ]]; then
    # Load is only ever generated on this machine's loopback interface.
    [[ $url =~ ^http://(127\.0\.0\.1|localhost)(:[0-9]+)?(/[^[:space:]]*)?$ ]] ||
        nx_die "--url must be http://127.0.0.1:PORT/PATH (load stays on the loopback), got '$url'"
fi

nx_install_traps

# --- tools --------------------------------------------------------------------------------------
nx_have perf || nx_die "perf not found: install Debian's linux-perf package"
nx_require python3 timeout
load=0
if [[ -z $pids_arg || -n $url ]]; then
    load=1
    nx_require wrk
fi
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || printf '2')
if ((EUID != 0)) && ((paranoid > 1)); then
    nx_warn "kernel.perf_event_paranoid is $paranoid and this is not root: perf samples only" \
        "user space, so kernel frames (system calls, TCP, io_uring) will be missing; run as root" \
        "or lower it (sysctl -w kernel.perf_event_paranoid=1) for the whole picture"
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=${out:-$NX_ROOT/bench/results/profile-$stamp}
mkdir -p -- "$out"
out=$(cd -- "$out" && pwd)
# On failure, an output directory left empty is removed again.
drop_empty_out() { rmdir -- "$out" 2>/dev/null || true; }
nx_on_exit drop_empty_out
work=""
nx_tmpdir work

# --- the processes to record --------------------------------------------------------------------
targets=()   # PIDs perf records
label=""     # what is profiled, for titles
server_pid=""
pin_note="not pinned by this script"
if [[ -n $pids_arg ]]; then
    IFS=, read -r -a targets <<<"$pids_arg"
    for p in "${targets[@]}"; do
        nx_pid_alive "$p" || nx_die "process $p does not exist"
    done
    label=$(tr -d '\n' <"/proc/${targets[0]}/comm" 2>/dev/null || printf 'pid %s' "${targets[0]}")
    if ((load)); then
        nx_setup_pinning
        pin_note=$NX_PIN_NOTE
        if ((NX_PINNED)); then
            pin_note="wrk pinned to CPU 0; the recorded processes keep their own affinity"
        fi
    fi
else
    nx_setup_pinning
    pin_note=$NX_PIN_NOTE
    port=$(nx_free_port)
    if [[ $server == nexure ]]; then
        [[ -x $NX_SERVER_BIN ]] ||
            nx_die "$NX_SERVER_BIN not found; build it with scripts/build.sh release" \
                "(or set NEXURE_SERVER=path)"
        nx_start_server server_pid port "$work/nexure" 20 "${NX_PIN_SERVER[@]}" \
            "$NX_SERVER_BIN" --host 127.0.0.1 --port "$port" --threads 1 ||
            nx_die "nexure-server did not start"
        nx_wait_port "$port" 10 "$server_pid" || nx_die "nexure-server does not accept connections"
        mapfile -t targets < <(nx_proc_tree "$server_pid")
        label="nexure-server"
    else
        nx_require nginx
        nx_start_nginx server_pid "$work/nginx" "$port" 10 "${NX_PIN_SERVER[@]}" ||
            nx_die "nginx did not start"
        mapfile -t targets < <(nx_proc_tree "$server_pid")  # the master and its worker
        label="nginx"
    fi
    url="http://127.0.0.1:$port/plaintext"
    if nx_have curl; then
        body=$(curl -s --max-time 5 "$url" || true)
        [[ $body == "Hello, World!" ]] ||
            nx_warn "$label answered GET /plaintext with '$body' instead of 'Hello, World!'"
    fi
fi
pids_csv=$(IFS=,; printf '%s' "${targets[*]}")
nx_log "$pin_note"

# --- load and recording -------------------------------------------------------------------------
wrk_pid=""
if ((load)); then
    # wrk runs a little longer than the recording, which starts once the connections are up.
    wrk_seconds=$((seconds + 2))
    nx_spawn wrk_pid "$work/wrk.txt" "$work/wrk.err" timeout -k 5 "$((wrk_seconds + 30))" \
        "${NX_PIN_LOAD[@]}" wrk -t1 -c"$connections" -d"${wrk_seconds}s" "$url"
    sleep 1
    nx_pid_alive "$wrk_pid" || {
        cat "$work/wrk.txt" "$work/wrk.err" >&2
        nx_die "wrk exited before the recording started"
    }
    nx_log "load: wrk -t1 -c$connections on $url"
fi
nx_log "recording $label (pid $pids_csv) for ${seconds}s: perf record -e cpu-clock" \
    "-F $frequency --call-graph $call_graph"
record_rc=0
timeout --foreground -s INT -k 10 "$((seconds + 60))" perf record -e cpu-clock -F "$frequency" \
    --call-graph "$call_graph" -p "$pids_csv" -o "$work/perf.data" -- sleep "$seconds" \
    >"$work/perf-record.log" 2>&1 || record_rc=$?
if ((record_rc == 130)); then
    nx_warn "interrupted"
    exit 130
elif ((record_rc != 0)); then
    cat "$work/perf-record.log" >&2
    nx_die "perf record failed (exit $record_rc)"
fi

load_desc="none (--pid without --url)"
wrk_summary=$load_desc
if [[ -n $wrk_pid ]]; then
    nx_wait_exit "$wrk_pid" 30 || nx_warn "wrk is still running after its duration; stopping it"
    nx_stop_pid "$wrk_pid" 5
    cp -- "$work/wrk.txt" "$out/wrk.txt"
    nx_parse_wrk "$work/wrk.txt"
    load_desc="wrk -t1 -c$connections $url"
    wrk_summary="$load_desc: $NX_WRK_RPS req/s, errors: $(nx_wrk_errors_text)"
    ((NX_STOP_STATUS == 0)) || nx_warn "wrk exited with status $NX_STOP_STATUS; its report is in $out/wrk.txt"
fi
if [[ -n $server_pid ]]; then
    nx_pid_alive "$server_pid" || nx_warn "$label died during the recording"
    nx_stop_pid "$server_pid" 10
fi

# --- flame graph --------------------------------------------------------------------------------
nx_log "resolving symbols and stacks (perf script)"
timeout -k 10 600 perf script -i "$work/perf.data" -F comm,tid,period,ip,sym,dso \
    >"$work/perf.script" 2>"$work/perf-script.log" || {
    cat "$work/perf-script.log" >&2
    nx_die "perf script failed"
}
timeout -k 10 600 python3 "$NX_SCRIPTS/flamegraph.py" fold "$work/perf.script" \
    >"$out/stacks.folded"
samples=$(awk '{ n += $NF } END { print n + 0 }' "$out/stacks.folded")
((samples > 0)) || nx_die "perf recorded no samples: was $label busy? ($work/perf-record.log:" \
    "$(tr '\n' ' ' <"$work/perf-record.log"))"
title="$label: CPU time over ${seconds}s, $samples samples"
subtitle="perf record -e cpu-clock -F $frequency --call-graph $call_graph; load: $load_desc"
timeout -k 10 600 python3 "$NX_SCRIPTS/flamegraph.py" svg --title "$title" \
    --subtitle "$subtitle" "$out/stacks.folded" >"$out/flamegraph.svg"
{
    printf 'scripts/profile.sh, %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'profiled: %s (pid %s), %ss, perf record -e cpu-clock -F %s --call-graph %s\n' \
        "$label" "$pids_csv" "$seconds" "$frequency" "$call_graph"
    printf 'load: %s\n' "$wrk_summary"
    printf 'pinning: %s\n' "$pin_note"
    printf 'kernel: %s, CPUs: %s\n\n' "$(uname -r)" "$(nproc 2>/dev/null || printf '?')"
    timeout -k 10 600 python3 "$NX_SCRIPTS/flamegraph.py" top --limit 40 "$out/stacks.folded"
} >"$out/top-functions.txt"
if ((keep_data)); then
    mv -- "$work/perf.data" "$out/perf.data"
fi

printf '\nload: %s\n' "$wrk_summary"
sed -n '/^Where the time went/p; /^Self:/,/^$/p' "$out/top-functions.txt" | head -n 18
printf '\nResults in %s:\n' "$out"
printf '  flamegraph.svg      the flame graph: open file://%s/flamegraph.svg in a browser\n' "$out"
printf '  stacks.folded       %s samples, one line per distinct stack\n' "$samples"
printf '  top-functions.txt   the hottest functions, self and total\n'
[[ ! -e $out/wrk.txt ]] || printf '  wrk.txt             the load generator'\''s report\n'
((keep_data == 0)) || printf '  perf.data           perf report -i %s/perf.data\n' "$out"
