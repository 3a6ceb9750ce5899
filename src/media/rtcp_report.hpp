// RTCP of one leg of a transcoded call (RFC 3550): rtcgw terminates RTP on each leg there (its
// own SSRC, sequence numbers and timestamps towards the peer; the peer's stream ends at the
// transcoder), so each leg's RTCP reports that leg's own two streams. One RtcpReport per leg:
//
//   on_sent      rtcgw's RTP towards the peer: SSRC, packet and payload octet counts, and the
//                (RTP timestamp, time) pair the Sender Report extrapolates from (6.4.1)
//   on_received  the peer's RTP: sequence tracking (appendix A.1), expected/lost (A.3),
//                interarrival jitter (A.8), all in the leg's RTP clock
//   on_rtcp      the peer's compound RTCP (decrypted), validated as in A.2 plus RFC 5761's
//                packet-type range; from its SR: LSR and its arrival for DLSR; from a report
//                block about rtcgw's stream: the round-trip time (6.4.1)
//   build        SR (rtcgw sent RTP in the last two report intervals) or RR, with one report
//                block about the peer's stream when it is being received, then SDES CNAME
//   next_report_us  when to build the next one (A.7 with two members: 5 s minimum, randomised)
//
// Time is the caller's monotonic clock in microseconds (g_get_monotonic_time()); the SR's NTP
// timestamp is that clock plus `wallclock_offset_us` (Unix time minus the monotonic clock, taken
// once per call), so it is wall-clock time for the peer's lip sync and getStats, and
// self-consistent for the round trip however the wall clock is stepped later.
//
// Single source per leg: a packet with another SSRC restarts the peer's statistics (as
// codec::Transcoder restarts its input stream). Allocation-free after construction; nothing
// throws; malformed input is refused (on_rtcp false) or ignored (on_received), never read past.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rtcgw::media {

struct RtcpReportConfig {
  uint32_t clock_rate = 8000;       // the leg's RTP clock (both directions share the codec)
  uint32_t ssrc = 0;                // rtcgw's SSRC on the leg (RR before any RTP; on_sent updates)
  std::string_view cname;           // SDES CNAME, at most 255 bytes (longer is cut)
  int64_t wallclock_offset_us = 0;  // Unix time in us minus the caller's clock in us
  uint64_t seed = 1;                // of the report interval's randomisation
  uint32_t session_bandwidth_bps = 64000;  // RTCP gets 5% of it (RFC 3550 6.2)
};

// An RFC 7022 CNAME: 96 random bits (OpenSSL RAND_bytes; std::random_device should that fail),
// base64, 16 characters. Call setup only (allocates).
std::string random_cname();

class RtcpReport {
 public:
  // RFC 3550 6.2: the minimum report interval.
  static constexpr int64_t kMinIntervalUs = 5'000'000;
  // The largest packet build() makes: SR (28) + one report block (24) + SDES with a 255-byte
  // CNAME (4 + 4 + 2 + 255 + 3), and build_bye() adds a BYE (8).
  static constexpr size_t kMaxPacket = 28 + 24 + 268 + 8;

  explicit RtcpReport(const RtcpReportConfig& cfg);

  void on_sent(const uint8_t* rtp, size_t len, int64_t now_us);
  void on_received(const uint8_t* rtp, size_t len, int64_t now_us);
  // False, with nothing changed, for a packet A.2 refuses: shorter than 8 bytes or not a whole
  // number of 32-bit words, a first packet that is not SR/RR or has padding, a version other
  // than 2, a packet type outside 192..223, lengths that do not add up to `len`, padding
  // anywhere but on the last packet or longer than it, an SR/RR whose report blocks do not fit.
  bool on_rtcp(const uint8_t* rtcp, size_t len, int64_t now_us);

  // One compound packet in out[0..return): SR or RR, then SDES CNAME. 0 (nothing written past
  // cap, nothing changed) when cap is too small. Starts a new report interval (fraction lost,
  // the SR/RR choice).
  size_t build(uint8_t* out, size_t cap, int64_t now_us);
  // The same followed by a BYE for rtcgw's SSRC (RFC 3550 6.6), when the leg ends.
  size_t build_bye(uint8_t* out, size_t cap, int64_t now_us);

  // When the next report is due, on the caller's clock: A.7's rtcp_interval for two members
  // (the 5 s minimum, 2.5 s before the first report), times a random factor in [0.5, 1.5],
  // over e - 3/2, counted from now_us.
  int64_t next_report_us(int64_t now_us);

  // The peer's stream now; fraction and cumulative lost as the last report gave them.
  struct PeerStats {
    uint32_t ssrc = 0;
    bool valid = false;           // the source passed probation (A.1)
    uint32_t extended_max = 0;    // highest sequence number with cycles
    int32_t cumulative_lost = 0;  // 24-bit clamped, as reported
    uint8_t fraction_lost = 0;    // of the last interval, /256
    uint32_t jitter = 0;          // RTP clock units
    uint32_t received = 0;        // valid packets counted
  };
  PeerStats peer() const;
  uint32_t ssrc() const { return ssrc_; }
  uint32_t packets_sent() const { return sent_packets_; }
  uint32_t octets_sent() const { return sent_octets_; }
  // The round trip the peer's last report block about rtcgw's stream gave (its LSR one of
  // rtcgw's last four SRs), in microseconds; -1 before any.
  int64_t rtt_us() const { return rtt_us_; }

 private:
  // RFC 3550 appendix A.1.
  void init_seq(uint16_t seq);
  bool update_seq(uint16_t seq);
  uint64_t ntp(int64_t now_us) const;  // 32.32 NTP time of the caller's clock
  size_t write(uint8_t* out, size_t cap, int64_t now_us, bool bye);
  double interval_s(bool initial) const;

  uint32_t clock_rate_;
  int64_t wallclock_offset_us_;
  uint32_t session_bandwidth_bps_;
  std::array<char, 255> cname_{};
  size_t cname_len_ = 0;
  uint64_t rng_;

  // Ours.
  uint32_t ssrc_;
  uint32_t sent_packets_ = 0, sent_octets_ = 0;
  bool sent_any_ = false;
  uint32_t last_sent_ts_ = 0;
  int64_t last_sent_us_ = 0;  // when the packet that first carried last_sent_ts_ went out
  bool sent_this_interval_ = false, sent_last_interval_ = false;

  // The peer's stream (A.1 source state).
  bool have_peer_ = false;
  uint32_t peer_ssrc_ = 0;
  uint16_t max_seq_ = 0;
  uint32_t cycles_ = 0;
  uint32_t base_seq_ = 0;
  uint32_t bad_seq_ = 0;
  uint32_t probation_ = 0;
  uint32_t received_ = 0;
  uint32_t expected_prior_ = 0, received_prior_ = 0;
  bool have_transit_ = false;
  int32_t transit_ = 0;
  uint32_t jitter_q4_ = 0;  // jitter x 16 (A.8's integer form)
  uint32_t last_rx_ts_ = 0;
  int64_t first_rx_us_ = 0;  // arrival times are counted from here (no overflow at 48 kHz)
  bool rx_this_interval_ = false, rx_last_interval_ = false;
  uint8_t fraction_lost_ = 0;  // as last reported
  int32_t cumulative_lost_ = 0;

  // The peer's last SR (of the stream we receive, or before we know it).
  bool have_sr_ = false;
  uint32_t sr_ssrc_ = 0;
  uint32_t lsr_ = 0;  // middle 32 bits of its NTP timestamp
  int64_t sr_arrival_us_ = 0;

  int64_t rtt_us_ = -1;
  // The middle 32 bits of the NTP time of rtcgw's last SRs: a report block's LSR must be one of
  // them to give a round trip (a peer's stale or made-up LSR gives none).
  std::array<uint32_t, 4> sr_sent_{};
  size_t sr_sent_next_ = 0;
  bool reported_ = false;     // build() has run once
  double avg_rtcp_size_ = 0;  // octets, with UDP/IP overhead (A.7)
};

}  // namespace rtcgw::media
