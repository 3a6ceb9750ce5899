// telephone-event (RFC 4733) through a transcoder: events relayed to the other leg with its
// payload type, clock and sequence, or played in-band (spandsp) towards a G.711 leg without
// telephone-event; play_tone() and write_event() for digits that come by SIP INFO.
#include <algorithm>

#include "codec/transcoder_internal.hpp"

namespace rtcgw::codec {

using namespace internal;

bool Transcoder::Direction::event(const Rtp& p, int moved) {
  EventError err;
  auto ev = parse_event(p.payload, p.len, &err);
  if (!ev) return dropped("event", st.events_dropped);
  const bool fresh = !ev_active || p.ts != ev_ts;
  if (!fresh) {
    // The same event again: its duration only grows, and it ends once.
    if (ev->event != ev_code || ev->duration < ev_dur || (ev_ended && ev->duration != ev_dur))
      return dropped("event_duration", st.events_dropped);
  }
  ev_active = true;
  ev_ts = p.ts;
  ev_code = ev->event;
  ev_dur = ev->duration;
  ev_ended = fresh ? ev->end : (ev_ended || ev->end);

  if (out.event_payload_type < 0) {
    if (!tone || !is_g711(out.codec)) return dropped("event_unsupported", st.events_dropped);
    if (!inband) return dropped("event_no_inband", st.events_dropped);
    if (tone_left > 0) return dropped("dtmf_tone", st.events_dropped);  // play_tone() has it
    return event_in_band(p, *ev, fresh);
  }
  if (fresh) pad_leftover();  // the audio before the digit goes first, whole
  uint32_t dur = scale_duration(ev->duration, in_clock, out_clock);
  // An end packet of a duration too short to show at the slower clock still says "some": an
  // end with duration 0 is invalid (RFC 4733 section 2.5.1.3; found by fuzz_opus_rtp).
  if (dur == 0 && ev->duration > 0) dur = 1;
  uint32_t seg = dur > kMaxEventDuration ? (dur - 1) / kMaxEventDuration : 0;
  EventPayload outev = *ev;
  outev.duration = uint16_t(dur - seg * kMaxEventDuration);
  const uint32_t ts = map(p.ts) + seg * kMaxEventDuration;
  write_header(o, p.marker && seg == 0, uint8_t(out.event_payload_type), out_seq++, ts, out_ssrc);
  codec::write_event(outev, o + kRtpHeader);
  send(kRtpHeader + kEventPayloadSize);
  ++st.events_relayed;
  return true;
}

bool Transcoder::Direction::event_in_band(const Rtp& p, const EventPayload& ev, bool fresh) {
  const uint32_t start = map(p.ts);
  const uint64_t before = st.packets_out;
  if (fresh) {
    if (!tone->start(digit_of_event(ev.event)))
      return dropped("event_unsupported", st.events_dropped);
    tone_guard = true;
    pad_leftover();
    if (int32_t(start - next_out_ts()) > 0) fifo_ts = start;  // silence before the digit
    marker = true;
  }
  if (!tone->active()) return dropped("event_repeat", st.events_dropped);
  const uint32_t end = start + scale_duration(ev.duration, in_clock, out_clock);
  int32_t n = int32_t(end - next_out_ts());
  if (n <= 0) {
    if (ev.end) {
      tone->stop();
      pad_leftover();
      st.tone_packets += st.packets_out - before;
    }
    return dropped("event_repeat", st.events_dropped);
  }
  n = std::min<int32_t>(n, kMaxConceal);
  tone->generate(fifo + fifo_len, n);
  fifo_len += n;
  emit_frames();
  if (ev.end && int32_t(end - next_out_ts()) <= 0) {
    tone->stop();
    pad_leftover();  // the tone's last few ms go now, not with the next talkspurt
  }
  st.tone_packets += st.packets_out - before;
  return true;
}

bool Transcoder::relay_event(Leg from, const uint8_t* rtp, size_t len, int64_t now_ms, uint8_t* out,
                             size_t cap, const PacketSink& sink) {
  Direction& d = from == Leg::kBrowser ? *b2n_ : *n2b_;
  Rtp p;
  if (d.in.event_payload_type < 0 || !parse_rtp(rtp, len, p) || p.pt != d.in.event_payload_type) {
    ++d.st.packets_in;
    return d.dropped("payload_type", d.st.bad_payload_type);
  }
  return d.handle(rtp, len, now_ms, out, cap, sink);
}

uint32_t Transcoder::next_timestamp(Leg to) const {
  return (to == Leg::kNetwork ? *b2n_ : *n2b_).next_out_ts();
}

bool Transcoder::write_event(Leg to, const EventPacket& p, uint8_t* out, size_t cap,
                             size_t& out_len) {
  Direction& d = to == Leg::kNetwork ? *b2n_ : *n2b_;
  out_len = 0;
  if (d.out.event_payload_type < 0 || cap < kRtpHeader + kEventPayloadSize) return false;
  write_header(out, p.marker, uint8_t(d.out.event_payload_type), d.out_seq++, p.timestamp,
               d.out_ssrc);
  codec::write_event(p.payload, out + kRtpHeader);
  out_len = kRtpHeader + kEventPayloadSize;
  return true;
}

bool Transcoder::play_tone(Leg to, uint8_t event, int duration_ms) {
  Direction& d = to == Leg::kNetwork ? *b2n_ : *n2b_;
  if (!d.tone || d.tone_left > 0 || d.tone->active()) return false;
  if (event > 15 || duration_ms < 1 || duration_ms > kMaxInfoDurationMs) return false;
  if (!d.tone->start(digit_of_event(event), duration_ms)) return false;
  d.tone_left = (duration_ms + kTonePauseMs) * (kPcmRate / 1000);
  return true;
}

bool Transcoder::tone_playing(Leg to) const {
  return (to == Leg::kNetwork ? *b2n_ : *n2b_).tone_left > 0;
}

}  // namespace rtcgw::codec
