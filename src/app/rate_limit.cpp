#include "rtcgw/log.hpp"

namespace rtcgw::log {

RateLimit::RateLimit(int per_second) : per_second_(per_second < 1 ? 1 : per_second) {}

bool RateLimit::allow(Clock::time_point now) {
  if (!started_ || now - window_start_ >= std::chrono::seconds(1)) {
    started_ = true;
    window_start_ = now;
    used_ = 0;
  }
  if (used_ >= per_second_) {
    ++pending_;
    ++total_;
    return false;
  }
  ++used_;
  reported_ = pending_;
  pending_ = 0;
  return true;
}

}  // namespace rtcgw::log
