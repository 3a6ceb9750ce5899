// RTCP of rtcgw's own streams on a transcoded call (RFC 3550 section 6): there rtcgw ends the
// peer's stream and sends its own on each leg, so each leg gets Sender/Receiver Reports about
// those two streams from rtcgw, and the peer's reports feed rtcgw's (LSR/DLSR, round trip).
// Relayed calls pass RTCP end to end and never come here.
#include <glib.h>
#include <openssl/rand.h>

#include "media/anchor.hpp"
#include "rtcgw/metrics.hpp"

namespace rtcgw::media {
namespace {

uint8_t g_rtcp[RtcpReport::kMaxPacket + kSrtpMaxTrailer + 16];

uint64_t random_seed() {
  uint64_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1)
    v = uint64_t(g_get_monotonic_time());
  return v | 1;
}

}  // namespace

void Anchor::rtcp_start(const codec::TranscoderConfig& cfg) {
  if (cname_.empty()) {
    cname_ = random_cname();  // one CNAME per call for both legs (RFC 7022)
    wallclock_offset_us_ = g_get_real_time() - g_get_monotonic_time();
  }
  RtcpReportConfig b;
  b.clock_rate = uint32_t(codec::rtp_clock(cfg.browser.codec));
  b.ssrc = cfg.browser_ssrc;
  b.cname = cname_;
  b.wallclock_offset_us = wallclock_offset_us_;
  b.seed = random_seed();
  RtcpReportConfig n = b;
  n.clock_rate = uint32_t(codec::rtp_clock(cfg.network.codec));
  n.ssrc = cfg.network_ssrc;
  n.seed = random_seed();
  rtcp_browser_ = std::make_unique<RtcpReport>(b);
  rtcp_network_ = std::make_unique<RtcpReport>(n);
  rtcp_schedule();
}

void Anchor::rtcp_stop(bool send_bye) {
  if (send_bye && rtcp_browser_ && rtcp_network_) rtcp_send(true);
  rtcp_timer_.cancel();
  rtcp_browser_.reset();
  rtcp_network_.reset();
}

void Anchor::rtcp_schedule() {
  if (!rtcp_browser_) return;
  int64_t now = g_get_monotonic_time();
  int64_t due = rtcp_browser_->next_report_us(now);
  rtcp_timer_.once(unsigned(std::max<int64_t>(1, (due - now) / 1000)), [this] {
    rtcp_send(false);
    rtcp_schedule();
  });
}

void Anchor::rtcp_send(bool bye) {
  int64_t now = g_get_monotonic_time();
  if (net_.rtcp_addr.valid()) {
    size_t n = bye ? rtcp_network_->build_bye(g_rtcp, RtcpReport::kMaxPacket, now)
                   : rtcp_network_->build(g_rtcp, RtcpReport::kMaxPacket, now);
    const UdpSocket& via = net_.rtcp_mux ? net_.rtp : net_.rtcp;
    if (n > 0 && via.send(g_rtcp, n, net_.rtcp_addr)) sh_.metrics.media_packet_out(false);
  }
  // Towards the browser only on a keyed, consenting path (RFC 7675).
  if (!srtp_ || !browser_addr_.valid() || now / 1000 - consent_ms_ > sh_.consent_expiry_ms) return;
  size_t n = bye ? rtcp_browser_->build_bye(g_rtcp, RtcpReport::kMaxPacket, now)
                 : rtcp_browser_->build(g_rtcp, RtcpReport::kMaxPacket, now);
  if (n == 0) return;
  if (!srtp_->protect_rtcp(g_rtcp, n)) {
    sh_.metrics.media_dropped(std::string("srtp_protect_") + srtp_->last_error());
    return;
  }
  if (send_to_browser(g_rtcp, n)) sh_.metrics.media_packet_out(true);
}

bool Anchor::rtcp_observe(codec::Leg leg, bool rtcp, const uint8_t* p, size_t n) {
  RtcpReport* r = leg == codec::Leg::kBrowser ? rtcp_browser_.get() : rtcp_network_.get();
  if (!r) return true;
  int64_t now = g_get_monotonic_time();
  if (rtcp) return r->on_rtcp(p, n, now);
  r->on_received(p, n, now);
  return true;
}

void Anchor::rtcp_sent(codec::Leg leg, const uint8_t* rtp, size_t n) {
  RtcpReport* r = leg == codec::Leg::kBrowser ? rtcp_browser_.get() : rtcp_network_.get();
  if (r) r->on_sent(rtp, n, g_get_monotonic_time());
}

}  // namespace rtcgw::media
