// DtmfInjector on its own: a relayed browser -> network RTP stream fed packet by packet on a
// simulated clock (the injector takes the time as an argument), the timer's next() called the
// way the anchor does, and what would go to the network checked: sequence numbers contiguous
// across injected RFC 4733 events, audio dropped while a digit sounds, the event packets
// themselves, the browser's own events passed, SSRC changes and restarts, Opus at 48 kHz, and
// in-band tones in PCMU/PCMA (real spandsp tones, checked with Goertzel on the decoded payload).
#include "media/dtmf_injector.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "codec/g711.hpp"
#include "codec_signals.hpp"

namespace rtcgw::media {
namespace {

using Bytes = std::vector<uint8_t>;
using Format = DtmfInjector::Format;

constexpr uint32_t kSsrc = 0x11223344;

Bytes rtp(uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc = kSsrc, size_t payload = 160,
          uint8_t fill = 0xFF) {
  Bytes p(12 + payload, fill);
  p[0] = 0x80;
  p[1] = pt;
  p[2] = uint8_t(seq >> 8);
  p[3] = uint8_t(seq);
  for (int i = 0; i < 4; ++i) {
    p[4 + i] = uint8_t(ts >> (24 - 8 * i));
    p[8 + i] = uint8_t(ssrc >> (24 - 8 * i));
  }
  return p;
}

uint16_t seq_of(const Bytes& p) { return uint16_t(p[2] << 8 | p[3]); }
uint32_t u32(const Bytes& p, size_t at) {
  return uint32_t(p[at]) << 24 | uint32_t(p[at + 1]) << 16 | uint32_t(p[at + 2]) << 8 | p[at + 3];
}
uint32_t ts_of(const Bytes& p) { return u32(p, 4); }
uint32_t ssrc_of(const Bytes& p) { return u32(p, 8); }
uint8_t pt_of(const Bytes& p) { return p[1] & 0x7F; }
bool marker_of(const Bytes& p) { return (p[1] & 0x80) != 0; }
bool end_of(const Bytes& p) { return (p[13] & 0x80) != 0; }
uint16_t duration_of(const Bytes& p) { return uint16_t(p[14] << 8 | p[15]); }

const std::vector<Format> kPcmuWithEvents = {
    {0, "PCMU", 8000}, {8, "PCMA", 8000}, {101, "telephone-event", 8000}};
const std::vector<Format> kG711Only = {{0, "PCMU", 8000}, {8, "PCMA", 8000}};

// A browser sending 20 ms packets and the anchor's relay path and 10 ms timer, on a clock the
// test moves. `out` is what reaches the network, in the order it was sent.
struct Call {
  DtmfInjector inj;
  std::vector<Bytes> out;
  std::vector<bool> injected;  // per out packet
  int64_t now = 1000;
  uint16_t seq = 100;
  uint32_t ts = 16000;
  uint8_t pt = 0;
  uint32_t ssrc = kSsrc;
  uint32_t ts_step = 160;
  size_t payload = 160;
  int sent_audio = 0, dropped_audio = 0;

  explicit Call(const std::vector<Format>& f) { inj.set_formats(f); }

  // One audio packet from the browser, now.
  void audio() {
    Bytes p = rtp(pt, seq++, ts, ssrc, payload);
    ts += ts_step;
    relay(p);
  }
  void relay(Bytes p) {
    if (inj.relay(p.data(), p.size(), now)) {
      out.push_back(p);
      injected.push_back(false);
      ++sent_audio;
    } else {
      ++dropped_audio;
    }
    tick();
  }
  void tick() {
    uint8_t buf[64];
    size_t len = 0;
    while (inj.next(now, buf, sizeof buf, len)) {
      out.emplace_back(buf, buf + len);
      injected.push_back(true);
    }
  }
  // `ms` of time: a browser packet every 20 ms, the timer every 10 ms.
  void run(int ms) {
    for (int t = 0; t < ms; t += 10) {
      now += 10;
      if ((now / 10) % 2 == 0) audio();
      tick();
    }
  }
  std::vector<Bytes> events(uint8_t event_pt) const {
    std::vector<Bytes> e;
    for (size_t i = 0; i < out.size(); ++i)
      if (injected[i] && pt_of(out[i]) == event_pt) e.push_back(out[i]);
    return e;
  }
  void expect_contiguous() const {
    for (size_t i = 1; i < out.size(); ++i)
      ASSERT_EQ(seq_of(out[i]), uint16_t(seq_of(out[i - 1]) + 1))
          << "packet " << i << " of " << out.size() << (injected[i] ? " (injected)" : " (relayed)");
  }
};

TEST(DtmfInjector, NothingToInjectIntoBeforeTheBrowsersFirstRtp) {
  Call c(kPcmuWithEvents);
  EXPECT_FALSE(c.inj.send(5, 100, c.now));
  EXPECT_FALSE(c.inj.pacing());
  c.audio();
  EXPECT_TRUE(c.inj.send(5, 100, c.now));
  EXPECT_FALSE(c.inj.send(16, 100, c.now)) << "flash is not sent";
  EXPECT_FALSE(c.inj.send(5, 0, c.now)) << "an impossible duration";
  EXPECT_FALSE(c.inj.send(5, 60001, c.now));
}

TEST(DtmfInjector, EventsTakeSequenceNumbersAndAudioUnderThemIsDropped) {
  Call c(kPcmuWithEvents);
  c.run(200);  // 10 audio packets relayed unchanged
  ASSERT_EQ(c.out.size(), 10u);
  EXPECT_EQ(seq_of(c.out.front()), 100);
  EXPECT_EQ(seq_of(c.out.back()), 109);
  const uint32_t last_ts = ts_of(c.out.back());
  c.now += 5;  // the last audio arrived 5 ms ago
  ASSERT_TRUE(c.inj.send(5, 100, c.now));
  EXPECT_TRUE(c.inj.pacing());
  c.run(400);
  EXPECT_FALSE(c.inj.pacing());
  c.expect_contiguous();

  std::vector<Bytes> ev = c.events(101);
  // 100 ms in 50 ms reports: one report (50 ms), then the end three times.
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_TRUE(marker_of(ev[0])) << "the first report carries the marker bit";
  for (size_t i = 1; i < ev.size(); ++i) EXPECT_FALSE(marker_of(ev[i]));
  for (const Bytes& e : ev) {
    ASSERT_EQ(e.size(), 16u);
    EXPECT_EQ(e[12], 5);
    EXPECT_EQ(ssrc_of(e), kSsrc) << "the browser's SSRC";
    // The timestamp the stream had reached: the last audio's plus 5 ms at 8 kHz.
    EXPECT_EQ(ts_of(e), last_ts + 5 * 8);
  }
  EXPECT_FALSE(end_of(ev[0]));
  EXPECT_EQ(duration_of(ev[0]), 400);
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_TRUE(end_of(ev[i])) << i;
    EXPECT_EQ(duration_of(ev[i]), 800) << "100 ms at 8000 Hz";
  }

  // No audio between the event's start and its first end packet; audio again after it.
  size_t first_ev = 0, first_end = 0;
  for (size_t i = 0; i < c.out.size(); ++i) {
    if (!c.injected[i]) continue;
    if (!first_ev) first_ev = i;
    if (end_of(c.out[i])) {
      first_end = i;
      break;
    }
  }
  ASSERT_GT(first_end, first_ev);
  for (size_t i = first_ev; i < first_end; ++i) EXPECT_TRUE(c.injected[i]) << i;
  EXPECT_GE(c.dropped_audio, 4) << "100 ms of audio under the digit";
  EXPECT_EQ(c.inj.suppressed(), uint64_t(c.dropped_audio));
  EXPECT_EQ(c.inj.injected(), 4u);
  EXPECT_FALSE(c.injected.back()) << "audio resumes after the event";
  // Audio timestamps pass unchanged: the last one is the browser's.
  EXPECT_EQ(ts_of(c.out.back()), c.ts - 160);
}

TEST(DtmfInjector, DigitsWaitForTheOneSoundingAndStayContiguous) {
  Call c(kPcmuWithEvents);
  c.run(100);
  ASSERT_TRUE(c.inj.send(1, 60, c.now));
  ASSERT_TRUE(c.inj.send(11, 120, c.now));  // '#'
  c.run(800);
  c.expect_contiguous();
  std::vector<Bytes> ev = c.events(101);
  int ones = 0, hashes = 0;
  for (const Bytes& e : ev) (e[12] == 1 ? ones : hashes)++;
  EXPECT_EQ(ones, 4);    // 60 ms: a report, three ends
  EXPECT_EQ(hashes, 5);  // 120 ms: two reports, three ends
  ASSERT_EQ(ev.size(), 9u);
  EXPECT_EQ(ev[0][12], 1);
  EXPECT_EQ(ev[4][12], 11) << "the '#' after all of the '1'";
  EXPECT_TRUE(marker_of(ev[4]));
  EXPECT_GT(ts_of(ev[4]), ts_of(ev[0]) + 60 * 8) << "the second event starts later in the stream";
  // One playing, 32 waiting; no more.
  for (size_t i = 0; i < 33; ++i) ASSERT_TRUE(c.inj.send(2, 60, c.now)) << i;
  EXPECT_FALSE(c.inj.send(2, 60, c.now)) << "32 digits waiting at most";
}

TEST(DtmfInjector, TheBrowsersOwnEventsPassWithOnlyTheirNumbersShifted) {
  Call c(kPcmuWithEvents);
  c.run(100);
  ASSERT_TRUE(c.inj.send(7, 100, c.now));
  c.run(300);  // shifts later numbers by the injected packets less the dropped audio
  const int shift = int(c.inj.injected()) - int(c.inj.suppressed());
  EXPECT_NE(shift, 0) << "the test needs a shift to see";
  // An event the browser sends itself: its timestamp, marker, payload kept; the number follows.
  Bytes own = rtp(101, c.seq, c.ts, kSsrc, 4);
  own[1] |= 0x80;
  own[12] = 3;
  own[13] = 0x0A;
  own[14] = 0;
  own[15] = 160;
  Bytes before = own;
  ASSERT_TRUE(c.inj.relay(own.data(), own.size(), c.now));
  EXPECT_EQ(seq_of(own), uint16_t(seq_of(c.out.back()) + 1));
  EXPECT_EQ(seq_of(own), uint16_t(c.seq + shift));
  own[2] = before[2];
  own[3] = before[3];
  EXPECT_EQ(own, before) << "only the sequence number changes";

  // ... and while an injected event plays, the browser's events are not dropped with the audio.
  ++c.seq;
  ASSERT_TRUE(c.inj.send(9, 200, c.now));
  c.run(60);
  Bytes again = rtp(101, c.seq++, c.ts, kSsrc, 4);
  EXPECT_TRUE(c.inj.relay(again.data(), again.size(), c.now));
}

TEST(DtmfInjector, NewSsrcStartsAFreshNumberingAndTakesTheEvents) {
  Call c(kPcmuWithEvents);
  c.run(100);
  ASSERT_TRUE(c.inj.send(5, 100, c.now));
  c.run(60);  // the event is playing
  ASSERT_GT(c.inj.injected(), 0u);
  // The browser's track changes: new SSRC, own numbering, relayed as is; the old event stops.
  c.ssrc = 0xABCDEF01;
  c.seq = 5000;
  c.ts = 777;
  c.out.clear();
  c.injected.clear();
  uint64_t before = c.inj.injected();
  c.run(200);
  EXPECT_EQ(c.inj.injected(), before) << "the old stream's event is not continued";
  ASSERT_FALSE(c.out.empty());
  EXPECT_EQ(seq_of(c.out.front()), 5000) << "a new SSRC's numbers are its own";
  for (const Bytes& p : c.out) EXPECT_EQ(ssrc_of(p), 0xABCDEF01u);
  ASSERT_TRUE(c.inj.send(8, 100, c.now));
  c.run(300);
  c.expect_contiguous();
  std::vector<Bytes> ev = c.events(101);
  ASSERT_EQ(ev.size(), 4u);
  for (const Bytes& e : ev) EXPECT_EQ(ssrc_of(e), 0xABCDEF01u);
}

TEST(DtmfInjector, ARestartedNumberingContinuesFromTheLastNumberSent) {
  Call c(kPcmuWithEvents);
  c.run(100);
  ASSERT_TRUE(c.inj.send(4, 100, c.now));
  c.run(300);
  const uint16_t last = seq_of(c.out.back());
  c.seq = uint16_t(c.seq + 20000);  // same SSRC, numbers from elsewhere
  c.run(100);
  c.expect_contiguous();
  EXPECT_EQ(seq_of(c.out.back()), uint16_t(last + 5));
}

TEST(DtmfInjector, OpusRelayedToTheNetworkUsesTheEventAt48kHz) {
  const std::vector<Format> f = {
      {111, "opus", 48000}, {110, "telephone-event", 48000}, {126, "telephone-event", 8000}};
  Call c(f);
  c.pt = 111;
  c.ts_step = 960;
  c.payload = 60;
  c.run(100);
  const uint32_t last_ts = ts_of(c.out.back());
  ASSERT_TRUE(c.inj.send(3, 100, c.now));
  c.run(400);
  c.expect_contiguous();
  std::vector<Bytes> ev = c.events(110);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_TRUE(c.events(126).empty()) << "RFC 4733: the event's clock is the audio's";
  EXPECT_EQ(ts_of(ev[0]), last_ts);  // sent in the tick the last packet came
  EXPECT_EQ(duration_of(ev[0]), 2400);
  EXPECT_EQ(duration_of(ev[3]), 4800) << "100 ms at 48000 Hz";

  // Opus with only telephone-event/8000: no event at the right clock, no tone in Opus.
  Call d({{111, "opus", 48000}, {126, "telephone-event", 8000}});
  d.pt = 111;
  d.run(100);
  EXPECT_FALSE(d.inj.send(3, 100, d.now));
  // A payload type the network's SDP does not name: its clock is unknown.
  Call e(kPcmuWithEvents);
  e.pt = 96;
  e.run(100);
  EXPECT_FALSE(e.inj.send(3, 100, e.now));
}

// The decoded payloads of out[from..to) (G.711), as one signal.
std::vector<int16_t> decoded(const Call& c, size_t from, size_t to, codec::G711Law law) {
  std::vector<int16_t> pcm;
  for (size_t i = from; i < to && i < c.out.size(); ++i) {
    const Bytes& p = c.out[i];
    std::vector<int16_t> x(p.size() - 12);
    codec::g711_decode(law, p.data() + 12, x.size(), x.data());
    pcm.insert(pcm.end(), x.begin(), x.end());
  }
  return pcm;
}

// The tone after its first 20 ms (the rise), 80 ms of it.
void expect_tone(const std::vector<int16_t>& pcm, double low, double high) {
  codec::testing::expect_dtmf_tone(pcm, 160, 640, low, high);
}

TEST(DtmfInjector, WithoutTelephoneEventTheToneReplacesThePcmuPayload) {
  Call c(kG711Only);
  c.run(100);
  const size_t start = c.out.size();
  ASSERT_TRUE(c.inj.send(1, 200, c.now));  // '1': 697 + 1209 Hz
  EXPECT_FALSE(c.inj.pacing()) << "no timer for in-band tones";
  EXPECT_TRUE(c.inj.tone_playing());
  c.run(400);
  EXPECT_EQ(c.inj.injected(), 0u);
  EXPECT_EQ(c.dropped_audio, 0);
  c.expect_contiguous();  // numbers (and timestamps) are the browser's
  for (size_t i = 0; i < c.out.size(); ++i) {
    EXPECT_FALSE(c.injected[i]);
    EXPECT_EQ(size_t(seq_of(c.out[i])), 100 + i);
    EXPECT_EQ(size_t(ts_of(c.out[i])), 16000 + 160 * i);
    EXPECT_EQ(pt_of(c.out[i]), 0);
  }
  // 200 ms of tone = 10 packets, then the browser's own payload (0xFF: mu-law silence) again.
  expect_tone(decoded(c, start, start + 10, codec::G711Law::kUlaw), 697, 1209);
  for (size_t i = start + 10; i < c.out.size(); ++i)
    for (size_t k = 12; k < c.out[i].size(); ++k) ASSERT_EQ(c.out[i][k], 0xFF) << i;
  for (size_t i = 0; i < start; ++i)
    for (size_t k = 12; k < c.out[i].size(); ++k) ASSERT_EQ(c.out[i][k], 0xFF) << i;
  EXPECT_FALSE(c.inj.tone_playing());
}

TEST(DtmfInjector, TonesInPcmaAndOneAfterTheOtherWithAPause) {
  Call c(kG711Only);
  c.pt = 8;
  c.run(100);
  const size_t start = c.out.size();
  ASSERT_TRUE(c.inj.send(12, 100, c.now));  // 'A': 697 + 1633 Hz
  ASSERT_TRUE(c.inj.send(11, 100, c.now));  // '#': 941 + 1477 Hz, after a pause
  c.run(600);
  // 5 packets of 'A', 3 of silence (60 ms), 5 of '#'.
  expect_tone(decoded(c, start, start + 5, codec::G711Law::kAlaw), 697, 1633);
  std::vector<int16_t> pause = decoded(c, start + 5, start + 8, codec::G711Law::kAlaw);
  for (int16_t s : pause) ASSERT_LE(std::abs(s), 8) << "the pause is silent";
  expect_tone(decoded(c, start + 8, start + 13, codec::G711Law::kAlaw), 941, 1477);
}

TEST(DtmfInjector, NoTelephoneEventAndInbandOffIsRefused) {
  Call c(kG711Only);
  c.inj.set_inband(false);
  c.run(100);
  EXPECT_FALSE(c.inj.send(5, 100, c.now));
  // And telephone-event wins over in-band when the network has it.
  Call d(kPcmuWithEvents);
  d.run(100);
  ASSERT_TRUE(d.inj.send(5, 100, d.now));
  EXPECT_FALSE(d.inj.tone_playing());
  EXPECT_TRUE(d.inj.pacing());
}

TEST(DtmfInjector, NotRtpOrTooShortPassesUntouched) {
  DtmfInjector inj;
  inj.set_formats(kPcmuWithEvents);
  Bytes short_one = {0x80, 0, 1};
  EXPECT_TRUE(inj.relay(short_one.data(), short_one.size(), 0));
  EXPECT_EQ(short_one, (Bytes{0x80, 0, 1}));
  // A header that claims more CSRCs and extension than the packet has: numbers only, no tone.
  DtmfInjector tone;
  tone.set_formats(kG711Only);
  Bytes p = rtp(0, 1, 0);
  ASSERT_TRUE(tone.relay(p.data(), p.size(), 0));
  ASSERT_TRUE(tone.send(5, 100, 0));
  Bytes bad = rtp(0, 2, 160, kSsrc, 2);
  bad[0] = 0x9F;  // X, 15 CSRCs
  Bytes copy = bad;
  EXPECT_TRUE(tone.relay(bad.data(), bad.size(), 20));
  EXPECT_EQ(bad, copy);
}

}  // namespace
}  // namespace rtcgw::media
