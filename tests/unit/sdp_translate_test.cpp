// SDP translation of the media anchor on captured SDPs (tests/unit/data/sdp): Chrome/JsSIP
// offers and answers, IMS/VoLTE-style offers and answers, hold, no common codec.
#include "sdp/describe.hpp"
#include "sdp/model.hpp"
#include "sdp/translate.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sdp_fixtures.hpp"

namespace {

using namespace rtcgw::sdp;
using namespace rtcgw::sdp::testing;

bool crlf_only(const std::string& sdp) {
  for (size_t i = 0; i < sdp.size(); ++i)
    if (sdp[i] == '\n' && (i == 0 || sdp[i - 1] != '\r')) return false;
  return !sdp.empty() && sdp.back() == '\n';
}

// The m= sections of an SDP (each starting with its m= line); [0] is the session part.
std::vector<std::string> sections(const std::string& sdp) {
  std::vector<std::string> out(1);
  for (const auto& l : lines(sdp)) {
    if (l.rfind("m=", 0) == 0) out.emplace_back();
    out.back() += l + "\r\n";
  }
  return out;
}

int count_prefix(const std::string& sdp, const std::string& prefix) {
  int n = 0;
  for (const auto& l : lines(sdp)) n += l.rfind(prefix, 0) == 0;
  return n;
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

const char* const kWebRtcOnly[] = {"a=ice-",        "a=candidate", "a=end-of-candidates",
                                   "a=fingerprint", "a=setup",     "a=group",
                                   "a=mid",         "a=msid",      "a=ssrc",
                                   "a=extmap",      "a=rtcp-fb",   "a=rtcp-mux",
                                   "a=rtcp-rsize",  "a=rtcp:",     "a=ice-lite"};

// ---- browser offer -> network offer ----

TEST(SdpToNetworkOffer, ChromeAudioOfferBecomesPlainRtpAvp) {
  Result r = to_network_offer(load("chrome_audio_offer.sdp"), net_leg());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(sofia_parses(r.sdp)) << r.sdp;
  EXPECT_TRUE(crlf_only(r.sdp));
  EXPECT_EQ(lines(r.sdp)[0], "v=0");
  EXPECT_TRUE(has(r.sdp, "o=- 42 1 IN IP4 198.51.100.7"));
  EXPECT_TRUE(has(r.sdp, "c=IN IP4 198.51.100.7"));
  // PCMU, PCMA, telephone-event/8000 in the browser's order; opus, red, G722, CN and
  // telephone-event/48000 gone.
  EXPECT_TRUE(has(r.sdp, "m=audio 30000 RTP/AVP 0 8 126")) << r.sdp;
  EXPECT_TRUE(has(r.sdp, "b=AS:80"));
  EXPECT_TRUE(has(r.sdp, "a=rtpmap:0 PCMU/8000"));
  EXPECT_TRUE(has(r.sdp, "a=rtpmap:8 PCMA/8000"));
  EXPECT_TRUE(has(r.sdp, "a=rtpmap:126 telephone-event/8000"));
  EXPECT_EQ(count_prefix(r.sdp, "a=rtpmap:"), 3);
  EXPECT_EQ(count_prefix(r.sdp, "a=fmtp:"), 0);
  EXPECT_TRUE(has(r.sdp, "a=sendrecv"));
  for (const char* p : kWebRtcOnly) EXPECT_EQ(count_prefix(r.sdp, p), 0) << p;
  EXPECT_EQ(count_prefix(r.sdp, "a=extmap-allow-mixed"), 0);
  EXPECT_EQ(r.sdp.find("SAVPF"), std::string::npos);
  EXPECT_EQ(r.sdp.find("127.0.0.1"), std::string::npos);
  EXPECT_EQ(r.sdp.find("0.0.0.0"), std::string::npos);
  EXPECT_EQ(count_prefix(r.sdp, "m="), 1);
}

TEST(SdpToNetworkOffer, OpusWhenAllowedKeepsItsFmtpAndDtmfRate) {
  Result r = to_network_offer(load("chrome_audio_offer.sdp"), net_leg(), CodecPolicy{true});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(sofia_parses(r.sdp));
  EXPECT_TRUE(has(r.sdp, "m=audio 30000 RTP/AVP 111 0 8 110 126")) << r.sdp;
  EXPECT_TRUE(has(r.sdp, "a=rtpmap:111 opus/48000/2"));
  EXPECT_TRUE(has(r.sdp, "a=fmtp:111 minptime=10;useinbandfec=1"));
  EXPECT_TRUE(has(r.sdp, "a=rtpmap:110 telephone-event/48000"));
  EXPECT_EQ(count_prefix(r.sdp, "a=rtcp-fb"), 0);
}

TEST(SdpToNetworkOffer, RtcpMuxPtimeAndIpv6) {
  NetworkLeg leg = net_leg();
  leg.rtcp_mux_offered = true;
  leg.address = "2001:db8::7";
  std::string offer =
      replace(load("chrome_audio_offer.sdp"), "a=mid:0\n", "a=mid:0\na=ptime:20\na=maxptime:60\n");
  Result r = to_network_offer(offer, leg);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(sofia_parses(r.sdp));
  EXPECT_TRUE(has(r.sdp, "a=rtcp-mux"));
  EXPECT_TRUE(has(r.sdp, "a=ptime:20"));
  EXPECT_TRUE(has(r.sdp, "a=maxptime:60"));
  EXPECT_TRUE(has(r.sdp, "c=IN IP6 2001:db8::7"));
  EXPECT_TRUE(has(r.sdp, "o=- 42 1 IN IP6 2001:db8::7"));
  EXPECT_TRUE(has(r.sdp, "b=AS:88"));
}

TEST(SdpToNetworkOffer, VideoIsRejectedWithPortZeroAndValidFormats) {
  Result r = to_network_offer(load("chrome_av_offer.sdp"), net_leg());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(sofia_parses(r.sdp));
  auto s = sections(r.sdp);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(lines(s[1])[0], "m=audio 30000 RTP/AVP 0 8 126");
  EXPECT_EQ(s[2], "m=video 0 RTP/AVP 96 97 102 103 45 46\r\n");  // no WebRTC attributes left
  for (const char* p : kWebRtcOnly) EXPECT_EQ(count_prefix(r.sdp, p), 0) << p;
}

TEST(SdpToNetworkOffer, HoldReofferKeepsSendonlyAndNewVersion) {
  NetworkLeg leg = net_leg();
  leg.session_version = 2;
  Result r = to_network_offer(load("chrome_hold_reoffer.sdp"), leg);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(has(r.sdp, "o=- 42 2 IN IP4 198.51.100.7"));
  EXPECT_TRUE(has(r.sdp, "a=sendonly"));
  EXPECT_FALSE(has(r.sdp, "a=sendrecv"));
}

TEST(SdpToNetworkOffer, NoNetworkCodecIs488) {
  std::string opus_only = replace(load("chrome_audio_offer.sdp"), "SAVPF 111 63 9 0 8 13 110 126",
                                  "SAVPF 111 63 9 13 110 126");
  Result r = to_network_offer(opus_only, net_leg());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sip_status, 488);
  EXPECT_FALSE(r.error.empty());
  // Allowed opus makes the same offer usable, with the 48 kHz telephone-event only.
  r = to_network_offer(opus_only, net_leg(), CodecPolicy{true});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(has(r.sdp, "m=audio 30000 RTP/AVP 111 110"));
}

TEST(SdpToNetworkOffer, GarbageIs488) {
  for (const char* bad : {"", "hello", "v=0\r\nm=audio x\r\n"}) {
    Result r = to_network_offer(bad, net_leg());
    EXPECT_FALSE(r.ok) << bad;
    EXPECT_EQ(r.sip_status, 488);
    EXPECT_FALSE(r.error.empty());
  }
}

TEST(SdpToNetworkOffer, CrlfInputAndStaticPayloadsWithoutRtpmap) {
  std::string offer =
      "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 8 0\r\n"
      "c=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\n";
  Result r = to_network_offer(offer, net_leg());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(has(r.sdp, "m=audio 30000 RTP/AVP 8 0"));
  EXPECT_TRUE(has(r.sdp, "a=rtpmap:8 PCMA/8000"));
  EXPECT_TRUE(has(r.sdp, "a=recvonly"));
}

// ---- network answer -> browser answer ----

TEST(SdpToBrowserAnswer, ImsAnswerBecomesWebRtcAnswer) {
  Result r =
      to_browser_answer(load("ims_answer.sdp"), load("chrome_audio_offer.sdp"), browser_leg());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(sofia_parses(r.sdp)) << r.sdp;
  auto s = sections(r.sdp);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_TRUE(crlf_only(r.sdp));
  // Session level: ICE-lite and the BUNDLE group of the accepted mid.
  EXPECT_TRUE(has(s[0], "o=- 77 3 IN IP4 203.0.113.5"));
  EXPECT_TRUE(has(s[0], "c=IN IP4 203.0.113.5"));
  EXPECT_TRUE(has(s[0], "a=ice-lite"));
  EXPECT_TRUE(has(s[0], "a=group:BUNDLE 0"));
  // PCMU and the network's telephone-event (101) under the browser's PT (126).
  EXPECT_EQ(lines(s[1])[0], "m=audio 50000 UDP/TLS/RTP/SAVPF 0 126");
  EXPECT_TRUE(has(s[1], "a=rtpmap:0 PCMU/8000"));
  EXPECT_TRUE(has(s[1], "a=rtpmap:126 telephone-event/8000"));
  EXPECT_TRUE(has(s[1], "a=fmtp:126 0-15"));
  EXPECT_EQ(count_prefix(r.sdp, "a=rtpmap:"), 2);
  EXPECT_TRUE(has(s[1], "a=mid:0"));
  EXPECT_TRUE(has(s[1], "a=ice-ufrag:gwUf"));
  EXPECT_TRUE(has(s[1], "a=ice-pwd:gatewayIcePassword0123456"));
  EXPECT_TRUE(has(s[1], "a=fingerprint:sha-256 " + browser_leg().fingerprint_sha256));
  EXPECT_TRUE(has(s[1], "a=setup:passive"));
  EXPECT_TRUE(has(s[1], "a=rtcp-mux"));
  EXPECT_TRUE(has(s[1], "a=ptime:20"));
  EXPECT_TRUE(has(s[1], "a=maxptime:240"));
  EXPECT_TRUE(has(s[1], "a=sendrecv"));
  EXPECT_TRUE(has(s[1], "a=candidate:1 1 udp 2130706431 203.0.113.5 50000 typ host"));
  EXPECT_EQ(lines(s[1]).back(), "a=end-of-candidates");
  EXPECT_EQ(r.sdp.find("192.0.2.10"), std::string::npos);
  EXPECT_EQ(r.sdp.find("RTP/AVP "), std::string::npos);
  EXPECT_EQ(count_prefix(r.sdp, "b="), 0);
}

TEST(SdpToBrowserAnswer, RejectedVideoKeepsPortZeroMidAndOrder) {
  Result r =
      to_browser_answer(load("ims_answer_av.sdp"), load("chrome_av_offer.sdp"), browser_leg());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(sofia_parses(r.sdp));
  auto s = sections(r.sdp);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_TRUE(has(s[0], "a=group:BUNDLE 0"));  // the rejected mid 1 leaves the group
  EXPECT_EQ(lines(s[1])[0], "m=audio 50000 UDP/TLS/RTP/SAVPF 8 126");
  EXPECT_TRUE(has(s[1], "a=mid:0"));
  EXPECT_EQ(s[2], "m=video 0 UDP/TLS/RTP/SAVPF 96 97 102 103 45 46\r\na=mid:1\r\n");
}

TEST(SdpToBrowserAnswer, HoldAnswerDirectionIsMirrored) {
  Result r = to_browser_answer(load("ims_hold_answer.sdp"), load("chrome_hold_reoffer.sdp"),
                               browser_leg());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(has(r.sdp, "a=recvonly"));
  EXPECT_FALSE(has(r.sdp, "a=sendrecv"));
}

// sipp's echo scenario and some IMS media gateways answer a sendonly hold with sendrecv: the
// browser gets what RFC 3264 section 6.1 lets the answer say, recvonly.
TEST(SdpToBrowserAnswer, SendrecvAnswerToHoldIsNarrowedToRecvonly) {
  std::string answer = replace(load("ims_hold_answer.sdp"), "a=recvonly", "a=sendrecv");
  Result r = to_browser_answer(answer, load("chrome_hold_reoffer.sdp"), browser_leg());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(has(r.sdp, "a=recvonly"));
  EXPECT_FALSE(has(r.sdp, "a=sendrecv"));

  std::string inactive_offer = replace(load("chrome_hold_reoffer.sdp"), "a=sendonly", "a=inactive");
  r = to_browser_answer(answer, inactive_offer, browser_leg());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(has(r.sdp, "a=inactive"));
  EXPECT_FALSE(has(r.sdp, "a=sendrecv"));
}

TEST(SdpAnswerMode, Rfc3264Table) {
  using rtcgw::sdp::detail::answer_mode;
  using M = rtcgw::sdp::detail::Mode;
  EXPECT_EQ(answer_mode(M::sendrecv, M::sendrecv), M::sendrecv);
  EXPECT_EQ(answer_mode(M::sendrecv, M::sendonly), M::sendonly);
  EXPECT_EQ(answer_mode(M::sendonly, M::sendrecv), M::recvonly);
  EXPECT_EQ(answer_mode(M::sendonly, M::sendonly), M::inactive);
  EXPECT_EQ(answer_mode(M::recvonly, M::sendrecv), M::sendonly);
  EXPECT_EQ(answer_mode(M::recvonly, M::recvonly), M::inactive);
  EXPECT_EQ(answer_mode(M::inactive, M::sendrecv), M::inactive);
}

TEST(SdpToBrowserAnswer, NoCommonCodecIs488) {
  Result r = to_browser_answer(load("ims_answer_no_common_codec.sdp"),
                               load("chrome_audio_offer.sdp"), browser_leg());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sip_status, 488);
  EXPECT_FALSE(r.error.empty());
}

TEST(SdpToBrowserAnswer, CodecTheBrowserDidNotOfferIsDropped) {
  std::string ans = replace(load("ims_answer.sdp"), "RTP/AVP 0 101", "RTP/AVP 18 0 101");
  Result r = to_browser_answer(ans, load("chrome_audio_offer.sdp"), browser_leg());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(has(r.sdp, "m=audio 50000 UDP/TLS/RTP/SAVPF 0 126"));
}

TEST(SdpToBrowserAnswer, GivenCandidatesAndMlineCountMismatch) {
  BrowserLeg leg = browser_leg();
  leg.candidates = {"7 1 udp 2130706431 203.0.113.5 50000 typ host",
                    "8 1 udp 2130706175 2001:db8::5 50000 typ host"};
  Result r = to_browser_answer(load("ims_answer.sdp"), load("chrome_audio_offer.sdp"), leg);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(count_prefix(r.sdp, "a=candidate:"), 2);
  EXPECT_TRUE(has(r.sdp, "a=candidate:8 1 udp 2130706175 2001:db8::5 50000 typ host"));
  r = to_browser_answer(load("ims_answer.sdp"), load("chrome_av_offer.sdp"), browser_leg());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sip_status, 488);
}

TEST(SdpToBrowserAnswer, SetupRoleIsNeverActpass) {
  BrowserLeg leg = browser_leg();
  leg.setup = "actpass";
  std::string offer = load("chrome_audio_offer.sdp");
  Result r = to_browser_answer(load("ims_answer.sdp"), offer, leg);
  EXPECT_TRUE(has(r.sdp, "a=setup:passive"));
  r = to_browser_answer(load("ims_answer.sdp"), replace(offer, "setup:actpass", "setup:passive"),
                        leg);
  EXPECT_TRUE(has(r.sdp, "a=setup:active"));
}

// ---- calls from the core: network offer -> browser offer -> network answer ----

TEST(SdpToBrowserOffer, ImsOfferBecomesWebRtcOffer) {
  Result r = to_browser_offer(load("ims_offer.sdp"), browser_leg());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(sofia_parses(r.sdp)) << r.sdp;
  auto s = sections(r.sdp);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_TRUE(has(s[0], "a=ice-lite"));
  EXPECT_TRUE(has(s[0], "a=group:BUNDLE 0"));
  // AMR-WB and the 16 kHz telephone-event dropped, the network's order and PTs kept.
  EXPECT_EQ(lines(s[1])[0], "m=audio 50000 UDP/TLS/RTP/SAVPF 8 0 101");
  EXPECT_TRUE(has(s[1], "a=setup:actpass"));
  EXPECT_TRUE(has(s[1], "a=mid:0"));
  EXPECT_TRUE(has(s[1], "a=rtcp-mux"));
  EXPECT_TRUE(has(s[1], "a=fmtp:101 0-15"));
  EXPECT_TRUE(has(s[1], "a=ptime:20"));
  EXPECT_TRUE(has(s[1], "a=end-of-candidates"));
  EXPECT_EQ(s[2], "m=video 0 UDP/TLS/RTP/SAVPF 99\r\na=mid:1\r\n");
  EXPECT_EQ(r.sdp.find("192.0.2.20"), std::string::npos);
  EXPECT_EQ(count_prefix(r.sdp, "b="), 0);
}

TEST(SdpToBrowserOffer, NothingTheBrowserDecodesIs488) {
  std::string amr_only =
      replace(load("ims_offer.sdp"), "RTP/AVP 104 8 0 101 100", "RTP/AVP 104 100");
  Result r = to_browser_offer(amr_only, browser_leg());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sip_status, 488);
}

TEST(SdpToNetworkAnswer, ChromeAnswerBecomesRtpAvpAnswer) {
  Result r = to_network_answer(load("chrome_answer.sdp"), net_leg(), load("ims_offer.sdp"));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(sofia_parses(r.sdp)) << r.sdp;
  auto s = sections(r.sdp);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_TRUE(has(s[0], "c=IN IP4 198.51.100.7"));
  EXPECT_EQ(lines(s[1])[0], "m=audio 30000 RTP/AVP 8 101");
  EXPECT_TRUE(has(s[1], "b=AS:80"));
  EXPECT_TRUE(has(s[1], "a=rtpmap:101 telephone-event/8000"));
  EXPECT_TRUE(has(s[1], "a=sendrecv"));
  EXPECT_EQ(s[2], "m=video 0 RTP/AVP 99\r\n");
  for (const char* p : kWebRtcOnly) EXPECT_EQ(count_prefix(r.sdp, p), 0) << p;
  EXPECT_EQ(r.sdp.find("127.0.0.1"), std::string::npos);
}

TEST(SdpToNetworkAnswer, MismatchOrNoCodecIs488) {
  Result r = to_network_answer(load("chrome_audio_offer.sdp"), net_leg(), load("ims_offer.sdp"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sip_status, 488);
  std::string rejected = replace(load("chrome_answer.sdp"), "m=audio 9 ", "m=audio 0 ");
  r = to_network_answer(rejected, net_leg(), load("ims_offer.sdp"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sip_status, 488);
}

}  // namespace

namespace rtcgw::sdp {
namespace {

// A re-offer from the core on a dialog the browser started keeps the browser's own mids: a
// browser refuses an offer that renames an m= line.
TEST(SdpToBrowserOffer, KeepsTheMidsTheBrowserChose) {
  BrowserLeg leg = testing::browser_leg();
  leg.mids = {"audio"};
  Result r = to_browser_offer(testing::load("ims_offer.sdp"), leg);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_NE(r.sdp.find("a=group:BUNDLE audio\r\n"), std::string::npos) << r.sdp;
  EXPECT_NE(r.sdp.find("a=mid:audio\r\n"), std::string::npos);
  EXPECT_EQ(r.sdp.find("a=mid:0\r\n"), std::string::npos);
  BrowserTransport t = describe_browser(testing::load("chrome_audio_offer.sdp"));
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.mids, (std::vector<std::string>{"0"}));
}

}  // namespace
}  // namespace rtcgw::sdp
