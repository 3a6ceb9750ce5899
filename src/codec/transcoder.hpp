// The per-call audio transcoder of the media anchor: RTP in on one leg, RTP out on the other, one
// packet at a time, with rtcgw's own SSRC, sequence numbers and timestamps on each output stream.
//
//   browser -> network: RTP (opus/48000) -> opus decode at 8 kHz [FEC, PLC] -> G.711 -> RTP
//   network -> browser: RTP (PCMU/PCMA)  -> G.711 decode -> opus encode at 8 kHz  -> RTP
//
// (PCMU <-> PCMA works the same way.) libopus runs at 8 kHz on both sides, so there is no
// resampler; the Opus RTP clock stays 48000 (RFC 7587), G.711's is 8000.
//
// Timestamps: each output timestamp is the input timestamp mapped to the output clock (x6 or /6)
// from one reference pair, so silence (DTX) and telephone-events keep their place on the
// timeline. Sequence numbers: one more per packet sent; a loss that is not concealed (G.711 in)
// is mirrored as a gap so the receiver's own concealment and RTCP see it.
//
// Loss (a gap in the incoming sequence numbers whose timestamps are missing too) on an Opus
// input: the frame just before the packet that arrived is recovered from that packet's in-band
// FEC when it carries some, the rest of the gap is concealed (PLC), and the recovered audio goes
// out in front of the current frame in one longer G.711 packet (RFC 3551 section 4.2: receivers
// take packets of 0..200 ms); gaps beyond 200 ms are left as gaps. A corrupt Opus frame is
// concealed for its duration. Late and duplicate packets (up to 100 sequence numbers behind) are
// dropped and counted: there is no jitter buffer, the receiving endpoints have theirs. A new
// SSRC, or a jump of more than 3000, restarts the input stream (RFC 3550 appendix A.1 bounds).
//
// telephone-event (RFC 4733): relayed with the output leg's payload type, timestamps and
// durations scaled to its clock (long events cut into 0xFFFF segments, section 2.5.1.3). When the
// output leg is G.711 without telephone-event, the digit is played in-band (spandsp dtmf_tx)
// instead, and audio that overlaps the tone is dropped. Events are assumed to use the audio clock
// of their leg (section 2.1; what browsers send with Opus is telephone-event/48000).
//
// Nothing on the packet path throws or allocates; buffers are members, sized for 200 ms.
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
  // wants them random: randomize_stream_ids).
  uint32_t browser_ssrc = 1, network_ssrc = 2;
  uint16_t browser_seq = 0, network_seq = 0;
  uint32_t browser_ts = 0, network_ts = 0;
  OpusParams opus;  // the encoder towards an Opus leg
};
// Random SSRCs, first sequence numbers and timestamps (std::random_device; call setup only).
void randomize_stream_ids(TranscoderConfig& cfg);

enum class Leg { kBrowser, kNetwork };

// Per direction, by the leg the packets come from. Frames are counted in 20 ms units.
struct TranscoderStats {
  uint64_t packets_in = 0;   // every call
  uint64_t packets_out = 0;  // calls that produced a packet
  uint64_t decoded = 0;      // audio packets decoded as they came
  uint64_t fec = 0;          // lost frames recovered from in-band FEC
  uint64_t concealed = 0;    // 20 ms frames made up by PLC (lost or corrupt)
  uint64_t corrupt = 0;      // Opus packets libopus refused (concealed)
  uint64_t lost = 0;         // packets missing in the input sequence
  uint64_t late = 0;         // late or duplicate packets, dropped
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
  // Largest packet either direction writes: 12-byte header + 200 ms of G.711 (Opus packets are
  // smaller). Give `cap` >= this to never see "no_room".
  static constexpr size_t kMaxOutput = 12 + 1600;
  static constexpr int kPcmRate = 8000;

  // nullptr with the reason for a configuration that needs no transcoding (Opus both sides),
  // a bad payload type, or a codec that cannot start. Call setup only.
  static std::unique_ptr<Transcoder> make(const TranscoderConfig& cfg, std::string& err);
  ~Transcoder();
  Transcoder(const Transcoder&) = delete;
  Transcoder& operator=(const Transcoder&) = delete;

  // One whole RTP packet (after SRTP unprotect) from a leg; true with a whole RTP packet for
  // the other leg in out[0..out_len), false when the packet is dropped (last_drop() says why,
  // the stats count it). Audio and telephone-event both come this way.
  bool browser_to_network(const uint8_t* rtp, size_t len, uint8_t* out, size_t cap,
                          size_t& out_len);
  bool network_to_browser(const uint8_t* rtp, size_t len, uint8_t* out, size_t cap,
                          size_t& out_len);
  // A telephone-event packet from `from` to the other leg (what the two calls above do for the
  // event payload type): renumbered, rescaled, or played in-band.
  bool relay_event(Leg from, const uint8_t* rtp, size_t len, uint8_t* out, size_t cap,
                   size_t& out_len);

  // For digits that come by SIP INFO: the output stream towards `to` continues at this
  // timestamp (in `to`'s clock), and an EventSender packet is sent with that stream's SSRC and
  // next sequence number. False if `to` has no telephone-event or cap < 16.
  uint32_t next_timestamp(Leg to) const;
  bool write_event(Leg to, const EventPacket& p, uint8_t* out, size_t cap, size_t& out_len);

  const TranscoderStats& stats(Leg from) const;
  // Why the last packet from `from` was dropped: "late", "payload_type", "malformed",
  // "frame_size", "event", "event_duration", "event_unsupported", "event_repeat", "dtmf_tone",
  // "no_room", "encode" ("none" before any drop).
  const char* last_drop(Leg from) const;

 private:
  struct Direction;
  Transcoder();
  std::unique_ptr<Direction> b2n_, n2b_;
};

}  // namespace rtcgw::codec
