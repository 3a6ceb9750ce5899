// DTMF: RFC 4733 payloads (parse/write, what is refused), duration scaling between the 48000 and
// 8000 clocks, the SIP INFO bodies (application/dtmf-relay, application/dtmf) with the error
// kind that picks 415 or 400, the EventSender packet sequence, and spandsp's tones (Goertzel).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "codec/dtmf.hpp"
#include "codec_signals.hpp"

namespace rtcgw::codec {
namespace {

using testing::goertzel;

TEST(CodecDtmf, DigitsAndEvents) {
  const std::string digits = "0123456789*#ABCD!";
  for (size_t i = 0; i < digits.size(); ++i) {
    auto ev = event_of_digit(digits[i]);
    ASSERT_TRUE(ev) << digits[i];
    EXPECT_EQ(*ev, i);
    EXPECT_EQ(digit_of_event(uint8_t(i)), digits[i]);
  }
  EXPECT_EQ(*event_of_digit('b'), 13);
  EXPECT_FALSE(event_of_digit('E'));
  EXPECT_FALSE(event_of_digit('\0'));
  EXPECT_FALSE(event_of_digit(' '));
  EXPECT_EQ(digit_of_event(17), '\0');
}

TEST(CodecDtmf, ParseAndWriteEventPayload) {
  const uint8_t p[] = {5, 0x8A, 0x03, 0x20};  // '5', E, volume 10, duration 800
  EventError err;
  auto ev = parse_event(p, sizeof p, &err);
  ASSERT_TRUE(ev);
  EXPECT_EQ(err, EventError::kNone);
  EXPECT_EQ(ev->event, 5);
  EXPECT_TRUE(ev->end);
  EXPECT_EQ(ev->volume, 10);
  EXPECT_EQ(ev->duration, 800);
  uint8_t out[4];
  write_event(*ev, out);
  EXPECT_EQ(std::vector<uint8_t>(out, out + 4), std::vector<uint8_t>(p, p + 4));

  const uint8_t r_bit[] = {1, 0x4A, 0, 160};  // R set: ignored on receipt
  ASSERT_TRUE(parse_event(r_bit, 4));
  EXPECT_FALSE(parse_event(r_bit, 4)->end);
  write_event(*parse_event(r_bit, 4), out);
  EXPECT_EQ(out[1], 0x0A);  // and never sent

  const uint8_t start_zero[] = {1, 0x0A, 0, 0};  // a start reporting 0 so far: accepted
  EXPECT_TRUE(parse_event(start_zero, 4));
}

TEST(CodecDtmf, RefusesImpossibleEvents) {
  EventError err;
  const uint8_t short_p[] = {1, 0x0A, 0};
  EXPECT_FALSE(parse_event(short_p, 3, &err));
  EXPECT_EQ(err, EventError::kTooShort);
  const uint8_t not_dtmf[] = {17, 0x0A, 0, 160};  // off-hook tone etc.: not interworked
  EXPECT_FALSE(parse_event(not_dtmf, 4, &err));
  EXPECT_EQ(err, EventError::kNotDtmf);
  const uint8_t end_zero[] = {1, 0x8A, 0, 0};  // ended, having lasted nothing
  EXPECT_FALSE(parse_event(end_zero, 4, &err));
  EXPECT_EQ(err, EventError::kZeroDurationEnd);
  EXPECT_STREQ(event_error_name(err), "zero_duration_end");
  const uint8_t flash[] = {16, 0x0A, 0, 160};
  EXPECT_TRUE(parse_event(flash, 4));
}

TEST(CodecDtmf, ScaleDurationBetweenClocks) {
  EXPECT_EQ(scale_duration(960, 48000, 8000), 160u);
  EXPECT_EQ(scale_duration(160, 8000, 48000), 960u);
  EXPECT_EQ(scale_duration(0xFFFF, 48000, 8000), 10923u);   // 65535 / 6 = 10922.5, rounded
  EXPECT_EQ(scale_duration(0xFFFF, 8000, 48000), 393210u);  // beyond 16 bits: caller segments
  EXPECT_EQ(scale_duration(7, 48000, 8000), 1u);
  EXPECT_EQ(scale_duration(400, 8000, 8000), 400u);
  EXPECT_EQ(scale_duration(400, 0, 8000), 400u);
}

struct InfoCase {
  const char* type;
  const char* body;
  char digit;  // '\0': an error of `kind`
  int duration_ms;
  InfoError kind;
};

TEST(CodecDtmf, InfoBodies) {
  const InfoCase cases[] = {
      {"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5', 160, InfoError::kNone},
      {"application/dtmf-relay", "Signal=5\nDuration=160\n", '5', 160, InfoError::kNone},
      {"Application/DTMF-Relay; charset=utf-8", "signal = #\r\nDURATION= 250", '#', 250,
       InfoError::kNone},
      {"application/dtmf-relay", "Signal=*\r\n", '*', kDefaultInfoDurationMs, InfoError::kNone},
      {"application/dtmf-relay", "Signal=d\r\nDuration=100\r\n", 'D', 100, InfoError::kNone},
      {"application/dtmf-relay", "Signal=11\r\nDuration=100\r\n", '#', 100, InfoError::kNone},
      {"application/dtmf-relay", "Signal=16\r\nDuration=100\r\n", '!', 100, InfoError::kNone},
      {"application/dtmf-relay", "Foo=bar\r\nSignal=0\r\nDuration=60000\r\n", '0', 60000,
       InfoError::kNone},
      {"application/dtmf", "7", '7', kDefaultInfoDurationMs, InfoError::kNone},
      {"application/dtmf", " A\r\n", 'A', kDefaultInfoDurationMs, InfoError::kNone},
      // 415: not a DTMF type at all.
      {"application/sdp", "Signal=5\r\n", '\0', 0, InfoError::kUnsupportedType},
      {"text/plain", "5", '\0', 0, InfoError::kUnsupportedType},
      {"", "Signal=5", '\0', 0, InfoError::kUnsupportedType},
      {"application/dtmf-relayx", "Signal=5", '\0', 0, InfoError::kUnsupportedType},
      // 400: the type is right, the body is not.
      {"application/dtmf-relay", "", '\0', 0, InfoError::kBadBody},
      {"application/dtmf-relay", "Duration=160\r\n", '\0', 0, InfoError::kBadBody},
      {"application/dtmf-relay", "Signal=E\r\n", '\0', 0, InfoError::kBadBody},
      {"application/dtmf-relay", "Signal=55\r\n", '\0', 0, InfoError::kBadBody},
      {"application/dtmf-relay", "Signal=17\r\n", '\0', 0, InfoError::kBadBody},
      {"application/dtmf-relay", "Signal=\r\n", '\0', 0, InfoError::kBadBody},
      {"application/dtmf-relay", "Signal=5\r\nSignal=6\r\n", '\0', 0, InfoError::kBadBody},
      {"application/dtmf-relay", "Signal=5\r\nDuration=0\r\n", '\0', 0, InfoError::kBadBody},
      {"application/dtmf-relay", "Signal=5\r\nDuration=-5\r\n", '\0', 0, InfoError::kBadBody},
      {"application/dtmf-relay", "Signal=5\r\nDuration=60001\r\n", '\0', 0, InfoError::kBadBody},
      {"application/dtmf-relay", "Signal=5\r\nDuration=99999999999\r\n", '\0', 0,
       InfoError::kBadBody},
      {"application/dtmf-relay", "Signal=5\r\nDuration=1x\r\n", '\0', 0, InfoError::kBadBody},
      {"application/dtmf-relay", "Signal 5\r\n", '\0', 0, InfoError::kBadBody},
      {"application/dtmf", "", '\0', 0, InfoError::kBadBody},
      {"application/dtmf", "55", '\0', 0, InfoError::kBadBody},
      {"application/dtmf", "x", '\0', 0, InfoError::kBadBody},
  };
  for (const auto& c : cases) {
    std::string error;
    InfoError kind = InfoError::kBadBody;
    auto d = parse_dtmf_info(c.type, c.body, error, &kind);
    SCOPED_TRACE(std::string(c.type) + " | " + c.body);
    EXPECT_EQ(kind, c.kind);
    if (c.digit) {
      ASSERT_TRUE(d) << error;
      EXPECT_EQ(d->digit, c.digit);
      EXPECT_EQ(d->event, *event_of_digit(c.digit));
      EXPECT_EQ(d->duration_ms, c.duration_ms);
    } else {
      EXPECT_FALSE(d);
      EXPECT_FALSE(error.empty());
    }
  }
  EXPECT_EQ(info_error_status(InfoError::kUnsupportedType), 415);
  EXPECT_EQ(info_error_status(InfoError::kBadBody), 400);
  EXPECT_EQ(info_error_status(InfoError::kNone), 0);
}

TEST(CodecDtmf, EventSenderSequenceAt8k) {
  EventSender s(8000, 101, 50);
  std::vector<EventPacket> p(16);
  size_t n = s.sequence(5, 160, 1000, 10, p.data(), p.size());
  ASSERT_EQ(n, 6u);  // reports at 50, 100, 150 ms, then three ends
  EXPECT_EQ(s.count(160), 6u);
  const uint16_t want[] = {400, 800, 1200, 1280, 1280, 1280};
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(p[i].marker, i == 0) << i;
    EXPECT_EQ(p[i].timestamp, 1000u) << i;
    EXPECT_EQ(p[i].payload.event, 5);
    EXPECT_EQ(p[i].payload.volume, 10);
    EXPECT_EQ(p[i].payload.duration, want[i]) << i;
    EXPECT_EQ(p[i].payload.end, i >= 3) << i;
    if (i > 0) {
      EXPECT_GE(p[i].at_ms, p[i - 1].at_ms);
    }
  }
  EXPECT_EQ(p[3].at_ms, 160);
  EXPECT_EQ(p[5].at_ms, 260);

  uint8_t rtp[16];
  ASSERT_EQ(s.write_rtp(p[0], 0x11223344, 7, rtp, sizeof rtp), 16u);
  EXPECT_EQ(rtp[0], 0x80);
  EXPECT_EQ(rtp[1], 0x80 | 101);
  EXPECT_EQ(rtp[3], 7);
  EXPECT_EQ(rtp[7], 1000 & 0xFF);
  EXPECT_EQ(rtp[8], 0x11);
  EXPECT_EQ(rtp[12], 5);
  EXPECT_EQ(s.write_rtp(p[0], 1, 1, rtp, 15), 0u);

  // Short digit: three end packets only, the first with the marker.
  n = s.sequence(11, 40, 0, 10, p.data(), p.size());
  ASSERT_EQ(n, 3u);
  EXPECT_TRUE(p[0].marker);
  EXPECT_TRUE(p[0].payload.end);
  EXPECT_EQ(p[2].payload.duration, 320);
  // Refused: bad event, bad duration, no room.
  EXPECT_EQ(s.sequence(17, 100, 0, 10, p.data(), p.size()), 0u);
  EXPECT_EQ(s.sequence(1, 0, 0, 10, p.data(), p.size()), 0u);
  EXPECT_EQ(s.sequence(1, 160, 0, 10, p.data(), 5), 0u);
}

TEST(CodecDtmf, EventSenderLongEventSegmentsAt48k) {
  EventSender s(48000, 126, 20);
  const int ms = 2000;  // 96000 units: one full segment of 65535, then 30465
  std::vector<EventPacket> p(s.count(ms));
  size_t n = s.sequence(1, ms, 0xFFFFFF00u, 10, p.data(), p.size());
  ASSERT_EQ(n, p.size());
  int markers = 0, max_reports = 0;
  for (size_t i = 0; i < n; ++i) {
    markers += p[i].marker;
    if (p[i].payload.duration == 0xFFFF) {
      EXPECT_FALSE(p[i].payload.end);
      EXPECT_EQ(p[i].timestamp, 0xFFFFFF00u);
      ++max_reports;
    }
  }
  EXPECT_EQ(markers, 1);
  EXPECT_EQ(max_reports, 1);
  for (size_t i = n - 3; i < n; ++i) {
    EXPECT_TRUE(p[i].payload.end);
    EXPECT_EQ(p[i].timestamp, 0xFFFFFF00u + 65535u);  // wraps: the next segment's start
    EXPECT_EQ(p[i].payload.duration, 96000 - 65535);
  }
}

TEST(CodecDtmf, ToneGeneratorHasBothFrequencies) {
  std::string err;
  auto tg = ToneGenerator::make(err);
  ASSERT_TRUE(tg) << err;
  struct {
    char digit;
    double low, high;
  } tones[] = {{'1', 697, 1209}, {'5', 770, 1336}, {'#', 941, 1477}, {'D', 941, 1633}};
  const double all[] = {697, 770, 852, 941, 1209, 1336, 1477, 1633};
  for (const auto& t : tones) {
    ASSERT_TRUE(tg->start(t.digit, 100));
    EXPECT_TRUE(tg->active());
    std::vector<int16_t> pcm(1600, 1);
    EXPECT_EQ(tg->generate(pcm.data(), 480), 480);
    EXPECT_EQ(tg->generate(pcm.data() + 480, 800), 320);  // 100 ms = 800 samples in all
    EXPECT_FALSE(tg->active());
    for (int i = 800; i < 1280; ++i) ASSERT_EQ(pcm[size_t(i)], 0) << i;  // silence after
    // Skip the first 20 ms (rise); 640 samples give 12.5 Hz bins.
    double lo = goertzel(pcm.data() + 160, 640, t.low, 8000);
    double hi = goertzel(pcm.data() + 160, 640, t.high, 8000);
    EXPECT_GT(lo, 0);
    EXPECT_GT(hi, 0);
    for (double f : all) {
      if (f == t.low || f == t.high) continue;
      double other = goertzel(pcm.data() + 160, 640, f, 8000);
      EXPECT_GT(lo, 100 * other) << t.digit << " " << f;
      EXPECT_GT(hi, 100 * other) << t.digit << " " << f;
    }
  }
  EXPECT_FALSE(tg->start('!'));  // flash has no tone
  EXPECT_FALSE(tg->start('x'));
  ASSERT_TRUE(tg->start('9'));  // until stop()
  std::vector<int16_t> pcm(8000);
  EXPECT_EQ(tg->generate(pcm.data(), 8000), 8000);
  tg->stop();
  EXPECT_EQ(tg->generate(pcm.data(), 160), 0);
}

}  // namespace
}  // namespace rtcgw::codec
