// Transcoding negotiation (issue 4) at the SDP level, both directions: which codec each leg
// carries, what each side is offered and answered, and 488 for the side that sent something
// unusable. Outputs are checked line by line and parsed again by sofia's strict parser.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sdp/translate.hpp"
#include "sdp_fixtures.hpp"

namespace {

using namespace rtcgw::sdp;
using namespace rtcgw::sdp::testing;
using Names = std::vector<std::string>;

const Names kAll = {"opus", "PCMU", "PCMA"};
const Names kG711 = {"PCMU", "PCMA"};
const Names kOpus = {"opus"};

std::string with(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

// The m= line of the first audio section and the lines up to the next m= line.
std::vector<std::string> audio_section(const std::string& sdp) {
  std::vector<std::string> out;
  for (const auto& l : lines(sdp)) {
    if (l.rfind("m=", 0) == 0 && !out.empty()) break;
    if (l.rfind("m=audio", 0) == 0 || !out.empty()) out.push_back(l);
  }
  return out;
}

bool section_has(const std::string& sdp, const std::string& line) {
  for (const auto& l : audio_section(sdp))
    if (l == line) return true;
  return false;
}

// The first audio m= line ("" when there is none).
std::string audio_m_line(const std::string& sdp) {
  auto audio = audio_section(sdp);
  return audio.empty() ? "" : audio[0];
}

// Refused with 488 (Not Acceptable Here).
::testing::AssertionResult refused_with_488(const Result& r) {
  if (!r.ok && r.sip_status == 488) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "ok " << r.ok << ", status " << r.sip_status << "\n"
                                       << r.sdp;
}

// Opus (111) and telephone-event/48000 (110) with the browser, PCMU (0) and
// telephone-event/8000 (101) with the core.
void expect_opus_pcmu_plan(const TranscodePlan& plan) {
  EXPECT_EQ(plan.browser_codec, "opus");
  EXPECT_EQ(plan.browser_pt, 111);
  EXPECT_EQ(plan.browser_event_pt, 110);
  EXPECT_EQ(plan.network_codec, "PCMU");
  EXPECT_EQ(plan.network_pt, 0);
  EXPECT_EQ(plan.network_event_pt, 101);
}

// ims_offer.sdp offers AMR-WB 104, PCMA 8, PCMU 0, telephone-event 101 (8000) and 100 (16000).
// Cut down to `pts`: the a=rtpmap and a=fmtp lines of the others go too (sofia refuses them).
std::string core_offer(const std::string& pts = "104 8 0 101 100") {
  const std::string listed = " " + pts + " ";
  std::string out;
  bool audio = false;
  for (std::string l : lines(load("ims_offer.sdp"))) {
    if (l.rfind("m=", 0) == 0) audio = l.rfind("m=audio", 0) == 0;
    if (audio && l.rfind("m=audio", 0) == 0) l = "m=audio 31000 RTP/AVP " + pts;
    for (const std::string a : {"a=rtpmap:", "a=fmtp:"})
      if (audio && l.rfind(a, 0) == 0 &&
          listed.find(" " + l.substr(a.size(), l.find(' ') - a.size()) + " ") == std::string::npos)
        l.clear();
    if (!l.empty()) out += l + "\r\n";
  }
  return out;
}

// Chrome's answer to rtcgw's transcoding offer: opus and telephone-event/48000.
std::string chrome_opus_answer() {
  std::string a = with(load("chrome_answer.sdp"), "SAVPF 8 101", "SAVPF 111 110");
  a = with(a, "a=rtpmap:8 PCMA/8000",
           "a=rtpmap:111 opus/48000/2\na=fmtp:111 minptime=10;useinbandfec=1");
  return with(a, "a=rtpmap:101 telephone-event/8000", "a=rtpmap:110 telephone-event/48000");
}

// ---- calls from the core: the decision ----

TEST(SdpPickNetworkCodec, SharedCodecMeansRelay) {
  NetworkChoice c = pick_network_codec(core_offer(), kAll, kG711);
  EXPECT_TRUE(c.shared);
  EXPECT_EQ(c.codec, "");
}

TEST(SdpPickNetworkCodec, FirstNetworkCodecTheOfferHasWithItsPayloadTypes) {
  NetworkChoice c = pick_network_codec(core_offer(), kOpus, kG711);
  EXPECT_FALSE(c.shared);
  EXPECT_EQ(c.codec, "PCMU") << "network_codecs order, not the offer's";
  EXPECT_EQ(c.pt, 0);
  EXPECT_EQ(c.event_pt, 101) << "telephone-event/8000, not the 16 kHz one";
  c = pick_network_codec(core_offer("104 8 100"), kOpus, kG711);
  EXPECT_EQ(c.codec, "PCMA");
  EXPECT_EQ(c.pt, 8);
  EXPECT_EQ(c.event_pt, -1);
}

TEST(SdpPickNetworkCodec, NothingTranscodableAndGarbage) {
  NetworkChoice c = pick_network_codec(core_offer("104 100"), kOpus, kG711);
  EXPECT_FALSE(c.shared);
  EXPECT_EQ(c.codec, "");
  c = pick_network_codec("v=0\r\nnot SDP\r\n", kOpus, kG711);
  EXPECT_FALSE(c.shared);
  EXPECT_EQ(c.codec, "");
  // opus in network_codecs is never a transcoding choice: the transcoder's network side is G.711.
  std::string opus_core = with(core_offer("96"), "a=ptime", "a=rtpmap:96 opus/48000/2\r\na=ptime");
  c = pick_network_codec(opus_core, {"PCMU"}, {"opus", "PCMU"});
  EXPECT_FALSE(c.shared);
  EXPECT_EQ(c.codec, "");
}

// ---- calls from the core: the offer to the browser ----

TEST(SdpToBrowserOfferTranscoding, PcmuOnlyCoreOfferGivesTheBrowserOnlyOpus) {
  Result r = to_browser_offer_transcoding(core_offer("0 101"), browser_leg(), kOpus);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(sofia_parses(r.sdp)) << r.sdp;
  EXPECT_EQ(audio_m_line(r.sdp), "m=audio 50000 UDP/TLS/RTP/SAVPF 111 110");
  EXPECT_TRUE(section_has(r.sdp, "a=rtpmap:111 opus/48000/2"));
  EXPECT_TRUE(section_has(r.sdp, "a=fmtp:111 minptime=10;useinbandfec=1"));
  EXPECT_TRUE(section_has(r.sdp, "a=rtpmap:110 telephone-event/48000"));
  EXPECT_FALSE(has_prefix(r.sdp, "a=rtpmap:0 ")) << "no PCMU towards the browser";
  EXPECT_FALSE(has_prefix(r.sdp, "a=rtpmap:101 "));
  EXPECT_FALSE(has_prefix(r.sdp, "a=rtpmap:126 ")) << "no 8 kHz events without G.711";
  // Everything else as on relayed calls.
  EXPECT_TRUE(has(r.sdp, "a=ice-lite"));
  EXPECT_TRUE(has(r.sdp, "a=group:BUNDLE 0"));
  for (const char* line :
       {"a=setup:actpass", "a=mid:0", "a=rtcp-mux", "a=ice-ufrag:gwUf", "a=sendrecv"})
    EXPECT_TRUE(section_has(r.sdp, line)) << line;
  EXPECT_TRUE(has(r.sdp, "m=video 0 UDP/TLS/RTP/SAVPF 99")) << "m= lines kept in order, rejected";
  EXPECT_EQ(r.sdp.find("192.0.2.20"), std::string::npos);
}

TEST(SdpToBrowserOfferTranscoding, ListOrderStaticTypesEventsPerClockAndDirection) {
  std::string hold = with(core_offer("8 101"), "a=sendrecv", "a=sendonly");
  Result r = to_browser_offer_transcoding(hold, browser_leg(), {"PCMU", "opus"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(sofia_parses(r.sdp)) << r.sdp;
  EXPECT_EQ(audio_m_line(r.sdp), "m=audio 50000 UDP/TLS/RTP/SAVPF 0 111 110 126");
  EXPECT_TRUE(section_has(r.sdp, "a=rtpmap:0 PCMU/8000"));
  EXPECT_TRUE(section_has(r.sdp, "a=rtpmap:126 telephone-event/8000"));
  EXPECT_TRUE(section_has(r.sdp, "a=sendonly"));
  EXPECT_FALSE(has_prefix(r.sdp, "a=rtpmap:8 ")) << "the core's PCMA stays on its leg";
}

TEST(SdpToBrowserOfferTranscoding, KeepsTheBrowsersMids) {
  BrowserLeg leg = browser_leg();
  leg.mids = {"audio", "video"};
  Result r = to_browser_offer_transcoding(core_offer("0"), leg, kOpus);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(has(r.sdp, "a=group:BUNDLE audio"));
  EXPECT_TRUE(has(r.sdp, "a=mid:video"));
}

TEST(SdpToBrowserOfferTranscoding, NoAudioOrNoBrowserCodecIs488) {
  Result r = to_browser_offer_transcoding(core_offer("0"), browser_leg(), {});
  EXPECT_TRUE(refused_with_488(r));
  std::string no_audio = with(core_offer("0"), "m=audio 31000", "m=audio 0");
  r = to_browser_offer_transcoding(no_audio, browser_leg(), kOpus);
  EXPECT_TRUE(refused_with_488(r));
  r = to_browser_offer_transcoding("garbage", browser_leg(), kOpus);
  EXPECT_TRUE(refused_with_488(r));
}

// ---- calls from the core: the browser's answer to the answer for the core ----

TEST(SdpToNetworkAnswerTranscoding, OpusAnswerBecomesPcmuWithTheOffersPayloadTypes) {
  TranscodePlan plan;
  Result r = to_network_answer_transcoding(chrome_opus_answer(), net_leg(), core_offer(), kOpus,
                                           kG711, plan);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(sofia_parses(r.sdp)) << r.sdp;
  EXPECT_EQ(audio_m_line(r.sdp), "m=audio 30000 RTP/AVP 0 101");
  EXPECT_TRUE(section_has(r.sdp, "a=rtpmap:0 PCMU/8000"));
  EXPECT_TRUE(section_has(r.sdp, "a=rtpmap:101 telephone-event/8000"));
  EXPECT_TRUE(section_has(r.sdp, "a=ptime:20"));
  EXPECT_TRUE(section_has(r.sdp, "a=sendrecv"));
  EXPECT_TRUE(has(r.sdp, "m=video 0 RTP/AVP 99"));
  EXPECT_FALSE(has_prefix(r.sdp, "a=rtpmap:111")) << "no opus towards the core";
  EXPECT_FALSE(has_prefix(r.sdp, "a=fingerprint")) << r.sdp;
  EXPECT_FALSE(has_prefix(r.sdp, "a=ice-")) << r.sdp;
  EXPECT_TRUE(has(r.sdp, "c=IN IP4 198.51.100.7"));

  expect_opus_pcmu_plan(plan);
}

TEST(SdpToNetworkAnswerTranscoding, DynamicPayloadTypesAndNoEvents) {
  // The core numbers PCMA dynamically and has no telephone-event: both show in the answer.
  std::string offer = with(core_offer("98"), "a=ptime", "a=rtpmap:98 PCMA/8000\r\na=ptime");
  TranscodePlan plan;
  Result r =
      to_network_answer_transcoding(chrome_opus_answer(), net_leg(), offer, kOpus, {"PCMA"}, plan);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(audio_m_line(r.sdp), "m=audio 30000 RTP/AVP 98");
  EXPECT_TRUE(section_has(r.sdp, "a=rtpmap:98 PCMA/8000"));
  EXPECT_EQ(plan.network_codec, "PCMA");
  EXPECT_EQ(plan.network_pt, 98);
  EXPECT_EQ(plan.network_event_pt, -1);
  EXPECT_EQ(plan.browser_event_pt, 110) << "the browser keeps its events (in-band towards the IMS)";
}

TEST(SdpToNetworkAnswerTranscoding, TheBrowsersFirstListedCodecIsTheOneItSends) {
  // Chrome answers with every codec both sides have, in its own preference order.
  std::string both = with(chrome_opus_answer(), "SAVPF 111 110", "SAVPF 0 111 110");
  both = with(both, "a=rtpmap:111 ", "a=rtpmap:0 PCMU/8000\na=rtpmap:111 ");
  TranscodePlan plan;
  Result r = to_network_answer_transcoding(both, net_leg(), core_offer("8"), {"opus", "PCMU"},
                                           kG711, plan);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(plan.browser_codec, "PCMU");
  EXPECT_EQ(plan.browser_pt, 0);
  EXPECT_EQ(plan.browser_event_pt, -1) << "no telephone-event/8000 in the browser's answer";
  EXPECT_EQ(plan.network_codec, "PCMA");
}

TEST(SdpToNetworkAnswerTranscoding, AnswerTheCoreCannotUseIs488) {
  TranscodePlan plan;
  plan.browser_pt = -7;
  // The browser took a codec rtcgw did not offer it (not in browser_codecs).
  Result r = to_network_answer_transcoding(load("chrome_answer.sdp"), net_leg(), core_offer(),
                                           kOpus, kG711, plan);
  EXPECT_TRUE(refused_with_488(r));
  EXPECT_EQ(plan.browser_pt, -7) << "the plan is left alone on failure";
  // The browser rejected the audio line.
  r = to_network_answer_transcoding(with(chrome_opus_answer(), "m=audio 9", "m=audio 0"), net_leg(),
                                    core_offer(), kOpus, kG711, plan);
  EXPECT_TRUE(refused_with_488(r));
  // Line counts differ.
  std::string one_line = chrome_opus_answer();
  one_line = one_line.substr(0, one_line.find("m=video"));
  r = to_network_answer_transcoding(one_line, net_leg(), core_offer(), kOpus, kG711, plan);
  EXPECT_TRUE(refused_with_488(r));
  // The offer has no network codec to answer with.
  r = to_network_answer_transcoding(chrome_opus_answer(), net_leg(), core_offer("104"), kOpus,
                                    kG711, plan);
  EXPECT_TRUE(refused_with_488(r));
}

// ---- calls from the browser: the IMS's answer to the answer for the browser ----

TEST(SdpToBrowserAnswerTranscoding, ImsPcmuAnswerBecomesOpusWithTheBrowsersNumbers) {
  std::string offer =
      with(load("chrome_av_offer.sdp"), "SAVPF 111 63 9 0 8 13 110 126", "SAVPF 111 110");
  std::string ims =
      "v=0\r\no=- 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n"
      "m=audio 31000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
      "m=video 0 RTP/AVP 96\r\n";
  TranscodePlan plan;
  Result r = to_browser_answer_transcoding(ims, offer, browser_leg(), kAll, plan);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(sofia_parses(r.sdp)) << r.sdp;
  EXPECT_EQ(audio_m_line(r.sdp), "m=audio 50000 UDP/TLS/RTP/SAVPF 111 110");
  EXPECT_TRUE(section_has(r.sdp, "a=fmtp:111 minptime=10;useinbandfec=1"));
  EXPECT_TRUE(section_has(r.sdp, "a=rtpmap:110 telephone-event/48000"));
  EXPECT_TRUE(section_has(r.sdp, "a=setup:passive"));
  EXPECT_TRUE(has(r.sdp, "a=group:BUNDLE 0"));
  EXPECT_TRUE(has_prefix(r.sdp, "m=video 0 UDP/TLS/RTP/SAVPF")) << r.sdp;
  EXPECT_EQ(r.sdp.find("PCMU"), std::string::npos) << r.sdp;
  expect_opus_pcmu_plan(plan);
}

// ---- the decision, both directions ----

struct Case {
  const char* name;
  Names browser_codecs, network_codecs;
  std::string offered;  // payload types of the offer
  enum { kRelay, kTranscode, kNothing } want;
};

// A browser offer (Chrome's, its audio line cut down to `pts`): the browser direction.
TEST(SdpTranscodeDecision, BrowserOffers) {
  const std::vector<Case> cases = {
      {"PCMU shared", kAll, kG711, "111 0 8 110 126", Case::kRelay},
      {"opus forced on the browser", kOpus, kG711, "111 0 8 110 126", Case::kTranscode},
      {"opus-only browser", kAll, kG711, "111 110", Case::kTranscode},
      {"PCMA-only network", {"opus", "PCMU"}, {"PCMA"}, "111 0 110", Case::kTranscode},
      {"G722 only", kAll, kG711, "9", Case::kNothing},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string offer =
        with(load("chrome_audio_offer.sdp"), "SAVPF 111 63 9 0 8 13 110 126", "SAVPF " + c.offered);
    bool shared = false;
    std::string best = pick_browser_codec(offer, c.browser_codecs, c.network_codecs, shared);
    bool transcode = !shared && !best.empty();
    Result r = transcode ? to_network_offer_transcoding(offer, net_leg(), c.network_codecs)
                         : to_network_offer(offer, net_leg());
    if (c.want == Case::kNothing) {
      EXPECT_TRUE(refused_with_488(r));
      continue;
    }
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(shared, c.want == Case::kRelay);
    EXPECT_EQ(transcode, c.want == Case::kTranscode);
    // Either way the IMS sees only G.711 and 8 kHz events.
    EXPECT_FALSE(has_prefix(r.sdp, "a=rtpmap:111")) << r.sdp;
  }
}

// A core offer (ims_offer.sdp, its audio line cut down to `pts`): the core direction.
TEST(SdpTranscodeDecision, CoreOffers) {
  const std::vector<Case> cases = {
      {"PCMU shared", kAll, kG711, "104 8 0 101", Case::kRelay},
      {"opus forced on the browser", kOpus, kG711, "104 8 0 101", Case::kTranscode},
      {"PCMA core, PCMU browser", {"PCMU"}, {"PCMA"}, "8 0 101", Case::kTranscode},
      {"AMR-WB only", kAll, kG711, "104 100", Case::kNothing},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string offer = core_offer(c.offered);
    NetworkChoice n = pick_network_codec(offer, c.browser_codecs, c.network_codecs);
    bool transcode = !n.shared && !n.codec.empty();
    Result r = transcode ? to_browser_offer_transcoding(offer, browser_leg(), c.browser_codecs)
                         : to_browser_offer(offer, browser_leg());
    if (c.want == Case::kNothing) {
      EXPECT_TRUE(refused_with_488(r));
      continue;
    }
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(n.shared, c.want == Case::kRelay);
    EXPECT_EQ(transcode, c.want == Case::kTranscode);
    // The browser is offered only what browser_codecs allows when transcoding.
    if (transcode)
      for (const char* other : {"opus", "PCMU", "PCMA"}) {
        bool allowed = false;
        for (const auto& b : c.browser_codecs) allowed |= b == other;
        EXPECT_EQ(r.sdp.find(std::string(" ") + other + "/") != std::string::npos, allowed)
            << other << "\n"
            << r.sdp;
      }
  }
}

}  // namespace
