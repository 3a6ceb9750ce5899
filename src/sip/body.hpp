// The SDP body of a SIP message, read and replaced (the media anchor rewrites every SDP that
// passes through rtcgw).
#pragma once

#include <string>
#include <string_view>

#include "sip/sofia.hpp"

namespace rtcgw::sip {

// The body when Content-Type is application/sdp and the body is not empty, else "".
std::string_view sdp_body(sip_t const* sip);

// Replaces the body and its Content-Length. False when sofia cannot allocate.
bool set_body(msg_t* msg, sip_t* sip, std::string_view body);

}  // namespace rtcgw::sip
