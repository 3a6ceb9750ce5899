// Transcoding negotiation for calls from the core (issue 4): the core's offer shares no codec
// with what the browser leg may carry, so the browser is offered `transcoding.browser_codecs`
// and the core is answered with its own G.711. Both translations write the SDP the other peer
// would have sent had it taken those codecs (a "stand-in") and hand it to the relaying
// translation (to_browser_offer / to_network_answer), so ICE, DTLS, mids, BUNDLE, directions
// and m= line order come out exactly as on relayed calls.
#include <algorithm>

#include "sdp/model.hpp"
#include "sdp/transcode_detail.hpp"
#include "sdp/translate.hpp"

namespace rtcgw::sdp {
namespace {

using detail::Codec;
using detail::find_codec;
using detail::find_event;
using detail::first_audio;
using detail::iequals;
using detail::make_codec;
using detail::Media;
using detail::Session;
using detail::stand_in;

// Chromium's payload type numbers: a browser answers with the numbers it was offered, and
// these are the ones its own offers use.
constexpr int kOpusPt = 111;
constexpr int kEvent48kPt = 110;
constexpr int kEvent8kPt = 126;

Result fail(std::string error) {
  Result r;
  r.error = std::move(error);
  r.sip_status = 488;
  return r;
}

bool listed(const std::vector<std::string>& names, const std::string& name) {
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& n) { return iequals(n, name); });
}

NetworkChoice choose(const Session& offer, const std::vector<std::string>& browser_codecs,
                     const std::vector<std::string>& network_codecs) {
  NetworkChoice c;
  int audio = first_audio(offer);
  const Media* m = audio < 0 ? nullptr : &offer.media[size_t(audio)];
  // Only a plain RTP line is bridged (to_browser_offer); anything else is not ours to answer.
  if (!m || (m->proto != "RTP/AVP" && m->proto != "RTP/AVPF")) return c;
  for (const auto& n : network_codecs)
    if (find_codec(m->codecs, n) && listed(browser_codecs, n)) c.shared = true;
  if (c.shared) return c;
  for (const auto& n : network_codecs) {
    const Codec* x = iequals(n, "opus") ? nullptr : find_codec(m->codecs, n);
    if (!x) continue;  // the transcoder's network side is G.711: opus there would be relayed
    c.codec = n;
    c.pt = x->pt;
    const Codec* te = find_event(m->codecs, 8000);
    c.event_pt = te ? te->pt : -1;
    break;
  }
  return c;
}

// The browser's codec: the first of its answer (the one it sends) that is in `browser_codecs`.
const Codec* browser_choice(const Media& answer, const std::vector<std::string>& browser_codecs) {
  for (const auto& c : answer.codecs)
    for (const auto& b : browser_codecs)
      if (iequals(c.encoding, b) && c.rate == detail::rate_of(b)) return &c;
  return nullptr;
}

}  // namespace

namespace detail {

Codec make_codec(int pt, std::string encoding, unsigned long rate, std::string channels,
                 std::string fmtp) {
  Codec c;
  c.pt = pt;
  c.encoding = std::move(encoding);
  c.rate = rate;
  c.channels = std::move(channels);
  c.fmtp = std::move(fmtp);
  return c;
}

std::string stand_in(const Session& shape, int audio, const std::vector<Codec>& cs, Mode mode,
                     std::string_view ptime, const Session* keep) {
  Writer w;
  w.session_head(1, 1, "0.0.0.0");
  for (const auto& a : shape.attrs)
    if (a.name == "group") w.attr(a.name, a.value);  // BUNDLE decides which video is bridged
  for (size_t i = 0; i < shape.media.size(); ++i) {
    const Media& m = shape.media[i];
    const Media* kept = keep && i < keep->media.size() ? &keep->media[i] : nullptr;
    if (int(i) != audio && kept && kept->type == "video" && !kept->rejected) {
      w.media(*kept);
      continue;
    }
    if (int(i) != audio) {
      w.m_line(m.type, 0, m.proto, m.formats);
      continue;
    }
    w.m_line("audio", 9, m.proto, pt_list(cs));
    w.codecs(cs);
    if (!ptime.empty()) w.attr("ptime", ptime);
    w.attr(mode_name(mode));
  }
  return w.text();
}

}  // namespace detail

NetworkChoice pick_network_codec(std::string_view network_offer,
                                 const std::vector<std::string>& browser_codecs,
                                 const std::vector<std::string>& network_codecs) {
  std::string err;
  auto s = detail::parse(network_offer, err);
  return s ? choose(*s, browser_codecs, network_codecs) : NetworkChoice{};
}

Result to_browser_offer_transcoding(std::string_view network_offer, const BrowserLeg& leg,
                                    const std::vector<std::string>& browser_codecs,
                                    const std::vector<std::string>& video_codecs) {
  std::string err;
  auto s = detail::parse(network_offer, err);
  if (!s) return fail("network offer: " + err);
  int audio = first_audio(*s);
  if (audio < 0) return fail("network offer has no audio line");
  std::vector<Codec> cs;
  bool opus = false, g711 = false;
  for (const auto& b : browser_codecs) {
    if (iequals(b, "opus")) {
      opus = true;
      cs.push_back(make_codec(kOpusPt, "opus", 48000, "2", "minptime=10;useinbandfec=1"));
    } else if (iequals(b, "PCMU") || iequals(b, "PCMA")) {
      g711 = true;
      bool mu = iequals(b, "PCMU");
      cs.push_back(make_codec(mu ? 0 : 8, mu ? "PCMU" : "PCMA", 8000));
    }
  }
  if (cs.empty()) return fail("no codec in transcoding.browser_codecs");
  // Telephone-event at each offered codec's clock (RFC 4733 section 2.3.1). Offered even when
  // the core has none: the browser's digits then go in-band into the G.711 stream.
  if (opus) cs.push_back(make_codec(kEvent48kPt, "telephone-event", 48000, {}, "0-15"));
  if (g711) cs.push_back(make_codec(kEvent8kPt, "telephone-event", 8000, {}, "0-15"));
  CodecPolicy video;
  video.video_codecs = video_codecs;
  return to_browser_offer(stand_in(*s, audio, cs, s->media[size_t(audio)].mode, {}, &*s), leg,
                          video);
}

Result to_network_answer_transcoding(std::string_view browser_answer, const NetworkLeg& leg,
                                     std::string_view network_offer,
                                     const std::vector<std::string>& browser_codecs,
                                     const std::vector<std::string>& network_codecs,
                                     TranscodePlan& plan) {
  std::string err;
  auto off = detail::parse(network_offer, err);
  if (!off) return fail("network offer: " + err);
  auto ans = detail::parse(browser_answer, err);
  if (!ans) return fail("browser answer: " + err);
  if (ans->media.size() != off->media.size())
    return fail("browser answer has " + std::to_string(ans->media.size()) +
                " m= lines, network offer has " + std::to_string(off->media.size()));
  NetworkChoice net = choose(*off, browser_codecs, network_codecs);
  if (net.codec.empty()) return fail("network offer has none of transcoding.network_codecs");
  int audio = first_audio(*off);
  const Media& bm = ans->media[size_t(audio)];
  if (bm.rejected || !bm.is_rtp()) return fail("the browser rejected the audio line");
  const Codec* br = browser_choice(bm, browser_codecs);
  if (!br) return fail("browser answer has none of transcoding.browser_codecs");

  const Media& om = off->media[size_t(audio)];
  std::vector<Codec> cs{*find_codec(om.codecs, net.codec)};
  if (net.event_pt >= 0) {
    Codec te = *find_event(om.codecs, 8000);
    te.fmtp = "0-15";  // the events the transcoder carries (RFC 4733 DTMF)
    cs.push_back(std::move(te));
  }
  // 20 ms is what the transcoder sends towards the IMS.
  Result r = to_network_answer(stand_in(*off, audio, cs, bm.mode, "20", &*ans), leg, network_offer);
  if (!r.ok) return r;
  plan.browser_codec = br->encoding;
  plan.browser_pt = br->pt;
  const Codec* bte = find_event(bm.codecs, br->rate);
  plan.browser_event_pt = bte ? bte->pt : -1;
  plan.network_codec = net.codec;
  plan.network_pt = net.pt;
  plan.network_event_pt = net.event_pt;
  return r;
}

}  // namespace rtcgw::sdp
