// What the two halves of transcoding negotiation share (translate.cpp: offers from the browser;
// transcode_core.cpp: offers from the core): finding codecs by name, and the "stand-in" SDP
// through which both hand their answers to the relaying translation. Internal to src/sdp, like
// model.hpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sdp/model.hpp"
#include "sdp/translate.hpp"

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
// (and a=ptime when `ptime` is not empty), and the video lines `keep` has open, copied from it
// (the peer's real video line, relayed as on any call). The relaying translations then finish
// the job.
std::string stand_in(const Session& shape, int audio, const std::vector<Codec>& cs, Mode mode,
                     std::string_view ptime, const Session* keep = nullptr);

// Video passthrough (video.cpp).
// A codec that carries video itself (not rtx, red, ulpfec or flexfec), at 90 kHz.
bool video_media(const Codec& c);
// The codecs of `in` named in `names` (case-insensitive), in `in`'s order, leaving out any whose
// payload type `audio` (the bridged audio line's codecs) uses.
std::vector<Codec> video_codecs(const std::vector<Codec>& in, const std::vector<std::string>& names,
                                const std::vector<Codec>& audio);
// The first open RTP video line of `s`; with `bundled_with` >= 0 it must also be in a BUNDLE
// group with that line (the browser's transport is the audio line's). -1: none.
int video_line(const Session& s, int bundled_with);
// The mids of the session's a=group:BUNDLE lines, in order; empty when it has none.
std::vector<std::string> bundle_mids(const Session& s);
// a=rtcp-fb nack, nack pli and ccm fir for each of `cs`, towards the browser: all of them in an
// offer (`offer` null), in an answer those the browser's offer line `offer` has for the codec.
void video_feedback(Writer& w, const std::vector<Codec>& cs, const Media* offer);
// The IMS's video line: RTP/AVP (or the offer's proto), the video port, b=AS, no WebRTC
// attributes.
void network_video(Writer& w, const NetworkLeg& leg, std::string_view proto,
                   const std::vector<Codec>& cs, Mode mode, bool rtcp_mux);

}  // namespace rtcgw::sdp::detail
