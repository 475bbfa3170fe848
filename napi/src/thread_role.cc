#include "napi/src/thread_role.h"

namespace nexure::napi {

namespace {
// initial-exec: a slot in the static TLS block that glibc reserves for dlopen'd modules, instead
// of a lazily allocated dynamic one (no __tls_get_addr on the NAPI() guard's path, and nothing
// allocated per thread behind the sanitizers' back).
[[gnu::tls_model("initial-exec")]] thread_local bool t_engine_thread = false;
}  // namespace

void mark_engine_thread() noexcept {
    t_engine_thread = true;
}
bool on_engine_thread() noexcept {
    return t_engine_thread;
}

}  // namespace nexure::napi
