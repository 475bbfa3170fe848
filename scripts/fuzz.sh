#!/usr/bin/env bash
# Builds the fuzz preset (clang, libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer) and
# runs one fuzz target of tests/fuzz for a given time, then prints what the run did.
#
#   scripts/fuzz.sh TARGET [SECONDS] [-- LIBFUZZER-FLAG...]
#   scripts/fuzz.sh parser 600
#   scripts/fuzz.sh router 60 -- -max_len=512 -dict=my.dict
#
# TARGET is a tests/fuzz/TARGET_fuzz.cc (parser, router, connection); SECONDS defaults to 60.
# The run works on a corpus outside the repository, build/fuzz/corpus-TARGET, seeded (again on
# every run) from tests/fuzz/corpus/TARGET and kept between runs; the seed corpus itself is never
# written to.
# Crash, leak and timeout inputs go to build/fuzz/artifacts-TARGET/, the whole libFuzzer log to
# build/fuzz/fuzz-TARGET.log. To keep a reproducer, minimise it
# (build/fuzz/bin/nexure-fuzz-TARGET -minimize_crash=1 -runs=10000 ARTIFACT) and copy the result
# into tests/fuzz/corpus/TARGET/, where the test suite replays it.
#
# Prints executions, executions per second, coverage (cov: edges, ft: features, from libFuzzer's
# final status line), the working corpus's size, and crashes (0 expected). Exits 1 when the run
# found a crash, leak or timeout.
#
# Environment:
#   FRESH_CORPUS=1   start from the seeds alone: the working corpus is emptied first
#   RECORD=1         also write these figures, the environment (commit, git_dirty, date, CPU,
#                    kernel, clang) and the load on the machine during the run (from /proc/stat)
#                    to RESULTS_DIR/fuzz-TARGET-<UTC time>.json (tests/fuzz/README.md quotes them)
#   RESULTS_DIR=bench/results
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    printf 'usage: %s TARGET [SECONDS] [-- LIBFUZZER-FLAG...]\n' "$NX_NAME" >&2
    exit 2
}

(($# >= 1)) || usage
target=$1
shift
seconds=60
if (($# > 0)) && [[ $1 != -- ]]; then
    seconds=$1
    shift
fi
if (($# > 0)); then
    [[ $1 == -- ]] || usage
    shift
fi
extra=("$@")
FRESH_CORPUS=${FRESH_CORPUS:-0}
RECORD=${RECORD:-0}
RESULTS_DIR=${RESULTS_DIR:-$NX_ROOT/bench/results}

[[ $target =~ ^[a-z0-9_]+$ ]] || nx_die "TARGET must be a name like 'parser', got '$target'"
if [[ ! -f $NX_ROOT/tests/fuzz/${target}_fuzz.cc ]]; then
    known=("$NX_ROOT"/tests/fuzz/*_fuzz.cc)
    known=("${known[@]##*/}")
    nx_die "no fuzz target tests/fuzz/${target}_fuzz.cc (there are: ${known[*]%_fuzz.cc})"
fi
if ! nx_is_uint "$seconds" || ((seconds == 0)); then
    nx_die "SECONDS must be a positive integer, got '$seconds'"
fi
nx_require cmake ninja clang++-14

build=$NX_ROOT/build/fuzz
seeds=$NX_ROOT/tests/fuzz/corpus/$target
corpus=$build/corpus-$target
artifacts=$build/artifacts-$target
log=$build/fuzz-$target.log
bin=$build/bin/nexure-fuzz-$target

nx_log "configuring and building the fuzz preset (target nexure-fuzz-$target)"
(
    cd "$NX_ROOT"
    cmake --preset fuzz >/dev/null
    cmake --build --preset fuzz --target "nexure-fuzz-$target" -j "$(nproc)"
) >&2

if [[ $FRESH_CORPUS == 1 ]]; then
    nx_log "FRESH_CORPUS=1: emptying ${corpus#"$NX_ROOT"/}"
    rm -rf -- "$corpus"
fi
mkdir -p "$corpus" "$artifacts"
# Seeds that are not in the working corpus yet (new ones, or ones a merge dropped) go back in.
if [[ -d $seeds ]]; then
    cp -n -- "$seeds"/* "$corpus"/ 2>/dev/null || true
fi
# artifact_list: the artifact files, one per line, sorted.
artifact_list() { find "$artifacts" -type f | sort; }
before=$(artifact_list)

# UBSan only prints by default: make undefined behaviour a crash that libFuzzer reports.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
nx_log "fuzzing $target for ${seconds}s (log: ${log#"$NX_ROOT"/}, corpus: ${corpus#"$NX_ROOT"/})"
status=0
# The commit and git_dirty are those of the start: edits made during the run do not change what ran.
[[ $RECORD != 1 ]] || host_fields=$(nx_json_host_fields)
seeds_in=$(find "$corpus" -type f | wc -l)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
stat0=$(nx_proc_stat_cpu)
t0=$(nx_now_us)
/usr/bin/time -f '%U %S %e' -o "$build/fuzz-$target.time" \
    "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" "${extra[@]}" "$corpus" >"$log" 2>&1 || status=$?
t1=$(nx_now_us)
stat1=$(nx_proc_stat_cpu)
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# libFuzzer's last status line: "#123 DONE cov: 1 ft: 2 corp: 3/4b ..." (or the last before a crash).
last=$(grep -E '^#[0-9]+[[:space:]]+[A-Z]+[[:space:]]+cov:' "$log" | tail -n 1 || true)
field() { sed -nE "s/.*[[:space:]]$1:[[:space:]]*([^[:space:]]+).*/\1/p" <<<"$last"; }
final_stat() { sed -nE "s/^stat::$1:[[:space:]]*([0-9]+).*/\1/p" "$log" | tail -n 1; }

execs=$(final_stat number_of_executed_units)
rate=$(final_stat average_exec_per_sec)
[[ -n $execs ]] || execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")
mapfile -t found < <(comm -13 <(printf '%s\n' "$before") <(artifact_list) | grep -v '^$' || true)
crashes=${#found[@]}
if ((status != 0 && crashes == 0)); then
    crashes=1 # it died without writing an artifact: still a failure
fi

corpus_files=$(find "$corpus" -type f | wc -l)
corpus_bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
own_ticks=$(tail -n 1 "$build/fuzz-$target.time" |
    awk -v hz="$(nx_clk_tck)" 'NF == 3 { printf "%d", ($1 + $2) * hz }')
read -r other steal < <(nx_other_load "$stat0" "$stat1" "${own_ticks:-0}" "$((t1 - t0))")

printf 'target:      %s\n' "$target"
printf 'time:        %ss\n' "$seconds"
printf 'executions:  %s\n' "${execs:-unknown}"
printf 'exec/s:      %s\n' "${rate:-unknown}"
printf 'coverage:    cov %s, ft %s\n' "$(field cov)" "$(field ft)"
printf 'corpus:      %s files, %s bytes in %s (libFuzzer: %s); %s files at the start\n' \
    "$corpus_files" "$corpus_bytes" "${corpus#"$NX_ROOT"/}" "$(field corp)" "$seeds_in"
printf 'peak rss:    %s MB\n' "$(final_stat peak_rss_mb)"
printf 'crashes:     %s\n' "$crashes"
printf 'other load:  %s%% of a core, steal %s%% (load average %s -> %s)\n' "$other" "$steal" \
    "$load0" "$load1"

if [[ $RECORD == 1 ]]; then
    # json_num VALUE: VALUE when it is a number, else null.
    json_num() { if [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then printf '%s' "$1"; else printf 'null'; fi; }
    mkdir -p "$RESULTS_DIR"
    json="$RESULTS_DIR/fuzz-$target-$(date -u +%Y%m%dT%H%M%SZ).json"
    {
        printf '{\n%s\n' "$host_fields"
        printf '  "target": %s,\n' "$(nx_json_str "$target")"
        printf '  "command": %s,\n' "$(nx_json_str "scripts/fuzz.sh $target $seconds${extra[*]:+ -- ${extra[*]}}")"
        printf '  "fuzzer": %s,\n' "$(nx_json_str "$(clang++-14 --version | head -n 1)")"
        printf '  "fresh_corpus": %s,\n' "$([[ $FRESH_CORPUS == 1 ]] && echo true || echo false)"
        printf '  "affinity": %s,\n' "$(nx_json_str "$(taskset -pc $$ 2>/dev/null | sed 's/.*: //')")"
        printf '  "seconds": %s,\n' "$seconds"
        printf '  "corpus_files_at_start": %s,\n' "$seeds_in"
        printf '  "executions": %s,\n  "exec_per_sec": %s,\n' "$(json_num "$execs")" \
            "$(json_num "$rate")"
        printf '  "cov": %s,\n  "ft": %s,\n' "$(json_num "$(field cov)")" "$(json_num "$(field ft)")"
        printf '  "corpus_files": %s,\n  "corpus_bytes": %s,\n' "$corpus_files" "$corpus_bytes"
        printf '  "libfuzzer_corp": %s,\n' "$(nx_json_str "$(field corp)")"
        printf '  "peak_rss_mb": %s,\n' "$(json_num "$(final_stat peak_rss_mb)")"
        printf '  "crashes": %s,\n' "$crashes"
        printf '  "other_cpu_percent": %s,\n  "steal_percent": %s,\n' "$other" "$steal"
        printf '  "loadavg_start": %s,\n  "loadavg_end": %s,\n' "$(nx_json_str "$load0")" \
            "$(nx_json_str "$load1")"
        printf '  "last_status_line": %s\n}\n' "$(nx_json_str "$last")"
    } >"$json"
    printf 'recorded:    %s\n' "${json#"$NX_ROOT"/}"
fi
if ((crashes > 0)); then
    nx_warn "libFuzzer exited with status $status; new artifacts:${found[*]/#/ }"
    grep -m 1 -E 'ERROR: |SUMMARY: |check failed|runtime error' "$log" >&2 || true
    exit 1
fi
