#include "ws/limits.hpp"

namespace rtcgw::ws {

namespace {
constexpr auto kWindow = std::chrono::seconds(1);
}

std::string_view admission_reason(Admission a) {
  switch (a) {
    case Admission::ok:
      return "";
    case Admission::limit:
      return "limit";
    case Admission::per_ip_limit:
      return "per_ip_limit";
    case Admission::rate:
      return "rate";
  }
  return "";
}

void ConnectionLimits::expire(PerIp& p, Clock::time_point now) const {
  while (!p.attempts.empty() && now - p.attempts.front() >= kWindow) p.attempts.pop_front();
}

// Drops addresses with nothing open and no recent attempt, at most once a second, so the table
// does not grow with every address ever seen.
void ConnectionLimits::sweep(Clock::time_point now) {
  if (now - last_sweep_ < kWindow) return;
  last_sweep_ = now;
  for (auto it = peers_.begin(); it != peers_.end();) {
    expire(it->second, now);
    if (it->second.open == 0 && it->second.attempts.empty())
      it = peers_.erase(it);
    else
      ++it;
  }
}

Admission ConnectionLimits::admit(const std::string& ip, Clock::time_point now) {
  sweep(now);
  PerIp& p = peers_[ip];
  expire(p, now);
  const uint32_t rate = settings_.connection_rate_per_ip;
  // Keep at most `rate` timestamps: enough to know whether the window is full.
  const bool rate_exceeded = rate != 0 && p.attempts.size() >= rate;
  if (rate != 0) {
    p.attempts.push_back(now);
    while (p.attempts.size() > rate) p.attempts.pop_front();
  }
  if (rate_exceeded) return Admission::rate;
  if (total_ >= settings_.max_connections) return Admission::limit;
  if (p.open >= settings_.max_connections_per_ip) return Admission::per_ip_limit;
  return Admission::ok;
}

void ConnectionLimits::add(const std::string& ip) {
  ++peers_[ip].open;
  ++total_;
}

void ConnectionLimits::remove(const std::string& ip) {
  auto it = peers_.find(ip);
  if (it != peers_.end() && it->second.open > 0) {
    --it->second.open;
    if (it->second.open == 0 && it->second.attempts.empty()) peers_.erase(it);
  }
  if (total_ > 0) --total_;
}

size_t ConnectionLimits::open_from(const std::string& ip) const {
  auto it = peers_.find(ip);
  return it == peers_.end() ? 0 : it->second.open;
}

}  // namespace rtcgw::ws
