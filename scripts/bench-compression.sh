#!/usr/bin/env bash
# Issue 18's compression figure: a 200 KB JSON answer (bench/compression/data.js) compressed
# with gzip and br, nexurejs (the engine compresses on its worker thread) against Fastify 5 +
# @fastify/compress, and each with compression off as the baseline. For every run: requests/s,
# the whole server process's CPU µs per request, and the CPU µs per request of its JavaScript
# thread alone (utime+stime of /proc/PID/task/PID/stat, node's main thread) — the figure that
# shows what compression costs the JS thread. The method of shared/BENCHMARKING.md: the server
# (all its threads) pinned to CPU 1, wrk pinned to CPU 0, short bounded runs, rounds alternating
# the servers, medians reported.
#
#   scripts/bench-compression.sh [--duration S] [--rounds N] [--connections N]
#
# Writes bench/results/compression-<UTC time>.json. The peers are bench-only dependencies in
# bench/compression/package.json (installed there with npm when missing). Processes started here
# are stopped on exit.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-2}
CONNECTIONS=${CONNECTIONS:-8}
WARMUP=${WARMUP:-1}
while (($#)); do
    case $1 in
        --duration) DURATION=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --connections) CONNECTIONS=$2; shift 2 ;;
        -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
        *) nx_die "unknown option $1 (see --help)" ;;
    esac
done
nx_require_positive DURATION ROUNDS CONNECTIONS WARMUP
nx_require node wrk curl

DIR="$NX_ROOT/bench/compression"
RESULTS_DIR=${RESULTS_DIR:-$NX_ROOT/bench/results}
[[ -f $NX_ROOT/napi/lib/nexurejs.node ]] ||
    (cd "$NX_ROOT" && npm install --no-audit --no-fund) || nx_die "building the addon failed"
[[ -d $DIR/node_modules/@fastify/compress ]] ||
    (cd "$DIR" && npm install --no-audit --no-fund) || nx_die "npm install in $DIR failed"

nx_install_traps
nx_setup_pinning
nx_log "$NX_PIN_NOTE"
nx_tmpdir work

# main_ticks PID: utime+stime of the process's main thread (node's JavaScript thread).
main_ticks() {
    local line
    local -a f
    { read -r line <"/proc/$1/task/$1/stat"; } 2>/dev/null || { printf '0\n'; return; }
    read -r -a f <<<"${line##*) }"
    printf '%s\n' "$((f[11] + f[12]))"
}

SERVERS=(nexurejs fastify)
CODINGS=(identity gzip br)
declare -A res=()
failures=()

run_one() {  # server coding round
    local server=$1 coding=$2 round=$3 key="$1/$2/$3" pid port
    local compression=on
    [[ $coding == identity ]] && compression=off
    COMPRESSION=$compression nx_start_server pid port "$work/$server-$coding-$round" 30 \
        "${NX_PIN_SERVER[@]}" node "$DIR/$server.js" || { failures+=("$key: no start"); return; }
    # What the client gets: the coding asked for, and its size.
    local hdrs size
    hdrs=$(curl -s -o "$work/body" -D - -H "Accept-Encoding: $coding" "http://127.0.0.1:$port/data")
    size=$(stat -c %s "$work/body")
    local got
    got=$(awk -F': *' 'tolower($1) == "content-encoding" { gsub("\r", "", $2); print $2 }' <<<"$hdrs")
    [[ ${got:-identity} == "$coding" ]] ||
        failures+=("$key: asked for $coding, got ${got:-identity}")
    local args=(-t1 "-c$CONNECTIONS" -H "Accept-Encoding: $coding" "http://127.0.0.1:$port/data")
    nx_run_wrk "$work/warm.wrk" "$work/warm.time" $((WARMUP + 10)) "-d${WARMUP}s" "${args[@]}" || true
    local m0 m1
    m0=$(main_ticks "$pid")
    nx_measure_wrk "$key" "$pid" "$work/$server-$coding-$round" $((DURATION + 15)) \
        "-d${DURATION}s" "${args[@]}"
    m1=$(main_ticks "$pid")
    res[$key/main_ticks]=$((m1 - m0))
    res[$key/main_us_per_req]=$(nx_cpu_us_per_req $((m1 - m0)) "${res[$key/requests]}")
    res[$key/bytes]=$size
    nx_log "$key: JS thread ${res[$key/main_us_per_req]} µs CPU/req, $size bytes per answer"
    nx_stop_pid "$pid"
}

for ((round = 1; round <= ROUNDS; round++)); do
    for coding in "${CODINGS[@]}"; do
        for server in "${SERVERS[@]}"; do
            run_one "$server" "$coding" "$round"
        done
    done
done

nx_host_info
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$RESULTS_DIR/compression-$stamp.json"
mkdir -p "$RESULTS_DIR"
{
    printf '{\n  "benchmark": "compression",\n  "time": "%s",\n' "$stamp"
    printf '  "method": {"duration_s": %s, "rounds": %s, "connections": %s, "warmup_s": %s, ' \
        "$DURATION" "$ROUNDS" "$CONNECTIONS" "$WARMUP"
    printf '"pinning": %s, "answer": "GET /data, %s bytes of JSON", ' "$(nx_json_str "$NX_PIN_NOTE")" \
        "$(node -e "process.stdout.write(String(require('$DIR/data.js').length))")"
    printf '"levels": "gzip 6, brotli 4 (both servers)", "node": %s, ' "$(nx_json_str "$(node --version)")"
    printf '"fastify": %s, "fastify_compress": %s},\n' \
        "$(nx_json_str "$(node -p "require('$DIR/node_modules/fastify/package.json').version")")" \
        "$(nx_json_str "$(node -p "require('$DIR/node_modules/@fastify/compress/package.json').version")")"
    printf '  "host": {"kernel": %s, "cpu": %s, "nproc": %s, "commit": "%s", "dirty": %s},\n' \
        "$(nx_json_str "$NX_KERNEL")" "$(nx_json_str "$NX_CPU_MODEL")" "$NX_NPROC" \
        "$NX_GIT_COMMIT" "$NX_GIT_DIRTY"
    printf '  "runs": [\n'
    first=1
    for ((round = 1; round <= ROUNDS; round++)); do
        for coding in "${CODINGS[@]}"; do
            for server in "${SERVERS[@]}"; do
                key="$server/$coding/$round"
                [[ -n ${res[$key/requests]:-} ]] || continue
                ((first)) || printf ',\n'
                first=0
                printf '    {"server": "%s", "coding": "%s", "round": %s, "answer_bytes": %s, ' \
                    "$server" "$coding" "$round" "${res[$key/bytes]}"
                printf '"js_thread_cpu_ticks": %s, "js_thread_cpu_us_per_req": %s, ' \
                    "${res[$key/main_ticks]}" "${res[$key/main_us_per_req]}"
                nx_json_wrk_fields "$key"
                printf '}'
            done
        done
    done
    printf '\n  ],\n  "medians": [\n'
    first=1
    for coding in "${CODINGS[@]}"; do
        for server in "${SERVERS[@]}"; do
            rps=() cpu=() js=() bytes=""
            for ((round = 1; round <= ROUNDS; round++)); do
                key="$server/$coding/$round"
                [[ -n ${res[$key/requests]:-} ]] || continue
                rps+=("${res[$key/rps]}") cpu+=("${res[$key/us_per_req]}")
                js+=("${res[$key/main_us_per_req]}") bytes=${res[$key/bytes]}
            done
            ((${#rps[@]})) || continue
            ((first)) || printf ',\n'
            first=0
            printf '    {"server": "%s", "coding": "%s", "answer_bytes": %s, "req_per_sec": %s, ' \
                "$server" "$coding" "$bytes" "$(nx_median "${rps[@]}")"
            printf '"server_cpu_us_per_req": %s, "js_thread_cpu_us_per_req": %s}' \
                "$(nx_median "${cpu[@]}")" "$(nx_median "${js[@]}")"
        done
    done
    printf '\n  ],\n  "failures": ['
    first=1
    for f in "${failures[@]}"; do
        ((first)) || printf ', '
        first=0
        nx_json_str "$f"
    done
    printf ']\n}\n'
} >"$out"
nx_log "wrote $out"
python3 - "$out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("| server | coding | bytes/answer | req/s | server µs CPU/req | JS thread µs CPU/req |")
print("|---|---|---:|---:|---:|---:|")
for m in d["medians"]:
    print(f"| {m['server']} | {m['coding']} | {m['answer_bytes']:,} | {m['req_per_sec']:,.0f} | "
          f"{m['server_cpu_us_per_req']:.0f} | {m['js_thread_cpu_us_per_req']:.1f} |")
if d["failures"]:
    print("failures:", *d["failures"], sep="\n  ")
PY
