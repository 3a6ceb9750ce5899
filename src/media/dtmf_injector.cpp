#include "media/dtmf_injector.hpp"

#include <strings.h>

#include <algorithm>
#include <string>

#include "codec/g711.hpp"

namespace rtcgw::media {
namespace {

// A sequence number this far from the newest one is not reordering but a stream that started
// over (same SSRC, new numbering): it continues from the last number sent.
constexpr int kRestartGap = 3000;

uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

// Where the payload of an RTP packet is (RFC 3550 section 5.1: CSRCs, extension, padding);
// false when the header does not fit in `len`.
bool payload_of(const uint8_t* rtp, size_t len, size_t& off, size_t& n) {
  off = 12 + 4 * size_t(rtp[0] & 0x0F);
  if (off > len) return false;
  if (rtp[0] & 0x10) {
    if (off + 4 > len) return false;
    off += 4 + 4 * size_t(get16(rtp + off + 2));
    if (off > len) return false;
  }
  size_t pad = (rtp[0] & 0x20) ? rtp[len - 1] : 0;
  if (off + pad > len) return false;
  n = len - off - pad;
  return true;
}

}  // namespace

DtmfInjector::DtmfInjector() = default;
DtmfInjector::~DtmfInjector() = default;

void DtmfInjector::set_formats(const std::vector<Format>& formats) {
  clock_.fill(0);
  law_.fill(0);
  is_event_.fill(false);
  is_cn_.fill(false);
  event_pt_8k_ = event_pt_48k_ = -1;
  for (const Format& f : formats) {
    if (f.pt < 0 || f.pt > 127 || f.rate <= 0) continue;
    const size_t pt = size_t(f.pt);
    clock_[pt] = f.rate;
    const char* e = f.encoding.c_str();
    if (strcasecmp(e, "PCMU") == 0) law_[pt] = 1;
    if (strcasecmp(e, "PCMA") == 0) law_[pt] = 2;
    is_cn_[pt] = strcasecmp(e, "CN") == 0;
    if (strcasecmp(e, "telephone-event") == 0) {
      is_event_[pt] = true;
      if (f.rate == 8000 && event_pt_8k_ < 0) event_pt_8k_ = f.pt;
      if (f.rate == 48000 && event_pt_48k_ < 0) event_pt_48k_ = f.pt;
    }
  }
}

int DtmfInjector::event_pt_for(int clock) const {
  return clock == 8000 ? event_pt_8k_ : clock == 48000 ? event_pt_48k_ : -1;
}

DtmfInjector::Mode DtmfInjector::mode_for(uint8_t event) const {
  if (!s_.known || !s_.audio_seen || event > 15) return Mode::kNone;
  const int clock = clock_[s_.audio_pt];
  if (clock == 0) return Mode::kNone;  // a payload type the network's SDP does not name
  // RFC 4733 section 2.1: the event's clock is the audio's, so Opus needs telephone-event/48000.
  if (event_pt_for(clock) >= 0) return Mode::kEvents;
  if (inband_allowed_ && law_[s_.audio_pt] != 0) return Mode::kTone;
  return Mode::kNone;
}

bool DtmfInjector::send(uint8_t event, int duration_ms, int64_t now_ms) {
  if (duration_ms < 1 || duration_ms > codec::kMaxInfoDurationMs) return false;
  const Mode m = mode_for(event);
  if (m == Mode::kNone) return false;
  // What the digit will need is made here, on the SIP path, so that starting it later from the
  // packet path or the timer allocates nothing.
  if (m == Mode::kEvents) {
    const int clock = clock_[s_.audio_pt];
    codec::EventSender sender(clock, uint8_t(event_pt_for(clock)), kReportIntervalMs);
    const size_t need = sender.count(duration_ms);
    if (need == 0) return false;
    if (packets_.capacity() < need) packets_.reserve(need);
  } else if (!tone_) {
    std::string error;
    tone_ = codec::ToneGenerator::make(error);
    if (!tone_) return false;
  }
  if (event_active_ || tone_playing() || !waiting_.empty()) {
    if (waiting_.size() >= kMaxWaiting) return false;
    if (waiting_.capacity() < kMaxWaiting) waiting_.reserve(kMaxWaiting);
    waiting_.emplace_back(event, duration_ms);
    return true;
  }
  return start(event, duration_ms, now_ms);
}

bool DtmfInjector::start(uint8_t event, int duration_ms, int64_t now_ms) {
  switch (mode_for(event)) {
    case Mode::kEvents:
      return start_events(event, duration_ms, now_ms);
    case Mode::kTone:
      return start_tone(event, duration_ms);
    case Mode::kNone:
      break;
  }
  return false;
}

bool DtmfInjector::start_events(uint8_t event, int duration_ms, int64_t now_ms) {
  const int clock = clock_[s_.audio_pt];
  const int pt = event_pt_for(clock);
  codec::EventSender sender(clock, uint8_t(pt), kReportIntervalMs);
  const size_t need = sender.count(duration_ms);
  if (need == 0 || need > packets_.capacity()) return false;  // capacity was made by send()
  packets_.resize(need);
  // The timestamp the stream has reached: the newest audio's plus the time since it came.
  const int64_t elapsed_ms = std::max<int64_t>(0, now_ms - s_.last_ts_ms);
  const uint32_t ts = s_.last_ts + uint32_t(uint64_t(elapsed_ms) * uint64_t(clock) / 1000);
  const size_t n = sender.sequence(event, duration_ms, ts, kVolume, packets_.data(), need);
  if (n == 0) return false;
  packets_.resize(n);
  next_ = 0;
  started_ms_ = now_ms;
  event_clock_ = clock;
  event_pt_ = uint8_t(pt);
  event_active_ = true;
  suppress_audio_ = true;
  return true;
}

bool DtmfInjector::start_tone(uint8_t event, int duration_ms) {
  if (!tone_) return false;
  gap_samples_ = 0;
  return tone_->start(codec::digit_of_event(event), duration_ms);
}

void DtmfInjector::start_waiting(int64_t now_ms) {
  // Digits the stream can no longer carry (its codec changed meanwhile) are dropped.
  while (!waiting_.empty()) {
    auto [event, ms] = waiting_.front();
    waiting_.erase(waiting_.begin());
    if (start(event, ms, now_ms)) return;
  }
}

void DtmfInjector::stop_event() {
  event_active_ = false;
  suppress_audio_ = false;
  packets_.clear();
  next_ = 0;
}

bool DtmfInjector::relay(uint8_t* rtp, size_t len, int64_t now_ms) {
  if (len < 12 || (rtp[0] >> 6) != 2) return true;  // not RTP as far as rtcgw can tell: as is
  const uint8_t pt = rtp[1] & 0x7F;
  const uint16_t seq = get16(rtp + 2);
  const uint32_t ts = get32(rtp + 4);
  const uint32_t ssrc = get32(rtp + 8);

  if (!s_.known || ssrc != s_.ssrc) {
    // A new stream (the browser's track changed): its numbering is its own, from offset 0. An
    // event injected into the old stream ends there; its receiver sees the SSRC change.
    if (s_.known) stop_event();
    s_ = Stream{};
    s_.known = true;
    s_.ssrc = ssrc;
    s_.highest_in = uint16_t(seq - 1);
    s_.last_out = uint16_t(seq - 1);
  }
  int delta = int16_t(uint16_t(seq - s_.highest_in));
  if (delta > kRestartGap || delta < -kRestartGap) {
    // The same SSRC numbering from elsewhere: carry on from the last number sent.
    s_.offset = uint16_t(s_.last_out + 1 - seq);
    delta = 1;
  }
  const bool newer = delta > 0;
  const bool event = is_event_[pt];

  if (!event && newer) {
    s_.last_ts = ts;
    s_.last_ts_ms = now_ms;
    if (!is_cn_[pt]) {
      s_.audio_pt = pt;
      s_.audio_seen = true;
    }
  }
  if (suppress_audio_ && !event) {
    // Audio under the digit: dropped, and the numbers it would have taken go to what follows.
    if (newer) {
      s_.highest_in = seq;
      s_.offset = uint16_t(s_.last_out - seq);
    }
    ++suppressed_;
    return false;
  }
  const uint16_t out = uint16_t(seq + s_.offset);
  put16(rtp + 2, out);
  if (newer) {
    s_.highest_in = seq;
    s_.last_out = out;
  }
  if (!event && law_[pt] != 0 && (tone_playing() || !waiting_.empty())) {
    size_t off = 0, n = 0;
    if (payload_of(rtp, len, off, n) && n > 0) inband(rtp + off, n, pt, now_ms);
  }
  return true;
}

void DtmfInjector::inband(uint8_t* payload, size_t n, uint8_t pt, int64_t now_ms) {
  if (!event_active_ && !tone_playing() && !waiting_.empty()) start_waiting(now_ms);
  const codec::G711Law law = law_[pt] == 1 ? codec::G711Law::kUlaw : codec::G711Law::kAlaw;
  n = std::min(n, pcm_.size());
  if (tone_ && tone_->active()) {
    // The tone, and silence after it in the packet where it ends.
    const int got = tone_->generate(pcm_.data(), int(n));
    codec::g711_encode(law, pcm_.data(), n, payload);
    if (!tone_->active())
      gap_samples_ = std::max<long>(0, kInbandGapMs * 8 - long(n - size_t(got)));
    return;
  }
  if (gap_samples_ > 0) {
    // The pause after a tone: silent when another digit follows it, the browser's audio if not.
    if (!waiting_.empty()) {
      std::fill(pcm_.begin(), pcm_.begin() + long(n), int16_t(0));
      codec::g711_encode(law, pcm_.data(), n, payload);
    }
    gap_samples_ = std::max<long>(0, gap_samples_ - long(n));
  }
}

bool DtmfInjector::next(int64_t now_ms, uint8_t* out, size_t cap, size_t& len) {
  len = 0;
  if (!event_active_) {
    if (waiting_.empty() || tone_playing()) return false;
    start_waiting(now_ms);
    if (!event_active_) return false;
  }
  const codec::EventPacket& p = packets_[next_];
  if (p.at_ms > now_ms - started_ms_) return false;
  codec::EventSender sender(event_clock_, event_pt_, kReportIntervalMs);
  len = sender.write_rtp(p, s_.ssrc, uint16_t(s_.last_out + 1), out, cap);
  if (len == 0) return false;
  // The injected packet takes the next number; the browser's later ones move up by one.
  ++s_.last_out;
  ++s_.offset;
  ++injected_;
  if (p.payload.end) suppress_audio_ = false;  // the digit is over: audio again
  if (++next_ == packets_.size()) stop_event();
  return true;
}

}  // namespace rtcgw::media
