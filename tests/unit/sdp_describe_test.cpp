// Reading the browser's ICE/DTLS parameters and the network's RTP endpoint out of real SDPs.
#include "sdp/describe.hpp"

#include <gtest/gtest.h>

#include "sdp_fixtures.hpp"

#include <fstream>
#include <sstream>
#include <string>

namespace {

using namespace rtcgw::sdp;
using namespace rtcgw::sdp::testing;

TEST(SdpDescribe, ChromeOfferTransport) {
  BrowserTransport t = describe_browser(load("chrome_audio_offer.sdp"));
  ASSERT_TRUE(t.ok) << t.error;
  EXPECT_EQ(t.mid, "0");
  EXPECT_EQ(t.ice_ufrag, "Xk7q");
  EXPECT_EQ(t.ice_pwd, "2bQm9PPAx0YlO2ZqvXhE3a6n");
  EXPECT_FALSE(t.ice_lite);
  EXPECT_EQ(t.fingerprint_alg, "sha-256");
  EXPECT_EQ(t.fingerprint.substr(0, 12), "7B:8B:F0:65:");
  EXPECT_EQ(t.fingerprint.size(), 95u);
  EXPECT_EQ(t.setup, "actpass");
  EXPECT_TRUE(t.rtcp_mux);
  ASSERT_EQ(t.candidates.size(), 2u);
  EXPECT_EQ(t.candidates[0],
            "2437072876 1 udp 2113937151 127.0.0.1 50614 typ host generation 0 network-cost 999");
}

TEST(SdpDescribe, ReofferChangesAreSeen) {
  std::string offer = load("chrome_audio_offer.sdp");
  BrowserTransport first = describe_browser(offer);
  BrowserTransport hold = describe_browser(load("chrome_hold_reoffer.sdp"));
  ASSERT_TRUE(hold.ok);
  EXPECT_FALSE(hold.ice_restart_from(first));
  EXPECT_FALSE(hold.new_dtls_from(first));
  std::string restarted = offer;
  restarted.replace(restarted.find("a=ice-ufrag:Xk7q"), 16, "a=ice-ufrag:Zz9w");
  EXPECT_TRUE(describe_browser(restarted).ice_restart_from(first));
  std::string rekeyed = offer;
  rekeyed.replace(rekeyed.find("sha-256 7B"), 10, "sha-256 7C");
  EXPECT_TRUE(describe_browser(rekeyed).new_dtls_from(first));
}

TEST(SdpDescribe, SessionLevelFingerprintAndMissingCredentials) {
  std::string fx =
      "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 AA:BB\r\n"
      "a=ice-ufrag:u1\r\na=ice-pwd:p1p1p1p1p1p1p1p1p1p1p1\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=mid:a\r\na=setup:actpass\r\n";
  BrowserTransport t = describe_browser(fx);
  ASSERT_TRUE(t.ok) << t.error;
  EXPECT_EQ(t.fingerprint, "AA:BB");
  EXPECT_EQ(t.ice_ufrag, "u1");
  EXPECT_EQ(t.mid, "a");
  EXPECT_FALSE(describe_browser(load("ims_answer.sdp")).ok);
  EXPECT_FALSE(describe_browser("garbage").ok);
}

TEST(SdpDescribe, ImsAnswerEndpoint) {
  NetworkMedia n = describe_network(load("ims_answer.sdp"));
  ASSERT_TRUE(n.ok) << n.error;
  EXPECT_EQ(n.address, "192.0.2.10");
  EXPECT_EQ(n.rtp_port, 40000);
  EXPECT_EQ(n.rtcp_port, 40001);
  EXPECT_FALSE(n.rtcp_mux);
  EXPECT_EQ(n.direction, "sendrecv");
  EXPECT_EQ(n.payload_types, (std::vector<int>{0, 101}));
  EXPECT_EQ(n.telephone_event_pt, 101);
  EXPECT_EQ(describe_network(load("ims_hold_answer.sdp")).direction, "recvonly");
}

TEST(SdpDescribe, ImsOfferPrefers8kTelephoneEventAndRtcpAttribute) {
  NetworkMedia n = describe_network(load("ims_offer.sdp"));
  ASSERT_TRUE(n.ok) << n.error;
  EXPECT_EQ(n.address, "192.0.2.20");
  EXPECT_EQ(n.rtp_port, 31000);
  EXPECT_EQ(n.payload_types, (std::vector<int>{104, 8, 0, 101, 100}));
  EXPECT_EQ(n.telephone_event_pt, 101);
  std::string muxed = load("ims_answer.sdp");
  muxed.replace(muxed.find("a=ptime:20"), 10, "a=rtcp:40005\na=ptime:20");
  EXPECT_EQ(describe_network(muxed).rtcp_port, 40005);
  EXPECT_FALSE(describe_network("v=0\r\n").ok);
}

}  // namespace
