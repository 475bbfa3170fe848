#!/usr/bin/env bash
# Builds the release preset, starts the example nexure-server on port 8080 (or a free port when
# 8080 is busy), shows a few requests with curl, runs a short wrk load (plain and pipelined),
# then stops the server with SIGTERM and shows its exit status.
#
#   scripts/demo.sh            the demo, then stop the server
#   scripts/demo.sh --serve    the demo, then keep the server running until Ctrl-C
#
# Environment: DURATION=3 (seconds per load run), CONNECTIONS=64, PIPELINE=16,
# SKIP_BUILD=1 to use the existing binary, NEXURE_SERVER=path to use another binary.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

serve=0
for arg in "$@"; do
    case $arg in
        --serve) serve=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            nx_die "unknown argument '$arg'"
            ;;
    esac
done

DURATION=${DURATION:-3}
CONNECTIONS=${CONNECTIONS:-64}
PIPELINE=${PIPELINE:-16}

nx_install_traps

if [[ ${SKIP_BUILD:-0} == 1 ]]; then
    bash "$NX_SCRIPTS/setup.sh"
else
    bash "$NX_SCRIPTS/build.sh" release
fi
nx_require curl wrk
[[ -x $NX_SERVER_BIN ]] || nx_die "$NX_SERVER_BIN was not built"
[[ -x /usr/bin/time ]] || nx_die "/usr/bin/time not found (Debian package 'time')"

heading() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }
if [[ ! -t 1 ]]; then
    heading() { printf '\n== %s ==\n' "$*"; }
fi

# --- start the server ---------------------------------------------------------------------------
nx_setup_pinning
port=8080
if nx_port_busy "$port"; then
    port=$(nx_free_port)
    printf 'Port 8080 is busy; using free port %s instead.\n' "$port"
fi
server_cmd=("$NX_SERVER_BIN" --host 127.0.0.1 --port "$port")
if ((NX_PINNED)); then
    # Like bench.sh: one engine thread on CPU 1, wrk on CPU 0.
    server_cmd=("${NX_PIN_SERVER[@]}" "${server_cmd[@]}" --threads 1)
fi

work=""
nx_tmpdir work
heading "Starting the server"
printf '$ %s\n' "${server_cmd[*]#"$NX_ROOT"/}"
server_pid="" server_port=""
nx_start_server server_pid server_port "$work/nexure-server" 20 "${server_cmd[@]}" ||
    nx_die "nexure-server did not start"
nx_wait_port "$server_port" 10 "$server_pid" || nx_die "nexure-server does not accept connections"
cat "$work/nexure-server.out"
base="http://127.0.0.1:$server_port"

# --- a few requests ---------------------------------------------------------------------------
failed=0

# quoted ARGS...: the arguments as a shell would need them typed (single quotes where needed).
quoted() {
    local arg out=""
    for arg in "$@"; do
        if [[ $arg =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
            out+=" $arg"
        else
            out+=" '${arg//\'/\'\\\'\'}'"
        fi
    done
    printf '%s\n' "${out# }"
}

# show CURL-ARGS...: prints the command, then the response with headers (CRLF made LF).
show() {
    printf '\n$ curl %s\n' "$(quoted "$@")"
    local response rc=0
    response=$(curl --max-time 5 "$@") || rc=$?
    printf '%s\n' "${response//$'\r'/}"
    if ((rc != 0)); then
        printf '(curl failed with exit status %s)\n' "$rc"
        failed=1
    fi
}

heading "Requests"
show -si "$base/"
show -si "$base/json"
show -si "$base/users/42"
show -si -X POST -H 'Content-Type: application/json' --data '{"name":"Ada","langs":["C++","JS"]}' \
    "$base/echo"
show -si "$base/no/such/route"
show -si -X DELETE "$base/json"
show -sI "$base/"
# Answers that come later, and bodies streamed both ways.
show -si "$base/delay/200"
show -si "$base/offload/100"
show -sN "$base/sse/3"
show -s "$base/stream/1048576" -o /dev/null -w '%{http_code}, %{size_download} bytes streamed\n'
show -s -X POST --data-binary "@$NX_SERVER_BIN" "$base/upload"

# --- load ---------------------------------------------------------------------------------------
heading "Load ($NX_PIN_NOTE)"

# load NAME WRK-ARGS...: one wrk run, then its throughput and latency lines and wrk's CPU use.
load() {
    local name=$1
    shift
    local out="$work/$name.wrk" timefile="$work/$name.time" rc=0
    printf '\n$ wrk -t1 -c%s -d%ss %s\n' "$CONNECTIONS" "$DURATION" "${*#"$NX_ROOT"/}"
    nx_run_wrk "$out" "$timefile" "$((DURATION + 30))" \
        -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$@" || rc=$?
    if ((rc != 0)); then
        cat "$out"
        printf '(wrk failed with exit status %s)\n' "$rc"
        failed=1
        return
    fi
    nx_parse_wrk "$out"
    printf '  %s\n' "$NX_WRK_RPS_LINE" "$NX_WRK_LATENCY (avg, stdev, max, +/- stdev)"
    printf '  %s requests, errors: %s, wrk CPU: %s%% of a core\n' \
        "$NX_WRK_REQUESTS" "$(nx_wrk_errors_text)" "$(nx_wrk_cpu_percent "$timefile")"
}

load plain "$base/plaintext"
load pipelined -s "$NX_PIPELINE_LUA" "$base/plaintext" -- "$PIPELINE"

# --- stop ---------------------------------------------------------------------------------------
if ((serve)); then
    heading "Serving"
    printf 'nexure-server is running on %s (pid %s). Press Ctrl-C to stop it.\n' "$base" "$server_pid"
    stop_requested=0
    trap 'stop_requested=1' INT TERM
    set +e
    wait "$server_pid"
    wait_status=$?
    set -e
    nx_install_traps
    if ((!stop_requested)); then
        # The server ended by itself; wait has already collected its status.
        nx_forget_pid "$server_pid"
        printf '\nnexure-server exited by itself with status %s\n' "$wait_status"
        exit "$((wait_status == 0 ? failed : wait_status))"
    fi
    printf '\n'
fi

heading "Stopping the server"
printf '$ kill -TERM %s\n' "$server_pid"
nx_stop_pid "$server_pid" 10
printf 'nexure-server exited with status %s\n' "$NX_STOP_STATUS"
if ((NX_STOP_STATUS != 0)); then
    exit "$NX_STOP_STATUS"
fi
exit "$failed"
