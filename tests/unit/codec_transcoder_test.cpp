// The per-call transcoder: RTP in, RTP out with rtcgw's own SSRC/sequence/timestamps; audio
// quality through browser -> network -> browser (opus -> PCMU -> opus: a 1 kHz tone keeps its
// frequency, a voiced-speech stand-in keeps its spectrum envelope and waveform after the codec
// delay), also with reordering injected; loss (FEC, then PLC) once the reorder buffer gives up,
// corrupt frames, headers with CSRC/extension/padding, telephone-event relay between the 48000
// and 8000 clocks, in-band DTMF (relayed events, play_tone, inband_dtmf off). The reorder buffer
// is in codec_jitter_test.cpp, 20 ms repacketisation and the codec switch in
// codec_repacketise_test.cpp; the harness they share is codec_transcoder_harness.hpp.
#include <gtest/gtest.h>

#include "codec_transcoder_harness.hpp"

namespace rtcgw::codec {
namespace {

using namespace testing;

// Packet k arrives at 20 (k + 1) ms; from `first` on, every tenth packet is 25 ms late, after
// its successor (which `packets` then holds in front of it): 1, 3, 2, 4.
std::vector<int64_t> arrivals(std::vector<Bytes>& packets, int first) {
  std::vector<int64_t> at;
  for (size_t k = 0; k < packets.size(); ++k) at.push_back(20 * int64_t(k + 1));
  if (first < 0) return at;
  for (size_t i = size_t(first); i + 1 < packets.size(); i += 10) {
    std::swap(packets[i], packets[i + 1]);
    at[i + 1] = at[i] + 5;
  }
  return at;
}

struct Pipeline {
  // browser A -> T1 (browser side opus, network side PCMU) -> PCMU on the network -> T2 (network
  // side PCMU, browser side opus) -> browser B decodes at 48 kHz. With `reorder`, every tenth
  // pair of A's packets goes out swapped (1,3,2,4), and every tenth pair of T1's too.
  std::vector<int16_t> run(const std::vector<int16_t>& x, bool reorder = false) {
    BrowserSender a;
    auto t1 = make(opus_pcmu());
    TranscoderConfig c2 = opus_pcmu();
    c2.browser_ssrc = 0x55555555;
    auto t2 = make(c2);
    std::string err;
    auto dec = OpusDec::make(48000, err);
    EXPECT_TRUE(t1 && t2 && dec);
    std::vector<int16_t> y;
    uint8_t buf[Transcoder::kMaxOutput];
    Collect c1, cb;
    std::vector<Bytes> in;
    for (size_t f = 0; f + 960 <= x.size(); f += 960) in.push_back(a.packet(x.data() + f));
    std::vector<int64_t> at = arrivals(in, reorder ? 5 : -1);
    std::vector<Bytes> mid;
    for (size_t k = 0; k < in.size(); ++k) {
      const Bytes& p = in[k];
      EXPECT_TRUE(t1->browser_to_network(p.data(), p.size(), at[k], buf, sizeof buf, c1.sink()))
          << t1->last_drop(Leg::kBrowser);
      for (size_t i = 0; i < c1.outs.size(); ++i) {
        const Out& m = c1.outs[i];
        EXPECT_EQ(c1.legs[i], Leg::kNetwork);
        EXPECT_EQ(m.pt, kPcmuPt);
        EXPECT_EQ(m.payload.size(), 160u);
        Bytes b = rtp(m.pt, m.seq, m.ts, m.ssrc, m.payload);
        mid.push_back(b);
      }
      c1.outs.clear();
      c1.legs.clear();
    }
    EXPECT_EQ(t1->next_deadline_ms(), -1) << "nothing left waiting";
    at = arrivals(mid, reorder ? 3 : -1);
    uint16_t last_seq = 0;
    for (size_t k = 0; k < mid.size(); ++k) {
      const Bytes& m = mid[k];
      EXPECT_TRUE(t2->network_to_browser(m.data(), m.size(), at[k], buf, sizeof buf, cb.sink()))
          << t2->last_drop(Leg::kNetwork);
      for (const Out& o : cb.outs) {
        EXPECT_EQ(o.pt, kOpusPt);
        EXPECT_EQ(o.ssrc, 0x55555555u);
        if (!y.empty()) {
          EXPECT_EQ(o.seq, uint16_t(last_seq + 1));
        }
        last_seq = o.seq;
        std::vector<int16_t> pcm(960);
        EXPECT_EQ(dec->decode(o.payload.data(), int(o.payload.size()), pcm.data(), 960), 960);
        y.insert(y.end(), pcm.begin(), pcm.end());
      }
      cb.outs.clear();
      cb.legs.clear();
    }
    stats1 = t1->stats(Leg::kBrowser);
    stats2 = t2->stats(Leg::kNetwork);
    return y;
  }
  TranscoderStats stats1, stats2;
};

// ---- quality ----

void check_tone(Pipeline& p, const std::vector<int16_t>& x, const std::vector<int16_t>& y) {
  ASSERT_EQ(y.size(), x.size());
  EXPECT_EQ(p.stats1.decoded, 75u);
  EXPECT_EQ(p.stats1.concealed, 0u);
  EXPECT_EQ(p.stats2.decoded, 75u);
  EXPECT_EQ(p.stats2.lost, 0u);

  // Spectral peak over 0.5 s (2 Hz bins), 100 Hz..3.9 kHz.
  const int from = 48000 / 2, len = 48000 / 2;
  double best = 0, best_f = 0;
  for (double f = 100; f <= 3900; f += 2) {
    double e = goertzel(y.data() + from, len, f, 48000);
    if (e > best) {
      best = e;
      best_f = f;
    }
  }
  EXPECT_NEAR(best_f, 1000, 20);
  // Nothing else within 20 dB: no harmonics or aliases from the 8 kHz path.
  for (double f : {500.0, 2000.0, 3000.0, 3500.0}) {
    EXPECT_LT(goertzel(y.data() + from, len, f, 48000), best / 100) << f;
  }
  // A tone aligns at any whole number of periods: search one period (48 samples).
  int lag = align(x, y, from, 9600, 48);
  double s, c;
  snr(x, y, from, len, lag, s, c);
  std::printf("tone: peak %.0f Hz, SNR %.1f dB, correlation %.4f\n", best_f, s, c);
  EXPECT_GT(s, 20.0);  // measured 25.1 dB (libopus 1.3.1, complexity 5 on the 8 kHz side)
  EXPECT_GT(c, 0.99);
}

TEST(CodecTranscoder, QualityToneOpusPcmuOpus) {
  auto x = tone(48000, 1000, 48000 * 3 / 2);
  Pipeline p;
  auto y = p.run(x);
  check_tone(p, x, y);
}

TEST(CodecTranscoder, QualityToneWithReordering) {
  auto x = tone(48000, 1000, 48000 * 3 / 2);
  Pipeline p;
  auto y = p.run(x, /*reorder=*/true);
  check_tone(p, x, y);
  EXPECT_EQ(p.stats1.reordered, 7u);  // 7 of the 75 came after their successors
  EXPECT_EQ(p.stats2.reordered, 8u);
  EXPECT_EQ(p.stats1.fec + p.stats2.lost + p.stats1.late + p.stats2.late, 0u);
}

void check_speech(const std::vector<int16_t>& x, const std::vector<int16_t>& y) {
  ASSERT_EQ(y.size(), x.size());
  const int from = 48000 / 2, len = 48000;
  int lag = align(x, y, from, 9600, 2400);
  double s, c;
  snr(x, y, from, len, lag, s, c);
  std::printf("speech-like: delay %d samples (%.1f ms), SNR %.1f dB, correlation %.4f\n", lag,
              lag / 48.0, s, c);
  EXPECT_GT(s, 7.0);  // measured 10.4 dB, correlation 0.954: SILK narrowband twice, and G.711
  EXPECT_GT(c, 0.9);
  EXPECT_GT(lag, 48 * 5);  // the codec delay, about 13 ms (< 50 ms searched)
  EXPECT_LT(lag, 48 * 30);

  // The spectrum envelope: energy at each harmonic within 6 dB of the input's, for harmonics
  // within 30 dB of the strongest (the formants).
  double hx[25] = {}, hy[25] = {}, top = 0;
  for (int k = 1; k * 146 <= 3400; ++k) {
    for (int f = -8; f <= 8; f += 2) {  // the vibrato spreads each harmonic a little
      hx[k] += goertzel(x.data() + from, len, k * 140.0 + f * k / 10.0, 48000);
      hy[k] += goertzel(y.data() + from + lag, len, k * 140.0 + f * k / 10.0, 48000);
    }
    top = std::max(top, hx[k]);
  }
  const double gain = hx[5] / hy[5];  // 700 Hz, the first formant
  int compared = 0;
  for (int k = 1; k * 146 <= 3400; ++k) {
    if (hx[k] < top / 1000) continue;
    double db = 10 * std::log10(hy[k] * gain / hx[k]);
    EXPECT_LT(std::fabs(db), 6.0) << "harmonic " << k << " (" << k * 140 << " Hz)";
    ++compared;
  }
  EXPECT_GE(compared, 10);
}

TEST(CodecTranscoder, QualitySpeechLikeOpusPcmuOpus) {
  auto x = voiced(48000, 48000 * 2);
  Pipeline p;
  check_speech(x, p.run(x));
}

TEST(CodecTranscoder, QualitySpeechLikeWithReordering) {
  auto x = voiced(48000, 48000 * 2);
  Pipeline p;
  check_speech(x, p.run(x, /*reorder=*/true));
  EXPECT_EQ(p.stats1.concealed + p.stats1.fec, 0u);
  EXPECT_GT(p.stats1.reordered, 0u);
  EXPECT_GT(p.stats2.reordered, 0u);
}

// ---- timeline, loss, corruption ----

TEST(CodecTranscoder, BrowserToNetworkTimeline) {
  B2N s;
  Out o, prev;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(s.send(s.next(), o));
    EXPECT_EQ(o.pt, kPcmuPt);
    EXPECT_EQ(o.ssrc, 0x9ABCDEF0u);
    EXPECT_EQ(o.payload.size(), 160u);
    EXPECT_EQ(o.marker, i == 0);
    if (i == 0) {
      EXPECT_EQ(o.seq, 100);
      EXPECT_EQ(o.ts, 5000u);
    } else {
      EXPECT_EQ(o.seq, uint16_t(prev.seq + 1));
      EXPECT_EQ(o.ts, prev.ts + 160);
    }
    prev = o;
  }
  EXPECT_EQ(s.st().decoded, 10u);
  EXPECT_EQ(s.st().packets_out, 10u);
  EXPECT_EQ(s.t->next_deadline_ms(), -1);
}

// One packet lost: the next one waits (depth 1); the one after it ends the wait, and the lost
// frame is recovered from the FEC of the first.
TEST(CodecTranscoder, FecRecoversOneLostPacketAfterTheDepth) {
  B2N s;
  Out prev;
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(s.send(s.next(), prev));
  s.next();  // lost
  Bytes after = s.next();
  ASSERT_TRUE(opus_packet_has_fec(after.data() + 12, int(after.size() - 12)));
  ASSERT_TRUE(s.send(after));
  EXPECT_TRUE(s.take().empty()) << "it waits for the missing one";
  EXPECT_EQ(s.t->next_deadline_ms(), s.now + 20);
  ASSERT_TRUE(s.send(s.next()));
  auto got = s.take();
  ASSERT_EQ(got.size(), 3u);  // the recovered frame, the one that waited, this one
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].ts, prev.ts + 160 * (i + 1)) << i;  // no gap on the network side
    EXPECT_EQ(got[i].seq, uint16_t(prev.seq + 1 + i)) << i;
    EXPECT_EQ(got[i].payload.size(), 160u);
    EXPECT_FALSE(got[i].marker);
  }
  EXPECT_EQ(s.st().fec, 1u);
  EXPECT_EQ(s.st().concealed, 0u);
  EXPECT_EQ(s.st().lost, 1u);
  EXPECT_EQ(s.st().hold_overflows, 1u);
  EXPECT_EQ(s.st().hold_timeouts, 0u);
  // The recovered 20 ms carry signal.
  auto pcm = pcmu_pcm({got[0]});
  double e = 0;
  for (int16_t v : pcm) e += std::abs(v);
  EXPECT_GT(e / 160, 50.0);
  EXPECT_EQ(s.t->next_deadline_ms(), -1);
}

// Three lost, nothing after: the deadline (20 ms) ends the wait; FEC for the last lost frame,
// PLC for the two before it.
TEST(CodecTranscoder, FecThenPlcAtTheDeadline) {
  B2N s;
  Out prev;
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(s.send(s.next(), prev));
  for (int i = 0; i < 3; ++i) s.next();  // three lost
  ASSERT_TRUE(s.send(s.next()));
  EXPECT_TRUE(s.take().empty());
  const int64_t due = s.t->next_deadline_ms();
  EXPECT_EQ(due, s.now + 20);
  EXPECT_TRUE(s.flush(due - 1).empty()) << "not before the deadline";
  auto got = s.flush(due);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].ts, prev.ts + 160);
  EXPECT_EQ(got[3].ts, prev.ts + 640);
  EXPECT_EQ(got[3].seq, uint16_t(prev.seq + 4));
  EXPECT_EQ(s.st().fec, 1u);
  EXPECT_EQ(s.st().concealed, 2u);
  EXPECT_EQ(s.st().lost, 3u);
  EXPECT_EQ(s.st().hold_timeouts, 1u);
  EXPECT_EQ(s.t->next_deadline_ms(), -1);
}

TEST(CodecTranscoder, PlcWithoutFec) {
  B2N s(/*fec=*/false);
  Out prev;
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(s.send(s.next(), prev));
  s.next();
  ASSERT_TRUE(s.send(s.next()));
  auto got = s.flush(s.now + 20);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(s.st().fec, 0u);
  EXPECT_EQ(s.st().concealed, 1u);
}

TEST(CodecTranscoder, LongLossConcealsAtMost200ms) {
  B2N s;
  Out prev;
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(s.send(s.next(), prev));
  for (int i = 0; i < 20; ++i) s.next();  // 400 ms
  ASSERT_TRUE(s.send(s.next()));
  auto got = s.flush(s.now + 20);
  ASSERT_EQ(got.size(), 11u);  // 200 ms concealed (PLC, then FEC), then the packet
  EXPECT_TRUE(got[0].marker);  // the rest of the gap stays a gap
  EXPECT_EQ(got[0].ts, prev.ts + 160 + 20 * 160 - 1600);  // mapped from the input timestamp
  EXPECT_EQ(got[0].seq, uint16_t(prev.seq + 1));
  for (size_t i = 1; i < got.size(); ++i) {
    EXPECT_EQ(got[i].ts, got[0].ts + 160 * i);
    EXPECT_FALSE(got[i].marker);
  }
}

TEST(CodecTranscoder, CorruptOpusIsConcealed) {
  B2N s;
  Out o, prev;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(s.send(s.next(), prev));
  for (const Bytes& bad : {Bytes{}, Bytes{0x03, 0x00}, Bytes{0x03, 0xFF, 1, 2, 3}}) {
    Bytes p = s.next();
    Bytes hdr(p.begin(), p.begin() + 12);
    hdr.insert(hdr.end(), bad.begin(), bad.end());
    ASSERT_TRUE(s.send(hdr, o)) << s.t->last_drop(Leg::kBrowser);
    EXPECT_EQ(o.payload.size(), 160u);
    EXPECT_EQ(o.ts, prev.ts + 160);
    prev = o;
  }
  EXPECT_EQ(s.st().corrupt, 3u);
  EXPECT_EQ(s.st().concealed, 3u);
  ASSERT_TRUE(s.send(s.next(), o));
  EXPECT_EQ(o.ts, prev.ts + 160);
  EXPECT_EQ(s.st().decoded, 11u);
}

TEST(CodecTranscoder, WrongPayloadTypeAndMalformed) {
  B2N s;
  Out o;
  Bytes good = s.next();
  Bytes wrong = good;
  wrong[1] = 0;  // PCMU on the browser leg: not negotiated here
  EXPECT_FALSE(s.send(wrong));
  EXPECT_STREQ(s.t->last_drop(Leg::kBrowser), "payload_type");
  EXPECT_EQ(s.st().bad_payload_type, 1u);
  Bytes v1 = good;
  v1[0] = 0x40;
  EXPECT_FALSE(s.send(v1));
  Bytes short_hdr(good.begin(), good.begin() + 11);
  EXPECT_FALSE(s.send(short_hdr));
  Bytes csrc_past_end = good;
  csrc_past_end[0] = 0x8F;
  csrc_past_end.resize(40);
  EXPECT_FALSE(s.send(csrc_past_end));
  Bytes ext_past_end = rtp(kOpusPt, 1, 1, 1, {}, {false, 0, 0, 0});
  ext_past_end[15] = 9;
  EXPECT_FALSE(s.send(ext_past_end));
  Bytes pad_too_long = good;
  pad_too_long[0] |= 0x20;
  pad_too_long.back() = 0xFF;
  EXPECT_FALSE(s.send(pad_too_long));
  Bytes pad_zero = good;
  pad_zero[0] |= 0x20;
  pad_zero.back() = 0;
  EXPECT_FALSE(s.send(pad_zero));
  EXPECT_EQ(s.st().malformed, 6u);
  EXPECT_TRUE(s.send(good, o));
  Collect c;
  EXPECT_FALSE(s.t->browser_to_network(nullptr, 0, 0, s.buf, sizeof s.buf, c.sink()));
  Bytes next = s.next();
  EXPECT_FALSE(s.t->browser_to_network(next.data(), next.size(), 0, s.buf, 100, c.sink()));
  EXPECT_STREQ(s.t->last_drop(Leg::kBrowser), "no_room");
  EXPECT_TRUE(c.outs.empty());
}

TEST(CodecTranscoder, CsrcExtensionAndPaddingAreSkipped) {
  auto plain = make(opus_pcmu());
  auto fancy = make(opus_pcmu());
  uint8_t a[Transcoder::kMaxOutput], b[Transcoder::kMaxOutput];
  Collect ca, cb;
  auto x = tone(8000, 440, 1600);
  for (int i = 0; i < 10; ++i) {
    Bytes pcmu(160);
    g711_encode(G711Law::kUlaw, x.data() + (i % 10) * 160, 160, pcmu.data());
    Bytes p1 = rtp(kPcmuPt, uint16_t(i), uint32_t(i * 160), kNetSsrc, pcmu);
    Bytes p2 = rtp(kPcmuPt, uint16_t(i), uint32_t(i * 160), kNetSsrc, pcmu, {false, 2, 3, 7});
    ASSERT_TRUE(plain->network_to_browser(p1.data(), p1.size(), i * 20, a, sizeof a, ca.sink()));
    ASSERT_TRUE(fancy->network_to_browser(p2.data(), p2.size(), i * 20, b, sizeof b, cb.sink()));
    ASSERT_EQ(ca.outs.size(), 1u);
    ASSERT_EQ(cb.outs.size(), 1u);
    EXPECT_EQ(ca.outs[0].payload, cb.outs[0].payload) << i;
    EXPECT_EQ(ca.outs[0].ts, cb.outs[0].ts) << i;
    EXPECT_EQ(cb.legs[0], Leg::kBrowser);
    ca.outs.clear();
    cb.outs.clear();
  }
}

TEST(CodecTranscoder, NetworkToBrowserTimelineAndLoss) {
  auto t = make(opus_pcmu());
  uint8_t buf[Transcoder::kMaxOutput];
  Collect c;
  Bytes pcmu(160, 0xFF);
  uint16_t seqs[] = {7, 8, 9, 11, 12};  // 10 lost: mirrored as a gap
  int64_t now = 0;
  for (uint16_t seq : seqs) {
    Bytes p = rtp(kPcmuPt, seq, uint32_t(seq) * 160u - 1000u, kNetSsrc, pcmu);
    ASSERT_TRUE(t->network_to_browser(p.data(), p.size(), now += 20, buf, sizeof buf, c.sink()));
  }
  auto& outs = c.outs;
  ASSERT_EQ(outs.size(), 5u);
  EXPECT_EQ(outs[0].seq, 65530);
  EXPECT_EQ(outs[0].ts, 0xFFFFF000u);
  EXPECT_TRUE(outs[0].marker);
  EXPECT_EQ(outs[1].seq, 65531);
  EXPECT_EQ(outs[1].ts, 0xFFFFF000u + 960);
  EXPECT_EQ(outs[3].seq, 65534);  // one skipped
  EXPECT_EQ(outs[3].ts, 0xFFFFF000u + 4 * 960);
  EXPECT_TRUE(outs[3].marker);
  EXPECT_EQ(outs[4].seq, 65535);
  EXPECT_EQ(outs[4].ssrc, 0x12345678u);
  EXPECT_EQ(outs[4].pt, kOpusPt);
  EXPECT_EQ(opus_packet_samples(outs[4].payload.data(), int(outs[4].payload.size()), 48000), 960);
  EXPECT_EQ(t->stats(Leg::kNetwork).lost, 1u);
  EXPECT_EQ(t->stats(Leg::kNetwork).concealed, 0u);

  // A new SSRC restarts the input; the output stream carries on, with the marker.
  outs.clear();
  Bytes other = rtp(kPcmuPt, 30000, 123456, kNetSsrc + 1, pcmu);
  ASSERT_TRUE(
      t->network_to_browser(other.data(), other.size(), now += 20, buf, sizeof buf, c.sink()));
  ASSERT_EQ(outs.size(), 1u);
  EXPECT_TRUE(outs[0].marker);
  EXPECT_EQ(outs[0].ssrc, 0x12345678u);
  EXPECT_EQ(outs[0].seq, 0);
  EXPECT_EQ(outs[0].ts, 0xFFFFF000u + 6 * 960);
  EXPECT_EQ(t->stats(Leg::kNetwork).restarts, 1u);
}

// One packet lost but the timestamps jump by ten minutes: the loss is mirrored as what one lost
// packet could have held (at most 120 ms), not as 30,000 packets, which would put the next
// sequence number behind the last one for every receiver (found by fuzz_opus_rtp).
TEST(CodecTranscoder, TimestampJumpDoesNotMoveTheSequenceByHalfItsSpace) {
  auto t = make(opus_pcmu());
  uint8_t buf[Transcoder::kMaxOutput];
  Collect c;
  Bytes pcmu(160, 0xFF);
  int64_t now = 0;
  for (uint16_t seq : {7, 8}) {
    Bytes p = rtp(kPcmuPt, seq, uint32_t(seq) * 160u, kNetSsrc, pcmu);
    ASSERT_TRUE(t->network_to_browser(p.data(), p.size(), now += 20, buf, sizeof buf, c.sink()));
  }
  Bytes late = rtp(kPcmuPt, 10, 10u * 160u + 600u * 8000u, kNetSsrc, pcmu);
  ASSERT_TRUE(
      t->network_to_browser(late.data(), late.size(), now += 40, buf, sizeof buf, c.sink()));
  t->flush_due(now += 200, buf, sizeof buf, c.sink());  // past the wait for packet 9
  ASSERT_EQ(c.outs.size(), 3u);
  const int moved = int16_t(uint16_t(c.outs[2].seq - c.outs[1].seq));
  EXPECT_GE(moved, 2);  // the loss is still mirrored as a gap
  EXPECT_LE(moved, 7);
  EXPECT_TRUE(c.outs[2].marker);
}

TEST(CodecTranscoder, PcmuToPcma) {
  TranscoderConfig c;
  c.browser = {Codec::kPcma, 8, -1};
  c.network = {Codec::kPcmu, 0, -1};
  auto t = make(c);
  uint8_t buf[Transcoder::kMaxOutput];
  Collect col;
  Bytes pcma(160, 0xD5);  // A-law zero
  Bytes p = rtp(8, 1, 0, 1, pcma);
  ASSERT_TRUE(t->browser_to_network(p.data(), p.size(), 0, buf, sizeof buf, col.sink()));
  ASSERT_EQ(col.outs.size(), 1u);
  EXPECT_EQ(col.outs[0].pt, 0);
  EXPECT_EQ(col.outs[0].payload, Bytes(160, 0xFE));  // A-law 0xD5 is +8, which is mu-law 0xFE
}

TEST(CodecTranscoder, RefusesNeedlessOrBadConfigs) {
  std::string err;
  TranscoderConfig c = opus_pcmu();
  c.network.codec = Codec::kOpus;
  EXPECT_FALSE(Transcoder::make(c, err));
  EXPECT_FALSE(err.empty());
  c = opus_pcmu();
  c.network.payload_type = 200;
  EXPECT_FALSE(Transcoder::make(c, err));
  c = opus_pcmu();
  c.browser.event_payload_type = kOpusPt;
  EXPECT_FALSE(Transcoder::make(c, err));
}

// ---- telephone-event ----

TEST(CodecTranscoder, RelaysEventsFrom48kTo8k) {
  B2N s;
  Out o, audio;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.send(s.next(), audio));
  // The browser stops audio and sends '5' starting where the next frame would be.
  uint16_t seq = s.sender.seq;
  const uint32_t ts = s.sender.ts;
  const uint16_t durs[] = {960, 1920, 2880, 3840, 3840, 3840};
  std::vector<Out> outs;
  for (int i = 0; i < 6; ++i) {
    Bytes e = event(kBrowserEventPt, seq++, ts, kBrowserSsrc, 5, i >= 3, durs[i], i == 0);
    ASSERT_TRUE(s.send(e, o)) << s.t->last_drop(Leg::kBrowser);
    outs.push_back(o);
  }
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(outs[size_t(i)].pt, kNetEventPt);
    EXPECT_EQ(outs[size_t(i)].marker, i == 0);
    EXPECT_EQ(outs[size_t(i)].ts, audio.ts + 160);  // on the audio timeline, scaled
    EXPECT_EQ(outs[size_t(i)].seq, uint16_t(audio.seq + 1 + i));
    auto ev = parse_event(outs[size_t(i)].payload.data(), outs[size_t(i)].payload.size());
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->event, 5);
    EXPECT_EQ(ev->duration, durs[i] / 6);
    EXPECT_EQ(ev->end, i >= 3);
  }
  EXPECT_EQ(s.st().events_relayed, 6u);
  // Audio resumes after the event: same timeline, a new talkspurt.
  s.sender.seq = seq;
  s.sender.ts = ts + 3840 + 960;
  ASSERT_TRUE(s.send(s.next(), o));
  EXPECT_TRUE(o.marker);
  EXPECT_EQ(o.ts, audio.ts + 160 + 640 + 160);
  EXPECT_EQ(o.seq, uint16_t(audio.seq + 7));
  EXPECT_EQ(o.payload.size(), 160u);  // no concealment: nothing was lost
  EXPECT_EQ(s.st().concealed + s.st().fec, 0u);
  seq = s.sender.seq;

  // Impossible: a shrinking duration, a non-DTMF event, an end with no duration.
  ASSERT_TRUE(s.send(event(kBrowserEventPt, seq++, ts + 9600, kBrowserSsrc, 1, false, 1920), o));
  EXPECT_FALSE(s.send(event(kBrowserEventPt, seq++, ts + 9600, kBrowserSsrc, 1, false, 960)));
  EXPECT_STREQ(s.t->last_drop(Leg::kBrowser), "event_duration");
  EXPECT_FALSE(s.send(event(kBrowserEventPt, seq++, ts + 19200, kBrowserSsrc, 40, false, 960)));
  EXPECT_STREQ(s.t->last_drop(Leg::kBrowser), "event");
  EXPECT_FALSE(s.send(event(kBrowserEventPt, seq++, ts + 19200, kBrowserSsrc, 2, true, 0)));
  EXPECT_EQ(s.st().events_dropped, 3u);
}

// An end of 2 units at 48 kHz is 0.33 units at 8 kHz: relayed with duration 1, not as an end of
// duration 0, which no receiver accepts (found by fuzz_opus_rtp).
TEST(CodecTranscoder, ShortEventEndKeepsADurationAt8k) {
  B2N s;
  Out o, audio;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.send(s.next(), audio));
  uint16_t seq = s.sender.seq;
  ASSERT_TRUE(s.send(event(kBrowserEventPt, seq, s.sender.ts, kBrowserSsrc, 7, true, 2, true), o))
      << s.t->last_drop(Leg::kBrowser);
  auto ev = parse_event(o.payload.data(), o.payload.size());
  ASSERT_TRUE(ev);
  EXPECT_TRUE(ev->end);
  EXPECT_EQ(ev->duration, 1);
}

TEST(CodecTranscoder, RelaysLongEventsFrom8kTo48kInSegments) {
  auto t = make(opus_pcmu());
  uint8_t buf[Transcoder::kMaxOutput];
  Collect c;
  Bytes a = rtp(kPcmuPt, 1, 8000, kNetSsrc, Bytes(160, 0xFF));
  ASSERT_TRUE(t->network_to_browser(a.data(), a.size(), 0, buf, sizeof buf, c.sink()));
  ASSERT_EQ(c.outs.size(), 1u);
  const uint32_t base = c.outs[0].ts;  // 0xFFFFF000
  Bytes e1 = event(kNetEventPt, 2, 8160, kNetSsrc, 11, false, 160, true);
  ASSERT_TRUE(t->network_to_browser(e1.data(), e1.size(), 20, buf, sizeof buf, c.sink()));
  ASSERT_EQ(c.outs.size(), 2u);
  Out o = c.outs[1];
  EXPECT_EQ(o.pt, kBrowserEventPt);
  EXPECT_TRUE(o.marker);
  EXPECT_EQ(o.ts, base + 960);
  EXPECT_EQ(parse_event(o.payload.data(), 4)->duration, 960);
  Bytes e2 = event(kNetEventPt, 3, 8160, kNetSsrc, 11, true, 0x3000);  // 1.536 s
  ASSERT_TRUE(t->network_to_browser(e2.data(), e2.size(), 40, buf, sizeof buf, c.sink()));
  ASSERT_EQ(c.outs.size(), 3u);
  o = c.outs[2];
  EXPECT_FALSE(o.marker);
  EXPECT_EQ(o.ts, base + 960 + 65535);  // second segment
  auto ev = parse_event(o.payload.data(), 4);
  EXPECT_EQ(ev->duration, 0x3000 * 6 - 65535);
  EXPECT_TRUE(ev->end);
  EXPECT_EQ(ev->event, 11);
}

// The tone pair of '5' (770 Hz + 1336 Hz) stands 17 dB above every other DTMF frequency.
void expect_digit5(const std::vector<int16_t>& pcm, int from, int len) {
  double lo = goertzel(pcm.data() + from, len, 770, 8000);
  double hi = goertzel(pcm.data() + from, len, 1336, 8000);
  for (double f : {697.0, 852.0, 941.0, 1209.0, 1477.0}) {
    double other = goertzel(pcm.data() + from, len, f, 8000);
    EXPECT_GT(lo, 50 * other) << f;
    EXPECT_GT(hi, 50 * other) << f;
  }
}

TEST(CodecTranscoder, EventsWithoutTelephoneEventBecomeTones) {
  B2N s(true, /*net_event_pt=*/-1);
  Out o, audio;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.send(s.next(), audio));
  uint16_t seq = s.sender.seq;
  const uint32_t ts = s.sender.ts;
  std::vector<int16_t> pcm;
  uint32_t next_ts = audio.ts + 160;
  const uint16_t durs[] = {960, 1920, 2880, 3840, 4800, 4800, 4800};
  int packets = 0;
  for (int i = 0; i < 7; ++i) {
    bool end = i >= 4;
    Bytes e = event(kBrowserEventPt, seq++, ts, kBrowserSsrc, 5, end, durs[i], i == 0);
    if (!s.send(e)) {
      EXPECT_GE(i, 5) << s.t->last_drop(Leg::kBrowser);  // the repeated ends add nothing
      EXPECT_STREQ(s.t->last_drop(Leg::kBrowser), "event_repeat");
      continue;
    }
    auto got = s.take();
    ASSERT_EQ(got.size(), 1u);
    o = got[0];
    ++packets;
    EXPECT_EQ(o.pt, kPcmuPt);
    EXPECT_EQ(o.ts, next_ts);
    EXPECT_EQ(o.marker, i == 0);
    EXPECT_EQ(o.payload.size(), 160u);
    next_ts += uint32_t(o.payload.size());
    for (uint8_t c : o.payload) pcm.push_back(g711_decode_sample(G711Law::kUlaw, c));
  }
  EXPECT_EQ(packets, 5);
  EXPECT_EQ(s.st().tone_packets, 5u);
  ASSERT_EQ(pcm.size(), 800u);  // 100 ms of '5': 770 Hz + 1336 Hz
  expect_digit5(pcm, 80, 640);
  // Audio after the digit: a new talkspurt after the tone.
  s.sender.seq = seq;
  s.sender.ts = ts + 4800;
  ASSERT_TRUE(s.send(s.next(), o));
  EXPECT_TRUE(o.marker);
  EXPECT_EQ(o.ts, next_ts);
}

TEST(CodecTranscoder, InbandDtmfOffDropsEvents) {
  TranscoderConfig c = opus_pcmu(-1);
  c.inband_dtmf = false;
  B2N s(c, true);
  Out audio, o;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.send(s.next(), audio));
  uint16_t seq = s.sender.seq;
  const uint32_t ts = s.sender.ts;
  EXPECT_FALSE(s.send(event(kBrowserEventPt, seq++, ts, kBrowserSsrc, 5, false, 960, true)));
  EXPECT_STREQ(s.t->last_drop(Leg::kBrowser), "event_no_inband");
  EXPECT_FALSE(s.send(event(kBrowserEventPt, seq++, ts, kBrowserSsrc, 5, true, 1920)));
  EXPECT_EQ(s.st().events_dropped, 2u);
  EXPECT_EQ(s.st().tone_packets, 0u);
  EXPECT_TRUE(s.take().empty());
  // The events used up their sequence numbers: the audio after them is not a loss.
  s.sender.seq = seq;
  s.sender.ts = ts + 1920;
  ASSERT_TRUE(s.send(s.next(), o));
  EXPECT_EQ(s.st().lost, 0u);
}

// play_tone (INFO digits towards a leg without telephone-event): the next frames carry the
// digit instead of the decoded audio, then 50 ms of silence, then the audio again.
TEST(CodecTranscoder, PlayToneReplacesTheAudio) {
  B2N s(true, /*net_event_pt=*/-1);
  Out o;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.send(s.next(), o));
  EXPECT_FALSE(s.t->play_tone(Leg::kNetwork, 16, 100)) << "flash has no tone";
  EXPECT_FALSE(s.t->play_tone(Leg::kNetwork, 5, 0));
  ASSERT_TRUE(s.t->play_tone(Leg::kNetwork, 5, 100));
  EXPECT_TRUE(s.t->tone_playing(Leg::kNetwork));
  EXPECT_FALSE(s.t->play_tone(Leg::kNetwork, 6, 100)) << "one digit at a time";
  std::vector<Out> outs;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(s.send(s.next(), o));
    EXPECT_EQ(o.pt, kPcmuPt);
    outs.push_back(o);
  }
  EXPECT_FALSE(s.t->tone_playing(Leg::kNetwork));
  EXPECT_EQ(s.st().tone_packets, 8u);  // 100 ms of tone, 50 ms of silence (half a frame)
  auto pcm = pcmu_pcm(outs);
  expect_digit5(pcm, 80, 640);
  double pause = 0, voice = 0;
  for (int i = 800; i < 1200; ++i) pause += std::abs(pcm[size_t(i)]);
  for (int i = 1280; i < 1600; ++i) voice += std::abs(pcm[size_t(i)]);
  EXPECT_LT(pause / 400, 2.0) << "silence after the digit";
  EXPECT_GT(voice / 320, 50.0) << "the audio again";
  // The timeline does not move: 20 ms per packet as before.
  for (size_t i = 1; i < outs.size(); ++i) EXPECT_EQ(outs[i].ts, outs[i - 1].ts + 160);
  // Towards the browser too (Opus): the tone goes through the encoder.
  EXPECT_TRUE(s.t->play_tone(Leg::kBrowser, 11, 60));
  EXPECT_TRUE(s.t->tone_playing(Leg::kBrowser));
}

TEST(CodecTranscoder, InfoDigitsAsEventPackets) {
  auto t = make(opus_pcmu());
  std::string err;
  auto d = parse_dtmf_info("application/dtmf-relay", "Signal=9\r\nDuration=100\r\n", err);
  ASSERT_TRUE(d) << err;
  EventSender sender(8000, kNetEventPt, 20);
  std::vector<EventPacket> pk(sender.count(d->duration_ms));
  const uint32_t ts = t->next_timestamp(Leg::kNetwork);
  EXPECT_EQ(ts, 5000u);
  ASSERT_EQ(sender.sequence(d->event, d->duration_ms, ts, 10, pk.data(), pk.size()), pk.size());
  uint8_t buf[64];
  size_t len = 0;
  for (size_t i = 0; i < pk.size(); ++i) {
    ASSERT_TRUE(t->write_event(Leg::kNetwork, pk[i], buf, sizeof buf, len));
    Out o = parse(buf, len);
    EXPECT_EQ(o.pt, kNetEventPt);
    EXPECT_EQ(o.ssrc, 0x9ABCDEF0u);
    EXPECT_EQ(o.seq, uint16_t(100 + i));
    EXPECT_EQ(o.ts, 5000u);
  }
  TranscoderConfig c = opus_pcmu(-1);
  auto t2 = make(c);
  EXPECT_FALSE(t2->write_event(Leg::kNetwork, pk[0], buf, sizeof buf, len));
}

}  // namespace
}  // namespace rtcgw::codec
