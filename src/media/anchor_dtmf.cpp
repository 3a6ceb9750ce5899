// DTMF that comes by SIP INFO (dtmf.info_to_rfc4733): RFC 4733 events in rtcgw's own stream on a
// transcoded call, injected into the browser's stream on a relayed one (DtmfInjector), or tones
// in-band in the G.711 stream when the IMS took no telephone-event (dtmf.inband).
#include "media/anchor.hpp"
#include "media/anchor_internal.hpp"
#include "rtcgw/metrics.hpp"

namespace rtcgw::media {
using namespace internal;

bool Anchor::send_dtmf(uint8_t event, int duration_ms) {
  if (event > 15 || duration_ms < 1 || duration_ms > 60000 || !net_.rtp_addr.valid()) return false;
  if (!transcoder_) {
    // Relayed: into the browser's own stream, which must have begun (its SSRC, codec, clock).
    if (!injector_.send(event, duration_ms, now_ms())) return false;
    inject_tick();
    return true;
  }
  if (plan_.network_event_pt < 0) {
    // No telephone-event towards the IMS: the digit in-band in rtcgw's G.711 (dtmf.inband).
    if (!sh_.inband_dtmf) return false;
    if (dtmf_waiting_.empty() && !transcoder_->tone_playing(codec::Leg::kNetwork))
      return transcoder_->play_tone(codec::Leg::kNetwork, event, duration_ms);
    if (dtmf_waiting_.size() >= 32) return false;
    dtmf_waiting_.emplace_back(event, duration_ms);
    if (!dtmf_timer_.active()) dtmf_timer_.every(10, [this] { tone_tick(); });
    return true;
  }
  if (dtmf_timer_.active()) {
    if (dtmf_waiting_.size() >= 32) return false;
    dtmf_waiting_.emplace_back(event, duration_ms);
    return true;
  }
  dtmf_start(event, duration_ms);
  return true;
}

void Anchor::dtmf_start(uint8_t event, int duration_ms) {
  codec::EventSender sender(codec::rtp_clock(codec_of_name(plan_.network_codec)),
                            uint8_t(plan_.network_event_pt), 50);
  dtmf_packets_.resize(sender.count(duration_ms));
  size_t n = sender.sequence(event, duration_ms, transcoder_->next_timestamp(codec::Leg::kNetwork),
                             10, dtmf_packets_.data(), dtmf_packets_.size());
  dtmf_packets_.resize(n);
  dtmf_next_ = 0;
  dtmf_started_ms_ = now_ms();
  dtmf_tick();
  if (dtmf_next_ < dtmf_packets_.size()) dtmf_timer_.every(10, [this] { dtmf_tick(); });
}

void Anchor::dtmf_tick() {
  int64_t elapsed = now_ms() - dtmf_started_ms_;
  while (dtmf_next_ < dtmf_packets_.size() && dtmf_packets_[dtmf_next_].at_ms <= elapsed) {
    size_t len = 0;
    if (transcoder_ && transcoder_->write_event(codec::Leg::kNetwork, dtmf_packets_[dtmf_next_],
                                                g_transcoded, sizeof g_transcoded, len))
      send_transcoded(codec::Leg::kNetwork, g_transcoded, len);
    ++dtmf_next_;
  }
  if (dtmf_next_ < dtmf_packets_.size()) return;
  dtmf_timer_.cancel();  // safe inside its own callback: Timer::fire works on copies
  if (!dtmf_waiting_.empty() && transcoder_) {
    auto [event, ms] = dtmf_waiting_.front();
    dtmf_waiting_.erase(dtmf_waiting_.begin());
    dtmf_start(event, ms);
  }
}

void Anchor::tone_tick() {
  if (transcoder_ && transcoder_->tone_playing(codec::Leg::kNetwork)) return;
  if (!transcoder_ || dtmf_waiting_.empty()) {
    dtmf_waiting_.clear();
    dtmf_timer_.cancel();  // safe inside its own callback: Timer::fire works on copies
    return;
  }
  auto [event, ms] = dtmf_waiting_.front();
  dtmf_waiting_.erase(dtmf_waiting_.begin());
  transcoder_->play_tone(codec::Leg::kNetwork, event, ms);
}

void Anchor::inject_tick() {
  size_t len = 0;
  while (injector_.next(now_ms(), g_transcoded, sizeof g_transcoded, len))
    if (net_.rtp.send(g_transcoded, len, net_.rtp_addr)) sh_.metrics.media_packet_out(false);
  if (!injector_.pacing())
    inject_timer_.cancel();  // safe inside its own callback: Timer::fire works on copies
  else if (!inject_timer_.active())
    inject_timer_.every(10, [this] { inject_tick(); });
}

}  // namespace rtcgw::media
