// One WebSocket frame from a browser through rtcgw::sip::parse, then what the proxy does with it:
// a 400 (or other) response formed from the request, the header edits of from_browser.cpp and
// proxy.cpp, printing, and re-parsing. A message that parsed ok must still parse ok after the
// edits (else rtcgw would forward text the next hop cannot read): __builtin_trap otherwise.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sip/headers.hpp"
#include "sip/message.hpp"

using namespace rtcgw::sip;

namespace {

[[noreturn]] void fail(const char* what, const std::string& a, const std::string& b) {
  std::fprintf(stderr, "fuzz_sip_frame: %s\n---- before\n%s\n---- after\n%s\n----\n", what,
               a.c_str(), b.c_str());
  __builtin_trap();
}

// The edits rtcgw makes on a browser request (and some on responses), with the values it uses.
void edit(msg_t* msg, sip_t* sip) {
  mark_received(msg, sip, "192.0.2.7", 50123);
  decrement_max_forwards(msg, sip);
  remove_named(msg, sip, "Security-Client");
  remove_named(msg, sip, "Security-Verify");
  remove_named(msg, sip, "P-Asserted-Identity");
  remove_named(msg, sip, "P-Charging-Vector");
  add_unknown(msg, sip, "P-Charging-Vector", "icid-value=\"rtcgw.0123456789abcdef\"");
  add_unknown(msg, sip, "P-Visited-Network-ID", "\"ims.example.net\"");
  add_header(msg, sip, sip_path_class,
             "<sip:AAAAAAAAAAEAAAAAAAAAAAAAAAAA@127.0.0.1:5070;transport=udp;lr;ob>");
  ensure_supported(msg, sip, "path");
  ensure_supported(msg, sip, "outbound");
  add_header(msg, sip, sip_record_route_class,
             "<sip:AAAAAAAAAAEAAAAAAAAAAAAAAAAA@192.0.2.1:8080;transport=ws;lr>");
  add_header(msg, sip, sip_record_route_class,
             "<sip:AAAAAAAAAAEAAAAAAAAAAAAAAAAA@127.0.0.1:5070;transport=udp;lr>");
  add_header(msg, sip, sip_route_class, "<sip:127.0.0.1:5060;transport=udp;lr>");
  add_header(msg, sip, sip_via_class,
             "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK0123456789abcdefghijkl;rport");
  vias_first(msg, sip);
  (void)has_named(sip, "Path");
  (void)has_named(sip, "X-Unknown");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view frame(reinterpret_cast<const char*>(data), size);
  Parsed p = parse(frame);
  sip_t* sip = p.sip();
  if (!sip) return 0;
  bool respond = can_respond(sip);
  if (!p.ok() && !respond) return 0;

  std::string before = print(p.msg.get());
  (void)method_name(sip);
  if (respond) {
    std::string r = response_text(sip, p.ok() ? 200 : 400,
                                  p.ok() ? "OK" : "Bad Request - " + p.detail, "0123456789",
                                  "Warning: 399 rtcgw \"fuzz\"\r\n");
    (void)parse(r);
    if (sip->sip_contact) (void)url_text(sip->sip_contact->m_url);
    if (sip->sip_request) (void)url_text(sip->sip_request->rq_url);
  }

  edit(p.msg.get(), sip);
  std::string after = print(p.msg.get());
  if (!p.ok()) {
    (void)parse(after);
    return 0;
  }
  // RTCGW_FUZZ_SKIP_NUL=1 skips the check for frames with a NUL byte before the body (a known
  // src/ bug, README.md), to look for other problems while that one is open.
  static const bool skip_nul = std::getenv("RTCGW_FUZZ_SKIP_NUL") != nullptr;
  if (skip_nul) {
    size_t end = frame.find("\r\n\r\n");
    if (frame.substr(0, end).find('\0') != std::string_view::npos) return 0;
  }
  if (after.empty()) fail("print() returned nothing after the edits", before, after);
  Parsed again = parse(after);
  if (!again.ok()) {
    std::fprintf(stderr, "re-parse: %.*s: %s\n", static_cast<int>(again.error.size()),
                 again.error.data(), again.detail.c_str());
    fail("an ok message no longer parses ok after the proxy's edits", before, after);
  }
  return 0;
}
