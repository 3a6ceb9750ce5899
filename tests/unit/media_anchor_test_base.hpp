// The fixture of the media anchor tests with a test browser on a plain socket (ICE-lite on
// rtcgw's side): media_anchor_test.cpp, media_anchor_video_test.cpp. A test "browser"
// (libnice's STUN usage for ICE checks, the project's DTLS client, libsrtp) and a test "network
// far end" (plain UDP) talk to an anchor made by Anchors.
#pragma once

#include <gtest/gtest.h>
#include <stun/stunagent.h>
#include <stun/usages/ice.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "codec/opus.hpp"
#include "media/anchors.hpp"
#include "media/demux.hpp"
#include "media_anchor_fixtures.hpp"
#include "rtcgw/metrics.hpp"
#include "sdp_fixtures.hpp"

namespace rtcgw::media::testing {

inline const std::string kBrowserUfrag = "brWs";
inline const std::string kBrowserPwd = "theBrowsersPasswordIs24c";

// Turns n pumps of the default main context (where Anchors' poller and timers live) and of
// the test's own sockets until `done` or about 10 s.
inline bool pump(const std::function<void()>& step, const std::function<bool()>& done,
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

inline Bytes rtcp_rr(uint32_t ssrc = 0x55667788) {
  Bytes p = {0x80, 201, 0x00, 0x01, 0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) p[4 + i] = uint8_t(ssrc >> (24 - 8 * i));
  return p;
}

// The browser: one socket, ICE checks, a DTLS session, SRTP.
struct Browser : SecureBrowser {
  UdpSocket sock;
  Endpoint gw;
  StunAgent agent;
  std::string key;  // the gateway's ICE password, as the agent checks our responses with it
  int stun_ok = 0, stun_err = 0;

  Browser() {
    EXPECT_TRUE(sock.bind("127.0.0.1", 0));
    stun_agent_init(&agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
                    static_cast<StunAgentUsageFlags>(STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS |
                                                     STUN_AGENT_USAGE_USE_FINGERPRINT));
  }
  ~Browser() override { dtls.reset(); }

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

  void poll() {
    uint8_t buf[2048];
    Endpoint from;
    for (;;) {
      ssize_t n = sock.recv(buf, 1500, from);
      if (n < 0) return;
      if (classify(buf, size_t(n)) == PacketKind::kStun)
        // A success response is class 0x0101.
        (buf[0] == 0x01 && buf[1] == 0x01 ? stun_ok : stun_err)++;
      else
        receive_secure(buf, size_t(n));
    }
  }

 protected:
  bool send_datagram(const uint8_t* data, size_t len) override { return sock.send(data, len, gw); }
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

  // The browser's answer to rtcgw's offer, with the DTLS role the test wants the browser in
  // and the codecs it takes (PCMU and telephone-event by default).
  std::string browser_answer(const std::string& setup, const std::string& pts = "0 101",
                             const std::string& rtpmaps =
                                 "a=rtpmap:0 PCMU/8000\r\n"
                                 "a=rtpmap:101 telephone-event/8000\r\n") {
    return "v=0\r\no=- 5183723468247934567 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
           "a=group:BUNDLE 0\r\na=msid-semantic: WMS s\r\n"
           "m=audio 9 UDP/TLS/RTP/SAVPF " +
           pts +
           "\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"
           "a=candidate:3160571426 1 udp 2122260223 127.0.0.1 " +
           std::to_string(browser.sock.port()) +
           " typ host generation 0\r\n"
           "a=ice-ufrag:" +
           kBrowserUfrag + "\r\na=ice-pwd:" + kBrowserPwd + "\r\na=fingerprint:sha-256 " +
           browser.cert->fingerprint_sha256() + "\r\na=setup:" + setup +
           "\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n" + rtpmaps +
           "a=ssrc:2849203748 cname:Gk3pLq8rT2vW6xZ0\r\n";
  }

  // The browser's answer taking opus and telephone-event/48000 (what rtcgw offers it when it
  // transcodes a call from the core).
  std::string browser_opus_answer() {
    return browser_answer("active", "111 110",
                          "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"
                          "a=rtpmap:110 telephone-event/48000\r\n");
  }

  // An SDP of the core (offer or answer) with the given static payload types on its audio line,
  // and telephone-event as 101.
  std::string core_sdp(const std::string& pts) {
    return "v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio " +
           std::to_string(far.rtp.port()) + " RTP/AVP " + pts + "\r\n" +
           (pts.find("101") != std::string::npos ? "a=rtpmap:101 telephone-event/8000\r\n" : "") +
           "a=ptime:20\r\na=sendrecv\r\n";
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

  // Transcoded media both ways, three packets each: opus (browser_pt, 48 kHz clock) from the
  // browser reaches the far end as G.711 (network_pt, 160 bytes), and G.711 from the far end
  // reaches the browser as opus on browser_pt. `seq` numbers both streams (SRTP refuses
  // replays: each call takes fresh ones). `network_ssrc`: rtcgw's stream towards the IMS.
  void expect_transcoded_flow(uint8_t browser_pt, uint8_t network_pt, uint16_t seq,
                              uint32_t* network_ssrc = nullptr) {
    std::string err;
    auto enc = codec::OpusEnc::make(48000, codec::OpusParams{}, err);
    ASSERT_TRUE(enc) << err;
    std::vector<int16_t> pcm(960);
    for (size_t i = 0; i < pcm.size(); ++i)
      pcm[i] = int16_t(8000 * std::sin(2 * 3.14159265358979 * 1000 * double(i) / 48000.0));
    size_t far_before = far.got_rtp.size();
    for (uint16_t n = seq; n < seq + 3; ++n) {
      uint8_t payload[400];
      int len = enc->encode(pcm.data(), 960, payload, sizeof payload);
      ASSERT_GT(len, 0);
      Bytes rtp = rtp_packet(n, browser_pt);
      rtp.resize(12);
      uint32_t ts = n * 960u;
      for (int i = 0; i < 4; ++i) rtp[4 + i] = uint8_t(ts >> (24 - 8 * i));
      rtp.insert(rtp.end(), payload, payload + len);
      ASSERT_TRUE(browser.send_rtp(rtp));
    }
    ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return far.got_rtp.size() >= far_before + 3; }))
        << "no transcoded RTP at the network";
    const Bytes& g711 = far.got_rtp.back();
    EXPECT_EQ(g711[1] & 0x7f, network_pt) << "G.711 payload type";
    EXPECT_EQ(g711.size(), 12u + 160u);
    if (network_ssrc)
      *network_ssrc =
          uint32_t(g711[8]) << 24 | uint32_t(g711[9]) << 16 | uint32_t(g711[10]) << 8 | g711[11];

    size_t before = browser.media.size();
    for (uint16_t n = seq; n < seq + 3; ++n) {
      Bytes back = rtp_packet(n, network_pt, 0xCAFEBABE);
      ASSERT_TRUE(far.rtp.send(back.data(), back.size(), far.gw_rtp));
    }
    auto rtp_count = [&] {
      size_t k = 0;
      for (size_t i = before; i < browser.media.size(); ++i)
        k += classify(browser.media[i].data(), browser.media[i].size()) == PacketKind::kRtp;
      return k;
    };
    ASSERT_TRUE(pump([&] { poll_all(); }, [&] { return rtp_count() >= 3; }))
        << "no transcoded RTP at the browser";
    for (size_t i = before; i < browser.media.size(); ++i) {
      const Bytes& p = browser.media[i];
      if (classify(p.data(), p.size()) != PacketKind::kRtp) continue;
      EXPECT_EQ(p[1] & 0x7f, browser_pt);
      EXPECT_LT(p.size(), 12u + 160u) << "opus, not G.711";
    }
  }

  double dropped(const char* reason) {
    return metrics.counter_value("rtcgw_media_dropped_total",
                                 std::string("reason=\"") + reason + "\"");
  }

  config::Config cfg;
  Metrics metrics;
  std::unique_ptr<Anchors> anchors;
  Browser browser;
  FarEnd far{47000};
};

}  // namespace rtcgw::media::testing
