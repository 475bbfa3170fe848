// The binding's WebSocket configuration (napi/README.md, "WebSocket"): createServer's config.ws,
// the app.ws() routes, read into WsRouteConfig and registered with net::Server::ws(). JS thread,
// at createServer time only.
#pragma once

#include <node_api.h>

#include "net/server.h"

namespace nexure::napi {

// config.ws = [{path, id, upgradeId?, maxPayload, maxBackpressure, closeOnBackpressureLimit, idleTimeout,
// sendPings, subprotocols: [string], compression: {enabled, serverNoContextTakeover,
// clientNoContextTakeover, serverMaxWindowBits, level, minSize}}]. Absent: nothing to do.
// Throws std::invalid_argument naming the route and the field (napi/lib/ws.cjs checks the
// application's options first, so these are the binding's own guards).
void add_ws_routes(napi_env env, napi_value config, net::Server& server);

}  // namespace nexure::napi
