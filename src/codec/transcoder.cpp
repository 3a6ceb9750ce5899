#include "codec/transcoder.hpp"

#include <algorithm>
#include <random>

#include "codec/g711.hpp"

namespace rtcgw::codec {

namespace {

constexpr size_t kRtpHeader = 12;
constexpr int kMaxPcm = 1600;      // 200 ms at 8 kHz: the longest packet we write
constexpr int kMaxFrame = 960;     // 120 ms at 8 kHz: the longest Opus packet
constexpr int kPlcStep = 20;       // 2.5 ms at 8 kHz: PLC works in multiples of it
constexpr int kMaxDropout = 3000;  // RFC 3550 appendix A.1
constexpr int kMaxMisorder = 100;

struct Rtp {
  bool marker;
  uint8_t pt;
  uint16_t seq;
  uint32_t ts;
  uint32_t ssrc;
  const uint8_t* payload;
  size_t len;
};

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

// RFC 3550 section 5.1: version 2, CSRCs, header extension (section 5.3.1), padding.
bool parse_rtp(const uint8_t* d, size_t n, Rtp& r) {
  if (!d || n < kRtpHeader || (d[0] >> 6) != 2) return false;
  size_t off = kRtpHeader + size_t(d[0] & 0x0F) * 4;
  if (off > n) return false;
  if (d[0] & 0x10) {
    if (off + 4 > n) return false;
    off += 4 + size_t(d[off + 2] << 8 | d[off + 3]) * 4;
    if (off > n) return false;
  }
  size_t end = n;
  if (d[0] & 0x20) {
    size_t pad = d[n - 1];
    if (pad == 0 || pad > n - off) return false;
    end -= pad;
  }
  r.marker = (d[1] & 0x80) != 0;
  r.pt = d[1] & 0x7F;
  r.seq = uint16_t(d[2] << 8 | d[3]);
  r.ts = be32(d + 4);
  r.ssrc = be32(d + 8);
  r.payload = d + off;
  r.len = end - off;
  return true;
}

void write_header(uint8_t* o, bool marker, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc) {
  o[0] = 0x80;
  o[1] = uint8_t((marker ? 0x80 : 0) | (pt & 0x7F));
  o[2] = uint8_t(seq >> 8);
  o[3] = uint8_t(seq);
  for (int i = 0; i < 4; ++i) {
    o[4 + i] = uint8_t(ts >> (24 - 8 * i));
    o[8 + i] = uint8_t(ssrc >> (24 - 8 * i));
  }
}

bool is_g711(Codec c) { return c != Codec::kOpus; }
G711Law law_of(Codec c) { return c == Codec::kPcma ? G711Law::kAlaw : G711Law::kUlaw; }

// Frame sizes libopus encodes, at 8 kHz: 2.5, 5, 10, 20, 40, 60 ms.
bool opus_frame_size(int n) {
  return n == 20 || n == 40 || n == 80 || n == 160 || n == 320 || n == 480;
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

uint64_t frames20(int samples) { return uint64_t((samples + 159) / 160); }

}  // namespace

const char* codec_name(Codec c) {
  switch (c) {
    case Codec::kOpus:
      return "opus";
    case Codec::kPcmu:
      return "PCMU";
    case Codec::kPcma:
      return "PCMA";
  }
  return "?";
}

int rtp_clock(Codec c) { return c == Codec::kOpus ? 48000 : 8000; }

void randomize_stream_ids(TranscoderConfig& cfg) {
  std::random_device rd;
  cfg.browser_ssrc = rd();
  cfg.network_ssrc = rd();
  cfg.browser_seq = uint16_t(rd());
  cfg.network_seq = uint16_t(rd());
  cfg.browser_ts = rd();
  cfg.network_ts = rd();
}

// One direction: the input stream's state, the codecs, the output stream's state.
struct Transcoder::Direction {
  LegFormat in, out;
  int in_clock = 8000, out_clock = 8000;
  int in_per_pcm = 1, out_per_pcm = 1;  // RTP clock units per 8 kHz sample
  uint32_t out_ssrc = 0;
  std::unique_ptr<OpusDec> dec;
  std::unique_ptr<OpusEnc> enc;
  std::unique_ptr<ToneGenerator> tone;

  // Input.
  bool started = false;
  uint32_t in_ssrc = 0;
  uint16_t last_seq = 0;
  uint32_t ref_in = 0, ref_out = 0;  // the timestamp mapping's anchor
  bool have_audio = false;
  uint32_t next_in_ts = 0;  // where the next audio packet should start (input clock)
  int last_samples = 160;   // 8 kHz samples in the last audio packet

  // Output.
  uint16_t out_seq = 0;
  uint32_t next_out_ts = 0;
  bool marker = true;

  // The current telephone-event from the input.
  bool ev_active = false, ev_ended = false, tone_guard = false;
  uint32_t ev_ts = 0;
  uint8_t ev_code = 0;
  uint16_t ev_dur = 0;

  TranscoderStats st;
  const char* drop = "none";

  int16_t pcm[kMaxPcm];

  bool dropped(const char* why, uint64_t& counter) {
    drop = why;
    ++counter;
    return false;
  }

  uint32_t map(uint32_t in_ts) {
    int32_t d = int32_t(in_ts - ref_in);
    uint32_t out = ref_out + uint32_t(floor_div(int64_t(d) * out_clock, in_clock));
    // Keep the anchor within reach of int32 (about 12 hours at 48 kHz); move it only where the
    // mapping is exact so that nothing shifts.
    if ((d > (1 << 28) || d < -(1 << 28)) && int64_t(d) * out_clock % in_clock == 0) {
      ref_in = in_ts;
      ref_out = out;
    }
    return out;
  }

  // A new input stream: its first packet maps to where the output stream continues.
  void restart(const Rtp& p) {
    if (started) ++st.restarts;
    started = true;
    in_ssrc = p.ssrc;
    ref_in = p.ts;
    ref_out = next_out_ts;
    last_seq = uint16_t(p.seq - 1);
    have_audio = false;
    marker = true;
    ev_active = false;
    tone_guard = false;
    if (tone) tone->stop();
    if (dec) dec->reset();
  }

  // Sequence number check: > 0 the packet is new (the value is how far it moved on), 0 late.
  int accept(const Rtp& p) {
    if (!started || p.ssrc != in_ssrc) {
      restart(p);
      return 1;
    }
    int d = int16_t(uint16_t(p.seq - last_seq));
    if (d <= 0 && d >= -kMaxMisorder) return 0;
    if (d > kMaxDropout || d < -kMaxMisorder) {
      restart(p);
      return 1;
    }
    return d;
  }

  bool process(const uint8_t* rtp, size_t len, uint8_t* o, size_t cap, size_t& out_len);
  bool audio(const Rtp& p, int moved, uint8_t* o, size_t cap, size_t& out_len);
  bool event(const Rtp& p, int moved, uint8_t* o, size_t cap, size_t& out_len);
  bool event_in_band(const Rtp& p, const EventPayload& ev, bool fresh, uint8_t* o, size_t cap,
                     size_t& out_len);
};

bool Transcoder::Direction::process(const uint8_t* rtp, size_t len, uint8_t* o, size_t cap,
                                    size_t& out_len) {
  ++st.packets_in;
  out_len = 0;
  Rtp p;
  if (!parse_rtp(rtp, len, p)) return dropped("malformed", st.malformed);
  const bool is_event = in.event_payload_type >= 0 && p.pt == in.event_payload_type;
  if (!is_event && p.pt != in.payload_type) {
    // Another payload type of this stream (comfort noise, RED, ...) still uses up a sequence
    // number: move on so that it does not look like a loss.
    if (started && p.ssrc == in_ssrc) {
      int d = int16_t(uint16_t(p.seq - last_seq));
      if (d > 0 && d <= kMaxDropout) last_seq = p.seq;
    }
    return dropped("payload_type", st.bad_payload_type);
  }
  int moved = accept(p);
  if (moved == 0) return dropped("late", st.late);
  bool ok = is_event ? event(p, moved, o, cap, out_len) : audio(p, moved, o, cap, out_len);
  if (ok) ++st.packets_out;
  return ok;
}

bool Transcoder::Direction::audio(const Rtp& p, int moved, uint8_t* o, size_t cap,
                                  size_t& out_len) {
  const int plen = int(std::min<size_t>(p.len, 65535));
  // Samples (8 kHz) of this packet.
  int n = 0;
  bool corrupt = false;
  if (in.codec == Codec::kOpus) {
    n = opus_packet_samples(p.payload, plen, kPcmRate);
    if (n <= 0 || n > kMaxFrame) {
      corrupt = true;
      n = last_samples;
    }
  } else {
    n = plen;
    if (n <= 0 || n > kMaxFrame) {
      last_seq = p.seq;
      return dropped("frame_size", st.malformed);
    }
  }
  if (out.codec == Codec::kOpus && !opus_frame_size(n)) {
    last_seq = p.seq;
    return dropped("frame_size", st.malformed);
  }

  // A digit being played in-band owns the output until its end.
  if (tone_guard) {
    if ((tone && tone->active()) || int32_t(map(p.ts) - next_out_ts) < 0) {
      last_seq = p.seq;
      return dropped("dtmf_tone", st.events_dropped);
    }
    tone_guard = false;
    marker = true;
  }

  // What is missing in front of this packet.
  int conceal = 0;
  int skipped = 0;
  if (have_audio) {
    int32_t gap = int32_t(p.ts - next_in_ts);
    if (moved > 1 && gap > 0) {
      st.lost += uint64_t(moved - 1);
      if (in.codec == Codec::kOpus) {
        int64_t gap_pcm = gap / in_per_pcm;
        conceal = int(std::min<int64_t>(gap_pcm, kMaxPcm - n));
        conceal -= conceal % kPlcStep;
        if (conceal < 0) conceal = 0;
      } else {
        skipped = moved - 1;
      }
      if (conceal < gap / in_per_pcm) marker = true;  // part of the gap stays a gap
    } else if (gap != 0) {
      marker = true;  // silence (DTX), or after a telephone-event
    }
    if (gap < 0) {  // timestamps went backwards: continue the output timeline from here
      ref_in = p.ts;
      ref_out = next_out_ts;
    }
  }
  const int total = conceal + n;
  if (cap < kRtpHeader + 1 || (is_g711(out.codec) && cap < kRtpHeader + size_t(total))) {
    return dropped("no_room", st.errors);
  }

  // Decode: PLC for the older part of the gap, FEC for the frame just before this packet, then
  // the packet itself.
  int pos = 0;
  if (conceal > 0) {
    int fec = (!corrupt && conceal >= n && opus_packet_has_fec(p.payload, plen)) ? n : 0;
    int plc = conceal - fec;
    while (plc > 0) {
      int step = std::min(plc, kMaxFrame);
      int r = dec->conceal(pcm + pos, step);
      if (r != step) std::fill(pcm + pos, pcm + pos + step, int16_t(0));
      pos += step;
      plc -= step;
      st.concealed += frames20(step);
    }
    if (fec > 0) {
      int r = dec->decode_fec(p.payload, plen, pcm + pos, fec);
      if (r == fec) {
        ++st.fec;
      } else {
        r = dec->conceal(pcm + pos, fec);
        if (r != fec) std::fill(pcm + pos, pcm + pos + fec, int16_t(0));
        st.concealed += frames20(fec);
      }
      pos += fec;
    }
  }
  if (in.codec == Codec::kOpus) {
    if (!corrupt) {
      int r = dec->decode(p.payload, plen, pcm + pos, n);
      if (r != n) corrupt = true;
    }
    if (corrupt) {
      ++st.corrupt;
      int r = dec->conceal(pcm + pos, n);
      if (r != n) std::fill(pcm + pos, pcm + pos + n, int16_t(0));
      st.concealed += frames20(n);
    } else {
      ++st.decoded;
    }
  } else {
    g711_decode(law_of(in.codec), p.payload, size_t(n), pcm + pos);
    ++st.decoded;
  }
  pos += n;

  // Encode.
  size_t payload = 0;
  if (is_g711(out.codec)) {
    g711_encode(law_of(out.codec), pcm, size_t(pos), o + kRtpHeader);
    payload = size_t(pos);
  } else {
    int room = int(std::min<size_t>(cap - kRtpHeader, 1500));
    int r = enc->encode(pcm, pos, o + kRtpHeader, room);
    if (r < 0) {
      last_seq = p.seq;
      return dropped("encode", st.errors);
    }
    payload = size_t(r);
  }

  const uint32_t ts = map(p.ts) - uint32_t(conceal * out_per_pcm);
  out_seq = uint16_t(out_seq + skipped);
  write_header(o, marker || p.marker, out.payload_type, out_seq++, ts, out_ssrc);
  out_len = kRtpHeader + payload;
  marker = false;
  next_out_ts = ts + uint32_t(pos * out_per_pcm);
  next_in_ts = p.ts + uint32_t(n * in_per_pcm);
  last_samples = n;
  have_audio = true;
  last_seq = p.seq;
  return true;
}

bool Transcoder::Direction::event(const Rtp& p, int moved, uint8_t* o, size_t cap,
                                  size_t& out_len) {
  last_seq = p.seq;
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
    if (tone) return event_in_band(p, *ev, fresh, o, cap, out_len);
    return dropped("event_unsupported", st.events_dropped);
  }
  if (cap < kRtpHeader + kEventPayloadSize) return dropped("no_room", st.errors);
  uint32_t dur = scale_duration(ev->duration, in_clock, out_clock);
  uint32_t seg = dur > kMaxEventDuration ? (dur - 1) / kMaxEventDuration : 0;
  EventPayload outev = *ev;
  outev.duration = uint16_t(dur - seg * kMaxEventDuration);
  const uint32_t ts = map(p.ts) + seg * kMaxEventDuration;
  write_header(o, p.marker && seg == 0, uint8_t(out.event_payload_type), out_seq++, ts, out_ssrc);
  codec::write_event(outev, o + kRtpHeader);
  out_len = kRtpHeader + kEventPayloadSize;
  ++st.events_relayed;
  return true;
}

bool Transcoder::Direction::event_in_band(const Rtp& p, const EventPayload& ev, bool fresh,
                                          uint8_t* o, size_t cap, size_t& out_len) {
  const uint32_t start = map(p.ts);
  if (fresh) {
    if (!tone->start(digit_of_event(ev.event)))
      return dropped("event_unsupported", st.events_dropped);
    tone_guard = true;
    if (int32_t(start - next_out_ts) > 0) next_out_ts = start;  // silence before the digit
    marker = true;
  }
  if (!tone->active()) return dropped("event_repeat", st.events_dropped);
  const uint32_t end = start + scale_duration(ev.duration, in_clock, out_clock);
  int32_t n = int32_t(end - next_out_ts);
  if (n <= 0) {
    if (ev.end) tone->stop();
    return dropped("event_repeat", st.events_dropped);
  }
  n = std::min<int32_t>(n, kMaxPcm);
  if (cap < kRtpHeader + size_t(n)) return dropped("no_room", st.errors);
  tone->generate(pcm, n);
  g711_encode(law_of(out.codec), pcm, size_t(n), o + kRtpHeader);
  write_header(o, marker, out.payload_type, out_seq++, next_out_ts, out_ssrc);
  out_len = kRtpHeader + size_t(n);
  marker = false;
  next_out_ts += uint32_t(n);
  if (ev.end && int32_t(end - next_out_ts) <= 0) tone->stop();
  ++st.tone_packets;
  return true;
}

Transcoder::Transcoder() = default;
Transcoder::~Transcoder() = default;

std::unique_ptr<Transcoder> Transcoder::make(const TranscoderConfig& cfg, std::string& err) {
  const LegFormat& b = cfg.browser;
  const LegFormat& n = cfg.network;
  if (b.codec == Codec::kOpus && n.codec == Codec::kOpus) {
    err = "transcoder: Opus on both legs needs no transcoding";
    return nullptr;
  }
  for (const LegFormat* l : {&b, &n}) {
    if (l->payload_type > 127 || l->event_payload_type > 127 || l->event_payload_type < -1 ||
        l->event_payload_type == l->payload_type) {
      err = "transcoder: payload types must be 0..127 and differ between audio and events";
      return nullptr;
    }
  }
  std::unique_ptr<Transcoder> t(new Transcoder());
  t->b2n_ = std::make_unique<Direction>();
  t->n2b_ = std::make_unique<Direction>();
  struct Setup {
    Direction* d;
    const LegFormat& in;
    const LegFormat& out;
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts;
  } setups[] = {{t->b2n_.get(), b, n, cfg.network_ssrc, cfg.network_seq, cfg.network_ts},
                {t->n2b_.get(), n, b, cfg.browser_ssrc, cfg.browser_seq, cfg.browser_ts}};
  for (auto& s : setups) {
    Direction& d = *s.d;
    d.in = s.in;
    d.out = s.out;
    d.in_clock = rtp_clock(s.in.codec);
    d.out_clock = rtp_clock(s.out.codec);
    d.in_per_pcm = d.in_clock / kPcmRate;
    d.out_per_pcm = d.out_clock / kPcmRate;
    d.out_ssrc = s.ssrc;
    d.out_seq = s.seq;
    d.next_out_ts = s.ts;
    if (s.in.codec == Codec::kOpus && !(d.dec = OpusDec::make(kPcmRate, err))) return nullptr;
    if (s.out.codec == Codec::kOpus && !(d.enc = OpusEnc::make(kPcmRate, cfg.opus, err)))
      return nullptr;
    if (is_g711(s.out.codec) && s.out.event_payload_type < 0 && s.in.event_payload_type >= 0 &&
        !(d.tone = ToneGenerator::make(err)))
      return nullptr;
  }
  return t;
}

bool Transcoder::browser_to_network(const uint8_t* rtp, size_t len, uint8_t* out, size_t cap,
                                    size_t& out_len) {
  return b2n_->process(rtp, len, out, cap, out_len);
}

bool Transcoder::network_to_browser(const uint8_t* rtp, size_t len, uint8_t* out, size_t cap,
                                    size_t& out_len) {
  return n2b_->process(rtp, len, out, cap, out_len);
}

bool Transcoder::relay_event(Leg from, const uint8_t* rtp, size_t len, uint8_t* out, size_t cap,
                             size_t& out_len) {
  Direction& d = from == Leg::kBrowser ? *b2n_ : *n2b_;
  Rtp p;
  out_len = 0;
  if (d.in.event_payload_type < 0 || !parse_rtp(rtp, len, p) || p.pt != d.in.event_payload_type) {
    ++d.st.packets_in;
    return d.dropped("payload_type", d.st.bad_payload_type);
  }
  return d.process(rtp, len, out, cap, out_len);
}

uint32_t Transcoder::next_timestamp(Leg to) const {
  return (to == Leg::kNetwork ? *b2n_ : *n2b_).next_out_ts;
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

const TranscoderStats& Transcoder::stats(Leg from) const {
  return (from == Leg::kBrowser ? *b2n_ : *n2b_).st;
}

const char* Transcoder::last_drop(Leg from) const {
  return (from == Leg::kBrowser ? *b2n_ : *n2b_).drop;
}

}  // namespace rtcgw::codec
