// libopus wrappers: parameters refused, round trips at 8 and 48 kHz (a 1 kHz tone comes back
// correlated after the codec delay), corrupt packets refused and concealed, in-band FEC present
// exactly when asked for, and recovered by decode_fec.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "codec/opus.hpp"
#include "codec_signals.hpp"

namespace rtcgw::codec {
namespace {

using testing::best_correlation;
using testing::tone;

// A voiced-speech stand-in: harmonics of 140 Hz up to 3.4 kHz under two formants, with a 4 Hz
// syllable envelope.
std::vector<int16_t> voiced(int rate, int n) {
  std::vector<int16_t> x(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    double t = double(i) / rate, v = 0;
    for (int k = 1; k * 140 <= 3400; ++k) {
      double f = k * 140.0;
      double g = 1 / (1 + std::pow((f - 700) / 200, 2)) + 0.6 / (1 + std::pow((f - 1800) / 300, 2));
      v += g * std::sin(2 * M_PI * f * t + k);
    }
    double env = 0.2 + 0.8 * std::pow(std::sin(M_PI * 4 * t), 2);
    x[size_t(i)] = int16_t(std::lround(3000 * env * v));
  }
  return x;
}

TEST(CodecOpus, RefusesBadParameters) {
  std::string err;
  EXPECT_FALSE(OpusEnc::make(16000, OpusParams{}, err));
  EXPECT_FALSE(err.empty());
  OpusParams p;
  p.complexity = 11;
  err.clear();
  EXPECT_FALSE(OpusEnc::make(8000, p, err));
  EXPECT_FALSE(err.empty());
  p = OpusParams{};
  p.bitrate = 100;
  EXPECT_FALSE(OpusEnc::make(8000, p, err));
  EXPECT_FALSE(OpusDec::make(44100, err));
  EXPECT_TRUE(OpusEnc::make(8000, OpusParams{}, err));
  EXPECT_TRUE(OpusDec::make(48000, err));
}

class CodecOpusRate : public ::testing::TestWithParam<int> {};

TEST_P(CodecOpusRate, RoundTripKeepsTone) {
  const int rate = GetParam(), frame = rate / 50;
  std::string err;
  auto enc = OpusEnc::make(rate, OpusParams{}, err);
  auto dec = OpusDec::make(rate, err);
  ASSERT_TRUE(enc && dec) << err;
  auto x = tone(rate, 1000, rate);
  std::vector<int16_t> y;
  uint8_t pkt[1500];
  for (int f = 0; f + frame <= int(x.size()); f += frame) {
    int n = enc->encode(x.data() + f, frame, pkt, sizeof pkt);
    ASSERT_GT(n, 0);
    EXPECT_EQ(opus_packet_samples(pkt, n, rate), frame);
    std::vector<int16_t> out(static_cast<size_t>(frame));
    ASSERT_EQ(dec->decode(pkt, n, out.data(), frame), frame);
    y.insert(y.end(), out.begin(), out.end());
  }
  // After 200 ms of settling, 300 ms compared at the best lag up to 20 ms.
  double c = best_correlation(x, y, rate / 5, rate * 3 / 10, rate / 50);
  EXPECT_GT(c, 0.95) << "rate " << rate;
}

INSTANTIATE_TEST_SUITE_P(Rates, CodecOpusRate, ::testing::Values(8000, 48000));

TEST(CodecOpus, CorruptPacketsAreRefusedAndConcealed) {
  std::string err;
  auto dec = OpusDec::make(8000, err);
  ASSERT_TRUE(dec);
  int16_t pcm[960];
  const uint8_t code3_no_frames[] = {0x03, 0x00};  // code 3 with a frame count of 0
  EXPECT_LT(dec->decode(code3_no_frames, 2, pcm, 960), 0);
  EXPECT_LE(opus_packet_samples(code3_no_frames, 2, 8000), 0);
  EXPECT_LT(dec->decode(code3_no_frames, 0, pcm, 960), 0);
  EXPECT_LT(dec->decode(nullptr, 5, pcm, 960), 0);
  EXPECT_EQ(dec->conceal(pcm, 160), 160);
  EXPECT_LT(dec->conceal(pcm, 0), 0);
  EXPECT_LT(opus_packet_samples(nullptr, 0, 8000), 0);
  EXPECT_FALSE(opus_packet_has_fec(code3_no_frames, 2));
  EXPECT_FALSE(opus_packet_has_fec(nullptr, 0));
  EXPECT_TRUE(dec->reset());
}

TEST(CodecOpus, InBandFecWhenAskedAndRecovered) {
  for (int rate : {8000, 48000}) {
    for (bool fec : {false, true}) {
      std::string err;
      OpusParams p;
      p.fec = fec;
      p.packet_loss_perc = 20;
      p.bitrate = rate == 8000 ? 24000 : 32000;
      auto enc = OpusEnc::make(rate, p, err);
      auto dec = OpusDec::make(8000, err);
      ASSERT_TRUE(enc && dec) << err;
      const int frame = rate / 50;
      auto x = voiced(rate, rate);
      int with_fec = 0, packets = 0;
      uint8_t pkt[1500];
      for (int f = 0; f + frame <= int(x.size()); f += frame, ++packets) {
        int n = enc->encode(x.data() + f, frame, pkt, sizeof pkt);
        ASSERT_GT(n, 0);
        if (opus_packet_has_fec(pkt, n)) {
          ++with_fec;
          int16_t pcm[160];
          EXPECT_EQ(dec->decode_fec(pkt, n, pcm, 160), 160);
        }
        int16_t pcm[160];
        ASSERT_EQ(dec->decode(pkt, n, pcm, 160), 160);
      }
      if (fec) {
        EXPECT_GT(with_fec, packets / 2) << "rate " << rate;
      } else {
        EXPECT_EQ(with_fec, 0) << "rate " << rate;
      }
    }
  }
}

}  // namespace
}  // namespace rtcgw::codec
