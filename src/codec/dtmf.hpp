// DTMF: RFC 4733 telephone-event payloads (parse, write, clock-rate scaling, the packet sequence
// of one generated event), the SIP INFO bodies browsers and IMS application servers use
// (application/dtmf-relay, application/dtmf), and in-band tones on spandsp's dtmf_tx for a G.711
// leg that has no telephone-event. Nothing here throws or allocates after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct dtmf_tx_state_s;

namespace rtcgw::codec {

// RFC 4733 section 3.2: events 0-9, 10 '*', 11 '#', 12-15 A-D, 16 flash. Events above 16 are
// other registries' tones (modem, fax, ...) that rtcgw does not interwork.
constexpr uint8_t kMaxDtmfEvent = 16;
// The largest duration field; longer events are sent as segments (RFC 4733 section 2.5.1.3).
constexpr uint32_t kMaxEventDuration = 0xFFFF;
constexpr size_t kEventPayloadSize = 4;

// '0'-'9', '*', '#', 'A'-'D' (or 'a'-'d'), '!' (flash, 16) -> event; nullopt for anything else.
std::optional<uint8_t> event_of_digit(char digit);
// The inverse; '\0' for events above 16.
char digit_of_event(uint8_t event);

// One RFC 4733 section 2.3 payload:
//  0                   1                   2                   3
//  |     event     |E|R| volume    |          duration             |
struct EventPayload {
  uint8_t event = 0;
  bool end = false;
  uint8_t volume = 10;    // -dBm0, 0-63
  uint16_t duration = 0;  // in RTP timestamp units of the stream's clock
};

enum class EventError {
  kNone,
  kTooShort,         // fewer than 4 bytes
  kNotDtmf,          // event > 16
  kZeroDurationEnd,  // an end packet reporting a duration of 0: the event never lasted
};
const char* event_error_name(EventError e);

// Parses the first 4 bytes of `data` (a packet may carry padding after them; RFC 2198 redundancy
// is a different payload type). The R bit is ignored as section 2.3 asks. Duration 0 without the
// E bit is accepted (some senders start an event that way); with the E bit it is refused.
std::optional<EventPayload> parse_event(const uint8_t* data, size_t len,
                                        EventError* error = nullptr);
// Writes 4 bytes; R is 0, volume is masked to 6 bits.
void write_event(const EventPayload& ev, uint8_t* out);

// `duration` (or a timestamp difference) from one clock to another, rounded to nearest:
// 48000 -> 8000 divides by 6, 8000 -> 48000 multiplies by 6. Rates must be > 0.
uint32_t scale_duration(uint32_t duration, int from_rate, int to_rate);

// ---- SIP INFO ----

struct InfoDigit {
  char digit = 0;       // '0'-'9', '*', '#', 'A'-'D', '!' (flash)
  uint8_t event = 0;    // its RFC 4733 event code
  int duration_ms = 0;  // kDefaultInfoDurationMs when the body gives none
};
constexpr int kDefaultInfoDurationMs = 250;
constexpr int kMaxInfoDurationMs = 60000;

enum class InfoError {
  kNone,
  kUnsupportedType,  // neither application/dtmf-relay nor application/dtmf: answer 415
  kBadBody,          // the type is right, the body is not: answer 400
};
// 415, 400 (0 for kNone).
int info_error_status(InfoError e);

// application/dtmf-relay: lines "key=value" (CRLF or LF, keys case-insensitive, spaces around
// both ignored, unknown keys ignored): Signal= one of 0-9 * # A-D (or 10-16 as event numbers),
// required, once; Duration= milliseconds 1..60000, optional. application/dtmf: the body is one
// digit (surrounding white space allowed). The media type is matched case-insensitively and its
// parameters are ignored. nullopt with a one-line reason in `error` and the kind in `*kind`.
std::optional<InfoDigit> parse_dtmf_info(std::string_view content_type, std::string_view body,
                                         std::string& error, InfoError* kind = nullptr);

// ---- Sending an event ----

// One packet of a generated event, to be sent `at_ms` after the event starts.
struct EventPacket {
  bool marker = false;
  uint32_t timestamp = 0;  // the event's (or segment's) start in the stream's clock
  EventPayload payload;
  int at_ms = 0;
};

// The RFC 4733 section 2.5.1 packet sequence of one event: a report every `interval_ms` while the
// tone lasts (the first with the marker bit, durations growing, all with the event's timestamp),
// then the final duration with the E bit three times (section 2.5.1.4), at `interval_ms` apart.
// Events longer than 0xFFFF timestamp units (1.36 s at 48 kHz) are cut into segments: a report of
// exactly 0xFFFF without E, then a new segment starting that much later (section 2.5.1.3).
class EventSender {
 public:
  // clock_rate: the telephone-event clock (8000 or 48000); interval_ms: 20..100, usually the
  // audio ptime (20) or 50.
  EventSender(int clock_rate, uint8_t payload_type, int interval_ms = 50);

  // How many packets `sequence` writes for an event of `duration_ms`.
  size_t count(int duration_ms) const;
  // Writes the sequence for `event` (0-16) lasting `duration_ms` (1..60000) from `start_ts` into
  // out[0..cap); returns the number of packets, 0 for a bad event or duration or too small a cap.
  size_t sequence(uint8_t event, int duration_ms, uint32_t start_ts, uint8_t volume,
                  EventPacket* out, size_t cap) const;
  // A whole RTP packet (12-byte header + 4-byte payload) for one of them: 16, or 0 if cap < 16.
  size_t write_rtp(const EventPacket& p, uint32_t ssrc, uint16_t seq, uint8_t* out,
                   size_t cap) const;

  int clock_rate() const { return clock_rate_; }
  uint8_t payload_type() const { return pt_; }
  int interval_ms() const { return interval_ms_; }

 private:
  int clock_rate_;
  uint8_t pt_;
  int interval_ms_;
};

// ---- In-band tones ----

// DTMF tone pairs at 8 kHz, 16-bit, from spandsp's dtmf_tx (Q.23 frequencies; -10 dBm0 low
// tone, 2 dB twist by default). One tone at a time, as long as asked (or until stop()).
class ToneGenerator {
 public:
  // nullptr (with the reason) when spandsp cannot make its state (start-up/call setup only).
  static std::unique_ptr<ToneGenerator> make(std::string& error);
  ~ToneGenerator();
  ToneGenerator(const ToneGenerator&) = delete;
  ToneGenerator& operator=(const ToneGenerator&) = delete;

  // Starts `digit` ('0'-'9', '*', '#', 'A'-'D') for `duration_ms` (1..60000; -1: until stop()).
  // False for anything else (flash has no tone).
  bool start(char digit, int duration_ms = -1, int level_dbm0 = -10);
  void stop();
  bool active() const { return remaining_ != 0; }
  // Fills pcm[0..samples): the tone while it lasts, silence after. Returns the tone samples.
  int generate(int16_t* pcm, int samples);

 private:
  struct Free {
    void operator()(dtmf_tx_state_s* s) const;
  };
  explicit ToneGenerator(dtmf_tx_state_s* s);
  std::unique_ptr<dtmf_tx_state_s, Free> tx_;
  long remaining_ = 0;  // samples left; -1 until stop()
};

}  // namespace rtcgw::codec
