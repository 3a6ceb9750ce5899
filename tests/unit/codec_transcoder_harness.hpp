// What the transcoder tests share: RTP packets made and parsed, a sink that collects what a
// transcoder sends, a browser-like Opus sender, and signal measurements.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "codec/dtmf.hpp"
#include "codec/g711.hpp"
#include "codec/opus.hpp"
#include "codec/transcoder.hpp"
#include "codec_signals.hpp"

namespace rtcgw::codec::testing {

using Bytes = std::vector<uint8_t>;

inline constexpr uint8_t kOpusPt = 111, kBrowserEventPt = 126, kPcmuPt = 0, kNetEventPt = 101;
inline constexpr uint32_t kBrowserSsrc = 0xB0B0B0B0, kNetSsrc = 0x0E0E0E0E;

struct RtpOpts {
  bool marker = false;
  int csrc = 0;
  int ext_words = -1;  // -1: no extension
  int pad = 0;
};

inline Bytes rtp(uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc, const Bytes& payload,
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

inline Out parse(const uint8_t* d, size_t n) {
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

inline TranscoderConfig opus_pcmu(int net_event_pt = kNetEventPt) {
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

inline std::unique_ptr<Transcoder> make(const TranscoderConfig& c) {
  std::string err;
  auto t = Transcoder::make(c, err);
  EXPECT_TRUE(t) << err;
  return t;
}

// ---- signals and measurements ----

// Voiced speech stand-in: harmonics of a 140 Hz fundamental (with 5 Hz vibrato) up to 3.4 kHz
// under two formants (700 Hz, 1.8 kHz), with a 4 Hz syllable envelope.
inline std::vector<int16_t> voiced(int rate, int n) {
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

// The delay of y against x (0..max_lag samples) maximising the correlation over x[from, +len).
inline int align(const std::vector<int16_t>& x, const std::vector<int16_t>& y, int from, int len,
                 int max_lag) {
  double best = -1e300;
  int best_lag = 0;
  for (int lag = 0; lag <= max_lag; ++lag) {
    const double xy = cross_sums(x, y, from, len, lag).xy;
    if (xy > best) {
      best = xy;
      best_lag = lag;
    }
  }
  return best_lag;
}

// SNR (dB) of y (delayed by lag, best gain) as an estimate of x over x[from, +len); and the
// correlation coefficient.
inline void snr(const std::vector<int16_t>& x, const std::vector<int16_t>& y, int from, int len,
                int lag, double& snr_db, double& corr) {
  const CrossSums s = cross_sums(x, y, from, len, lag);
  double g = s.xy / s.yy;
  double e = 0;
  for (int i = from; i < from + len; ++i) {
    double d = x[size_t(i)] - g * y[size_t(i + lag)];
    e += d * d;
  }
  snr_db = 10 * std::log10(s.xx / e);
  corr = s.coefficient();
}

// Collects what a transcoder sends, in order.
struct Collect {
  void operator()(Leg to, uint8_t* p, size_t n) {
    outs.push_back(parse(p, n));
    legs.push_back(to);
  }
  PacketSink sink() { return PacketSink::of(*this); }
  size_t take(std::vector<Out>& into) {
    size_t n = outs.size();
    into.insert(into.end(), outs.begin(), outs.end());
    outs.clear();
    legs.clear();
    return n;
  }
  std::vector<Out> outs;
  std::vector<Leg> legs;
};

// Encodes like a browser (Opus at 48 kHz, 32 kbit/s, FEC) and sends RTP; `frame` samples at
// 48 kHz per packet (960: 20 ms).
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
  Bytes packet(const int16_t* pcm, int frame = 960) {
    uint8_t buf[1500];
    int n = enc->encode(pcm, frame, buf, sizeof buf);
    EXPECT_GT(n, 0);
    Bytes b = rtp(kOpusPt, seq, ts, ssrc, Bytes(buf, buf + std::max(n, 0)), {seq == 1000});
    ++seq;
    ts += uint32_t(frame);
    return b;
  }
  std::unique_ptr<OpusEnc> enc;
  uint32_t ssrc;
  uint16_t seq = 1000;
  uint32_t ts = 0x7FFFFF00;
};

// Browser -> network through one transcoder (Opus -> PCMU), with a clock the test drives.
struct B2N {
  explicit B2N(bool fec = true, int net_event_pt = kNetEventPt)
      : B2N(opus_pcmu(net_event_pt), fec) {}
  B2N(const TranscoderConfig& c, bool fec) : sender(fec), t(make(c)), x(voiced(48000, 48000 * 2)) {}
  Bytes next(int frame = 960) {
    Bytes b = sender.packet(x.data() + pos, frame);
    pos = (pos + size_t(frame)) % (x.size() - 2880);
    return b;
  }
  // The packet in at `now`; what came out is in got (appended).
  bool send(const Bytes& in) {
    return t->browser_to_network(in.data(), in.size(), now, buf, sizeof buf, col.sink());
  }
  // send(), and exactly one packet out, in o.
  bool send(const Bytes& in, Out& o) {
    bool ok = send(in);
    std::vector<Out> got;
    col.take(got);
    if (!ok) return false;
    EXPECT_EQ(got.size(), 1u) << "packets out for one in";
    if (got.size() != 1) return false;
    o = got[0];
    return true;
  }
  std::vector<Out> flush(int64_t at) {
    now = at;
    t->flush_due(now, buf, sizeof buf, col.sink());
    std::vector<Out> got;
    col.take(got);
    return got;
  }
  std::vector<Out> take() {
    std::vector<Out> got;
    col.take(got);
    return got;
  }
  const TranscoderStats& st() const { return t->stats(Leg::kBrowser); }
  BrowserSender sender;
  std::unique_ptr<Transcoder> t;
  std::vector<int16_t> x;
  size_t pos = 0;
  int64_t now = 1000;
  Collect col;
  uint8_t buf[Transcoder::kMaxOutput];
};

inline Bytes event(uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc, uint8_t ev, bool end,
                   uint16_t dur, bool marker = false) {
  Bytes pl(4);
  write_event(EventPayload{ev, end, 10, dur}, pl.data());
  return rtp(pt, seq, ts, ssrc, pl, {marker});
}

// Decoded PCMU payloads of `outs`, one after the other.
inline std::vector<int16_t> pcmu_pcm(const std::vector<Out>& outs) {
  std::vector<int16_t> pcm;
  for (const Out& o : outs)
    for (uint8_t c : o.payload) pcm.push_back(g711_decode_sample(G711Law::kUlaw, c));
  return pcm;
}

}  // namespace rtcgw::codec::testing
