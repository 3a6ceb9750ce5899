// Video passthrough in the SDP translation (media.video: passthrough): a bundled browser video
// line becomes a plain RTP/AVP video line on the network leg's video port pair and back, with
// only the codecs of media.video_codecs and none of the WebRTC-only lines (TS 23.228 Annex U);
// the same for video offered by the core; rejected with port 0 when video is off.
#include <gtest/gtest.h>

#include <string>

#include "sdp/describe.hpp"
#include "sdp/translate.hpp"
#include "sdp_fixtures.hpp"

namespace rtcgw::sdp {
namespace {

using testing::has;
using testing::has_prefix;
using testing::lines;
using testing::load;
using testing::sofia_parses;

CodecPolicy video_policy(std::vector<std::string> video = {"VP8", "H264"}) {
  CodecPolicy p;
  p.video_codecs = std::move(video);
  return p;
}

NetworkLeg video_leg() {
  NetworkLeg leg = testing::net_leg();
  leg.video_rtp_port = 30002;
  leg.video_kbps = 1500;
  return leg;
}

// The lines of the m= section starting with `m_prefix`, up to the next m= line.
std::vector<std::string> section(const std::string& sdp, const std::string& m_prefix) {
  std::vector<std::string> out;
  bool in = false;
  for (const auto& l : lines(sdp)) {
    if (l.rfind("m=", 0) == 0) in = l.rfind(m_prefix, 0) == 0;
    if (in) out.push_back(l);
  }
  return out;
}

bool section_has_prefix(const std::vector<std::string>& sec, const std::string& prefix) {
  for (const auto& l : sec)
    if (l.rfind(prefix, 0) == 0) return true;
  return false;
}

// What Chromium would answer to rtcgw's offer of a core's audio + H264 video: PCMU and the
// first H264.
std::string chrome_av_answer(bool video) {
  return "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
         "a=group:BUNDLE 0" +
         std::string(video ? " 1" : "") +
         "\r\n"
         "m=audio 9 UDP/TLS/RTP/SAVPF 0 101\r\nc=IN IP4 0.0.0.0\r\n"
         "a=ice-ufrag:R2fT\r\na=ice-pwd:Qm3ZxNcW8pVb1yLk0uJt6sHd\r\n"
         "a=fingerprint:sha-256 "
         "1E:0C:3A:47:9B:D2:55:A8:0F:64:C1:7E:92:3D:BB:48:E6:05:71:AF:2C:98:D4:13:6A:F0:87:5B:C9:"
         "22:3E:01\r\na=setup:active\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n"
         "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n" +
         (video ? "m=video 9 UDP/TLS/RTP/SAVPF 112\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"
                  "a=sendrecv\r\na=rtcp-mux\r\na=rtpmap:112 H264/90000\r\n"
                  "a=fmtp:112 level-asymmetry-allowed=1;packetization-mode=1;"
                  "profile-level-id=42e01f\r\na=ssrc:99 cname:x\r\n"
                : "m=video 0 UDP/TLS/RTP/SAVPF 112\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"
                  "a=rtpmap:112 H264/90000\r\n");
}

TEST(SdpVideo, BrowserVideoBecomesAPlainRtpVideoLineTowardsTheIms) {
  Result r = to_network_offer(load("chrome_av_offer.sdp"), video_leg(), video_policy());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(sofia_parses(r.sdp)) << r.sdp;
  auto video = section(r.sdp, "m=video");
  ASSERT_FALSE(video.empty()) << r.sdp;
  // VP8 and H264 in the browser's order; rtx (97, 103) and AV1 (45, 46) left out.
  EXPECT_EQ(video[0], "m=video 30002 RTP/AVP 96 102");
  EXPECT_TRUE(has(r.sdp, "b=AS:1500")) << r.sdp;
  EXPECT_TRUE(has(r.sdp, "a=rtpmap:96 VP8/90000"));
  EXPECT_TRUE(has(r.sdp, "a=rtpmap:102 H264/90000"));
  EXPECT_TRUE(has(r.sdp,
                  "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;"
                  "profile-level-id=42001f"));
  for (const char* webrtc_only : {"a=rtcp-fb", "a=extmap", "a=ssrc", "a=mid", "a=msid", "a=ice-",
                                  "a=fingerprint", "a=setup", "a=group", "a=rtpmap:97"})
    EXPECT_FALSE(has_prefix(r.sdp, webrtc_only)) << webrtc_only << " in\n" << r.sdp;
  EXPECT_TRUE(section_has_prefix(video, "a=sendrecv"));
  // The audio line is what it was without video.
  EXPECT_TRUE(has_prefix(r.sdp, "m=audio 30000 RTP/AVP 0 8 126"));
}

TEST(SdpVideo, VideoIsRejectedWithoutItsPortPairOrWhenOff) {
  Result no_port =
      to_network_offer(load("chrome_av_offer.sdp"), testing::net_leg(), video_policy());
  ASSERT_TRUE(no_port.ok) << no_port.error;
  EXPECT_TRUE(has_prefix(no_port.sdp, "m=video 0 RTP/AVP")) << no_port.sdp;
  Result off = to_network_offer(load("chrome_av_offer.sdp"), video_leg(), CodecPolicy{});
  ASSERT_TRUE(off.ok) << off.error;
  EXPECT_TRUE(has_prefix(off.sdp, "m=video 0 RTP/AVP")) << off.sdp;
  EXPECT_FALSE(has_prefix(off.sdp, "a=rtpmap:96")) << off.sdp;
}

TEST(SdpVideo, OnlyTheListedVideoCodecsPass) {
  Result r = to_network_offer(load("chrome_av_offer.sdp"), video_leg(), video_policy({"H264"}));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(has(r.sdp, "m=video 30002 RTP/AVP 102")) << r.sdp;
  // A browser offering none of them: the video line is rejected, the call goes on.
  std::string no_h264 = load("chrome_av_offer.sdp");
  no_h264.replace(no_h264.find("H264/90000"), 10, "H265/90000");
  Result none = to_network_offer(no_h264, video_leg(), video_policy({"H264"}));
  ASSERT_TRUE(none.ok) << none.error;
  EXPECT_TRUE(has_prefix(none.sdp, "m=video 0 RTP/AVP")) << none.sdp;
  EXPECT_TRUE(has_prefix(none.sdp, "m=audio 30000 RTP/AVP"));
}

TEST(SdpVideo, VideoOutsideTheAudiosBundleIsRejected) {
  std::string offer = load("chrome_av_offer.sdp");
  offer.replace(offer.find("a=group:BUNDLE 0 1"), 18, "a=group:BUNDLE 0");
  Result r = to_network_offer(offer, video_leg(), video_policy());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(has_prefix(r.sdp, "m=video 0 RTP/AVP")) << r.sdp;
}

TEST(SdpVideo, NetworkVideoAnswerReachesTheBrowserBundled) {
  Result r = to_browser_answer(load("ims_answer_video.sdp"), load("chrome_av_offer.sdp"),
                               testing::browser_leg());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(sofia_parses(r.sdp)) << r.sdp;
  EXPECT_TRUE(has(r.sdp, "a=group:BUNDLE 0 1")) << r.sdp;
  auto video = section(r.sdp, "m=video");
  ASSERT_FALSE(video.empty());
  EXPECT_EQ(video[0], "m=video 50000 UDP/TLS/RTP/SAVPF 96");
  EXPECT_TRUE(section_has_prefix(video, "b=AS:2000")) << r.sdp;
  EXPECT_TRUE(section_has_prefix(video, "a=mid:1"));
  EXPECT_TRUE(section_has_prefix(video, "a=rtcp-mux"));
  EXPECT_TRUE(section_has_prefix(video, "a=fingerprint:sha-256 AB:CD"));
  EXPECT_TRUE(section_has_prefix(video, "a=rtpmap:96 VP8/90000"));
  EXPECT_FALSE(section_has_prefix(video, "a=rtpmap:97")) << "no rtx: the IMS did not take it";
  // Key frame requests and NACK cross in RTCP; congestion feedback does not (no extmap for it).
  for (const char* fb : {"a=rtcp-fb:96 nack", "a=rtcp-fb:96 nack pli", "a=rtcp-fb:96 ccm fir"})
    EXPECT_TRUE(has(r.sdp, fb)) << fb << "\n" << r.sdp;
  EXPECT_FALSE(has(r.sdp, "a=rtcp-fb:96 goog-remb")) << r.sdp;
  EXPECT_FALSE(has(r.sdp, "a=rtcp-fb:96 transport-cc")) << r.sdp;
  EXPECT_FALSE(section_has_prefix(section(r.sdp, "m=audio"), "a=rtcp-fb")) << r.sdp;
}

TEST(SdpVideo, OnlyTheFeedbackTheBrowserOfferedIsAnswered) {
  std::string offer = load("chrome_av_offer.sdp");
  size_t at = offer.find("a=rtcp-fb:96 ccm fir");
  offer.erase(at, offer.find('\n', at) + 1 - at);
  Result r = to_browser_answer(load("ims_answer_video.sdp"), offer, testing::browser_leg());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(has(r.sdp, "a=rtcp-fb:96 nack pli")) << r.sdp;
  EXPECT_FALSE(has(r.sdp, "a=rtcp-fb:96 ccm fir")) << r.sdp;
  // "*" in the offer stands for every payload type (RFC 4585 section 4.2).
  std::string star = load("chrome_av_offer.sdp");
  star.replace(star.find("a=rtcp-fb:96 ccm fir"), 20, "a=rtcp-fb:* ccm fir");
  Result s = to_browser_answer(load("ims_answer_video.sdp"), star, testing::browser_leg());
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_TRUE(has(s.sdp, "a=rtcp-fb:96 ccm fir")) << s.sdp;
}

TEST(SdpVideo, NetworkRejectingVideoRejectsItTowardsTheBrowser) {
  Result r = to_browser_answer(load("ims_answer_av.sdp"), load("chrome_av_offer.sdp"),
                               testing::browser_leg());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(has_prefix(r.sdp, "m=video 0 UDP/TLS/RTP/SAVPF")) << r.sdp;
  EXPECT_TRUE(has(r.sdp, "a=group:BUNDLE 0")) << r.sdp;
}

TEST(SdpVideo, CoreVideoIsOfferedToTheBrowserAndAnsweredOnTheCoresPayloadTypes) {
  Result offer =
      to_browser_offer(load("ims_offer_video.sdp"), testing::browser_leg(), video_policy());
  ASSERT_TRUE(offer.ok) << offer.error;
  EXPECT_TRUE(sofia_parses(offer.sdp)) << offer.sdp;
  EXPECT_TRUE(has(offer.sdp, "a=group:BUNDLE 0 1")) << offer.sdp;
  auto video = section(offer.sdp, "m=video");
  ASSERT_FALSE(video.empty());
  EXPECT_EQ(video[0], "m=video 50000 UDP/TLS/RTP/SAVPF 112 113");
  EXPECT_TRUE(section_has_prefix(video, "a=setup:actpass"));
  EXPECT_TRUE(section_has_prefix(video, "a=mid:1"));
  // rtcgw's own feedback set for each codec, not the core's lines as they were ("*").
  for (const char* fb : {"a=rtcp-fb:112 nack", "a=rtcp-fb:112 nack pli", "a=rtcp-fb:112 ccm fir",
                         "a=rtcp-fb:113 nack", "a=rtcp-fb:113 nack pli", "a=rtcp-fb:113 ccm fir"})
    EXPECT_TRUE(has(offer.sdp, fb)) << fb << "\n" << offer.sdp;
  EXPECT_FALSE(section_has_prefix(video, "a=rtcp-fb:*")) << offer.sdp;
  EXPECT_FALSE(section_has_prefix(section(offer.sdp, "m=audio"), "a=rtcp-fb")) << offer.sdp;
  EXPECT_FALSE(section_has_prefix(video, "a=extmap"));

  NetworkLeg leg = video_leg();
  Result answer = to_network_answer(chrome_av_answer(true), leg, load("ims_offer_video.sdp"));
  ASSERT_TRUE(answer.ok) << answer.error;
  EXPECT_TRUE(sofia_parses(answer.sdp)) << answer.sdp;
  auto net_video = section(answer.sdp, "m=video");
  ASSERT_FALSE(net_video.empty()) << answer.sdp;
  // The offer's proto (AVPF) and payload type; no WebRTC lines.
  EXPECT_EQ(net_video[0], "m=video 30002 RTP/AVPF 112");
  EXPECT_TRUE(section_has_prefix(net_video, "b=AS:1500"));
  EXPECT_FALSE(has_prefix(answer.sdp, "a=ssrc"));
  EXPECT_FALSE(has_prefix(answer.sdp, "a=mid"));

  Result refused = to_network_answer(chrome_av_answer(false), leg, load("ims_offer_video.sdp"));
  ASSERT_TRUE(refused.ok) << refused.error;
  EXPECT_TRUE(has_prefix(refused.sdp, "m=video 0 RTP/AVPF")) << refused.sdp;
}

TEST(SdpVideo, CoreVideoIsRejectedWhenVideoIsOff) {
  Result offer = to_browser_offer(load("ims_offer_video.sdp"), testing::browser_leg(), {});
  ASSERT_TRUE(offer.ok) << offer.error;
  EXPECT_TRUE(has_prefix(offer.sdp, "m=video 0 UDP/TLS/RTP/SAVPF")) << offer.sdp;
  EXPECT_TRUE(has(offer.sdp, "a=group:BUNDLE 0")) << offer.sdp;
}

TEST(SdpVideo, VideoPayloadTypeTakenByTheAudioLineIsLeftOut) {
  // The browser leg tells video from audio by payload type: a core offering H264 as 101, the
  // number its telephone-event has on the audio line, cannot be relayed on that number.
  std::string offer = load("ims_offer_video.sdp");
  for (auto [from, to] : {std::pair<std::string, std::string>{"RTP/AVPF 112 113", "RTP/AVPF 101"},
                          {"a=rtpmap:112 H264", "a=rtpmap:101 H264"},
                          {"a=fmtp:112 ", "a=fmtp:101 "}})
    offer.replace(offer.find(from), from.size(), to);
  offer.erase(offer.find("a=rtpmap:113"), offer.find("a=rtcp-fb") - offer.find("a=rtpmap:113"));
  offer.erase(offer.find("a=imageattr"),
              offer.find("a=sendrecv", offer.find("a=imageattr")) - offer.find("a=imageattr"));
  Result r = to_browser_offer(offer, testing::browser_leg(), video_policy());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(has_prefix(r.sdp, "m=video 0 ")) << r.sdp;
}

TEST(SdpVideo, TranscodedAudioKeepsItsVideoLine) {
  // An opus-only browser with video: the IMS gets G.711 and the video as on a relayed call.
  std::string offer = load("chrome_av_offer.sdp");
  Result to_ims = to_network_offer_transcoding(offer, video_leg(), {"PCMA"}, {"VP8"});
  ASSERT_TRUE(to_ims.ok) << to_ims.error;
  EXPECT_TRUE(has(to_ims.sdp, "m=video 30002 RTP/AVP 96")) << to_ims.sdp;
  EXPECT_TRUE(has_prefix(to_ims.sdp, "m=audio 30000 RTP/AVP 8 101"));

  TranscodePlan plan;
  Result to_browser = to_browser_answer_transcoding(
      "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
      "m=audio 40000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
      "m=video 40002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n",
      offer, testing::browser_leg(), {"opus"}, plan);
  ASSERT_TRUE(to_browser.ok) << to_browser.error;
  EXPECT_EQ(plan.browser_codec, "opus");
  EXPECT_TRUE(has(to_browser.sdp, "m=video 50000 UDP/TLS/RTP/SAVPF 96")) << to_browser.sdp;
  EXPECT_TRUE(has(to_browser.sdp, "a=group:BUNDLE 0 1")) << to_browser.sdp;

  // From the core: PCMU-only audio transcoded for an opus browser, the video relayed.
  Result core = to_browser_offer_transcoding(load("ims_offer_video.sdp"), testing::browser_leg(),
                                             {"opus"}, {"H264"});
  ASSERT_TRUE(core.ok) << core.error;
  EXPECT_TRUE(has(core.sdp, "m=video 50000 UDP/TLS/RTP/SAVPF 112 113")) << core.sdp;
  EXPECT_TRUE(has_prefix(core.sdp, "m=audio 50000 UDP/TLS/RTP/SAVPF 111"));
}

TEST(SdpVideo, DescribeReadsTheVideoLines) {
  NetworkMedia n = describe_network(load("ims_offer_video.sdp"));
  ASSERT_TRUE(n.ok) << n.error;
  EXPECT_TRUE(n.video.present);
  EXPECT_EQ(n.video.address, "192.0.2.20");
  EXPECT_EQ(n.video.rtp_port, 31002);
  EXPECT_EQ(n.video.rtcp_port, 31003);
  EXPECT_FALSE(describe_network(load("ims_offer.sdp")).video.present) << "port 0 is no video";

  BrowserTransport t = describe_browser(load("chrome_av_offer.sdp"));
  ASSERT_TRUE(t.ok) << t.error;
  EXPECT_TRUE(t.video);
  EXPECT_EQ(t.video_payload_types, (std::vector<int>{96, 97, 102, 103, 45, 46}));
  EXPECT_FALSE(describe_browser(load("chrome_audio_offer.sdp")).video);
}

}  // namespace
}  // namespace rtcgw::sdp
