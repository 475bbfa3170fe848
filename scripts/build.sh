#!/usr/bin/env bash
# Installs the system dependencies (setup.sh), then configures and builds a CMake preset.
#
#   scripts/build.sh [preset [target...]]   preset defaults to "release" (binary dir
#                                           build/<preset>); targets default to all of them
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

preset=${1:-release}
shift || true
targets=()
(($# == 0)) || targets=(--target "$@")

bash "$NX_SCRIPTS/setup.sh"

cd "$NX_ROOT"
[[ -f CMakePresets.json ]] || nx_die "no CMakePresets.json in $NX_ROOT"
nx_log "configuring preset '$preset'"
cmake --preset "$preset"
nx_log "building preset '$preset' with $(nproc) jobs"
cmake --build --preset "$preset" -j "$(nproc)" "${targets[@]}"
