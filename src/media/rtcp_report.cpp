#include "media/rtcp_report.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <random>

namespace rtcgw::media {

namespace {

constexpr uint8_t kSr = 200, kRr = 201, kSdes = 202, kBye = 203;
constexpr uint8_t kCname = 1;
constexpr size_t kSrLen = 28, kRrLen = 8, kBlockLen = 24, kByeLen = 8;
// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
constexpr uint64_t kNtpUnixOffset = 2208988800u;
// RFC 3550 appendix A.1.
constexpr uint32_t kMinSequential = 2;
constexpr uint32_t kMaxDropout = 3000;
constexpr uint32_t kMaxMisorder = 100;
constexpr uint32_t kSeqMod = 1u << 16;
// What UDP over IPv4 adds to each RTCP packet, for A.7's average size.
constexpr double kUdpIpOverhead = 28;

uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
void put32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}
// An RTCP common header for a packet of `len` bytes (a multiple of 4).
void put_header(uint8_t* p, uint8_t count, uint8_t type, size_t len) {
  p[0] = uint8_t(0x80 | (count & 0x1F));
  p[1] = type;
  put16(p + 2, uint16_t(len / 4 - 1));
}

// RTCP packet types share the second byte with RTP's marker bit and payload types 64..95
// (RFC 5761 section 4): such a "packet" is not RTP.
bool looks_like_rtcp(const uint8_t* p) { return p[1] >= 192 && p[1] <= 223; }

struct RtpHeader {
  uint32_t ssrc, ts;
  uint16_t seq;
  size_t payload;  // octets without header, extension and padding
};

// The fixed header, CSRCs, extension and padding of an RTP packet fit in `len`.
bool parse_rtp(const uint8_t* p, size_t len, RtpHeader& h) {
  if (p == nullptr || len < 12 || (p[0] >> 6) != 2 || looks_like_rtcp(p)) return false;
  size_t off = 12 + 4 * size_t(p[0] & 0x0F);
  if (off > len) return false;
  if (p[0] & 0x10) {
    if (off + 4 > len) return false;
    off += 4 + 4 * size_t(get16(p + off + 2));
    if (off > len) return false;
  }
  size_t pad = 0;
  if (p[0] & 0x20) {
    pad = p[len - 1];
    if (pad == 0 || pad > len - off) return false;
  }
  h.seq = get16(p + 2);
  h.ts = get32(p + 4);
  h.ssrc = get32(p + 8);
  h.payload = len - off - pad;
  return true;
}

// splitmix64: a small, allocation-free generator for the interval's random factor (not for
// anything secret).
uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

std::string random_cname() {
  unsigned char raw[12];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    std::random_device rd;
    for (auto& b : raw) b = static_cast<unsigned char>(rd());
  }
  unsigned char text[4 * sizeof raw / 3 + 1];
  int n = EVP_EncodeBlock(text, raw, sizeof raw);
  if (n <= 0) return {};
  return std::string(reinterpret_cast<const char*>(text), size_t(n));
}

RtcpReport::RtcpReport(const RtcpReportConfig& cfg)
    : clock_rate_(cfg.clock_rate ? cfg.clock_rate : 8000),
      wallclock_offset_us_(cfg.wallclock_offset_us),
      session_bandwidth_bps_(cfg.session_bandwidth_bps ? cfg.session_bandwidth_bps : 64000),
      rng_(cfg.seed),
      ssrc_(cfg.ssrc) {
  cname_len_ = std::min(cfg.cname.size(), cname_.size());
  std::memcpy(cname_.data(), cfg.cname.data(), cname_len_);
  // A.7: "initialized to the probable size of the first RTCP packet".
  avg_rtcp_size_ = double(kRrLen + kBlockLen + 10 + cname_len_ + 4) + kUdpIpOverhead;
}

uint64_t RtcpReport::ntp(int64_t now_us) const {
  int64_t unix_us = now_us + wallclock_offset_us_;
  if (unix_us < 0) unix_us = 0;
  uint64_t secs = uint64_t(unix_us) / 1000000u + kNtpUnixOffset;
  uint64_t frac = (uint64_t(unix_us) % 1000000u << 32) / 1000000u;
  return secs << 32 | frac;  // seconds modulo 2^32: RFC 3550 4 accepts the 2036 wrap
}

void RtcpReport::on_sent(const uint8_t* rtp, size_t len, int64_t now_us) {
  RtpHeader h;
  if (!parse_rtp(rtp, len, h)) return;
  if (sent_any_ && h.ssrc != ssrc_) {
    // RFC 3550 6.4.1: the counts start again with a new SSRC.
    sent_packets_ = 0;
    sent_octets_ = 0;
    sent_any_ = false;
  }
  ssrc_ = h.ssrc;
  ++sent_packets_;
  sent_octets_ += uint32_t(h.payload);
  // The timestamp pair is taken when a timestamp is first sent: packets that repeat it (the
  // updates of one telephone-event) were sent later than the instant they sample.
  if (!sent_any_ || h.ts != last_sent_ts_) {
    last_sent_ts_ = h.ts;
    last_sent_us_ = now_us;
  }
  sent_any_ = true;
  sent_this_interval_ = true;
}

void RtcpReport::init_seq(uint16_t seq) {
  base_seq_ = seq;
  max_seq_ = seq;
  bad_seq_ = kSeqMod + 1;  // so seq == bad_seq_ is false
  cycles_ = 0;
  received_ = 0;
  received_prior_ = 0;
  expected_prior_ = 0;
  have_transit_ = false;
}

bool RtcpReport::update_seq(uint16_t seq) {
  uint16_t udelta = uint16_t(seq - max_seq_);
  if (probation_) {
    // The source is valid once kMinSequential packets came in sequence.
    if (seq == uint16_t(max_seq_ + 1)) {
      probation_--;
      max_seq_ = seq;
      if (probation_ == 0) {
        init_seq(seq);
        received_++;
        return true;
      }
    } else {
      probation_ = kMinSequential - 1;
      max_seq_ = seq;
    }
    return false;
  }
  if (udelta < kMaxDropout) {
    if (seq < max_seq_) cycles_ += kSeqMod;  // wrapped
    max_seq_ = seq;
  } else if (udelta <= kSeqMod - kMaxMisorder) {
    // A very large jump: the source restarted, if the next packet follows this one.
    if (seq == bad_seq_) {
      init_seq(seq);
    } else {
      bad_seq_ = (uint32_t(seq) + 1) & (kSeqMod - 1);
      return false;
    }
  }  // else a duplicate or reordered packet: counted
  received_++;
  return true;
}

void RtcpReport::on_received(const uint8_t* rtp, size_t len, int64_t now_us) {
  RtpHeader h;
  if (!parse_rtp(rtp, len, h)) return;
  if (!have_peer_ || h.ssrc != peer_ssrc_) {
    have_peer_ = true;
    peer_ssrc_ = h.ssrc;
    init_seq(h.seq);
    max_seq_ = uint16_t(h.seq - 1);
    probation_ = kMinSequential;
    jitter_q4_ = 0;
    fraction_lost_ = 0;
    cumulative_lost_ = 0;
    first_rx_us_ = now_us;
    rx_this_interval_ = rx_last_interval_ = false;
  }
  if (!update_seq(h.seq)) return;
  rx_this_interval_ = true;

  // A.8, in the stream's clock. Packets that repeat the previous timestamp (one frame in several
  // packets, telephone-event updates) were not sampled when they were sent: no jitter sample.
  if (have_transit_ && h.ts == last_rx_ts_) return;
  const uint64_t since_first = uint64_t(std::max<int64_t>(0, now_us - first_rx_us_));
  uint32_t arrival = uint32_t(since_first * clock_rate_ / 1000000u);
  int32_t transit = int32_t(arrival - h.ts);
  if (have_transit_) {
    int64_t d = int64_t(transit) - transit_;
    if (d < 0) d = -d;
    // A difference of 5 s or more is the sender's timestamps jumping, not network jitter.
    if (d < 5 * int64_t(clock_rate_)) jitter_q4_ += uint32_t(d) - ((jitter_q4_ + 8) >> 4);
  }
  transit_ = transit;
  have_transit_ = true;
  last_rx_ts_ = h.ts;
}

bool RtcpReport::on_rtcp(const uint8_t* rtcp, size_t len, int64_t now_us) {
  // A.2, the whole compound first: nothing is taken from a packet that is refused.
  if (rtcp == nullptr || len < 8 || len % 4 != 0) return false;
  for (size_t off = 0; off < len;) {
    const uint8_t* p = rtcp + off;
    const size_t plen = (size_t(get16(p + 2)) + 1) * 4;
    const uint8_t type = p[1];
    const bool padding = p[0] & 0x20;
    if ((p[0] >> 6) != 2 || type < 192 || type > 223) return false;
    if (off == 0 && ((type != kSr && type != kRr) || padding)) return false;
    if (plen > len - off) return false;
    size_t pad = 0;
    if (padding) {
      if (off + plen != len) return false;  // only the last packet may be padded
      pad = p[plen - 1];
      if (pad == 0 || pad > plen - 4) return false;
    }
    const size_t count = p[0] & 0x1F;
    if (type == kSr && kSrLen + count * kBlockLen > plen - pad) return false;
    if (type == kRr && kRrLen + count * kBlockLen > plen - pad) return false;
    off += plen;
  }

  avg_rtcp_size_ += (double(len) + kUdpIpOverhead - avg_rtcp_size_) / 16;
  for (size_t off = 0; off < len;) {
    const uint8_t* p = rtcp + off;
    const size_t plen = (size_t(get16(p + 2)) + 1) * 4;
    const uint8_t type = p[1];
    off += plen;
    if (type != kSr && type != kRr) continue;
    const uint32_t sender = get32(p + 4);
    if (type == kSr && (!have_peer_ || sender == peer_ssrc_)) {
      have_sr_ = true;
      sr_ssrc_ = sender;
      lsr_ = uint32_t(get32(p + 8) << 16 | get32(p + 12) >> 16);
      sr_arrival_us_ = now_us;
    }
    const size_t count = p[0] & 0x1F;
    const uint8_t* block = p + (type == kSr ? kSrLen : kRrLen);
    for (size_t i = 0; i < count; ++i, block += kBlockLen) {
      if (get32(block) != ssrc_) continue;
      const uint32_t lsr = get32(block + 16), dlsr = get32(block + 20);
      if (lsr == 0) continue;  // the peer has had no SR from us yet
      if (std::find(sr_sent_.begin(), sr_sent_.end(), lsr) == sr_sent_.end()) continue;
      // RFC 3550 6.4.1: A - LSR - DLSR, in 1/65536 s.
      const uint32_t a = uint32_t(ntp(now_us) >> 16);
      const int32_t rtt = int32_t(a - lsr - dlsr);
      if (rtt >= 0) rtt_us_ = int64_t(rtt) * 1000000 / 65536;
    }
  }
  return true;
}

size_t RtcpReport::build(uint8_t* out, size_t cap, int64_t now_us) {
  return write(out, cap, now_us, false);
}

size_t RtcpReport::build_bye(uint8_t* out, size_t cap, int64_t now_us) {
  return write(out, cap, now_us, true);
}

size_t RtcpReport::write(uint8_t* out, size_t cap, int64_t now_us, bool bye) {
  // RFC 3550 6.4: an SR when rtcgw sent RTP since the report before the last one.
  const bool sr = sent_any_ && (sent_this_interval_ || sent_last_interval_);
  // A report block about the peer's stream while it is being received (the same two intervals).
  const bool block = have_peer_ && probation_ == 0 && (rx_this_interval_ || rx_last_interval_);
  const size_t first = (sr ? kSrLen : kRrLen) + (block ? kBlockLen : 0);
  // SDES: header, one chunk (SSRC, CNAME item, at least one zero octet, padded to 32 bits).
  const size_t chunk = 4 + ((2 + cname_len_ + 1 + 3) & ~size_t{3});
  const size_t sdes = 4 + chunk;
  const size_t total = first + sdes + (bye ? kByeLen : 0);
  if (out == nullptr || cap < total) return 0;

  uint8_t* p = out;
  put_header(p, block ? 1 : 0, sr ? kSr : kRr, first);
  put32(p + 4, ssrc_);
  p += 8;
  if (sr) {
    const uint64_t t = ntp(now_us);
    put32(p, uint32_t(t >> 32));
    put32(p + 4, uint32_t(t));
    sr_sent_[sr_sent_next_] = uint32_t(t >> 16);
    sr_sent_next_ = (sr_sent_next_ + 1) % sr_sent_.size();
    // 6.4.1: the RTP timestamp of the same instant as the NTP timestamp, extrapolated from
    // the last sent one with the clock (rounded; elapsed time is never negative here).
    const int64_t elapsed_us = std::max<int64_t>(0, now_us - last_sent_us_);
    const uint64_t ticks = (uint64_t(elapsed_us) * clock_rate_ + 500000u) / 1000000u;
    put32(p + 8, last_sent_ts_ + uint32_t(ticks));
    put32(p + 12, sent_packets_);
    put32(p + 16, sent_octets_);
    p += 20;
  }
  if (block) {
    // A.3: expected and lost, in total and since the last report.
    const uint32_t extended_max = cycles_ + max_seq_;
    const uint32_t expected = extended_max - base_seq_ + 1;
    int64_t lost = int64_t(expected) - int64_t(received_);
    lost = std::clamp<int64_t>(lost, -0x800000, 0x7FFFFF);  // 24-bit signed field
    const uint32_t expected_interval = expected - expected_prior_;
    const uint32_t received_interval = received_ - received_prior_;
    const int64_t lost_interval = int64_t(expected_interval) - int64_t(received_interval);
    expected_prior_ = expected;
    received_prior_ = received_;
    fraction_lost_ =
        (expected_interval == 0 || lost_interval <= 0)
            ? 0
            : uint8_t(std::min<int64_t>((lost_interval << 8) / expected_interval, 255));
    cumulative_lost_ = int32_t(lost);

    put32(p, peer_ssrc_);
    put32(p + 4, uint32_t(fraction_lost_) << 24 | (uint32_t(cumulative_lost_) & 0xFFFFFF));
    put32(p + 8, extended_max);
    put32(p + 12, jitter_q4_ >> 4);
    uint32_t lsr = 0, dlsr = 0;
    if (have_sr_ && sr_ssrc_ == peer_ssrc_) {
      lsr = lsr_;
      // Capped at the field's 65536 s before scaling, so the product cannot overflow.
      const int64_t delay_us =
          std::clamp<int64_t>(now_us - sr_arrival_us_, 0, int64_t{65535} * 1000000);
      dlsr = uint32_t(delay_us * 65536 / 1000000);
    }
    put32(p + 16, lsr);
    put32(p + 20, dlsr);
    p += kBlockLen;
  }

  put_header(p, 1, kSdes, sdes);
  put32(p + 4, ssrc_);
  p[8] = kCname;
  p[9] = uint8_t(cname_len_);
  std::memcpy(p + 10, cname_.data(), cname_len_);
  std::memset(p + 10 + cname_len_, 0, chunk - 4 - 2 - cname_len_);  // end of items, padding
  p += sdes;

  if (bye) {
    put_header(p, 1, kBye, kByeLen);
    put32(p + 4, ssrc_);
    p += kByeLen;
  }

  sent_last_interval_ = sent_this_interval_;
  sent_this_interval_ = false;
  rx_last_interval_ = rx_this_interval_;
  rx_this_interval_ = false;
  reported_ = true;
  avg_rtcp_size_ += (double(total) + kUdpIpOverhead - avg_rtcp_size_) / 16;
  return total;
}

// RFC 3550 appendix A.7's rtcp_interval with two members (rtcgw and the peer on this leg).
double RtcpReport::interval_s(bool initial) const {
  constexpr double kSenderFraction = 0.25, kReceiverFraction = 1 - kSenderFraction;
  const int members = 2;
  const bool we_sent = sent_this_interval_ || sent_last_interval_;
  const int senders = int(we_sent) + int(rx_this_interval_ || rx_last_interval_);
  double rtcp_bw = 0.05 * session_bandwidth_bps_ / 8;  // octets per second
  double min_time = kMinIntervalUs / 1e6;
  if (initial) min_time /= 2;
  int n = members;
  if (senders <= members * kSenderFraction) {
    if (we_sent) {
      rtcp_bw *= kSenderFraction;
      n = senders;
    } else {
      rtcp_bw *= kReceiverFraction;
      n -= senders;
    }
  }
  double t = avg_rtcp_size_ * n / rtcp_bw;
  return std::max(t, min_time);
}

int64_t RtcpReport::next_report_us(int64_t now_us) {
  constexpr double kCompensation = 2.71828 - 1.5;                // e - 3/2 (A.7)
  const double r = double(next_random(rng_) >> 11) * 0x1.0p-53;  // [0, 1)
  const double t = interval_s(!reported_) * (r + 0.5) / kCompensation;
  return now_us + int64_t(t * 1e6);
}

RtcpReport::PeerStats RtcpReport::peer() const {
  PeerStats s;
  s.ssrc = peer_ssrc_;
  s.valid = have_peer_ && probation_ == 0;
  s.extended_max = cycles_ + max_seq_;
  s.cumulative_lost = cumulative_lost_;
  s.fraction_lost = fraction_lost_;
  s.jitter = jitter_q4_ >> 4;
  s.received = received_;
  return s;
}

}  // namespace rtcgw::media
