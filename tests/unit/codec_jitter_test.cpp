// The reorder buffer on the transcoder's input: reordered packets are decoded in order with no
// concealment (the same bytes out as without reordering); a real loss is concealed once the
// depth is exceeded or the deadline passes; the depth grows after a packet that came too late
// and shrinks after a clean run; duplicates are dropped; in-order packets never wait.
#include <gtest/gtest.h>

#include "codec/jitter_buffer.hpp"
#include "codec_transcoder_harness.hpp"

namespace rtcgw::codec {
namespace {

using namespace testing;

// The same packets through two transcoders, one in order and one as `order` says.
struct Twin {
  Twin() : ref(make(opus_pcmu())) {}
  std::vector<Bytes> packets(int n) {
    std::vector<Bytes> p;
    for (int i = 0; i < n; ++i) p.push_back(s.next());
    return p;
  }
  std::vector<Out> in_order(const std::vector<Bytes>& p) {
    Collect c;
    int64_t now = 0;
    for (const Bytes& b : p)
      EXPECT_TRUE(
          ref->browser_to_network(b.data(), b.size(), now += 20, s.buf, sizeof s.buf, c.sink()));
    return c.outs;
  }
  B2N s;
  std::unique_ptr<Transcoder> ref;
};

TEST(CodecJitter, ReorderedPacketsDecodeInOrderWithoutPlc) {
  Twin w;
  auto p = w.packets(8);
  auto want = w.in_order(p);
  ASSERT_EQ(want.size(), 8u);
  B2N& s = w.s;
  std::vector<Out> got;
  ASSERT_TRUE(s.send(p[0]));
  EXPECT_EQ(s.take().size(), 1u);
  ASSERT_TRUE(s.send(p[2]));  // 1, 3, 2, 4
  EXPECT_EQ(s.take().size(), 0u) << "3 waits for 2";
  EXPECT_GE(s.t->next_deadline_ms(), 0);
  s.now += 5;
  ASSERT_TRUE(s.send(p[1]));
  EXPECT_EQ(s.take().size(), 2u) << "2, then 3";
  EXPECT_EQ(s.t->next_deadline_ms(), -1);
  for (int i = 3; i < 8; ++i) {
    s.now += 20;
    ASSERT_TRUE(s.send(p[size_t(i)]));
    EXPECT_EQ(s.take().size(), 1u) << "in order: never delayed";
  }
  // Again, with the whole output compared with the in-order run's.
  Twin w2;
  auto q = w2.packets(8);
  auto want2 = w2.in_order(q);
  for (int i : {0, 2, 1, 3, 5, 4, 6, 7}) {
    w2.s.now += 5;  // the late ones come within the 20 ms a packet waits
    ASSERT_TRUE(w2.s.send(q[size_t(i)]));
  }
  got = w2.s.take();
  ASSERT_EQ(got.size(), want2.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].seq, want2[i].seq) << i;
    EXPECT_EQ(got[i].ts, want2[i].ts) << i;
    EXPECT_EQ(got[i].payload, want2[i].payload) << i << ": the same audio, decoded in order";
  }
  const TranscoderStats& st = w2.s.st();
  EXPECT_EQ(st.reordered, 2u);
  EXPECT_EQ(st.concealed + st.fec + st.lost + st.late, 0u);
  EXPECT_EQ(st.decoded, 8u);
  EXPECT_EQ(st.jitter_depth, 1);
}

TEST(CodecJitter, DuplicatesAreDropped) {
  B2N s;
  auto a = s.next(), b = s.next(), c = s.next(), d = s.next();
  ASSERT_TRUE(s.send(a));
  EXPECT_FALSE(s.send(a));  // a duplicate of the last one
  EXPECT_STREQ(s.t->last_drop(Leg::kBrowser), "late");
  ASSERT_TRUE(s.send(c));   // waits for b
  EXPECT_FALSE(s.send(c));  // a duplicate of one waiting
  ASSERT_TRUE(s.send(b));
  EXPECT_FALSE(s.send(b));
  ASSERT_TRUE(s.send(d));
  EXPECT_EQ(s.take().size(), 4u);
  EXPECT_EQ(s.st().late, 3u);
  EXPECT_EQ(s.st().late_after_loss, 0u) << "duplicates do not grow the buffer";
  EXPECT_EQ(s.st().jitter_depth, 1);
}

// A lost packet with nothing after it: concealed at the deadline, not before; the deadline is
// depth x 20 ms after the packet began to wait.
TEST(CodecJitter, LossIsConcealedAtTheDeadline) {
  B2N s;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.send(s.next()));
  s.take();
  s.next();  // lost
  const int64_t t0 = s.now;
  ASSERT_TRUE(s.send(s.next()));
  EXPECT_EQ(s.t->next_deadline_ms(), t0 + 20);
  EXPECT_TRUE(s.flush(t0 + 19).empty());
  EXPECT_EQ(s.st().hold_timeouts, 0u);
  auto got = s.flush(t0 + 20);
  ASSERT_EQ(got.size(), 2u);  // the lost frame (FEC), the one that waited
  EXPECT_EQ(s.st().fec, 1u);
  EXPECT_EQ(s.st().hold_timeouts, 1u);
  EXPECT_EQ(s.t->next_deadline_ms(), -1);
  // A packet that comes after the deadline with no timer having fired: what was due goes first.
  s.next();  // lost
  ASSERT_TRUE(s.send(s.next()));
  s.now += 30;
  ASSERT_TRUE(s.send(s.next()));
  EXPECT_EQ(s.take().size(), 3u);
  EXPECT_EQ(s.st().hold_timeouts, 2u);
}

TEST(CodecJitter, DepthGrowsAfterALatePacketAndShrinksAfterACleanRun) {
  B2N s;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.send(s.next()));
  auto p1 = s.next(), p2 = s.next(), p3 = s.next();
  ASSERT_TRUE(s.send(p2));
  ASSERT_TRUE(s.send(p3));  // the depth (1) is exceeded: p1 is given up (FEC)
  EXPECT_EQ(s.st().hold_overflows, 1u);
  EXPECT_EQ(s.st().fec, 1u);
  EXPECT_FALSE(s.send(p1));  // it comes after all: too late, but worth waiting for next time
  EXPECT_STREQ(s.t->last_drop(Leg::kBrowser), "late");
  EXPECT_EQ(s.st().late_after_loss, 1u);
  EXPECT_EQ(s.st().jitter_depth, 2);
  EXPECT_FALSE(s.send(p1));  // again: a duplicate now
  EXPECT_EQ(s.st().late_after_loss, 1u);
  EXPECT_EQ(s.st().jitter_depth, 2);
  s.take();

  // Depth 2: two packets may wait, for 40 ms.
  auto q1 = s.next(), q2 = s.next(), q3 = s.next(), q4 = s.next();
  const int64_t t0 = s.now;
  ASSERT_TRUE(s.send(q2));
  ASSERT_TRUE(s.send(q3));
  EXPECT_EQ(s.t->next_deadline_ms(), t0 + 40);
  EXPECT_TRUE(s.take().empty());
  EXPECT_TRUE(s.flush(t0 + 39).empty());
  s.now = t0 + 30;
  ASSERT_TRUE(s.send(q1));
  EXPECT_EQ(s.take().size(), 3u);
  ASSERT_TRUE(s.send(q4));
  EXPECT_EQ(s.take().size(), 1u);
  EXPECT_EQ(s.st().fec + s.st().concealed, 1u) << "only the first loss was concealed";
  EXPECT_EQ(s.st().reordered, 1u);

  // Grows at most to 5.
  for (int k = 0; k < 6; ++k) {
    auto a = s.next(), b = s.next();
    for (int w = 0; w < 6; ++w) s.next();  // a gap longer than any depth
    std::vector<Bytes> after;
    for (int w = 0; w < 6; ++w) after.push_back(s.next());
    ASSERT_TRUE(s.send(a));
    for (const Bytes& x : after) ASSERT_TRUE(s.send(x));  // b's gap is given up
    EXPECT_FALSE(s.send(b));
    s.flush(s.now + 200);  // the rest of `after` waited long enough
    s.take();
  }
  EXPECT_EQ(s.st().jitter_depth, JitterBuffer::kMaxDepth);

  // 500 packets in order: one less.
  for (int i = 0; i < JitterBuffer::kShrinkAfter; ++i) {
    s.now += 20;
    ASSERT_TRUE(s.send(s.next()));
  }
  EXPECT_EQ(s.st().jitter_depth, JitterBuffer::kMaxDepth - 1);
  for (int i = 0; i < JitterBuffer::kShrinkAfter - 1; ++i) ASSERT_TRUE(s.send(s.next()));
  EXPECT_EQ(s.st().jitter_depth, JitterBuffer::kMaxDepth - 1);
  ASSERT_TRUE(s.send(s.next()));
  EXPECT_EQ(s.st().jitter_depth, JitterBuffer::kMaxDepth - 2);
}

// G.711 in (network -> browser): the loss that is not concealed is still mirrored as a
// sequence gap once the wait is over; a reordered G.711 packet is decoded in order.
TEST(CodecJitter, G711InputReorderAndLoss) {
  auto t = make(opus_pcmu());
  uint8_t buf[Transcoder::kMaxOutput];
  Collect c;
  Bytes pcmu(160, 0xFF);
  auto send = [&](uint16_t seq, int64_t now) {
    Bytes p = rtp(kPcmuPt, seq, uint32_t(seq) * 160u, kNetSsrc, pcmu);
    return t->network_to_browser(p.data(), p.size(), now, buf, sizeof buf, c.sink());
  };
  ASSERT_TRUE(send(1, 0));
  ASSERT_TRUE(send(3, 20));
  ASSERT_TRUE(send(2, 25));
  ASSERT_TRUE(send(4, 40));
  ASSERT_EQ(c.outs.size(), 4u);
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(c.outs[i].seq, uint16_t(c.outs[0].seq + i));
    EXPECT_EQ(c.outs[i].ts, c.outs[0].ts + 960 * i);
  }
  ASSERT_TRUE(send(6, 80));  // 5 lost
  EXPECT_EQ(c.outs.size(), 4u);
  t->flush_due(100, buf, sizeof buf, c.sink());
  ASSERT_EQ(c.outs.size(), 5u);
  EXPECT_EQ(c.outs[4].seq, uint16_t(c.outs[3].seq + 2));  // mirrored
  EXPECT_EQ(c.outs[4].ts, c.outs[3].ts + 2 * 960);
  EXPECT_TRUE(c.outs[4].marker);
  EXPECT_EQ(t->stats(Leg::kNetwork).lost, 1u);
  EXPECT_EQ(t->stats(Leg::kNetwork).reordered, 1u);
}

// A packet that cannot be held (larger than a slot) does not wait: what waits goes first.
TEST(CodecJitter, OversizedPacketIsNotHeld) {
  auto t = make(opus_pcmu());
  uint8_t buf[Transcoder::kMaxOutput];
  Collect c;
  auto send = [&](uint16_t seq, int ext_words, size_t samples) {
    Bytes p = rtp(kPcmuPt, seq, uint32_t(seq) * 160u, kNetSsrc, Bytes(samples, 0xFF),
                  {false, 0, ext_words, 0});
    return t->network_to_browser(p.data(), p.size(), seq * 20, buf, sizeof buf, c.sink());
  };
  ASSERT_TRUE(send(1, 0, 160));
  ASSERT_TRUE(send(3, 0, 160));
  EXPECT_EQ(c.outs.size(), 1u);
  // 112.5 ms of PCMU after an 800-byte extension: 1716 bytes, more than a slot.
  ASSERT_TRUE(send(5, 200, 900)) << t->last_drop(Leg::kNetwork);
  ASSERT_EQ(c.outs.size(), 7u);  // 3, then five 20 ms of 5 (2.5 ms wait for more)
  EXPECT_EQ(c.outs[1].seq, uint16_t(c.outs[0].seq + 2));  // 2 lost
  EXPECT_EQ(c.outs[2].seq, uint16_t(c.outs[1].seq + 2));  // 4 lost
  EXPECT_EQ(t->stats(Leg::kNetwork).lost, 2u);
  EXPECT_EQ(t->next_deadline_ms(), 5 * 20 + Transcoder::kLeftoverWaitMs) << "the remainder";
}

}  // namespace
}  // namespace rtcgw::codec
