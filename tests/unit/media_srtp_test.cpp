// SRTP/SRTCP over libsrtp2: known-answer packets (libsrtp's own srtp_validate() and
// srtp_validate_gcm() vectors, AES-CM keyed as in RFC 3711 appendix B.2), round trips for every
// profile, and what must be refused: forged tags, replays, truncated and malformed packets.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "media/srtp.hpp"

namespace rtcgw::media {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes hex(const std::string& s) {
  Bytes out;
  int hi = -1;
  for (char c : s) {
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else
      continue;  // spaces
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(uint8_t(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

// A packet in a buffer with room for the trailer protect adds.
struct Packet {
  explicit Packet(const Bytes& b) : buf(b), len(b.size()) { buf.resize(len + kSrtpMaxTrailer); }
  Bytes bytes() const { return Bytes(buf.begin(), buf.begin() + long(len)); }
  Bytes buf;
  size_t len;
};

SrtpKeys keys_of(SrtpProfile p, const Bytes& local, const Bytes& remote) {
  SrtpKeys k;
  k.profile = p;
  k.local = local;
  k.remote = remote;
  return k;
}

class SrtpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { srtp_global_init(); }
};

// libsrtp test/srtp_driver.c srtp_validate(): AES_CM_128_HMAC_SHA1_80, master key and salt of
// RFC 3711 appendix B.2, SSRC 0xcafebabe, sequence number 0x1234.
const Bytes kCmKey = hex("E1F97A0D3E018BE0D64FA32C06DE4139 0EC675AD498AFEEBB6960B3AABE6");
const Bytes kRtpPlain =
    hex("800f1234decafbadcafebabe"
        "abababababababababababababababab");
const Bytes kCmSrtp =
    hex("800f1234decafbadcafebabe"
        "4e55dc4ce79978d88ca4d215949d2402"
        "b78d6acc99ea179b8dbb");
const Bytes kRtcpPlain =
    hex("81c8000bcafebabe"
        "abababababababababababababababab");
const Bytes kCmSrtcp =
    hex("81c8000bcafebabe"
        "7128035be487b9bdbef89041f977a5a8"
        "80000001993e08cd54d6c1230798");

// libsrtp srtp_validate_gcm(): AEAD_AES_128_GCM with a 16-byte tag (RFC 7714).
const Bytes kGcmKey = hex("000102030405060708090a0b0c0d0e0f a0a1a2a3a4a5a6a7a8a9aaab");
const Bytes kGcmSrtp =
    hex("800f1234decafbadcafebabe"
        "c5002ede04cfdd2eb91159e0880aa06e"
        "d2976826f796b201df3131a127e8a392");
const Bytes kGcmSrtcp =
    hex("81c8000bcafebabe"
        "c98b8b5df0392a55852b6c21ac8e7025"
        "c52c6fbea2b3b446ea31123ba88ce61e"
        "80000001");

void known_answer(SrtpProfile profile, const Bytes& key, const Bytes& srtp, const Bytes& srtcp) {
  SrtpSession tx, rx;
  std::string err;
  ASSERT_TRUE(tx.init(keys_of(profile, key, key), err)) << err;
  ASSERT_TRUE(rx.init(keys_of(profile, key, key), err)) << err;

  Packet rtp(kRtpPlain);
  ASSERT_TRUE(tx.protect_rtp(rtp.buf.data(), rtp.len)) << tx.last_error();
  EXPECT_EQ(rtp.bytes(), srtp);
  Packet rtcp(kRtcpPlain);
  ASSERT_TRUE(tx.protect_rtcp(rtcp.buf.data(), rtcp.len)) << tx.last_error();
  EXPECT_EQ(rtcp.bytes(), srtcp);

  Packet in(srtp);
  ASSERT_TRUE(rx.unprotect_rtp(in.buf.data(), in.len)) << rx.last_error();
  EXPECT_EQ(in.bytes(), kRtpPlain);
  Packet inc(srtcp);
  ASSERT_TRUE(rx.unprotect_rtcp(inc.buf.data(), inc.len)) << rx.last_error();
  EXPECT_EQ(inc.bytes(), kRtcpPlain);
}

TEST_F(SrtpTest, ProfileParameters) {
  EXPECT_EQ(master_key_len(SrtpProfile::kAes128CmSha1_80), 16u);
  EXPECT_EQ(master_salt_len(SrtpProfile::kAes128CmSha1_80), 14u);
  EXPECT_EQ(master_key_len(SrtpProfile::kAeadAes128Gcm), 16u);
  EXPECT_EQ(master_salt_len(SrtpProfile::kAeadAes128Gcm), 12u);
  EXPECT_EQ(master_key_len(SrtpProfile::kAeadAes256Gcm), 32u);
  EXPECT_EQ(master_salt_len(SrtpProfile::kAeadAes256Gcm), 12u);
  EXPECT_STREQ(profile_name(SrtpProfile::kAes128CmSha1_80), "SRTP_AES128_CM_SHA1_80");
  EXPECT_STREQ(profile_name(SrtpProfile::kAeadAes128Gcm), "SRTP_AEAD_AES_128_GCM");
  EXPECT_STREQ(profile_name(SrtpProfile::kAeadAes256Gcm), "SRTP_AEAD_AES_256_GCM");
}

TEST_F(SrtpTest, KnownAnswerAesCm128HmacSha1_80) {
  ASSERT_EQ(kCmKey.size(), 30u);
  known_answer(SrtpProfile::kAes128CmSha1_80, kCmKey, kCmSrtp, kCmSrtcp);
}

TEST_F(SrtpTest, KnownAnswerAeadAes128Gcm) {
  ASSERT_EQ(kGcmKey.size(), 28u);
  known_answer(SrtpProfile::kAeadAes128Gcm, kGcmKey, kGcmSrtp, kGcmSrtcp);
}

Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = uint8_t(seed + i * 7);
  return b;
}

Bytes rtp_packet(uint16_t seq, uint32_t ssrc = 0x11223344, size_t payload = 160) {
  Bytes p = {0x80,
             0x00,
             uint8_t(seq >> 8),
             uint8_t(seq),
             0,
             0,
             0x03,
             0x20,
             uint8_t(ssrc >> 24),
             uint8_t(ssrc >> 16),
             uint8_t(ssrc >> 8),
             uint8_t(ssrc)};
  Bytes body = pattern(payload, uint8_t(seq));
  p.insert(p.end(), body.begin(), body.end());
  return p;
}

Bytes rtcp_receiver_report(uint32_t ssrc = 0x55667788) {
  Bytes p = {
      0x81,         0xc9, 0x00, 0x07, uint8_t(ssrc >> 24), uint8_t(ssrc >> 16), uint8_t(ssrc >> 8),
      uint8_t(ssrc)};
  Bytes block = pattern(24, 3);
  p.insert(p.end(), block.begin(), block.end());
  return p;
}

struct Pair {
  SrtpSession a, b;  // a protects with k1, b with k2
};

void make_pair(Pair& p, SrtpProfile profile) {
  size_t n = master_key_len(profile) + master_salt_len(profile);
  Bytes k1 = pattern(n, 1), k2 = pattern(n, 101);
  std::string err;
  ASSERT_TRUE(p.a.init(keys_of(profile, k1, k2), err)) << err;
  ASSERT_TRUE(p.b.init(keys_of(profile, k2, k1), err)) << err;
}

class SrtpProfiles : public SrtpTest, public ::testing::WithParamInterface<SrtpProfile> {};

TEST_P(SrtpProfiles, RtpRoundTripBothWays) {
  Pair p;
  make_pair(p, GetParam());
  for (uint16_t seq = 65530; seq != 10; ++seq) {  // across the sequence number wrap (ROC)
    Bytes plain = rtp_packet(seq);
    Packet pkt(plain);
    ASSERT_TRUE(p.a.protect_rtp(pkt.buf.data(), pkt.len)) << p.a.last_error();
    EXPECT_GT(pkt.len, plain.size());
    EXPECT_NE(pkt.bytes(), plain);
    ASSERT_TRUE(p.b.unprotect_rtp(pkt.buf.data(), pkt.len)) << p.b.last_error();
    EXPECT_EQ(pkt.bytes(), plain);

    Packet back(plain);
    ASSERT_TRUE(p.b.protect_rtp(back.buf.data(), back.len)) << p.b.last_error();
    ASSERT_TRUE(p.a.unprotect_rtp(back.buf.data(), back.len)) << p.a.last_error();
    EXPECT_EQ(back.bytes(), plain);
  }
}

TEST_P(SrtpProfiles, RtcpRoundTrip) {
  Pair p;
  make_pair(p, GetParam());
  for (int i = 0; i < 5; ++i) {
    Bytes plain = rtcp_receiver_report();
    Packet pkt(plain);
    ASSERT_TRUE(p.a.protect_rtcp(pkt.buf.data(), pkt.len)) << p.a.last_error();
    EXPECT_GT(pkt.len, plain.size());
    ASSERT_TRUE(p.b.unprotect_rtcp(pkt.buf.data(), pkt.len)) << p.b.last_error();
    EXPECT_EQ(pkt.bytes(), plain);
  }
}

TEST_P(SrtpProfiles, ForgedTagIsAnAuthFailure) {
  Pair p;
  make_pair(p, GetParam());
  Packet pkt(rtp_packet(1));
  ASSERT_TRUE(p.a.protect_rtp(pkt.buf.data(), pkt.len));
  Packet forged = pkt;
  forged.buf[forged.len - 1] ^= 0x01;  // last byte of the tag
  EXPECT_FALSE(p.b.unprotect_rtp(forged.buf.data(), forged.len));
  EXPECT_STREQ(p.b.last_error(), "auth_fail");
  // The genuine packet still gets through: a forgery does not advance the replay window.
  EXPECT_TRUE(p.b.unprotect_rtp(pkt.buf.data(), pkt.len)) << p.b.last_error();

  Packet rtcp(rtcp_receiver_report());
  ASSERT_TRUE(p.a.protect_rtcp(rtcp.buf.data(), rtcp.len));
  rtcp.buf[10] ^= 0x80;  // the encrypted body
  EXPECT_FALSE(p.b.unprotect_rtcp(rtcp.buf.data(), rtcp.len));
  EXPECT_STREQ(p.b.last_error(), "auth_fail");
}

TEST_P(SrtpProfiles, ReplayIsRefused) {
  Pair p;
  make_pair(p, GetParam());
  Packet pkt(rtp_packet(100));
  ASSERT_TRUE(p.a.protect_rtp(pkt.buf.data(), pkt.len));
  Packet copy = pkt;
  ASSERT_TRUE(p.b.unprotect_rtp(pkt.buf.data(), pkt.len));
  EXPECT_FALSE(p.b.unprotect_rtp(copy.buf.data(), copy.len));
  EXPECT_STREQ(p.b.last_error(), "replay_fail");

  // Far behind the 1024-packet window.
  Packet old(rtp_packet(101));
  ASSERT_TRUE(p.a.protect_rtp(old.buf.data(), old.len));
  Packet ahead(rtp_packet(101 + 2000));
  ASSERT_TRUE(p.a.protect_rtp(ahead.buf.data(), ahead.len));
  ASSERT_TRUE(p.b.unprotect_rtp(ahead.buf.data(), ahead.len)) << p.b.last_error();
  EXPECT_FALSE(p.b.unprotect_rtp(old.buf.data(), old.len));
  EXPECT_STREQ(p.b.last_error(), "replay_old");

  // SRTCP has its own replay list.
  Packet rtcp(rtcp_receiver_report());
  ASSERT_TRUE(p.a.protect_rtcp(rtcp.buf.data(), rtcp.len));
  Packet rtcp_copy = rtcp;
  ASSERT_TRUE(p.b.unprotect_rtcp(rtcp.buf.data(), rtcp.len));
  EXPECT_FALSE(p.b.unprotect_rtcp(rtcp_copy.buf.data(), rtcp_copy.len));
  EXPECT_STREQ(p.b.last_error(), "replay_fail");
}

TEST_P(SrtpProfiles, RepeatedTransmissionIsAllowed) {
  Pair p;
  make_pair(p, GetParam());
  Bytes plain = rtp_packet(7);
  Packet first(plain), again(plain);
  ASSERT_TRUE(p.a.protect_rtp(first.buf.data(), first.len));
  ASSERT_TRUE(p.a.protect_rtp(again.buf.data(), again.len)) << p.a.last_error();
  EXPECT_EQ(first.bytes(), again.bytes());
}

TEST_P(SrtpProfiles, TruncatedAndMalformedPacketsAreRefused) {
  Pair p;
  make_pair(p, GetParam());
  Packet pkt(rtp_packet(5));
  ASSERT_TRUE(p.a.protect_rtp(pkt.buf.data(), pkt.len));
  const Bytes full = pkt.bytes();
  for (size_t n = 0; n < full.size(); ++n) {
    Packet cut(Bytes(full.begin(), full.begin() + long(n)));
    EXPECT_FALSE(p.b.unprotect_rtp(cut.buf.data(), cut.len)) << "length " << n;
  }
  Packet rtcp(rtcp_receiver_report());
  ASSERT_TRUE(p.a.protect_rtcp(rtcp.buf.data(), rtcp.len));
  const Bytes full_rtcp = rtcp.bytes();
  for (size_t n = 0; n < full_rtcp.size(); ++n) {
    Packet cut(Bytes(full_rtcp.begin(), full_rtcp.begin() + long(n)));
    EXPECT_FALSE(p.b.unprotect_rtcp(cut.buf.data(), cut.len)) << "length " << n;
  }
  // Shorter than the fixed headers.
  Packet tiny(Bytes{0x80, 0x00, 0x00});
  EXPECT_FALSE(p.a.protect_rtp(tiny.buf.data(), tiny.len));
  EXPECT_STREQ(p.a.last_error(), "too_short");
  EXPECT_FALSE(p.a.protect_rtcp(tiny.buf.data(), tiny.len));
  EXPECT_FALSE(p.b.unprotect_rtp(nullptr, tiny.len));
  // Fifteen CSRCs announced in a 12-byte packet, and an extension longer than the packet.
  Packet csrc(Bytes{0x8f, 0x00, 0x00, 0x01, 0, 0, 0, 0, 1, 2, 3, 4, 0xaa, 0xbb});
  EXPECT_FALSE(p.a.protect_rtp(csrc.buf.data(), csrc.len));
  EXPECT_FALSE(p.b.unprotect_rtp(csrc.buf.data(), csrc.len));
  Packet ext(Bytes{0x90, 0x00, 0x00, 0x01, 0, 0, 0, 0, 1, 2, 3, 4, 0xbe, 0xde, 0x00, 0x40});
  EXPECT_FALSE(p.a.protect_rtp(ext.buf.data(), ext.len));
  EXPECT_FALSE(p.b.unprotect_rtp(ext.buf.data(), ext.len));
}

INSTANTIATE_TEST_SUITE_P(AllProfiles, SrtpProfiles,
                         ::testing::Values(SrtpProfile::kAes128CmSha1_80,
                                           SrtpProfile::kAeadAes128Gcm,
                                           SrtpProfile::kAeadAes256Gcm),
                         [](const ::testing::TestParamInfo<SrtpProfile>& info) {
                           switch (info.param) {
                             case SrtpProfile::kAes128CmSha1_80:
                               return std::string("AesCm128HmacSha1_80");
                             case SrtpProfile::kAeadAes128Gcm:
                               return std::string("AeadAes128Gcm");
                             case SrtpProfile::kAeadAes256Gcm:
                               return std::string("AeadAes256Gcm");
                           }
                           return std::string("unknown");
                         });

TEST_F(SrtpTest, WrongKeysOrNoInitProtectNothing) {
  SrtpSession s;
  Packet pkt(rtp_packet(1));
  EXPECT_FALSE(s.ready());
  EXPECT_FALSE(s.protect_rtp(pkt.buf.data(), pkt.len));
  EXPECT_STREQ(s.last_error(), "not_ready");
  EXPECT_FALSE(s.unprotect_rtcp(pkt.buf.data(), pkt.len));

  std::string err;
  EXPECT_FALSE(s.init(keys_of(SrtpProfile::kAeadAes128Gcm, kCmKey, kCmKey), err));
  EXPECT_NE(err.find("28 bytes"), std::string::npos) << err;
  EXPECT_FALSE(s.ready());
  EXPECT_FALSE(s.init(keys_of(SrtpProfile::kAes128CmSha1_80, kCmKey, Bytes{}), err));
  EXPECT_TRUE(s.init(keys_of(SrtpProfile::kAes128CmSha1_80, kCmKey, kCmKey), err)) << err;
  EXPECT_TRUE(s.ready());
  EXPECT_TRUE(s.protect_rtp(pkt.buf.data(), pkt.len));
}

TEST_F(SrtpTest, GlobalInitIsIdempotent) {
  EXPECT_NO_THROW(srtp_global_init());
  EXPECT_NO_THROW(srtp_global_init());
}

}  // namespace
}  // namespace rtcgw::media
