// The anchor's packet path (see anchor.hpp): reading the three sockets, the browser leg (STUN,
// DTLS, SRTP), the network leg (symmetric RTP), the relay and the transcoder between them.
#include "media/anchor.hpp"
#include "media/anchor_internal.hpp"
#include "media/demux.hpp"
#include "rtcgw/log.hpp"
#include "rtcgw/metrics.hpp"

namespace rtcgw::media {
using namespace internal;
namespace {

constexpr size_t kMaxDatagram = 1500;
// One receive batch for the whole process: the loop is single-threaded and a batch is finished
// with before the next is read. Each buffer has room for the SRTP trailer the protect step adds.
RecvBatch g_batch;
static_assert(RecvBatch::kBufSize >= kMaxDatagram + kSrtpMaxTrailer);
// At most this many batches per wakeup, so one busy socket cannot starve the loop.
constexpr int kBatchesPerWakeup = 4;

}  // namespace

void Anchor::drop(const char* reason, const Endpoint& from) {
  sh_.metrics.media_dropped(reason);
  if (g_drop_log.allow())
    spdlog::debug("media {}: dropped a packet from {}: {}", call_id_, from.text(), reason);
}

template <class F>
void Anchor::read_batches(UdpSocket& s, F&& f) {
  for (int round = 0; round < kBatchesPerWakeup; ++round) {
    int n = s.recv_batch(g_batch, kMaxDatagram);
    for (int i = 0; i < n; ++i) f(g_batch.data(i), g_batch.len(i), g_batch.from(i));
    if (n < RecvBatch::kSize) return;  // drained; the poller is level-triggered in any case
  }
}

void Anchor::on_browser_readable() {
  read_batches(browser_sock_,
               [this](uint8_t* d, size_t n, const Endpoint& from) { browser_packet(d, n, from); });
}

void Anchor::on_network_readable(bool rtcp_socket) {
  read_batches(rtcp_socket ? net_.rtcp : net_.rtp,
               [this, rtcp_socket](uint8_t* d, size_t n, const Endpoint& from) {
                 network_packet(d, n, from, rtcp_socket);
               });
}

void Anchor::on_video_readable(bool rtcp_socket) {
  read_batches(rtcp_socket ? video_.rtcp : video_.rtp,
               [this, rtcp_socket](uint8_t* d, size_t n, const Endpoint& from) {
                 video_from_network(d, n, from, rtcp_socket);
               });
}

void Anchor::browser_packet(uint8_t* buf, size_t len, const Endpoint& from) {
  PacketKind kind = classify(buf, len);
  if (kind == PacketKind::kStun) {
    uint8_t reply[1500];
    IceLite::Outcome o = ice_.handle(buf, len, from.sa(), from.len, reply, sizeof reply);
    if (o.reply_len > 0) browser_sock_.send(reply, o.reply_len, from);
    switch (o.verdict) {
      case IceLite::Verdict::kAnswered:
        last_rx_ms_ = now_ms();
        if (!browser_addr_.valid() || (o.use_candidate && (!nominated_ || from != browser_addr_))) {
          if (browser_addr_.valid() && from != browser_addr_)
            spdlog::info("media {}: browser moved to {}", call_id_, from.text());
          browser_addr_ = from;
          nominated_ = nominated_ || o.use_candidate;
          maybe_start_dtls();
        }
        if (from == browser_addr_) consent_ms_ = last_rx_ms_;  // RFC 7675 consent refreshed
        return;
      case IceLite::Verdict::kBadIntegrity:
        return drop("stun_bad_integrity", from);
      case IceLite::Verdict::kBadUsername:
        return drop("stun_bad_username", from);
      case IceLite::Verdict::kMalformed:
        return drop("stun_malformed", from);
      case IceLite::Verdict::kRoleConflict:
        return drop("stun_role_conflict", from);
      case IceLite::Verdict::kIgnored:
        return;
    }
    return;
  }
  if (!browser_addr_.valid() || from != browser_addr_) return drop("unchecked_source", from);
  last_rx_ms_ = now_ms();
  if (kind == PacketKind::kDtls) {
    // Records OpenSSL refused, or DTLS when no session takes it: counted, the session goes on.
    if (!dtls_ || !dtls_->receive(buf, len)) drop("dtls_refused", from);
    return;
  }
  if (kind != PacketKind::kRtp && kind != PacketKind::kRtcp) return drop("unknown", from);
  if (!srtp_) return drop("srtp_not_ready", from);
  bool rtcp = kind == PacketKind::kRtcp;
  size_t n = len;
  if (!(rtcp ? srtp_->unprotect_rtcp(buf, n) : srtp_->unprotect_rtp(buf, n))) {
    sh_.metrics.media_dropped(std::string("srtp_") + srtp_->last_error());
    return;
  }
  sh_.metrics.media_packet_in(true);
  if (video_on_ && (rtcp ? browser_video_rtcp(buf, n) : browser_video_rtp(buf, n)))
    return video_from_browser(buf, n, rtcp);
  if (transcoder_) {
    // Each leg's RTCP reports that leg's own streams: the browser's is not relayed.
    if (!rtcp_observe(codec::Leg::kBrowser, rtcp, buf, n)) return drop("rtcp_malformed", from);
    if (rtcp || !net_.rtp_addr.valid()) return;
    auto sink = [this](codec::Leg to, uint8_t* p, size_t n) { send_transcoded(to, p, n); };
    const codec::PacketSink out = codec::PacketSink::of(sink);
    bool taken = transcoder_->browser_to_network(buf, n, last_rx_ms_, g_transcoded,
                                                 codec::Transcoder::kMaxOutput, out);
    arm_transcoder_timer();
    if (!taken) drop("transcoder", from);
    return;
  }
  const Endpoint& to = rtcp ? net_.rtcp_addr : net_.rtp_addr;
  const UdpSocket& via = rtcp && !net_.rtcp_mux ? net_.rtcp : net_.rtp;
  if (!to.valid()) return;  // no network answer yet
  // DTMF by INFO: sequence numbers shifted around injected events, audio under them dropped.
  if (!rtcp && !injector_.relay(buf, n, last_rx_ms_)) return;
  if (via.send(buf, n, to)) sh_.metrics.media_packet_out(false);
  if (!rtcp && injector_.pacing() && !inject_timer_.active()) inject_tick();
}

// The transcoder's output (0..n packets per input, and what its timer releases): RTP to the
// IMS as it is; to the browser SRTP-protected in place (g_transcoded has room for the trailer).
void Anchor::send_transcoded(codec::Leg to, uint8_t* rtp, size_t len) {
  rtcp_sent(to, rtp, len);
  if (to == codec::Leg::kNetwork) {
    if (net_.rtp_addr.valid() && net_.rtp.send(rtp, len, net_.rtp_addr))
      sh_.metrics.media_packet_out(false);
    return;
  }
  if (!srtp_ || !browser_addr_.valid()) return;
  size_t n = len;
  if (!srtp_->protect_rtp(rtp, n)) {
    sh_.metrics.media_dropped(std::string("srtp_protect_") + srtp_->last_error());
    return;
  }
  if (send_to_browser(rtp, n)) sh_.metrics.media_packet_out(true);
}

// A one-shot timer for the transcoder's next deadline. Armed only when none is pending or the
// deadline moved earlier (a GLib source per packet would allocate on the packet path); firing
// early or for nothing is harmless: flush_due does what is due and the timer re-arms.
void Anchor::arm_transcoder_timer() {
  const int64_t due = transcoder_ ? transcoder_->next_deadline_ms() : -1;
  if (due < 0) return;
  if (transcoder_timer_.active() && transcoder_due_ms_ <= due) return;
  transcoder_due_ms_ = due;
  transcoder_timer_.once(unsigned(std::max<int64_t>(0, due - now_ms())), [this] {
    if (!transcoder_) return;
    auto sink = [this](codec::Leg to, uint8_t* p, size_t n) { send_transcoded(to, p, n); };
    transcoder_->flush_due(now_ms(), g_transcoded, codec::Transcoder::kMaxOutput,
                           codec::PacketSink::of(sink));
    arm_transcoder_timer();
  });
}

bool Anchor::latch(NetPath& p, bool rtcp_socket, const Endpoint& from, const char* what) {
  // Symmetric RTP (RFC 4961): the far end's first packet tells where it really is.
  Endpoint& addr = rtcp_socket ? p.rtcp_addr : p.rtp_addr;
  bool& latched = rtcp_socket ? p.rtcp_latched : p.latched;
  if (!latched) {
    if (addr != from)
      spdlog::debug("media {}: network {} {} latched to {}", call_id_, what,
                    rtcp_socket ? "RTCP" : "RTP", from.text());
    addr = from;
    latched = true;
  } else if (from != addr) {
    drop("unexpected_source", from);
    return false;
  }
  return true;
}

bool Anchor::browser_ready(const Endpoint& from) {
  if (!srtp_ || !browser_addr_.valid()) {
    drop("browser_not_ready", from);
    return false;
  }
  // RFC 7675 section 5.1: no media to an address whose consent (its last check) is older
  // than 30 s. last_rx_ms_ is now.
  if (last_rx_ms_ - consent_ms_ > sh_.consent_expiry_ms) {
    drop("consent_expired", from);
    return false;
  }
  return true;
}

void Anchor::protect_to_browser(uint8_t* buf, size_t len, bool rtcp) {
  size_t n = len;
  if (!(rtcp ? srtp_->protect_rtcp(buf, n) : srtp_->protect_rtp(buf, n))) {
    sh_.metrics.media_dropped(std::string("srtp_protect_") + srtp_->last_error());
    return;
  }
  if (send_to_browser(buf, n)) sh_.metrics.media_packet_out(true);
}

void Anchor::network_packet(uint8_t* buf, size_t len, const Endpoint& from, bool rtcp_socket) {
  PacketKind kind = classify(buf, len);
  if (kind != PacketKind::kRtp && kind != PacketKind::kRtcp) return drop("not_rtp", from);
  bool rtcp = rtcp_socket || kind == PacketKind::kRtcp;
  if (!latch(net_, rtcp_socket, from, "audio")) return;
  last_rx_ms_ = now_ms();
  sh_.metrics.media_packet_in(false);
  // Transcoded: the IMS's RTP and RTCP feed this leg's own reports, browser ready or not.
  if (transcoder_ && !rtcp_observe(codec::Leg::kNetwork, rtcp, buf, len))
    return drop("rtcp_malformed", from);
  if (!browser_ready(from)) return;
  if (transcoder_) {
    if (rtcp) return;  // each leg's RTCP stays on its leg
    auto sink = [this](codec::Leg to, uint8_t* p, size_t n) { send_transcoded(to, p, n); };
    const codec::PacketSink out = codec::PacketSink::of(sink);
    bool taken = transcoder_->network_to_browser(buf, len, last_rx_ms_, g_transcoded,
                                                 codec::Transcoder::kMaxOutput, out);
    arm_transcoder_timer();
    if (!taken) drop("transcoder", from);
    return;
  }
  protect_to_browser(buf, len, rtcp);
}

}  // namespace rtcgw::media
