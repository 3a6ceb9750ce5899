// What the two halves of transcoding negotiation share (translate.cpp: offers from the browser;
// transcode_core.cpp: offers from the core): finding codecs by name, and the "stand-in" SDP
// through which both hand their answers to the relaying translation. Internal to src/sdp, like
// model.hpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sdp/model.hpp"

namespace rtcgw::sdp::detail {

// The first audio line that is not rejected and carries RTP, or -1.
int first_audio(const Session& s);
// The clock rate of the codec called `name`: 48000 for opus, else 8000 (G.711).
unsigned long rate_of(const std::string& name);
// The codec called `name` ("opus", "PCMU", "PCMA": case-insensitive) at rate_of(name), or
// nullptr.
const Codec* find_codec(const std::vector<Codec>& cs, const std::string& name);
// telephone-event at `rate`, or nullptr.
const Codec* find_event(const std::vector<Codec>& cs, unsigned long rate);

Codec make_codec(int pt, std::string encoding, unsigned long rate, std::string channels = {},
                 std::string fmtp = {});

// What a peer would have sent had it taken rtcgw's codecs: an SDP with the m= lines of `shape`,
// all rejected (their proto and formats kept) but line `audio`, which carries `cs` in `mode`
// (and a=ptime when `ptime` is not empty). The relaying translations then finish the job.
std::string stand_in(const Session& shape, int audio, const std::vector<Codec>& cs, Mode mode,
                     std::string_view ptime);

}  // namespace rtcgw::sdp::detail
