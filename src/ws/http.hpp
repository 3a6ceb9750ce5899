// Plain HTTP answers written by the server itself: /metrics and /health on the metrics listener,
// and 404 for anything not served by a file mount.
#pragma once

#include <string_view>

#include "rtcgw/ws.hpp"

struct lws;

namespace rtcgw::ws {

// Writes a whole response (headers and body) on an HTTP connection. Returns what the lws callback
// should return: 0 to keep the connection, -1 to close it.
int http_respond(struct lws* wsi, unsigned status, std::string_view content_type,
                 std::string_view body);

// Answers one request on the metrics listener: GET /metrics, GET /health, 404 otherwise.
int http_serve_metrics(struct lws* wsi, std::string_view path, const Metrics& metrics,
                       const HealthFn& health);

}  // namespace rtcgw::ws
