// Any text as SDP through every function of src/sdp/translate.hpp and src/sdp/describe.hpp:
// as the browser's offer or answer and as the network's offer or answer, each against a fixed
// valid counterpart (the unit tests' Chrome and IMS SDPs), and split in two (at the first NUL,
// else at a byte chosen by a hash of the input) to get both SDPs of a pair from it. The translated
// output is fed back in too. Checks: a Result is either ok with an SDP and status 0, or not ok with
// a reason and 488 (500 when the translator wrote something sofia does not parse again: a
// translator bug); what the translator offers describes back to the leg it was given.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sdp/describe.hpp"
#include "sdp/translate.hpp"

namespace sdp = rtcgw::sdp;

namespace {

// tests/unit/data/sdp/chrome_audio_offer.sdp
constexpr std::string_view kBrowserOffer = R"sdp(v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
a=extmap-allow-mixed
a=msid-semantic: WMS 9c1c9f3e-5b8a-4a3e-9d6e-2f3c7d1a0b11
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=candidate:2437072876 1 udp 2113937151 127.0.0.1 50614 typ host generation 0 network-cost 999
a=candidate:3822155068 1 tcp 1518157055 127.0.0.1 9 typ host tcptype active generation 0 network-cost 999
a=end-of-candidates
a=ice-ufrag:Xk7q
a=ice-pwd:2bQm9PPAx0YlO2ZqvXhE3a6n
a=ice-options:trickle
a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=sendrecv
a=msid:9c1c9f3e-5b8a-4a3e-9d6e-2f3c7d1a0b11 4e0b7c2a-61d5-4c1f-a1b7-9d2e0f3a5c44
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:1458273612 cname:q2Xb4pV3nR8sT1uW
a=ssrc:1458273612 msid:9c1c9f3e-5b8a-4a3e-9d6e-2f3c7d1a0b11 4e0b7c2a-61d5-4c1f-a1b7-9d2e0f3a5c44
)sdp";
// tests/unit/data/sdp/chrome_answer.sdp
constexpr std::string_view kBrowserAnswer = R"sdp(v=0
o=- 5183723468247934567 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
a=extmap-allow-mixed
a=msid-semantic: WMS 2f6c1a2b-3d4e-4f50-8a9b-0c1d2e3f4a5b
m=audio 9 UDP/TLS/RTP/SAVPF 8 101
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=candidate:3160571426 1 udp 2122260223 127.0.0.1 51872 typ host generation 0 network-cost 999
a=ice-ufrag:k9Lp
a=ice-pwd:Zt4Yc7Vn2Bm8Qx1Wr5Es9Dg3
a=ice-options:trickle
a=fingerprint:sha-256 A0:5F:3C:19:D8:72:4E:B6:0A:93:C5:1F:68:E2:7D:04:BB:39:F1:56:2A:CE:80:17:64:DD:9B:03:E8:4A:75:C2
a=setup:active
a=mid:0
a=sendrecv
a=msid:2f6c1a2b-3d4e-4f50-8a9b-0c1d2e3f4a5b 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d
a=rtcp-mux
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=ssrc:2849203748 cname:Gk3pLq8rT2vW6xZ0
m=video 0 UDP/TLS/RTP/SAVPF 99
c=IN IP4 0.0.0.0
a=mid:1
)sdp";
// tests/unit/data/sdp/ims_offer.sdp
constexpr std::string_view kNetworkOffer = R"sdp(v=0
o=SBC 2839102 2839102 IN IP4 192.0.2.20
s=SBC call
c=IN IP4 192.0.2.20
b=AS:80
t=0 0
m=audio 31000 RTP/AVP 104 8 0 101 100
b=AS:80
b=RS:0
b=RR:0
a=rtpmap:104 AMR-WB/16000/1
a=fmtp:104 mode-change-capability=2;max-red=0
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=rtpmap:100 telephone-event/16000
a=fmtp:100 0-15
a=ptime:20
a=maxptime:240
a=sendrecv
m=video 0 RTP/AVP 99
a=rtpmap:99 H264/90000
)sdp";
// tests/unit/data/sdp/ims_answer.sdp
constexpr std::string_view kNetworkAnswer = R"sdp(v=0
o=MTAS 1234567890 1234567891 IN IP4 192.0.2.10
s=-
c=IN IP4 192.0.2.10
b=AS:64
b=RS:0
b=RR:2000
t=0 0
m=audio 40000 RTP/AVP 0 101
b=AS:64
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=maxptime:240
a=sendrecv
)sdp";

// `video`: media.video: passthrough, with a video port pair.
sdp::NetworkLeg network_leg(bool v6, bool mux, bool video) {
  sdp::NetworkLeg leg;
  leg.address = v6 ? "2001:db8::10" : "192.0.2.10";
  leg.rtp_port = 30000;
  leg.rtcp_mux_offered = mux;
  leg.video_rtp_port = video ? 30002 : 0;
  leg.video_rtcp_mux_offered = mux;
  leg.session_id = 42;
  leg.session_version = 7;
  return leg;
}

sdp::BrowserLeg browser_leg(bool candidates, bool active) {
  sdp::BrowserLeg leg;
  leg.address = "198.51.100.7";
  leg.port = 40000;
  leg.ice_ufrag = "fZuF";
  leg.ice_pwd = "fuzzPasswordFuzzPassword";
  leg.fingerprint_sha256 =
      "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:"
      "67:89";
  leg.setup = active ? "active" : "passive";
  if (candidates) leg.candidates = {"1 1 udp 2130706431 198.51.100.7 40000 typ host"};
  leg.session_id = 43;
  leg.session_version = 3;
  return leg;
}

void check(const sdp::Result& r) {
  if (r.ok) {
    if (r.sdp.empty() || r.sip_status != 0) __builtin_trap();
    // Whatever was made describes without trouble.
    (void)sdp::describe_browser(r.sdp);
    (void)sdp::describe_network(r.sdp);
    return;
  }
  if (r.error.empty()) __builtin_trap();
  // 500: the translator wrote an SDP that sofia refuses, a bug in src/sdp.
  if (r.sip_status != 488) __builtin_trap();
}

// sofia-sip 1.12.11 (Debian 12) never returns from sdp_parse() for some m= lines
// ("m=audio 9 UDP/TLS/RTP/SAVPF 0 (", or only blanks after a TAB): sdp::detail::parse refuses
// such lines before sofia sees them (corpus/sdp_translate/regress_sofia_mline_*).

void one(std::string_view text, uint8_t flags) {
  const sdp::NetworkLeg nl = network_leg(flags & 1, flags & 2, flags & 32);
  const sdp::BrowserLeg bl = browser_leg(flags & 4, flags & 8);
  sdp::CodecPolicy policy;
  policy.allow_opus_to_network = flags & 16;
  if (flags & 32) policy.video_codecs = {"VP8", "H264"};

  (void)sdp::describe_browser(text);
  (void)sdp::describe_network(text);

  // As the browser's offer (a call from the browser), then the network's answer to it.
  sdp::Result offer = sdp::to_network_offer(text, nl, policy);
  check(offer);
  if (offer.ok) {
    sdp::NetworkMedia n = sdp::describe_network(offer.sdp);
    if (!n.ok || n.rtp_port != nl.rtp_port || n.address != nl.address) __builtin_trap();
    check(sdp::to_browser_answer(kNetworkAnswer, text, bl));
  }
  check(sdp::to_browser_answer(text, kBrowserOffer, bl));  // as the network's answer

  // As the network's offer (a call from the core), then the browser's answer to it.
  sdp::Result boffer = sdp::to_browser_offer(text, bl, policy);
  check(boffer);
  if (boffer.ok) {
    sdp::BrowserTransport t = sdp::describe_browser(boffer.sdp);
    if (!t.ok || t.ice_ufrag != bl.ice_ufrag || t.ice_pwd != bl.ice_pwd ||
        t.fingerprint != bl.fingerprint_sha256)
      __builtin_trap();
    check(sdp::to_network_answer(kBrowserAnswer, nl, text));
  }
  check(sdp::to_network_answer(text, nl, kNetworkOffer));  // as the browser's answer

  // Transcoding (issue 4), both call directions: the input as an offer, then as an answer.
  static const std::vector<std::string> kBrowserCodecs{"opus", "PCMU", "PCMA"};
  static const std::vector<std::string> kNetworkCodecs{"PCMU", "PCMA"};
  bool shared = false;
  (void)sdp::pick_browser_codec(text, kBrowserCodecs, kNetworkCodecs, shared);
  (void)sdp::pick_network_codec(text, kBrowserCodecs, kNetworkCodecs);
  check(sdp::to_network_offer_transcoding(text, nl, kNetworkCodecs, policy.video_codecs));
  check(sdp::to_browser_offer_transcoding(text, bl, kBrowserCodecs, policy.video_codecs));
  sdp::TranscodePlan plan;
  check(sdp::to_browser_answer_transcoding(text, kBrowserOffer, bl, kBrowserCodecs, plan));
  check(sdp::to_browser_answer_transcoding(kNetworkAnswer, text, bl, kBrowserCodecs, plan));
  check(sdp::to_network_answer_transcoding(text, nl, kNetworkOffer, kBrowserCodecs, kNetworkCodecs,
                                           plan));
  check(sdp::to_network_answer_transcoding(kBrowserAnswer, nl, text, kBrowserCodecs, kNetworkCodecs,
                                           plan));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // The leg variants and the split point come from a hash of the whole input, so the text
  // itself stays a plain SDP (the seeds are the unit tests' files as they are).
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 16777619u;
  const uint8_t flags = uint8_t(h & 63);
  // Two SDPs from one input: split at the first NUL byte (the pair seeds are "answer\0offer"),
  // else at a byte the hash picks.
  size_t at = text.find('\0');
  size_t skip = 1;
  if (at == std::string_view::npos) {
    at = size == 0 ? 0 : (h >> 8) % (size + 1);
    skip = 0;
  }
  std::string_view a = text.substr(0, at), b = text.substr(std::min(size, at + skip));

  one(text, flags);
  const sdp::NetworkLeg nl = network_leg(flags & 1, flags & 2, flags & 32);
  const sdp::BrowserLeg bl = browser_leg(flags & 4, flags & 8);
  check(sdp::to_browser_answer(a, b, bl));
  check(sdp::to_network_answer(a, nl, b));
  check(sdp::to_browser_answer(b, a, bl));
  check(sdp::to_network_answer(b, nl, a));
  return 0;
}
