// The per-call transcoder: RTP in, RTP out with rtcgw's own SSRC/sequence/timestamps; audio
// quality through browser -> network -> browser (opus -> PCMU -> opus: a 1 kHz tone keeps its
// frequency, a voiced-speech stand-in keeps its spectrum envelope and waveform after the codec
// delay); loss (FEC, then PLC), corrupt frames, late packets, headers with CSRC/extension/
// padding, telephone-event relay between the 48000 and 8000 clocks, in-band DTMF.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "codec/dtmf.hpp"
#include "codec/g711.hpp"
#include "codec/opus.hpp"
#include "codec/transcoder.hpp"
#include "codec_signals.hpp"

namespace rtcgw::codec {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint8_t kOpusPt = 111, kBrowserEventPt = 126, kPcmuPt = 0, kNetEventPt = 101;
constexpr uint32_t kBrowserSsrc = 0xB0B0B0B0, kNetSsrc = 0x0E0E0E0E;

struct RtpOpts {
  bool marker = false;
  int csrc = 0;
  int ext_words = -1;  // -1: no extension
  int pad = 0;
};

Bytes rtp(uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc, const Bytes& payload,
          RtpOpts o = {}) {
  Bytes b(12);
  b[0] = uint8_t(0x80 | (o.pad ? 0x20 : 0) | (o.ext_words >= 0 ? 0x10 : 0) | o.csrc);
  b[1] = uint8_t((o.marker ? 0x80 : 0) | pt);
  b[2] = uint8_t(seq >> 8);
  b[3] = uint8_t(seq);
  for (int i = 0; i < 4; ++i) {
    b[size_t(4 + i)] = uint8_t(ts >> (24 - 8 * i));
    b[size_t(8 + i)] = uint8_t(ssrc >> (24 - 8 * i));
  }
  for (int i = 0; i < o.csrc * 4; ++i) b.push_back(uint8_t(0xC0 + i));
  if (o.ext_words >= 0) {
    Bytes e = {0xBE, 0xDE, 0, uint8_t(o.ext_words)};
    b.insert(b.end(), e.begin(), e.end());
    for (int i = 0; i < o.ext_words * 4; ++i) b.push_back(0x11);
  }
  b.insert(b.end(), payload.begin(), payload.end());
  for (int i = 0; i < o.pad; ++i) b.push_back(i == o.pad - 1 ? uint8_t(o.pad) : 0);
  return b;
}

struct Out {
  bool marker;
  uint8_t pt;
  uint16_t seq;
  uint32_t ts, ssrc;
  Bytes payload;
};

Out parse(const uint8_t* d, size_t n) {
  EXPECT_GE(n, 12u);
  EXPECT_EQ(d[0], 0x80);  // v2, no padding, extension or CSRC
  Out o;
  o.marker = d[1] & 0x80;
  o.pt = d[1] & 0x7F;
  o.seq = uint16_t(d[2] << 8 | d[3]);
  o.ts = uint32_t(d[4]) << 24 | uint32_t(d[5]) << 16 | uint32_t(d[6]) << 8 | d[7];
  o.ssrc = uint32_t(d[8]) << 24 | uint32_t(d[9]) << 16 | uint32_t(d[10]) << 8 | d[11];
  o.payload.assign(d + 12, d + n);
  return o;
}

TranscoderConfig opus_pcmu(int net_event_pt = kNetEventPt) {
  TranscoderConfig c;
  c.browser = {Codec::kOpus, kOpusPt, kBrowserEventPt};
  c.network = {Codec::kPcmu, kPcmuPt, net_event_pt};
  c.browser_ssrc = 0x12345678;
  c.network_ssrc = 0x9ABCDEF0;
  c.browser_seq = 65530;  // wraps during the tests
  c.network_seq = 100;
  c.browser_ts = 0xFFFFF000;
  c.network_ts = 5000;
  return c;
}

std::unique_ptr<Transcoder> make(const TranscoderConfig& c) {
  std::string err;
  auto t = Transcoder::make(c, err);
  EXPECT_TRUE(t) << err;
  return t;
}

// ---- signals and measurements ----

using testing::tone;

// Voiced speech stand-in: harmonics of a 140 Hz fundamental (with 5 Hz vibrato) up to 3.4 kHz
// under two formants (700 Hz, 1.8 kHz), with a 4 Hz syllable envelope.
std::vector<int16_t> voiced(int rate, int n) {
  std::vector<int16_t> x(static_cast<size_t>(n));
  double phase0 = 0;
  for (int i = 0; i < n; ++i) {
    double t = double(i) / rate;
    double f0 = 140 + 6 * std::sin(2 * M_PI * 5 * t);
    phase0 += 2 * M_PI * f0 / rate;
    double v = 0;
    for (int k = 1; k * 146 <= 3400; ++k) {
      double f = k * 140.0;
      double g = 1 / (1 + std::pow((f - 700) / 200, 2)) + 0.6 / (1 + std::pow((f - 1800) / 300, 2));
      v += g * std::sin(k * phase0 + k);
    }
    double env = 0.2 + 0.8 * std::pow(std::sin(M_PI * 4 * t), 2);
    x[size_t(i)] = int16_t(std::lround(3000 * env * v));
  }
  return x;
}

double goertzel(const int16_t* x, int n, double f, int rate) {
  double w = 2 * M_PI * f / rate, c = 2 * std::cos(w), s1 = 0, s2 = 0;
  for (int i = 0; i < n; ++i) {
    double s0 = x[i] + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return std::max(0.0, s1 * s1 + s2 * s2 - c * s1 * s2);
}

// The delay of y against x (0..max_lag samples) maximising the correlation over x[from, +len).
int align(const std::vector<int16_t>& x, const std::vector<int16_t>& y, int from, int len,
          int max_lag) {
  double best = -1e300;
  int best_lag = 0;
  for (int lag = 0; lag <= max_lag; ++lag) {
    double xy = 0;
    for (int i = from; i < from + len; ++i) xy += double(x[size_t(i)]) * y[size_t(i + lag)];
    if (xy > best) {
      best = xy;
      best_lag = lag;
    }
  }
  return best_lag;
}

// SNR (dB) of y (delayed by lag, best gain) as an estimate of x over x[from, +len); and the
// correlation coefficient.
void snr(const std::vector<int16_t>& x, const std::vector<int16_t>& y, int from, int len, int lag,
         double& snr_db, double& corr) {
  double xy = 0, xx = 0, yy = 0;
  for (int i = from; i < from + len; ++i) {
    double a = x[size_t(i)], b = y[size_t(i + lag)];
    xy += a * b;
    xx += a * a;
    yy += b * b;
  }
  double g = xy / yy;
  double e = 0;
  for (int i = from; i < from + len; ++i) {
    double d = x[size_t(i)] - g * y[size_t(i + lag)];
    e += d * d;
  }
  snr_db = 10 * std::log10(xx / e);
  corr = xy / std::sqrt(xx * yy);
}

// ---- a browser on each side ----

// Encodes like a browser (Opus at 48 kHz, 32 kbit/s, FEC) and sends RTP.
struct BrowserSender {
  explicit BrowserSender(bool fec = true, uint32_t ssrc = kBrowserSsrc) : ssrc(ssrc) {
    std::string err;
    OpusParams p;
    p.complexity = 10;
    p.bitrate = 32000;
    p.fec = fec;
    p.packet_loss_perc = fec ? 20 : 0;
    enc = OpusEnc::make(48000, p, err);
    EXPECT_TRUE(enc) << err;
  }
  Bytes packet(const int16_t* pcm) {
    uint8_t buf[1500];
    int n = enc->encode(pcm, 960, buf, sizeof buf);
    EXPECT_GT(n, 0);
    Bytes b = rtp(kOpusPt, seq, ts, ssrc, Bytes(buf, buf + std::max(n, 0)), {seq == 1000});
    ++seq;
    ts += 960;
    return b;
  }
  std::unique_ptr<OpusEnc> enc;
  uint32_t ssrc;
  uint16_t seq = 1000;
  uint32_t ts = 0x7FFFFF00;
};

struct Pipeline {
  // browser A -> T1 (browser side opus, network side PCMU) -> PCMU on the network -> T2 (network
  // side PCMU, browser side opus) -> browser B decodes at 48 kHz.
  std::vector<int16_t> run(const std::vector<int16_t>& x) {
    BrowserSender a;
    auto t1 = make(opus_pcmu());
    TranscoderConfig c2 = opus_pcmu();
    c2.browser_ssrc = 0x55555555;
    auto t2 = make(c2);
    std::string err;
    auto dec = OpusDec::make(48000, err);
    EXPECT_TRUE(t1 && t2 && dec);
    std::vector<int16_t> y;
    uint8_t mid[Transcoder::kMaxOutput], out[Transcoder::kMaxOutput];
    uint16_t last_seq = 0;
    for (size_t f = 0; f + 960 <= x.size(); f += 960) {
      Bytes in = a.packet(x.data() + f);
      size_t mid_len = 0, out_len = 0;
      EXPECT_TRUE(t1->browser_to_network(in.data(), in.size(), mid, sizeof mid, mid_len))
          << t1->last_drop(Leg::kBrowser);
      Out m = parse(mid, mid_len);
      EXPECT_EQ(m.pt, kPcmuPt);
      EXPECT_EQ(m.payload.size(), 160u);
      EXPECT_TRUE(t2->network_to_browser(mid, mid_len, out, sizeof out, out_len))
          << t2->last_drop(Leg::kNetwork);
      Out o = parse(out, out_len);
      EXPECT_EQ(o.pt, kOpusPt);
      EXPECT_EQ(o.ssrc, 0x55555555u);
      if (f > 0) {
        EXPECT_EQ(o.seq, uint16_t(last_seq + 1));
      }
      last_seq = o.seq;
      std::vector<int16_t> pcm(960);
      EXPECT_EQ(dec->decode(o.payload.data(), int(o.payload.size()), pcm.data(), 960), 960);
      y.insert(y.end(), pcm.begin(), pcm.end());
    }
    stats1 = t1->stats(Leg::kBrowser);
    stats2 = t2->stats(Leg::kNetwork);
    return y;
  }
  TranscoderStats stats1, stats2;
};

// ---- quality ----

TEST(CodecTranscoder, QualityToneOpusPcmuOpus) {
  const int n = 48000 * 3 / 2;
  auto x = tone(48000, 1000, n);
  Pipeline p;
  auto y = p.run(x);
  ASSERT_EQ(y.size(), x.size());
  EXPECT_EQ(p.stats1.decoded, 75u);
  EXPECT_EQ(p.stats1.concealed, 0u);
  EXPECT_EQ(p.stats2.decoded, 75u);

  // Spectral peak over 0.5 s (2 Hz bins), 100 Hz..3.9 kHz.
  const int from = 48000 / 2, len = 48000 / 2;
  double best = 0, best_f = 0;
  for (double f = 100; f <= 3900; f += 2) {
    double e = goertzel(y.data() + from, len, f, 48000);
    if (e > best) {
      best = e;
      best_f = f;
    }
  }
  EXPECT_NEAR(best_f, 1000, 20);
  // Nothing else within 20 dB: no harmonics or aliases from the 8 kHz path.
  for (double f : {500.0, 2000.0, 3000.0, 3500.0}) {
    EXPECT_LT(goertzel(y.data() + from, len, f, 48000), best / 100) << f;
  }
  // A tone aligns at any whole number of periods: search one period (48 samples).
  int lag = align(x, y, from, 9600, 48);
  double s, c;
  snr(x, y, from, len, lag, s, c);
  std::printf("tone: peak %.0f Hz, SNR %.1f dB, correlation %.4f\n", best_f, s, c);
  EXPECT_GT(s, 20.0);  // measured 25.1 dB (libopus 1.3.1, complexity 5 on the 8 kHz side)
  EXPECT_GT(c, 0.99);
}

TEST(CodecTranscoder, QualitySpeechLikeOpusPcmuOpus) {
  const int n = 48000 * 2;
  auto x = voiced(48000, n);
  Pipeline p;
  auto y = p.run(x);
  ASSERT_EQ(y.size(), x.size());
  const int from = 48000 / 2, len = 48000;
  int lag = align(x, y, from, 9600, 2400);
  double s, c;
  snr(x, y, from, len, lag, s, c);
  std::printf("speech-like: delay %d samples (%.1f ms), SNR %.1f dB, correlation %.4f\n", lag,
              lag / 48.0, s, c);
  EXPECT_GT(s, 7.0);  // measured 10.4 dB, correlation 0.954: SILK narrowband twice, and G.711
  EXPECT_GT(c, 0.9);
  EXPECT_GT(lag, 48 * 5);  // the codec delay, about 13 ms (< 50 ms searched)
  EXPECT_LT(lag, 48 * 30);

  // The spectrum envelope: energy at each harmonic within 6 dB of the input's, for harmonics
  // within 30 dB of the strongest (the formants).
  double hx[25] = {}, hy[25] = {}, top = 0;
  for (int k = 1; k * 146 <= 3400; ++k) {
    for (int f = -8; f <= 8; f += 2) {  // the vibrato spreads each harmonic a little
      hx[k] += goertzel(x.data() + from, len, k * 140.0 + f * k / 10.0, 48000);
      hy[k] += goertzel(y.data() + from + lag, len, k * 140.0 + f * k / 10.0, 48000);
    }
    top = std::max(top, hx[k]);
  }
  const double gain = hx[5] / hy[5];  // 700 Hz, the first formant
  int compared = 0;
  for (int k = 1; k * 146 <= 3400; ++k) {
    if (hx[k] < top / 1000) continue;
    double db = 10 * std::log10(hy[k] * gain / hx[k]);
    EXPECT_LT(std::fabs(db), 6.0) << "harmonic " << k << " (" << k * 140 << " Hz)";
    ++compared;
  }
  EXPECT_GE(compared, 10);
}

// ---- loss, corruption, order ----

struct B2N {
  explicit B2N(bool fec = true, int net_event_pt = kNetEventPt)
      : sender(fec), t(make(opus_pcmu(net_event_pt))), x(voiced(48000, 48000 * 2)) {}
  Bytes next() {
    Bytes b = sender.packet(x.data() + pos);
    pos = (pos + 960) % (x.size() - 960);
    return b;
  }
  bool send(const Bytes& in, Out& o) {
    size_t len = 0;
    if (!t->browser_to_network(in.data(), in.size(), buf, sizeof buf, len)) return false;
    o = parse(buf, len);
    return true;
  }
  const TranscoderStats& st() const { return t->stats(Leg::kBrowser); }
  BrowserSender sender;
  std::unique_ptr<Transcoder> t;
  std::vector<int16_t> x;
  size_t pos = 0;
  uint8_t buf[Transcoder::kMaxOutput];
};

TEST(CodecTranscoder, BrowserToNetworkTimeline) {
  B2N s;
  Out o, prev;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(s.send(s.next(), o));
    EXPECT_EQ(o.pt, kPcmuPt);
    EXPECT_EQ(o.ssrc, 0x9ABCDEF0u);
    EXPECT_EQ(o.payload.size(), 160u);
    EXPECT_EQ(o.marker, i == 0);
    if (i == 0) {
      EXPECT_EQ(o.seq, 100);
      EXPECT_EQ(o.ts, 5000u);
    } else {
      EXPECT_EQ(o.seq, uint16_t(prev.seq + 1));
      EXPECT_EQ(o.ts, prev.ts + 160);
    }
    prev = o;
  }
  EXPECT_EQ(s.st().decoded, 10u);
  EXPECT_EQ(s.st().packets_out, 10u);
}

TEST(CodecTranscoder, FecRecoversOneLostPacket) {
  B2N s;
  Out o, prev;
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(s.send(s.next(), prev));
  s.next();  // lost
  Bytes after = s.next();
  ASSERT_TRUE(opus_packet_has_fec(after.data() + 12, int(after.size() - 12)));
  ASSERT_TRUE(s.send(after, o));
  EXPECT_EQ(o.payload.size(), 320u);  // the recovered frame, then this one
  EXPECT_EQ(o.ts, prev.ts + 160);     // no gap on the network side
  EXPECT_EQ(o.seq, uint16_t(prev.seq + 1));
  EXPECT_EQ(s.st().fec, 1u);
  EXPECT_EQ(s.st().concealed, 0u);
  EXPECT_EQ(s.st().lost, 1u);
  // The recovered 20 ms carry signal.
  double e = 0;
  for (int i = 0; i < 160; ++i)
    e += std::abs(g711_decode_sample(G711Law::kUlaw, o.payload[size_t(i)]));
  EXPECT_GT(e / 160, 50.0);
  ASSERT_TRUE(s.send(s.next(), prev));
  EXPECT_EQ(prev.ts, o.ts + 320);
}

TEST(CodecTranscoder, FecThenPlcForSeveralLostPackets) {
  B2N s;
  Out o, prev;
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(s.send(s.next(), prev));
  for (int i = 0; i < 3; ++i) s.next();  // three lost
  ASSERT_TRUE(s.send(s.next(), o));
  EXPECT_EQ(o.payload.size(), 640u);
  EXPECT_EQ(o.ts, prev.ts + 160);
  EXPECT_EQ(s.st().fec, 1u);
  EXPECT_EQ(s.st().concealed, 2u);
  EXPECT_EQ(s.st().lost, 3u);
}

TEST(CodecTranscoder, PlcWithoutFec) {
  B2N s(/*fec=*/false);
  Out o, prev;
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(s.send(s.next(), prev));
  s.next();
  ASSERT_TRUE(s.send(s.next(), o));
  EXPECT_EQ(o.payload.size(), 320u);
  EXPECT_EQ(s.st().fec, 0u);
  EXPECT_EQ(s.st().concealed, 1u);
}

TEST(CodecTranscoder, LongLossConcealsAtMost200ms) {
  B2N s;
  Out o, prev;
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(s.send(s.next(), prev));
  for (int i = 0; i < 20; ++i) s.next();  // 400 ms
  ASSERT_TRUE(s.send(s.next(), o));
  EXPECT_EQ(o.payload.size(), 1600u);
  EXPECT_TRUE(o.marker);                             // the rest of the gap stays a gap
  EXPECT_EQ(o.ts, prev.ts + 160 + 20 * 160 - 1440);  // mapped from the input timestamp
  EXPECT_EQ(o.seq, uint16_t(prev.seq + 1));
}

TEST(CodecTranscoder, CorruptOpusIsConcealed) {
  B2N s;
  Out o, prev;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(s.send(s.next(), prev));
  for (const Bytes& bad : {Bytes{}, Bytes{0x03, 0x00}, Bytes{0x03, 0xFF, 1, 2, 3}}) {
    Bytes p = s.next();
    Bytes hdr(p.begin(), p.begin() + 12);
    hdr.insert(hdr.end(), bad.begin(), bad.end());
    ASSERT_TRUE(s.send(hdr, o)) << s.t->last_drop(Leg::kBrowser);
    EXPECT_EQ(o.payload.size(), 160u);
    EXPECT_EQ(o.ts, prev.ts + 160);
    prev = o;
  }
  EXPECT_EQ(s.st().corrupt, 3u);
  EXPECT_EQ(s.st().concealed, 3u);
  ASSERT_TRUE(s.send(s.next(), o));
  EXPECT_EQ(o.ts, prev.ts + 160);
  EXPECT_EQ(s.st().decoded, 11u);
}

TEST(CodecTranscoder, LateDuplicateAndReorderedPackets) {
  B2N s;
  Out o;
  std::vector<Bytes> p;
  for (int i = 0; i < 6; ++i) p.push_back(s.next());
  ASSERT_TRUE(s.send(p[0], o));
  ASSERT_TRUE(s.send(p[1], o));
  EXPECT_FALSE(s.send(p[1], o));  // duplicate
  EXPECT_STREQ(s.t->last_drop(Leg::kBrowser), "late");
  ASSERT_TRUE(s.send(p[3], o));  // 2 is late: recovered from 3's FEC
  EXPECT_EQ(o.payload.size(), 320u);
  EXPECT_FALSE(s.send(p[2], o));  // and dropped when it comes
  EXPECT_EQ(s.st().late, 2u);
  ASSERT_TRUE(s.send(p[4], o));
  EXPECT_EQ(o.payload.size(), 160u);
}

TEST(CodecTranscoder, WrongPayloadTypeAndMalformed) {
  B2N s;
  Out o;
  Bytes good = s.next();
  Bytes wrong = good;
  wrong[1] = 0;  // PCMU on the browser leg: not negotiated here
  EXPECT_FALSE(s.send(wrong, o));
  EXPECT_STREQ(s.t->last_drop(Leg::kBrowser), "payload_type");
  EXPECT_EQ(s.st().bad_payload_type, 1u);
  Bytes v1 = good;
  v1[0] = 0x40;
  EXPECT_FALSE(s.send(v1, o));
  Bytes short_hdr(good.begin(), good.begin() + 11);
  EXPECT_FALSE(s.send(short_hdr, o));
  Bytes csrc_past_end = good;
  csrc_past_end[0] = 0x8F;
  csrc_past_end.resize(40);
  EXPECT_FALSE(s.send(csrc_past_end, o));
  Bytes ext_past_end = rtp(kOpusPt, 1, 1, 1, {}, {false, 0, 0, 0});
  ext_past_end[15] = 9;
  EXPECT_FALSE(s.send(ext_past_end, o));
  Bytes pad_too_long = good;
  pad_too_long[0] |= 0x20;
  pad_too_long.back() = 0xFF;
  EXPECT_FALSE(s.send(pad_too_long, o));
  Bytes pad_zero = good;
  pad_zero[0] |= 0x20;
  pad_zero.back() = 0;
  EXPECT_FALSE(s.send(pad_zero, o));
  EXPECT_EQ(s.st().malformed, 6u);
  EXPECT_TRUE(s.send(good, o));
  size_t len = 0;
  EXPECT_FALSE(s.t->browser_to_network(nullptr, 0, s.buf, sizeof s.buf, len));
  Bytes next = s.next();
  EXPECT_FALSE(s.t->browser_to_network(next.data(), next.size(), s.buf, 100, len));  // no room
  EXPECT_STREQ(s.t->last_drop(Leg::kBrowser), "no_room");
}

TEST(CodecTranscoder, CsrcExtensionAndPaddingAreSkipped) {
  auto plain = make(opus_pcmu());
  auto fancy = make(opus_pcmu());
  uint8_t a[Transcoder::kMaxOutput], b[Transcoder::kMaxOutput];
  auto x = tone(8000, 440, 1600);
  for (int i = 0; i < 10; ++i) {
    Bytes pcmu(160);
    g711_encode(G711Law::kUlaw, x.data() + (i % 10) * 160, 160, pcmu.data());
    Bytes p1 = rtp(kPcmuPt, uint16_t(i), uint32_t(i * 160), kNetSsrc, pcmu);
    Bytes p2 = rtp(kPcmuPt, uint16_t(i), uint32_t(i * 160), kNetSsrc, pcmu, {false, 2, 3, 7});
    size_t la = 0, lb = 0;
    ASSERT_TRUE(plain->network_to_browser(p1.data(), p1.size(), a, sizeof a, la));
    ASSERT_TRUE(fancy->network_to_browser(p2.data(), p2.size(), b, sizeof b, lb));
    ASSERT_EQ(Bytes(a, a + la), Bytes(b, b + lb)) << i;
  }
}

TEST(CodecTranscoder, NetworkToBrowserTimelineAndLoss) {
  auto t = make(opus_pcmu());
  uint8_t buf[Transcoder::kMaxOutput];
  Bytes pcmu(160, 0xFF);
  std::vector<Out> outs;
  uint16_t seqs[] = {7, 8, 9, 11, 12};  // 10 lost: mirrored as a gap
  for (uint16_t seq : seqs) {
    Bytes p = rtp(kPcmuPt, seq, uint32_t(seq) * 160u - 1000u, kNetSsrc, pcmu);
    size_t len = 0;
    ASSERT_TRUE(t->network_to_browser(p.data(), p.size(), buf, sizeof buf, len));
    outs.push_back(parse(buf, len));
  }
  EXPECT_EQ(outs[0].seq, 65530);
  EXPECT_EQ(outs[0].ts, 0xFFFFF000u);
  EXPECT_TRUE(outs[0].marker);
  EXPECT_EQ(outs[1].seq, 65531);
  EXPECT_EQ(outs[1].ts, 0xFFFFF000u + 960);
  EXPECT_EQ(outs[3].seq, 65534);  // one skipped
  EXPECT_EQ(outs[3].ts, 0xFFFFF000u + 4 * 960);
  EXPECT_EQ(outs[4].seq, 65535);
  EXPECT_EQ(outs[4].ssrc, 0x12345678u);
  EXPECT_EQ(outs[4].pt, kOpusPt);
  EXPECT_EQ(opus_packet_samples(outs[4].payload.data(), int(outs[4].payload.size()), 48000), 960);
  EXPECT_EQ(t->stats(Leg::kNetwork).lost, 1u);
  EXPECT_EQ(t->stats(Leg::kNetwork).concealed, 0u);

  // 10 ms packets are fine (an Opus frame size), 30 ms are not.
  Bytes p10 = rtp(kPcmuPt, 13, 13 * 160 - 1000, kNetSsrc, Bytes(80, 0xFF));
  size_t len = 0;
  EXPECT_TRUE(t->network_to_browser(p10.data(), p10.size(), buf, sizeof buf, len));
  Bytes p30 = rtp(kPcmuPt, 14, 13 * 160 + 80 - 1000, kNetSsrc, Bytes(240, 0xFF));
  EXPECT_FALSE(t->network_to_browser(p30.data(), p30.size(), buf, sizeof buf, len));
  EXPECT_STREQ(t->last_drop(Leg::kNetwork), "frame_size");

  // A new SSRC restarts the input; the output stream carries on, with the marker.
  Bytes other = rtp(kPcmuPt, 30000, 123456, kNetSsrc + 1, pcmu);
  ASSERT_TRUE(t->network_to_browser(other.data(), other.size(), buf, sizeof buf, len));
  Out o = parse(buf, len);
  EXPECT_TRUE(o.marker);
  EXPECT_EQ(o.ssrc, 0x12345678u);
  EXPECT_EQ(o.ts, 0xFFFFF000u + 6 * 960 + 480);
  EXPECT_EQ(t->stats(Leg::kNetwork).restarts, 1u);
}

TEST(CodecTranscoder, PcmuToPcma) {
  TranscoderConfig c;
  c.browser = {Codec::kPcma, 8, -1};
  c.network = {Codec::kPcmu, 0, -1};
  auto t = make(c);
  uint8_t buf[Transcoder::kMaxOutput];
  Bytes pcma(160, 0xD5);  // A-law zero
  Bytes p = rtp(8, 1, 0, 1, pcma);
  size_t len = 0;
  ASSERT_TRUE(t->browser_to_network(p.data(), p.size(), buf, sizeof buf, len));
  Out o = parse(buf, len);
  EXPECT_EQ(o.pt, 0);
  EXPECT_EQ(o.payload, Bytes(160, 0xFE));  // A-law 0xD5 is +8, which is mu-law 0xFE
}

TEST(CodecTranscoder, RefusesNeedlessOrBadConfigs) {
  std::string err;
  TranscoderConfig c = opus_pcmu();
  c.network.codec = Codec::kOpus;
  EXPECT_FALSE(Transcoder::make(c, err));
  EXPECT_FALSE(err.empty());
  c = opus_pcmu();
  c.network.payload_type = 200;
  EXPECT_FALSE(Transcoder::make(c, err));
  c = opus_pcmu();
  c.browser.event_payload_type = kOpusPt;
  EXPECT_FALSE(Transcoder::make(c, err));
}

// ---- telephone-event ----

Bytes event(uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc, uint8_t ev, bool end,
            uint16_t dur, bool marker = false) {
  Bytes pl(4);
  write_event(EventPayload{ev, end, 10, dur}, pl.data());
  return rtp(pt, seq, ts, ssrc, pl, {marker});
}

TEST(CodecTranscoder, RelaysEventsFrom48kTo8k) {
  B2N s;
  Out o, audio;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.send(s.next(), audio));
  // The browser stops audio and sends '5' starting where the next frame would be.
  uint16_t seq = s.sender.seq;
  const uint32_t ts = s.sender.ts;
  const uint16_t durs[] = {960, 1920, 2880, 3840, 3840, 3840};
  std::vector<Out> outs;
  for (int i = 0; i < 6; ++i) {
    Bytes e = event(kBrowserEventPt, seq++, ts, kBrowserSsrc, 5, i >= 3, durs[i], i == 0);
    ASSERT_TRUE(s.send(e, o)) << s.t->last_drop(Leg::kBrowser);
    outs.push_back(o);
  }
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(outs[size_t(i)].pt, kNetEventPt);
    EXPECT_EQ(outs[size_t(i)].marker, i == 0);
    EXPECT_EQ(outs[size_t(i)].ts, audio.ts + 160);  // on the audio timeline, scaled
    EXPECT_EQ(outs[size_t(i)].seq, uint16_t(audio.seq + 1 + i));
    auto ev = parse_event(outs[size_t(i)].payload.data(), outs[size_t(i)].payload.size());
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->event, 5);
    EXPECT_EQ(ev->duration, durs[i] / 6);
    EXPECT_EQ(ev->end, i >= 3);
  }
  EXPECT_EQ(s.st().events_relayed, 6u);
  // Audio resumes after the event: same timeline, a new talkspurt.
  s.sender.seq = seq;
  s.sender.ts = ts + 3840 + 960;
  ASSERT_TRUE(s.send(s.next(), o));
  EXPECT_TRUE(o.marker);
  EXPECT_EQ(o.ts, audio.ts + 160 + 640 + 160);
  EXPECT_EQ(o.seq, uint16_t(audio.seq + 7));
  EXPECT_EQ(o.payload.size(), 160u);  // no concealment: nothing was lost
  EXPECT_EQ(s.st().concealed + s.st().fec, 0u);
  seq = s.sender.seq;

  // Impossible: a shrinking duration, a non-DTMF event, an end with no duration.
  ASSERT_TRUE(s.send(event(kBrowserEventPt, seq++, ts + 9600, kBrowserSsrc, 1, false, 1920), o));
  EXPECT_FALSE(s.send(event(kBrowserEventPt, seq++, ts + 9600, kBrowserSsrc, 1, false, 960), o));
  EXPECT_STREQ(s.t->last_drop(Leg::kBrowser), "event_duration");
  EXPECT_FALSE(s.send(event(kBrowserEventPt, seq++, ts + 19200, kBrowserSsrc, 40, false, 960), o));
  EXPECT_STREQ(s.t->last_drop(Leg::kBrowser), "event");
  EXPECT_FALSE(s.send(event(kBrowserEventPt, seq++, ts + 19200, kBrowserSsrc, 2, true, 0), o));
  EXPECT_EQ(s.st().events_dropped, 3u);
}

TEST(CodecTranscoder, RelaysLongEventsFrom8kTo48kInSegments) {
  auto t = make(opus_pcmu());
  uint8_t buf[Transcoder::kMaxOutput];
  size_t len = 0;
  Bytes a = rtp(kPcmuPt, 1, 8000, kNetSsrc, Bytes(160, 0xFF));
  ASSERT_TRUE(t->network_to_browser(a.data(), a.size(), buf, sizeof buf, len));
  const uint32_t base = parse(buf, len).ts;  // 0xFFFFF000
  Bytes e1 = event(kNetEventPt, 2, 8160, kNetSsrc, 11, false, 160, true);
  ASSERT_TRUE(t->network_to_browser(e1.data(), e1.size(), buf, sizeof buf, len));
  Out o = parse(buf, len);
  EXPECT_EQ(o.pt, kBrowserEventPt);
  EXPECT_TRUE(o.marker);
  EXPECT_EQ(o.ts, base + 960);
  EXPECT_EQ(parse_event(o.payload.data(), 4)->duration, 960);
  Bytes e2 = event(kNetEventPt, 3, 8160, kNetSsrc, 11, true, 0x3000);  // 1.536 s
  ASSERT_TRUE(t->network_to_browser(e2.data(), e2.size(), buf, sizeof buf, len));
  o = parse(buf, len);
  EXPECT_FALSE(o.marker);
  EXPECT_EQ(o.ts, base + 960 + 65535);  // second segment
  auto ev = parse_event(o.payload.data(), 4);
  EXPECT_EQ(ev->duration, 0x3000 * 6 - 65535);
  EXPECT_TRUE(ev->end);
  EXPECT_EQ(ev->event, 11);
}

TEST(CodecTranscoder, EventsWithoutTelephoneEventBecomeTones) {
  B2N s(true, /*net_event_pt=*/-1);
  Out o, audio;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.send(s.next(), audio));
  uint16_t seq = s.sender.seq;
  const uint32_t ts = s.sender.ts;
  std::vector<int16_t> pcm;
  uint32_t next_ts = audio.ts + 160;
  const uint16_t durs[] = {960, 1920, 2880, 3840, 4800, 4800, 4800};
  int packets = 0;
  for (int i = 0; i < 7; ++i) {
    bool end = i >= 4;
    Bytes e = event(kBrowserEventPt, seq++, ts, kBrowserSsrc, 5, end, durs[i], i == 0);
    if (!s.send(e, o)) {
      EXPECT_GE(i, 5) << s.t->last_drop(Leg::kBrowser);  // the repeated ends add nothing
      EXPECT_STREQ(s.t->last_drop(Leg::kBrowser), "event_repeat");
      continue;
    }
    ++packets;
    EXPECT_EQ(o.pt, kPcmuPt);
    EXPECT_EQ(o.ts, next_ts);
    EXPECT_EQ(o.marker, i == 0);
    EXPECT_EQ(o.payload.size(), 160u);
    next_ts += uint32_t(o.payload.size());
    for (uint8_t c : o.payload) pcm.push_back(g711_decode_sample(G711Law::kUlaw, c));
  }
  EXPECT_EQ(packets, 5);
  EXPECT_EQ(s.st().tone_packets, 5u);
  ASSERT_EQ(pcm.size(), 800u);  // 100 ms of '5': 770 Hz + 1336 Hz
  double lo = goertzel(pcm.data() + 80, 640, 770, 8000);
  double hi = goertzel(pcm.data() + 80, 640, 1336, 8000);
  for (double f : {697.0, 852.0, 941.0, 1209.0, 1477.0}) {
    double other = goertzel(pcm.data() + 80, 640, f, 8000);
    EXPECT_GT(lo, 50 * other) << f;
    EXPECT_GT(hi, 50 * other) << f;
  }
  // Audio after the digit: a new talkspurt after the tone.
  s.sender.seq = seq;
  s.sender.ts = ts + 4800;
  ASSERT_TRUE(s.send(s.next(), o));
  EXPECT_TRUE(o.marker);
  EXPECT_EQ(o.ts, next_ts);
}

TEST(CodecTranscoder, InfoDigitsAsEventPackets) {
  auto t = make(opus_pcmu());
  std::string err;
  auto d = parse_dtmf_info("application/dtmf-relay", "Signal=9\r\nDuration=100\r\n", err);
  ASSERT_TRUE(d) << err;
  EventSender sender(8000, kNetEventPt, 20);
  std::vector<EventPacket> pk(sender.count(d->duration_ms));
  const uint32_t ts = t->next_timestamp(Leg::kNetwork);
  EXPECT_EQ(ts, 5000u);
  ASSERT_EQ(sender.sequence(d->event, d->duration_ms, ts, 10, pk.data(), pk.size()), pk.size());
  uint8_t buf[64];
  size_t len = 0;
  for (size_t i = 0; i < pk.size(); ++i) {
    ASSERT_TRUE(t->write_event(Leg::kNetwork, pk[i], buf, sizeof buf, len));
    Out o = parse(buf, len);
    EXPECT_EQ(o.pt, kNetEventPt);
    EXPECT_EQ(o.ssrc, 0x9ABCDEF0u);
    EXPECT_EQ(o.seq, uint16_t(100 + i));
    EXPECT_EQ(o.ts, 5000u);
  }
  TranscoderConfig c = opus_pcmu(-1);
  auto t2 = make(c);
  EXPECT_FALSE(t2->write_event(Leg::kNetwork, pk[0], buf, sizeof buf, len));
}

}  // namespace
}  // namespace rtcgw::codec
