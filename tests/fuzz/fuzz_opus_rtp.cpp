// A sequence of RTP packets through codec::Transcoder, both directions: browser -> network with
// Opus -> PCMU (and telephone-event relayed), network -> browser with PCMU -> Opus, and a second
// transcoder whose network leg has no telephone-event (digits become in-band tones) and is PCMA.
// The input is cut into packets by 2-byte headers:
//   bit 15 direction (0 browser -> network), bit 14 "synthesised RTP header", bits 11-13 a
//   variant, bits 0-10 the length of what follows.
// Synthesised: the harness writes a valid 12-byte header (audio or event payload type by the
// variant's low bit, the sequence number moving by +1, +2, 0 or +5, timestamps to match) in front
// of the bytes, so the fuzzer reaches the codecs, FEC/PLC and event paths; otherwise the bytes
// are the whole packet. Transcoders are made fresh for each input (reproducible crashes).
// Checks: an accepted packet gives an RTP v2 packet of 12..cap bytes with the leg's SSRC and one
// of its payload types; G.711 payloads are at most 200 ms; event payloads parse.
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

void check(const TranscoderConfig& c, bool to_network, const uint8_t* o, size_t len, size_t cap) {
  const LegFormat& leg = to_network ? c.network : c.browser;
  if (len < 12 || len > cap) __builtin_trap();
  if (o[0] != 0x80) __builtin_trap();
  uint32_t ssrc = uint32_t(o[8]) << 24 | uint32_t(o[9]) << 16 | uint32_t(o[10]) << 8 | o[11];
  if (ssrc != (to_network ? kNetworkSsrc : kBrowserSsrc)) __builtin_trap();
  int pt = o[1] & 0x7F;
  if (pt == leg.payload_type) {
    size_t payload = len - 12;
    if (leg.codec != Codec::kOpus && (payload == 0 || payload > 1600)) __builtin_trap();
    if (leg.codec == Codec::kOpus && opus_packet_samples(o + 12, int(payload), 48000) <= 0)
      __builtin_trap();
  } else if (pt == leg.event_payload_type) {
    if (len != 16 || !parse_event(o + 12, 4)) __builtin_trap();
  } else {
    __builtin_trap();
  }
}

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
  // The synthesised streams' state, per direction.
  uint16_t seq[2] = {1000, 2000};
  uint32_t ts[2] = {0x7FFFFF00, 12345};
  bool event_started[2] = {false, false};
  uint32_t event_ts[2] = {0, 0};

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

    const uint8_t* rtp = body;
    size_t rtp_len = len;
    if (synth) {
      const bool is_event = variant & 1;
      const LegFormat& in = dir == 0 ? cfg.browser : cfg.network;
      const uint32_t frame = dir == 0 ? 960 : uint32_t(len ? len : 160);
      static const int kStep[] = {1, 2, 0, 5};
      const int step = kStep[(variant >> 1) & 3];
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
        ts[dir] += frame * uint32_t(step ? step : 1);
      }
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
    const size_t cap = (variant == 6) ? 40 : sizeof out;
    size_t out_len = 0;
    bool ok = dir == 0 ? t->browser_to_network(rtp, rtp_len, out, cap, out_len)
                       : t->network_to_browser(rtp, rtp_len, out, cap, out_len);
    if (ok) {
      check(cfg, dir == 0, out, out_len, cap);
    } else if (out_len != 0) {
      __builtin_trap();
    }
  }
  // Every call is counted once, as out or as a drop reason.
  for (Leg l : {Leg::kBrowser, Leg::kNetwork}) {
    const auto& s = t->stats(l);
    if (s.packets_out > s.packets_in) __builtin_trap();
    if (t->last_drop(l) == nullptr) __builtin_trap();
  }
  return 0;
}
