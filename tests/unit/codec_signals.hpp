// Test signals and measurements shared by the codec and media tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace rtcgw::codec::testing {

// n samples of a sine of f Hz at `rate`, amplitude `amp`.
inline std::vector<int16_t> tone(int rate, double f, int n, double amp = 8000) {
  std::vector<int16_t> x(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    x[size_t(i)] = int16_t(std::lround(amp * std::sin(2 * M_PI * f * i / rate)));
  return x;
}

// The power of x[0, n) at f Hz (Goertzel), x sampled at `rate`.
inline double goertzel(const int16_t* x, int n, double f, int rate) {
  double w = 2 * M_PI * f / rate, c = 2 * std::cos(w), s1 = 0, s2 = 0;
  for (int i = 0; i < n; ++i) {
    double s0 = x[i] + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return std::max(0.0, s1 * s1 + s2 * s2 - c * s1 * s2);
}

// Sums over i in [from, from + len) of x[i] * y[i + lag], x[i]^2 and y[i + lag]^2: y delayed by
// `lag` samples against x, for the correlation and the SNR of a codec's output y against its
// input x.
struct CrossSums {
  double xy = 0, xx = 0, yy = 0;
  double coefficient() const { return xy / std::sqrt(xx * yy); }
};

inline CrossSums cross_sums(const std::vector<int16_t>& x, const std::vector<int16_t>& y, int from,
                            int len, int lag) {
  CrossSums s;
  for (int i = from; i < from + len; ++i) {
    double a = x[size_t(i)], b = y[size_t(i + lag)];
    s.xy += a * b;
    s.xx += a * a;
    s.yy += b * b;
  }
  return s;
}

// Best correlation coefficient of y against x over lags 0..max_lag (y delayed).
inline double best_correlation(const std::vector<int16_t>& x, const std::vector<int16_t>& y,
                               int from, int len, int max_lag) {
  double best = -1;
  for (int lag = 0; lag <= max_lag; ++lag) {
    const CrossSums s = cross_sums(x, y, from, len, lag);
    if (s.xx > 0 && s.yy > 0) best = std::max(best, s.coefficient());
  }
  return best;
}

// The DTMF pair `low` + `high` Hz in pcm[from, from + n), sampled at 8000 Hz: both there (power
// above 1e9) and each 20 dB above every other DTMF frequency.
inline void expect_dtmf_tone(const std::vector<int16_t>& pcm, int from, int n, double low,
                             double high) {
  ASSERT_GE(pcm.size(), size_t(from + n));
  const double all[] = {697, 770, 852, 941, 1209, 1336, 1477, 1633};
  double lo = goertzel(pcm.data() + from, n, low, 8000);
  double hi = goertzel(pcm.data() + from, n, high, 8000);
  EXPECT_GT(lo, 1e9) << "no " << low << " Hz";
  EXPECT_GT(hi, 1e9) << "no " << high << " Hz";
  for (double f : all) {
    if (f == low || f == high) continue;
    double other = goertzel(pcm.data() + from, n, f, 8000);
    EXPECT_GT(lo, 100 * other) << f;
    EXPECT_GT(hi, 100 * other) << f;
  }
}

}  // namespace rtcgw::codec::testing
