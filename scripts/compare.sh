#!/usr/bin/env bash
# Compares nexure-server with other HTTP servers on this machine, the way BENCHMARKING.md
# measures: each server alone, pinned to CPU 1 with one worker/process; the load generator pinned
# to CPU 0 with one thread; two workloads (plain keep-alive, pipelined depth 16); for every run
# requests/s, server CPU µs per request (utime+stime from /proc/PID/stat), the load generator's
# CPU share, latency percentiles and errors. Servers: nexure-server, the Node addon's
# examples/hello.js (when it exists), nginx, Node's http module, Fastify, uWebSockets.js and
# ultimate-express answering the hello world (GET /plaintext); and the "small API" of issue 20
# (bench/compare/servers/api-shape.js: a bearer-token check, GET /api/v1/users/:id as JSON, an
# x-request-id added on the way out) on nexurejs, Fastify, uWebSockets.js and ultimate-express
# (the servers named *-api). Load generators: nexload (when build/release/bin/nexload exists)
# and wrk, on the same workloads.
#
# Writes bench/results/compare-<UTC time>.json (every figure and the environment), .md (tables)
# and .png (chart, gnuplot). See bench/compare/README.md.
#
#   scripts/compare.sh [--duration S] [--rounds N] [--servers a,b,...] [--tools a,b] [...]
#
# Every option has an environment variable of the same name in capitals (DURATION, ROUNDS,
# SERVERS, TOOLS, WARMUP, CONNECTIONS, PIPELINE, RESULTS_DIR); an option wins over its variable.
# Everything runs on 127.0.0.1 and every wait is bounded; all processes started here are stopped
# on exit, Ctrl-C or error.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COMPARE_DIR="$NX_ROOT/bench/compare"
COMPARE_PY="$COMPARE_DIR/compare.py"
NEXLOAD_BIN="${NEXLOAD:-$NX_ROOT/build/release/bin/nexload}"
HELLO_JS="$NX_ROOT/examples/hello.js"
KNOWN_SERVERS=(nexure nexure-node nginx node-http fastify uws ultimate-express
    nexure-node-api fastify-api uws-api ultimate-express-api
    node-http-nexure express express-nexure fastify-nexure express-api express-nexure-api
    fastify-nexure-api)
# The small API's request: its path, and the header every request carries (api-shape.js).
API_PATH=/api/v1/users/42
API_HEADER="Authorization: Bearer bench-token"
KNOWN_TOOLS=(nexload wrk)

usage() {
    cat <<EOF
usage: scripts/compare.sh [options]

  --duration S       seconds per measured run (default 5; DURATION)
  --rounds N         rounds; each measures every server in turn (default 3; ROUNDS)
  --warmup S         warm-up seconds after each server starts (default 2; WARMUP)
  --connections N    keep-alive connections (default 64; CONNECTIONS)
  --pipeline N       requests per write in the pipelined workload (default 16; PIPELINE)
  --servers LIST     comma-separated, from: ${KNOWN_SERVERS[*]}
                     (default: all; nexure-node is skipped while examples/hello.js is absent)
  --tools LIST       comma-separated, from: ${KNOWN_TOOLS[*]}
                     (default: nexload when build/release/bin/nexload exists, and wrk)
  --results-dir DIR  where the .json, .md and .png go (default bench/results; RESULTS_DIR)
  --build            build nexure-server (and nexload, when CMake knows the target) even when
                     present; otherwise only a missing nexure-server is built
  --no-chart         do not draw the PNG (gnuplot is then not needed)
  --keep-work        keep the directory with every tool's raw output and the server logs
  -h, --help         this text

A default run (18 servers, 2 load generators, 3 rounds) takes about 26 minutes.
EOF
}

# --- options --------------------------------------------------------------------------------------
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-64}
PIPELINE=${PIPELINE:-16}
SERVERS=${SERVERS:-}
TOOLS=${TOOLS:-}
RESULTS_DIR=${RESULTS_DIR:-$NX_ROOT/bench/results}
BUILD=0
CHART=1
KEEP_WORK=0

need_value() { (($1 >= 2)) || nx_die "option $2 needs a value (see --help)"; }
while (($# > 0)); do
    case $1 in
    --duration) need_value $# "$1"; DURATION=$2; shift 2 ;;
    --rounds) need_value $# "$1"; ROUNDS=$2; shift 2 ;;
    --warmup) need_value $# "$1"; WARMUP=$2; shift 2 ;;
    --connections) need_value $# "$1"; CONNECTIONS=$2; shift 2 ;;
    --pipeline) need_value $# "$1"; PIPELINE=$2; shift 2 ;;
    --servers) need_value $# "$1"; SERVERS=$2; shift 2 ;;
    --tools) need_value $# "$1"; TOOLS=$2; shift 2 ;;
    --results-dir) need_value $# "$1"; RESULTS_DIR=$2; shift 2 ;;
    --duration=* | --rounds=* | --warmup=* | --connections=* | --pipeline=* | --servers=* | \
        --tools=* | --results-dir=*)
        name=${1%%=*} value=${1#*=}
        set -- "$name" "$value" "${@:2}"
        ;;
    --build) BUILD=1; shift ;;
    --no-chart) CHART=0; shift ;;
    --keep-work) KEEP_WORK=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) nx_die "unknown option '$1' (see --help)" ;;
    esac
done

for var in DURATION ROUNDS CONNECTIONS PIPELINE; do
    if ! nx_is_uint "${!var}" || ((10#${!var} == 0)); then
        nx_die "$(tr '[:upper:]' '[:lower:]' <<<"--$var") must be a positive integer, got '${!var}'"
    fi
done
nx_is_uint "$WARMUP" || nx_die "--warmup must be a non-negative integer, got '$WARMUP'"
DURATION=$((10#$DURATION)) ROUNDS=$((10#$ROUNDS)) WARMUP=$((10#$WARMUP))
CONNECTIONS=$((10#$CONNECTIONS)) PIPELINE=$((10#$PIPELINE))

# split_list VAR TEXT: TEXT's comma- or space-separated words into the array VAR, each once.
split_list() {
    local -n _out=$1
    local word
    _out=()
    for word in ${2//,/ }; do
        [[ " ${_out[*]} " == *" $word "* ]] || _out+=("$word")
    done
}

# Which servers: an explicit nexure-node needs examples/hello.js; the default list skips it.
servers=()
explicit_servers=0
if [[ -n ${SERVERS// /} ]]; then
    split_list servers "$SERVERS"
    explicit_servers=1
else
    servers=("${KNOWN_SERVERS[@]}")
fi
((${#servers[@]} > 0)) || nx_die "--servers names no server"
for s in "${servers[@]}"; do
    [[ " ${KNOWN_SERVERS[*]} " == *" $s "* ]] ||
        nx_die "unknown server '$s' (known: ${KNOWN_SERVERS[*]})"
done

tools=()
explicit_tools=0
if [[ -n ${TOOLS// /} ]]; then
    split_list tools "$TOOLS"
    explicit_tools=1
else
    tools=(nexload wrk)
fi
((${#tools[@]} > 0)) || nx_die "--tools names no load generator"
for t in "${tools[@]}"; do
    [[ " ${KNOWN_TOOLS[*]} " == *" $t "* ]] ||
        nx_die "unknown load generator '$t' (known: ${KNOWN_TOOLS[*]})"
done

has() { # has ARRAY-NAME WORD
    local -n _arr=$1
    [[ " ${_arr[*]} " == *" $2 "* ]]
}
drop() { # drop ARRAY-NAME WORD
    local -n _arr=$1
    local -a keep=()
    local w
    for w in "${_arr[@]}"; do [[ $w == "$2" ]] || keep+=("$w"); done
    _arr=("${keep[@]}")
}

nx_install_traps

# --- work directory and the record of what happened -----------------------------------------------
if ((KEEP_WORK)); then
    work=$(mktemp -d "${TMPDIR:-/tmp}/nexure-compare.XXXXXX")
else
    work=""
    nx_tmpdir work
fi
runs_file="$work/runs.jsonl"
events_file="$work/events.jsonl"
: >"$runs_file"
: >"$events_file"

# event KIND KEY VALUE [KEY VALUE]...: one JSON object per line in events.jsonl; compare.py
# turns them into the report's servers, skipped, notes and failures.
event() {
    local kind=$1 line
    shift
    line="{\"kind\": $(nx_json_str "$kind")"
    while (($# >= 2)); do
        line+=", $(nx_json_str "$1"): $(nx_json_str "$2")"
        shift 2
    done
    printf '%s}\n' "$line" >>"$events_file"
}
note() {
    nx_log "note: $*"
    event note text "$*"
}
skip() { # skip WHAT REASON...
    local what=$1
    shift
    nx_log "skipping $what: $*"
    event skipped what "$what" reason "$*"
}
failure() {
    nx_warn "$*"
    event failure text "$*"
}

started_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)
stamp=$(date -u +%Y%m%dT%H%M%SZ)

# --- tools that must be there ---------------------------------------------------------------------
# need CMD PACKAGE: dies naming the Debian package when CMD is missing.
need() {
    nx_have "$1" || nx_die "'$1' not found: install the Debian package '$2'" \
        "(apt-get install -y $2; scripts/setup.sh installs the project's tools)"
}
need python3 python3
need curl curl
need timeout coreutils
need pgrep procps
need getconf libc-bin
need setsid util-linux
[[ -x /usr/bin/time ]] || nx_die "/usr/bin/time not found: install the Debian package 'time'"
((!CHART)) || need gnuplot gnuplot-nox
has tools wrk && need wrk wrk
has servers nginx && need nginx nginx
for s in nexure-node node-http fastify uws ultimate-express nexure-node-api fastify-api uws-api \
    ultimate-express-api node-http-nexure express express-nexure fastify-nexure express-api \
    express-nexure-api fastify-nexure-api; do
    if has servers "$s"; then
        need node nodejs
        break
    fi
done
# The servers whose packages come from bench/compare/node_modules.
npm_servers=0
for s in fastify uws ultimate-express fastify-api uws-api ultimate-express-api express \
    express-nexure fastify-nexure express-api express-nexure-api fastify-nexure-api; do
    has servers "$s" && npm_servers=1
done
((!npm_servers)) || need npm npm
python3 -c 'import sys; sys.exit(sys.version_info < (3, 8))' ||
    nx_die "python3 is older than 3.8; compare.py needs 3.8 or newer"

# --- builds ---------------------------------------------------------------------------------------
# other_build_pids: processes of a build running in build/release (a compiler, linker, ninja,
# make or cmake whose working directory is in it), e.g. someone else's `cmake --build`.
other_build_pids() {
    local p comm cwd
    for p in /proc/[0-9]*; do
        comm=$(cat "$p/comm" 2>/dev/null) || continue
        case $comm in
        ninja | make | gmake | cmake | cc1plus | cc1 | ld | ld.gold | ld.lld | collect2) ;;
        c++ | g++ | gcc | cc | clang*) ;;
        *) continue ;;
        esac
        cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
        [[ $cwd == "$NX_ROOT/build/release" || $cwd == "$NX_ROOT/build/release/"* ]] &&
            printf '%s\n' "${p#/proc/}"
    done
}

# wait_for_other_builds TIMEOUT_S: waits (bounded) until no build runs in build/release, so that
# ours does not race it and no binary is replaced while it is measured.
wait_for_other_builds() {
    local limit=$1 deadline=$(($(nx_now_us) + $1 * 1000000)) said=0
    while [[ -n $(other_build_pids) ]]; do
        if ((!said)); then
            nx_log "a build is running in build/release (pids $(other_build_pids | tr '\n' ' '));" \
                "waiting up to ${limit}s for it to finish"
            said=1
        fi
        (($(nx_now_us) < deadline)) ||
            nx_die "the build in build/release still runs after ${limit}s; try again later"
        sleep 2
    done
}

# cmake_knows_target TARGET: true when the configured build/release has TARGET.
cmake_knows_target() {
    [[ -f $NX_ROOT/build/release/build.ninja || -f $NX_ROOT/build/release/Makefile ]] || return 1
    timeout 60 cmake --build "$NX_ROOT/build/release" --target help 2>/dev/null |
        grep -Eq "(^|[[:space:]])$1(:|$)"
}

build_targets() {
    local -a targets=("$@")
    need cmake cmake
    wait_for_other_builds 1800
    nx_log "building ${targets[*]} (release preset)"
    (
        cd "$NX_ROOT"
        if [[ ! -f build/release/CMakeCache.txt ]]; then
            timeout -k 10 1800 cmake --preset release
        fi
        timeout -k 10 3600 cmake --build build/release --target "${targets[@]}"
    ) >&2 || nx_die "building ${targets[*]} failed (output above)"
}

default_server_bin="$NX_ROOT/build/release/bin/nexure-server"
if has servers nexure; then
    if [[ $NX_SERVER_BIN != "$default_server_bin" ]]; then
        # NEXURE_SERVER names a binary built elsewhere: it is used as it is.
        [[ -x $NX_SERVER_BIN ]] ||
            nx_die "$NX_SERVER_BIN (NEXURE_SERVER) not found or not executable"
        ((!BUILD)) || nx_warn "--build builds build/release, not NEXURE_SERVER's $NX_SERVER_BIN"
    elif ((BUILD)) || [[ ! -x $NX_SERVER_BIN ]]; then
        targets=(nexure-server)
        if ((BUILD)) && [[ -z ${NEXLOAD:-} ]] && has tools nexload &&
            cmake_knows_target nexload; then
            targets+=(nexload)
        fi
        build_targets "${targets[@]}"
    fi
    [[ -x $NX_SERVER_BIN ]] || nx_die "$NX_SERVER_BIN not found after the build"
elif ((BUILD)) && [[ -z ${NEXLOAD:-} ]] && has tools nexload && cmake_knows_target nexload; then
    build_targets nexload
fi

if has tools nexload && [[ ! -x $NEXLOAD_BIN ]]; then
    if ((explicit_tools)); then
        nx_die "$NEXLOAD_BIN not found: build it with" \
            "'cmake --preset release && cmake --build build/release --target nexload'" \
            "(or leave nexload out of --tools)"
    fi
    drop tools nexload
    skip nexload "${NEXLOAD_BIN#"$NX_ROOT"/} does not exist yet (build it with" \
        "'cmake --build build/release --target nexload'); wrk alone measured"
fi
((${#tools[@]} > 0)) || nx_die "no load generator left to run"

# --- the Node servers -----------------------------------------------------------------------------
for s in nexure-node nexure-node-api; do
    if has servers "$s" && [[ ! -f $NX_ROOT/napi/lib/nexurejs.node ]]; then
        ((explicit_servers)) ||
            nx_die "$s needs the Node addon, which is not built: run 'npm install' at the root"
        drop servers "$s"
        skip "$s (the Node addon)" "napi/lib/nexurejs.node is not built (npm install at the root)"
    fi
done
if has servers nexure-node && [[ ! -f $HELLO_JS ]]; then
    if ((explicit_servers)); then
        nx_die "nexure-node needs $HELLO_JS (the Node addon's example), which does not exist yet"
    fi
    drop servers nexure-node
    skip "nexure-node (the Node addon)" "examples/hello.js does not exist yet"
fi

# install_peers: `npm ci` in bench/compare (Fastify, uWebSockets.js, ultimate-express) unless
# node_modules already matches package-lock.json (npm writes node_modules/.package-lock.json on
# every install; it is newer than the lock file then). Bounded; npm's output goes to stderr.
install_peers() {
    local lock="$COMPARE_DIR/package-lock.json"
    local done_marker="$COMPARE_DIR/node_modules/.package-lock.json"
    if [[ -f $lock && -f $done_marker && $done_marker -nt $lock &&
        -f $COMPARE_DIR/node_modules/fastify/package.json &&
        -f $COMPARE_DIR/node_modules/ultimate-express/package.json ]]; then
        return 0
    fi
    local -a cmd=(npm ci)
    [[ -f $lock ]] || cmd=(npm install)
    nx_log "installing the peers into bench/compare/node_modules (${cmd[*]})"
    (cd "$COMPARE_DIR" && timeout -k 10 600 "${cmd[@]}" --no-audit --no-fund) >&2 ||
        nx_die "'${cmd[*]}' in bench/compare failed (the npm registry must be reachable)"
}
((!npm_servers)) || install_peers

((${#servers[@]} > 0)) || nx_die "no server left to measure"

# --- environment ----------------------------------------------------------------------------------
env_file="$work/environment.json"
env_args=(--root "$NX_ROOT" --fastify-dir "$COMPARE_DIR")
has servers nexure && env_args+=(--nexure "$NX_SERVER_BIN")
has tools nexload && env_args+=(--nexload "$NEXLOAD_BIN")
python3 "$COMPARE_PY" environment "${env_args[@]}" >"$env_file" ||
    nx_die "compare.py could not read the environment"

# A build in build/release would replace binaries under measurement and take a core: wait for it
# (bounded), then measure anyway and say so.
if (has servers nexure && [[ $NX_SERVER_BIN == "$default_server_bin" ]]) ||
    (has tools nexload && [[ -z ${NEXLOAD:-} ]]); then
    if [[ -n $(other_build_pids) ]]; then
        nx_log "a build is running in build/release; waiting up to 600s before measuring"
        deadline=$(($(nx_now_us) + 600 * 1000000))
        while [[ -n $(other_build_pids) ]] && (($(nx_now_us) < deadline)); do
            sleep 2
        done
        [[ -z $(other_build_pids) ]] ||
            note "a build was still running in build/release when the measurements started"
    fi
fi

nx_setup_pinning
pin_note=${NX_PIN_NOTE//wrk/the load generator}
clk_tck=$(nx_clk_tck)
tool_limit=$((DURATION + 30))

busy=$(cat /proc/[0-9]*/comm 2>/dev/null | grep -cxE 'cc1plus|cc1|ld|ld\.gold|lld|collect2|rustc' ||
    true)
if ((busy > 0)); then
    note "$busy compiler or linker process(es) were running when the measurements started;" \
        "the figures are noisier than usual"
fi

per_server=$((WARMUP + 2 * ${#tools[@]} * (DURATION + 1) + 3))
estimate=$((ROUNDS * ${#servers[@]} * per_server))
nx_log "$pin_note"
nx_log "servers: ${servers[*]}; load generators: ${tools[*]}; $ROUNDS round(s) of ${DURATION}s" \
    "runs, $CONNECTIONS connections, pipeline depth $PIPELINE; about $(((estimate + 59) / 60)) min"

# --- servers --------------------------------------------------------------------------------------
# start_SERVER: starts it pinned, waits until it accepts connections (bounded) and sets server_pid,
# server_port, server_version and server_command. Fails when it does not come up. Each server runs
# in a session of its own (setsid, which execs, so the PID stays the server's): a Ctrl-C in the
# terminal reaches the script, which stops the server itself, rather than the server directly in
# the middle of a measurement.
node_version=$(node --version 2>/dev/null || printf 'unknown')
# The commit labels the nexure rows of the tables; "-dirty" (git describe's mark) when tracked files
# differ from it, so a row never names a plain commit the measured build was not made from.
nx_host_info
git_short=${NX_GIT_COMMIT:0:7}
[[ $NX_GIT_DIRTY == false ]] || git_short+=-dirty

start_nexure() {
    server_command="$NX_SERVER_BIN --host 127.0.0.1 --port 0 --threads 1"
    nx_start_server server_pid server_port "$work/nexure" 20 \
        setsid "${NX_PIN_SERVER[@]}" "$NX_SERVER_BIN" --host 127.0.0.1 --port 0 --threads 1 ||
        return 1
    nx_wait_port "$server_port" 10 "$server_pid" || return 1
    server_version="($git_short)"
}

start_nginx() {
    server_port=$(nx_free_port)
    server_command="nginx with bench/nginx/nginx.conf.in (worker_processes 1, access_log off)"
    nx_start_nginx server_pid "$work/nginx" "$server_port" 20 setsid "${NX_PIN_SERVER[@]}" ||
        return 1
    server_version=$(nx_nginx_version)
}

# start_node NAME SCRIPT [APP]: a Node server that takes its port from PORT (and which app to
# serve from APP: hello or api).
start_node() {
    local name=$1 script=$2 app=${3:-hello} http=${4:-node}
    server_port=$(nx_free_port)
    server_command="PORT=$server_port APP=$app HTTP=$http node ${script#"$NX_ROOT"/}"
    nx_spawn server_pid "$work/$name.out" "$work/$name.err" \
        env PORT="$server_port" HOST=127.0.0.1 APP="$app" HTTP="$http" NODE_ENV=production \
        setsid "${NX_PIN_SERVER[@]}" node "$script"
    if ! nx_wait_port "$server_port" 30 "$server_pid"; then
        cat "$work/$name.out" "$work/$name.err" >&2
        return 1
    fi
}

start_server() {
    server_pid="" server_port="" server_version="" server_command=""
    case $1 in
    nexure) start_nexure ;;
    nginx) start_nginx ;;
    node-http)
        start_node node-http "$COMPARE_DIR/servers/node-http.js" || return 1
        server_version=$node_version
        ;;
    fastify)
        start_node fastify "$COMPARE_DIR/servers/fastify.js" || return 1
        server_version="$(package_version fastify) (Node $node_version)"
        ;;
    nexure-node)
        start_node nexure-node "$HELLO_JS" || return 1
        server_version="($git_short, Node $node_version)"
        ;;
    nexure-node-api)
        start_node nexure-node-api "$COMPARE_DIR/servers/nexurejs-api.js" api || return 1
        server_version="($git_short, Node $node_version)"
        ;;
    fastify-api)
        start_node fastify-api "$COMPARE_DIR/servers/fastify.js" api || return 1
        server_version="$(package_version fastify) (Node $node_version)"
        ;;
    uws | uws-api)
        start_node "$1" "$COMPARE_DIR/servers/uws.js" "$(app_of "$1")" || return 1
        server_version="20 (npm:uwebsockets@$(package_version uWebSockets.js), Node $node_version)"
        ;;
    node-http-nexure)
        start_node "$1" "$COMPARE_DIR/servers/node-http.js" hello nexurejs || return 1
        server_version="nexurejs/http ($git_short, Node $node_version)"
        ;;
    express | express-api)
        start_node "$1" "$COMPARE_DIR/servers/express.js" "$(app_of "$1")" || return 1
        server_version="$(package_version express) (Node $node_version)"
        ;;
    express-nexure | express-nexure-api)
        start_node "$1" "$COMPARE_DIR/servers/express.js" "$(app_of "$1")" nexurejs || return 1
        server_version="$(package_version express) on nexurejs/http ($git_short, Node $node_version)"
        ;;
    fastify-nexure | fastify-nexure-api)
        start_node "$1" "$COMPARE_DIR/servers/fastify.js" "$(app_of "$1")" nexurejs || return 1
        server_version="$(package_version fastify) on nexurejs/http ($git_short, Node $node_version)"
        ;;
    ultimate-express | ultimate-express-api)
        start_node "$1" "$COMPARE_DIR/servers/ultimate-express.js" "$(app_of "$1")" || return 1
        server_version="$(package_version ultimate-express) (Node $node_version)"
        ;;
    esac
}

# package_version NAME: the version of bench/compare's NAME package, or '?'.
package_version() {
    node -p 'require(process.argv[1]).version' \
        "$COMPARE_DIR/node_modules/$1/package.json" 2>/dev/null || printf '?'
}

# app_of SERVER: what SERVER answers: api (the small API) or hello.
app_of() {
    if [[ $1 == *-api ]]; then printf 'api\n'; else printf 'hello\n'; fi
}

# check_api_reply URL: the small API answers 200 application/json with the user and an
# x-request-id, and 401 without the token.
check_api_reply() {
    local got body="" denied
    got=$(curl -s --max-time 5 -D "$work/reply.head" -o "$work/reply.body" -H "$API_HEADER" \
        -w '%{http_code} %{content_type}' "$1") || got="no answer"
    [[ -f $work/reply.body ]] && body=$(<"$work/reply.body")
    if [[ $got != "200 application/json"* || $body != '{"id":"42","name":"User 42","roles":["reader"]}' ]] ||
        ! grep -qi '^x-request-id: [0-9]' "$work/reply.head" 2>/dev/null; then
        failure "$server: GET $API_PATH answered '$got' with body '$body' instead of 200" \
            "application/json, the user and an x-request-id"
    fi
    denied=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$1") || denied="no answer"
    [[ $denied == 401 ]] ||
        failure "$server: GET $API_PATH without the token answered '$denied' instead of 401"
    rm -f "$work/reply.body" "$work/reply.head"
}

# check_reply URL: the server answers 200, text/plain, "Hello, World!".
check_reply() {
    local got
    got=$(curl -s --max-time 5 -o "$work/reply.body" -w '%{http_code} %{content_type}' "$1") ||
        got="no answer"
    local body=""
    [[ -f $work/reply.body ]] && body=$(<"$work/reply.body")
    if [[ $got != "200 text/plain"* || $body != "Hello, World!" ]]; then
        failure "$server: GET /plaintext answered '$got' with body '$body'" \
            "instead of 200 text/plain 'Hello, World!'"
    fi
    rm -f "$work/reply.body"
}

# --- load generators ------------------------------------------------------------------------------
# run_tool TOOL WORKLOAD SECONDS OUT JSON TIMEFILE URL: one pinned load-generator run, bounded in
# time; stdout to OUT, stderr to OUT.err, its CPU use ("user system elapsed") to TIMEFILE. Returns
# the tool's exit status.
#
# The tool runs in the background and the script waits for it with `wait`, which a trapped signal
# interrupts: Ctrl-C then ends the script (and cleans up) at once. A foreground command would not
# do: bash acts on a SIGINT only once its foreground child has died of it, and /usr/bin/time
# ignores SIGINT and wrk handles it, so the script would go on to the next run.
run_tool() {
    local tool=$1 workload=$2 seconds=$3 out=$4 json=$5 timefile=$6 url=$7
    local -a cmd
    local -a headers=()
    [[ $(app_of "$server") == api ]] && headers=(-H "$API_HEADER")
    case $tool in
    wrk)
        cmd=(wrk -t1 -c"$CONNECTIONS" -d"${seconds}s" --latency "${headers[@]}")
        if [[ $workload == pipelined ]]; then
            cmd+=(-s "$NX_PIPELINE_LUA" "$url" -- "$PIPELINE")
        else
            cmd+=("$url")
        fi
        ;;
    nexload)
        cmd=("$NEXLOAD_BIN" -t 1 -c "$CONNECTIONS" -d "${seconds}s" --latency --no-progress
            --json "$json" "${headers[@]}")
        [[ $workload == pipelined ]] && cmd+=(--pipeline "$PIPELINE")
        cmd+=("$url")
        ;;
    esac
    local tool_pid rc=0
    nx_spawn tool_pid "$out" "$out.err" /usr/bin/time -f '%U %S %e' -o "$timefile" \
        timeout -k 5 "$tool_limit" "${NX_PIN_LOAD[@]}" "${cmd[@]}"
    wait "$tool_pid" || rc=$?
    nx_forget_pid "$tool_pid"
    return "$rc"
}

# measure SERVER WORKLOAD TOOL URL: one measured run; appends its record to runs.jsonl.
measure() {
    local server=$1 workload=$2 tool=$3 url=$4
    local base="$work/r$round-$server-$workload-$tool"
    local -a pids
    mapfile -t pids < <(nx_proc_tree "$server_pid")
    local ticks0 ticks1 t0 t1 rc=0 alive=1
    rm -f "$base.json"
    # The machine's own CPU counters around the run (the "cpu" line of /proc/stat) show how much
    # else ran on the cores meanwhile, and how much the hypervisor took (steal).
    grep -m1 '^cpu ' /proc/stat >"$base.stat0"
    ticks0=$(nx_cpu_ticks_sum "${pids[@]}")
    t0=$(nx_now_us)
    run_tool "$tool" "$workload" "$DURATION" "$base.out" "$base.json" "$base.time" "$url" || rc=$?
    t1=$(nx_now_us)
    ticks1=$(nx_cpu_ticks_sum "${pids[@]}")
    grep -m1 '^cpu ' /proc/stat >"$base.stat1"
    nx_pid_alive "$server_pid" || alive=0
    if ((rc != 0)); then
        nx_warn "$tool exited with status $rc ($server, $workload); its output:"
        tail -n 20 "$base.out" "$base.out.err" >&2 || true
    fi
    python3 "$COMPARE_PY" record --tool "$tool" --server "$server" --workload "$workload" \
        --round "$round" --output "$base.out" --json "$base.json" --time "$base.time" \
        --ticks "$((ticks1 - ticks0))" --clk-tck "$clk_tck" --wall-us "$((t1 - t0))" \
        --exit-code "$rc" --server-alive "$alive" \
        --proc-stat-before "$base.stat0" --proc-stat-after "$base.stat1" >>"$runs_file" ||
        failure "$server $workload ($tool, round $round): its output could not be parsed"
}

# --- the rounds -----------------------------------------------------------------------------------
declare -A described=()
for ((round = 1; round <= ROUNDS; round++)); do
    for server in "${servers[@]}"; do
        nx_log "round $round/$ROUNDS: starting $server"
        if ! start_server "$server"; then
            failure "$server did not start (round $round)"
            [[ -z $server_pid ]] || nx_stop_pid "$server_pid" 5
            continue
        fi
        if [[ -z ${described[$server]:-} ]]; then
            event server server "$server" version "$server_version" command "$server_command"
            described[$server]=1
        fi
        if [[ $(app_of "$server") == api ]]; then
            url="http://127.0.0.1:$server_port$API_PATH"
            check_api_reply "$url"
        else
            url="http://127.0.0.1:$server_port/plaintext"
            check_reply "$url"
        fi
        if ((WARMUP > 0)); then
            nx_log "$server (pid $server_pid, port $server_port): warming up ${WARMUP}s"
            run_tool "${tools[0]}" plain "$WARMUP" "$work/warmup.out" "$work/warmup.json" \
                "$work/warmup.time" "$url" || nx_warn "the warm-up run failed"
        fi
        for workload in plain pipelined; do
            for tool in "${tools[@]}"; do
                nx_pid_alive "$server_pid" || break 2
                measure "$server" "$workload" "$tool" "$url"
            done
        done
        nx_stop_pid "$server_pid" 10
        if ((NX_STOP_STATUS != 0)); then
            failure "$server exited with status $NX_STOP_STATUS when stopped (round $round)"
            tail -n 20 "$work/$server.err" "$work/$server.out" >&2 2>/dev/null || true
        fi
    done
done

# --- the report -----------------------------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
prefix="$RESULTS_DIR/compare-$stamp"
report_args=(--runs "$runs_file" --events "$events_file" --environment "$env_file"
    --out "$prefix" --started "$started_utc"
    --servers "$(IFS=,; echo "${servers[*]}")" --tools "$(IFS=,; echo "${tools[*]}")"
    --duration "$DURATION" --rounds "$ROUNDS" --warmup "$WARMUP" --connections "$CONNECTIONS"
    --pipeline "$PIPELINE" --pinned "$NX_PINNED" --pinning "$pin_note")
((CHART)) || report_args+=(--no-chart)
written=$(python3 "$COMPARE_PY" report "${report_args[@]}") ||
    nx_die "compare.py could not write the report"

printf '\n'
cat "$prefix.md"
printf '\nWritten:\n'
while read -r f; do printf '  %s\n' "${f#"$NX_ROOT"/}"; done <<<"$written"
((KEEP_WORK)) && printf 'Raw outputs and server logs kept in %s\n' "$work"

problems=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["failures"]))' \
    "$prefix.json")
if ((problems > 0)); then
    nx_warn "$problems problem(s) during the run; see 'Problems during the run' above"
    exit 1
fi
