// rtcgw_bench_codec: how many Opus <-> PCMU channels one core transcodes.
//
// One channel is both directions for one call: browser -> network (Opus decode + PCMU encode)
// and network -> browser (PCMU decode + Opus encode), 50 packets of 20 ms each per second.
// Inputs are pre-encoded (a browser-like Opus stream of a voiced-speech stand-in, and its PCMU),
// then each path runs in a tight loop on one thread; CPU time is the thread's
// (CLOCK_THREAD_CPUTIME_ID). Channels per core = audio seconds / CPU seconds.
//
// Paths, each at Opus complexity 0, 5 and 10 (the decoder has no complexity):
//   8k native   libopus at 8 kHz on both sides (what rtcgw does; no resampler)
//   Transcoder  the same through codec::Transcoder, whole RTP packets in and out
//   48k+speex   libopus at 48 kHz and speexdsp's resampler (quality 3) 48k <-> 8k, the usual
//               way elsewhere, for comparison
//
// Usage: rtcgw_bench_codec [audio-seconds per measurement, default 20]
#include <speex/speex_resampler.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "codec/g711.hpp"
#include "codec/opus.hpp"
#include "codec/transcoder.hpp"

using namespace rtcgw::codec;

namespace {

struct ResamplerFree {
  void operator()(SpeexResamplerState* s) const { speex_resampler_destroy(s); }
};
using ResamplerPtr = std::unique_ptr<SpeexResamplerState, ResamplerFree>;

ResamplerPtr resampler(int in, int out) {
  int err = 0;
  ResamplerPtr r(speex_resampler_init(1, spx_uint32_t(in), spx_uint32_t(out), 3, &err));
  if (!r || err != RESAMPLER_ERR_SUCCESS) {
    std::fprintf(stderr, "speex_resampler_init: %s\n", speex_resampler_strerror(err));
    std::exit(1);
  }
  return r;
}

double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "rtcgw_bench_codec: %s\n", what.c_str());
  std::exit(1);
}

std::vector<int16_t> voiced(int rate, int n) {
  std::vector<int16_t> x(static_cast<size_t>(n));
  double ph = 0;
  for (int i = 0; i < n; ++i) {
    double t = double(i) / rate;
    ph += 2 * M_PI * (140 + 6 * std::sin(2 * M_PI * 5 * t)) / rate;
    double v = 0;
    for (int k = 1; k * 146 <= 3400; ++k) {
      double f = k * 140.0;
      v += (1 / (1 + std::pow((f - 700) / 200, 2)) + 0.6 / (1 + std::pow((f - 1800) / 300, 2))) *
           std::sin(k * ph + k);
    }
    // Syllables with pauses, and some noise (fricative-like) so DTX-free Opus works for it.
    double env = std::pow(std::sin(M_PI * 2 * t), 2);
    x[size_t(i)] =
        int16_t(std::lround(3000 * env * v + 200.0 * (std::rand() % 2001 - 1000) / 1000));
  }
  return x;
}

struct Input {
  std::vector<std::vector<uint8_t>> opus;  // 20 ms packets, browser-like 48 kHz encoder
  std::vector<std::vector<uint8_t>> pcmu;  // 160 bytes each
};

Input prepare(int seconds) {
  Input in;
  std::string err;
  OpusParams p;
  p.complexity = 10;
  p.bitrate = 32000;
  auto enc = OpusEnc::make(48000, p, err);
  if (!enc) die(err);
  auto x48 = voiced(48000, 48000 * seconds);
  auto x8 = voiced(8000, 8000 * seconds);
  uint8_t buf[1500];
  for (size_t f = 0; f + 960 <= x48.size(); f += 960) {
    int n = enc->encode(x48.data() + f, 960, buf, sizeof buf);
    if (n < 0) die("encode");
    in.opus.emplace_back(buf, buf + n);
  }
  for (size_t f = 0; f + 160 <= x8.size(); f += 160) {
    std::vector<uint8_t> c(160);
    g711_encode(G711Law::kUlaw, x8.data() + f, 160, c.data());
    in.pcmu.push_back(std::move(c));
  }
  return in;
}

struct Result {
  double b2n_us, n2b_us;  // CPU per 20 ms packet
  double channels() const { return 20000.0 / (b2n_us + n2b_us); }
};

Result native8k(const Input& in, int complexity, int packets) {
  std::string err;
  OpusParams p;
  p.complexity = complexity;
  auto dec = OpusDec::make(8000, err);
  auto enc = OpusEnc::make(8000, p, err);
  if (!dec || !enc) die(err);
  int16_t pcm[960];
  uint8_t out[1500];
  uint64_t sink = 0;
  double t0 = cpu_now();
  for (int i = 0; i < packets; ++i) {
    const auto& pk = in.opus[size_t(i) % in.opus.size()];
    int n = dec->decode(pk.data(), int(pk.size()), pcm, 960);
    if (n != 160) die("decode");
    g711_encode(G711Law::kUlaw, pcm, 160, out);
    sink += out[7];
  }
  double t1 = cpu_now();
  for (int i = 0; i < packets; ++i) {
    const auto& pk = in.pcmu[size_t(i) % in.pcmu.size()];
    g711_decode(G711Law::kUlaw, pk.data(), 160, pcm);
    int n = enc->encode(pcm, 160, out, sizeof out);
    if (n < 0) die("encode");
    sink += out[0];
  }
  double t2 = cpu_now();
  if (sink == 1) std::puts("");
  return {(t1 - t0) / packets * 1e6, (t2 - t1) / packets * 1e6};
}

std::vector<uint8_t> rtp(uint8_t pt, uint16_t seq, uint32_t ts, const std::vector<uint8_t>& pl) {
  std::vector<uint8_t> b = {0x80,
                            pt,
                            uint8_t(seq >> 8),
                            uint8_t(seq),
                            uint8_t(ts >> 24),
                            uint8_t(ts >> 16),
                            uint8_t(ts >> 8),
                            uint8_t(ts),
                            1,
                            2,
                            3,
                            4};
  b.insert(b.end(), pl.begin(), pl.end());
  return b;
}

Result transcoder(const Input& in, int complexity, int packets) {
  // Whole RTP packets, made beforehand (sequence numbers and timestamps continue across the
  // repeats of the input so that nothing looks lost).
  std::vector<std::vector<uint8_t>> b(static_cast<size_t>(packets)),
      n(static_cast<size_t>(packets));
  for (int i = 0; i < packets; ++i) {
    b[size_t(i)] = rtp(111, uint16_t(i), uint32_t(i) * 960, in.opus[size_t(i) % in.opus.size()]);
    n[size_t(i)] = rtp(0, uint16_t(i), uint32_t(i) * 160, in.pcmu[size_t(i) % in.pcmu.size()]);
  }
  TranscoderConfig cfg;
  cfg.opus.complexity = complexity;
  std::string err;
  auto t = Transcoder::make(cfg, err);
  if (!t) die(err);
  uint8_t out[Transcoder::kMaxOutput];
  size_t sent = 0;  // what the sink saw, so that nothing is optimised away
  auto count = [&sent](Leg, uint8_t*, size_t len) { sent += len; };
  const PacketSink sink = PacketSink::of(count);
  int64_t now = 0;  // 20 ms packets, in order: the reorder buffer never holds
  double t0 = cpu_now();
  for (const auto& pk : b)
    if (!t->browser_to_network(pk.data(), pk.size(), now += 20, out, sizeof out, sink))
      die("b2n drop");
  double t1 = cpu_now();
  for (const auto& pk : n)
    if (!t->network_to_browser(pk.data(), pk.size(), now += 20, out, sizeof out, sink))
      die("n2b drop");
  double t2 = cpu_now();
  if (sent == 0) die("nothing sent");
  return {(t1 - t0) / packets * 1e6, (t2 - t1) / packets * 1e6};
}

Result resampled48k(const Input& in, int complexity, int packets) {
  std::string err;
  OpusParams p;
  p.complexity = complexity;
  p.bitrate = 32000;
  auto dec = OpusDec::make(48000, err);
  auto enc = OpusEnc::make(48000, p, err);
  if (!dec || !enc) die(err);
  auto down = resampler(48000, 8000), up = resampler(8000, 48000);
  int16_t pcm48[960], pcm8[160];
  uint8_t out[1500];
  uint64_t sink = 0;
  double t0 = cpu_now();
  for (int i = 0; i < packets; ++i) {
    const auto& pk = in.opus[size_t(i) % in.opus.size()];
    if (dec->decode(pk.data(), int(pk.size()), pcm48, 960) != 960) die("decode");
    spx_uint32_t il = 960, ol = 160;
    if (speex_resampler_process_int(down.get(), 0, pcm48, &il, pcm8, &ol) != 0) die("resample");
    g711_encode(G711Law::kUlaw, pcm8, ol, out);
    sink += out[3];
  }
  double t1 = cpu_now();
  for (int i = 0; i < packets; ++i) {
    const auto& pk = in.pcmu[size_t(i) % in.pcmu.size()];
    g711_decode(G711Law::kUlaw, pk.data(), 160, pcm8);
    spx_uint32_t il = 160, ol = 960;
    if (speex_resampler_process_int(up.get(), 0, pcm8, &il, pcm48, &ol) != 0) die("resample");
    if (ol != 960) std::fill(pcm48 + ol, pcm48 + 960, int16_t(0));
    int n = enc->encode(pcm48, 960, out, sizeof out);
    if (n < 0) die("encode");
    sink += out[0];
  }
  double t2 = cpu_now();
  if (sink == 1) std::puts("");
  return {(t1 - t0) / packets * 1e6, (t2 - t1) / packets * 1e6};
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = argc > 1 ? std::atoi(argv[1]) : 20;
  if (seconds < 1) seconds = 1;
  const int packets = seconds * 50;
  std::srand(1);
  Input in = prepare(10);
  native8k(in, 5, 100);  // warm-up: page in code and tables
  std::printf(
      "rtcgw_bench_codec: Opus <-> PCMU, one channel = both directions, 20 ms packets,\n"
      "%d s of audio per measurement, CPU time of this thread (libopus %s)\n\n",
      seconds, "1.3.1");
  std::printf("%-12s %5s %12s %12s %14s %16s\n", "path", "compl", "b2n us/pkt", "n2b us/pkt",
              "CPU us/call-s", "channels/core");
  for (int c : {0, 5, 10}) {
    struct {
      const char* name;
      Result r;
    } rows[] = {{"8k native", native8k(in, c, packets)},
                {"Transcoder", transcoder(in, c, packets)},
                {"48k+speex", resampled48k(in, c, packets)}};
    for (const auto& row : rows) {
      std::printf("%-12s %5d %12.1f %12.1f %14.0f %16.0f\n", row.name, c, row.r.b2n_us,
                  row.r.n2b_us, (row.r.b2n_us + row.r.n2b_us) * 50, row.r.channels());
    }
  }
  return 0;
}
