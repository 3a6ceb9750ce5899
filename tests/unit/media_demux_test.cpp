// RFC 7983 / RFC 5761 classification of browser-leg datagrams by their first bytes.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>

#include "media/demux.hpp"

namespace rtcgw::media {
namespace {

// A 64-byte packet starting with `first`, then `second`; a STUN magic cookie at bytes 4..7.
std::array<uint8_t, 64> packet(uint8_t first, uint8_t second = 0) {
  std::array<uint8_t, 64> p{};
  p[0] = first;
  p[1] = second;
  p[4] = 0x21;
  p[5] = 0x12;
  p[6] = 0xA4;
  p[7] = 0x42;
  return p;
}

PacketKind kind_of(uint8_t first, uint8_t second = 0, size_t len = 64) {
  auto p = packet(first, second);
  return classify(p.data(), len);
}

TEST(MediaDemux, FirstByteBoundaries) {
  EXPECT_EQ(kind_of(0), PacketKind::kStun);
  EXPECT_EQ(kind_of(1), PacketKind::kStun);  // Binding success response
  EXPECT_EQ(kind_of(3), PacketKind::kStun);
  EXPECT_EQ(kind_of(4), PacketKind::kUnknown);
  EXPECT_EQ(kind_of(16), PacketKind::kUnknown);  // ZRTP
  EXPECT_EQ(kind_of(19), PacketKind::kUnknown);
  EXPECT_EQ(kind_of(20), PacketKind::kDtls);  // change_cipher_spec
  EXPECT_EQ(kind_of(22), PacketKind::kDtls);  // handshake
  EXPECT_EQ(kind_of(23), PacketKind::kDtls);  // application_data
  EXPECT_EQ(kind_of(63), PacketKind::kDtls);
  EXPECT_EQ(kind_of(64), PacketKind::kUnknown);  // TURN channel
  EXPECT_EQ(kind_of(79), PacketKind::kUnknown);
  EXPECT_EQ(kind_of(127), PacketKind::kUnknown);
  EXPECT_EQ(kind_of(128, 0), PacketKind::kRtp);
  EXPECT_EQ(kind_of(128, 111), PacketKind::kRtp);
  EXPECT_EQ(kind_of(191, 0), PacketKind::kRtp);
  EXPECT_EQ(kind_of(192), PacketKind::kUnknown);
  EXPECT_EQ(kind_of(255), PacketKind::kUnknown);
  for (int b = 0; b < 256; ++b) {
    PacketKind want = b <= 3                 ? PacketKind::kStun
                      : b >= 20 && b <= 63   ? PacketKind::kDtls
                      : b >= 128 && b <= 191 ? PacketKind::kRtp
                                             : PacketKind::kUnknown;
    EXPECT_EQ(kind_of(uint8_t(b), 0), want) << "first byte " << b;
  }
}

TEST(MediaDemux, StunNeedsTheMagicCookie) {
  auto p = packet(0, 1);
  EXPECT_EQ(classify(p.data(), 20), PacketKind::kStun);
  for (size_t i = 4; i < 8; ++i) {
    auto q = p;
    q[i] ^= 0x01;
    EXPECT_EQ(classify(q.data(), q.size()), PacketKind::kUnknown) << "cookie byte " << i;
  }
  // RFC 3489 (no cookie) is not spoken on the browser leg.
  auto old = p;
  std::memset(old.data() + 4, 0, 4);
  EXPECT_EQ(classify(old.data(), old.size()), PacketKind::kUnknown);
}

TEST(MediaDemux, RtcpBySecondByte) {
  // RFC 5761 section 4: the second byte 192..223 is RTCP (SR 200, RR 201, SDES 202, BYE 203,
  // APP 204, RTPFB 205, PSFB 206, XR 207), i.e. RTP payload types 64..95 with the marker bit.
  for (int pt : {192, 200, 201, 202, 203, 204, 205, 206, 207, 223}) {
    EXPECT_EQ(kind_of(0x80, uint8_t(pt)), PacketKind::kRtcp) << pt;
    EXPECT_EQ(kind_of(0x81, uint8_t(pt)), PacketKind::kRtcp) << pt;  // RC 1
  }
  EXPECT_EQ(kind_of(0x80, 191), PacketKind::kRtp);         // PT 63 with marker
  EXPECT_EQ(kind_of(0x80, 224), PacketKind::kRtp);         // PT 96 with marker
  EXPECT_EQ(kind_of(0x80, 0x80 | 111), PacketKind::kRtp);  // opus 111, marker
  EXPECT_EQ(kind_of(0x80, 96), PacketKind::kRtp);          // PT 96, no marker
  EXPECT_EQ(kind_of(0x80, 72), PacketKind::kRtp);          // PT 72 without marker stays RTP
  EXPECT_EQ(kind_of(0x80, 0), PacketKind::kRtp);           // PCMU
  EXPECT_EQ(kind_of(0x80, 8), PacketKind::kRtp);           // PCMA
  EXPECT_EQ(kind_of(0x80, 0x80 | 0), PacketKind::kRtp);    // PCMU with marker
  for (int b = 0; b < 256; ++b) {
    PacketKind want = b >= 192 && b <= 223 ? PacketKind::kRtcp : PacketKind::kRtp;
    EXPECT_EQ(kind_of(0x80, uint8_t(b)), want) << "second byte " << b;
  }
}

TEST(MediaDemux, ShortPackets) {
  EXPECT_EQ(classify(nullptr, 0), PacketKind::kUnknown);
  EXPECT_EQ(classify(nullptr, 100), PacketKind::kUnknown);
  auto stun = packet(0, 1);
  EXPECT_EQ(classify(stun.data(), 0), PacketKind::kUnknown);
  EXPECT_EQ(classify(stun.data(), 19), PacketKind::kUnknown);
  EXPECT_EQ(classify(stun.data(), 20), PacketKind::kStun);
  auto dtls = packet(22);
  EXPECT_EQ(classify(dtls.data(), 12), PacketKind::kUnknown);
  EXPECT_EQ(classify(dtls.data(), 13), PacketKind::kDtls);
  auto rtp = packet(0x80, 0);
  EXPECT_EQ(classify(rtp.data(), 11), PacketKind::kUnknown);
  EXPECT_EQ(classify(rtp.data(), 12), PacketKind::kRtp);
  auto rtcp = packet(0x80, 200);
  EXPECT_EQ(classify(rtcp.data(), 7), PacketKind::kUnknown);
  // An RR with no report block is its 8-byte header alone.
  EXPECT_EQ(classify(rtcp.data(), 8), PacketKind::kRtcp);
  EXPECT_EQ(classify(rtp.data(), 8), PacketKind::kUnknown);
  // Every length below each minimum, for every first byte (with a cookie in place).
  for (int b = 0; b < 256; ++b) {
    auto buf = packet(uint8_t(b), 200);
    for (size_t len = 0; len < 20; ++len) {
      PacketKind k = classify(buf.data(), len);
      bool short_rtcp = b >= 128 && b <= 191 && len >= 8;  // second byte 200: SR
      if (len < 12 && !short_rtcp) {
        EXPECT_EQ(k, PacketKind::kUnknown) << b << " " << len;
      }
      if (len < 8) {
        EXPECT_EQ(k, PacketKind::kUnknown) << b << " " << len;
      }
      if (len < 13) {
        EXPECT_NE(k, PacketKind::kDtls) << b << " " << len;
      }
      EXPECT_NE(k, PacketKind::kStun) << b << " " << len;
    }
  }
}

TEST(MediaDemux, RealPackets) {
  // An RTCP SR (RFC 3550 section 6.4.1) with no report block: 28 bytes.
  const uint8_t sr[28] = {0x80, 200, 0x00, 0x06, 0xde, 0xad, 0xbe, 0xef};
  EXPECT_EQ(classify(sr, sizeof sr), PacketKind::kRtcp);
  // DTLS 1.2 ClientHello record header: handshake(22), DTLS 1.0 {254,255}, epoch 0, seq 0.
  const uint8_t hello[25] = {22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 1};
  EXPECT_EQ(classify(hello, sizeof hello), PacketKind::kDtls);
  // RTP, opus (PT 111), marker set.
  const uint8_t rtp[12] = {0x80, 0x80 | 111, 0x12, 0x34, 0, 0, 0, 160, 1, 2, 3, 4};
  EXPECT_EQ(classify(rtp, sizeof rtp), PacketKind::kRtp);
}

TEST(MediaDemux, KindNames) {
  EXPECT_STREQ(kind_name(PacketKind::kStun), "stun");
  EXPECT_STREQ(kind_name(PacketKind::kDtls), "dtls");
  EXPECT_STREQ(kind_name(PacketKind::kRtp), "rtp");
  EXPECT_STREQ(kind_name(PacketKind::kRtcp), "rtcp");
  EXPECT_STREQ(kind_name(PacketKind::kUnknown), "unknown");
  static_assert(classify(nullptr, 0) == PacketKind::kUnknown);  // usable at compile time
}

}  // namespace
}  // namespace rtcgw::media
