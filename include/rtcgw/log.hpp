// Logging: spdlog, with sofia-sip's and libwebsockets' own logs routed into it.
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <string_view>

namespace rtcgw::log {

// Sets up the default logger on stderr and routes sofia-sip and libwebsockets logs into it.
void init(std::string_view level);
// Changes the level at run time (SIGHUP). Returns false if `level` is not a level name.
bool set_level(std::string_view level);
bool valid_level(std::string_view level);

// Lets through at most `per_second` events per second (per_second < 1 counts as 1), so that bad
// input from the network cannot flood the log. Not thread-safe: one per call site on the loop.
//
//   static log::RateLimit limit(10);
//   if (limit.allow()) spdlog::warn("bad message from {} ({} more suppressed)", ip,
//                                    limit.suppressed());
class RateLimit {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RateLimit(int per_second);
  bool allow() { return allow(Clock::now()); }
  bool allow(Clock::time_point now);  // for tests
  // After allow() returned true: how many events were refused since the previous allowed one.
  uint64_t suppressed() const { return reported_; }
  // All events refused so far.
  uint64_t suppressed_total() const { return total_; }

 private:
  int per_second_;
  int used_ = 0;  // events allowed in the current window
  Clock::time_point window_start_{};
  bool started_ = false;
  uint64_t pending_ = 0;   // refused since the last allowed event
  uint64_t reported_ = 0;  // pending_ as it was at the last allowed event
  uint64_t total_ = 0;
};

}  // namespace rtcgw::log
