// The media anchor end to end in one process, with real sockets on loopback: a test "browser"
// (libnice's STUN usage for ICE checks, the project's DTLS client, libsrtp) and a test "network
// far end" (plain UDP) talk to an anchor made by Anchors from a Chrome offer and an IMS answer,
// and the other way round (the core's offer, the browser's answer). Packets must cross in both
// directions unchanged; bad packets are dropped and counted while the call carries on.
#include <gtest/gtest.h>
#include <stun/stunagent.h>
#include <stun/usages/ice.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "codec/opus.hpp"
#include "media/anchors.hpp"
#include "media/demux.hpp"
#include "rtcgw/metrics.hpp"
#include "sdp_fixtures.hpp"

namespace rtcgw::media {
namespace {

using Bytes = std::vector<uint8_t>;

const std::string kBrowserUfrag = "brWs";
const std::string kBrowserPwd = "theBrowsersPasswordIs24c";

std::string replace_line(std::string sdp, const std::string& prefix, const std::string& line) {
  size_t at = sdp.find(prefix);
  EXPECT_NE(at, std::string::npos) << prefix;
  size_t end = sdp.find('\n', at);
  return sdp.replace(at, end - at, line + "\r");
}

// Turns n pumps of the default main context (where Anchors' poller and timers live) and of
// the test's own sockets until `done` or about 10 s.
bool pump(const std::function<void()>& step, const std::function<bool()>& done,
          int max_ms = 10000) {
  for (int i = 0; i < max_ms; ++i) {
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
    step();
    if (done()) return true;
    g_usleep(1000);
  }
  return false;
}

Bytes rtp_packet(uint16_t seq, uint8_t pt = 0, uint32_t ssrc = 0x11223344) {
  Bytes p(12 + 160, 0xAB);
  p[0] = 0x80;
  p[1] = pt;
  p[2] = uint8_t(seq >> 8);
  p[3] = uint8_t(seq);
  uint32_t ts = seq * 160u;
  for (int i = 0; i < 4; ++i) p[4 + i] = uint8_t(ts >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) p[8 + i] = uint8_t(ssrc >> (24 - 8 * i));
  return p;
}

Bytes rtcp_rr(uint32_t ssrc = 0x55667788) {
  Bytes p = {0x80, 201, 0x00, 0x01, 0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) p[4 + i] = uint8_t(ssrc >> (24 - 8 * i));
  return p;
}

// The browser: one socket, ICE checks, a DTLS session, SRTP.
struct Browser {
  UdpSocket sock;
  std::unique_ptr<Certificate> cert = Certificate::generate();
  DtlsContext ctx{*cert};
  std::unique_ptr<DtlsSession> dtls;
  SrtpSession srtp;
  bool srtp_ready = false;
  Endpoint gw;
  StunAgent agent;
  std::string key;  // the gateway's ICE password, as the agent checks our responses with it
  int stun_ok = 0, stun_err = 0;
  std::vector<Bytes> media;  // SRTP/SRTCP received, unprotected

  Browser() {
    EXPECT_TRUE(sock.bind("127.0.0.1", 0));
    stun_agent_init(&agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
                    static_cast<StunAgentUsageFlags>(STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS |
                                                     STUN_AGENT_USAGE_USE_FINGERPRINT));
  }

  void check(const sdp::BrowserTransport& gw_sdp, const std::string& pwd) {
    key = pwd;
    std::string user = gw_sdp.ice_ufrag + ":" + kBrowserUfrag;
    uint8_t buf[1500];
    StunMessage msg;
    size_t n = stun_usage_ice_conncheck_create(
        &agent, &msg, buf, sizeof buf, reinterpret_cast<const uint8_t*>(user.data()), user.size(),
        reinterpret_cast<const uint8_t*>(key.data()), key.size(), true, true, 0x6e0001ff,
        0x0123456789abcdefULL, nullptr, STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
    ASSERT_GT(n, 0u) << "user " << user << " key " << key;
    ASSERT_TRUE(sock.send(buf, n, gw));
  }

  void start_dtls(DtlsRole role, const std::string& gw_fingerprint) {
    dtls = std::make_unique<DtlsSession>(
        ctx, role, gw_fingerprint, [this](const uint8_t* d, size_t n) { sock.send(d, n, gw); },
        [this](DtlsState s) {
          if (s == DtlsState::kConnected) {
            std::string err;
            srtp_ready = srtp.init(dtls->keys(), err);
            EXPECT_TRUE(srtp_ready) << err;
          }
        });
    dtls->start();
  }

  void poll() {
    uint8_t buf[2048];
    Endpoint from;
    for (;;) {
      ssize_t n = sock.recv(buf, 1500, from);
      if (n < 0) return;
      switch (classify(buf, size_t(n))) {
        case PacketKind::kStun:
          // A success response is class 0x0101.
          (buf[0] == 0x01 && buf[1] == 0x01 ? stun_ok : stun_err)++;
          break;
        case PacketKind::kDtls:
          if (dtls) dtls->receive(buf, size_t(n));
          break;
        case PacketKind::kRtp:
        case PacketKind::kRtcp: {
          size_t len = size_t(n);
          bool rtcp = classify(buf, len) == PacketKind::kRtcp;
          if (srtp_ready && (rtcp ? srtp.unprotect_rtcp(buf, len) : srtp.unprotect_rtp(buf, len)))
            media.emplace_back(buf, buf + len);
          break;
        }
        default:
          break;
      }
    }
  }

  bool send_rtp(const Bytes& plain, bool rtcp = false, Bytes* sent = nullptr,
                bool transmit = true) {
    uint8_t buf[2048];
    memcpy(buf, plain.data(), plain.size());
    size_t len = plain.size();
    if (!(rtcp ? srtp.protect_rtcp(buf, len) : srtp.protect_rtp(buf, len))) return false;
    if (sent) sent->assign(buf, buf + len);
    return !transmit || sock.send(buf, len, gw);
  }
};

// The IMS far end: an RTP/RTCP socket pair.
struct FarEnd {
  UdpSocket rtp, rtcp;
  std::vector<Bytes> got_rtp, got_rtcp;
  Endpoint gw_rtp, gw_rtcp;

  FarEnd() {
    for (uint16_t p = 47000; p < 48000; p += 2)
      if (rtp.bind("127.0.0.1", p) && rtcp.bind("127.0.0.1", uint16_t(p + 1))) return;
    ADD_FAILURE() << "no free port pair for the far end";
  }
  void poll() {
    uint8_t buf[2048];
    Endpoint from;
    for (ssize_t n; (n = rtp.recv(buf, sizeof buf, from)) >= 0;) got_rtp.emplace_back(buf, buf + n);
    for (ssize_t n; (n = rtcp.recv(buf, sizeof buf, from)) >= 0;)
      got_rtcp.emplace_back(buf, buf + n);
  }
  std::string sdp(bool answer) const {
    std::string s =
        "v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio " +
        std::to_string(rtp.port()) + " RTP/AVP 0 " + (answer ? "126" : "8 101") +
        "\r\na=rtpmap:0 PCMU/8000\r\n" +
        (answer ? "a=rtpmap:126 telephone-event/8000\r\n"
                : "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n") +
        "a=ptime:20\r\na=sendrecv\r\n";
    return s;
  }
};

class AnchorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg.media.address = "127.0.0.1";
    cfg.media.port_min = 44000;
    cfg.media.port_max = 44999;
    cfg.media.inactivity_timeout = 0;
  }
  void make() { anchors = std::make_unique<Anchors>(cfg, metrics); }

  std::string browser_offer() {
    std::string sdp = sdp::testing::load("chrome_audio_offer.sdp");
    sdp = replace_line(
        sdp, "a=fingerprint:", "a=fingerprint:sha-256 " + browser.cert->fingerprint_sha256());
    sdp = replace_line(sdp, "a=ice-ufrag:", "a=ice-ufrag:" + kBrowserUfrag);
    sdp = replace_line(sdp, "a=ice-pwd:", "a=ice-pwd:" + kBrowserPwd);
    return sdp;
  }

  // The browser's answer to rtcgw's offer, with the DTLS role the test wants the browser in.
  std::string browser_answer(const std::string& setup) {
    return "v=0\r\no=- 5183723468247934567 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
           "a=group:BUNDLE 0\r\na=msid-semantic: WMS s\r\n"
           "m=audio 9 UDP/TLS/RTP/SAVPF 0 101\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"
           "a=candidate:3160571426 1 udp 2122260223 127.0.0.1 " +
           std::to_string(browser.sock.port()) +
           " typ host generation 0\r\n"
           "a=ice-ufrag:" +
           kBrowserUfrag + "\r\na=ice-pwd:" + kBrowserPwd + "\r\na=fingerprint:sha-256 " +
           browser.cert->fingerprint_sha256() + "\r\na=setup:" + setup +
           "\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\n"
           "a=rtpmap:101 telephone-event/8000\r\na=ssrc:2849203748 cname:Gk3pLq8rT2vW6xZ0\r\n";
  }

  void poll_all() {
    browser.poll();
    far.poll();
  }

  // ICE check, then DTLS in the given role, until SRTP is keyed on the browser side.
  void connect(const std::string& gw_sdp, DtlsRole browser_role) {
    sdp::BrowserTransport t = sdp::describe_browser(gw_sdp);
    ASSERT_TRUE(t.ok) << t.error;
    ASSERT_FALSE(t.candidates.empty());
    unsigned port = 0;
    char ip[64] = {0};
    ASSERT_EQ(sscanf(t.candidates[0].c_str(), "%*s %*s %*s %*s %63s %u", ip, &port), 2);
    browser.gw = Endpoint::from(ip, uint16_t(port));
    browser.check(t, t.ice_pwd);
    ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return browser.stun_ok > 0; }))
        << "no STUN success response";
    browser.start_dtls(browser_role, t.fingerprint);
    ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return browser.srtp_ready; }))
        << "DTLS did not connect";
  }

  // Both directions, RTP and RTCP; returns the number of packets that crossed.
  void expect_media_flows(uint16_t seq) {
    Bytes rtp = rtp_packet(seq);
    size_t before = far.got_rtp.size();
    ASSERT_TRUE(browser.send_rtp(rtp));
    ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return far.got_rtp.size() > before; }))
        << "browser RTP did not reach the network";
    EXPECT_EQ(far.got_rtp.back(), rtp) << "RTP must arrive unchanged (SSRC, seq, ts, payload)";

    Bytes rr = rtcp_rr();
    size_t rtcp_before = far.got_rtcp.size();
    ASSERT_TRUE(browser.send_rtp(rr, true));
    ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return far.got_rtcp.size() > rtcp_before; }))
        << "browser RTCP did not reach the network's RTCP port";
    EXPECT_EQ(far.got_rtcp.back(), rr);

    Bytes back = rtp_packet(uint16_t(seq + 1000), 0, 0xCAFEBABE);
    size_t media_before = browser.media.size();
    ASSERT_TRUE(far.rtp.send(back.data(), back.size(), far.gw_rtp));
    ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return browser.media.size() > media_before; }))
        << "network RTP did not reach the browser";
    EXPECT_EQ(browser.media.back(), back);
  }

  double dropped(const char* reason) {
    return metrics.counter_value("rtcgw_media_dropped_total",
                                 std::string("reason=\"") + reason + "\"");
  }

  config::Config cfg;
  Metrics metrics;
  std::unique_ptr<Anchors> anchors;
  Browser browser;
  FarEnd far;
};

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

  // Browser -> network: opus (PT 111, 48 kHz clock) in, PCMU (PT 0, 160 bytes) out.
  codec::OpusParams params;
  auto enc = codec::OpusEnc::make(48000, params, err);
  ASSERT_TRUE(enc) << err;
  std::vector<int16_t> pcm(960);
  for (size_t i = 0; i < pcm.size(); ++i)
    pcm[i] = int16_t(8000 * std::sin(2 * 3.14159265358979 * 1000 * double(i) / 48000.0));
  for (uint16_t seq = 1; seq <= 3; ++seq) {
    uint8_t payload[400];
    int n = enc->encode(pcm.data(), 960, payload, sizeof payload);
    ASSERT_GT(n, 0);
    Bytes rtp = rtp_packet(seq, 111);
    rtp.resize(12);
    uint32_t ts = seq * 960u;
    for (int i = 0; i < 4; ++i) rtp[4 + i] = uint8_t(ts >> (24 - 8 * i));
    rtp.insert(rtp.end(), payload, payload + n);
    ASSERT_TRUE(browser.send_rtp(rtp));
  }
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return far.got_rtp.size() >= 3; }))
      << "no transcoded RTP at the network";
  EXPECT_EQ(far.got_rtp.back()[1] & 0x7f, 0) << "PCMU payload type";
  EXPECT_EQ(far.got_rtp.back().size(), 12u + 160u);

  // Network -> browser: PCMU in, opus with the browser's payload type out.
  size_t before = browser.media.size();
  for (uint16_t seq = 1; seq <= 3; ++seq) {
    Bytes back = rtp_packet(seq, 0, 0xCAFEBABE);
    ASSERT_TRUE(far.rtp.send(back.data(), back.size(), far.gw_rtp));
  }
  ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return browser.media.size() >= before + 3; }))
      << "no transcoded RTP at the browser";
  EXPECT_EQ(browser.media.back()[1] & 0x7f, 111);
  EXPECT_LT(browser.media.back().size(), 12u + 160u) << "opus, not G.711";

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
    if (p[12] == 5 && (p[13] & 0x80)) EXPECT_EQ((p[14] << 8) | p[15], 800);
  EXPECT_FALSE(a->send_dtmf(5, 0)) << "an impossible duration is refused";
}

}  // namespace
}  // namespace rtcgw::media
