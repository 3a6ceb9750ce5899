// 20 ms out whatever comes in: 30 ms G.711 -> 20 ms Opus with continuous timestamps and
// sequence numbers; 60 and 40 ms Opus -> three and two 20 ms G.711 packets; 10 ms in -> one
// packet per two; a remainder that waits too long goes out padded. And the codec switch: a new
// transcoder made with continue_streams() goes on with the same SSRCs, the next sequence numbers
// and timestamps, within one packet time.
#include <gtest/gtest.h>

#include "codec_transcoder_harness.hpp"

namespace rtcgw::codec {
namespace {

using namespace testing;

// Network -> browser with G.711 packets of `ms` milliseconds, a tone in them.
struct N2B {
  N2B() : t(make(opus_pcmu())), x(tone(8000, 440, 8000)) {}
  // The next `ms` of PCMU in; the packets out appended to outs; how many came out.
  size_t send(int ms) {
    const int n = ms * 8;
    Bytes pl(size_t(n), 0);
    for (int i = 0; i < n; ++i)
      pl[size_t(i)] = g711_encode_sample(G711Law::kUlaw, x[(pos + size_t(i)) % x.size()]);
    Bytes p = rtp(kPcmuPt, seq++, ts, kNetSsrc, pl);
    ts += uint32_t(n);
    pos += size_t(n);
    now += ms;
    size_t before = c.outs.size();
    EXPECT_TRUE(t->network_to_browser(p.data(), p.size(), now, buf, sizeof buf, c.sink()))
        << t->last_drop(Leg::kNetwork);
    return c.outs.size() - before;
  }
  std::unique_ptr<Transcoder> t;
  std::vector<int16_t> x;
  size_t pos = 0;
  uint16_t seq = 40000;
  uint32_t ts = 777;
  int64_t now = 0;
  Collect c;
  uint8_t buf[Transcoder::kMaxOutput];
};

void expect_continuous(const std::vector<Out>& outs, uint32_t step) {
  for (size_t i = 1; i < outs.size(); ++i) {
    EXPECT_EQ(outs[i].seq, uint16_t(outs[i - 1].seq + 1)) << i;
    EXPECT_EQ(outs[i].ts, outs[i - 1].ts + step) << i;
    EXPECT_FALSE(outs[i].marker) << i;
  }
}

TEST(CodecRepacketise, G711Of30msBecomesOpusOf20ms) {
  N2B s;
  size_t counts[6];
  for (size_t& n : counts) n = s.send(30);
  EXPECT_EQ(std::vector<size_t>(counts, counts + 6), (std::vector<size_t>{1, 2, 1, 2, 1, 2}));
  ASSERT_EQ(s.c.outs.size(), 9u);  // 180 ms
  for (const Out& o : s.c.outs) {
    EXPECT_EQ(o.pt, kOpusPt);
    EXPECT_EQ(opus_packet_samples(o.payload.data(), int(o.payload.size()), 48000), 960);
  }
  EXPECT_TRUE(s.c.outs[0].marker);
  EXPECT_EQ(s.c.outs[0].ts, 0xFFFFF000u);
  expect_continuous(s.c.outs, 960);
  EXPECT_EQ(s.t->next_deadline_ms(), -1) << "nothing left over after an even count";
  EXPECT_EQ(s.t->stats(Leg::kNetwork).packets_out, 9u);
}

TEST(CodecRepacketise, TenMsInGivesOnePacketPerTwo) {
  N2B s;
  for (int i = 0; i < 8; ++i) EXPECT_EQ(s.send(10), size_t(i % 2)) << i;
  ASSERT_EQ(s.c.outs.size(), 4u);
  expect_continuous(s.c.outs, 960);

  // Opus of 10 ms from the browser, too.
  B2N b;
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(b.send(b.next(480)));
    EXPECT_EQ(b.take().size(), size_t(i % 2)) << i;
  }
}

TEST(CodecRepacketise, Opus60And40msBecomeThreeAndTwoG711Packets) {
  B2N s;
  std::vector<Out> all;
  ASSERT_TRUE(s.send(s.next(2880)));  // 60 ms
  auto got = s.take();
  ASSERT_EQ(got.size(), 3u);
  all.insert(all.end(), got.begin(), got.end());
  ASSERT_TRUE(s.send(s.next(1920)));  // 40 ms
  got = s.take();
  ASSERT_EQ(got.size(), 2u);
  all.insert(all.end(), got.begin(), got.end());
  ASSERT_TRUE(s.send(s.next(960)));  // 20 ms
  got = s.take();
  ASSERT_EQ(got.size(), 1u);
  all.insert(all.end(), got.begin(), got.end());
  for (const Out& o : all) {
    EXPECT_EQ(o.pt, kPcmuPt);
    EXPECT_EQ(o.payload.size(), 160u);
  }
  EXPECT_EQ(all[0].ts, 5000u);
  EXPECT_EQ(all[0].seq, 100);
  expect_continuous(all, 160);
  EXPECT_EQ(s.st().decoded, 3u);
  EXPECT_EQ(s.st().packets_out, 6u);
  // Voice in all of them (the 60 ms packet is not one frame of audio and two of silence).
  for (size_t i = 0; i < all.size(); ++i) {
    double e = 0;
    for (int16_t v : pcmu_pcm({all[i]})) e += std::abs(v);
    EXPECT_GT(e / 160, 50.0) << i;
  }
  // A 60 ms packet lost: concealed (FEC, PLC) when the wait ends, then the packet: six out.
  s.next(2880);
  ASSERT_TRUE(s.send(s.next(2880)));
  got = s.flush(s.now + 20);
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[0].ts, all.back().ts + 160);
  EXPECT_EQ(s.st().lost, 1u);
}

TEST(CodecRepacketise, ARemainderThatWaitsTooLongGoesOutPadded) {
  N2B s;
  EXPECT_EQ(s.send(30), 1u);
  const int64_t due = s.t->next_deadline_ms();
  EXPECT_EQ(due, s.now + Transcoder::kLeftoverWaitMs);
  s.t->flush_due(due - 1, s.buf, sizeof s.buf, s.c.sink());
  EXPECT_EQ(s.c.outs.size(), 1u);
  s.t->flush_due(due, s.buf, sizeof s.buf, s.c.sink());
  ASSERT_EQ(s.c.outs.size(), 2u);
  EXPECT_EQ(s.c.outs[1].ts, s.c.outs[0].ts + 960);
  EXPECT_EQ(s.t->next_deadline_ms(), -1);
  // The next packet continues where the padding ended; its first 10 ms overlap the padding and
  // are dropped, so the timeline stays whole.
  s.now = due;
  EXPECT_EQ(s.send(30), 1u);
  ASSERT_EQ(s.c.outs.size(), 3u);
  EXPECT_EQ(s.c.outs[2].ts, s.c.outs[1].ts + 960);
  EXPECT_EQ(s.c.outs[2].seq, uint16_t(s.c.outs[1].seq + 1));
}

TEST(CodecRepacketise, SilenceGapsStayOnTheTimeline) {
  N2B s;
  EXPECT_EQ(s.send(30), 1u);  // 10 ms left over
  // 200 ms of silence (no packets, sequence numbers go on): the remainder is padded and sent,
  // the next talkspurt starts at its own mapped timestamp, with the marker.
  s.ts += 1600;
  EXPECT_EQ(s.send(20), 2u);
  ASSERT_EQ(s.c.outs.size(), 3u);
  EXPECT_EQ(s.c.outs[1].ts, s.c.outs[0].ts + 960);  // the padded remainder
  EXPECT_FALSE(s.c.outs[1].marker);
  EXPECT_TRUE(s.c.outs[2].marker);
  EXPECT_EQ(s.c.outs[2].ts, s.c.outs[0].ts + 6 * (240 + 1600));
  EXPECT_EQ(s.c.outs[2].seq, uint16_t(s.c.outs[1].seq + 1)) << "silence is not a loss";
  // A gap shorter than what the remainder needs is filled with silence, no new talkspurt.
  N2B g;
  EXPECT_EQ(g.send(30), 1u);  // 10 ms left over
  g.ts += 40;                 // 5 ms of silence
  EXPECT_EQ(g.send(10), 1u);  // 10 + 5 + 10 = 25 ms: one out, 5 left
  ASSERT_EQ(g.c.outs.size(), 2u);
  EXPECT_FALSE(g.c.outs[1].marker);
  EXPECT_EQ(g.c.outs[1].ts, g.c.outs[0].ts + 960);
}

// ---- the codec switch ----

TEST(CodecRepacketise, ContinueStreamsAcrossACodecSwitch) {
  B2N s;
  Out last_net;
  for (int i = 0; i < 10; ++i) {
    s.now += 20;
    ASSERT_TRUE(s.send(s.next(), last_net));
  }
  // The network side sends too, so both streams have state.
  uint8_t buf[Transcoder::kMaxOutput];
  Collect c;
  for (uint16_t i = 0; i < 3; ++i) {
    Bytes p = rtp(kPcmuPt, i, i * 240u, kNetSsrc, Bytes(240, 0xFF));  // 30 ms: a remainder
    ASSERT_TRUE(s.t->network_to_browser(p.data(), p.size(), s.now, buf, sizeof buf, c.sink()));
  }
  ASSERT_EQ(c.outs.size(), 4u);  // 90 ms: four out, 10 ms left

  // A re-INVITE moves the network leg to PCMA: send what is held, then carry the streams over.
  s.t->flush_all(s.now, buf, sizeof buf, c.sink());
  ASSERT_EQ(c.outs.size(), 5u) << "the remainder, padded";
  const Out last_browser = c.outs.back();
  TranscoderConfig cfg = opus_pcmu();
  cfg.network = {Codec::kPcma, 8, kNetEventPt};
  cfg.browser_ssrc = cfg.network_ssrc = 0;
  s.t->continue_streams(cfg, s.now + 5);
  EXPECT_EQ(cfg.network_ssrc, 0x9ABCDEF0u);
  EXPECT_EQ(cfg.network_seq, uint16_t(last_net.seq + 1));
  EXPECT_EQ(cfg.network_ts, last_net.ts + 160);
  EXPECT_EQ(cfg.browser_ssrc, 0x12345678u);
  EXPECT_EQ(cfg.browser_seq, uint16_t(last_browser.seq + 1));
  EXPECT_EQ(cfg.browser_ts, last_browser.ts + 960);

  s.t = make(cfg);
  s.now += 20;
  Out first;
  ASSERT_TRUE(s.send(s.next(), first));
  EXPECT_EQ(first.pt, 8);
  EXPECT_EQ(first.ssrc, last_net.ssrc);
  EXPECT_EQ(first.seq, uint16_t(last_net.seq + 1));
  EXPECT_EQ(first.ts, last_net.ts + 160) << "within one packet time: no gap";
  EXPECT_TRUE(first.marker);  // a new codec on the stream

  // Later: the timestamps move on with the time that passed (beyond one packet), in the new
  // clock: 100 ms since the last packet is 80 ms more than one packet time, 640 at 8000.
  TranscoderConfig later = cfg;
  s.t->continue_streams(later, s.now + 100);
  EXPECT_EQ(later.network_ts, first.ts + 160 + 640);
  EXPECT_EQ(later.network_seq, uint16_t(first.seq + 1));
  // The browser stream has sent nothing since the switch: nothing to add to where the switch
  // put it.
  EXPECT_EQ(later.browser_ts, cfg.browser_ts);
}

}  // namespace
}  // namespace rtcgw::codec
