// config::load_string on any text. Loading throws config::Error by design (every problem found,
// one per line); anything else escaping, or a crash, is a bug.
#include <cstdint>
#include <string>
#include <string_view>

#include "rtcgw/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  try {
    // The name places relative paths (document_root, tls) under a directory that does not exist.
    rtcgw::config::Config c = rtcgw::config::load_string(yaml, "/nonexistent/rtcgw-fuzz/rtcgw.yaml");
    for (const auto& u : c.websocket.listen) (void)u.hostport();
    for (const auto& u : c.sip.listen) (void)u.hostport();
  } catch (const rtcgw::config::Error& e) {
    if (e.errors().empty()) __builtin_trap();  // an Error must say what is wrong
  }
  return 0;
}
