// Robustness of the SDP translator: truncated bodies, and a whole call through both
// directions of one anchor. Complements sdp_translate_test.cpp (same sample files).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "sdp/describe.hpp"
#include "sdp/translate.hpp"
#include "sdp_fixtures.hpp"

namespace {

using namespace rtcgw::sdp;
using namespace rtcgw::sdp::testing;

int count_m(const std::string& sdp) {
  int n = sdp.rfind("m=", 0) == 0;
  for (size_t pos = 0; (pos = sdp.find("\nm=", pos)) != std::string::npos; ++pos) ++n;
  return n;
}

// Every prefix of every sample (truncated SIP bodies) in every function: no crash, no leak
// (ASan), and whatever comes out ok parses again.
TEST(SdpTranslate, TruncatedInputsAreSafe) {
  for (const char* name : {"chrome_audio_offer.sdp", "chrome_av_offer.sdp", "ims_answer.sdp",
                           "ims_offer.sdp", "chrome_answer.sdp"}) {
    std::string full = load(name);
    for (size_t n = 0; n < full.size(); n += 7) {
      std::string cut = full.substr(0, n);
      for (const Result& r : {to_network_offer(cut, net_leg(), CodecPolicy{true}),
                              to_browser_answer(cut, load("chrome_audio_offer.sdp"), browser_leg()),
                              to_browser_offer(cut, browser_leg()),
                              to_network_answer(cut, net_leg(), load("ims_offer.sdp"))}) {
        if (r.ok) {
          EXPECT_TRUE(sofia_parses(r.sdp)) << name << " cut at " << n;
        } else {
          EXPECT_EQ(r.sip_status, 488) << name << " cut at " << n << ": " << r.error;
        }
      }
    }
  }
}

// The whole browser-initiated path on one call: offer out, answer back.
TEST(SdpRoundTrip, BrowserCallThroughNetworkOfferAndAnswer) {
  std::string offer = load("chrome_av_offer.sdp");
  Result net = to_network_offer(offer, net_leg());
  ASSERT_TRUE(net.ok) << net.error;
  Result back = to_browser_answer(load("ims_answer_av.sdp"), offer, browser_leg());
  ASSERT_TRUE(back.ok) << back.error;
  EXPECT_EQ(count_m(net.sdp), count_m(offer));
  EXPECT_EQ(count_m(back.sdp), count_m(offer));
}

// A call from the core: network offer -> browser offer; browser answer -> network answer.
TEST(SdpRoundTrip, CoreCallThroughBrowserOfferAndAnswer) {
  std::string offer = load("ims_offer.sdp");
  Result to_browser = to_browser_offer(offer, browser_leg());
  ASSERT_TRUE(to_browser.ok) << to_browser.error;
  Result to_net = to_network_answer(load("chrome_answer.sdp"), net_leg(), offer);
  ASSERT_TRUE(to_net.ok) << to_net.error;
  EXPECT_EQ(count_m(to_browser.sdp), count_m(offer));
  EXPECT_EQ(count_m(to_net.sdp), count_m(offer));
  EXPECT_TRUE(sofia_parses(to_browser.sdp));
  EXPECT_TRUE(sofia_parses(to_net.sdp));
}

}  // namespace

namespace rtcgw::sdp {
namespace {

// Debian 12's sofia-sip loops allocating memory in sdp_parse on these m= lines (found by
// fuzz_sdp_translate): they must be refused before sofia sees them, with 488.
TEST(SdpTranslate, MediaLinesThatHangSofiaAreRefused) {
  for (const char* m :
       {"m=audio 9 UDP/TLS/RTP/SAVPF 0 (", "m=audio 9 UDP/TLS/RTP/SAVPF \t", "m=audio  9 RTP/AVP 0",
        "m=audio 9 RTP/AVP 0 ", "m=audio x RTP/AVP 0", "m=audio 9 RTP/AVP"}) {
    std::string sdp = std::string(
                          "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n"
                          "t=0 0\r\n") +
                      m + "\r\n";
    Result r = to_network_offer(sdp, testing::net_leg());
    EXPECT_FALSE(r.ok) << m;
    EXPECT_EQ(r.sip_status, 488) << m;
    EXPECT_NE(r.error.find("malformed media line"), std::string::npos) << r.error;
    EXPECT_FALSE(describe_browser(sdp).ok);
    EXPECT_FALSE(describe_network(sdp).ok);
  }
}

// A rejected SAVPF line with a non-numeric format is written as RTP/AVP with numeric formats
// only, so the offer to the IMS still parses (it was a 500 before).
TEST(SdpTranslate, RejectedLineWithNonNumericFormatStaysValid) {
  std::string offer = testing::load("chrome_audio_offer.sdp") +
                      "m=video 9 UDP/TLS/RTP/SAVPF abc 96 300\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n";
  Result r = to_network_offer(offer, testing::net_leg());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_NE(r.sdp.find("m=video 0 RTP/AVP 96\r\n"), std::string::npos) << r.sdp;
}

}  // namespace
}  // namespace rtcgw::sdp
