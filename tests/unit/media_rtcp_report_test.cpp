// RTCP of a transcoded leg (media::RtcpReport): RFC 3550 appendix A.1 sequence tracking (wrap,
// probation, jumps), A.3 loss and fraction lost, A.8 jitter against hand-computed values, the
// SR's NTP/RTP timestamp pair and counts, LSR/DLSR and the round trip, SR vs RR, A.2 refusals
// (every prefix of a valid packet among them), A.7 intervals. What build() writes is decoded
// here by a parser of the test's own, field by field, and then handed to another RtcpReport.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "media/rtcp_report.hpp"

namespace rtcgw::media {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint32_t kOurSsrc = 0x11223344;
constexpr uint32_t kPeerSsrc = 0xCAFEF00D;
// Unix time 2026-01-01T00:00:00Z minus an arbitrary monotonic origin.
constexpr int64_t kOffsetUs = 1767225600'000000 - 1'000'000'000;
constexpr int64_t kT0 = 1'000'000'000;  // "now" at the start of each test, in us

uint32_t rd32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
uint16_t rd16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
void wr32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

// An RTP packet: `payload` bytes of payload, optional CSRCs, header extension and padding.
Bytes rtp(uint16_t seq, uint32_t ts, uint32_t ssrc, size_t payload = 160, int csrcs = 0,
          int ext_words = -1, uint8_t pad = 0) {
  Bytes b(12);
  b[0] = uint8_t(0x80 | csrcs | (ext_words >= 0 ? 0x10 : 0) | (pad ? 0x20 : 0));
  b[1] = 0;  // PCMU
  b[2] = uint8_t(seq >> 8);
  b[3] = uint8_t(seq);
  wr32(&b[4], ts);
  wr32(&b[8], ssrc);
  for (int i = 0; i < csrcs; ++i) b.insert(b.end(), {1, 2, 3, 4});
  if (ext_words >= 0) {
    b.insert(b.end(), {0xBE, 0xDE, 0, uint8_t(ext_words)});
    b.insert(b.end(), size_t(4 * ext_words), 0);
  }
  b.insert(b.end(), payload, 0xD5);
  if (pad) {
    b.insert(b.end(), pad - 1, 0);
    b.push_back(pad);
  }
  return b;
}

RtcpReportConfig config(uint32_t clock = 8000, const char* cname = "Zm9vYmFyYmF6cXV4") {
  RtcpReportConfig c;
  c.clock_rate = clock;
  c.ssrc = kOurSsrc;
  c.cname = cname;
  c.wallclock_offset_us = kOffsetUs;
  c.seed = 42;
  return c;
}

// NTP 32.32 of the test clock, computed independently of the class.
uint64_t ntp_of(int64_t now_us) {
  const int64_t unix_us = now_us + kOffsetUs;
  const uint64_t secs = uint64_t(unix_us / 1000000) + 2208988800u;
  const double frac = double(unix_us % 1000000) / 1e6;
  return secs << 32 | uint64_t(std::floor(frac * 4294967296.0));
}

// The test's own RTCP decoder: walks a compound packet, checking what RFC 3550 sections 6.4.1,
// 6.4.2, 6.5 and 6.6 say about each field's place, and collects the values.
struct Block {
  uint32_t ssrc, ext_max, jitter, lsr, dlsr;
  uint8_t fraction;
  int32_t cumulative;
};
struct Decoded {
  bool ok = false;
  std::string error;
  int first_type = 0;  // 200 or 201
  uint32_t sender = 0;
  uint64_t ntp = 0;
  uint32_t rtp_ts = 0, packets = 0, octets = 0;
  std::vector<Block> blocks;
  uint32_t sdes_ssrc = 0;
  std::string cname;
  bool bye = false;
  uint32_t bye_ssrc = 0;
  std::vector<int> types;
};

Decoded decode(const uint8_t* d, size_t n) {
  Decoded r;
  auto fail = [&](std::string why) {
    r.error = std::move(why);
    return r;
  };
  if (n % 4 != 0) return fail("not 32-bit aligned");
  size_t off = 0;
  while (off < n) {
    if (n - off < 4) return fail("short header");
    const uint8_t* p = d + off;
    if ((p[0] >> 6) != 2) return fail("version");
    if (p[0] & 0x20) return fail("padding (rtcgw never pads)");
    const int count = p[0] & 0x1F;
    const int type = p[1];
    const size_t len = (size_t(rd16(p + 2)) + 1) * 4;
    if (off + len > n) return fail("length past the end");
    r.types.push_back(type);
    if (off == 0) {
      if (type != 200 && type != 201) return fail("first is not SR/RR");
      r.first_type = type;
      r.sender = rd32(p + 4);
      const uint8_t* b = p + 8;
      if (type == 200) {
        r.ntp = uint64_t(rd32(p + 8)) << 32 | rd32(p + 12);
        r.rtp_ts = rd32(p + 16);
        r.packets = rd32(p + 20);
        r.octets = rd32(p + 24);
        b = p + 28;
      }
      if (size_t(b - p) + 24 * size_t(count) != len) return fail("SR/RR length vs count");
      for (int i = 0; i < count; ++i, b += 24) {
        Block k;
        k.ssrc = rd32(b);
        k.fraction = b[4];
        uint32_t c = uint32_t(b[5]) << 16 | uint32_t(b[6]) << 8 | b[7];
        k.cumulative = (c & 0x800000) ? int32_t(c | 0xFF000000u) : int32_t(c);
        k.ext_max = rd32(b + 8);
        k.jitter = rd32(b + 12);
        k.lsr = rd32(b + 16);
        k.dlsr = rd32(b + 20);
        r.blocks.push_back(k);
      }
    } else if (type == 202) {
      if (count != 1) return fail("SDES chunk count");
      r.sdes_ssrc = rd32(p + 4);
      size_t i = 8;
      bool end = false;
      while (i < len) {
        uint8_t item = p[i];
        if (item == 0) {
          end = true;
          for (size_t z = i; z < len; ++z)
            if (p[z] != 0) return fail("SDES padding not zero");
          if ((i + 1 + 3) / 4 * 4 != len) return fail("SDES chunk not ending on the next word");
          break;
        }
        if (i + 2 > len || i + 2 + p[i + 1] > len) return fail("SDES item past the end");
        if (item == 1) r.cname.assign(reinterpret_cast<const char*>(p + i + 2), p[i + 1]);
        i += 2 + p[i + 1];
      }
      if (!end) return fail("SDES chunk without its end");
    } else if (type == 203) {
      if (count != 1 || len != 8) return fail("BYE");
      r.bye = true;
      r.bye_ssrc = rd32(p + 4);
    } else {
      return fail("unexpected type " + std::to_string(type));
    }
    off += len;
  }
  r.ok = true;
  return r;
}

Decoded build(RtcpReport& r, int64_t now, bool bye = false) {
  uint8_t buf[RtcpReport::kMaxPacket];
  size_t n = bye ? r.build_bye(buf, sizeof buf, now) : r.build(buf, sizeof buf, now);
  EXPECT_GT(n, 0u);
  Decoded d = decode(buf, n);
  EXPECT_TRUE(d.ok) << d.error;
  // What we make we must accept ourselves (the peer's A.2 check).
  RtcpReport other(config());
  EXPECT_TRUE(other.on_rtcp(buf, n, now));
  return d;
}

// Peer packets from seq `from` to `to` inclusive (16-bit wrap), 20 ms apart at 8 kHz,
// arriving exactly on time.
// One packet of the peer's arriving at `now`.
void receive(RtcpReport& r, const Bytes& p, int64_t now) { r.on_received(p.data(), p.size(), now); }

void receive_run(RtcpReport& r, uint32_t from, uint32_t to, int64_t& now, uint32_t& ts,
                 uint32_t ssrc = kPeerSsrc) {
  for (uint32_t s = from; s <= to; ++s) {
    receive(r, rtp(uint16_t(s), ts, ssrc), now);
    now += 20000;
    ts += 160;
  }
}

// An SR from the peer (with its SDES), NTP time given.
Bytes peer_sr(uint32_t ssrc, uint32_t ntp_sec, uint32_t ntp_frac, int blocks = 0,
              uint32_t about = 0, uint32_t lsr = 0, uint32_t dlsr = 0) {
  Bytes b(28 + 24 * size_t(blocks));
  b[0] = uint8_t(0x80 | blocks);
  b[1] = 200;
  b[2] = 0;
  b[3] = uint8_t(b.size() / 4 - 1);
  wr32(&b[4], ssrc);
  wr32(&b[8], ntp_sec);
  wr32(&b[12], ntp_frac);
  wr32(&b[16], 1234);
  wr32(&b[20], 10);
  wr32(&b[24], 1600);
  for (int i = 0; i < blocks; ++i) {
    uint8_t* k = &b[28 + 24 * size_t(i)];
    wr32(k, about);
    wr32(k + 16, lsr);
    wr32(k + 20, dlsr);
  }
  // SDES: one chunk, CNAME "peer", end, padding.
  Bytes sdes = {0x81, 202, 0, 3, 0, 0, 0, 0, 1, 4, 'p', 'e', 'e', 'r', 0, 0};
  wr32(&sdes[4], ssrc);
  b.insert(b.end(), sdes.begin(), sdes.end());
  return b;
}

TEST(RtcpReport, ProbationThenValid) {
  RtcpReport r(config());
  int64_t now = kT0;
  uint32_t ts = 1000;
  receive_run(r, 500, 500, now, ts);
  EXPECT_FALSE(r.peer().valid);
  // Out of sequence during probation: starts again.
  receive(r, rtp(700, ts, kPeerSsrc), now);
  EXPECT_FALSE(r.peer().valid);
  // Not yet received: an RR with no report block.
  Decoded d = build(r, now);
  EXPECT_EQ(d.first_type, 201);
  EXPECT_TRUE(d.blocks.empty());
  receive_run(r, 701, 701, now, ts);
  ASSERT_TRUE(r.peer().valid);
  EXPECT_EQ(r.peer().received, 1u);  // the packet that ended probation (A.1)
  EXPECT_EQ(r.peer().extended_max, 701u);
  receive_run(r, 702, 710, now, ts);
  d = build(r, now);
  ASSERT_EQ(d.blocks.size(), 1u);
  EXPECT_EQ(d.blocks[0].ssrc, kPeerSsrc);
  EXPECT_EQ(d.blocks[0].ext_max, 710u);
  EXPECT_EQ(d.blocks[0].cumulative, 0);
  EXPECT_EQ(d.blocks[0].fraction, 0);
}

TEST(RtcpReport, SequenceWrapCountsCycles) {
  RtcpReport r(config());
  int64_t now = kT0;
  uint32_t ts = 0;
  receive_run(r, 65530, 65535, now, ts);
  receive_run(r, 65536, 65536 + 20, now, ts);  // seq 0..20
  Decoded d = build(r, now);
  ASSERT_EQ(d.blocks.size(), 1u);
  EXPECT_EQ(d.blocks[0].ext_max, 65536u + 20u);  // one cycle, highest 20
  EXPECT_EQ(d.blocks[0].cumulative, 0);
  EXPECT_EQ(r.peer().received, 26u);  // 65531..65535 and 0..20

  // A second wrap with a loss across it: 65534 and 1 lost.
  receive_run(r, 21, 65533, now, ts);
  receive_run(r, 65535, 65535, now, ts);
  receive_run(r, 65536 + 0, 65536 + 0, now, ts);
  receive_run(r, 65536 + 2, 65536 + 5, now, ts);
  d = build(r, now);
  EXPECT_EQ(d.blocks[0].ext_max, 2 * 65536u + 5u);
  EXPECT_EQ(d.blocks[0].cumulative, 2);
}

TEST(RtcpReport, JumpsResyncOnlyWhenTheNextPacketFollows) {
  RtcpReport r(config());
  int64_t now = kT0;
  uint32_t ts = 0;
  receive_run(r, 100, 120, now, ts);
  uint32_t before = r.peer().received;
  // A jump beyond MAX_DROPOUT: not counted, not taken as the highest.
  receive(r, rtp(9000, ts, kPeerSsrc), now);
  EXPECT_EQ(r.peer().received, before);
  EXPECT_EQ(r.peer().extended_max, 120u);
  // Late packets (within MAX_MISORDER) are counted, the highest stays.
  receive(r, rtp(110, ts, kPeerSsrc), now);
  EXPECT_EQ(r.peer().received, before + 1);
  EXPECT_EQ(r.peer().extended_max, 120u);
  // The packet after the jump confirms it: the source restarted (A.1 init_seq).
  receive(r, rtp(9001, ts, kPeerSsrc), now);
  EXPECT_EQ(r.peer().received, 1u);
  EXPECT_EQ(r.peer().extended_max, 9001u);
  // A new SSRC starts over, with probation.
  receive(r, rtp(5, ts, 0x0BADBEEF), now);
  EXPECT_FALSE(r.peer().valid);
  EXPECT_EQ(r.peer().ssrc, 0x0BADBEEFu);
}

TEST(RtcpReport, LossAndFractionLost) {
  RtcpReport r(config());
  int64_t now = kT0;
  uint32_t ts = 0;
  receive_run(r, 99, 109, now, ts);  // 99 is probation; base 100
  Decoded d = build(r, now);
  EXPECT_EQ(d.blocks[0].fraction, 0);
  EXPECT_EQ(d.blocks[0].cumulative, 0);

  // 110..119 with 112, 113, 114 lost: 10 expected, 7 received this interval.
  receive_run(r, 110, 111, now, ts);
  ts += 3 * 160;
  now += 3 * 20000;
  receive_run(r, 115, 119, now, ts);
  d = build(r, now);
  EXPECT_EQ(d.blocks[0].fraction, 3 * 256 / 10);  // 76
  EXPECT_EQ(d.blocks[0].cumulative, 3);
  EXPECT_EQ(d.blocks[0].ext_max, 119u);

  // Two of them turn up late plus one duplicate: more received than expected in the interval,
  // fraction 0 (A.3), the cumulative count goes down, even below zero.
  for (uint16_t s : {112, 113, 119, 119}) {
    Bytes p = rtp(s, ts, kPeerSsrc);
    r.on_received(p.data(), p.size(), now);
  }
  d = build(r, now);
  EXPECT_EQ(d.blocks[0].fraction, 0);
  EXPECT_EQ(d.blocks[0].cumulative, -1);
  EXPECT_EQ(r.peer().cumulative_lost, -1);

  // Half of the next interval lost.
  receive_run(r, 120, 121, now, ts);
  ts += 2 * 160;
  now += 2 * 20000;
  receive_run(r, 124, 125, now, ts);
  d = build(r, now);
  EXPECT_EQ(d.blocks[0].fraction, 2 * 256 / 6);  // 85: 6 expected, 4 received
  EXPECT_EQ(d.blocks[0].cumulative, 1);
}

TEST(RtcpReport, JitterHandComputed) {
  // 8 kHz, 20 ms packets: transit is constant except packet 4, 10 ms (80 ticks) late.
  // A.8 in its integer form (J16 = jitter * 16): J16 += |D| - ((J16 + 8) >> 4).
  //   packet 1: probation, not counted; packet 2 (first valid): transit recorded, no sample
  //   packet 3, D = 0:   J16 = 0
  //   packet 4, D = 80:  J16 = 0 + 80 - 0 = 80 -> 5
  //   packet 5, D = 80 (back on time): 80 + 80 - 5 = 155 -> 9
  //   packet 6, D = 0:   155 - 10 = 145 -> 9;  packet 7: 145 - 9 = 136 -> 8
  //   packet 8, D = 0:   136 - ((136 + 8) >> 4 = 9) = 127 -> 7
  // The float form of RFC 3550 6.4.1 (J += (|D| - J) / 16) gives 5, 9.6875, 9.08, 8.51, 7.98.
  RtcpReport r(config());
  const int64_t arrive[] = {0, 20000, 40000, 70000, 80000, 100000, 120000, 140000};  // us
  const uint32_t expect[] = {0, 0, 0, 5, 9, 9, 8, 7};
  for (int i = 0; i < 8; ++i) {
    Bytes p = rtp(uint16_t(2 + i), uint32_t(5000 + 160 * i), kPeerSsrc);
    r.on_received(p.data(), p.size(), kT0 + arrive[i]);
    EXPECT_EQ(r.peer().jitter, expect[i]) << "packet " << i + 1;
  }
  Decoded d = build(r, kT0 + 140000);
  EXPECT_EQ(d.blocks[0].jitter, 7u);

  // Packets repeating the previous timestamp (telephone-event updates) add no sample even when
  // they arrive late; a new timestamp does.
  receive(r, rtp(10, 5000 + 160 * 7, kPeerSsrc), kT0 + 200000);
  EXPECT_EQ(r.peer().jitter, 7u);

  // The same at 48 kHz: 10 ms late is 480 ticks: 480/16 = 30, then 30 + (480 - 30)/16 -> 58.
  RtcpReport o(config(48000));
  for (int i = 0; i < 5; ++i) {
    Bytes p = rtp(uint16_t(2 + i), uint32_t(960 * i), kPeerSsrc);
    o.on_received(p.data(), p.size(), kT0 + arrive[i]);
  }
  EXPECT_EQ(o.peer().jitter, (480 + 480 - ((480 + 8) >> 4)) >> 4);  // 58
}

TEST(RtcpReport, SenderReportFields) {
  RtcpReport r(config(48000));
  int64_t now = kT0;
  uint32_t ts = 0xFFFFF000;  // the extrapolation wraps past 2^32
  // Five packets: plain, with CSRCs, with an extension, padded; 120 bytes of payload each.
  Bytes pk[] = {rtp(1, ts, kOurSsrc, 120), rtp(2, ts + 960, kOurSsrc, 120, 2),
                rtp(3, ts + 1920, kOurSsrc, 120, 0, 3), rtp(4, ts + 2880, kOurSsrc, 120, 0, -1, 7),
                rtp(5, ts + 3840, kOurSsrc, 120)};
  for (auto& p : pk) {
    r.on_sent(p.data(), p.size(), now);
    now += 20000;
  }
  const int64_t last_sent = now - 20000;
  // A later packet repeating the timestamp (an event update) does not move the pair.
  Bytes rep = rtp(6, ts + 3840, kOurSsrc, 0);
  r.on_sent(rep.data(), rep.size(), last_sent + 15000);

  const int64_t at = last_sent + 12345;
  Decoded d = build(r, at);
  EXPECT_EQ(d.first_type, 200);
  EXPECT_EQ(d.sender, kOurSsrc);
  EXPECT_EQ(d.packets, 6u);
  EXPECT_EQ(d.octets, 600u);  // payload only: no header, CSRC, extension, padding
  EXPECT_EQ(d.ntp, ntp_of(at));
  // 12345 us at 48 kHz = 592.56 ticks after the last sent timestamp.
  EXPECT_EQ(d.rtp_ts, uint32_t(ts + 3840 + 593));
  // The pair is consistent with the clock: NTP time elapsed since the last packet, in ticks.
  const double ntp_elapsed_s = double(d.ntp - ntp_of(last_sent)) / 4294967296.0;
  EXPECT_NEAR(double(uint32_t(d.rtp_ts - (ts + 3840))), ntp_elapsed_s * 48000, 1.0);
  EXPECT_TRUE(d.blocks.empty());  // nothing received
  EXPECT_EQ(d.sdes_ssrc, kOurSsrc);
  EXPECT_EQ(d.cname, "Zm9vYmFyYmF6cXV4");
  EXPECT_EQ(r.packets_sent(), 6u);

  // A new SSRC (a new transcoder) starts the counts again.
  Bytes fresh = rtp(100, 77, 0x55667788, 50);
  r.on_sent(fresh.data(), fresh.size(), at);
  d = build(r, at + 1000);
  EXPECT_EQ(d.sender, 0x55667788u);
  EXPECT_EQ(d.packets, 1u);
  EXPECT_EQ(d.octets, 50u);
  EXPECT_EQ(d.rtp_ts, 77u + 48u);
}

TEST(RtcpReport, ReceiverReportWhenNothingSent) {
  RtcpReport r(config());
  int64_t now = kT0;
  uint32_t ts = 0;
  receive_run(r, 1, 10, now, ts);
  Decoded d = build(r, now);
  EXPECT_EQ(d.first_type, 201);
  EXPECT_EQ(d.sender, kOurSsrc);  // the configured SSRC
  ASSERT_EQ(d.blocks.size(), 1u);
  EXPECT_EQ(d.types, (std::vector<int>{201, 202}));

  // Sending makes the next two reports SRs (RFC 3550 6.4: sent since the report before the
  // last), the third an RR again.
  Bytes p = rtp(1, 0, kOurSsrc);
  r.on_sent(p.data(), p.size(), now);
  EXPECT_EQ(build(r, now).first_type, 200);
  EXPECT_EQ(build(r, now).first_type, 200);
  EXPECT_EQ(build(r, now).first_type, 201);
  // The report block goes too once the peer stopped for two intervals.
  receive_run(r, 11, 11, now, ts);
  EXPECT_EQ(build(r, now).blocks.size(), 1u);
  EXPECT_EQ(build(r, now).blocks.size(), 1u);
  EXPECT_EQ(build(r, now).blocks.size(), 0u);
}

TEST(RtcpReport, LsrDlsrFromThePeersSr) {
  RtcpReport r(config());
  int64_t now = kT0;
  uint32_t ts = 0;
  receive_run(r, 1, 10, now, ts);
  Decoded d = build(r, now);
  EXPECT_EQ(d.blocks[0].lsr, 0u);  // no SR yet
  EXPECT_EQ(d.blocks[0].dlsr, 0u);

  Bytes sr = peer_sr(kPeerSsrc, 0x12345678, 0x9ABCDEF0);
  ASSERT_TRUE(r.on_rtcp(sr.data(), sr.size(), now));
  // An SR of some other source does not replace it.
  Bytes other = peer_sr(0x99999999, 0x11111111, 0x22222222);
  ASSERT_TRUE(r.on_rtcp(other.data(), other.size(), now + 1000));
  receive_run(r, 11, 11, now, ts);
  d = build(r, now + 1'480'000);  // 1.5 s after the SR (receive_run moved `now` by 20 ms)
  EXPECT_EQ(d.blocks[0].lsr, 0x56789ABCu);
  EXPECT_EQ(d.blocks[0].dlsr, 98304u);  // 1.5 * 65536
}

TEST(RtcpReport, TwoEndsRoundTrip) {
  // A and B are the two ends of a leg, on one clock: B answers A's SR with a report block, A
  // works out the round trip from it.
  RtcpReportConfig ca = config(8000), cb = config(8000, "peer");
  cb.ssrc = kPeerSsrc;
  RtcpReport a(ca), b(cb);
  int64_t now = kT0;
  for (uint16_t s = 0; s < 50; ++s) {
    Bytes p = rtp(s, uint32_t(s) * 160, kOurSsrc);
    a.on_sent(p.data(), p.size(), now);
    b.on_received(p.data(), p.size(), now + 30000);  // 30 ms one way
    now += 20000;
  }
  uint8_t buf[RtcpReport::kMaxPacket];
  size_t n = a.build(buf, sizeof buf, now);
  ASSERT_GT(n, 0u);
  ASSERT_TRUE(b.on_rtcp(buf, n, now + 30000));
  EXPECT_EQ(a.rtt_us(), -1);
  // B reports 250 ms after it got the SR; A has it 30 ms later: 60 ms round trip.
  n = b.build(buf, sizeof buf, now + 280000);
  ASSERT_GT(n, 0u);
  Decoded d = decode(buf, n);
  ASSERT_TRUE(d.ok) << d.error;
  ASSERT_EQ(d.blocks.size(), 1u);
  EXPECT_EQ(d.blocks[0].ssrc, kOurSsrc);
  EXPECT_EQ(d.blocks[0].ext_max, 49u);
  EXPECT_EQ(d.blocks[0].lsr, uint32_t(ntp_of(now) >> 16));
  EXPECT_EQ(d.blocks[0].dlsr, 16384u);  // 0.25 s in 1/65536 s
  // An LSR that is none of A's SRs (stale, made up) gives no round trip.
  Bytes forged(buf, buf + n);
  wr32(&forged[8 + 16], d.blocks[0].lsr + 1);
  ASSERT_TRUE(a.on_rtcp(forged.data(), forged.size(), now + 310000));
  EXPECT_EQ(a.rtt_us(), -1);
  ASSERT_TRUE(a.on_rtcp(buf, n, now + 310000));
  EXPECT_NEAR(double(a.rtt_us()), 60000, 100);  // 1/65536 s granularity
}

TEST(RtcpReport, ByeAndSmallBuffers) {
  RtcpReport r(config());
  int64_t now = kT0;
  uint32_t ts = 0;
  receive_run(r, 1, 10, now, ts);
  Bytes p = rtp(1, 0, kOurSsrc);
  r.on_sent(p.data(), p.size(), now);

  Decoded d = build(r, now, true);
  EXPECT_EQ(d.types, (std::vector<int>{200, 202, 203}));
  EXPECT_EQ(d.bye_ssrc, kOurSsrc);

  // Any cap short of the packet: 0, nothing written, nothing changed (the next report is an SR
  // still, with the same interval's fraction).
  uint8_t full[RtcpReport::kMaxPacket];
  RtcpReport copy = r;
  size_t need = copy.build(full, sizeof full, now);
  for (size_t cap = 0; cap < need; ++cap) {
    uint8_t buf[RtcpReport::kMaxPacket];
    std::memset(buf, 0xEE, sizeof buf);
    ASSERT_EQ(r.build(buf, cap, now), 0u) << cap;
    for (uint8_t b : buf) ASSERT_EQ(b, 0xEE);
  }
  uint8_t again[RtcpReport::kMaxPacket];
  ASSERT_EQ(r.build(again, sizeof again, now), need);
  EXPECT_EQ(std::memcmp(full, again, need), 0);

  // The longest CNAME: kMaxPacket is enough for SR + block + SDES + BYE.
  std::string longest(300, 'x');
  RtcpReport big(config(8000, longest.c_str()));
  now = kT0;
  receive_run(big, 1, 10, now, ts);
  big.on_sent(p.data(), p.size(), now);
  uint8_t buf[RtcpReport::kMaxPacket];
  size_t n = big.build_bye(buf, sizeof buf, now);
  EXPECT_EQ(n, RtcpReport::kMaxPacket);
  d = decode(buf, n);
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_EQ(d.cname, std::string(255, 'x'));

  // A CNAME whose item ends on a word boundary still gets its zero octet (a whole word).
  RtcpReport even(config(8000, "ab"));  // 2 + 2 = 4 bytes of item
  d = build(even, now);
  EXPECT_EQ(d.cname, "ab");
}

// A valid compound from the peer: SR with one block, SDES, BYE.
Bytes valid_compound() {
  Bytes b = peer_sr(kPeerSsrc, 0x01020304, 0x05060708, 1, kOurSsrc, 0, 0);
  Bytes bye = {0x81, 203, 0, 1, 0, 0, 0, 0};
  wr32(&bye[4], kPeerSsrc);
  b.insert(b.end(), bye.begin(), bye.end());
  return b;
}

// The LSR r would report (0 when it has none).
uint32_t lsr_of(RtcpReport r, int64_t now) {
  uint8_t buf[RtcpReport::kMaxPacket];
  size_t n = r.build(buf, sizeof buf, now);
  Decoded d = decode(buf, n);
  return d.blocks.empty() ? 0 : d.blocks[0].lsr;
}

TEST(RtcpReport, MalformedRtcpRefused) {
  RtcpReport r(config());
  int64_t now = kT0;
  uint32_t ts = 0;
  receive_run(r, 1, 10, now, ts);
  const Bytes good = valid_compound();
  ASSERT_TRUE(RtcpReport(r).on_rtcp(good.data(), good.size(), now));

  auto refused = [&](Bytes b, const char* what) {
    RtcpReport copy = r;
    EXPECT_FALSE(copy.on_rtcp(b.data(), b.size(), now)) << what;
    EXPECT_EQ(lsr_of(copy, now), 0u) << what << ": state changed";
  };
  refused({}, "empty");
  refused(Bytes(good.begin(), good.begin() + 4), "header only");
  {
    Bytes b = good;
    b[0] = uint8_t((b[0] & 0x3F) | 0x40);  // version 1
    refused(b, "version 1 first");
    b = good;
    b[28 + 24] = uint8_t((b[28 + 24] & 0x3F) | 0xC0);  // version 3 on the SDES
    refused(b, "version 3 later");
  }
  {
    Bytes b = good;
    b[3] += 1;  // SR one word longer: the lengths no longer add up
    refused(b, "length too long");
    b = good;
    b[good.size() - 8 + 3] += 1;  // the BYE, last, runs past the end
    refused(b, "last length past the end");
    b = good;
    b[3] -= 1;
    refused(b, "length too short");
    b = good;
    b.push_back(0);
    b.push_back(0);
    b.push_back(0);
    b.push_back(0);
    refused(b, "trailing word");
    b = good;
    b.pop_back();
    refused(b, "not a multiple of 4");
  }
  {
    Bytes b = good;
    b[1] = 202;  // SDES first
    refused(b, "first not SR/RR");
    b = good;
    b[28 + 24 + 1] = 190;  // below the RTCP range (RFC 5761)
    refused(b, "type 190");
    b = good;
    b[28 + 24 + 1] = 224;  // above it
    refused(b, "type 224");
    b = good;
    b[0] |= 0x20;  // padding on the first packet
    refused(b, "padding first");
    b = good;
    b[0] = 0x82;  // two report blocks that are not there
    refused(b, "report count too big");
  }
  {
    // Padding is allowed on the last packet only, and must fit.
    Bytes pad = good;
    pad.insert(pad.end(), {0x80 | 0x20 | 1, 203, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4});
    EXPECT_TRUE(RtcpReport(r).on_rtcp(pad.data(), pad.size(), now));
    Bytes zero = pad;
    zero.back() = 0;
    refused(zero, "padding count 0");
    Bytes big = pad;
    big.back() = 12;
    refused(big, "padding longer than the packet's body");
    Bytes middle = good;
    middle[28 + 24] |= 0x20;  // SDES padded, BYE after it
    refused(middle, "padding not last");
  }
  // Every prefix of the valid compound: refused unless it ends at a packet boundary (a shorter
  // compound that is still valid), in which case the SR is taken.
  const std::set<size_t> boundaries = {28 + 24, 28 + 24 + 16, good.size()};
  for (size_t n = 0; n <= good.size(); ++n) {
    RtcpReport copy = r;
    bool ok = copy.on_rtcp(good.data(), n, now);
    EXPECT_EQ(ok, boundaries.count(n) == 1) << "prefix " << n;
    EXPECT_EQ(lsr_of(copy, now), ok ? 0x03040506u : 0u) << "prefix " << n;
  }
  // RTP handed in as RTCP, and RTCP handed in as RTP, are refused/ignored.
  Bytes media = rtp(11, ts, kPeerSsrc);
  EXPECT_FALSE(RtcpReport(r).on_rtcp(media.data(), media.size(), now));
  RtcpReport copy = r;
  uint32_t before = copy.peer().received;
  copy.on_received(good.data(), good.size(), now);
  EXPECT_EQ(copy.peer().received, before);
  // Truncated or malformed RTP is ignored.
  for (size_t n = 0; n < 12; ++n) copy.on_received(media.data(), n, now);
  Bytes bad_pad = rtp(11, ts, kPeerSsrc, 4, 0, -1, 0);
  bad_pad[0] |= 0x20;
  bad_pad.back() = 200;
  copy.on_received(bad_pad.data(), bad_pad.size(), now);
  Bytes bad_ext = rtp(11, ts, kPeerSsrc, 0, 0, 0);
  bad_ext[15] = 10;  // extension longer than the packet
  copy.on_received(bad_ext.data(), bad_ext.size(), now);
  EXPECT_EQ(copy.peer().received, before);
}

TEST(RtcpReport, ReportIntervals) {
  // A.7 with two members: min 5 s (2.5 s first), x [0.5, 1.5), / (e - 3/2).
  constexpr double kComp = 2.71828 - 1.5;
  std::set<int64_t> seen;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    RtcpReportConfig c = config();
    c.seed = seed;
    RtcpReport r(c);
    int64_t first = r.next_report_us(kT0) - kT0;
    EXPECT_GE(first, int64_t(2.5e6 * 0.5 / kComp) - 1);
    EXPECT_LT(first, int64_t(2.5e6 * 1.5 / kComp) + 1);
    uint8_t buf[RtcpReport::kMaxPacket];
    ASSERT_GT(r.build(buf, sizeof buf, kT0), 0u);
    int64_t next = r.next_report_us(kT0) - kT0;
    EXPECT_GE(next, int64_t(5e6 * 0.5 / kComp) - 1);
    EXPECT_LT(next, int64_t(5e6 * 1.5 / kComp) + 1);
    seen.insert(next);
  }
  EXPECT_GT(seen.size(), 150u);  // randomised, not one value
  // The same seed, the same intervals (tests and reproducible runs).
  RtcpReport x(config()), y(config());
  EXPECT_EQ(x.next_report_us(0), y.next_report_us(0));
}

TEST(RtcpReport, RandomCname) {
  std::string a = random_cname(), b = random_cname();
  EXPECT_EQ(a.size(), 16u);  // 96 bits in base64 (RFC 7022)
  EXPECT_NE(a, b);
  for (char c : a) EXPECT_TRUE(isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/');
}

}  // namespace
}  // namespace rtcgw::media
