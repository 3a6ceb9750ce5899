#include "sdp/translate.hpp"

#include <algorithm>
#include <optional>

#include "sdp/model.hpp"
#include "sdp/transcode_detail.hpp"

namespace rtcgw::sdp {
namespace {

using detail::bundle_mids;
using detail::Codec;
using detail::iequals;
using detail::Media;
using detail::Session;
using detail::Writer;

constexpr const char* kWebRtcProto = "UDP/TLS/RTP/SAVPF";

Result fail(std::string error, int status = 488) {
  Result r;
  r.error = std::move(error);
  r.sip_status = status;
  return r;
}

// Every output goes through sofia's parser once more before it leaves.
Result finish(const std::string& text) {
  std::string err;
  if (!detail::parse(text, err)) return fail("translated SDP does not parse: " + err, 500);
  Result r;
  r.ok = true;
  r.sdp = text;
  return r;
}

bool is_dtmf(const Codec& c) { return iequals(c.encoding, "telephone-event"); }
bool is_cn(const Codec& c) { return iequals(c.encoding, "CN"); }
bool is_g711(const Codec& c) {
  return (iequals(c.encoding, "PCMU") || iequals(c.encoding, "PCMA")) && c.rate == 8000;
}
bool is_opus(const Codec& c) { return iequals(c.encoding, "opus") && c.rate == 48000; }

// At least one codec that carries media (not only DTMF events or comfort noise).
bool usable(const std::vector<Codec>& cs) {
  return std::any_of(cs.begin(), cs.end(), [](const Codec& c) { return !is_dtmf(c) && !is_cn(c); });
}

// The format list of a rejected line whose proto rtcgw rewrites to an RTP one: RTP protos take
// payload type numbers only (RFC 4566 section 5.14), so anything else is left out ("0" when
// nothing is left: a rejected line still needs a format).
std::vector<std::string> rtp_formats(const std::vector<std::string>& formats) {
  std::vector<std::string> out;
  for (const auto& f : formats) {
    bool digits = !f.empty() && f.size() <= 3 &&
                  std::all_of(f.begin(), f.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits && std::stoi(f) <= 127) out.push_back(f);
  }
  if (out.empty()) out.push_back("0");
  return out;
}

bool plain_rtp(const Media& m) { return m.proto == "RTP/AVP" || m.proto == "RTP/AVPF"; }

unsigned audio_as(const std::string& address) {
  return std::string(detail::addr_type(address)) == "IP6" ? kAudioAsIPv6 : kAudioAsIPv4;
}

// What the IMS takes: G.711, opus by policy, and telephone-event at the clock rate of a kept
// codec (RFC 4733 section 2.3.1), one per rate, 8000 Hz preferred. Browser order is kept.
// Whether `c` is in a configured codec list (empty: no restriction).
bool listed(const Codec& c, const std::vector<std::string>& names) {
  return names.empty() || std::any_of(names.begin(), names.end(),
                                      [&](const std::string& n) { return iequals(n, c.encoding); });
}

std::vector<Codec> network_codecs(const std::vector<Codec>& in, const CodecPolicy& policy) {
  auto g711_ok = [&](const Codec& c) { return is_g711(c) && listed(c, policy.network_codecs); };
  bool g711 = std::any_of(in.begin(), in.end(), g711_ok);
  bool opus = policy.allow_opus_to_network && std::any_of(in.begin(), in.end(), is_opus);
  std::vector<Codec> out;
  bool dtmf8k = false, dtmf48k = false;
  for (const auto& c : in) {
    if (g711_ok(c) || (opus && is_opus(c))) {
      out.push_back(c);
    } else if (is_dtmf(c) && c.rate == 8000 && g711 && !dtmf8k) {
      dtmf8k = true;
      out.push_back(c);
    } else if (is_dtmf(c) && c.rate == 48000 && opus && !dtmf48k) {
      dtmf48k = true;
      out.push_back(c);
    }
  }
  return out;
}

// What the browser can decode without transcoding; telephone-event only at the clock rate
// of a kept codec.
std::vector<Codec> browser_codecs(const std::vector<Codec>& in, const CodecPolicy& policy) {
  auto decodable = [&](const Codec& c) {
    bool media = is_g711(c) || is_opus(c) || (iequals(c.encoding, "G722") && c.rate == 8000);
    return (media && listed(c, policy.browser_codecs)) ||
           (is_cn(c) && c.rate == 8000 && policy.browser_codecs.empty());
  };
  std::vector<Codec> out;
  for (const auto& c : in) {
    bool rate_ok = std::any_of(in.begin(), in.end(),
                               [&](const Codec& x) { return decodable(x) && x.rate == c.rate; });
    if (decodable(c) || (is_dtmf(c) && rate_ok)) out.push_back(c);
  }
  return out;
}

// The answerer's codecs, in the answerer's order, renumbered with the offerer's payload types;
// codecs the offer did not have are dropped. fmtp is the answerer's (what it receives).
std::vector<Codec> answered_codecs(const std::vector<Codec>& answer,
                                   const std::vector<Codec>& offer) {
  std::vector<Codec> out;
  for (const auto& a : answer) {
    auto it = std::find_if(offer.begin(), offer.end(), [&](const Codec& o) {
      return detail::same_codec(a, o) &&
             std::none_of(out.begin(), out.end(), [&](const Codec& x) { return x.pt == o.pt; });
    });
    if (it == offer.end()) continue;
    Codec c = *it;
    c.fmtp = a.fmtp;
    out.push_back(std::move(c));
  }
  return out;
}

void copy_ptime(Writer& w, const Media& m) {
  for (const char* name : {"ptime", "maxptime"})
    if (const auto* a = m.attr(name)) w.attr(name, a->value);
}

// The network's audio line: RTP/AVP, our port, b=AS, no WebRTC attributes.
void network_audio(Writer& w, const NetworkLeg& leg, std::string_view proto,
                   const std::vector<Codec>& cs, const Media& ptime_from, detail::Mode mode,
                   bool rtcp_mux) {
  w.m_line("audio", leg.rtp_port, proto, detail::pt_list(cs));
  w.line('b', "AS:" + std::to_string(audio_as(leg.address)));
  w.codecs(cs);
  copy_ptime(w, ptime_from);
  if (rtcp_mux) w.attr("rtcp-mux");
  w.attr(detail::mode_name(mode));
}

// ICE, DTLS and candidate attributes of an accepted browser line. `offer` is the browser's line
// when this answers it (its video feedback is answered), null when this is an offer.
void browser_media(Writer& w, const BrowserLeg& leg, std::string_view type, const std::string& mid,
                   const std::vector<Codec>& cs, const Media& ptime_from, detail::Mode mode,
                   std::string_view setup, bool rtcp_mux, const Media* offer) {
  w.m_line(type, leg.port, kWebRtcProto, detail::pt_list(cs));
  // The video line's b=AS is the most the browser sends (RFC 3556); audio needs no limit.
  if (type == "video") w.line('b', "AS:" + std::to_string(leg.video_kbps));
  if (!mid.empty()) w.attr("mid", mid);
  w.attr("ice-ufrag", leg.ice_ufrag);
  w.attr("ice-pwd", leg.ice_pwd);
  w.attr("fingerprint", "sha-256 " + leg.fingerprint_sha256);
  w.attr("setup", setup);
  if (rtcp_mux) w.attr("rtcp-mux");
  w.codecs(cs);
  if (type == "video") detail::video_feedback(w, cs, offer);
  copy_ptime(w, ptime_from);
  w.attr(detail::mode_name(mode));
  if (leg.candidates.empty()) {
    w.attr("candidate",
           "1 1 udp 2130706431 " + leg.address + " " + std::to_string(leg.port) + " typ host");
  }
  for (const auto& c : leg.candidates) w.attr("candidate", c);
  w.attr("end-of-candidates");
}

// An answer never says actpass (RFC 5763 section 5): take the role the offer leaves us.
std::string answer_setup(const std::string& wanted, const Media& offer) {
  if (wanted == "active" || wanted == "passive") return wanted;
  const auto* a = offer.attr("setup");
  return a && a->value == "passive" ? "active" : "passive";
}

std::string bundle_line(const std::vector<std::string>& mids) {
  std::string v = "BUNDLE";
  for (const auto& m : mids) v += " " + m;
  return v;
}

struct Parsed {
  std::optional<Session> a, b;
  std::string error;
};

Parsed parse_pair(std::string_view x, std::string_view y, const char* what_x, const char* what_y) {
  Parsed p;
  std::string err;
  p.a = detail::parse(x, err);
  if (!p.a) {
    p.error = std::string(what_x) + ": " + err;
    return p;
  }
  p.b = detail::parse(y, err);
  if (!p.b) {
    p.error = std::string(what_y) + ": " + err;
  } else if (p.a->media.size() != p.b->media.size()) {
    p.error = std::string(what_x) + " has " + std::to_string(p.a->media.size()) + " m= lines, " +
              what_y + " has " + std::to_string(p.b->media.size());
  }
  return p;
}

}  // namespace

Result to_network_offer(std::string_view browser_offer, const NetworkLeg& leg,
                        const CodecPolicy& policy) {
  std::string err;
  auto s = detail::parse(browser_offer, err);
  if (!s) return fail("browser offer: " + err);
  // The bridged audio line: the first whose codecs leave one the IMS takes.
  int audio = -1;
  std::vector<Codec> acs;
  for (size_t i = 0; i < s->media.size() && audio < 0; ++i) {
    const Media& m = s->media[i];
    if (m.type != "audio" || m.rejected || !m.is_rtp()) continue;
    acs = network_codecs(m.codecs, policy);
    if (usable(acs)) audio = int(i);
  }
  if (audio < 0) return fail("browser offer has no audio codec the network accepts");
  int video = leg.video_rtp_port ? detail::video_line(*s, audio) : -1;
  std::vector<Codec> vcs;
  if (video >= 0)
    vcs = detail::video_codecs(s->media[size_t(video)].codecs, policy.video_codecs, acs);
  Writer w;
  w.session_head(leg.session_id, leg.session_version, leg.address);
  for (size_t i = 0; i < s->media.size(); ++i) {
    const Media& m = s->media[i];
    if (int(i) == audio) {
      network_audio(w, leg, "RTP/AVP", acs, m, m.mode, leg.rtcp_mux_offered);
    } else if (int(i) == video && !vcs.empty()) {
      detail::network_video(w, leg, "RTP/AVP", vcs, m.mode, leg.video_rtcp_mux_offered);
    } else {
      // Rejected: RTP lines say RTP/AVP so the IMS sees no SAVPF; the format list stays valid.
      w.m_line(m.type, 0, m.is_rtp() ? "RTP/AVP" : m.proto,
               m.is_rtp() ? rtp_formats(m.formats) : m.formats);
    }
  }
  return finish(w.text());
}

Result to_browser_answer(std::string_view network_answer, std::string_view browser_offer,
                         const BrowserLeg& leg) {
  Parsed p = parse_pair(network_answer, browser_offer, "network answer", "browser offer");
  if (!p.error.empty()) return fail(p.error);
  const Session& ans = *p.a;
  const Session& off = *p.b;
  std::vector<std::string> offered_bundle = bundle_mids(off);
  std::vector<std::string> accepted;
  Writer media;
  bool any = false, video = false;
  for (size_t i = 0; i < off.media.size(); ++i) {
    const Media& om = off.media[i];
    const Media& am = ans.media[i];
    std::string mid = om.mid();
    std::vector<Codec> cs;
    bool is_video = om.type == "video";
    if (!om.rejected && !am.rejected && om.is_rtp() && am.is_rtp() &&
        (!is_video || (!video && int(i) == detail::video_line(off, -1))))
      cs = answered_codecs(am.codecs, om.codecs);
    if (is_video) {
      // Only what carries video is relayed, on the browser's bundled transport.
      cs.erase(std::remove_if(cs.begin(), cs.end(),
                              [](const Codec& c) { return !detail::video_media(c); }),
               cs.end());
      if (std::find(offered_bundle.begin(), offered_bundle.end(), mid) == offered_bundle.end())
        cs.clear();
      video = video || !cs.empty();
    }
    if (!usable(cs)) {
      media.m_line(om.type, 0, om.proto, om.formats);
      if (!mid.empty()) media.attr("mid", mid);
      continue;
    }
    any = true;
    if (std::find(offered_bundle.begin(), offered_bundle.end(), mid) != offered_bundle.end())
      accepted.push_back(mid);
    browser_media(media, leg, om.type, mid, cs, am, detail::answer_mode(om.mode, am.mode),
                  answer_setup(leg.setup, om), om.attr("rtcp-mux") != nullptr, &om);
  }
  if (!any) return fail("network answer accepts no codec the browser offered");
  Writer w;
  w.session_head(leg.session_id, leg.session_version, leg.address);
  if (leg.ice_lite) w.attr("ice-lite");
  if (!offered_bundle.empty() && !accepted.empty()) w.attr("group", bundle_line(accepted));
  return finish(w.text() + media.text());
}

Result to_browser_offer(std::string_view network_offer, const BrowserLeg& leg,
                        const CodecPolicy& policy) {
  std::string err;
  auto s = detail::parse(network_offer, err);
  if (!s) return fail("network offer: " + err);
  int audio = -1;
  std::vector<Codec> acs;
  for (size_t i = 0; i < s->media.size() && audio < 0; ++i) {
    const Media& m = s->media[i];
    if (m.type != "audio" || m.rejected || !plain_rtp(m)) continue;
    acs = browser_codecs(m.codecs, policy);
    if (usable(acs)) audio = int(i);
  }
  if (audio < 0) return fail("network offer has no audio codec the browser can decode");
  int video = detail::video_line(*s, -1);
  std::vector<Codec> vcs;
  if (video >= 0 && plain_rtp(s->media[size_t(video)]))
    vcs = detail::video_codecs(s->media[size_t(video)].codecs, policy.video_codecs, acs);
  std::vector<std::string> mids;
  Writer media;
  for (size_t i = 0; i < s->media.size(); ++i) {
    const Media& m = s->media[i];
    std::string mid = i < leg.mids.size() && !leg.mids[i].empty() ? leg.mids[i] : std::to_string(i);
    bool bridged = int(i) == audio || (int(i) == video && !vcs.empty());
    if (!bridged) {
      media.m_line(m.type, 0, m.is_rtp() ? kWebRtcProto : m.proto,
                   m.is_rtp() ? rtp_formats(m.formats) : m.formats);
      media.attr("mid", mid);
      continue;
    }
    mids.push_back(mid);
    browser_media(media, leg, m.type, mid, int(i) == audio ? acs : vcs, m, m.mode, "actpass", true,
                  nullptr);
  }
  Writer w;
  w.session_head(leg.session_id, leg.session_version, leg.address);
  if (leg.ice_lite) w.attr("ice-lite");
  w.attr("group", bundle_line(mids));
  return finish(w.text() + media.text());
}

Result to_network_answer(std::string_view browser_answer, const NetworkLeg& leg,
                         std::string_view network_offer) {
  Parsed p = parse_pair(browser_answer, network_offer, "browser answer", "network offer");
  if (!p.error.empty()) return fail(p.error);
  const Session& ans = *p.a;
  const Session& off = *p.b;
  // The lines to_browser_offer bridged: the first plain RTP audio line and video line.
  int video = leg.video_rtp_port ? detail::video_line(off, -1) : -1;
  Writer w;
  w.session_head(leg.session_id, leg.session_version, leg.address);
  bool bridged = false;
  for (size_t i = 0; i < off.media.size(); ++i) {
    const Media& om = off.media[i];
    const Media& bm = ans.media[i];
    bool open = !om.rejected && !bm.rejected && plain_rtp(om) && bm.is_rtp();
    std::vector<Codec> cs;
    if (open && int(i) == video) {
      cs = answered_codecs(bm.codecs, om.codecs);
      cs.erase(std::remove_if(cs.begin(), cs.end(),
                              [](const Codec& c) { return !detail::video_media(c); }),
               cs.end());
      if (!cs.empty()) {
        detail::network_video(w, leg, om.proto, cs, detail::answer_mode(om.mode, bm.mode),
                              leg.video_rtcp_mux_offered && om.attr("rtcp-mux") != nullptr);
        continue;
      }
    }
    if (!bridged && om.type == "audio" && open) cs = answered_codecs(bm.codecs, om.codecs);
    if (int(i) == video || !usable(cs)) {
      w.m_line(om.type, 0, om.proto, om.formats);
      continue;
    }
    bridged = true;
    network_audio(w, leg, om.proto, cs, bm, detail::answer_mode(om.mode, bm.mode),
                  leg.rtcp_mux_offered && om.attr("rtcp-mux") != nullptr);
  }
  if (!bridged) return fail("browser answer accepts no codec the network offered");
  return finish(w.text());
}

// Declared in transcode_detail.hpp: transcode_core.cpp uses them too.
namespace detail {

int first_audio(const Session& s) {
  for (size_t i = 0; i < s.media.size(); ++i)
    if (s.media[i].type == "audio" && !s.media[i].rejected && s.media[i].is_rtp()) return int(i);
  return -1;
}

unsigned long rate_of(const std::string& name) { return iequals(name, "opus") ? 48000 : 8000; }

const Codec* find_codec(const std::vector<Codec>& cs, const std::string& name) {
  for (const auto& c : cs)
    if (iequals(c.encoding, name) && c.rate == rate_of(name)) return &c;
  return nullptr;
}

const Codec* find_event(const std::vector<Codec>& cs, unsigned long rate) {
  for (const auto& c : cs)
    if (is_dtmf(c) && c.rate == rate) return &c;
  return nullptr;
}

}  // namespace detail

std::string pick_browser_codec(std::string_view browser_offer,
                               const std::vector<std::string>& browser_codecs,
                               const std::vector<std::string>& network_codecs, bool& shared) {
  shared = false;
  std::string err;
  auto s = detail::parse(browser_offer, err);
  if (!s) return "";
  int i = first_audio(*s);
  if (i < 0) return "";
  const auto& cs = s->media[size_t(i)].codecs;
  for (const auto& n : network_codecs)
    if (find_codec(cs, n) && std::any_of(browser_codecs.begin(), browser_codecs.end(),
                                         [&](const std::string& b) { return iequals(b, n); }))
      shared = true;
  for (const auto& b : browser_codecs)
    if (find_codec(cs, b)) return b;
  return "";
}

Result to_network_offer_transcoding(std::string_view browser_offer, const NetworkLeg& leg,
                                    const std::vector<std::string>& network_codecs,
                                    const std::vector<std::string>& video_codecs) {
  std::string err;
  auto s = detail::parse(browser_offer, err);
  if (!s) return fail("browser offer: " + err);
  int audio = first_audio(*s);
  if (audio < 0) return fail("browser offer has no audio line");
  std::vector<Codec> cs;
  for (const auto& n : network_codecs) {
    if (iequals(n, "opus")) continue;  // opus on both legs needs no transcoding
    cs.push_back(detail::make_codec(iequals(n, "PCMU") ? 0 : 8, n, 8000));
  }
  if (cs.empty()) return fail("no G.711 codec in transcoding.network_codecs");
  cs.push_back(detail::make_codec(101, "telephone-event", 8000, {}, "0-15"));
  Media ptime;
  ptime.attrs.push_back({"ptime", "20"});
  Writer w;
  w.session_head(leg.session_id, leg.session_version, leg.address);
  // Video is relayed as on any call; on the browser leg it must not take a payload type of the
  // browser's audio line.
  int video = leg.video_rtp_port ? detail::video_line(*s, audio) : -1;
  std::vector<Codec> vcs;
  if (video >= 0)
    vcs = detail::video_codecs(s->media[size_t(video)].codecs, video_codecs,
                               s->media[size_t(audio)].codecs);
  for (size_t i = 0; i < s->media.size(); ++i) {
    const Media& m = s->media[i];
    if (int(i) == audio) {
      network_audio(w, leg, "RTP/AVP", cs, ptime, m.mode, leg.rtcp_mux_offered);
    } else if (int(i) == video && !vcs.empty()) {
      detail::network_video(w, leg, "RTP/AVP", vcs, m.mode, leg.video_rtcp_mux_offered);
    } else {
      w.m_line(m.type, 0, m.is_rtp() ? "RTP/AVP" : m.proto,
               m.is_rtp() ? rtp_formats(m.formats) : m.formats);
    }
  }
  return finish(w.text());
}

Result to_browser_answer_transcoding(std::string_view network_answer,
                                     std::string_view browser_offer, const BrowserLeg& leg,
                                     const std::vector<std::string>& browser_codecs,
                                     TranscodePlan& plan) {
  Parsed p = parse_pair(network_answer, browser_offer, "network answer", "browser offer");
  if (!p.error.empty()) return fail(p.error);
  const Session& ans = *p.a;
  const Session& off = *p.b;
  int audio = first_audio(off);
  if (audio < 0 || ans.media[size_t(audio)].rejected)
    return fail("the network rejected the audio line");
  const Media& am = ans.media[size_t(audio)];
  const Media& om = off.media[size_t(audio)];
  const Codec* net = nullptr;
  for (const auto& c : am.codecs)
    if (is_g711(c)) {
      net = &c;
      break;
    }
  if (!net) return fail("network answer has no G.711 codec");
  const Codec* br = nullptr;
  for (const auto& b : browser_codecs)
    if ((br = find_codec(om.codecs, b))) break;
  if (!br) return fail("browser offer has none of transcoding.browser_codecs");
  plan.network_codec = net->encoding;
  plan.network_pt = net->pt;
  const Codec* nte = find_event(am.codecs, 8000);
  plan.network_event_pt = nte ? nte->pt : -1;
  plan.browser_codec = br->encoding;
  plan.browser_pt = br->pt;
  const Codec* bte = find_event(om.codecs, br->rate);
  // The browser keeps telephone-event even when the IMS has none: its digits are then played
  // in-band into the G.711 stream (dtmf.inband).
  plan.browser_event_pt = bte ? bte->pt : -1;

  // The answer the browser gets is what the network would have said had it taken the browser's
  // codec: written as such an answer and translated the usual way.
  std::vector<Codec> cs{*br};
  if (iequals(br->encoding, "opus")) cs.back().fmtp = "minptime=10;useinbandfec=1";
  if (plan.browser_event_pt >= 0) cs.push_back(*bte);
  return to_browser_answer(detail::stand_in(off, audio, cs, am.mode, {}, &ans), browser_offer, leg);
}

}  // namespace rtcgw::sdp
