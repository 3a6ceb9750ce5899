#include "codec/transcoder.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include "codec/g711.hpp"
#include "codec/jitter_buffer.hpp"

namespace rtcgw::codec {

namespace {

constexpr size_t kRtpHeader = 12;
constexpr int kFrame = Transcoder::kFrameSamples;
constexpr int kMaxConceal = 1600;  // 200 ms at 8 kHz: the longest gap concealed
constexpr int kMaxFrame = 960;     // 120 ms at 8 kHz: the longest Opus packet
// The FIFO: a remainder (< 20 ms), the silence padding it, the longest concealment, the longest
// packet, and a tone segment (at most kMaxConceal).
constexpr int kFifo = kFrame + kFrame + kMaxConceal + kMaxFrame;
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

// One direction: the input stream's state and its reorder buffer, the codecs, the PCM FIFO and
// the output stream's state.
struct Transcoder::Direction {
  LegFormat in, out;
  Leg to = Leg::kNetwork;
  int in_clock = 8000, out_clock = 8000;
  int in_per_pcm = 1, out_per_pcm = 1;  // RTP clock units per 8 kHz sample
  uint32_t out_ssrc = 0;
  bool inband = true;
  std::unique_ptr<OpusDec> dec;
  std::unique_ptr<OpusEnc> enc;
  std::unique_ptr<ToneGenerator> tone;

  // Input.
  bool started = false;
  uint32_t in_ssrc = 0;
  uint16_t last_seq = 0;             // the last packet decoded or relayed, in sequence order
  uint64_t missing = 0;              // bit i (1..63): last_seq - i was given up as lost
  uint32_t ref_in = 0, ref_out = 0;  // the timestamp mapping's anchor
  bool have_audio = false;
  uint32_t next_in_ts = 0;  // where the next audio packet should start (input clock)
  int last_samples = 160;   // 8 kHz samples in the last audio packet
  JitterBuffer jb;

  // Output: fifo[0..fifo_len) is audio from fifo_ts on (output clock); under 20 ms between
  // calls, the rest has gone out in 20 ms packets.
  int16_t fifo[kFifo];
  int fifo_len = 0;
  uint32_t fifo_ts = 0;
  int64_t leftover_since = -1;  // when the remainder now in the FIFO was left, -1: none
  uint16_t out_seq = 0;
  bool marker = true;
  int64_t last_emit_ms = -1;

  // The call in progress: its time and where its packets go.
  int64_t now = 0;
  uint8_t* o = nullptr;
  size_t cap = 0;
  const PacketSink* sink = nullptr;

  // The current telephone-event from the input.
  bool ev_active = false, ev_ended = false, tone_guard = false;
  uint32_t ev_ts = 0;
  uint8_t ev_code = 0;
  uint16_t ev_dur = 0;
  int tone_left = 0;  // samples of a play_tone() digit (and its pause) still to go out

  TranscoderStats st;
  const char* drop = "none";

  uint32_t next_out_ts() const { return fifo_ts + uint32_t(fifo_len * out_per_pcm); }

  bool dropped(const char* why, uint64_t& counter) {
    drop = why;
    ++counter;
    return false;
  }

  void begin(int64_t now_ms, uint8_t* out_buf, size_t out_cap, const PacketSink& s) {
    now = now_ms;
    o = out_buf;
    cap = out_cap;
    sink = &s;
    due();  // a late timer: what was due goes first
  }
  void finish() {
    st.jitter_depth = jb.depth();
    sink = nullptr;
    o = nullptr;
    cap = 0;
  }

  uint32_t map(uint32_t in_ts) {
    int32_t d = int32_t(in_ts - ref_in);
    uint32_t r = ref_out + uint32_t(floor_div(int64_t(d) * out_clock, in_clock));
    // Keep the anchor within reach of int32 (about 12 hours at 48 kHz); move it only where the
    // mapping is exact so that nothing shifts.
    if ((d > (1 << 28) || d < -(1 << 28)) && int64_t(d) * out_clock % in_clock == 0) {
      ref_in = in_ts;
      ref_out = r;
    }
    return r;
  }

  // ---- output ----

  void send(size_t len) {
    if (sink) (*sink)(to, o, len);
    ++st.packets_out;
    last_emit_ms = now;
  }

  void emit_frame(int16_t* pcm, uint32_t ts) {
    if (tone_left > 0 && tone) {  // play_tone(): the digit replaces the audio
      int k = std::min(kFrame, tone_left);
      tone->generate(pcm, k);
      tone_left -= k;
      ++st.tone_packets;
    }
    size_t payload = 0;
    if (!o || cap < kRtpHeader + (is_g711(out.codec) ? size_t(kFrame) : 1)) {
      drop = "no_room";
      ++st.errors;
      return;
    }
    if (is_g711(out.codec)) {
      g711_encode(law_of(out.codec), pcm, size_t(kFrame), o + kRtpHeader);
      payload = size_t(kFrame);
    } else {
      int room = int(std::min<size_t>(cap - kRtpHeader, 1500));
      int r = enc->encode(pcm, kFrame, o + kRtpHeader, room);
      if (r < 0) {
        drop = "encode";
        ++st.errors;
        return;
      }
      payload = size_t(r);
    }
    write_header(o, marker, out.payload_type, out_seq++, ts, out_ssrc);
    marker = false;
    send(kRtpHeader + payload);
  }

  // Sends every whole 20 ms in the FIFO; the remainder moves to its front.
  void emit_frames() {
    int off = 0;
    while (fifo_len - off >= kFrame) {
      emit_frame(fifo + off, fifo_ts);
      fifo_ts += uint32_t(kFrame * out_per_pcm);
      off += kFrame;
    }
    if (off > 0) {
      std::memmove(fifo, fifo + off, size_t(fifo_len - off) * sizeof(int16_t));
      fifo_len -= off;
    }
    if (fifo_len == 0) {
      leftover_since = -1;
    } else if (off > 0 || leftover_since < 0) {
      leftover_since = now;
    }
  }

  // The remainder, padded with silence to 20 ms, goes out now.
  void pad_leftover() {
    if (fifo_len == 0) return;
    std::fill(fifo + fifo_len, fifo + kFrame, int16_t(0));
    fifo_len = kFrame;
    emit_frames();
  }

  // Lines the FIFO up with audio that starts at `t` (output clock): a gap the remainder can
  // absorb becomes silence; a longer one sends the remainder padded and starts a new talkspurt
  // at `t` (with `mirror`, the whole 20 ms missing are skipped in the sequence numbers too).
  // Returns how many samples of the new audio overlap what is out already (to be dropped).
  int place(uint32_t t, bool mirror) {
    const int32_t d = int32_t(t - next_out_ts());
    if (d < 0) return int(std::min<int64_t>(-int64_t(d) / out_per_pcm, kFifo));
    int g = d / out_per_pcm;
    if (g == 0) return 0;
    if (fifo_len > 0) {
      const int pad = kFrame - fifo_len;
      if (g <= pad) {
        std::fill(fifo + fifo_len, fifo + fifo_len + g, int16_t(0));
        fifo_len += g;
        return 0;
      }
      pad_leftover();
      g -= pad;
    }
    if (mirror) out_seq = uint16_t(out_seq + g / kFrame);
    fifo_ts = t;
    marker = true;
    return 0;
  }

  // ---- input ----

  // A new input stream: its first packet maps to where the output stream continues.
  void restart(const Rtp& p) {
    if (started) ++st.restarts;
    started = true;
    in_ssrc = p.ssrc;
    ref_in = p.ts;
    ref_out = next_out_ts();
    last_seq = uint16_t(p.seq - 1);
    missing = 0;
    have_audio = false;
    marker = true;
    ev_active = false;
    tone_guard = false;
    if (tone && tone_left == 0) tone->stop();
    if (dec) dec->reset();
  }

  bool process(const uint8_t* rtp, size_t len);
  bool deliver(const Rtp& p);
  void release_head();
  void drain();
  void release_all() {
    while (!jb.empty()) release_head();
  }
  void due() {
    for (int64_t dl; (dl = jb.deadline_ms()) >= 0 && dl <= now;) {
      ++st.hold_timeouts;
      release_head();
    }
    if (leftover_since >= 0 && leftover_since + kLeftoverWaitMs <= now) pad_leftover();
  }
  int64_t deadline() const {
    int64_t a = jb.deadline_ms();
    int64_t b = leftover_since >= 0 ? leftover_since + kLeftoverWaitMs : -1;
    if (a < 0) return b;
    if (b < 0) return a;
    return std::min(a, b);
  }
  bool audio(const Rtp& p, int moved);
  bool event(const Rtp& p, int moved);
  bool event_in_band(const Rtp& p, const EventPayload& ev, bool fresh);
};

bool Transcoder::Direction::process(const uint8_t* rtp, size_t len) {
  ++st.packets_in;
  Rtp p;
  if (!parse_rtp(rtp, len, p)) return dropped("malformed", st.malformed);
  const bool is_event = in.event_payload_type >= 0 && p.pt == in.event_payload_type;
  if (!is_event && p.pt != in.payload_type) {
    // Another payload type of this stream (comfort noise, RED, ...) still uses up a sequence
    // number: move on when it is the next one so that it does not look like a loss.
    if (started && p.ssrc == in_ssrc && uint16_t(p.seq - last_seq) == 1) {
      last_seq = p.seq;
      missing <<= 1;
      drain();
    }
    return dropped("payload_type", st.bad_payload_type);
  }
  if (cap < kRtpHeader + (is_g711(out.codec) ? size_t(kFrame) : kEventPayloadSize))
    return dropped("no_room", st.errors);
  if (!started || p.ssrc != in_ssrc) {
    release_all();
    restart(p);
    return deliver(p);
  }
  const int d = int16_t(uint16_t(p.seq - last_seq));
  if (d <= 0 && d >= -kMaxMisorder) {
    // Late or a duplicate. Late after its gap was concealed: waiting longer would have saved it.
    const int i = -d;
    if (i > 0 && i < 64 && ((missing >> i) & 1)) {
      missing &= ~(uint64_t(1) << i);
      ++st.late_after_loss;
      jb.grow();
    }
    return dropped("late", st.late);
  }
  if (d > kMaxDropout || d < -kMaxMisorder) {
    release_all();
    restart(p);
    return deliver(p);
  }
  if (d == 1) {  // in order: never delayed
    if (jb.empty()) {
      jb.in_order();
    } else {
      ++st.reordered;  // it fills the gap later packets wait behind
    }
    bool ok = deliver(p);
    drain();
    return ok;
  }
  // A gap in front of this packet: it waits for what is missing.
  if (jb.contains(p.seq)) return dropped("late", st.late);
  jb.reordering();
  if (!jb.hold(p.seq, rtp, len, now)) {
    // Too big to hold: what waits goes first, then this one.
    release_all();
    if (int16_t(uint16_t(p.seq - last_seq)) <= 0) return dropped("late", st.late);
    return deliver(p);
  }
  while (jb.held() > jb.depth()) {
    ++st.hold_overflows;
    release_head();
  }
  return true;
}

// Decodes or relays the next packet in sequence order; what is missing in front of it is lost.
bool Transcoder::Direction::deliver(const Rtp& p) {
  const int moved = int16_t(uint16_t(p.seq - last_seq));
  missing = moved >= 64 ? 0 : missing << moved;
  if (moved > 1) {
    const int k = std::min(moved, 64);
    missing |= (k >= 64 ? ~uint64_t(0) : (uint64_t(1) << k) - 1) & ~uint64_t(1);
  }
  last_seq = p.seq;
  const bool is_event = in.event_payload_type >= 0 && p.pt == in.event_payload_type;
  return is_event ? event(p, moved) : audio(p, moved);
}

// The first packet waiting goes, its gap given up as lost; then whatever follows it in order.
void Transcoder::Direction::release_head() {
  const int i = jb.next(last_seq, false);
  if (i < 0) return;
  const JitterBuffer::Slot& s = jb.slot(i);
  Rtp p;
  if (parse_rtp(s.data, s.len, p)) deliver(p);
  jb.free(i);
  drain();
}

void Transcoder::Direction::drain() {
  for (int i; (i = jb.next(last_seq, true)) >= 0;) {
    const JitterBuffer::Slot& s = jb.slot(i);
    Rtp p;
    if (parse_rtp(s.data, s.len, p)) deliver(p);
    jb.free(i);
  }
}

bool Transcoder::Direction::audio(const Rtp& p, int moved) {
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
    if (n <= 0 || n > kMaxFrame) return dropped("frame_size", st.malformed);
  }

  // A digit being played in-band owns the output until its end.
  if (tone_guard) {
    if ((tone && tone->active()) ||
        int32_t(map(p.ts) + uint32_t(n * out_per_pcm) - next_out_ts()) <= 0) {
      return dropped("dtmf_tone", st.events_dropped);
    }
    tone_guard = false;
    if (fifo_len == 0) marker = true;
  }

  // What is missing in front of this packet.
  int conceal = 0;
  bool mirror = false;
  if (have_audio) {
    int32_t gap = int32_t(p.ts - next_in_ts);
    if (moved > 1 && gap > 0) {
      st.lost += uint64_t(moved - 1);
      if (in.codec == Codec::kOpus) {
        conceal = int(std::min<int64_t>(gap / in_per_pcm, kMaxConceal));
        conceal -= conceal % kPlcStep;
      } else {
        mirror = true;
      }
    }
    if (gap < 0) {  // timestamps went backwards: continue the output timeline from here
      ref_in = p.ts;
      ref_out = next_out_ts();
    }
  }
  uint32_t t = map(p.ts) - uint32_t(conceal * out_per_pcm);
  if (int32_t(t - next_out_ts()) < -kFrame * out_per_pcm) {
    // Far behind what went out (more than a padded remainder explains): re-anchor here.
    ref_in = p.ts;
    ref_out = next_out_ts() + uint32_t(conceal * out_per_pcm);
    t = next_out_ts();
  }
  int skip = place(t, mirror);
  if (p.marker && fifo_len == 0) marker = true;

  // Decode into the FIFO: PLC for the older part of the gap, FEC for the frame just before this
  // packet, then the packet itself.
  int16_t* pcm = fifo + fifo_len;
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
  // Audio that overlaps what went out already (a remainder sent padded before this came).
  skip = std::min(skip, pos);
  if (skip > 0) std::memmove(pcm, pcm + skip, size_t(pos - skip) * sizeof(int16_t));
  fifo_len += pos - skip;
  emit_frames();

  next_in_ts = p.ts + uint32_t(n * in_per_pcm);
  last_samples = n;
  have_audio = true;
  return true;
}

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
    Leg to;
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts;
  } setups[] = {
      {t->b2n_.get(), b, n, Leg::kNetwork, cfg.network_ssrc, cfg.network_seq, cfg.network_ts},
      {t->n2b_.get(), n, b, Leg::kBrowser, cfg.browser_ssrc, cfg.browser_seq, cfg.browser_ts}};
  for (auto& s : setups) {
    Direction& d = *s.d;
    d.in = s.in;
    d.out = s.out;
    d.to = s.to;
    d.in_clock = rtp_clock(s.in.codec);
    d.out_clock = rtp_clock(s.out.codec);
    d.in_per_pcm = d.in_clock / kPcmRate;
    d.out_per_pcm = d.out_clock / kPcmRate;
    d.out_ssrc = s.ssrc;
    d.out_seq = s.seq;
    d.fifo_ts = s.ts;
    d.inband = cfg.inband_dtmf;
    if (s.in.codec == Codec::kOpus && !(d.dec = OpusDec::make(kPcmRate, err))) return nullptr;
    if (s.out.codec == Codec::kOpus && !(d.enc = OpusEnc::make(kPcmRate, cfg.opus, err)))
      return nullptr;
    // In-band digits: relayed events towards a G.711 leg without telephone-event, and
    // play_tone() towards either leg.
    if (!(d.tone = ToneGenerator::make(err))) return nullptr;
  }
  return t;
}

bool Transcoder::browser_to_network(const uint8_t* rtp, size_t len, int64_t now_ms, uint8_t* out,
                                    size_t cap, const PacketSink& sink) {
  b2n_->begin(now_ms, out, cap, sink);
  bool ok = b2n_->process(rtp, len);
  b2n_->finish();
  return ok;
}

bool Transcoder::network_to_browser(const uint8_t* rtp, size_t len, int64_t now_ms, uint8_t* out,
                                    size_t cap, const PacketSink& sink) {
  n2b_->begin(now_ms, out, cap, sink);
  bool ok = n2b_->process(rtp, len);
  n2b_->finish();
  return ok;
}

bool Transcoder::relay_event(Leg from, const uint8_t* rtp, size_t len, int64_t now_ms, uint8_t* out,
                             size_t cap, const PacketSink& sink) {
  Direction& d = from == Leg::kBrowser ? *b2n_ : *n2b_;
  Rtp p;
  if (d.in.event_payload_type < 0 || !parse_rtp(rtp, len, p) || p.pt != d.in.event_payload_type) {
    ++d.st.packets_in;
    return d.dropped("payload_type", d.st.bad_payload_type);
  }
  d.begin(now_ms, out, cap, sink);
  bool ok = d.process(rtp, len);
  d.finish();
  return ok;
}

int64_t Transcoder::next_deadline_ms() const {
  int64_t a = b2n_->deadline(), b = n2b_->deadline();
  if (a < 0) return b;
  if (b < 0) return a;
  return std::min(a, b);
}

void Transcoder::flush_due(int64_t now_ms, uint8_t* out, size_t cap, const PacketSink& sink) {
  for (Direction* d : {b2n_.get(), n2b_.get()}) {
    d->begin(now_ms, out, cap, sink);  // begin() does what is due
    d->finish();
  }
}

void Transcoder::flush_all(int64_t now_ms, uint8_t* out, size_t cap, const PacketSink& sink) {
  for (Direction* d : {b2n_.get(), n2b_.get()}) {
    d->begin(now_ms, out, cap, sink);
    d->release_all();
    d->pad_leftover();
    d->finish();
  }
}

void Transcoder::continue_streams(TranscoderConfig& cfg, int64_t now_ms) const {
  for (const Direction* d : {b2n_.get(), n2b_.get()}) {
    const bool to_net = d->to == Leg::kNetwork;
    const int clock = rtp_clock((to_net ? cfg.network : cfg.browser).codec);
    uint32_t ts = d->next_out_ts();
    if (d->last_emit_ms >= 0) {
      // The stream's clock ran on while nothing was sent: beyond the one packet time that
      // next_out_ts already accounts for.
      int64_t idle = std::min<int64_t>(now_ms - d->last_emit_ms - JitterBuffer::kPacketMs,
                                       int64_t(24) * 3600 * 1000);
      if (idle > 0) ts += uint32_t(idle * clock / 1000);
    }
    (to_net ? cfg.network_ssrc : cfg.browser_ssrc) = d->out_ssrc;
    (to_net ? cfg.network_seq : cfg.browser_seq) = d->out_seq;
    (to_net ? cfg.network_ts : cfg.browser_ts) = ts;
  }
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

const TranscoderStats& Transcoder::stats(Leg from) const {
  return (from == Leg::kBrowser ? *b2n_ : *n2b_).st;
}

const char* Transcoder::last_drop(Leg from) const {
  return (from == Leg::kBrowser ? *b2n_ : *n2b_).drop;
}

}  // namespace rtcgw::codec
