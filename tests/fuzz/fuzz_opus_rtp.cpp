// A sequence of RTP packets through codec::Transcoder, both directions: browser -> network with
// Opus -> PCMU (and telephone-event relayed), network -> browser with PCMU -> Opus, and a second
// transcoder whose network leg has no telephone-event (digits become in-band tones) and is PCMA.
// The input is cut into packets by 2-byte headers:
//   bit 15 direction (0 browser -> network), bit 14 "synthesised RTP header", bits 11-13 a
//   variant, bits 0-10 the length of what follows.
// Synthesised: the harness writes a valid 12-byte header (audio or event payload type by the
// variant's low bit, the sequence number moving by +1, +2, 0, +5, or -1 (reordered), timestamps
// to match) in front of the bytes, so the fuzzer reaches the codecs, the reorder buffer, FEC/PLC,
// repacketisation and the event paths; otherwise the bytes are the whole packet. The clock moves
// by 0..35 ms per packet (from the variant), flush_due runs whenever a deadline passed, and
// variant 7 of a synthesised packet starts an in-band digit (play_tone). At the end, flush_all,
// and continue_streams into a third transcoder that takes one more packet. Transcoders are made
// fresh for each input (reproducible crashes).
// Checks: every packet out is an RTP v2 packet of 12..cap bytes for the leg the sink is told, with
// that leg's SSRC and one of its payload types; G.711 payloads are exactly 20 ms, Opus ones
// 20 ms; event payloads parse; a deadline is never in the past after the calls that honour it;
// a replacement transcoder continues the SSRCs and sequence numbers.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "codec/dtmf.hpp"
#include "codec/opus.hpp"
#include "codec/transcoder.hpp"

using namespace rtcgw::codec;

namespace {

constexpr uint32_t kBrowserSsrc = 0x0B0B0B0B, kNetworkSsrc = 0x0E0E0E0E;

TranscoderConfig config(bool second) {
  TranscoderConfig c;
  c.browser = {Codec::kOpus, 111, 126};
  c.network = second ? LegFormat{Codec::kPcma, 8, -1} : LegFormat{Codec::kPcmu, 0, 101};
  c.browser_ssrc = kBrowserSsrc;
  c.network_ssrc = kNetworkSsrc;
  c.browser_seq = 65000;
  c.network_ts = 0xFFFFFF00;
  return c;
}

struct Checker {
  const TranscoderConfig* cfg;
  size_t cap;
  uint16_t next_seq[2] = {0, 0};  // by leg: 0 browser, 1 network
  bool seen[2] = {false, false};
  void operator()(Leg to, uint8_t* o, size_t len) {
    const bool to_network = to == Leg::kNetwork;
    const LegFormat& leg = to_network ? cfg->network : cfg->browser;
    if (len < 12 || len > cap) __builtin_trap();
    if (o[0] != 0x80) __builtin_trap();
    uint32_t ssrc = uint32_t(o[8]) << 24 | uint32_t(o[9]) << 16 | uint32_t(o[10]) << 8 | o[11];
    if (ssrc != (to_network ? cfg->network_ssrc : cfg->browser_ssrc)) __builtin_trap();
    int pt = o[1] & 0x7F;
    if (pt == leg.payload_type) {
      size_t payload = len - 12;
      if (leg.codec != Codec::kOpus && payload != 160) __builtin_trap();
      if (leg.codec == Codec::kOpus && opus_packet_samples(o + 12, int(payload), 48000) != 960)
        __builtin_trap();
    } else if (pt == leg.event_payload_type) {
      if (len != 16 || !parse_event(o + 12, 4)) __builtin_trap();
    } else {
      __builtin_trap();
    }
    // Sequence numbers only move forward (a loss mirrored as a gap moves them by more).
    const uint16_t seq = uint16_t(o[2] << 8 | o[3]);
    const int i = to_network ? 1 : 0;
    if (seen[i] && int16_t(uint16_t(seq - next_seq[i])) < 0) __builtin_trap();
    seen[i] = true;
    next_seq[i] = uint16_t(seq + 1);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool second = data[0] & 1;
  ++data;
  --size;
  const TranscoderConfig cfg = config(second);
  std::string err;
  auto t = Transcoder::make(cfg, err);
  if (!t) __builtin_trap();

  static uint8_t pkt[2048 + 12];
  static uint8_t out[Transcoder::kMaxOutput];
  Checker check{&cfg, sizeof out};
  const PacketSink sink = PacketSink::of(check);
  // The synthesised streams' state, per direction.
  uint16_t seq[2] = {1000, 2000};
  uint32_t ts[2] = {0x7FFFFF00, 12345};
  bool event_started[2] = {false, false};
  uint32_t event_ts[2] = {0, 0};
  int64_t now = 0;

  while (size >= 2) {
    const unsigned h = unsigned(data[0]) << 8 | data[1];
    data += 2;
    size -= 2;
    const int dir = (h >> 15) & 1;
    const bool synth = (h >> 14) & 1;
    const unsigned variant = (h >> 11) & 7;
    size_t len = std::min<size_t>(h & 0x7FF, size);
    const uint8_t* body = data;
    data += len;
    size -= len;
    now += int64_t(variant) * 5;

    const uint8_t* rtp = body;
    size_t rtp_len = len;
    if (synth) {
      const bool is_event = variant & 1;
      const LegFormat& in = dir == 0 ? cfg.browser : cfg.network;
      const uint32_t frame = dir == 0 ? 960 : uint32_t(len ? len : 160);
      static const int kStep[] = {1, 2, 0, 5, -1};
      const int step = kStep[variant == 7 ? 4 : (variant >> 1) & 3];
      seq[dir] = uint16_t(seq[dir] + step);
      int pt = in.payload_type;
      uint32_t pts = ts[dir];
      if (is_event && in.event_payload_type >= 0) {
        pt = in.event_payload_type;
        if (!event_started[dir] || step == 5) {
          event_started[dir] = true;
          event_ts[dir] = ts[dir];
        }
        pts = event_ts[dir];
      } else {
        event_started[dir] = false;
        ts[dir] += frame * uint32_t(step > 0 ? step : 1);
      }
      if (variant == 7) t->play_tone(dir == 0 ? Leg::kNetwork : Leg::kBrowser, 5, int(len) + 1);
      pkt[0] = 0x80;
      pkt[1] = uint8_t(pt | (step == 5 ? 0x80 : 0));
      pkt[2] = uint8_t(seq[dir] >> 8);
      pkt[3] = uint8_t(seq[dir]);
      for (int i = 0; i < 4; ++i) {
        pkt[4 + i] = uint8_t(pts >> (24 - 8 * i));
        pkt[8 + i] = uint8_t(0xA0 + dir);
      }
      if (len) std::memcpy(pkt + 12, body, len);
      rtp = pkt;
      rtp_len = len + 12;
    }

    // Vary the room given, down to too little.
    const size_t cap = variant == 6 ? 40 : sizeof out;
    check.cap = cap;
    if (dir == 0) {
      t->browser_to_network(rtp, rtp_len, now, out, cap, sink);
    } else {
      t->network_to_browser(rtp, rtp_len, now, out, cap, sink);
    }
    check.cap = sizeof out;
    // The timer the anchor arms.
    const int64_t due = t->next_deadline_ms();
    if (due >= 0 && due <= now) {
      t->flush_due(now, out, sizeof out, sink);
      if (int64_t d = t->next_deadline_ms(); d >= 0 && d <= now) __builtin_trap();
    }
  }
  // Every call is counted once.
  for (Leg l : {Leg::kBrowser, Leg::kNetwork}) {
    const auto& s = t->stats(l);
    if (s.late_after_loss > s.late || s.jitter_depth < 1 || s.jitter_depth > 5) __builtin_trap();
    if (t->last_drop(l) == nullptr) __builtin_trap();
  }
  // The codec switch: what is held goes out, and a new transcoder continues both streams.
  t->flush_all(now, out, sizeof out, sink);
  if (t->next_deadline_ms() != -1) __builtin_trap();
  TranscoderConfig next = config(!second);
  t->continue_streams(next, now + 20);
  if (next.browser_ssrc != kBrowserSsrc || next.network_ssrc != kNetworkSsrc) __builtin_trap();
  // The next sequence numbers: never behind what went out (ahead by a loss mirrored last).
  if ((check.seen[0] && int16_t(uint16_t(next.browser_seq - check.next_seq[0])) < 0) ||
      (check.seen[1] && int16_t(uint16_t(next.network_seq - check.next_seq[1])) < 0))
    __builtin_trap();
  auto t2 = Transcoder::make(next, err);
  if (!t2) __builtin_trap();
  Checker check2{&next, sizeof out};
  const uint8_t first[] = {0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
  uint8_t g711[12 + 160];
  std::memcpy(g711, first, 12);
  std::memset(g711 + 12, 0xFF, 160);
  g711[1] = next.network.payload_type;
  t2->network_to_browser(g711, sizeof g711, now + 20, out, sizeof out, PacketSink::of(check2));
  if (check2.seen[0] && check2.next_seq[0] != uint16_t(next.browser_seq + 1)) __builtin_trap();
  return 0;
}
