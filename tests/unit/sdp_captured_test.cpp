// SDP translation on bodies captured from real peers in the browser end-to-end test
// (tests/e2e/media_call.js, Chromium 156 running JsSIP 3.13.8 through rtcgw, 2026-12-02):
// the browser's initial offer and hold re-offer, rtcgw's offer to the browser for a call from
// the core, and the browser's answer to it.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "sdp/describe.hpp"
#include "sdp_fixtures.hpp"

namespace rtcgw::sdp {
namespace {

using testing::browser_leg;
using testing::has;
using testing::has_prefix;
using testing::load;
using testing::net_leg;
using testing::sofia_parses;

// What TS 23.228 Annex U keeps away from the IMS.
void expect_no_webrtc(const std::string& sdp) {
  for (const char* p :
       {"a=ice-", "a=candidate", "a=fingerprint", "a=setup", "a=mid", "a=group", "a=msid", "a=ssrc",
        "a=extmap", "a=rtcp-fb", "a=rtcp-mux", "a=end-of-candidates", "a=rtcp-rsize", "a=rtcp-xr"})
    EXPECT_FALSE(has_prefix(sdp, p)) << p << " reached the IMS:\n" << sdp;
}

const char* kSippCallerOffer =
    "v=0\r\no=ims 53655765 2353687637 IN IP4 127.0.0.1\r\ns=rtcgw e2e caller\r\n"
    "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 28562 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
    "a=ptime:20\r\na=sendrecv\r\n";

TEST(SdpCaptured, JsSipChromeOfferToTheImsAndTheAnswerBack) {
  std::string offer = load("captured_jssip_chrome156_offer.sdp");
  BrowserTransport bt = describe_browser(offer);
  ASSERT_TRUE(bt.ok) << bt.error;
  EXPECT_EQ(bt.ice_ufrag, "Bnk7");
  EXPECT_EQ(bt.setup, "actpass");
  EXPECT_TRUE(bt.rtcp_mux);

  Result net = to_network_offer(offer, net_leg());
  ASSERT_TRUE(net.ok) << net.error;
  EXPECT_TRUE(sofia_parses(net.sdp));
  // Chrome offers 111 opus, 63 red, 9 G722, 0, 8, 13 CN, 110 and 126 telephone-event: the IMS
  // gets G.711 and the 8 kHz telephone-event, with Chrome's numbers.
  EXPECT_TRUE(has(net.sdp, "m=audio 30000 RTP/AVP 0 8 126")) << net.sdp;
  EXPECT_TRUE(has(net.sdp, "c=IN IP4 198.51.100.7"));
  EXPECT_TRUE(has(net.sdp, "b=AS:80"));
  EXPECT_TRUE(has(net.sdp, "a=rtpmap:126 telephone-event/8000"));
  EXPECT_FALSE(has_prefix(net.sdp, "a=rtpmap:111"));
  expect_no_webrtc(net.sdp);

  Result ans = to_browser_answer(load("ims_answer.sdp"), offer, browser_leg());
  ASSERT_TRUE(ans.ok) << ans.error;
  EXPECT_TRUE(sofia_parses(ans.sdp));
  // What Chrome's max-bundle and rtcp-mux policies require, and an answerer's setup.
  EXPECT_TRUE(has(ans.sdp, "a=group:BUNDLE 0")) << ans.sdp;
  EXPECT_TRUE(has(ans.sdp, "a=mid:0"));
  EXPECT_TRUE(has(ans.sdp, "a=rtcp-mux"));
  EXPECT_TRUE(has(ans.sdp, "a=setup:passive"));
  EXPECT_TRUE(has_prefix(ans.sdp, "m=audio 50000 UDP/TLS/RTP/SAVPF 0"));
  EXPECT_TRUE(has(ans.sdp, "a=ice-ufrag:gwUf"));
}

TEST(SdpCaptured, JsSipHoldReofferIsSendonlyTowardsTheIms) {
  std::string hold = load("captured_jssip_chrome156_hold_offer.sdp");
  BrowserTransport before = describe_browser(load("captured_jssip_chrome156_offer.sdp"));
  BrowserTransport now = describe_browser(hold);
  ASSERT_TRUE(now.ok) << now.error;
  EXPECT_FALSE(now.ice_restart_from(before));
  EXPECT_FALSE(now.new_dtls_from(before));
  NetworkLeg leg = net_leg();
  leg.session_version = 2;
  Result net = to_network_offer(hold, leg);
  ASSERT_TRUE(net.ok) << net.error;
  EXPECT_TRUE(has(net.sdp, "a=sendonly")) << net.sdp;
  EXPECT_FALSE(has(net.sdp, "a=sendrecv"));
  expect_no_webrtc(net.sdp);
}

TEST(SdpCaptured, ChromeAnswerToRtcgwsOfferGoesToTheImsWithItsPayloadTypes) {
  // rtcgw's offer as Chromium received it parses back and says actpass with one candidate.
  BrowserTransport ours = describe_browser(load("captured_rtcgw_offer_to_chrome156.sdp"));
  ASSERT_TRUE(ours.ok) << ours.error;
  EXPECT_EQ(ours.setup, "actpass");
  ASSERT_EQ(ours.candidates.size(), 1u);

  std::string answer = load("captured_jssip_chrome156_answer.sdp");
  BrowserTransport bt = describe_browser(answer);
  ASSERT_TRUE(bt.ok) << bt.error;
  EXPECT_EQ(bt.setup, "active");  // Chrome takes the DTLS client role when offered actpass
  Result net = to_network_answer(answer, net_leg(), kSippCallerOffer);
  ASSERT_TRUE(net.ok) << net.error;
  EXPECT_TRUE(sofia_parses(net.sdp));
  EXPECT_TRUE(has_prefix(net.sdp, "m=audio 30000 RTP/AVP 0")) << net.sdp;
  EXPECT_TRUE(has(net.sdp, "a=rtpmap:101 telephone-event/8000"));
  EXPECT_TRUE(has(net.sdp, "a=sendrecv"));
  expect_no_webrtc(net.sdp);
}

}  // namespace
}  // namespace rtcgw::sdp
