// The media anchor with media.ice: full, end to end in one process on loopback: the "browser"
// is a libnice agent (full ICE, as browsers are) carrying the project's DTLS client and SRTP,
// the "network far end" plain UDP. Both call directions: the browser's offer makes rtcgw the
// controlled agent, rtcgw's offer the controlling one; media must cross both ways unchanged.
#include <agent.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "media/anchors.hpp"
#include "media/demux.hpp"
#include "rtcgw/metrics.hpp"
#include "sdp_fixtures.hpp"

namespace rtcgw::media {
namespace {

using Bytes = std::vector<uint8_t>;

std::string replace_line(std::string sdp, const std::string& prefix, const std::string& line) {
  size_t at = sdp.find(prefix);
  EXPECT_NE(at, std::string::npos) << prefix;
  if (at == std::string::npos) return sdp;
  size_t end = sdp.find('\n', at);
  return sdp.replace(at, end - at, line + "\r");
}

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

// The browser: a full libnice agent on 127.0.0.1, DTLS and SRTP over it.
struct NiceBrowser {
  NiceAgent* agent = nullptr;
  guint stream = 0;
  gulong handler = 0;
  bool ready = false;
  std::unique_ptr<Certificate> cert = Certificate::generate();
  DtlsContext ctx{*cert};
  std::unique_ptr<DtlsSession> dtls;
  SrtpSession srtp;
  bool srtp_ready = false;
  std::vector<Bytes> media;  // SRTP/SRTCP received, unprotected

  explicit NiceBrowser(bool controlling) {
    agent = nice_agent_new_full(nullptr, NICE_COMPATIBILITY_RFC5245,
                                NICE_AGENT_OPTION_REGULAR_NOMINATION);
    g_object_set(agent, "upnp", FALSE, "ice-tcp", FALSE, "controlling-mode", controlling, nullptr);
    NiceAddress lo;
    nice_address_init(&lo);
    nice_address_set_from_string(&lo, "127.0.0.1");
    nice_agent_add_local_address(agent, &lo);
    stream = nice_agent_add_stream(agent, 1);
    EXPECT_TRUE(nice_agent_gather_candidates(agent, stream));
    nice_agent_attach_recv(agent, stream, 1, nullptr, &NiceBrowser::on_recv, this);
    handler = g_signal_connect(agent, "component-state-changed", G_CALLBACK(&NiceBrowser::on_state),
                               this);
  }
  ~NiceBrowser() {
    dtls.reset();
    g_signal_handler_disconnect(agent, handler);
    nice_agent_attach_recv(agent, stream, 1, nullptr, nullptr, nullptr);
    g_object_unref(agent);
  }

  std::string ufrag() const { return creds().first; }
  std::string pwd() const { return creds().second; }
  std::string candidate_line() const {
    GSList* l = nice_agent_get_local_candidates(agent, stream, 1);
    EXPECT_NE(l, nullptr);
    std::string s;
    if (l != nullptr) {
      gchar* line =
          nice_agent_generate_local_candidate_sdp(agent, static_cast<NiceCandidate*>(l->data));
      s = line;
      g_free(line);
    }
    g_slist_free_full(l, reinterpret_cast<GDestroyNotify>(nice_candidate_free));
    return s;  // "a=candidate:..."
  }
  // The gateway's SDP: its credentials and candidates, as a browser reads them.
  void set_remote(const sdp::BrowserTransport& gw) {
    ASSERT_TRUE(
        nice_agent_set_remote_credentials(agent, stream, gw.ice_ufrag.c_str(), gw.ice_pwd.c_str()));
    GSList* l = nullptr;
    for (const auto& c : gw.candidates) {
      NiceCandidate* nc =
          nice_agent_parse_remote_candidate_sdp(agent, stream, ("a=candidate:" + c).c_str());
      ASSERT_NE(nc, nullptr) << c;
      l = g_slist_append(l, nc);
    }
    EXPECT_GT(nice_agent_set_remote_candidates(agent, stream, 1, l), 0);
    g_slist_free_full(l, reinterpret_cast<GDestroyNotify>(nice_candidate_free));
  }
  void start_dtls(DtlsRole role, const std::string& gw_fingerprint) {
    dtls = std::make_unique<DtlsSession>(
        ctx, role, gw_fingerprint,
        [this](const uint8_t* d, size_t n) {
          nice_agent_send(agent, stream, 1, guint(n), reinterpret_cast<const gchar*>(d));
        },
        [this](DtlsState s) {
          if (s == DtlsState::kConnected) {
            std::string err;
            srtp_ready = srtp.init(dtls->keys(), err);
            EXPECT_TRUE(srtp_ready) << err;
          }
        });
    dtls->start();
  }
  bool send_rtp(const Bytes& plain, bool rtcp = false) {
    uint8_t buf[2048];
    memcpy(buf, plain.data(), plain.size());
    size_t len = plain.size();
    if (!(rtcp ? srtp.protect_rtcp(buf, len) : srtp.protect_rtp(buf, len))) return false;
    return nice_agent_send(agent, stream, 1, guint(len), reinterpret_cast<const gchar*>(buf)) ==
           gint(len);
  }

 private:
  std::pair<std::string, std::string> creds() const {
    gchar *u = nullptr, *p = nullptr;
    EXPECT_TRUE(nice_agent_get_local_credentials(agent, stream, &u, &p));
    std::pair<std::string, std::string> r{u ? u : "", p ? p : ""};
    g_free(u);
    g_free(p);
    return r;
  }
  static void on_recv(NiceAgent*, guint, guint, guint n, gchar* data, gpointer self) {
    auto* b = static_cast<NiceBrowser*>(self);
    auto* buf = reinterpret_cast<uint8_t*>(data);
    size_t len = n;
    switch (classify(buf, len)) {
      case PacketKind::kDtls:
        if (b->dtls) b->dtls->receive(buf, len);
        break;
      case PacketKind::kRtp:
      case PacketKind::kRtcp: {
        bool rtcp = classify(buf, len) == PacketKind::kRtcp;
        if (b->srtp_ready &&
            (rtcp ? b->srtp.unprotect_rtcp(buf, len) : b->srtp.unprotect_rtp(buf, len)))
          b->media.emplace_back(buf, buf + len);
        break;
      }
      default:
        break;
    }
  }
  static void on_state(NiceAgent*, guint, guint, guint state, gpointer self) {
    static_cast<NiceBrowser*>(self)->ready =
        state == NICE_COMPONENT_STATE_READY || state == NICE_COMPONENT_STATE_CONNECTED;
  }
};

// The IMS far end: an RTP/RTCP socket pair.
struct FarEnd {
  UdpSocket rtp, rtcp;
  std::vector<Bytes> got_rtp, got_rtcp;
  Endpoint gw_rtp;

  FarEnd() {
    for (uint16_t p = 46000; p < 47000; p += 2)
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
    return "v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           "m=audio " +
           std::to_string(rtp.port()) + " RTP/AVP 0 " + (answer ? "126" : "101") +
           "\r\na=rtpmap:0 PCMU/8000\r\n" +
           (answer ? "a=rtpmap:126 telephone-event/8000\r\n"
                   : "a=rtpmap:101 telephone-event/8000\r\n") +
           "a=ptime:20\r\na=sendrecv\r\n";
  }
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
    ASSERT_TRUE(pump([] {}, [&] { return b.ready; })) << "ICE did not connect";
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
  FarEnd far;
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
  sdp::Result offer = a->network_sdp(far.sdp(false), false);
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
