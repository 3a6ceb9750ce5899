// What the transcoder's source files share: Transcoder::Direction (one direction's state) and
// the RTP helpers. transcoder.cpp: the input path (sequence tracking, reorder buffer, decoding),
// make() and the public calls; pcm_framer.cpp: the output PCM FIFO and its 20 ms packets;
// transcoder_events.cpp: telephone-events, play_tone() and in-band digits. Not for use outside
// the Transcoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "codec/dtmf.hpp"
#include "codec/g711.hpp"
#include "codec/jitter_buffer.hpp"
#include "codec/opus.hpp"
#include "codec/transcoder.hpp"

namespace rtcgw::codec::internal {

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

// RFC 3550 section 5.1: version 2, CSRCs, header extension (section 5.3.1), padding.
bool parse_rtp(const uint8_t* d, size_t n, Rtp& r);
void write_header(uint8_t* o, bool marker, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc);

inline bool is_g711(Codec c) { return c != Codec::kOpus; }
inline G711Law law_of(Codec c) { return c == Codec::kPcma ? G711Law::kAlaw : G711Law::kUlaw; }

}  // namespace rtcgw::codec::internal

namespace rtcgw::codec {

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
  int16_t fifo[internal::kFifo];
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

  // ---- a call (transcoder.cpp) ----

  void begin(int64_t now_ms, uint8_t* out_buf, size_t out_cap, const PacketSink& s);
  void finish();
  // begin(), process(), finish(): one packet in from a public call.
  bool handle(const uint8_t* rtp, size_t len, int64_t now_ms, uint8_t* out_buf, size_t out_cap,
              const PacketSink& s);
  uint32_t map(uint32_t in_ts);

  // ---- output (pcm_framer.cpp) ----

  void send(size_t len);
  void emit_frame(int16_t* pcm, uint32_t ts);
  // Sends every whole 20 ms in the FIFO; the remainder moves to its front.
  void emit_frames();
  // The remainder, padded with silence to 20 ms, goes out now.
  void pad_leftover();
  // Lines the FIFO up with audio that starts at `t` (output clock): a gap the remainder can
  // absorb becomes silence; a longer one sends the remainder padded and starts a new talkspurt
  // at `t` (the whole 20 ms missing are skipped in the sequence numbers too, at most
  // `mirror_frames` of them: what the lost input packets could have held, so a timestamp jump
  // never moves the output's sequence by half its space, which receivers would take as old).
  // Returns how many samples of the new audio overlap what is out already (to be dropped).
  int place(uint32_t t, int mirror_frames);

  // ---- input (transcoder.cpp) ----

  // A new input stream: its first packet maps to where the output stream continues.
  void restart(const internal::Rtp& p);
  bool process(const uint8_t* rtp, size_t len);
  // Decodes or relays the next packet in sequence order; what is missing in front of it is lost.
  bool deliver(const internal::Rtp& p);
  // The first packet waiting goes, its gap given up as lost; then whatever follows it in order.
  void release_head();
  void drain();
  void release_all() {
    while (!jb.empty()) release_head();
  }
  void due();
  int64_t deadline() const;
  bool audio(const internal::Rtp& p, int moved);

  // ---- telephone-events (transcoder_events.cpp) ----

  bool event(const internal::Rtp& p, int moved);
  bool event_in_band(const internal::Rtp& p, const EventPayload& ev, bool fresh);
};

}  // namespace rtcgw::codec
