// The transcoder's input path (sequence tracking, the reorder buffer, decoding into the FIFO),
// make() and the calls of transcoder.hpp; the output framing is in pcm_framer.cpp, the
// telephone-event path in transcoder_events.cpp.
#include "codec/transcoder.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include "codec/transcoder_internal.hpp"

namespace rtcgw::codec {

namespace {

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

uint64_t frames20(int samples) { return uint64_t((samples + 159) / 160); }

}  // namespace

namespace internal {

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

}  // namespace internal

using namespace internal;

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

void Transcoder::Direction::begin(int64_t now_ms, uint8_t* out_buf, size_t out_cap,
                                  const PacketSink& s) {
  now = now_ms;
  o = out_buf;
  cap = out_cap;
  sink = &s;
  due();  // a late timer: what was due goes first
}

void Transcoder::Direction::finish() {
  st.jitter_depth = jb.depth();
  sink = nullptr;
  o = nullptr;
  cap = 0;
}

bool Transcoder::Direction::handle(const uint8_t* rtp, size_t len, int64_t now_ms, uint8_t* out_buf,
                                   size_t out_cap, const PacketSink& s) {
  begin(now_ms, out_buf, out_cap, s);
  bool ok = process(rtp, len);
  finish();
  return ok;
}

uint32_t Transcoder::Direction::map(uint32_t in_ts) {
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

void Transcoder::Direction::restart(const Rtp& p) {
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

void Transcoder::Direction::due() {
  for (int64_t dl; (dl = jb.deadline_ms()) >= 0 && dl <= now;) {
    ++st.hold_timeouts;
    release_head();
  }
  if (leftover_since >= 0 && leftover_since + kLeftoverWaitMs <= now) pad_leftover();
}

int64_t Transcoder::Direction::deadline() const {
  int64_t a = jb.deadline_ms();
  int64_t b = leftover_since >= 0 ? leftover_since + kLeftoverWaitMs : -1;
  if (a < 0) return b;
  if (b < 0) return a;
  return std::min(a, b);
}

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
  int mirror = 0;  // output frames the loss may skip in the sequence numbers
  if (have_audio) {
    int32_t gap = int32_t(p.ts - next_in_ts);
    if (moved > 1 && gap > 0) {
      st.lost += uint64_t(moved - 1);
      if (in.codec == Codec::kOpus) {
        conceal = int(std::min<int64_t>(gap / in_per_pcm, kMaxConceal));
        conceal -= conceal % kPlcStep;
      } else {
        // Each lost packet held at most kMaxFrame samples; never half the sequence space.
        mirror = std::min((moved - 1) * (kMaxFrame / kFrame), 16383);
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
  return b2n_->handle(rtp, len, now_ms, out, cap, sink);
}

bool Transcoder::network_to_browser(const uint8_t* rtp, size_t len, int64_t now_ms, uint8_t* out,
                                    size_t cap, const PacketSink& sink) {
  return n2b_->handle(rtp, len, now_ms, out, cap, sink);
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

const TranscoderStats& Transcoder::stats(Leg from) const {
  return (from == Leg::kBrowser ? *b2n_ : *n2b_).st;
}

const char* Transcoder::last_drop(Leg from) const {
  return (from == Leg::kBrowser ? *b2n_ : *n2b_).drop;
}

}  // namespace rtcgw::codec
