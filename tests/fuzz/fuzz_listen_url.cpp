// The value parsers of the configuration, on their own: listen URLs, origins, SIP URIs, IP
// literals and ports (fuzz_config reaches them only through valid YAML).
#include <cstdint>
#include <string>
#include <string_view>

#include "config/validate.hpp"
#include "rtcgw/config.hpp"

using namespace rtcgw::config;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ListenUrl url;
  std::string why;
  if (parse_listen_url(text, url, why)) {
    if (url.port == 0 || url.text != text) __builtin_trap();
    // What hostport() prints must read back as the same address.
    ListenUrl again;
    std::string why2;
    if (!parse_listen_url(url.scheme + "://" + url.hostport(), again, why2)) __builtin_trap();
    if (again.host != url.host || again.port != url.port) __builtin_trap();
  } else if (why.empty()) {
    __builtin_trap();
  }
  (void)check_origin(text);
  (void)check_sip_uri(text);
  (void)is_ip(text);
  (void)is_unspecified_ip(text);
  (void)is_hostname(text);
  uint16_t port;
  (void)parse_port(text, port);
  (void)quote(text);
  (void)suggest(text, {"websocket", "sip", "media", "log", "metrics", "listen"});
  return 0;
}
