// Any text as a SIP INFO Content-Type and body (split at the first newline) through
// codec::parse_dtmf_info, the same bytes as RFC 4733 payloads through parse_event/write_event,
// and the EventSender sequence for an event and duration taken from the input.
// Checks: a digit comes with kind kNone, a valid digit/event pair and a duration of 1..60000 ms;
// a refusal comes with a reason and a kind, kUnsupportedType exactly when the media type is not
// one of the two; a payload that parses writes back to the same 4 bytes but the R bit; the
// EventSender sequence has one marker, ends with three identical end packets, and durations
// never above 0xFFFF or going down within a segment.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "codec/dtmf.hpp"

using namespace rtcgw::codec;

namespace {

bool known_type(std::string_view ct) {
  std::string t(ct.substr(0, ct.find(';')));
  size_t b = t.find_first_not_of(" \t\r\n"), e = t.find_last_not_of(" \t\r\n");
  t = b == std::string::npos ? "" : t.substr(b, e - b + 1);
  for (char& c : t)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return t == "application/dtmf-relay" || t == "application/dtmf";
}

void check_info(std::string_view type, std::string_view body) {
  std::string error;
  InfoError kind = InfoError::kNone;
  auto d = parse_dtmf_info(type, body, error, &kind);
  if (d) {
    if (kind != InfoError::kNone) __builtin_trap();
    auto ev = event_of_digit(d->digit);
    if (!ev || *ev != d->event || digit_of_event(d->event) != d->digit) __builtin_trap();
    if (d->duration_ms < 1 || d->duration_ms > kMaxInfoDurationMs) __builtin_trap();
  } else {
    if (error.empty() || kind == InfoError::kNone) __builtin_trap();
    if ((kind == InfoError::kUnsupportedType) == known_type(type)) __builtin_trap();
    if (info_error_status(kind) != 415 && info_error_status(kind) != 400) __builtin_trap();
  }
}

void check_sender(uint8_t event, int duration_ms, int clock, int interval, uint32_t ts) {
  EventSender s(clock, 101, interval);
  static EventPacket pk[4096];
  size_t want = s.count(duration_ms);
  if (want > 4096) return;
  size_t n = s.sequence(event, duration_ms, ts, 10, pk, 4096);
  if (event > kMaxDtmfEvent) {
    if (n != 0) __builtin_trap();
    return;
  }
  if (n != want || n < 3) __builtin_trap();
  int markers = 0;
  for (size_t i = 0; i < n; ++i) {
    markers += pk[i].marker;
    if (i > 0 && pk[i].timestamp == pk[i - 1].timestamp &&
        pk[i].payload.duration < pk[i - 1].payload.duration)
      __builtin_trap();
    if (pk[i].payload.end != (i >= n - 3)) __builtin_trap();
    uint8_t buf[16];
    if (s.write_rtp(pk[i], 1, uint16_t(i), buf, sizeof buf) != 16) __builtin_trap();
    auto back = parse_event(buf + 12, 4);
    if (!back || back->duration != pk[i].payload.duration) __builtin_trap();
  }
  if (markers != 1 || !pk[0].marker) __builtin_trap();
  for (size_t i = n - 2; i < n; ++i)
    if (pk[i].timestamp != pk[n - 3].timestamp ||
        pk[i].payload.duration != pk[n - 3].payload.duration)
      __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  size_t nl = all.find('\n');
  if (nl == std::string_view::npos) {
    check_info(all, "");
    check_info("application/dtmf-relay", all);
    check_info("application/dtmf", all);
  } else {
    check_info(all.substr(0, nl), all.substr(nl + 1));
  }

  for (size_t off = 0; off + 1 <= size && off < 64; ++off) {
    EventError err = EventError::kNone;
    auto ev = parse_event(data + off, size - off, &err);
    if (ev) {
      if (err != EventError::kNone || ev->event > kMaxDtmfEvent) __builtin_trap();
      uint8_t w[4];
      write_event(*ev, w);
      if (w[0] != data[off] || w[1] != (data[off + 1] & 0xBF) || w[2] != data[off + 2] ||
          w[3] != data[off + 3])
        __builtin_trap();
    } else if (err == EventError::kNone || event_error_name(err) == nullptr) {
      __builtin_trap();
    }
  }

  if (size >= 8) {
    uint8_t event = data[0] % 18;  // 17: refused
    int duration = 1 + int((unsigned(data[1]) << 8 | data[2]) % kMaxInfoDurationMs);
    int clock = (data[3] & 1) ? 48000 : 8000;
    int interval = 20 + data[4] % 81;
    uint32_t ts = uint32_t(data[5]) << 24 | uint32_t(data[6]) << 16 | uint32_t(data[7]) << 8;
    check_sender(event, duration, clock, interval, ts - 1000);
  }
  return 0;
}
