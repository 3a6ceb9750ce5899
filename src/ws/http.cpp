#include "ws/http.hpp"

#include <libwebsockets.h>

#include <string>

#include "rtcgw/log.hpp"
#include "rtcgw/metrics.hpp"

namespace rtcgw::ws {

int http_respond(struct lws* wsi, unsigned status, std::string_view content_type,
                 std::string_view body) {
  unsigned char headers[LWS_PRE + 512];
  unsigned char* start = headers + LWS_PRE;
  unsigned char* p = start;
  unsigned char* end = headers + sizeof(headers) - 1;
  const std::string type(content_type);
  if (lws_add_http_common_headers(wsi, status, type.c_str(), body.size(), &p, end) ||
      lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                   reinterpret_cast<const unsigned char*>("no-store"), 8, &p,
                                   end) ||
      lws_finalize_write_http_header(wsi, start, &p, end)) {
    spdlog::warn("ws: http: cannot write the response headers");
    return -1;
  }
  // lws_write needs LWS_PRE bytes of headroom before the payload. A send the kernel takes only in
  // part is kept by lws and finished before anything else goes out on this connection.
  std::string buf(LWS_PRE, '\0');
  buf.append(body);
  auto* payload = reinterpret_cast<unsigned char*>(buf.data() + LWS_PRE);
  if (lws_write(wsi, payload, body.size(), LWS_WRITE_HTTP_FINAL) < static_cast<int>(body.size())) {
    spdlog::debug("ws: http: write failed");
    return -1;
  }
  // Nonzero means the connection is not to be kept alive.
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int http_serve_metrics(struct lws* wsi, std::string_view path, const Metrics& metrics,
                       const HealthFn& health) {
  const bool get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
  if (get && path == "/metrics")
    return http_respond(wsi, HTTP_STATUS_OK, "text/plain; version=0.0.4", metrics.serialize());
  if (get && path == "/health") {
    auto [ok, body] = health ? health() : std::pair<bool, std::string>{true, "{}"};
    return http_respond(wsi, ok ? HTTP_STATUS_OK : HTTP_STATUS_SERVICE_UNAVAILABLE,
                        "application/json", body);
  }
  return http_respond(wsi, HTTP_STATUS_NOT_FOUND, "text/plain", "not found\n");
}

}  // namespace rtcgw::ws
