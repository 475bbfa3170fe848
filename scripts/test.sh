#!/usr/bin/env bash
# The project's test command: installs dependencies, builds the release preset and runs every
# test suite (ctest, then the Node addon's npm install + npm test, then the nexurejs/http compat
# suites of tests/compat), then builds the asan preset and the addon with ASan+UBSan and runs them
# all again under the sanitizers, then runs the cross-thread tests under ThreadSanitizer. Exits
# with the status of the first suite that failed (0 when all passed).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# CI builds with -Werror (STYLE.md); the release preset reads NEXURE_WERROR from the environment.
if [[ "${CI:-}" == "true" ]]; then
    export NEXURE_WERROR=ON
fi

# build.sh runs setup.sh first, so this installs the system packages too.
bash "$NX_SCRIPTS/build.sh" release

status=0
failed=()

# run_suite NAME CMD...: runs one suite and records its failure without stopping the others.
# The tests run under ThreadSanitizer (a ctest -R regex over GoogleTest names).
NX_TSAN_TESTS='^(Mailbox|HandoffTest|HandoffRoutes|ClientTest|CoroTest|WebSocketTest)\.|^ServerTest\.(Stop|ManyConcurrentConnections)|^ServerSetup\.|^Ring\.'

run_suite() {
    local name=$1 rc=0
    shift
    nx_log "running test suite: $name"
    "$@" || rc=$?
    if ((rc != 0)); then
        failed+=("$name (exit $rc)")
        ((status != 0)) || status=$rc
    fi
}

# The Node addon (package.json at the root): `npm install` builds napi/lib/nexurejs.node with CMake
# (napi/scripts/install.cjs) and installs the devDependencies (typescript, for the type check; `ws`,
# the WebSocket peer of nexload's tests in ctest below, which skip without it).
in_root() { (cd "$NX_ROOT" && "$@"); }
run_suite "npm install" in_root npm install --no-audit --no-fund

# --no-tests=error: a build that registered no tests is a failure, not a green run.
run_suite ctest \
    ctest --test-dir "$NX_ROOT/build/release" --output-on-failure --no-tests=error -j2 \
    --timeout 600

# A project that uses the engine, built with add_subdirectory() and with find_package() after
# `cmake --install` (tests/consumer/run.sh).
run_suite "consumer project" bash "$NX_ROOT/tests/consumer/run.sh"

# `npm test` runs the node:test suites of tests/napi/ (install.test.js packs the package, which
# builds the static prebuilt addon into build/prebuilt and prebuilds/, and builds once from source).
if [[ " ${failed[*]} " != *"npm install"* ]]; then
    run_suite "npm test" in_root timeout 900 npm test
    # nexurejs/http against Node's http with ecosystem apps (tests/compat/README.md): the
    # frameworks are that directory's own devDependencies.
    run_suite "compat install" in_root npm ci --prefix tests/compat --no-audit --no-fund
    if [[ " ${failed[*]} " != *"compat install"* ]]; then
        run_suite "compat" in_root timeout 600 node --test --test-concurrency=1 tests/compat/
    fi
fi

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer (the asan preset).
# NEXURE_SKIP_ASAN=1 skips it for a quick local run; CI always runs it.
if [[ "${NEXURE_SKIP_ASAN:-0}" == "1" && "${CI:-}" != "true" ]]; then
    nx_log "skipping the asan suite (NEXURE_SKIP_ASAN=1)"
else
    run_suite "asan build" bash "$NX_SCRIPTS/build.sh" asan
    if [[ " ${failed[*]} " != *"asan build"* ]]; then
        run_suite "ctest (asan)" \
            ctest --test-dir "$NX_ROOT/build/asan" --output-on-failure --no-tests=error -j2 \
            --timeout 900
    fi
    # The addon built with ASan+UBSan, loaded into an uninstrumented node: the runtime goes
    # first (LD_PRELOAD), node's own allocations are suppressed (napi/README.md, "Sanitizers").
    # Undefined behaviour aborts (built with -fno-sanitize-recover; UBSAN_OPTIONS says so too).
    run_suite "addon build (asan)" \
        env NEXURE_SANITIZE=address,undefined node "$NX_ROOT/napi/scripts/build-addon.js"
    if [[ " ${failed[*]} " != *"addon build (asan)"* ]]; then
        asan_env=(env
            LD_PRELOAD="$(g++ -print-file-name=libasan.so)"
            ASAN_OPTIONS=detect_leaks=1
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
            LSAN_OPTIONS="suppressions=$NX_ROOT/tests/napi/native/lsan.supp"
            NEXURE_ADDON="$NX_ROOT/build/npm-address-undefined/napi/nexurejs.node")
        run_suite "npm test (asan)" in_root "${asan_env[@]}" timeout 1200 npm test
        if [[ " ${failed[*]} " != *"compat install"* ]]; then
            run_suite "compat (asan)" in_root "${asan_env[@]}" \
                timeout 600 node --test --test-concurrency=1 tests/compat/
        fi
    fi
fi

# ThreadSanitizer over the tests where threads meet: the Mailbox (SPSC rings and doorbells), the
# handed-off routes (answers from another thread), servers started and stopped with several
# workers, and the Node addon's native bridge (engine threads and the JS thread). Only the binaries
# these need are built (tsan preset, build/tsan); NEXURE_SKIP_TSAN=1 skips it locally.
if [[ "${NEXURE_SKIP_TSAN:-0}" == "1" && "${CI:-}" != "true" ]]; then
    nx_log "skipping the tsan suite (NEXURE_SKIP_TSAN=1)"
else
    run_suite "tsan build" bash "$NX_SCRIPTS/build.sh" tsan nexure-tests-engine \
        nexure-tests-integration nexure-tests-websocket
    if [[ " ${failed[*]} " != *"tsan build"* ]]; then
        run_suite "ctest (tsan)" \
            ctest --test-dir "$NX_ROOT/build/tsan" --output-on-failure --no-tests=error -j2 \
            --timeout 900 -R "$NX_TSAN_TESTS"
    fi
    run_suite "addon build (tsan)" \
        env NEXURE_SANITIZE=thread node "$NX_ROOT/napi/scripts/build-addon.js"
    if [[ " ${failed[*]} " != *"addon build (tsan)"* ]]; then
        run_suite "native bridge tests (tsan)" in_root env \
            LD_PRELOAD="$(g++ -print-file-name=libtsan.so)" \
            TSAN_OPTIONS="halt_on_error=1 suppressions=$NX_ROOT/tests/napi/native/tsan.supp" \
            NEXURE_ADDON="$NX_ROOT/build/npm-thread/napi/nexurejs.node" \
            timeout 900 node --expose-gc --test tests/napi/native/
    fi
fi
# Further suites go here, one run_suite line each.

if ((${#failed[@]} > 0)); then
    nx_warn "failed suites: ${failed[*]}"
fi
exit "$status"
