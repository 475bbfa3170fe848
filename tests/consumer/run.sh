#!/usr/bin/env bash
# Builds tests/consumer/ as a user's project would use NexureJS, both ways, and runs it:
#   1. add_subdirectory() of this checkout, as if simdjson were not installed (nexure::net only);
#   2. find_package(nexurejs COMPONENTS json) of a copy installed with `cmake --install` into a
#      scratch prefix, linking nexure::json too (POST /echo-json);
#   3. find_package(nexurejs) of that copy, nexure::net only: the package does not look for
#      simdjson (it does only for the json component).
# Each way: only the libraries are built for the consumer (no tools, examples or tests, and no
# nexure::json it does not link), the consumer's compile flags carry none of NexureJS's own
# (warnings, -march), and the program answers its requests. Build trees go under
# build/consumer/. Exit status: 0 when all held.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

out="$NX_ROOT/build/consumer"
here="$NX_ROOT/tests/consumer"
rm -rf "$out"
mkdir -p "$out"

# check_consumer BUILD_DIR: the consumer's own compile command has none of NexureJS's flags, no
# NexureJS tool was built for it, and the program runs.
check_consumer() {
    local dir=$1
    python3 - "$dir/compile_commands.json" <<'PY'
import json, sys
commands = [c for c in json.load(open(sys.argv[1])) if c["file"].endswith("tests/consumer/main.cc")]
assert commands, "main.cc is not in compile_commands.json"
command = commands[0]["command"]
for flag in ("-Wshadow", "-march=", "-Werror"):
    assert flag not in command, f"NexureJS's {flag} leaked into the consumer: {command}"
print("consumer flags: none of NexureJS's own")
PY
    for tool in nexload nexure-tune nexure-server; do
        if [[ -e "$dir/bin/$tool" || -n "$(find "$dir" -name "$tool" -type f 2>/dev/null)" ]]; then
            nx_die "$tool was built for a consumer"
        fi
    done
    "$dir/consumer"
}

nx_log "consumer 1/3: add_subdirectory, without simdjson"
cmake -S "$here" -B "$out/subdirectory" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DNEXURE_CONSUMER_MODE=subdirectory \
    -DCMAKE_DISABLE_FIND_PACKAGE_simdjson=ON -DNEXURE_SOURCE_DIR="$NX_ROOT" >/dev/null
cmake --build "$out/subdirectory" -j "$(nproc)" >/dev/null
check_consumer "$out/subdirectory"
if [[ -n "$(find "$out/subdirectory" -name 'libnexure_json*' 2>/dev/null)" ]]; then
    nx_die "nexure::json was built for a consumer that does not link it"
fi

nx_log "consumer 2/3: cmake --install, then find_package(nexurejs COMPONENTS json)"
cmake -S "$NX_ROOT" -B "$out/engine" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DNEXURE_BUILD_TESTS=OFF -DNEXURE_BUILD_BENCH=OFF -DNEXURE_BUILD_EXAMPLES=OFF \
    -DNEXURE_BUILD_TOOLS=OFF -DNEXURE_INSTALL=ON >/dev/null
cmake --build "$out/engine" -j "$(nproc)" >/dev/null
cmake --install "$out/engine" --prefix "$out/prefix" >/dev/null
[[ -f "$out/prefix/lib/cmake/nexurejs/nexurejsConfig.cmake" ]] || nx_die "no package config installed"
[[ -f "$out/prefix/include/nexurejs/net/server.h" ]] || nx_die "no headers installed"
[[ -f "$out/prefix/include/nexurejs/net/json/body.h" ]] || nx_die "no json headers installed"
# Only the public headers: none of the engine's or the server's internals, no liburing or llhttp.
for internal in engine/ring.h engine/worker.h net/worker_server.h net/http1/connection.h \
    net/http/parser.h net/detail/loop_state.h net/client/outbound.h llhttp/llhttp.h; do
    [[ ! -e "$out/prefix/include/nexurejs/$internal" ]] || nx_die "internal header installed: $internal"
done
if grep -rlE '#include <(liburing|llhttp)' "$out/prefix/include/nexurejs" >/dev/null; then
    nx_die "an installed header includes liburing or llhttp: $(grep -rlE '#include <(liburing|llhttp)' "$out/prefix/include/nexurejs")"
fi
cmake -S "$here" -B "$out/package-json" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DNEXURE_CONSUMER_MODE=package -DNEXURE_CONSUMER_JSON=ON \
    -DCMAKE_PREFIX_PATH="$out/prefix" >/dev/null
cmake --build "$out/package-json" -j "$(nproc)" >/dev/null
check_consumer "$out/package-json"

nx_log "consumer 3/3: find_package(nexurejs), simdjson not looked for"
cmake -S "$here" -B "$out/package" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DNEXURE_CONSUMER_MODE=package \
    -DCMAKE_PREFIX_PATH="$out/prefix" >/dev/null
# find_package(simdjson) leaves simdjson_DIR in the cache, found or not: it must not have run.
if grep -q '^simdjson_DIR' "$out/package/CMakeCache.txt"; then
    nx_die "find_package(nexurejs) looked for simdjson without the json component"
fi
cmake --build "$out/package" -j "$(nproc)" >/dev/null
check_consumer "$out/package"
nx_log "consumer: every way built and answered"
