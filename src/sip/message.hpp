// SIP messages as they cross the WebSocket: parsing one frame into a sofia msg_t, printing a
// msg_t back to text, and forming responses rtcgw answers itself (400, 430, 483, ...).
#pragma once

#include <string>
#include <string_view>

#include "sip/sofia.hpp"

namespace rtcgw::sip {

struct Parsed {
  MsgPtr msg;              // set whenever sofia could make anything of the text (even on error)
  std::string_view error;  // empty when the message is usable; else a metric label
  std::string detail;      // what was wrong, for the log and the 400 reason phrase

  bool ok() const { return error.empty(); }
  sip_t* sip() const { return msg ? sip_object(msg.get()) : nullptr; }
};

// Parses one SIP message carried in one WebSocket message (RFC 7118 section 5). Checks the start
// line, the headers every request or response needs (Via, From, To, Call-ID, CSeq), a CSeq
// method matching the request method, and a Content-Length matching the body when present.
Parsed parse(std::string_view data);

// Prints the message as it stands (after header edits). Empty on failure.
std::string print(msg_t* msg);

// True if a response can be formed to this request (Via, From, To, Call-ID and CSeq parsed;
// not an ACK; not a response). The start line itself may be broken.
bool can_respond(sip_t const* req);

// A response to `req` as text: Via(s), From, To (with `to_tag` added when To has no tag and
// status > 100), Call-ID, CSeq copied; Server; Content-Length: 0; plus `extra` header lines
// ("Name: value\r\n" each).
std::string response_text(sip_t const* req, int status, std::string_view phrase,
                          std::string_view to_tag = {}, std::string_view extra = {});

// Header value as text (first header of a list only), "" if absent.
std::string header_text(sip_header_t const* h);
template <typename H>
std::string header_text(H const* h) {
  return header_text(reinterpret_cast<sip_header_t const*>(h));
}

// Requests whose initial form creates a dialog, so that a proxy record-routes them.
bool creates_dialog(sip_method_t m);

// The method name of a request, or of the CSeq of a response.
std::string_view method_name(sip_t const* sip);

// The Call-ID, "" when there is none.
std::string call_id_of(sip_t const* sip);

// A random token of `n` characters from [0-9a-z], for branches and tags.
std::string random_token(size_t n);

}  // namespace rtcgw::sip
