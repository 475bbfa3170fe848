#!/usr/bin/env bash
# Issue 19's WebSocket figures, in one run: uWebSockets.js (the reference), the C++ engine
# (examples/cpp/ws_echo.cc, nexure-example-ws-echo) and nexurejs (bench/ws/servers/nexurejs.js: the
# endpoints of examples/websocket.js on one engine worker), each driven by nexload --ws.
# The method of shared/BENCHMARKING.md: the server alone on CPU 1 (one engine worker, one Node
# process), nexload on CPU 0 with one thread; for every run the messages/s and the server's CPU µs
# per message (utime+stime of /proc/PID/stat before and after, all its threads), and nexload's
# own CPU use, which says whether the load generator was the limit. Workloads:
#   echo of 32-byte text and 16 KiB binary messages over 100 and 1,000 connections (closed loop,
#   one message in flight per connection), on /echo;
#   publish fan-out on /chat: 1,000 subscribers and one publisher at --fanout-rate messages/s.
# Servers that do not exist yet are skipped with a message; nothing is asserted.
#
#   bench/ws/run.sh [--duration S] [--rounds N] [--fanout-rate R]
#                   [--servers "uws nexure-cpp nexurejs nexurejs-borrow"]
#
# Writes bench/results/ws-<UTC time>.json and .md. Takes about (servers x rounds x 5 x (S + 1))
# seconds: under 5 minutes with the defaults. Processes started here are stopped on exit.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

DURATION=${DURATION:-4}
ROUNDS=${ROUNDS:-2}
FANOUT_RATE=${FANOUT_RATE:-200}
SERVERS=${SERVERS:-"uws nexure-cpp nexurejs nexurejs-borrow"}
while (($#)); do
    case $1 in
        --duration) DURATION=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --fanout-rate) FANOUT_RATE=$2; shift 2 ;;
        --servers) SERVERS=$2; shift 2 ;;
        -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
        *) nx_die "unknown option $1 (see --help)" ;;
    esac
done
nx_require_positive DURATION ROUNDS FANOUT_RATE
nx_require node python3

NEXLOAD="$NX_ROOT/build/release/bin/nexload"
COMPARE="$NX_ROOT/bench/compare"
RESULTS_DIR=${RESULTS_DIR:-$NX_ROOT/bench/results}
[[ -x $NEXLOAD ]] || nx_die "no $NEXLOAD: build it first (scripts/build.sh release)"
[[ -d $COMPARE/node_modules/uWebSockets.js ]] ||
    (cd "$COMPARE" && npm install --no-audit --no-fund) || nx_die "npm install in $COMPARE failed"
# 1,000 connections on each side, and nexload's ring.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

nx_install_traps
nx_setup_pinning
NX_PIN_NOTE=${NX_PIN_NOTE//wrk/nexload}
nx_log "$NX_PIN_NOTE"
nx_tmpdir work

# server_command NAME PORT: the command line that serves NAME on PORT, or nothing (and a reason
# on stderr) when it does not exist here yet.
server_command() {
    local name=$1 port=$2
    case $name in
        uws) printf '%s\n' node "$NX_ROOT/bench/ws/servers/uws.js" ;;
        nexure-cpp)
            local bin="$NX_ROOT/build/release/bin/nexure-example-ws-echo"
            if [[ ! -x $bin ]]; then
                nx_warn "nexure-cpp skipped: no $bin (examples/cpp/ws_echo.cc is not on this branch or not built)"
                return 1
            fi
            printf '%s\n' "$bin" --port "$port" --threads 1
            ;;
        nexurejs | nexurejs-borrow)
            if ! grep -Eq '^ +ws(<|\()' "$NX_ROOT/napi/lib/index.d.ts" 2>/dev/null; then
                nx_warn "nexurejs skipped: this branch's nexurejs has no app.ws() yet"
                return 1
            fi
            if [[ ! -f $NX_ROOT/napi/lib/nexurejs.node ]]; then
                nx_warn "nexurejs skipped: the addon is not built (npm install at the root)"
                return 1
            fi
            # nexurejs-borrow: binary messages lent to the handler (borrowMessages), as
            # uWebSockets.js lends them; nexurejs: copied, the default.
            if [[ $name == nexurejs-borrow ]]; then
                printf '%s\n' env BORROW_MESSAGES=1 node "$NX_ROOT/bench/ws/servers/nexurejs.js"
            else
                printf '%s\n' node "$NX_ROOT/bench/ws/servers/nexurejs.js"
            fi
            ;;
        *) nx_die "unknown server '$name' (uws, nexure-cpp, nexurejs, nexurejs-borrow)" ;;
    esac
}

# The workloads: name, path, nexload flags.
WORKLOADS=(echo32-c100 echo32-c1000 echo16k-c100 echo16k-c1000 fanout-c1000)
workload_args() {
    case $1 in
        echo32-c100) printf '%s\n' /echo --ws -c 100 --size 32 ;;
        echo32-c1000) printf '%s\n' /echo --ws -c 1000 --size 32 ;;
        echo16k-c100) printf '%s\n' /echo --ws -c 100 --size 16384 --binary ;;
        echo16k-c1000) printf '%s\n' /echo --ws -c 1000 --size 16384 --binary ;;
        fanout-c1000) printf '%s\n' /chat --ws-fanout -c 1000 -R "$FANOUT_RATE" --size 32 ;;
    esac
}

ROWS="$work/rows.tsv"  # server round workload report.json server_ticks nexload_cpu_percent server_sys_ticks
: >"$ROWS"
failures=()
declare -A versions=()

run_server() {  # name round
    local name=$1 round=$2 port pid
    local -a cmd
    port=$(nx_free_port)
    mapfile -t cmd < <(server_command "$name" "$port") || true
    ((${#cmd[@]})) || return 0
    PORT=$port nx_spawn pid "$work/$name-$round.out" "$work/$name-$round.err" \
        "${NX_PIN_SERVER[@]}" "${cmd[@]}"
    if ! nx_wait_port "$port" 30 "$pid"; then
        failures+=("$name: did not start: $(tail -c 300 "$work/$name-$round.err" | tr '\n' ' ')")
        nx_stop_pid "$pid"
        return 0
    fi
    # A WebSocket at /echo? (one connection, a quarter of a second)
    if ! "$NEXLOAD" --ws -t 1 -c 1 -d 250ms --no-pin --json "$work/check.json" \
        "ws://127.0.0.1:$port/echo" >"$work/check.txt" 2>&1 ||
        ! python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["ws"]["messages"] > 0 else 1)' "$work/check.json"; then
        failures+=("$name: no WebSocket echo at /echo: $(grep -m1 first: "$work/check.txt" || true)")
        nx_stop_pid "$pid"
        return 0
    fi
    # Warm-up (Node's JIT): one second of echo over 100 connections.
    "${NX_PIN_LOAD[@]}" "$NEXLOAD" --ws -t 1 -c 100 -d 1s --no-pin "ws://127.0.0.1:$port/echo" \
        >/dev/null 2>&1 || true
    local w t0 t1 s0 s1
    local -a args
    for w in "${WORKLOADS[@]}"; do
        mapfile -t args < <(workload_args "$w")
        local path=${args[0]} json="$work/$name-$round-$w.json"
        t0=$(nx_cpu_ticks "$pid")
        s0=$(nx_cpu_ticks "$pid" sys)
        /usr/bin/time -f '%U %S %e' -o "$work/time" timeout -k 5 $((DURATION + 30)) \
            "${NX_PIN_LOAD[@]}" "$NEXLOAD" -t 1 -d "${DURATION}s" --timeout 5s --no-pin \
            "${args[@]:1}" --json "$json" "ws://127.0.0.1:$port$path" >"$work/$name-$w.txt" 2>&1 ||
            failures+=("$name $w: nexload failed: $(tail -n 3 "$work/$name-$w.txt" | tr '\n' ' ')")
        t1=$(nx_cpu_ticks "$pid") || true
        s1=$(nx_cpu_ticks "$pid" sys) || true
        if [[ -s $json ]]; then
            local cpu
            cpu=$(tail -n 1 "$work/time" | awk '{ if ($3 > 0) printf "%.1f", ($1 + $2) / $3 * 100; else print "null" }')
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$w" "$json" $((t1 - t0)) "$cpu" \
                $((s1 - s0)) >>"$ROWS"
            nx_log "$name $w (round $round): $(grep -E '^  (messages|deliveries)' "$work/$name-$w.txt" | sed -E 's/ +/ /g'), nexload CPU $cpu%"
        fi
        nx_pid_alive "$pid" || { failures+=("$name: exited during $w"); break; }
    done
    nx_stop_pid "$pid"
}

for ((round = 1; round <= ROUNDS; round++)); do
    for name in $SERVERS; do
        run_server "$name" "$round"
    done
done

nx_host_info
versions_json=$(node -e '
const p = (m) => { try { return require(m).version } catch { return null } };
console.log(JSON.stringify({
  node: process.version,
  "uWebSockets.js": p(process.argv[1] + "/node_modules/uWebSockets.js/package.json"),
}))' "$COMPARE")
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$RESULTS_DIR/ws-$stamp"
mkdir -p "$RESULTS_DIR"
printf '%s\n' "${failures[@]}" >"$work/failures.txt"
python3 - "$ROWS" "$out" "$(nx_clk_tck)" "$stamp" "$DURATION" "$ROUNDS" "$FANOUT_RATE" \
    "$NX_PIN_NOTE" "$NX_KERNEL" "$NX_CPU_MODEL" "$NX_NPROC" "$NX_GIT_COMMIT" "$NX_GIT_DIRTY" \
    "$versions_json" "$work/failures.txt" <<'PY'
import json, statistics, sys
(rows_path, out, hz, stamp, duration, rounds, rate, pin, kernel, cpu, nproc, commit, dirty,
 versions, failures_path) = sys.argv[1:]
hz = int(hz)
runs = []
for line in open(rows_path):
    server, rnd, workload, path, ticks, load_cpu, sys_ticks = line.rstrip("\n").split("\t")
    r = json.load(open(path))
    ws = r["ws"]
    msgs = r["requests"]  # echoes, or deliveries to subscribers
    cpu_us = int(ticks) / hz * 1e6
    run = {
        "server": server, "round": int(rnd), "workload": workload,
        "messages": msgs, "messages_per_s": r["rps"], "duration_s": r["duration_s"],
        "bytes_received_per_s": ws["bytes_received_per_s"], "bytes_sent_per_s": ws["bytes_sent_per_s"],
        "server_cpu_us": cpu_us,
        "server_cpu_us_per_message": cpu_us / msgs if msgs else None,
        "server_sys_us_per_message": int(sys_ticks) / hz * 1e6 / msgs if msgs else None,
        "nexload_cpu_percent": None if load_cpu == "null" else float(load_cpu),
        "errors": r["errors"], "first_error": r.get("first_error"),
        "latency_us": {k: r["latency_us"][k] for k in ("p50", "p90", "p99", "p999", "max")},
        "handshakes": ws["handshakes"], "sent": ws["sent"],
    }
    if ws["mode"] == "fanout":
        run.update({"published": ws["sent"], "subscribers": ws["subscribers"], "own": ws["own"],
                    "gaps": ws["gaps"], "min_per_subscriber": ws["min_per_subscriber"],
                    "max_per_subscriber": ws["max_per_subscriber"],
                    "server_cpu_us_per_published": cpu_us / ws["sent"] if ws["sent"] else None})
    runs.append(run)

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

medians = []
seen = []
for run in runs:
    key = (run["server"], run["workload"])
    if key not in seen:
        seen.append(key)
for server, workload in seen:
    rs = [r for r in runs if r["server"] == server and r["workload"] == workload]
    m = {"server": server, "workload": workload, "rounds": len(rs),
         "messages_per_s": median([r["messages_per_s"] for r in rs]),
         "server_cpu_us_per_message": median([r["server_cpu_us_per_message"] for r in rs]),
         "server_sys_us_per_message": median([r["server_sys_us_per_message"] for r in rs]),
         "nexload_cpu_percent": median([r["nexload_cpu_percent"] for r in rs]),
         "p99_us": median([r["latency_us"]["p99"] for r in rs]),
         "errors": sum(r["errors"]["total"] for r in rs)}
    if workload.startswith("fanout"):
        m["server_cpu_us_per_published"] = median([r["server_cpu_us_per_published"] for r in rs])
        m["gaps"] = sum(r["gaps"] for r in rs)
    medians.append(m)

failures = [l.strip() for l in open(failures_path) if l.strip()]
doc = {
    "benchmark": "ws", "time": stamp,
    "method": {"duration_s": float(duration), "rounds": int(rounds), "fanout_rate": float(rate),
               "pinning": pin, "load_generator": "nexload --ws, one thread",
               "workloads": {
                   "echo32-c100": "echo, 32-byte text, 100 connections, one in flight each",
                   "echo32-c1000": "echo, 32-byte text, 1,000 connections",
                   "echo16k-c100": "echo, 16 KiB binary, 100 connections",
                   "echo16k-c1000": "echo, 16 KiB binary, 1,000 connections",
                   "fanout-c1000": f"/chat: 1,000 subscribers, one publisher at {rate} msg/s; "
                                   "messages = deliveries to subscribers"},
               "versions": json.loads(versions)},
    "host": {"kernel": kernel, "cpu": cpu, "nproc": int(nproc), "commit": commit,
             "dirty": dirty == "true"},
    "runs": runs, "medians": medians, "failures": failures,
}
json.dump(doc, open(out + ".json", "w"), indent=2)

names = {"uws": "uWebSockets.js", "nexure-cpp": "C++ engine (ws_echo.cc)", "nexurejs": "nexurejs",
         "nexurejs-borrow": "nexurejs, borrowMessages"}
lines = [f"# WebSocket: nexure against uWebSockets.js ({stamp})", "",
         f"{pin}; nexload --ws, one thread; {duration} s per run, median of {rounds} round(s); "
         f"commit {commit[:12]}{' (dirty)' if dirty == 'true' else ''}.", "",
         "| workload | server | messages/s | server µs CPU/message | of which kernel | vs uWS.js | p99 latency | nexload CPU | errors |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
ref = {m["workload"]: m for m in medians if m["server"] == "uws"}
for m in medians:
    cpu = m["server_cpu_us_per_message"]
    r = ref.get(m["workload"])
    ratio = (f"{cpu / r['server_cpu_us_per_message']:.2f}x"
             if cpu and r and r["server_cpu_us_per_message"] else "")
    lines.append(f"| {m['workload']} | {names.get(m['server'], m['server'])} | "
                 f"{m['messages_per_s']:,.0f} | {cpu:.2f} | {m['server_sys_us_per_message']:.2f} | {ratio} | "
                 f"{m['p99_us'] / 1000:.2f} ms | {m['nexload_cpu_percent']:.0f}% | {m['errors']} |"
                 if cpu is not None else
                 f"| {m['workload']} | {names.get(m['server'], m['server'])} | 0 | | | | | | {m['errors']} |")
lines += ["", "Fan-out: messages are deliveries to the 1,000 subscribers; CPU per delivery. "
          "\"Of which kernel\": the server's system time (stime) per message, the part of its CPU "
          "the kernel spends on its sockets and rings. "
          "nexload CPU near 100% means the load generator was the limit.", ""]
if failures:
    lines += ["Not measured / failures:", ""] + [f"- {f}" for f in failures]
open(out + ".md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
nx_log "wrote $out.json and $out.md"
