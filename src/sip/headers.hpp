// Header edits on sofia messages that the proxy core makes: adding, removing by name, and the
// Via parameters of RFC 3261 section 18.2.1.
#pragma once

#include <string>
#include <string_view>

#include "sip/sofia.hpp"

namespace rtcgw::sip {

// Parses `value` as a header of class `hc` and inserts it (Via, Record-Route and Path are
// prepended by sofia; Route and unknown headers appended; list headers such as Supported
// replaced). Returns false if the value does not parse.
bool add_header(msg_t* msg, sip_t* sip, msg_hclass_t* hc, std::string_view value);
// Adds an extension header sofia has no class for: "Name: value".
bool add_unknown(msg_t* msg, sip_t* sip, std::string_view name, std::string_view value);
// Removes every header called `name` (case-insensitive; full names), known or unknown.
// Returns how many were removed.
int remove_named(msg_t* msg, sip_t* sip, std::string_view name);
// True if a header called `name` is present.
bool has_named(sip_t const* sip, std::string_view name);

// Sets received= (and rport= when the client asked for it) on the top Via.
void mark_received(msg_t* msg, sip_t* sip, const std::string& ip, uint16_t port);

// Decrements Max-Forwards, adding "Max-Forwards: 70" when absent. Returns the value before
// decrementing (70 when absent).
unsigned long decrement_max_forwards(msg_t* msg, sip_t* sip);

// Adds `feature` to Supported unless it is already listed.
void ensure_supported(msg_t* msg, sip_t* sip, std::string_view feature);

// Moves the Via headers back right after the start line, above headers prepended later
// (Record-Route, Path), so that traces read as people expect.
void vias_first(msg_t* msg, sip_t* sip);

// url as text ("sip:user@host:port;params"), "" for null.
std::string url_text(url_t const* url);

}  // namespace rtcgw::sip
