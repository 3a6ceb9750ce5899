// The media anchor with media.ice: full, end to end in one process on loopback: the "browser"
// is a libnice agent (full ICE, as browsers are) carrying the project's DTLS client and SRTP,
// the "network far end" plain UDP. Both call directions: the browser's offer makes rtcgw the
// controlled agent, rtcgw's offer the controlling one; media must cross both ways unchanged.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "media/anchors.hpp"
#include "media_anchor_fixtures.hpp"
#include "nice_peer.hpp"
#include "rtcgw/metrics.hpp"
#include "sdp_fixtures.hpp"

namespace rtcgw::media {
namespace {

using testing::Bytes;
using testing::FarEnd;
using testing::replace_line;
using testing::rtp_packet;

// Runs the default context (Anchors' poller, timers and both libnice agents live there) and
// `step` until `done`, 10 s at most: a bound against hanging, not a speed requirement.
bool pump(const std::function<void()>& step, const std::function<bool()>& done,
          int max_ms = 10000) {
  const gint64 end = g_get_monotonic_time() + gint64(max_ms) * 1000;
  for (;;) {
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
    step();
    if (done()) return true;
    if (g_get_monotonic_time() > end) return false;
    g_usleep(1000);
  }
}

// The browser: a full libnice agent on 127.0.0.1, DTLS and SRTP over it.
struct NiceBrowser : testing::NicePeer, testing::SecureBrowser {
  using NicePeer::NicePeer;
  ~NiceBrowser() override { dtls.reset(); }

  std::string candidate_line() const {
    std::vector<std::string> c = candidates();
    EXPECT_FALSE(c.empty());
    return c.empty() ? "" : "a=candidate:" + c.front();
  }
  // The gateway's SDP: its credentials and candidates, as a browser reads them.
  void set_remote(const sdp::BrowserTransport& gw) {
    NicePeer::set_remote(gw.ice_ufrag, gw.ice_pwd, gw.candidates);
  }

 protected:
  bool send_datagram(const uint8_t* data, size_t len) override { return send(data, len); }

 private:
  void received(uint8_t* buf, size_t len) override { receive_secure(buf, len); }
};

class AnchorFullIceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg.media.address = "127.0.0.1";
    cfg.media.port_min = 45000;
    cfg.media.port_max = 45999;
    cfg.media.inactivity_timeout = 0;
    cfg.media.ice = config::IceMode::kFull;
    anchors = std::make_unique<Anchors>(cfg, metrics);
  }

  std::string browser_offer(NiceBrowser& b) {
    std::string sdp = sdp::testing::load("chrome_audio_offer.sdp");
    sdp = replace_line(sdp,
                       "a=fingerprint:", "a=fingerprint:sha-256 " + b.cert->fingerprint_sha256());
    sdp = replace_line(sdp, "a=ice-ufrag:", "a=ice-ufrag:" + b.ufrag());
    sdp = replace_line(sdp, "a=ice-pwd:", "a=ice-pwd:" + b.pwd());
    return replace_line(sdp, "a=candidate:2437072876", b.candidate_line());
  }
  std::string browser_answer(NiceBrowser& b) {
    return "v=0\r\no=- 5183723468247934567 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
           "a=group:BUNDLE 0\r\na=msid-semantic: WMS s\r\n"
           "m=audio 9 UDP/TLS/RTP/SAVPF 0 101\r\nc=IN IP4 0.0.0.0\r\n"
           "a=rtcp:9 IN IP4 0.0.0.0\r\n" +
           b.candidate_line() + "\r\na=ice-ufrag:" + b.ufrag() + "\r\na=ice-pwd:" + b.pwd() +
           "\r\na=fingerprint:sha-256 " + b.cert->fingerprint_sha256() +
           "\r\na=setup:active\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n"
           "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
           "a=ssrc:2849203748 cname:Gk3pLq8rT2vW6xZ0\r\n";
  }

  // What rtcgw told the browser: full ICE, its own candidate from the range.
  sdp::BrowserTransport expect_full_ice(const std::string& gw_sdp) {
    EXPECT_EQ(gw_sdp.find("a=ice-lite"), std::string::npos) << gw_sdp;
    sdp::BrowserTransport t = sdp::describe_browser(gw_sdp);
    EXPECT_TRUE(t.ok) << t.error;
    EXPECT_FALSE(t.ice_lite);
    EXPECT_EQ(t.candidates.size(), 1u) << gw_sdp;
    if (!t.candidates.empty()) {
      unsigned port = 0;
      char ip[64] = {0};
      EXPECT_EQ(sscanf(t.candidates[0].c_str(), "%*s %*s %*s %*s %63s %u", ip, &port), 2);
      EXPECT_STREQ(ip, "127.0.0.1");
      EXPECT_GE(port, 45000u);
      EXPECT_LE(port, 45999u);
    }
    return t;
  }

  // ICE (both agents full), then DTLS with the browser as client, until SRTP is keyed.
  void connect(NiceBrowser& b, const sdp::BrowserTransport& gw) {
    b.set_remote(gw);
    ASSERT_TRUE(pump([] {}, [&] { return b.ready(); })) << "ICE did not connect";
    b.start_dtls(DtlsRole::kClient, gw.fingerprint);
    ASSERT_TRUE(pump([] {}, [&] { return b.srtp_ready; })) << "DTLS did not connect";
  }

  void expect_media_flows(NiceBrowser& b, uint16_t seq) {
    auto poll = [&] { far.poll(); };
    Bytes rtp = rtp_packet(seq);
    size_t before = far.got_rtp.size();
    ASSERT_TRUE(b.send_rtp(rtp));
    ASSERT_TRUE(pump(poll, [&] { return far.got_rtp.size() > before; }))
        << "browser RTP did not reach the network";
    EXPECT_EQ(far.got_rtp.back(), rtp);

    Bytes back = rtp_packet(uint16_t(seq + 1000), 0, 0xCAFEBABE);
    size_t media_before = b.media.size();
    ASSERT_TRUE(far.rtp.send(back.data(), back.size(), far.gw_rtp));
    ASSERT_TRUE(pump(poll, [&] { return b.media.size() > media_before; }))
        << "network RTP did not reach the browser";
    EXPECT_EQ(b.media.back(), back);
  }

  config::Config cfg;
  Metrics metrics;
  std::unique_ptr<Anchors> anchors;
  FarEnd far{46000};
};

// The browser offers: it is controlling, rtcgw's agent controlled.
TEST_F(AnchorFullIceTest, BrowserCallsTheCore) {
  std::string err;
  Anchor* a = anchors->create("full-1", 7, err);
  ASSERT_NE(a, nullptr) << err;
  EXPECT_EQ(metrics.counter_value("rtcgw_media_ports_in_use", ""), 3);
  NiceBrowser browser(true);
  sdp::Result offer = a->browser_sdp(browser_offer(browser), false);
  ASSERT_TRUE(offer.ok) << offer.error;
  sdp::NetworkMedia net = sdp::describe_network(offer.sdp);
  ASSERT_TRUE(net.ok) << net.error;
  far.gw_rtp = Endpoint::from("127.0.0.1", net.rtp_port);
  sdp::Result answer = a->network_sdp(far.sdp(true), false);
  ASSERT_TRUE(answer.ok) << answer.error;
  sdp::BrowserTransport gw = expect_full_ice(answer.sdp);
  EXPECT_NE(answer.sdp.find("a=setup:passive"), std::string::npos);

  connect(browser, gw);
  expect_media_flows(browser, 1);

  anchors->release("full-1", "test");
  EXPECT_EQ(metrics.counter_value("rtcgw_media_ports_in_use", ""), 0);
}

// The core offers: rtcgw's offer to the browser makes its agent controlling.
TEST_F(AnchorFullIceTest, CoreCallsTheBrowser) {
  std::string err;
  Anchor* a = anchors->create("full-2", 9, err);
  ASSERT_NE(a, nullptr) << err;
  NiceBrowser browser(false);
  sdp::Result offer = a->network_sdp(far.sdp(false, /*offer_pcma=*/false), false);
  ASSERT_TRUE(offer.ok) << offer.error;
  sdp::BrowserTransport gw = expect_full_ice(offer.sdp);
  sdp::Result answer = a->browser_sdp(browser_answer(browser), false);
  ASSERT_TRUE(answer.ok) << answer.error;
  sdp::NetworkMedia net = sdp::describe_network(answer.sdp);
  ASSERT_TRUE(net.ok) << net.error;
  far.gw_rtp = Endpoint::from("127.0.0.1", net.rtp_port);

  connect(browser, gw);
  expect_media_flows(browser, 1);
  anchors->release("full-2", "test");
}

}  // namespace
}  // namespace rtcgw::media
