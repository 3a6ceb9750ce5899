#include "media/port_pool.hpp"

namespace rtcgw::media {

PortPool::PortPool(std::string address, uint16_t min, uint16_t max)
    : address_(std::move(address)), min_(min & ~1u), max_(max), cursor_(min_) {}

uint16_t PortPool::next_even() {
  if (cursor_ + 1 > max_) cursor_ = min_;
  auto p = static_cast<uint16_t>(cursor_);
  cursor_ += 2;
  return p;
}

bool PortPool::bind_pair(UdpSocket& rtp, UdpSocket& rtcp) {
  unsigned tries = (max_ - min_ + 1u) / 2u;
  for (unsigned i = 0; i < tries; ++i) {
    uint16_t p = next_even();
    if (!rtp.bind(address_, p)) continue;
    if (rtcp.bind(address_, static_cast<uint16_t>(p + 1))) return true;
    rtp.close();
  }
  return false;
}

bool PortPool::bind_one(UdpSocket& sock) {
  return bind_with([&](uint16_t p) { return sock.bind(address_, p); });
}

bool PortPool::bind_with(const std::function<bool(uint16_t port)>& bind) {
  unsigned tries = (max_ - min_ + 1u) / 2u;
  for (unsigned i = 0; i < tries; ++i) {
    if (bind(next_even())) return true;
  }
  return false;
}

}  // namespace rtcgw::media
