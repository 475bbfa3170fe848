#!/usr/bin/env bash
# The Google Benchmark micro-benchmarks of bench/micro, recorded: runs each SUITE's binary with
# --benchmark_format=json, ROUNDS times (separate processes) with REPETITIONS repetitions each in
# random interleaving, and writes
# bench/results/micro-SUITE-<UTC time>.json with the environment (commit, git_dirty, date, CPU,
# kernel), the load on the machine during the run, the medians over the repetitions and Google
# Benchmark's whole report. Prints a Markdown table of the medians. The figures the READMEs quote
# for parsing, routing, the region and pools and the Mailbox come from these files.
#
#   scripts/bench-micro.sh [SUITE...]     SUITE: http alloc router mailbox (default: all four)
#
#   http     build/release/bin/nexure-bench-micro          parsing, parse + route (README.md)
#   alloc    build/release/bin/nexure-bench-alloc          region vs malloc, pool vs new/delete
#   router   build/release/bin/nexure-bench-router-micro   lookups on three tables (net/router)
#   mailbox  build/release/bin/nexure-bench-mailbox        the engine's Mailbox (engine/README.md)
#
# Single-threaded benchmarks run pinned to CPU 1 (taskset -c 1, like the servers of bench.sh) and
# are quoted by CPU time per iteration. Benchmarks of two threads (names with "threads:2" or
# measured in real time: the Mailbox across threads, the router shared between threads) need both
# CPUs: they run in a second invocation on CPUs 0-1 and are quoted by real time. Both sides of a
# comparison (region and malloc, pool and new/delete) are always in the same invocation.
#
# Environment:
#   ROUNDS=3                   processes per benchmark binary, one after the other
#   REPETITIONS=3              repetitions of each benchmark per process; the summary is the median
#                              over all ROUNDS × REPETITIONS (a process can land on a slow memory
#                              layout and stay there: the pool's single acquire/release was seen at
#                              4.6 ns in some processes and 14 ns in every repetition of another)
#   MIN_TIME=0.5               seconds Google Benchmark runs each repetition at least
#   FILTER=regex               only the benchmarks matching it (--benchmark_filter)
#   SKIP_BUILD=1               use the existing build/release binaries instead of building them
#   RESULTS_DIR=bench/results  where the JSON goes
#
# The machine's load is measured around each invocation from /proc/stat: "other" is the CPU time
# of everything else (in % of one core; 200 means both cores were busy with other work), "steal"
# the hypervisor's. It is recorded as measured; a figure taken while other work ran is noisier.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-3}
REPETITIONS=${REPETITIONS:-3}
MIN_TIME=${MIN_TIME:-0.5}
FILTER=${FILTER:-}
SKIP_BUILD=${SKIP_BUILD:-0}
RESULTS_DIR=${RESULTS_DIR:-$NX_ROOT/bench/results}
RUN_LIMIT=900 # seconds, per invocation of a benchmark binary

declare -A SUITE_TARGET=([http]=nexure-bench-micro [alloc]=nexure-bench-alloc
    [router]=nexure-bench-router-micro [mailbox]=nexure-bench-mailbox)
ALL_SUITES=(http alloc router mailbox)
# Benchmarks that use two threads, as Google Benchmark names them.
TWO_THREADS='real_time|threads:'

nx_require_positive ROUNDS REPETITIONS
ROUNDS=$((10#$ROUNDS))
REPETITIONS=$((10#$REPETITIONS))
if ! [[ $MIN_TIME =~ ^[0-9]*\.?[0-9]+$ ]] || ! awk -v s="$MIN_TIME" 'BEGIN { exit !(s > 0) }'; then
    nx_die "MIN_TIME must be a positive number of seconds, got '$MIN_TIME'"
fi
suites=("$@")
((${#suites[@]} > 0)) || suites=("${ALL_SUITES[@]}")
for s in "${suites[@]}"; do
    [[ -n ${SUITE_TARGET[$s]:-} ]] || nx_die "unknown suite '$s' (known: ${ALL_SUITES[*]})"
done

nx_install_traps

# --- build --------------------------------------------------------------------------------------
targets=()
for s in "${suites[@]}"; do
    targets+=("${SUITE_TARGET[$s]}")
done
if [[ $SKIP_BUILD != 1 ]]; then
    bash "$NX_SCRIPTS/setup.sh"
    nx_log "building ${targets[*]} (release preset)"
    (
        cd "$NX_ROOT" && cmake --preset release >/dev/null &&
            cmake --build --preset release --target "${targets[@]}" -j "$(nproc)"
    ) >&2 || nx_die "building ${targets[*]} failed"
fi
nx_require python3 timeout /usr/bin/time
for t in "${targets[@]}"; do
    [[ -x $NX_ROOT/build/release/bin/$t ]] ||
        nx_die "build/release/bin/$t not found (run without SKIP_BUILD=1 to build it)"
done

nx_setup_pinning
if ((NX_PINNED)); then
    pin_one=(taskset -c 1)
    pin_two=(taskset -c "0,1")
    pin_note="single-threaded benchmarks pinned to CPU 1, two-thread ones to CPUs 0-1"
else
    pin_one=()
    pin_two=()
    pin_note="unpinned (${NX_PIN_NOTE#*: })"
fi

work=""
nx_tmpdir work

# --- runs ---------------------------------------------------------------------------------------
# run_invocation SUITE PART FILTER CPUS...: one run of SUITE's binary restricted to the regex
# FILTER on the given pinning prefix; writes $work/SUITE-PART.json (Google Benchmark's report) and
# $work/SUITE-PART.run (this run's facts as one JSON object).
run_invocation() {
    local suite=$1 part=$2 filter=$3
    shift 3
    local bin=$NX_ROOT/build/release/bin/${SUITE_TARGET[$suite]}
    local out=$work/$suite-$part.json err=$work/$suite-$part.err timefile=$work/$suite-$part.time
    local -a cmd=("$@" "$bin" --benchmark_format=json --benchmark_filter="$filter"
        --benchmark_repetitions="$REPETITIONS" --benchmark_enable_random_interleaving=true
        --benchmark_min_time="$MIN_TIME")
    nx_log "$suite ($part): ${cmd[*]#"$NX_ROOT"/}"
    local load0 load1 stat0 stat1 t0 t1 rc=0
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    stat0=$(nx_proc_stat_cpu)
    t0=$(nx_now_us)
    /usr/bin/time -f '%U %S %e' -o "$timefile" timeout -k 5 "$RUN_LIMIT" "${cmd[@]}" \
        >"$out" 2>"$err" || rc=$?
    t1=$(nx_now_us)
    stat1=$(nx_proc_stat_cpu)
    load1=$(cut -d' ' -f1-3 /proc/loadavg)
    if ((rc != 0)); then
        cat "$err" >&2
        nx_die "${SUITE_TARGET[$suite]} failed with exit status $rc"
    fi
    local own_ticks other steal
    own_ticks=$(tail -n 1 "$timefile" | awk -v hz="$(nx_clk_tck)" '{ printf "%d", ($1 + $2) * hz }')
    read -r other steal < <(nx_other_load "$stat0" "$stat1" "$own_ticks" "$((t1 - t0))")
    nx_log "$suite ($part): other load ${other}% of a core, steal ${steal}%, load average" \
        "$load0 -> $load1"
    {
        printf '{"part": %s, "command": %s, ' "$(nx_json_str "$part")" \
            "$(nx_json_str "${cmd[*]#"$NX_ROOT"/}")"
        printf '"wall_s": %s, ' "$(awk -v us="$((t1 - t0))" 'BEGIN { printf "%.1f", us / 1e6 }')"
        printf '"own_cpu_ticks": %s, "other_cpu_percent": %s, "steal_percent": %s, ' \
            "$own_ticks" "$other" "$steal"
        printf '"loadavg_start": %s, "loadavg_end": %s}\n' "$(nx_json_str "$load0")" \
            "$(nx_json_str "$load1")"
    } >"$work/$suite-$part.run"
}

# summarize SUITE FILES...: the medians (and the range, and each round's median) of every benchmark
# in the Google Benchmark reports, as the "medians" JSON object on the first line of output and a
# Markdown table after it.
summarize() {
    python3 - "$@" <<'EOF'
import json, re, statistics, sys

suite, files = sys.argv[1], sys.argv[2:]
TWO = ("real_time", "threads:")
reps = {}
for file_index, path in enumerate(files):
    rnd = int(re.search(r"-([0-9]+)\.json$", path).group(1))
    for b in json.load(open(path))["benchmarks"]:
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        name = b["run_name"]
        per = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
        which = "real_time" if any(t in name for t in TWO) else "cpu_time"
        r = reps.setdefault(name, {"time": which, "ns": [], "items_per_second": [], "rounds": {},
                                   "order": (file_index, b["family_index"],
                                             b["per_family_instance_index"])})
        r["ns"].append(b[which] * per)
        r["rounds"].setdefault(rnd, []).append(b[which] * per)
        if "items_per_second" in b:
            r["items_per_second"].append(b["items_per_second"])
medians = {}
for name, r in sorted(reps.items(), key=lambda kv: kv[1]["order"]):
    m = {"time": r["time"], "repetitions": len(r["ns"]),
         "median_ns": round(statistics.median(r["ns"]), 2),
         "min_ns": round(min(r["ns"]), 2), "max_ns": round(max(r["ns"]), 2),
         "median_ns_per_round": [round(statistics.median(v), 2)
                                 for _, v in sorted(r["rounds"].items())]}
    if r["items_per_second"]:
        m["median_items_per_second"] = round(statistics.median(r["items_per_second"]), 1)
        m["median_ns_per_item"] = round(statistics.median(
            1e9 / ips for ips in r["items_per_second"] if ips > 0), 2)
    medians[name] = m
print(json.dumps(medians, separators=(",", ":")))
print("| benchmark | quoted | median ns | range ns | ns per item (median) |")
print("|---|---|---:|---:|---:|")
for name, m in medians.items():
    item = m.get("median_ns_per_item")
    print(f"| {name} | {m['time']} | {m['median_ns']:,.1f} | {m['min_ns']:,.1f}–{m['max_ns']:,.1f} "
          f"| {'—' if item is None else f'{item:,.2f}'} |")
EOF
}

# exact_regex NAME...: a regex that matches exactly these benchmark names.
exact_regex() {
    local joined
    joined=$(printf '%s\n' "$@" | sed 's/[][\\.^$*+?(){}|]/\\&/g' | paste -sd'|')
    printf '^(%s)$' "$joined"
}

stamp=$(date -u +%Y%m%dT%H%M%SZ)
# The commit and git_dirty are those of the start: edits made while the benchmarks run do not
# change what was measured.
host_fields=$(nx_json_host_fields)
mkdir -p "$RESULTS_DIR"
written=()
for suite in "${suites[@]}"; do
    # The benchmarks of the suite (matching FILTER), split by thread count into two exact lists.
    mapfile -t names < <("$NX_ROOT/build/release/bin/${SUITE_TARGET[$suite]}" \
        --benchmark_list_tests=true ${FILTER:+--benchmark_filter="$FILTER"})
    one=() two=()
    for name in "${names[@]}"; do
        if [[ $name =~ $TWO_THREADS ]]; then two+=("$name"); else one+=("$name"); fi
    done
    rm -f "$work/$suite-"*
    for ((round = 1; round <= ROUNDS; round++)); do
        ((${#one[@]} == 0)) || run_invocation "$suite" "one-thread-$round" \
            "$(exact_regex "${one[@]}")" "${pin_one[@]}"
        ((${#two[@]} == 0)) || run_invocation "$suite" "two-threads-$round" \
            "$(exact_regex "${two[@]}")" "${pin_two[@]}"
    done
    reports=("$work/$suite-"*.json)
    [[ -e ${reports[0]} ]] || nx_die "no benchmark of $suite matched"
    summary=$(summarize "$suite" "${reports[@]}") || nx_die "could not summarize $suite's reports"
    json="$RESULTS_DIR/micro-$suite-$stamp.json"
    {
        printf '{\n%s\n' "$host_fields"
        printf '  "suite": %s,\n' "$(nx_json_str "$suite")"
        printf '  "binary": %s,\n' "$(nx_json_str "build/release/bin/${SUITE_TARGET[$suite]}")"
        printf '  "pinning": %s,\n' "$(nx_json_str "$pin_note")"
        printf '  "rounds": %s,\n  "repetitions": %s,\n  "min_time_s": %s,\n' "$ROUNDS" \
            "$REPETITIONS" "$MIN_TIME"
        printf '  "quoted_time": %s,\n' "$(nx_json_str "cpu_time for single-threaded benchmarks,\
 real_time for two-thread ones (real_time/threads: in the name); medians over all rounds and\
 repetitions")"
        printf '  "runs": [\n'
        sep=''
        for f in "$work/$suite-"*.run; do
            printf '%s    %s' "$sep" "$(<"$f")"
            sep=$',\n'
        done
        printf '\n  ],\n'
        printf '  "medians": %s,\n' "$(head -n 1 <<<"$summary")"
        printf '  "google_benchmark": [\n'
        sep=''
        for f in "${reports[@]}"; do
            printf '%s' "$sep"
            sed 's/^/    /' "$f"
            sep=$',\n'
        done
        printf '\n  ]\n}\n'
    } >"$json"
    python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$json" ||
        nx_die "$json is not valid JSON"
    printf '\n## %s (%s)\n\n%s\n' "$suite" "${SUITE_TARGET[$suite]}" "$(tail -n +2 <<<"$summary")"
    written+=("${json#"$NX_ROOT"/}")
done
printf '\n%s; %s round(s) × %s repetition(s) of at least %s s each.\nResults written to:\n' \
    "$pin_note" "$ROUNDS" "$REPETITIONS" "$MIN_TIME"
printf '  %s\n' "${written[@]}"
