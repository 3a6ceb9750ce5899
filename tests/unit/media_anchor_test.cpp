// The media anchor end to end in one process, with real sockets on loopback: a test "browser"
// (libnice's STUN usage for ICE checks, the project's DTLS client, libsrtp) and a test "network
// far end" (plain UDP) talk to an anchor made by Anchors from a Chrome offer and an IMS answer,
// and the other way round (the core's offer, the browser's answer). Packets must cross in both
// directions unchanged; bad packets are dropped and counted while the call carries on.
#include <gtest/gtest.h>
#include <stun/stunagent.h>
#include <stun/usages/ice.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "codec/g711.hpp"
#include "codec/opus.hpp"
#include "codec_signals.hpp"
#include "media/anchors.hpp"
#include "media/demux.hpp"
#include "media_anchor_fixtures.hpp"
#include "media_anchor_test_base.hpp"
#include "rtcgw/metrics.hpp"
#include "sdp_fixtures.hpp"

namespace rtcgw::media {
namespace {

using testing::AnchorTest;
using testing::Bytes;
using testing::FarEnd;
using testing::pump;
using testing::replace_line;
using testing::rtcp_rr;
using testing::rtp_packet;

TEST_F(AnchorTest, BrowserCallsTheCoreAndMediaCrossesBothWays) {
  make();
  std::string err;
  Anchor* a = anchors->create("call-1", 7, err);
  ASSERT_NE(a, nullptr) << err;
  EXPECT_EQ(metrics.counter_value("rtcgw_media_sessions", ""), 1);
  EXPECT_EQ(metrics.counter_value("rtcgw_media_ports_in_use", ""), 3);

  sdp::Result offer = a->browser_sdp(browser_offer(), false);
  ASSERT_TRUE(offer.ok) << offer.error;
  sdp::NetworkMedia net = sdp::describe_network(offer.sdp);
  ASSERT_TRUE(net.ok) << net.error;
  EXPECT_EQ(net.address, "127.0.0.1");
  far.gw_rtp = Endpoint::from("127.0.0.1", net.rtp_port);
  far.gw_rtcp = Endpoint::from("127.0.0.1", net.rtcp_port);
  EXPECT_EQ(net.rtcp_port, net.rtp_port + 1);

  sdp::Result answer = a->network_sdp(far.sdp(true), false);
  ASSERT_TRUE(answer.ok) << answer.error;
  EXPECT_TRUE(a->established());
  EXPECT_NE(answer.sdp.find("a=setup:passive"), std::string::npos) << answer.sdp;
  EXPECT_NE(answer.sdp.find("a=fingerprint:sha-256 " + anchors->fingerprint()), std::string::npos);

  connect(answer.sdp, DtlsRole::kClient);
  expect_media_flows(1);
  EXPECT_GE(metrics.counter_value("rtcgw_dtls_handshakes_total", "result=\"ok\""), 1);
  EXPECT_GE(metrics.counter_value("rtcgw_media_packets_total", "leg=\"browser\",direction=\"in\""),
            2);

  anchors->release("call-1", "test");
  EXPECT_EQ(metrics.counter_value("rtcgw_media_sessions", ""), 0);
  EXPECT_EQ(metrics.counter_value("rtcgw_media_ports_in_use", ""), 0);
}

TEST_F(AnchorTest, BadPacketsAreDroppedCountedAndTheCallGoesOn) {
  make();
  std::string err;
  Anchor* a = anchors->create("call-bad", 7, err);
  ASSERT_NE(a, nullptr) << err;
  sdp::Result offer = a->browser_sdp(browser_offer(), false);
  ASSERT_TRUE(offer.ok) << offer.error;
  sdp::NetworkMedia net = sdp::describe_network(offer.sdp);
  far.gw_rtp = Endpoint::from("127.0.0.1", net.rtp_port);
  sdp::Result answer = a->network_sdp(far.sdp(true), false);
  ASSERT_TRUE(answer.ok) << answer.error;
  sdp::BrowserTransport t = sdp::describe_browser(answer.sdp);

  // DTLS before any ICE check: the source is not checked.
  UdpSocket stranger;
  ASSERT_TRUE(stranger.bind("127.0.0.1", 0));
  {
    unsigned port = 0;
    char ip[64] = {0};
    ASSERT_EQ(sscanf(t.candidates[0].c_str(), "%*s %*s %*s %*s %63s %u", ip, &port), 2);
    browser.gw = Endpoint::from(ip, uint16_t(port));
  }
  uint8_t dtls_like[40] = {22, 0xfe, 0xfd};
  ASSERT_TRUE(stranger.send(dtls_like, sizeof dtls_like, browser.gw));
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return dropped("unchecked_source") >= 1; }));

  // A check signed with the wrong password.
  browser.check(t, "notThePasswordAtAll12345");
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return dropped("stun_bad_integrity") >= 1; }));
  EXPECT_EQ(browser.stun_ok, 0);

  connect(answer.sdp, DtlsRole::kClient);

  // Garbage of every kind on every port.
  uint8_t junk[64];
  for (size_t i = 0; i < sizeof junk; ++i) junk[i] = uint8_t(i * 37 + 200);
  ASSERT_TRUE(browser.sock.send(junk, sizeof junk, browser.gw));
  ASSERT_TRUE(browser.sock.send(junk, 1, browser.gw));
  ASSERT_TRUE(far.rtp.send(junk, 3, far.gw_rtp));
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return dropped("unknown") >= 2; }));

  // SRTP with a broken tag (a sequence number not seen yet: libsrtp checks replay first), and
  // a replayed packet.
  Bytes sent, broken;
  ASSERT_TRUE(browser.send_rtp(rtp_packet(50), false, &sent));
  ASSERT_TRUE(browser.send_rtp(rtp_packet(51), false, &broken, false));
  broken.back() ^= 0x5a;
  ASSERT_TRUE(browser.sock.send(broken.data(), broken.size(), browser.gw));
  ASSERT_TRUE(browser.sock.send(sent.data(), sent.size(), browser.gw));
  ASSERT_TRUE(pump([&] { poll_all(); },
                   [&] {
                     return dropped("srtp_auth_fail") >= 1 &&
                            dropped("srtp_replay_fail") + dropped("srtp_replay_old") >= 1;
                   }))
      << "auth failures and replays must be counted";

  // A DTLS-looking record of garbage from the checked address: refused, counted, no harm.
  uint8_t bad_record[29] = {23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 16};
  ASSERT_TRUE(browser.sock.send(bad_record, sizeof bad_record, browser.gw));
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return dropped("dtls_refused") >= 1; }));

  // Media still flows both ways.
  far.got_rtp.clear();
  expect_media_flows(100);

  // Once latched, RTP from another source on the network port is refused.
  Bytes intruder = rtp_packet(7, 0, 0xBAD);
  ASSERT_TRUE(stranger.send(intruder.data(), intruder.size(), far.gw_rtp));
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return dropped("unexpected_source") >= 1; }));
}

TEST_F(AnchorTest, CoreCallsTheBrowserWhichAnswersActive) {
  make();
  std::string err;
  Anchor* a = anchors->create("call-2", 9, err);
  ASSERT_NE(a, nullptr) << err;
  sdp::Result offer = a->network_sdp(far.sdp(false), false);
  ASSERT_TRUE(offer.ok) << offer.error;
  EXPECT_NE(offer.sdp.find("UDP/TLS/RTP/SAVPF"), std::string::npos);
  EXPECT_NE(offer.sdp.find("a=setup:actpass"), std::string::npos);
  sdp::Result answer = a->browser_sdp(browser_answer("active"), false);
  ASSERT_TRUE(answer.ok) << answer.error;
  sdp::NetworkMedia net = sdp::describe_network(answer.sdp);
  ASSERT_TRUE(net.ok) << net.error;
  far.gw_rtp = Endpoint::from("127.0.0.1", net.rtp_port);
  EXPECT_TRUE(a->established());

  connect(offer.sdp, DtlsRole::kClient);
  expect_media_flows(1);
}

TEST_F(AnchorTest, BrowserAnsweringPassiveMakesTheGatewayTheDtlsClient) {
  make();
  std::string err;
  Anchor* a = anchors->create("call-3", 9, err);
  ASSERT_NE(a, nullptr) << err;
  sdp::Result offer = a->network_sdp(far.sdp(false), false);
  ASSERT_TRUE(offer.ok) << offer.error;
  sdp::Result answer = a->browser_sdp(browser_answer("passive"), false);
  ASSERT_TRUE(answer.ok) << answer.error;
  far.gw_rtp = Endpoint::from("127.0.0.1", sdp::describe_network(answer.sdp).rtp_port);
  connect(offer.sdp, DtlsRole::kServer);
  expect_media_flows(1);
}

TEST_F(AnchorTest, UnusableOffersAreRefusedWith488) {
  make();
  std::string err;
  Anchor* a = anchors->create("call-4", 1, err);
  ASSERT_NE(a, nullptr) << err;
  sdp::Result r = a->browser_sdp("v=0\r\nthis is not SDP\r\n", false);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sip_status, 488);
  r = a->network_sdp(
      "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
      "m=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n",
      false);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sip_status, 488);
  EXPECT_FALSE(a->offer_pending());
}

TEST_F(AnchorTest, ReOfferForHoldKeepsDtlsAndMediaResumes) {
  make();
  std::string err;
  Anchor* a = anchors->create("call-5", 7, err);
  ASSERT_NE(a, nullptr) << err;
  std::string offer_sdp = browser_offer();
  sdp::Result offer = a->browser_sdp(offer_sdp, false);
  ASSERT_TRUE(offer.ok) << offer.error;
  far.gw_rtp = Endpoint::from("127.0.0.1", sdp::describe_network(offer.sdp).rtp_port);
  sdp::Result answer = a->network_sdp(far.sdp(true), false);
  ASSERT_TRUE(answer.ok);
  connect(answer.sdp, DtlsRole::kClient);
  expect_media_flows(1);

  // Hold: same ICE and DTLS, sendonly.
  std::string hold = replace_line(offer_sdp, "a=sendrecv", "a=sendonly");
  sdp::Result hold_offer = a->browser_sdp(hold, false);
  ASSERT_TRUE(hold_offer.ok) << hold_offer.error;
  EXPECT_NE(hold_offer.sdp.find("a=sendonly"), std::string::npos);
  std::string hold_answer = replace_line(far.sdp(true), "a=sendrecv", "a=recvonly");
  sdp::Result ha = a->network_sdp(hold_answer, false);
  ASSERT_TRUE(ha.ok) << ha.error;
  EXPECT_NE(ha.sdp.find("a=recvonly"), std::string::npos);
  EXPECT_EQ(sdp::describe_browser(ha.sdp).ice_ufrag, sdp::describe_browser(answer.sdp).ice_ufrag)
      << "no ICE restart was asked for";
  // Resume, and the same DTLS association still carries media.
  ASSERT_TRUE(a->browser_sdp(offer_sdp, false).ok);
  ASSERT_TRUE(a->network_sdp(far.sdp(true), false).ok);
  expect_media_flows(200);
  EXPECT_EQ(metrics.counter_value("rtcgw_dtls_handshakes_total", "result=\"ok\""), 1);
}

TEST_F(AnchorTest, IceRestartGetsNewCredentials) {
  make();
  std::string err;
  Anchor* a = anchors->create("call-6", 7, err);
  ASSERT_NE(a, nullptr) << err;
  std::string offer_sdp = browser_offer();
  ASSERT_TRUE(a->browser_sdp(offer_sdp, false).ok);
  sdp::Result first = a->network_sdp(far.sdp(true), false);
  ASSERT_TRUE(first.ok);
  std::string restart = replace_line(offer_sdp, "a=ice-ufrag:", "a=ice-ufrag:nEwU");
  restart = replace_line(restart, "a=ice-pwd:", "a=ice-pwd:aNewPasswordOf24charsXYZ");
  ASSERT_TRUE(a->browser_sdp(restart, false).ok);
  sdp::Result second = a->network_sdp(far.sdp(true), false);
  ASSERT_TRUE(second.ok);
  EXPECT_NE(sdp::describe_browser(first.sdp).ice_ufrag,
            sdp::describe_browser(second.sdp).ice_ufrag);
}

TEST_F(AnchorTest, FailedOfferIsRolledBackAndUnansweredCallReleased) {
  make();
  std::string err;
  Anchor* a = anchors->create("call-7", 7, err);
  ASSERT_NE(a, nullptr) << err;
  ASSERT_TRUE(a->browser_sdp(browser_offer(), false).ok);
  EXPECT_TRUE(a->offer_pending());
  a->final_response(false);
  EXPECT_FALSE(a->offer_pending());
  EXPECT_FALSE(a->established());
  // A provisional answer, then a 200 without SDP, commits it.
  ASSERT_TRUE(a->browser_sdp(browser_offer(), false).ok);
  ASSERT_TRUE(a->network_sdp(far.sdp(true), true).ok);
  EXPECT_FALSE(a->established());
  a->final_response(true);
  EXPECT_TRUE(a->established());
}

TEST_F(AnchorTest, InactivityEndsTheCall) {
  cfg.media.inactivity_timeout = 1;
  make();
  std::string ended;
  anchors->on_inactive([&](const std::string& id) { ended = id; });
  std::string err;
  Anchor* a = anchors->create("call-idle", 7, err);
  ASSERT_NE(a, nullptr) << err;
  ASSERT_TRUE(a->browser_sdp(browser_offer(), false).ok);
  // Not answered yet: never timed out.
  ASSERT_FALSE(pump([] {}, [&] { return !ended.empty(); }, 1500));
  ASSERT_TRUE(a->network_sdp(far.sdp(true), false).ok);
  ASSERT_TRUE(pump([] {}, [&] { return !ended.empty(); }, 10000));
  EXPECT_EQ(ended, "call-idle");
  EXPECT_EQ(anchors->size(), 0u);
  EXPECT_EQ(metrics.counter_value("rtcgw_media_ports_in_use", ""), 0);
}

// RFC 7675 section 5.1: once the browser's last consent check is older than the expiry, the
// network's media is not sent to it (dropped and counted); a new check restores it.
TEST_F(AnchorTest, ConsentExpiryStopsMediaToTheBrowserUntilTheNextCheck) {
  make();
  std::string err;
  Anchor* a = anchors->create("call-consent", 7, err);
  ASSERT_NE(a, nullptr) << err;
  sdp::Result offer = a->browser_sdp(browser_offer(), false);
  ASSERT_TRUE(offer.ok) << offer.error;
  sdp::NetworkMedia net = sdp::describe_network(offer.sdp);
  far.gw_rtp = Endpoint::from("127.0.0.1", net.rtp_port);
  far.gw_rtcp = Endpoint::from("127.0.0.1", net.rtcp_port);
  sdp::Result answer = a->network_sdp(far.sdp(true), false);
  ASSERT_TRUE(answer.ok) << answer.error;
  connect(answer.sdp, DtlsRole::kClient);
  expect_media_flows(1);

  anchors->set_consent_expiry_ms(1000);
  g_usleep(1100 * 1000);  // no check for longer than the expiry
  size_t media_before = browser.media.size();
  Bytes late = rtp_packet(3000, 0, 0xCAFEBABE);
  ASSERT_TRUE(far.rtp.send(late.data(), late.size(), far.gw_rtp));
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return dropped("consent_expired") >= 1; }))
      << "media to a browser without fresh consent must be dropped and counted";
  EXPECT_EQ(browser.media.size(), media_before);

  sdp::BrowserTransport t = sdp::describe_browser(answer.sdp);
  ASSERT_TRUE(t.ok) << t.error;
  int checks = browser.stun_ok;
  browser.check(t, t.ice_pwd);
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return browser.stun_ok > checks; }));
  Bytes again = rtp_packet(3001, 0, 0xCAFEBABE);
  ASSERT_TRUE(far.rtp.send(again.data(), again.size(), far.gw_rtp));
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return browser.media.size() > media_before; }))
      << "a fresh consent check must let media through again";
  EXPECT_EQ(browser.media.back(), again);
}

TEST_F(AnchorTest, PortRangeExhaustedGives503) {
  cfg.media.port_min = 44100;
  cfg.media.port_max = 44105;  // three even ports: one call holds a pair and one more
  make();
  std::string err;
  ASSERT_NE(anchors->create("a", 1, err), nullptr) << err;
  EXPECT_EQ(anchors->create("b", 1, err), nullptr);
  EXPECT_NE(err.find("no free media port"), std::string::npos);
  anchors->release("a", "test");
  EXPECT_NE(anchors->create("c", 1, err), nullptr) << err;
}

// Issue 4: a browser offering only opus calls a G.711 core: rtcgw offers the IMS its
// network_codecs and transcodes; each leg sees its own codec and payload type.
TEST_F(AnchorTest, OpusOnlyBrowserIsTranscodedToPcmu) {
  make();
  std::string err;
  Anchor* a = anchors->create("call-opus", 7, err);
  ASSERT_NE(a, nullptr) << err;
  std::string offer_sdp = browser_offer();
  offer_sdp = replace_line(offer_sdp, "m=audio", "m=audio 9 UDP/TLS/RTP/SAVPF 111 110");
  sdp::Result offer = a->browser_sdp(offer_sdp, false);
  ASSERT_TRUE(offer.ok) << offer.error;
  sdp::NetworkMedia net = sdp::describe_network(offer.sdp);
  ASSERT_TRUE(net.ok) << net.error;
  EXPECT_EQ(net.payload_types, (std::vector<int>{0, 8, 101})) << offer.sdp;
  far.gw_rtp = Endpoint::from("127.0.0.1", net.rtp_port);
  std::string answer_sdp =
      "v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
      "m=audio " +
      std::to_string(far.rtp.port()) +
      " RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
      "a=sendrecv\r\n";
  sdp::Result answer = a->network_sdp(answer_sdp, false);
  ASSERT_TRUE(answer.ok) << answer.error;
  EXPECT_NE(answer.sdp.find("UDP/TLS/RTP/SAVPF 111"), std::string::npos) << answer.sdp;
  EXPECT_NE(answer.sdp.find("a=rtpmap:111 opus/48000/2"), std::string::npos) << answer.sdp;
  connect(answer.sdp, DtlsRole::kClient);

  expect_transcoded_flow(111, 0, 1);

  // A digit that came by SIP INFO goes to the IMS as RFC 4733 events on its telephone-event
  // payload type, in rtcgw's own stream: reports, then three end packets.
  EXPECT_TRUE(a->transcoding());
  far.got_rtp.clear();
  ASSERT_TRUE(a->send_dtmf(5, 100));
  ASSERT_TRUE(a->send_dtmf(11, 60));  // '#', queued behind the 5
  auto ends = [&](uint8_t event) {
    int n = 0;
    for (const Bytes& p : far.got_rtp)
      if (p.size() == 16 && (p[1] & 0x7f) == 101 && p[12] == event && (p[13] & 0x80)) ++n;
    return n;
  };
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return ends(5) == 3 && ends(11) == 3; }))
      << "no complete RFC 4733 sequences at the network";
  const Bytes& first = far.got_rtp.front();
  EXPECT_EQ(first[1], 0x80 | 101) << "the first report carries the marker bit";
  EXPECT_EQ(first[12], 5);
  uint32_t ssrc_events =
      uint32_t(first[8]) << 24 | uint32_t(first[9]) << 16 | uint32_t(first[10]) << 8 | first[11];
  const Bytes& audio = far.got_rtp.size() > 0 ? far.got_rtp.back() : first;
  uint32_t ssrc_last =
      uint32_t(audio[8]) << 24 | uint32_t(audio[9]) << 16 | uint32_t(audio[10]) << 8 | audio[11];
  EXPECT_EQ(ssrc_events, ssrc_last) << "events go in rtcgw's one stream towards the IMS";
  // The end packets of the 5 say 100 ms at 8000 Hz.
  for (const Bytes& p : far.got_rtp)
    if (p[12] == 5 && (p[13] & 0x80)) {
      EXPECT_EQ((p[14] << 8) | p[15], 800);
    }
  EXPECT_FALSE(a->send_dtmf(5, 0)) << "an impossible duration is refused";

  // RTCP: each leg gets rtcgw's own Sender Report about the stream rtcgw sends there, with a
  // report block about the stream it receives there (RFC 3550 6.4.1; the first report within
  // 1-3 s). The browser's own RTCP stays on its leg; malformed RTCP is dropped and counted.
  auto be32 = [](const Bytes& p, size_t at) {
    return uint32_t(p[at]) << 24 | uint32_t(p[at + 1]) << 16 | uint32_t(p[at + 2]) << 8 | p[at + 3];
  };
  auto sender_report = [&](const std::vector<Bytes>& pkts, uint32_t ssrc, uint32_t about) {
    for (const Bytes& p : pkts)
      if (p.size() >= 52 && p[1] == 200 && (p[0] & 0x1f) == 1 && be32(p, 4) == ssrc &&
          be32(p, 28) == about)
        return true;
    return false;
  };
  ASSERT_TRUE(pump([&] { poll_all(); },
                   [&] { return sender_report(far.got_rtcp, ssrc_events, 0xCAFEBABE); }, 8000))
      << "no SR from rtcgw's stream about the far end's stream at the network RTCP port";
  std::vector<Bytes> browser_rtcp;
  ASSERT_TRUE(pump([&] { poll_all(); },
                   [&] {
                     browser_rtcp.clear();
                     for (const Bytes& p : browser.media)
                       if (classify(p.data(), p.size()) == PacketKind::kRtcp)
                         browser_rtcp.push_back(p);
                     return !browser_rtcp.empty() && browser_rtcp.back()[1] == 200 &&
                            be32(browser_rtcp.back(), 28) == 0x11223344;
                   },
                   8000))
      << "no SRTCP Sender Report about the browser's stream reached the browser";
  Endpoint gw_rtcp = Endpoint::from("127.0.0.1", uint16_t(net.rtcp_port));
  // An SR whose length field says far beyond the end of the datagram.
  const uint8_t bad[] = {0x81, 200, 0x00, 0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  ASSERT_TRUE(far.rtcp.send(bad, sizeof bad, gw_rtcp));
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return dropped("rtcp_malformed") >= 1; }));
}

// Issue 4, calls from the core: the core offers PCMU only, the browser leg may carry opus only.
// The browser is offered opus, the core is answered PCMU with its own payload types, and the
// audio is transcoded both ways.
TEST_F(AnchorTest, CoreOffersPcmuOnlyAndTheOpusBrowserIsTranscoded) {
  cfg.transcoding.browser_codecs = {"opus"};
  make();
  std::string err;
  Anchor* a = anchors->create("call-core-opus", 9, err);
  ASSERT_NE(a, nullptr) << err;
  sdp::Result offer = a->network_sdp(core_sdp("0 101"), false);
  ASSERT_TRUE(offer.ok) << offer.error;
  EXPECT_NE(offer.sdp.find("UDP/TLS/RTP/SAVPF 111 110\r\n"), std::string::npos) << offer.sdp;
  EXPECT_EQ(offer.sdp.find("PCMU"), std::string::npos) << "the browser is offered opus only";
  EXPECT_FALSE(a->transcoding()) << "nothing runs before the answer";

  sdp::Result answer = a->browser_sdp(browser_opus_answer(), false);
  ASSERT_TRUE(answer.ok) << answer.error;
  sdp::NetworkMedia net = sdp::describe_network(answer.sdp);
  ASSERT_TRUE(net.ok) << net.error;
  EXPECT_EQ(net.payload_types, (std::vector<int>{0, 101})) << answer.sdp;
  EXPECT_EQ(answer.sdp.find("opus"), std::string::npos) << answer.sdp;
  EXPECT_TRUE(a->established());
  EXPECT_TRUE(a->transcoding());
  far.gw_rtp = Endpoint::from("127.0.0.1", net.rtp_port);

  connect(offer.sdp, DtlsRole::kClient);
  expect_transcoded_flow(111, 0, 1);
  // The core's telephone-event was answered: INFO digits reach it as RFC 4733 events.
  ASSERT_TRUE(a->send_dtmf(7, 60));
  auto ends = [&] {
    int n = 0;
    for (const Bytes& p : far.got_rtp)
      n += p.size() == 16 && (p[1] & 0x7f) == 101 && p[12] == 7 && (p[13] & 0x80);
    return n;
  };
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return ends() == 3; }))
      << "no RFC 4733 end packets on the core's payload type";
}

// A browser answer with nothing rtcgw offered is refused; the offer stays open for a usable one.
TEST_F(AnchorTest, BrowserAnswerWithoutItsCodecsIs488) {
  cfg.transcoding.browser_codecs = {"opus"};
  make();
  std::string err;
  Anchor* a = anchors->create("call-core-bad", 9, err);
  ASSERT_NE(a, nullptr) << err;
  ASSERT_TRUE(a->network_sdp(core_sdp("0 101"), false).ok);
  sdp::Result r = a->browser_sdp(browser_answer("active"), false);  // PCMU: not offered
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sip_status, 488);
  EXPECT_FALSE(a->transcoding());
  EXPECT_TRUE(a->offer_pending());
}

// Re-offers from the core switch between relaying and transcoding either way; one that
// changes nothing keeps the running transcoder (its stream towards the IMS goes on). Then the
// browser's re-offers do the same on the call the core made.
TEST_F(AnchorTest, ReOffersSwitchBetweenRelayAndTranscoding) {
  cfg.transcoding.browser_codecs = {"opus", "PCMU"};  // network_codecs: PCMU, PCMA
  make();
  std::string err;
  Anchor* a = anchors->create("call-flip", 9, err);
  ASSERT_NE(a, nullptr) << err;
  auto negotiate = [&](const std::string& pts, const std::string& answer) {
    sdp::Result offer = a->network_sdp(core_sdp(pts), false);
    EXPECT_TRUE(offer.ok) << offer.error;
    sdp::Result r = a->browser_sdp(answer, false);
    EXPECT_TRUE(r.ok) << r.error;
    far.gw_rtp = Endpoint::from("127.0.0.1", sdp::describe_network(r.sdp).rtp_port);
    return offer.sdp;
  };

  // PCMA only: the browser may not carry it, so opus <-> PCMA.
  std::string first = negotiate("8 101", browser_opus_answer());
  ASSERT_TRUE(a->transcoding());
  connect(first, DtlsRole::kClient);
  uint32_t ssrc = 0, again = 0;
  expect_transcoded_flow(111, 8, 1, &ssrc);

  negotiate("8 101", browser_opus_answer());
  ASSERT_TRUE(a->transcoding());
  expect_transcoded_flow(111, 8, 10, &again);
  EXPECT_EQ(again, ssrc) << "the same codecs keep the running transcoder";

  // PCMU is allowed on both legs: relayed, packets unchanged.
  std::string relay = negotiate("0 101", browser_answer("active"));
  EXPECT_NE(relay.find("UDP/TLS/RTP/SAVPF 0 101"), std::string::npos) << relay;
  EXPECT_FALSE(a->transcoding());
  expect_media_flows(100);

  // And back to transcoding.
  negotiate("8 101", browser_opus_answer());
  EXPECT_TRUE(a->transcoding());
  expect_transcoded_flow(111, 8, 200);

  // Re-offers from the browser switch the same way: its full offer shares PCMU with the core,
  // its opus-only offer does not.
  ASSERT_TRUE(a->browser_sdp(browser_offer(), false).ok);
  ASSERT_TRUE(a->network_sdp(core_sdp("0 101"), false).ok);
  EXPECT_FALSE(a->transcoding());
  expect_media_flows(300);
  std::string opus_only =
      replace_line(browser_offer(), "m=audio", "m=audio 9 UDP/TLS/RTP/SAVPF 111 110");
  ASSERT_TRUE(a->browser_sdp(opus_only, false).ok);
  ASSERT_TRUE(a->network_sdp(core_sdp("0 101"), false).ok);
  EXPECT_TRUE(a->transcoding());
  expect_transcoded_flow(111, 0, 400);
  EXPECT_EQ(metrics.counter_value("rtcgw_dtls_handshakes_total", "result=\"ok\""), 1)
      << "re-offers keep the DTLS association";
}

// The negotiation matrix through the anchor, both directions: a codec allowed on both legs is
// relayed, disjoint lists are transcoded, and nothing usable is 488 to the offer's sender.
TEST_F(AnchorTest, NegotiationMatrixBothDirections) {
  using Names = std::vector<std::string>;
  enum Want { kRelay, kTranscode, kRefused };
  struct Case {
    const char* name;
    bool from_core;
    Names browser_codecs, network_codecs;
    std::string pts;
    Want want;
  };
  const Names all = {"opus", "PCMU", "PCMA"}, g711 = {"PCMU", "PCMA"}, opus = {"opus"};
  const std::vector<Case> cases = {
      {"browser: PCMU shared", false, all, g711, "111 0 8 110 126", kRelay},
      {"browser: opus forced", false, opus, g711, "111 0 8 110 126", kTranscode},
      {"browser: opus only", false, all, g711, "111 110", kTranscode},
      {"browser: G722 only", false, all, g711, "9", kRefused},
      {"core: PCMU shared", true, all, g711, "0 8 101", kRelay},
      {"core: opus forced", true, opus, g711, "0 8 101", kTranscode},
      {"core: PCMA vs PCMU", true, {"PCMU"}, {"PCMA"}, "8 0 101", kTranscode},
      {"core: G729 only", true, all, g711, "18", kRefused},
      // Relayed offers list only the receiving side's codecs.
      {"browser: PCMA listed for the IMS", false, all, {"PCMA"}, "111 0 8 110 126", kRelay},
      {"core: PCMU listed for the browser", true, {"PCMU"}, g711, "8 0 101", kRelay},
      {"core: G722 not listed", true, all, g711, "9", kRefused},
  };
  int n = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    anchors.reset();
    cfg.transcoding.browser_codecs = c.browser_codecs;
    cfg.transcoding.network_codecs = c.network_codecs;
    make();
    std::string err;
    Anchor* a = anchors->create("matrix-" + std::to_string(++n), 1, err);
    ASSERT_NE(a, nullptr) << err;
    sdp::Result offer, answer;
    if (c.from_core) {
      offer = a->network_sdp(core_sdp(c.pts), false);  // 18: G.729 by its static number
      if (offer.ok) {
        // The browser takes the first codec it was offered (as Chrome does).
        bool opus_first = offer.sdp.find("SAVPF 111") != std::string::npos;
        std::string pt = opus_first                                       ? "111"
                         : offer.sdp.find("SAVPF 8") != std::string::npos ? "8"
                                                                          : "0";
        answer = a->browser_sdp(
            opus_first ? browser_opus_answer()
                       : browser_answer(
                             "active", pt,
                             "a=rtpmap:" + pt + (pt == "8" ? " PCMA/8000\r\n" : " PCMU/8000\r\n")),
            false);
      }
    } else {
      std::string o =
          replace_line(browser_offer(), "m=audio", "m=audio 9 UDP/TLS/RTP/SAVPF " + c.pts);
      offer = a->browser_sdp(o, false);
      if (offer.ok) {
        // The core takes the first codec it was offered.
        sdp::NetworkMedia net = sdp::describe_network(offer.sdp);
        ASSERT_TRUE(net.ok) << net.error;
        ASSERT_FALSE(net.payload_types.empty());
        std::string pt = std::to_string(net.payload_types[0]);
        answer = a->network_sdp(core_sdp(pt), false);
      }
    }
    if (c.want == kRefused) {
      EXPECT_FALSE(offer.ok) << offer.sdp;
      EXPECT_EQ(offer.sip_status, 488);
      EXPECT_FALSE(a->offer_pending());
      continue;
    }
    ASSERT_TRUE(offer.ok) << offer.error;
    ASSERT_TRUE(answer.ok) << answer.error;
    EXPECT_EQ(a->transcoding(), c.want == kTranscode);
    // The leg towards the core never carries opus here; the browser's only what it may.
    const std::string& to_core = c.from_core ? answer.sdp : offer.sdp;
    EXPECT_EQ(to_core.find("opus"), std::string::npos) << to_core;
    const std::string& to_browser = c.from_core ? offer.sdp : answer.sdp;
    for (const char* codec : {"PCMU", "PCMA", "opus"}) {
      auto listed = [&](const Names& l) { return std::find(l.begin(), l.end(), codec) != l.end(); };
      if (!listed(c.network_codecs))
        EXPECT_EQ(to_core.find(codec), std::string::npos) << codec << " to the core: " << to_core;
      if (!listed(c.browser_codecs))
        EXPECT_EQ(to_browser.find(codec), std::string::npos) << codec << " to the browser";
    }
  }
}

// DTMF by INFO on relayed calls: the browser's PCMU relayed to an IMS that answers with or
// without telephone-event.
class AnchorDtmfTest : public AnchorTest {
 protected:
  Anchor* relayed_call(const std::string& call_id, const std::string& answer_sdp) {
    make();
    std::string err;
    Anchor* a = anchors->create(call_id, 7, err);
    EXPECT_NE(a, nullptr) << err;
    if (!a) return nullptr;
    sdp::Result offer = a->browser_sdp(browser_offer(), false);
    EXPECT_TRUE(offer.ok) << offer.error;
    far.gw_rtp = Endpoint::from("127.0.0.1", sdp::describe_network(offer.sdp).rtp_port);
    sdp::Result answer = a->network_sdp(answer_sdp, false);
    EXPECT_TRUE(answer.ok) << answer.error;
    connect(answer.sdp, DtlsRole::kClient);
    EXPECT_FALSE(a->transcoding());
    return a;
  }
  // The browser's PCMU (payload 0xAB) every 20 ms or so for `ms`, numbered on from seq_.
  void talk(int ms) {
    for (int i = 0; i < ms / 20; ++i) {
      ASSERT_TRUE(browser.send_rtp(rtp_packet(seq_++)));
      pump([&] { poll_all(); }, [] { return false; }, 20);
    }
  }
  std::string answer_without_events() {
    std::string s = replace_line(far.sdp(true), "m=audio",
                                 "m=audio " + std::to_string(far.rtp.port()) + " RTP/AVP 0");
    return replace_line(s, "a=rtpmap:126", "a=ptime:20");
  }
  static uint16_t seq_of(const Bytes& p) { return uint16_t(p[2] << 8 | p[3]); }
  uint16_t seq_ = 1;
};

TEST_F(AnchorDtmfTest, InfoDigitOnARelayedCallIsInjectedIntoTheBrowsersStream) {
  Anchor* a = relayed_call("call-relay-dtmf", far.sdp(true));
  ASSERT_NE(a, nullptr);
  EXPECT_FALSE(a->send_dtmf(5, 100)) << "no browser RTP to inject into yet: the INFO goes on";
  talk(100);
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return far.got_rtp.size() >= 5; }));
  ASSERT_TRUE(a->send_dtmf(5, 100));
  talk(400);
  auto is_event = [](const Bytes& p) { return (p[1] & 0x7f) == 126; };
  auto ends = [&] {
    int n = 0;
    for (const Bytes& p : far.got_rtp) n += is_event(p) && p.size() == 16 && (p[13] & 0x80);
    return n;
  };
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return ends() == 3; })) << "no three end packets";
  std::vector<Bytes> events;
  for (const Bytes& p : far.got_rtp)
    if (is_event(p)) events.push_back(p);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events[0][1], 0x80 | 126) << "marker on the first report, the IMS's event PT";
  for (const Bytes& e : events) {
    EXPECT_EQ(e[12], 5);
    EXPECT_EQ(Bytes(e.begin() + 8, e.begin() + 12), (Bytes{0x11, 0x22, 0x33, 0x44}))
        << "the browser's SSRC";
  }
  EXPECT_EQ((events.back()[14] << 8) | events.back()[15], 800) << "100 ms at 8000 Hz";
  // Audio and events in the order they came (loopback keeps it): one contiguous numbering,
  // and some of the browser's audio (under the digit) not relayed.
  for (size_t i = 1; i < far.got_rtp.size(); ++i)
    ASSERT_EQ(seq_of(far.got_rtp[i]), uint16_t(seq_of(far.got_rtp[i - 1]) + 1)) << "packet " << i;
  EXPECT_LT(far.got_rtp.size() - events.size(), size_t(seq_ - 1)) << "no audio was dropped";
}

TEST_F(AnchorDtmfTest, InfoDigitWithoutTelephoneEventAndInbandOffIsRefused) {
  cfg.dtmf.inband = false;
  Anchor* a = relayed_call("call-relay-no-inband", answer_without_events());
  ASSERT_NE(a, nullptr);
  talk(60);
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return far.got_rtp.size() >= 3; }));
  EXPECT_FALSE(a->send_dtmf(5, 100)) << "dtmf.inband: false, and no telephone-event";
}

TEST_F(AnchorDtmfTest, InfoDigitOnARelayedCallWithoutTelephoneEventIsPlayedInBand) {
  Anchor* a = relayed_call("call-relay-inband", answer_without_events());
  ASSERT_NE(a, nullptr);
  talk(60);
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return far.got_rtp.size() >= 3; }));
  ASSERT_TRUE(a->send_dtmf(5, 200));  // 770 + 1336 Hz
  talk(400);
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return far.got_rtp.size() >= size_t(seq_ - 1); }));
  // Every packet relayed, numbers and timestamps the browser's, PCMU; the tone's packets are the
  // ones whose payload is no longer the browser's 0xAB.
  std::vector<int16_t> tone;
  for (size_t i = 0; i < far.got_rtp.size(); ++i) {
    const Bytes& p = far.got_rtp[i];
    ASSERT_EQ(size_t(seq_of(p)), i + 1);
    EXPECT_EQ(p[1] & 0x7f, 0);
    if (std::all_of(p.begin() + 12, p.end(), [](uint8_t b) { return b == 0xAB; })) continue;
    std::vector<int16_t> x(p.size() - 12);
    codec::g711_decode(codec::G711Law::kUlaw, p.data() + 12, x.size(), x.data());
    tone.insert(tone.end(), x.begin(), x.end());
  }
  ASSERT_EQ(tone.size(), 1600u) << "200 ms of tone";
  codec::testing::expect_dtmf_tone(tone, 160, 640, 770, 1336);
}

TEST_F(AnchorDtmfTest, InfoDigitOnATranscodedCallWithoutTelephoneEventIsPlayedInBand) {
  make();
  std::string err;
  Anchor* a = anchors->create("call-opus-inband", 7, err);
  ASSERT_NE(a, nullptr) << err;
  std::string offer_sdp =
      replace_line(browser_offer(), "m=audio", "m=audio 9 UDP/TLS/RTP/SAVPF 111 110");
  sdp::Result offer = a->browser_sdp(offer_sdp, false);
  ASSERT_TRUE(offer.ok) << offer.error;
  far.gw_rtp = Endpoint::from("127.0.0.1", sdp::describe_network(offer.sdp).rtp_port);
  sdp::Result answer = a->network_sdp(answer_without_events(), false);
  ASSERT_TRUE(answer.ok) << answer.error;
  connect(answer.sdp, DtlsRole::kClient);
  ASSERT_TRUE(a->transcoding());
  ASSERT_TRUE(a->send_dtmf(1, 200));  // 697 + 1209 Hz, in rtcgw's PCMU towards the IMS
  // The browser's Opus (silence): the frames the transcoder sends on carry the tone instead.
  auto enc = codec::OpusEnc::make(48000, codec::OpusParams{}, err);
  ASSERT_TRUE(enc) << err;
  std::vector<int16_t> silence(960, 0);
  for (uint16_t seq = 1; seq <= 20; ++seq) {
    uint8_t payload[400];
    int n = enc->encode(silence.data(), 960, payload, sizeof payload);
    ASSERT_GT(n, 0);
    Bytes rtp = rtp_packet(seq, 111);
    rtp.resize(12);
    uint32_t ts = seq * 960u;
    for (int i = 0; i < 4; ++i) rtp[4 + i] = uint8_t(ts >> (24 - 8 * i));
    rtp.insert(rtp.end(), payload, payload + n);
    ASSERT_TRUE(browser.send_rtp(rtp));
    pump([&] { poll_all(); }, [] { return false; }, 20);
  }
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return far.got_rtp.size() >= 10; }));
  std::vector<int16_t> pcm;
  for (const Bytes& p : far.got_rtp) {
    ASSERT_EQ(p[1] & 0x7f, 0) << "PCMU only: no telephone-event towards this IMS";
    std::vector<int16_t> x(p.size() - 12);
    codec::g711_decode(codec::G711Law::kUlaw, p.data() + 12, x.size(), x.data());
    pcm.insert(pcm.end(), x.begin(), x.end());
  }
  ASSERT_GE(pcm.size(), 1600u);
  codec::testing::expect_dtmf_tone(pcm, 0, 1600, 697, 1209);
}

}  // namespace
}  // namespace rtcgw::media
