// media::RtcpReport fed a sequence of packets, as one leg of a transcoded call sees them. The
// input is a list of records: [op][time step][length, 16 bits][bytes]; op % 4 says what the
// bytes are: the peer's RTP (on_received), the peer's RTCP (on_rtcp), rtcgw's RTP (on_sent), or
// a report to build (the bytes' first one is the buffer's capacity). Time steps forward by
// 0..255 ms, or by 0..255 s when op's high bit is set. The whole input is also handed once to
// on_rtcp and on_received as it is.
// Checks: every record is read from a buffer of its own exact size (ASan sees a read past it);
// on_rtcp accepts exactly what an independent A.2 walk accepts; a refused packet changes
// nothing (the next report is byte for byte what a copy taken before would have made); a report
// fits its capacity with nothing written past it, or is 0 only when the capacity is short; what
// build makes is accepted by another RtcpReport, starts with SR/RR with at most one report block
// about the peer's current SSRC, then SDES; the next report is due after now and within 1000 s
// (A.7 lengthens the interval with the average RTCP size, which the peer's packets move).
#include <cstdint>
#include <cstring>
#include <vector>

#include "media/rtcp_report.hpp"

using rtcgw::media::RtcpReport;
using rtcgw::media::RtcpReportConfig;

namespace {

uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

// RFC 3550 A.2 and RFC 5761's range, written again here from the RFC (not from the class).
bool valid_compound(const uint8_t* d, size_t n) {
  if (n < 8 || n % 4 != 0) return false;
  size_t off = 0;
  while (off < n) {
    if (n - off < 4) return false;
    const uint8_t* p = d + off;
    const size_t len = 4 * (size_t(get16(p + 2)) + 1);
    const bool pad = p[0] & 0x20;
    if ((p[0] & 0xC0) != 0x80) return false;
    if (p[1] < 192 || p[1] > 223) return false;
    if (off == 0 && ((p[1] != 200 && p[1] != 201) || pad)) return false;
    if (len > n - off) return false;
    size_t padding = 0;
    if (pad) {
      if (off + len != n) return false;
      padding = p[len - 1];
      if (padding == 0 || padding + 4 > len) return false;
    }
    const size_t blocks = 24 * size_t(p[0] & 0x1F);
    if (p[1] == 200 && 28 + blocks > len - padding) return false;
    if (p[1] == 201 && 8 + blocks > len - padding) return false;
    off += len;
  }
  return off == n;
}

RtcpReportConfig config(uint32_t clock) {
  RtcpReportConfig c;
  c.clock_rate = clock;
  c.ssrc = 0x11223344;
  c.cname = "fuzzfuzzfuzzfuzz";
  c.wallclock_offset_us = int64_t{1767225600} * 1000000;
  c.seed = 7;
  return c;
}

void check_report(RtcpReport& r, size_t cap, int64_t now, bool bye) {
  static uint8_t buf[RtcpReport::kMaxPacket + 64];
  std::memset(buf, 0xEE, sizeof buf);
  if (cap > RtcpReport::kMaxPacket) cap = RtcpReport::kMaxPacket;
  const RtcpReport before = r;
  size_t n = bye ? r.build_bye(buf, cap, now) : r.build(buf, cap, now);
  for (size_t i = n; i < sizeof buf; ++i)
    if (buf[i] != 0xEE) __builtin_trap();  // written past the packet (or anything when 0)
  if (n == 0) {
    // Only a short buffer refuses, and the state is then as before: r makes the very report
    // the copy taken before makes.
    static uint8_t a[RtcpReport::kMaxPacket], b[RtcpReport::kMaxPacket];
    RtcpReport x = before, y = r;
    size_t na = bye ? x.build_bye(a, sizeof a, now) : x.build(a, sizeof a, now);
    size_t nb = bye ? y.build_bye(b, sizeof b, now) : y.build(b, sizeof b, now);
    if (na == 0 || na <= cap || na != nb || std::memcmp(a, b, na) != 0) __builtin_trap();
    return;
  }
  if (n > cap || !valid_compound(buf, n)) __builtin_trap();
  if (buf[1] == 200 && n < 28) __builtin_trap();
  const size_t blocks = buf[0] & 0x1F;
  if (blocks > 1) __builtin_trap();
  if (blocks == 1) {
    const uint8_t* b = buf + (buf[1] == 200 ? 28 : 8);
    const uint32_t about = uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
    if (!r.peer().valid || about != r.peer().ssrc) __builtin_trap();
  }
  const size_t first = 4 * (size_t(get16(buf + 2)) + 1);
  if (first + 8 > n || buf[first + 1] != 202) __builtin_trap();
  RtcpReport other(config(8000));
  if (!other.on_rtcp(buf, n, now)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1 << 16) return 0;
  RtcpReport r(config(size % 2 ? 48000 : 8000));
  int64_t now = 1'000'000'000;
  {
    std::vector<uint8_t> whole(data, data + size);
    if (r.on_rtcp(whole.data(), whole.size(), now) != valid_compound(whole.data(), whole.size()))
      __builtin_trap();
    r.on_received(whole.data(), whole.size(), now);
  }
  size_t off = 0;
  while (off + 4 <= size) {
    const uint8_t op = data[off];
    const int64_t step = int64_t(data[off + 1]) * (op & 0x80 ? 1000000 : 1000);
    size_t len = get16(data + off + 2);
    off += 4;
    if (len > size - off) len = size - off;
    std::vector<uint8_t> rec(data + off, data + off + len);  // exact size: ASan guards the end
    off += len;
    now += step;
    switch (op % 4) {
      case 0:
        r.on_received(rec.data(), rec.size(), now);
        break;
      case 1: {
        RtcpReport before = r;
        bool ok = r.on_rtcp(rec.data(), rec.size(), now);
        if (ok != valid_compound(rec.data(), rec.size())) __builtin_trap();
        if (!ok) {
          static uint8_t a[RtcpReport::kMaxPacket], b[RtcpReport::kMaxPacket];
          RtcpReport x = r, y = before;
          size_t na = x.build(a, sizeof a, now), nb = y.build(b, sizeof b, now);
          if (na != nb || std::memcmp(a, b, na) != 0 || r.rtt_us() != before.rtt_us())
            __builtin_trap();
        }
        break;
      }
      case 2:
        r.on_sent(rec.data(), rec.size(), now);
        break;
      case 3:
        check_report(r, rec.empty() ? RtcpReport::kMaxPacket : rec[0] * 2, now, op & 0x40);
        if (int64_t next = r.next_report_us(now); next <= now || next > now + 1'000'000'000)
          __builtin_trap();
        break;
    }
  }
  check_report(r, RtcpReport::kMaxPacket, now, false);
  return 0;
}
