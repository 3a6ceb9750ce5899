// G.711 on spandsp: code words for known linear values (ITU-T G.711 tables 1a/2a, in the 16-bit
// scaling the ITU-T G.191 software tools use: A-law values x8 from 13 bits, mu-law x4 from 14),
// every code word decoding to its reference reconstruction value, and the round-trip error
// bounded by half a quantisation step in every segment.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "codec/g711.hpp"

namespace rtcgw::codec {
namespace {

TEST(CodecG711, MuLawKnownCodeWords) {
  EXPECT_EQ(g711_encode_sample(G711Law::kUlaw, 0), 0xFF);       // +0
  EXPECT_EQ(g711_encode_sample(G711Law::kUlaw, -1), 0x7F);      // -0
  EXPECT_EQ(g711_encode_sample(G711Law::kUlaw, 32767), 0x80);   // positive full scale
  EXPECT_EQ(g711_encode_sample(G711Law::kUlaw, -32768), 0x00);  // negative full scale
  EXPECT_EQ(g711_encode_sample(G711Law::kUlaw, 32124), 0x80);   // top reconstruction level
  // Segment ends (G.711 table 2a, decision values x4): 14-bit 1..30 is segment 0 (step 2).
  EXPECT_EQ(g711_encode_sample(G711Law::kUlaw, 8), 0xFE);
  EXPECT_EQ(g711_encode_sample(G711Law::kUlaw, -8), 0x7E);
  EXPECT_EQ(g711_encode_sample(G711Law::kUlaw, 1000), 0xCE);
  EXPECT_EQ(g711_encode_sample(G711Law::kUlaw, -1000), 0x4E);
}

TEST(CodecG711, ALawKnownCodeWords) {
  EXPECT_EQ(g711_encode_sample(G711Law::kAlaw, 0), 0xD5);
  EXPECT_EQ(g711_encode_sample(G711Law::kAlaw, -1), 0x55);
  EXPECT_EQ(g711_encode_sample(G711Law::kAlaw, 32767), 0xAA);
  EXPECT_EQ(g711_encode_sample(G711Law::kAlaw, -32768), 0x2A);
  EXPECT_EQ(g711_encode_sample(G711Law::kAlaw, 1000), 0xFA);
  EXPECT_EQ(g711_encode_sample(G711Law::kAlaw, -1000), 0x7A);
}

// The reconstruction values of the widely published 256-entry decoding tables (G.711 table 2a
// for mu-law, 1a for A-law), sampled at segment starts and ends.
TEST(CodecG711, DecodeReferenceValues) {
  struct Ref {
    uint8_t code;
    int16_t value;
  };
  const Ref mu[] = {{0x00, -32124}, {0x01, -31100}, {0x0F, -16764}, {0x10, -15996},
                    {0x20, -7932},  {0x30, -3900},  {0x40, -1884},  {0x50, -876},
                    {0x60, -372},   {0x70, -120},   {0x7E, -8},     {0x7F, 0},
                    {0x80, 32124},  {0xF0, 120},    {0xFE, 8},      {0xFF, 0}};
  for (const auto& r : mu)
    EXPECT_EQ(g711_decode_sample(G711Law::kUlaw, r.code), r.value) << int(r.code);
  const Ref a[] = {{0x00, -5504}, {0x01, -5248}, {0x2A, -32256}, {0x55, -8},
                   {0x54, -24},   {0x80, 5504},  {0xAA, 32256},  {0xD5, 8},
                   {0xD4, 24},    {0xC5, 264},   {0xF5, 528}};
  for (const auto& r : a)
    EXPECT_EQ(g711_decode_sample(G711Law::kAlaw, r.code), r.value) << int(r.code);
}

// Every code word decodes and re-encodes to itself (except mu-law's and A-law's two zeros, which
// are one value), and the decoded values are odd-symmetric.
TEST(CodecG711, CodeWordsAreFixedPoints) {
  for (int c = 0; c < 256; ++c) {
    int16_t u = g711_decode_sample(G711Law::kUlaw, uint8_t(c));
    if (c != 0x7F) {
      EXPECT_EQ(g711_encode_sample(G711Law::kUlaw, u), c) << c;
    }
    EXPECT_EQ(g711_decode_sample(G711Law::kUlaw, uint8_t(c ^ 0x80)), -u) << c;
    int16_t a = g711_decode_sample(G711Law::kAlaw, uint8_t(c));
    EXPECT_EQ(g711_encode_sample(G711Law::kAlaw, a), c) << c;
    EXPECT_EQ(g711_decode_sample(G711Law::kAlaw, uint8_t(c ^ 0x80)), -a) << c;
  }
}

// |x - decode(encode(x))| <= half a step of x's segment, within the coder's range.
TEST(CodecG711, RoundTripErrorWithinHalfStep) {
  int worst_mu = 0, worst_a = 0;
  for (int x = -32124; x <= 32124; ++x) {
    int16_t s = int16_t(x);
    int em =
        std::abs(g711_decode_sample(G711Law::kUlaw, g711_encode_sample(G711Law::kUlaw, s)) - x);
    // mu-law: biased magnitude |x| + 132 in segment k spans 2^(k+7)..2^(k+8), step 2^(k+3).
    int mag = std::abs(x) + 132;
    int seg = 0;
    while (mag >= (256 << seg)) ++seg;
    ASSERT_LE(em, (8 << seg) / 2 + 4) << x;  // +4: the -0/+0 bias asymmetry
    worst_mu = std::max(worst_mu, em);
    if (x >= -32256 && x <= 32256) {
      int ea =
          std::abs(g711_decode_sample(G711Law::kAlaw, g711_encode_sample(G711Law::kAlaw, s)) - x);
      int am = std::abs(x);
      int aseg = 0;
      while (am >= (512 << aseg)) ++aseg;  // A-law: step 16 up to 512, then doubling
      ASSERT_LE(ea, (16 << aseg) / 2 + 8) << x;
      worst_a = std::max(worst_a, ea);
    }
  }
  EXPECT_LE(worst_mu, 512);
  EXPECT_LE(worst_a, 520);
}

// A -10 dBFS 1 kHz sine keeps a signal-to-quantisation-noise ratio of about 38 dB (G.711's
// design figure for speech levels).
TEST(CodecG711, SineSqnr) {
  std::vector<int16_t> x(8000), y(8000);
  std::vector<uint8_t> code(8000);
  const double amp = 32767 * std::pow(10.0, -10.0 / 20);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = int16_t(std::lround(amp * std::sin(2 * M_PI * 1000 * i / 8000.0 + 0.3)));
  for (G711Law law : {G711Law::kUlaw, G711Law::kAlaw}) {
    g711_encode(law, x.data(), x.size(), code.data());
    g711_decode(law, code.data(), code.size(), y.data());
    double s = 0, n = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      s += double(x[i]) * x[i];
      n += double(x[i] - y[i]) * (x[i] - y[i]);
    }
    double sqnr = 10 * std::log10(s / n);
    EXPECT_GT(sqnr, 35.0) << (law == G711Law::kUlaw ? "mu-law" : "A-law");
  }
}

}  // namespace
}  // namespace rtcgw::codec
