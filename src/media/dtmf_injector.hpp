// DTMF into a RELAYED browser -> network RTP stream (SRTP already removed), for digits that
// came by SIP INFO on a call rtcgw does not transcode. The stream keeps the browser's SSRC and
// timestamps; rtcgw only adds to it:
//
// - RFC 4733 events on the network's telephone-event payload type at the relayed codec's clock
//   (8000 for G.711, 48000 for Opus relayed with media.opus_to_network), in the browser's SSRC.
//   Injected packets take sequence numbers, so every later relayed packet's sequence number is
//   shifted to keep the stream contiguous; the browser's audio while the digit sounds is dropped
//   (the far end hears the digit, not speech over it) and the shift adjusted. The event starts
//   at the timestamp the stream has reached: the last audio timestamp plus the time since it
//   arrived, in the codec's clock. Telephone-events the browser sends itself pass as they are.
// - In-band tones when the network took no telephone-event (and dtmf.inband allows): the payload
//   of each relayed PCMU/PCMA packet is replaced with the tone while it lasts; sequence numbers
//   and timestamps are left alone.
//
// The packet path (relay(), next()) neither allocates nor logs; send() (the SIP path) does what
// allocation there is, including the capacity a queued digit needs later.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "codec/dtmf.hpp"
#include "sdp/describe.hpp"

namespace rtcgw::media {

class DtmfInjector {
 public:
  // One payload type of the network's SDP: "PCMU", "opus", "telephone-event", ... and its clock.
  using Format = sdp::NetworkMedia::Format;
  // Digits asked for while one plays wait for it, up to this many.
  static constexpr size_t kMaxWaiting = 32;
  // Silence between two in-band digits, so that a receiver hears two (Q.24 asks for >= 40 ms).
  static constexpr int kInbandGapMs = 60;
  static constexpr int kReportIntervalMs = 50;
  static constexpr uint8_t kVolume = 10;  // -dBm0, as rtcgw's other events

  DtmfInjector();
  ~DtmfInjector();
  DtmfInjector(const DtmfInjector&) = delete;
  DtmfInjector& operator=(const DtmfInjector&) = delete;

  // The payload types of the network's latest SDP: which are telephone-events (the browser's own
  // pass as they are), the clock and the G.711 law of each. A digit playing goes on.
  void set_formats(const std::vector<Format>& formats);
  // dtmf.inband: tones in the G.711 payload when the network has no telephone-event.
  void set_inband(bool allowed) { inband_allowed_ = allowed; }

  // Packet path: one relayed browser -> network RTP packet, rewritten in place (sequence
  // number; payload while an in-band digit sounds). False: drop it (audio under an event).
  bool relay(uint8_t* rtp, size_t len, int64_t now_ms);

  // A digit (event 0-15) for `duration_ms` (1..60000), now or after the ones waiting. False when
  // this stream cannot carry it: no audio from the browser yet, a codec whose clock is unknown,
  // no telephone-event at that clock and no in-band tone possible, or too many waiting.
  bool send(uint8_t event, int duration_ms, int64_t now_ms);

  // The next injected event packet due at `now_ms` (a whole RTP packet in `out`); false when
  // none is due. Called from a timer every 10 ms or so while pacing().
  bool next(int64_t now_ms, uint8_t* out, size_t cap, size_t& len);
  // An out-of-band event is playing, or a digit waits that no tone holds back: the owner's
  // timer should call next(). (A digit waiting behind a tone starts from relay().)
  bool pacing() const { return event_active_ || (!waiting_.empty() && !tone_playing()); }
  // An in-band digit is sounding, or the pause after it is not over.
  bool tone_playing() const { return (tone_ && tone_->active()) || gap_samples_ > 0; }

  // Counters for tests and logs.
  uint64_t injected() const { return injected_; }
  uint64_t suppressed() const { return suppressed_; }

 private:
  enum class Mode { kNone, kEvents, kTone };
  struct Stream {
    bool known = false;
    uint32_t ssrc = 0;
    uint16_t offset = 0;      // added to the browser's sequence numbers
    uint16_t highest_in = 0;  // newest sequence number received
    uint16_t last_out = 0;    // newest sequence number sent (relayed or injected)
    bool audio_seen = false;
    uint8_t audio_pt = 0;
    uint32_t last_ts = 0;  // of the newest audio packet
    int64_t last_ts_ms = 0;
  };

  Mode mode_for(uint8_t event) const;
  bool start(uint8_t event, int duration_ms, int64_t now_ms);
  bool start_events(uint8_t event, int duration_ms, int64_t now_ms);
  bool start_tone(uint8_t event, int duration_ms);
  void start_waiting(int64_t now_ms);
  void stop_event();
  int event_pt_for(int clock) const;
  void inband(uint8_t* payload, size_t n, uint8_t pt, int64_t now_ms);

  // Per payload type (0-127), from the network's SDP.
  std::array<int, 128> clock_{};   // 0: unknown
  std::array<int8_t, 128> law_{};  // 0: not G.711, 1: PCMU, 2: PCMA
  std::array<bool, 128> is_event_{};
  std::array<bool, 128> is_cn_{};  // comfort noise: no tone, not the stream's codec
  int event_pt_8k_ = -1, event_pt_48k_ = -1;
  bool inband_allowed_ = true;

  Stream s_;

  // The out-of-band event playing.
  bool event_active_ = false;
  bool suppress_audio_ = false;  // until its first end packet
  std::vector<codec::EventPacket> packets_;
  size_t next_ = 0;
  int64_t started_ms_ = 0;
  int event_clock_ = 8000;
  uint8_t event_pt_ = 0;

  // In-band.
  std::unique_ptr<codec::ToneGenerator> tone_;
  long gap_samples_ = 0;  // silence still owed after a tone, before the next
  std::array<int16_t, 1500> pcm_{};

  std::vector<std::pair<uint8_t, int>> waiting_;  // event, duration_ms

  uint64_t injected_ = 0, suppressed_ = 0;
};

}  // namespace rtcgw::media
