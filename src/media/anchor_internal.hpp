// What the anchor's source files (anchor.cpp, anchor_packets.cpp, anchor_dtmf.cpp,
// anchor_rtcp.cpp) share; not for use outside the Anchor.
#pragma once

#include <glib.h>
#include <strings.h>

#include <cstdint>
#include <string>

#include "codec/transcoder.hpp"
#include "media/srtp.hpp"
#include "rtcgw/log.hpp"

namespace rtcgw::media::internal {

inline int64_t now_ms() { return g_get_monotonic_time() / 1000; }

// What the transcoder (and the DTMF sender) write for the other leg: one buffer for the
// process (the loop is single-threaded), with room for the SRTP trailer.
inline uint8_t g_transcoded[codec::Transcoder::kMaxOutput + kSrtpMaxTrailer + 64];

// With media.ice: full libnice keeps RFC 7675 consent itself (a lost consent fails the agent and
// the browser's address is forgotten): the anchor's own consent clock, which IceLite's answers
// feed, is set where it never expires.
constexpr int64_t kConsentKeptByAgent = INT64_MAX / 4;

// Dropped packets and failed handshakes are logged at this rate at most.
inline log::RateLimit g_drop_log{20};

inline codec::Codec codec_of_name(const std::string& name) {
  return strcasecmp(name.c_str(), "opus") == 0   ? codec::Codec::kOpus
         : strcasecmp(name.c_str(), "PCMA") == 0 ? codec::Codec::kPcma
                                                 : codec::Codec::kPcmu;
}

}  // namespace rtcgw::media::internal
