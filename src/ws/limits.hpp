// Admission control for WebSocket upgrades: the total and per-source-address connection limits and
// the per-address connection rate (a sliding one-second window). Also a small log throttle.
// Pure bookkeeping, no I/O: the server asks admit() at upgrade time, then add()/remove() as
// connections come and go. Everything runs on the loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rtcgw::ws {

using Clock = std::chrono::steady_clock;

struct LimitSettings {
  uint32_t max_connections = 10000;
  uint32_t max_connections_per_ip = 100;
  uint32_t connection_rate_per_ip = 20;  // per second; 0 = no rate limit
};

enum class Admission { ok, limit, per_ip_limit, rate };

// The metrics label for a refusal: "limit", "per_ip_limit" or "rate" ("" for ok).
std::string_view admission_reason(Admission a);

class ConnectionLimits {
 public:
  explicit ConnectionLimits(LimitSettings s = {}) : settings_(s) {}

  void set(LimitSettings s) { settings_ = s; }
  const LimitSettings& settings() const { return settings_; }

  // Decides on one new connection from `ip`. Every call counts as an attempt for the rate limit,
  // refused or not: a client hammering the listener stays refused until it slows down.
  Admission admit(const std::string& ip, Clock::time_point now);
  // Accounts an admitted connection as open / closed.
  void add(const std::string& ip);
  void remove(const std::string& ip);

  size_t open_total() const { return total_; }
  size_t open_from(const std::string& ip) const;
  size_t tracked_addresses() const { return peers_.size(); }  // for tests

 private:
  struct PerIp {
    uint32_t open = 0;
    std::deque<Clock::time_point> attempts;  // within the last second, oldest first
  };
  void expire(PerIp& p, Clock::time_point now) const;
  void sweep(Clock::time_point now);

  LimitSettings settings_;
  std::unordered_map<std::string, PerIp> peers_;
  size_t total_ = 0;
  Clock::time_point last_sweep_{};
};

}  // namespace rtcgw::ws
