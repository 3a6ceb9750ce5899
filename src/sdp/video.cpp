// Video passthrough (media.video: passthrough): which video line of an SDP rtcgw bridges, with
// which codecs, and how it is written towards the IMS. Video is relayed as it is, never
// transcoded: only codecs that carry video themselves pass (VP8, H264 by media.video_codecs);
// rtx, red and FEC streams need ssrc-group signalling the IMS does not get (TS 23.228 Annex U).
#include <algorithm>

#include "sdp/model.hpp"
#include "sdp/transcode_detail.hpp"

namespace rtcgw::sdp::detail {

bool video_media(const Codec& c) {
  if (c.rate != 90000) return false;
  for (const char* aux : {"rtx", "red", "ulpfec", "flexfec-03", "flexfec"})
    if (iequals(c.encoding, aux)) return false;
  return !c.encoding.empty();
}

std::vector<Codec> video_codecs(const std::vector<Codec>& in, const std::vector<std::string>& names,
                                const std::vector<Codec>& audio) {
  std::vector<Codec> out;
  for (const auto& c : in) {
    bool named = std::any_of(names.begin(), names.end(),
                             [&](const std::string& n) { return iequals(n, c.encoding); });
    bool clash =
        std::any_of(audio.begin(), audio.end(), [&](const Codec& a) { return a.pt == c.pt; });
    if (named && video_media(c) && !clash) out.push_back(c);
  }
  return out;
}

std::vector<std::string> bundle_mids(const Session& s) {
  std::vector<std::string> mids;
  for (const auto& a : s.attrs) {
    if (a.name != "group" || a.value.rfind("BUNDLE", 0) != 0) continue;
    size_t pos = 6;
    while (pos < a.value.size()) {
      size_t start = a.value.find_first_not_of(' ', pos);
      if (start == std::string::npos) break;
      size_t end = a.value.find(' ', start);
      mids.push_back(a.value.substr(start, end - start));
      pos = end == std::string::npos ? a.value.size() : end;
    }
  }
  return mids;
}

namespace {

// Whether one a=group:BUNDLE line of `s` names both mids.
bool bundled(const Session& s, const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return false;
  for (const auto& g : s.attrs) {
    if (g.name != "group" || g.value.rfind("BUNDLE", 0) != 0) continue;
    Session one;
    one.attrs.push_back(g);
    auto mids = bundle_mids(one);
    if (std::find(mids.begin(), mids.end(), a) != mids.end() &&
        std::find(mids.begin(), mids.end(), b) != mids.end())
      return true;
  }
  return false;
}

}  // namespace

int video_line(const Session& s, int bundled_with) {
  for (size_t i = 0; i < s.media.size(); ++i) {
    const Media& m = s.media[i];
    if (m.type != "video" || m.rejected || !m.is_rtp()) continue;
    if (bundled_with >= 0 && !bundled(s, s.media[size_t(bundled_with)].mid(), m.mid())) return -1;
    return int(i);
  }
  return -1;
}

namespace {

// The feedback a relayed video line keeps towards the browser (RFC 4585, RFC 5104): NACK, picture
// loss and full intra requests travel end to end in RTCP, as rtcgw relays it, so a receiver that
// lost a key frame (before DTLS was up, or on the way) can ask the sender for another. The
// congestion feedback (transport-cc, goog-remb) needs header extensions and a bandwidth estimate
// that do not cross to the IMS, so it is not offered.
constexpr const char* kVideoFeedback[] = {"nack", "nack pli", "ccm fir"};

// Whether `m` has a=rtcp-fb for payload type `pt` (or "*") of kind `fb`.
bool has_feedback(const Media& m, int pt, std::string_view fb) {
  for (const auto& a : m.attrs) {
    if (a.name != "rtcp-fb") continue;
    size_t sp = a.value.find(' ');
    if (sp == std::string::npos) continue;
    std::string_view who = std::string_view(a.value).substr(0, sp);
    std::string_view kind = std::string_view(a.value).substr(sp + 1);
    while (!kind.empty() && kind.front() == ' ') kind.remove_prefix(1);
    while (!kind.empty() && (kind.back() == ' ' || kind.back() == '\t')) kind.remove_suffix(1);
    if ((who == "*" || who == std::to_string(pt)) && iequals(kind, fb)) return true;
  }
  return false;
}

}  // namespace

void video_feedback(Writer& w, const std::vector<Codec>& cs, const Media* offer) {
  for (const auto& c : cs)
    for (const char* fb : kVideoFeedback)
      if (!offer || has_feedback(*offer, c.pt, fb))
        w.attr("rtcp-fb", std::to_string(c.pt) + " " + fb);
}

void network_video(Writer& w, const NetworkLeg& leg, std::string_view proto,
                   const std::vector<Codec>& cs, Mode mode, bool rtcp_mux) {
  w.m_line("video", leg.video_rtp_port, proto, pt_list(cs));
  w.line('b', "AS:" + std::to_string(leg.video_kbps));
  w.codecs(cs);
  if (rtcp_mux) w.attr("rtcp-mux");
  w.attr(mode_name(mode));
}

}  // namespace rtcgw::sdp::detail
