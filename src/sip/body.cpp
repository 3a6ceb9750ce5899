#include "sip/body.hpp"

#include <strings.h>

namespace rtcgw::sip {
namespace {

// Replaces `old` by `h`, or inserts `h` when there was none.
bool put(msg_t* msg, sip_t* sip, msg_header_t* old, msg_header_t* h) {
  auto* pub = reinterpret_cast<msg_pub_t*>(sip);
  return (old ? msg_header_replace(msg, pub, old, h) : msg_header_insert(msg, pub, h)) >= 0;
}

}  // namespace

std::string_view sdp_body(sip_t const* sip) {
  if (!sip || !sip->sip_payload || !sip->sip_content_type) return {};
  const char* type = sip->sip_content_type->c_type;
  if (!type || strcasecmp(type, "application/sdp") != 0) return {};
  const sip_payload_t* pl = sip->sip_payload;
  if (!pl->pl_data || pl->pl_len == 0) return {};
  return {pl->pl_data, pl->pl_len};
}

bool set_body(msg_t* msg, sip_t* sip, std::string_view body) {
  su_home_t* home = msg_home(msg);
  sip_payload_t* pl = sip_payload_make(home, std::string(body).c_str());
  sip_content_length_t* cl = sip_content_length_create(home, uint32_t(body.size()));
  if (!pl || !cl) return false;
  return put(msg, sip, reinterpret_cast<msg_header_t*>(sip->sip_payload),
             reinterpret_cast<msg_header_t*>(pl)) &&
         put(msg, sip, reinterpret_cast<msg_header_t*>(sip->sip_content_length),
             reinterpret_cast<msg_header_t*>(cl));
}

}  // namespace rtcgw::sip
