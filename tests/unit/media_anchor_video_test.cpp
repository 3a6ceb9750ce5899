// Video passthrough through the real anchor (media.video: passthrough), with real sockets on
// loopback: the test browser's video RTP and RTCP share its one ICE/DTLS/SRTP transport with
// the audio and must reach the far end's video port pair unchanged, the far end's video the
// browser, each kind on its own pair; with video off the same offer holds no video ports.
#include <gtest/gtest.h>

#include <string>

#include "media_anchor_test_base.hpp"

namespace rtcgw::media {
namespace {

using testing::AnchorTest;
using testing::Bytes;
using testing::FarEnd;
using testing::pump;
using testing::replace_line;
using testing::rtcp_rr;
using testing::rtp_packet;

constexpr uint32_t kBrowserVideoSsrc = 0x0B1DE000;
constexpr uint32_t kBrowserAudioSsrc = 0x11223344;
constexpr uint32_t kNetVideoSsrc = 0xFEEDF00D;

void put32(Bytes& p, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[at + size_t(i)] = uint8_t(v >> (24 - 8 * i));
}

// A receiver report from `sender` with one report block about `about`.
Bytes rr_about(uint32_t sender, uint32_t about) {
  Bytes p = {0x81, 201, 0x00, 0x07};
  p.resize(32, 0);
  put32(p, 4, sender);
  put32(p, 8, about);
  return p;
}

class AnchorVideoTest : public AnchorTest {
 protected:
  void SetUp() override {
    AnchorTest::SetUp();
    cfg.media.video = true;
  }

  std::string browser_av_offer() {
    std::string sdp = sdp::testing::load("chrome_av_offer.sdp");
    sdp = replace_line(
        sdp, "a=fingerprint:", "a=fingerprint:sha-256 " + browser.cert->fingerprint_sha256());
    sdp = replace_line(sdp, "a=ice-ufrag:", "a=ice-ufrag:" + testing::kBrowserUfrag);
    return replace_line(sdp, "a=ice-pwd:", "a=ice-pwd:" + testing::kBrowserPwd);
  }

  // The far end's answer: PCMU + telephone-event on `far`, VP8 on `vfar`.
  std::string far_av_answer() {
    return far.sdp(true) + "m=video " + std::to_string(vfar.rtp.port()) +
           " RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\na=sendrecv\r\n";
  }

  void poll_video() {
    poll_all();
    vfar.poll();
  }

  FarEnd vfar{47600};
};

TEST_F(AnchorVideoTest, BrowserVideoAndAudioShareOneTransportAndReachTheirOwnPorts) {
  make();
  std::string err;
  Anchor* a = anchors->create("v-1", 7, err);
  ASSERT_NE(a, nullptr) << err;
  sdp::Result offer = a->browser_sdp(browser_av_offer(), false);
  ASSERT_TRUE(offer.ok) << offer.error;
  EXPECT_EQ(metrics.counter_value("rtcgw_media_ports_in_use", ""), 5) << "audio 3 + video 2";
  sdp::NetworkMedia net = sdp::describe_network(offer.sdp);
  ASSERT_TRUE(net.video.present) << offer.sdp;
  far.gw_rtp = Endpoint::from("127.0.0.1", net.rtp_port);
  vfar.gw_rtp = Endpoint::from("127.0.0.1", net.video.rtp_port);
  vfar.gw_rtcp = Endpoint::from("127.0.0.1", net.video.rtcp_port);
  EXPECT_NE(net.video.rtp_port, net.rtp_port);

  sdp::Result answer = a->network_sdp(far_av_answer(), false);
  ASSERT_TRUE(answer.ok) << answer.error;
  EXPECT_TRUE(sdp::testing::has(answer.sdp, "a=group:BUNDLE 0 1")) << answer.sdp;
  EXPECT_TRUE(sdp::testing::has_prefix(answer.sdp, "m=video ")) << answer.sdp;
  EXPECT_FALSE(sdp::testing::has_prefix(answer.sdp, "m=video 0 ")) << answer.sdp;
  connect(answer.sdp, DtlsRole::kClient);

  // Browser video (VP8, 96) goes to the video pair, its audio (PCMU, 0) to the audio pair.
  Bytes video = rtp_packet(1, 96, kBrowserVideoSsrc);
  Bytes audio = rtp_packet(1, 0, kBrowserAudioSsrc);
  ASSERT_TRUE(browser.send_rtp(video));
  ASSERT_TRUE(browser.send_rtp(audio));
  ASSERT_TRUE(
      pump([&] { poll_video(); }, [&] { return !vfar.got_rtp.empty() && !far.got_rtp.empty(); }))
      << "browser media did not reach the far end's two pairs";
  EXPECT_EQ(vfar.got_rtp.front(), video);
  EXPECT_EQ(far.got_rtp.front(), audio);
  EXPECT_EQ(vfar.got_rtp.size(), 1u);
  EXPECT_EQ(far.got_rtp.size(), 1u);

  // The far end's video comes back to the browser over SRTP, unchanged.
  Bytes back = rtp_packet(7, 96, kNetVideoSsrc);
  ASSERT_TRUE(vfar.rtp.send(back.data(), back.size(), vfar.gw_rtp));
  ASSERT_TRUE(pump([&] { poll_video(); }, [&] { return !browser.media.empty(); }));
  EXPECT_EQ(browser.media.back(), back);

  // RTCP: the browser's report about the far end's video sender and its video sender's own
  // report go to the video RTCP port; its audio sender's report to the audio one.
  ASSERT_TRUE(browser.send_rtp(rr_about(0x1, kNetVideoSsrc), true));
  ASSERT_TRUE(browser.send_rtp(rtcp_rr(kBrowserVideoSsrc), true));
  ASSERT_TRUE(browser.send_rtp(rtcp_rr(kBrowserAudioSsrc), true));
  ASSERT_TRUE(pump([&] { poll_video(); },
                   [&] { return vfar.got_rtcp.size() >= 2 && !far.got_rtcp.empty(); }))
      << "video RTCP " << vfar.got_rtcp.size() << ", audio RTCP " << far.got_rtcp.size();
  EXPECT_EQ(vfar.got_rtcp[0], rr_about(0x1, kNetVideoSsrc));
  EXPECT_EQ(vfar.got_rtcp[1], rtcp_rr(kBrowserVideoSsrc));
  EXPECT_EQ(far.got_rtcp.size(), 1u);
  EXPECT_EQ(far.got_rtcp[0], rtcp_rr(kBrowserAudioSsrc));

  // The far end's video RTCP reaches the browser as SRTCP.
  Bytes sr = rtcp_rr(kNetVideoSsrc);
  size_t before = browser.media.size();
  ASSERT_TRUE(vfar.rtcp.send(sr.data(), sr.size(), vfar.gw_rtcp));
  ASSERT_TRUE(pump([&] { poll_video(); }, [&] { return browser.media.size() > before; }))
      << metrics.serialize();
  EXPECT_EQ(browser.media.back(), sr);

  anchors->release("v-1", "test");
  EXPECT_EQ(metrics.counter_value("rtcgw_media_ports_in_use", ""), 0);
}

TEST_F(AnchorVideoTest, CoreVideoIsBridgedToTheBrowsersAnswer) {
  make();
  std::string err;
  Anchor* a = anchors->create("v-2", 7, err);
  ASSERT_NE(a, nullptr) << err;
  std::string core_offer = core_sdp("0 101") + "m=video " + std::to_string(vfar.rtp.port()) +
                           " RTP/AVP 100\r\na=rtpmap:100 H264/90000\r\n"
                           "a=fmtp:100 profile-level-id=42e01f;packetization-mode=1\r\n"
                           "a=sendrecv\r\n";
  sdp::Result offer = a->network_sdp(core_offer, false);
  ASSERT_TRUE(offer.ok) << offer.error;
  ASSERT_TRUE(sdp::testing::has(offer.sdp, "a=group:BUNDLE 0 1")) << offer.sdp;
  EXPECT_EQ(metrics.counter_value("rtcgw_media_ports_in_use", ""), 5);

  std::string answer = browser_answer("active");
  answer = replace_line(answer, "a=group:BUNDLE 0", "a=group:BUNDLE 0 1");
  answer +=
      "m=video 9 UDP/TLS/RTP/SAVPF 100\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendrecv\r\n"
      "a=rtcp-mux\r\na=rtpmap:100 H264/90000\r\n"
      "a=fmtp:100 profile-level-id=42e01f;packetization-mode=1\r\n";
  sdp::Result to_core = a->browser_sdp(answer, false);
  ASSERT_TRUE(to_core.ok) << to_core.error;
  sdp::NetworkMedia net = sdp::describe_network(to_core.sdp);
  ASSERT_TRUE(net.video.present) << to_core.sdp;
  EXPECT_TRUE(sdp::testing::has(to_core.sdp,
                                "m=video " + std::to_string(net.video.rtp_port) + " RTP/AVP 100"));
  far.gw_rtp = Endpoint::from("127.0.0.1", net.rtp_port);
  vfar.gw_rtp = Endpoint::from("127.0.0.1", net.video.rtp_port);
  connect(offer.sdp, DtlsRole::kClient);  // the browser answered active

  Bytes video = rtp_packet(3, 100, kBrowserVideoSsrc);
  ASSERT_TRUE(browser.send_rtp(video));
  ASSERT_TRUE(pump([&] { poll_video(); }, [&] { return !vfar.got_rtp.empty(); }));
  EXPECT_EQ(vfar.got_rtp.front(), video);
  EXPECT_TRUE(far.got_rtp.empty()) << "video must not reach the audio port";
  Bytes back = rtp_packet(9, 100, kNetVideoSsrc);
  ASSERT_TRUE(vfar.rtp.send(back.data(), back.size(), vfar.gw_rtp));
  ASSERT_TRUE(pump([&] { poll_video(); }, [&] { return !browser.media.empty(); }));
  EXPECT_EQ(browser.media.back(), back);
  anchors->release("v-2", "test");
  EXPECT_EQ(metrics.counter_value("rtcgw_media_ports_in_use", ""), 0);
}

TEST_F(AnchorVideoTest, VideoOffHoldsNoVideoPortsAndRejectsTheLine) {
  cfg.media.video = false;
  make();
  std::string err;
  Anchor* a = anchors->create("v-3", 7, err);
  ASSERT_NE(a, nullptr) << err;
  sdp::Result offer = a->browser_sdp(browser_av_offer(), false);
  ASSERT_TRUE(offer.ok) << offer.error;
  EXPECT_TRUE(sdp::testing::has_prefix(offer.sdp, "m=video 0 RTP/AVP")) << offer.sdp;
  EXPECT_EQ(metrics.counter_value("rtcgw_media_ports_in_use", ""), 3);
  EXPECT_EQ(a->ports_held(), 3u);
}

TEST_F(AnchorVideoTest, NetworkVideoBeforeOrWithoutNegotiatedVideoIsDropped) {
  make();
  std::string err;
  Anchor* a = anchors->create("v-4", 7, err);
  ASSERT_NE(a, nullptr) << err;
  sdp::Result offer = a->browser_sdp(browser_av_offer(), false);
  ASSERT_TRUE(offer.ok) << offer.error;
  sdp::NetworkMedia net = sdp::describe_network(offer.sdp);
  ASSERT_TRUE(net.video.present);
  // The IMS answers without video: its video port pair stays bound until the call ends, but
  // nothing sent to it goes anywhere.
  sdp::Result answer = a->network_sdp(far.sdp(true) + "m=video 0 RTP/AVP 96\r\n", false);
  ASSERT_TRUE(answer.ok) << answer.error;
  EXPECT_TRUE(sdp::testing::has_prefix(answer.sdp, "m=video 0 ")) << answer.sdp;
  connect(answer.sdp, DtlsRole::kClient);
  Bytes stray = rtp_packet(1, 96, kNetVideoSsrc);
  ASSERT_TRUE(
      vfar.rtp.send(stray.data(), stray.size(), Endpoint::from("127.0.0.1", net.video.rtp_port)));
  ASSERT_TRUE(pump([&] { poll_video(); }, [&] { return dropped("video_not_negotiated") >= 1; }));
  EXPECT_TRUE(browser.media.empty());
  // Browser RTP with the video payload type then goes the audio way (the far end's audio
  // answer decides what the IMS gets), never to the video pair.
  ASSERT_TRUE(browser.send_rtp(rtp_packet(2, 96, kBrowserVideoSsrc)));
  ASSERT_TRUE(pump([&] { poll_video(); }, [&] { return !far.got_rtp.empty(); }));
  EXPECT_TRUE(vfar.got_rtp.empty());
}

TEST_F(AnchorVideoTest, VideoAddedByAReOfferGetsItsPortsMidCall) {
  // An audio call upgraded to video (the browser adds a camera and re-offers): the video pair
  // is bound then, and video flows on the DTLS/SRTP association the audio already has.
  make();
  std::string err;
  Anchor* a = anchors->create("v-5", 7, err);
  ASSERT_NE(a, nullptr) << err;
  sdp::Result offer = a->browser_sdp(browser_offer(), false);
  ASSERT_TRUE(offer.ok) << offer.error;
  EXPECT_EQ(a->ports_held(), 3u);
  far.gw_rtp = Endpoint::from("127.0.0.1", sdp::describe_network(offer.sdp).rtp_port);
  sdp::Result answer = a->network_sdp(far.sdp(true), false);
  ASSERT_TRUE(answer.ok) << answer.error;
  connect(answer.sdp, DtlsRole::kClient);
  ASSERT_TRUE(browser.send_rtp(rtp_packet(1, 0, kBrowserAudioSsrc)));
  ASSERT_TRUE(pump([&] { poll_video(); }, [&] { return !far.got_rtp.empty(); }));

  sdp::Result reoffer = a->browser_sdp(browser_av_offer(), false);
  ASSERT_TRUE(reoffer.ok) << reoffer.error;
  EXPECT_EQ(a->ports_held(), 5u);
  EXPECT_EQ(metrics.counter_value("rtcgw_media_ports_in_use", ""), 5);
  sdp::NetworkMedia net = sdp::describe_network(reoffer.sdp);
  ASSERT_TRUE(net.video.present) << reoffer.sdp;
  vfar.gw_rtp = Endpoint::from("127.0.0.1", net.video.rtp_port);
  sdp::Result reanswer = a->network_sdp(far_av_answer(), false);
  ASSERT_TRUE(reanswer.ok) << reanswer.error;
  EXPECT_FALSE(sdp::testing::has_prefix(reanswer.sdp, "m=video 0 ")) << reanswer.sdp;

  Bytes video = rtp_packet(2, 96, kBrowserVideoSsrc);
  ASSERT_TRUE(browser.send_rtp(video));
  ASSERT_TRUE(pump([&] { poll_video(); }, [&] { return !vfar.got_rtp.empty(); }));
  EXPECT_EQ(vfar.got_rtp.front(), video);
  Bytes back = rtp_packet(3, 96, kNetVideoSsrc);
  ASSERT_TRUE(vfar.rtp.send(back.data(), back.size(), vfar.gw_rtp));
  ASSERT_TRUE(pump([&] { poll_video(); }, [&] { return !browser.media.empty(); }));
  EXPECT_EQ(browser.media.back(), back);

  // Video dropped again (port 0 in the next re-offer): its packets stop going anywhere.
  std::string audio_again = browser_av_offer();
  audio_again.replace(audio_again.find("m=video 9 "), 10, "m=video 0 ");
  sdp::Result third = a->browser_sdp(audio_again, false);
  ASSERT_TRUE(third.ok) << third.error;
  EXPECT_TRUE(sdp::testing::has_prefix(third.sdp, "m=video 0 ")) << third.sdp;
  ASSERT_TRUE(a->network_sdp(far.sdp(true) + "m=video 0 RTP/AVP 96\r\n", false).ok);
  size_t before = browser.media.size();
  ASSERT_TRUE(vfar.rtp.send(back.data(), back.size(), vfar.gw_rtp));
  ASSERT_TRUE(pump([&] { poll_video(); }, [&] { return dropped("video_not_negotiated") >= 1; }));
  EXPECT_EQ(browser.media.size(), before);
}

}  // namespace
}  // namespace rtcgw::media
