// The per-call audio transcoder of the media anchor: RTP in on one leg, RTP out on the other, with
// rtcgw's own SSRC, sequence numbers and timestamps on each output stream.
//
//   browser -> network: RTP (opus/48000) -> [reorder buffer] -> opus decode at 8 kHz [FEC, PLC]
//                       -> PCM FIFO -> 20 ms frames -> G.711 -> RTP
//   network -> browser: RTP (PCMU/PCMA)  -> [reorder buffer] -> G.711 decode
//                       -> PCM FIFO -> 20 ms frames -> opus encode at 8 kHz -> RTP
//
// (PCMU <-> PCMA works the same way.) libopus runs at 8 kHz on both sides, so there is no
// resampler; the Opus RTP clock stays 48000 (RFC 7587), G.711's is 8000.
//
// Output: whatever the input's packet time, every audio packet out carries 20 ms (160 samples):
// decoded audio collects in a FIFO per direction and leaves in 20 ms packets, so one input may
// give 0..n packets (30 ms in: one out and 10 ms waiting; 60 ms in: three out; 10 ms in: one out
// every second packet). The packets go to a PacketSink the caller passes in, written one after
// the other into the caller's buffer. A remainder that waits longer than kLeftoverWaitMs (no
// input came) is padded with silence and sent.
//
// Timestamps: the input timestamp of each packet maps to the output clock (x6 or /6) from one
// reference pair, so silence (DTX) and telephone-events keep their place on the timeline; each
// output packet advances the output clock by 20 ms. A gap on the timeline smaller than what the
// FIFO's remainder needs to make 20 ms is filled with silence; a longer one pads the remainder,
// sends it, and starts a new talkspurt (marker) at the mapped timestamp. Sequence numbers: one
// more per packet sent; a loss that is not concealed (G.711 in) is mirrored as a gap (one
// sequence number per whole 20 ms missing) so the receiver's own concealment and RTCP see it.
//
// Reordering: a packet that arrives after a gap in the input sequence numbers waits in a small
// reorder buffer (JitterBuffer: fixed slots, depth 1..5 packets, adaptive) instead of the gap
// being concealed at once; when the missing packet comes, both are decoded in order. The wait
// ends when more packets wait than the depth allows, or at the deadline (depth x 20 ms after the
// oldest arrived): the caller asks next_deadline_ms() after each call and calls flush_due() then
// (the anchor arms a one-shot GLib timer). In-order packets are never delayed. Time comes from
// the caller (`now_ms`, monotonic milliseconds), so tests drive it.
//
// Loss (a gap in the incoming sequence numbers whose timestamps are missing too, once the wait
// is over) on an Opus input: the frame just before the packet that ends the gap is recovered
// from that packet's in-band FEC when it carries some, the rest of the gap is concealed (PLC),
// up to 200 ms; longer gaps stay gaps. A corrupt Opus frame is concealed for its duration. Late
// and duplicate packets (up to 100 sequence numbers behind) are dropped and counted; one that
// fills a gap already concealed grows the reorder buffer. A new SSRC, or a jump of more than
// 3000, restarts the input stream (RFC 3550 appendix A.1 bounds).
//
// telephone-event (RFC 4733): relayed with the output leg's payload type, timestamps and
// durations scaled to its clock (long events cut into 0xFFFF segments, section 2.5.1.3). When the
// output leg is G.711 without telephone-event, the digit is played in-band (spandsp dtmf_tx)
// instead (unless inband_dtmf is off: then it is dropped), and audio that overlaps the tone is
// dropped. play_tone() plays a digit in-band on demand (SIP INFO towards a leg without
// telephone-event): the next audio frames towards that leg carry the tone, then 50 ms of
// silence, instead of the decoded audio. Events are assumed to use the audio clock of their leg
// (section 2.1; what browsers send with Opus is telephone-event/48000).
//
// Codec switch (a re-INVITE that changes a codec): the anchor makes a new Transcoder whose
// config continue_streams() filled from the old one (same SSRCs, the next sequence numbers,
// timestamps advanced by the time elapsed), after flush_all() sent what the old one still held.
//
// Nothing on the packet path throws or allocates; buffers are members.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "codec/dtmf.hpp"
#include "codec/opus.hpp"

namespace rtcgw::codec {

enum class Codec { kOpus, kPcmu, kPcma };
const char* codec_name(Codec c);  // "opus", "PCMU", "PCMA"
int rtp_clock(Codec c);           // 48000 for Opus, 8000 for G.711

struct LegFormat {
  Codec codec = Codec::kPcmu;
  uint8_t payload_type = 0;
  int event_payload_type = -1;  // telephone-event at the codec's clock; -1: not negotiated
};

struct TranscoderConfig {
  LegFormat browser{Codec::kOpus, 111, 126};
  LegFormat network{Codec::kPcmu, 0, 101};
  // What rtcgw sends with on each leg: SSRC, first sequence number, first timestamp (RFC 3550
  // wants them random: randomize_stream_ids; continue_streams when replacing a transcoder).
  uint32_t browser_ssrc = 1, network_ssrc = 2;
  uint16_t browser_seq = 0, network_seq = 0;
  uint32_t browser_ts = 0, network_ts = 0;
  OpusParams opus;  // the encoder towards an Opus leg
  // Events towards a G.711 leg without telephone-event: played in-band (true) or dropped.
  bool inband_dtmf = true;
};
// Random SSRCs, first sequence numbers and timestamps (std::random_device; call setup only).
void randomize_stream_ids(TranscoderConfig& cfg);

enum class Leg { kBrowser, kNetwork };

// Where a transcoder's output packets go: called once per packet with the leg it is for and a
// whole RTP packet in the caller's buffer (which the callee may change in place, e.g. SRTP
// protect, within the room the caller gave). A function pointer and a context: nothing
// allocated per packet.
class PacketSink {
 public:
  using Fn = void (*)(void* ctx, Leg to, uint8_t* rtp, size_t len);
  PacketSink(Fn fn, void* ctx) : fn_(fn), ctx_(ctx) {}
  // A sink calling f(Leg, uint8_t*, size_t); f must outlive the sink.
  template <class F>
  static PacketSink of(F& f) {
    return PacketSink(
        [](void* c, Leg to, uint8_t* p, size_t n) { (*static_cast<F*>(c))(to, p, n); }, &f);
  }
  void operator()(Leg to, uint8_t* rtp, size_t len) const {
    if (fn_) fn_(ctx_, to, rtp, len);
  }

 private:
  Fn fn_;
  void* ctx_;
};

// Per direction, by the leg the packets come from. Frames are counted in 20 ms units.
struct TranscoderStats {
  uint64_t packets_in = 0;       // every call
  uint64_t packets_out = 0;      // packets sent (audio, events, tones)
  uint64_t decoded = 0;          // audio packets decoded
  uint64_t fec = 0;              // lost frames recovered from in-band FEC
  uint64_t concealed = 0;        // 20 ms frames made up by PLC (lost or corrupt)
  uint64_t corrupt = 0;          // Opus packets libopus refused (concealed)
  uint64_t lost = 0;             // packets missing in the input sequence
  uint64_t late = 0;             // late or duplicate packets, dropped
  uint64_t late_after_loss = 0;  // of those, ones whose gap had been concealed (depth grows)
  uint64_t reordered = 0;        // packets that filled a gap while later ones waited
  uint64_t hold_timeouts = 0;    // waits ended by the deadline (the gap concealed)
  uint64_t hold_overflows = 0;   // waits ended by more packets waiting than the depth
  int jitter_depth = 1;          // the reorder buffer's depth now, in packets
  uint64_t bad_payload_type = 0;
  uint64_t malformed = 0;  // not RTP v2, bad CSRC/extension/padding lengths, bad frame size
  uint64_t events_relayed = 0;
  uint64_t events_dropped = 0;  // unparsable or impossible telephone-events, or nowhere to go
  uint64_t tone_packets = 0;    // G.711 packets of in-band DTMF
  uint64_t restarts = 0;        // new SSRC or a sequence jump
  uint64_t errors = 0;          // encoder failures, output buffer too small
};

class Transcoder {
 public:
  // Largest packet either direction writes: 12-byte header + 20 ms of G.711, or an Opus packet
  // of up to 1500 bytes. Give `cap` >= this to never see "no_room".
  static constexpr size_t kMaxOutput = 12 + 1500;
  static constexpr int kPcmRate = 8000;
  static constexpr int kFrameSamples = 160;   // 20 ms at 8 kHz: every audio packet out
  static constexpr int kLeftoverWaitMs = 60;  // a remainder under 20 ms waits this long at most
  static constexpr int kTonePauseMs = 50;     // silence after a play_tone() digit

  // nullptr with the reason for a configuration that needs no transcoding (Opus both sides),
  // a bad payload type, or a codec that cannot start. Call setup only.
  static std::unique_ptr<Transcoder> make(const TranscoderConfig& cfg, std::string& err);
  ~Transcoder();
  Transcoder(const Transcoder&) = delete;
  Transcoder& operator=(const Transcoder&) = delete;

  // One whole RTP packet (after SRTP unprotect) from a leg, received at `now_ms`: 0..n packets
  // for the other leg go to `sink`, each written into out[0..cap). True when the packet was
  // taken (decoded, relayed, or waiting in the reorder buffer), false when it is dropped
  // (last_drop() says why, the stats count it). Audio and telephone-event both come this way.
  // A packet that waited and is dropped when its turn comes is counted, not reported.
  bool browser_to_network(const uint8_t* rtp, size_t len, int64_t now_ms, uint8_t* out, size_t cap,
                          const PacketSink& sink);
  bool network_to_browser(const uint8_t* rtp, size_t len, int64_t now_ms, uint8_t* out, size_t cap,
                          const PacketSink& sink);
  // A telephone-event packet from `from` to the other leg (what the two calls above do for the
  // event payload type): renumbered, rescaled, or played in-band.
  bool relay_event(Leg from, const uint8_t* rtp, size_t len, int64_t now_ms, uint8_t* out,
                   size_t cap, const PacketSink& sink);

  // When flush_due() has work (a reordered packet waited long enough, or a remainder under
  // 20 ms waited kLeftoverWaitMs), in the callers' now_ms; -1 when nothing waits.
  int64_t next_deadline_ms() const;
  // Ends the waits that are due at `now_ms`: conceals the gaps they waited on and sends.
  void flush_due(int64_t now_ms, uint8_t* out, size_t cap, const PacketSink& sink);
  // Sends everything still held (reordered packets, a remainder padded to 20 ms): before the
  // transcoder is replaced or released.
  void flush_all(int64_t now_ms, uint8_t* out, size_t cap, const PacketSink& sink);

  // For a replacement transcoder (a codec changed mid-call): fills cfg's SSRCs, sequence numbers
  // and timestamps so that both output streams go on: the same SSRC, the next sequence number,
  // and the next timestamp advanced by the time since the last packet beyond one packet time
  // (in the clock of cfg's codec for that leg). Call after flush_all().
  void continue_streams(TranscoderConfig& cfg, int64_t now_ms) const;

  // For digits that come by SIP INFO: the output stream towards `to` continues at this
  // timestamp (in `to`'s clock), and an EventSender packet is sent with that stream's SSRC and
  // next sequence number. False if `to` has no telephone-event or cap < 16.
  uint32_t next_timestamp(Leg to) const;
  bool write_event(Leg to, const EventPacket& p, uint8_t* out, size_t cap, size_t& out_len);
  // Plays `event` (0-15) in-band towards `to` for duration_ms (1..60000): the next audio frames
  // towards `to` carry the tone, then kTonePauseMs of silence. False for flash or other events,
  // a bad duration, or while a digit is playing that way already.
  bool play_tone(Leg to, uint8_t event, int duration_ms);
  bool tone_playing(Leg to) const;

  const TranscoderStats& stats(Leg from) const;
  // Why the last packet from `from` was dropped: "late", "payload_type", "malformed",
  // "frame_size", "event", "event_duration", "event_unsupported", "event_no_inband",
  // "event_repeat", "dtmf_tone", "no_room", "encode" ("none" before any drop).
  const char* last_drop(Leg from) const;

 private:
  struct Direction;
  Transcoder();
  std::unique_ptr<Direction> b2n_, n2b_;
};

}  // namespace rtcgw::codec
