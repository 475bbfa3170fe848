#!/usr/bin/env bash
# Installs the system packages NexureJS needs to build, test and benchmark (Debian 12 / apt).
#
# Idempotent and quick: it asks dpkg-query which packages are missing and only runs
# `apt-get update` and `apt-get install` when something is. Node.js comes from whatever provides
# `node` already (e.g. nodesource); Debian's nodejs/npm are installed only when `node` is absent.
# Services are never started by the install (nginx is only ever run by bench.sh with its own
# config, so its Debian service is not needed and systemd need not be running).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

packages=(
    # build
    cmake ninja-build g++
    # libraries
    liburing-dev node-llhttp libsimdjson-dev libmimalloc-dev libjemalloc-dev libnuma-dev
    # response compression (net/compress): gzip, br, zstd
    zlib1g-dev libbrotli-dev libzstd-dev
    # WebSocket (net/ws): SHA-1 and base64 for the handshake
    libssl-dev
    # tests and micro-benchmarks
    googletest libgtest-dev libbenchmark-dev
    # fuzzing (the fuzz preset, scripts/fuzz.sh): clang 14 and its libFuzzer/sanitizer runtimes
    clang-14 libclang-rt-14-dev
    # benchmark and demo tools: wrk, the reference nginx, curl, pgrep (procps), taskset
    # (util-linux), /usr/bin/time (time), ss (iproute2)
    wrk nginx curl procps util-linux time iproute2
    # the comparison suite (scripts/compare.sh: charts with gnuplot, tables with python3) and
    # profiling (scripts/profile.sh: perf, flame graphs with python3)
    gnuplot-nox python3 linux-perf
)
if ! nx_have node; then
    packages+=(nodejs)
    nx_have npm || packages+=(npm)
fi

nx_have dpkg-query || nx_die "dpkg-query not found: this script supports Debian-based systems" \
    "only; install these packages by hand: ${packages[*]}"

# missing_packages PKG...: prints the packages that are not fully installed, one per line.
missing_packages() {
    local name status pkg
    local -A installed=()
    # shellcheck disable=SC2016 # ${...} are dpkg-query format fields, not shell expansions
    while read -r name status; do
        [[ $status == ii* ]] && installed[$name]=1
    done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null || true)
    for pkg in "$@"; do
        [[ -n ${installed[$pkg]:-} ]] || printf '%s\n' "$pkg"
    done
}

mapfile -t missing < <(missing_packages "${packages[@]}")
if ((${#missing[@]} == 0)); then
    nx_log "all ${#packages[@]} system packages are installed"
    exit 0
fi
nx_log "installing missing packages: ${missing[*]}"

nx_have apt-get || nx_die "apt-get not found; missing packages: ${missing[*]}"
as_root=()
if ((EUID != 0)); then
    nx_have sudo || nx_die "not root and sudo is not available; missing packages: ${missing[*]}"
    as_root=(sudo)
fi

# Keep package scripts from starting services (nginx's postinst would start the default site on
# port 80 and fail where there is no init system): a policy-rc.d that answers 101 = "forbidden".
policy=/usr/sbin/policy-rc.d
remove_policy() { "${as_root[@]}" rm -f "$policy"; }
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# Temporary, from NexureJS scripts/setup.sh: start no services.\nexit 101\n' |
        "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
    nx_on_exit remove_policy
    nx_install_traps
fi

apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o Dpkg::Use-Pty=0)
"${apt[@]}" update || nx_die "apt-get update failed; still missing: ${missing[*]}"
if ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}"; then
    mapfile -t still < <(missing_packages "${missing[@]}")
    nx_die "apt-get install failed; still missing: ${still[*]:-${missing[*]}}"
fi

mapfile -t still < <(missing_packages "${missing[@]}")
if ((${#still[@]} > 0)); then
    nx_die "these packages are still not installed: ${still[*]}"
fi
if ! nx_have node; then
    nx_die "node is still not on PATH after installing nodejs"
fi
nx_log "installed: ${missing[*]}"
