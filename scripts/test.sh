#!/usr/bin/env bash
# The project's test command: installs dependencies, builds the release preset and runs every
# test suite (ctest, then the Node addon's npm install + npm test), then builds the asan preset and
# the addon with ASan+UBSan and runs them all again under the sanitizers. Exits
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

run_suite ctest \
    ctest --test-dir "$NX_ROOT/build/release" --output-on-failure -j2 --timeout 600

# The Node addon (package.json at the root): `npm install` builds napi/lib/nexurejs.node with CMake
# (napi/scripts/build-addon.js) and installs the devDependencies (typescript, for the type check);
# `npm test` runs the node:test suites of tests/napi/.
in_root() { (cd "$NX_ROOT" && "$@"); }
run_suite "npm install" in_root npm install --no-audit --no-fund
if [[ " ${failed[*]} " != *"npm install"* ]]; then
    run_suite "npm test" in_root timeout 900 npm test
fi

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer (the asan preset).
# NEXURE_SKIP_ASAN=1 skips it for a quick local run; CI always runs it.
if [[ "${NEXURE_SKIP_ASAN:-0}" == "1" && "${CI:-}" != "true" ]]; then
    nx_log "skipping the asan suite (NEXURE_SKIP_ASAN=1)"
else
    run_suite "asan build" bash "$NX_SCRIPTS/build.sh" asan
    if [[ " ${failed[*]} " != *"asan build"* ]]; then
        run_suite "ctest (asan)" \
            ctest --test-dir "$NX_ROOT/build/asan" --output-on-failure -j2 --timeout 900
    fi
    # The addon built with ASan+UBSan, loaded into an uninstrumented node: the runtime goes
    # first (LD_PRELOAD), node's own allocations are suppressed (napi/README.md, "Sanitizers").
    run_suite "addon build (asan)" \
        env NEXURE_SANITIZE=address,undefined node "$NX_ROOT/napi/scripts/build-addon.js"
    if [[ " ${failed[*]} " != *"addon build (asan)"* ]]; then
        run_suite "npm test (asan)" in_root env \
            LD_PRELOAD="$(g++ -print-file-name=libasan.so)" \
            ASAN_OPTIONS=detect_leaks=1 \
            LSAN_OPTIONS="suppressions=$NX_ROOT/tests/napi/native/lsan.supp" \
            NEXURE_ADDON="$NX_ROOT/build/npm-address-undefined/napi/nexurejs.node" \
            timeout 1200 npm test
    fi
fi
# Further suites go here, one run_suite line each.

if ((${#failed[@]} > 0)); then
    nx_warn "failed suites: ${failed[*]}"
fi
exit "$status"
