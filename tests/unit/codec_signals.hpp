// Test signals shared by the codec tests.
#pragma once

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

}  // namespace rtcgw::codec::testing
