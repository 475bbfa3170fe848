#!/usr/bin/env bash
# Replays the RFC 9110/9112 conformance cases (tests/conformance/cases) against NexureJS and
# against Debian's nginx, side by side, and records where nginx differs from the cases'
# expectations and why.
#
# Starts nexure-conformance-server (every path answers 200) and an nginx with `return 200` for
# every path, both on free ports of 127.0.0.1 with private temporary directories, then runs
# tests/conformance/replay.py: each case is sent whole on a fresh connection to each server. Prints
# one line per case (expected, NexureJS, nginx) and writes tests/conformance/nginx-differences.md,
# whose "Why" column comes from tests/conformance/nginx-notes.txt. Exits non-zero when NexureJS
# itself differs from a case (the test suite would fail too).
#
# Environment:
#   NEXURE_CONFORMANCE_SERVER=path   the server binary (default:
#                                    build/release/bin/nexure-conformance-server; build it with
#                                    cmake --build build/release --target nexure-conformance-server)
#   OUT=path                         where the Markdown goes (default:
#                                    tests/conformance/nginx-differences.md)
# Nothing is read from or written to /etc/nginx or /var; every wait is bounded.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVER_BIN=${NEXURE_CONFORMANCE_SERVER:-$NX_ROOT/build/release/bin/nexure-conformance-server}
CONFORMANCE=$NX_ROOT/tests/conformance
OUT=${OUT:-$CONFORMANCE/nginx-differences.md}
REPLAY_LIMIT=300 # seconds for the whole replay (it takes a few)

nx_require nginx python3 timeout
[[ -x $SERVER_BIN ]] || nx_die "no $SERVER_BIN: build it with cmake --build build/release " \
    "--target nexure-conformance-server, or set NEXURE_CONFORMANCE_SERVER"
nx_install_traps

work=""
nx_tmpdir work

# NexureJS: port 0, the server says which port it got.
nexure_pid=""
nexure_port=""
nx_start_server nexure_pid nexure_port "$work/nexure" 10 "$SERVER_BIN" 0 ||
    nx_die "nexure-conformance-server did not start"

# nginx: the reference configuration of a plain origin server, nothing but `return 200`.
nginx_port=$(nx_free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log info;
$( ((EUID == 0)) && printf 'user root;')

events {
    worker_connections 256;
}

http {
    access_log off;
    client_body_temp_path $work/nginx/client_body_temp;
    proxy_temp_path $work/nginx/proxy_temp;
    fastcgi_temp_path $work/nginx/fastcgi_temp;
    uwsgi_temp_path $work/nginx/uwsgi_temp;
    scgi_temp_path $work/nginx/scgi_temp;
    keepalive_timeout 10s;

    server {
        listen 127.0.0.1:$nginx_port;

        location / {
            default_type text/plain;
            return 200 "ok\n";
        }
    }
}
EOF
nginx_pid=""
nx_spawn nginx_pid "$work/nginx/stdout.log" "$work/nginx/stderr.log" \
    nginx -p "$work/nginx/" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf"
if ! nx_wait_port "$nginx_port" 10 "$nginx_pid"; then
    cat "$work/nginx/stderr.log" "$work/nginx/error.log" >&2 2>/dev/null || true
    nx_die "nginx did not start"
fi
nginx_version=$(nx_nginx_version)
nx_log "NexureJS (pid $nexure_pid) on 127.0.0.1:$nexure_port, nginx $nginx_version (pid" \
    "$nginx_pid) on 127.0.0.1:$nginx_port"

status=0
timeout "$REPLAY_LIMIT" python3 "$CONFORMANCE/replay.py" --cases "$CONFORMANCE/cases" \
    --nexure "$nexure_port" --nginx "$nginx_port" --nginx-version "$nginx_version" \
    --notes "$CONFORMANCE/nginx-notes.txt" --markdown "$OUT" ||
    status=$?
if ((status == 124)); then
    nx_die "the replay did not finish within ${REPLAY_LIMIT}s"
elif ((status > 1)); then
    nx_die "the replay failed (exit status $status)"
fi
nx_log "wrote ${OUT#"$NX_ROOT"/}"
exit "$status"
