#include "codec/dtmf.hpp"

#include <spandsp.h>

#include <algorithm>
#include <cstring>

namespace rtcgw::codec {

namespace {

constexpr char kDigits[] = "0123456789*#ABCD!";

char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// A decimal number without sign, at most 9 digits; nullopt otherwise.
std::optional<int> number(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::optional<InfoDigit> fail(std::string& error, InfoError* kind, InfoError k, const char* why) {
  error = why;
  if (kind) *kind = k;
  return std::nullopt;
}

std::optional<InfoDigit> digit_info(std::string_view value, int duration_ms) {
  std::optional<uint8_t> ev;
  if (value.size() == 1) {
    ev = event_of_digit(value[0]);
  } else if (auto n = number(value); n && *n >= 10 && *n <= kMaxDtmfEvent) {
    ev = uint8_t(*n);
  }
  if (!ev) return std::nullopt;
  return InfoDigit{digit_of_event(*ev), *ev, duration_ms};
}

}  // namespace

std::optional<uint8_t> event_of_digit(char digit) {
  char d = (digit >= 'a' && digit <= 'd') ? char(digit - 'a' + 'A') : digit;
  if (d == '\0') return std::nullopt;
  const char* p = std::strchr(kDigits, d);
  if (!p) return std::nullopt;
  return uint8_t(p - kDigits);
}

char digit_of_event(uint8_t event) { return event <= kMaxDtmfEvent ? kDigits[event] : '\0'; }

const char* event_error_name(EventError e) {
  switch (e) {
    case EventError::kNone:
      return "none";
    case EventError::kTooShort:
      return "too_short";
    case EventError::kNotDtmf:
      return "not_dtmf";
    case EventError::kZeroDurationEnd:
      return "zero_duration_end";
  }
  return "unknown";
}

std::optional<EventPayload> parse_event(const uint8_t* data, size_t len, EventError* error) {
  EventError e = EventError::kNone;
  EventPayload ev;
  if (len < kEventPayloadSize) {
    e = EventError::kTooShort;
  } else {
    ev.event = data[0];
    ev.end = (data[1] & 0x80) != 0;
    ev.volume = data[1] & 0x3F;
    ev.duration = uint16_t(data[2] << 8 | data[3]);
    if (ev.event > kMaxDtmfEvent)
      e = EventError::kNotDtmf;
    else if (ev.end && ev.duration == 0)
      e = EventError::kZeroDurationEnd;
  }
  if (error) *error = e;
  if (e != EventError::kNone) return std::nullopt;
  return ev;
}

void write_event(const EventPayload& ev, uint8_t* out) {
  out[0] = ev.event;
  out[1] = uint8_t((ev.end ? 0x80 : 0) | (ev.volume & 0x3F));
  out[2] = uint8_t(ev.duration >> 8);
  out[3] = uint8_t(ev.duration);
}

uint32_t scale_duration(uint32_t duration, int from_rate, int to_rate) {
  if (from_rate == to_rate || from_rate <= 0 || to_rate <= 0) return duration;
  uint64_t v =
      (uint64_t(duration) * uint64_t(to_rate) + uint64_t(from_rate) / 2) / uint64_t(from_rate);
  return v > 0xFFFFFFFFu ? 0xFFFFFFFFu : uint32_t(v);
}

int info_error_status(InfoError e) {
  switch (e) {
    case InfoError::kNone:
      return 0;
    case InfoError::kUnsupportedType:
      return 415;
    case InfoError::kBadBody:
      return 400;
  }
  return 400;
}

std::optional<InfoDigit> parse_dtmf_info(std::string_view content_type, std::string_view body,
                                         std::string& error, InfoError* kind) {
  if (kind) *kind = InfoError::kNone;
  std::string_view type = content_type.substr(0, content_type.find(';'));
  type = trim(type);
  bool relay = iequals(type, "application/dtmf-relay");
  if (!relay && !iequals(type, "application/dtmf"))
    return fail(error, kind, InfoError::kUnsupportedType,
                "Content-Type is neither application/dtmf-relay nor application/dtmf");

  if (!relay) {
    std::string_view v = trim(body);
    if (v.empty()) return fail(error, kind, InfoError::kBadBody, "empty application/dtmf body");
    auto d = digit_info(v, kDefaultInfoDurationMs);
    if (!d) return fail(error, kind, InfoError::kBadBody, "application/dtmf body is not a digit");
    return d;
  }

  std::optional<std::string_view> signal;
  int duration = kDefaultInfoDurationMs;
  bool have_duration = false;
  while (!body.empty()) {
    size_t eol = body.find('\n');
    std::string_view line = body.substr(0, eol);
    body = eol == std::string_view::npos ? std::string_view() : body.substr(eol + 1);
    line = trim(line);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      return fail(error, kind, InfoError::kBadBody, "dtmf-relay line without '='");
    std::string_view key = trim(line.substr(0, eq));
    std::string_view value = trim(line.substr(eq + 1));
    if (iequals(key, "signal")) {
      if (signal) return fail(error, kind, InfoError::kBadBody, "dtmf-relay: Signal given twice");
      signal = value;
    } else if (iequals(key, "duration")) {
      if (have_duration)
        return fail(error, kind, InfoError::kBadBody, "dtmf-relay: Duration given twice");
      auto n = number(value);
      if (!n || *n < 1 || *n > kMaxInfoDurationMs)
        return fail(error, kind, InfoError::kBadBody,
                    "dtmf-relay: Duration is not a number of milliseconds in 1..60000");
      duration = *n;
      have_duration = true;
    }
  }
  if (!signal) return fail(error, kind, InfoError::kBadBody, "dtmf-relay: no Signal");
  auto d = digit_info(*signal, duration);
  if (!d) return fail(error, kind, InfoError::kBadBody, "dtmf-relay: Signal is not 0-9, *, #, A-D");
  return d;
}

// ---- EventSender ----

EventSender::EventSender(int clock_rate, uint8_t payload_type, int interval_ms)
    : clock_rate_(clock_rate > 0 ? clock_rate : 8000),
      pt_(payload_type & 0x7F),
      interval_ms_(std::clamp(interval_ms, 20, 100)) {}

namespace {

// Calls emit(packet) for the whole sequence; returns the count. The sequence, in elapsed time
// e (timestamp units since the start): reports at e = k * interval while e < total, then three
// end reports of `total`. A report past a segment boundary is preceded by the old segment's
// closing report of 0xFFFF.
template <class Emit>
size_t walk(int clock_rate, int interval_ms, uint8_t event, int duration_ms, uint32_t start_ts,
            uint8_t volume, Emit&& emit) {
  const uint64_t total = uint64_t(duration_ms) * uint64_t(clock_rate) / 1000;
  const uint64_t step = uint64_t(interval_ms) * uint64_t(clock_rate) / 1000;
  size_t n = 0;
  uint64_t segment = 0;  // index of the current segment
  bool first = true;
  auto report = [&](uint64_t elapsed, bool end, int at_ms) {
    uint64_t seg = elapsed == 0 ? 0 : (elapsed - 1) / kMaxEventDuration;
    while (segment < seg) {  // close the old segment(s)
      EventPacket p;
      p.marker = false;
      p.timestamp = uint32_t(start_ts + segment * kMaxEventDuration);
      p.payload = EventPayload{event, false, volume, uint16_t(kMaxEventDuration)};
      p.at_ms = at_ms;
      emit(p);
      ++n;
      ++segment;
    }
    EventPacket p;
    p.marker = first;
    first = false;
    p.timestamp = uint32_t(start_ts + seg * kMaxEventDuration);
    p.payload = EventPayload{event, end, volume, uint16_t(elapsed - seg * kMaxEventDuration)};
    p.at_ms = at_ms;
    emit(p);
    ++n;
  };
  int at = interval_ms;
  for (uint64_t e = step; e < total; e += step, at += interval_ms) report(e, false, at);
  for (int i = 0; i < 3; ++i) report(total, true, duration_ms + i * interval_ms);
  return n;
}

}  // namespace

size_t EventSender::count(int duration_ms) const {
  if (duration_ms < 1 || duration_ms > kMaxInfoDurationMs) return 0;
  return walk(clock_rate_, interval_ms_, 0, duration_ms, 0, 0, [](const EventPacket&) {});
}

size_t EventSender::sequence(uint8_t event, int duration_ms, uint32_t start_ts, uint8_t volume,
                             EventPacket* out, size_t cap) const {
  if (event > kMaxDtmfEvent || duration_ms < 1 || duration_ms > kMaxInfoDurationMs) return 0;
  if (count(duration_ms) > cap) return 0;
  size_t i = 0;
  return walk(clock_rate_, interval_ms_, event, duration_ms, start_ts, volume & 0x3F,
              [&](const EventPacket& p) { out[i++] = p; });
}

size_t EventSender::write_rtp(const EventPacket& p, uint32_t ssrc, uint16_t seq, uint8_t* out,
                              size_t cap) const {
  if (cap < 12 + kEventPayloadSize) return 0;
  out[0] = 0x80;
  out[1] = uint8_t((p.marker ? 0x80 : 0) | pt_);
  out[2] = uint8_t(seq >> 8);
  out[3] = uint8_t(seq);
  for (int i = 0; i < 4; ++i) {
    out[4 + i] = uint8_t(p.timestamp >> (24 - 8 * i));
    out[8 + i] = uint8_t(ssrc >> (24 - 8 * i));
  }
  write_event(p.payload, out + 12);
  return 12 + kEventPayloadSize;
}

// ---- ToneGenerator ----

void ToneGenerator::Free::operator()(dtmf_tx_state_s* s) const { dtmf_tx_free(s); }

ToneGenerator::ToneGenerator(dtmf_tx_state_s* s) : tx_(s) {}
ToneGenerator::~ToneGenerator() = default;

std::unique_ptr<ToneGenerator> ToneGenerator::make(std::string& error) {
  dtmf_tx_state_t* s = dtmf_tx_init(nullptr);
  if (!s) {
    error = "spandsp dtmf_tx_init failed";
    return nullptr;
  }
  return std::unique_ptr<ToneGenerator>(new ToneGenerator(s));
}

bool ToneGenerator::start(char digit, int duration_ms, int level_dbm0) {
  auto ev = event_of_digit(digit);
  if (!ev || *ev == kMaxDtmfEvent) return false;
  if (duration_ms == 0 || duration_ms < -1 || duration_ms > kMaxInfoDurationMs) return false;
  // Re-initialising in place resets the queue and oscillators without allocating.
  if (!dtmf_tx_init(tx_.get())) return false;
  // "Until stop()": a tone longer than any call would hold a digit.
  const int on_ms = duration_ms < 0 ? 10 * kMaxInfoDurationMs : duration_ms;
  dtmf_tx_set_level(tx_.get(), std::clamp(level_dbm0, -36, 0), 2);
  dtmf_tx_set_timing(tx_.get(), on_ms, 0);
  char d[2] = {digit_of_event(*ev), '\0'};
  if (dtmf_tx_put(tx_.get(), d, 1) != 0) return false;  // returns the digits it could not queue
  remaining_ = duration_ms < 0 ? -1 : long(duration_ms) * 8;
  return true;
}

void ToneGenerator::stop() { remaining_ = 0; }

int ToneGenerator::generate(int16_t* pcm, int samples) {
  if (samples <= 0) return 0;
  int want = remaining_ < 0 ? samples : int(std::min<long>(remaining_, samples));
  int got = want > 0 ? dtmf_tx(tx_.get(), pcm, want) : 0;
  if (got < 0) got = 0;
  if (remaining_ > 0) remaining_ -= got;
  if (got < want) remaining_ = 0;  // the generator ran dry
  std::fill(pcm + got, pcm + samples, int16_t(0));
  return got;
}

}  // namespace rtcgw::codec
