#!/usr/bin/env bash
# General-purpose allocator comparison: builds nexure-server once per allocator (CMake option
# NEXURE_MALLOC) with the release preset's settings, in build/malloc-<allocator> and only the
# nexure-server target (no tests, no micro-benchmarks), then measures the builds and the reference
# nginx in the same interleaved rounds with scripts/bench.sh (as NEXURE_VARIANTS labelled by
# allocator), so a noisy machine affects them alike. Prints bench.sh's tables, including each
# build's ratios to nginx, and writes the figures to bench/results/malloc-<UTC time>.json.
#
# Environment:
#   ALLOCATORS="mimalloc jemalloc system"   the builds, in this order (NEXURE_MALLOC values)
#   SKIP_BUILD=1        use the existing build/malloc-* binaries instead of configuring and building
#   BUILD_TIMEOUT=1800  seconds allowed for each configure and each build
#   ROUNDS, DURATION, WARMUP, CONNECTIONS, PIPELINE, RESULTS_DIR   passed to bench.sh (see there;
#                       its defaults apply). The allocators differ by less than one run's noise
#                       here: use ROUNDS=5 or more for figures worth quoting.
# SERVERS, NEXURE_VARIANTS and RESULTS_PREFIX are set here for bench.sh.
#
# Rebuilding is incremental, so running it again only rebuilds what changed. Every step is bounded
# in time, and the servers bench.sh starts are stopped on exit, also on Ctrl-C or SIGTERM.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALLOCATORS=${ALLOCATORS:-mimalloc jemalloc system}
SKIP_BUILD=${SKIP_BUILD:-0}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-1800}

if ! nx_is_uint "$BUILD_TIMEOUT" || ((10#$BUILD_TIMEOUT == 0)); then
    nx_die "BUILD_TIMEOUT must be a positive integer, got '$BUILD_TIMEOUT'"
fi
read -r -a allocators <<<"$ALLOCATORS"
((${#allocators[@]} > 0)) || nx_die "ALLOCATORS is empty"
for m in "${allocators[@]}"; do
    [[ $m == mimalloc || $m == jemalloc || $m == system ]] ||
        nx_die "unknown allocator '$m' in ALLOCATORS (known: mimalloc jemalloc system)"
done
[[ $(printf '%s\n' "${allocators[@]}" | sort | uniq -d) == "" ]] ||
    nx_die "ALLOCATORS names an allocator twice: $ALLOCATORS"

nx_install_traps

# --- builds -------------------------------------------------------------------------------------
[[ $SKIP_BUILD == 1 ]] || bash "$NX_SCRIPTS/setup.sh"
variants=()
for m in "${allocators[@]}"; do
    dir="$NX_ROOT/build/malloc-$m"
    bin="$dir/bin/nexure-server"
    if [[ $SKIP_BUILD != 1 ]]; then
        nx_log "building nexure-server with NEXURE_MALLOC=$m in ${dir#"$NX_ROOT"/}"
        nx_build_release "$dir" "$BUILD_TIMEOUT" nexure-server -DNEXURE_MALLOC="$m" \
            -DNEXURE_BUILD_TESTS=OFF -DNEXURE_BUILD_BENCH=OFF ||
            nx_die "the NEXURE_MALLOC=$m build failed or took more than ${BUILD_TIMEOUT}s"
    fi
    [[ -x $bin ]] || nx_die "$bin not found (run without SKIP_BUILD=1 to build it)"
    # The binary says which allocator it was linked with: a stale or foreign build is caught here.
    version=$(nx_nexure_version "$bin")
    if [[ $version == unknown ]]; then
        nx_warn "$bin --version printed nothing; cannot check that it uses $m"
    elif [[ $version != *"$m"* ]]; then
        nx_die "$bin is meant to use $m but its --version says: $version"
    fi
    variants+=("$m=$bin")
done

# --- measurements (bench.sh) --------------------------------------------------------------------
# bench.sh runs in the background so that this script's traps (SIGTERM too) can stop it, and it
# then stops its servers; the variants are prebuilt, so it builds nothing.
NEXURE_VARIANTS="${variants[*]}" SERVERS="${allocators[*]} nginx" RESULTS_PREFIX=malloc \
    bash "$NX_SCRIPTS/bench.sh" </dev/null &
bench_pid=$!
NX_PIDS+=("$bench_pid")
status=0
wait "$bench_pid" || status=$?
nx_forget_pid "$bench_pid"
exit "$status"
