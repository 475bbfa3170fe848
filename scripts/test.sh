#!/usr/bin/env bash
# The project's test command: installs dependencies, builds the release preset and runs every
# test suite. Exits with the status of the first suite that failed (0 when all passed).
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
# Further suites go here, one run_suite line each.

if ((${#failed[@]} > 0)); then
    nx_warn "failed suites: ${failed[*]}"
fi
exit "$status"
