#include "sdp/describe.hpp"

#include <cstdlib>

#include "sdp/model.hpp"

namespace rtcgw::sdp {
namespace {

using detail::Media;
using detail::Session;

const Media* first_audio(const Session& s) {
  for (const auto& m : s.media)
    if (m.type == "audio" && !m.rejected) return &m;
  return nullptr;
}

const Media* first_video(const Session& s) {
  for (const auto& m : s.media)
    if (m.type == "video" && !m.rejected && m.is_rtp()) return &m;
  return nullptr;
}

// The RTP and RTCP ports of a plain RTP line: a=rtcp (RFC 3605), else port + 1; the RTP port
// with rtcp-mux.
void rtp_ports(const Media& m, uint16_t& rtp, uint16_t& rtcp, bool& mux) {
  rtp = static_cast<uint16_t>(m.port);
  mux = m.attr("rtcp-mux") != nullptr;
  rtcp = mux ? rtp : static_cast<uint16_t>(rtp + 1);
  if (const auto* a = m.attr("rtcp"); a && !mux) {
    unsigned long p = std::strtoul(a->value.c_str(), nullptr, 10);
    if (p > 0 && p <= 65535) rtcp = static_cast<uint16_t>(p);
  }
}

std::string value_of(const Session& s, const Media& m, std::string_view name) {
  if (const auto* a = m.attr(name)) return a->value;
  if (const auto* a = s.attr(name)) return a->value;
  return {};
}

}  // namespace

BrowserTransport describe_browser(std::string_view sdp) {
  BrowserTransport t;
  std::string err;
  auto s = detail::parse(sdp, err);
  if (!s) {
    t.error = err;
    return t;
  }
  const Media* m = first_audio(*s);
  if (!m) {
    t.error = "no audio m= line";
    return t;
  }
  t.mid = m->mid();
  for (const auto& line : s->media) t.mids.push_back(line.mid());
  t.ice_ufrag = value_of(*s, *m, "ice-ufrag");
  t.ice_pwd = value_of(*s, *m, "ice-pwd");
  t.ice_lite = s->attr("ice-lite") != nullptr;
  std::string fp = value_of(*s, *m, "fingerprint");
  if (auto sp = fp.find(' '); sp != std::string::npos) {
    t.fingerprint_alg = fp.substr(0, sp);
    // "sha-256 " with nothing after the space: no fingerprint (substr(npos) would throw).
    if (auto v = fp.find_first_not_of(' ', sp); v != std::string::npos)
      t.fingerprint = fp.substr(v);
  }
  t.setup = value_of(*s, *m, "setup");
  t.rtcp_mux = m->attr("rtcp-mux") != nullptr;
  for (const auto& a : m->attrs)
    if (a.name == "candidate") t.candidates.push_back(a.value);
  if (const Media* v = first_video(*s)) {
    t.video = true;
    for (const auto& c : v->codecs) t.video_payload_types.push_back(c.pt);
  }
  if (t.ice_ufrag.empty() || t.ice_pwd.empty() || t.fingerprint.empty()) {
    t.error = "no ICE credentials or DTLS fingerprint";
    return t;
  }
  t.ok = true;
  return t;
}

NetworkMedia describe_network(std::string_view sdp) {
  NetworkMedia n;
  std::string err;
  auto s = detail::parse(sdp, err);
  if (!s) {
    n.error = err;
    return n;
  }
  const Media* m = first_audio(*s);
  if (!m || m->port > 65535 || m->address.empty()) {
    n.error = "no audio m= line with an address and port";
    return n;
  }
  n.address = m->address;
  rtp_ports(*m, n.rtp_port, n.rtcp_port, n.rtcp_mux);
  if (const Media* v = first_video(*s)) {
    if (v->port <= 65535 && !v->address.empty()) {
      n.video.present = true;
      n.video.address = v->address;
      rtp_ports(*v, n.video.rtp_port, n.video.rtcp_port, n.video.rtcp_mux);
    }
  }
  n.direction = detail::mode_name(m->mode);
  for (const auto& c : m->codecs) {
    n.payload_types.push_back(c.pt);
    n.formats.push_back({c.pt, c.encoding, int(c.rate)});
    if (detail::iequals(c.encoding, "telephone-event") &&
        (n.telephone_event_pt < 0 || c.rate == 8000))
      n.telephone_event_pt = c.pt;
  }
  n.ok = true;
  return n;
}

}  // namespace rtcgw::sdp
