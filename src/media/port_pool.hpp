// Picks ports for media sockets from media.port_range: RTP on an even port with RTCP on the next
// one (RFC 3550 section 11), single ports for the browser leg (rtcp-mux). A port is taken when its
// socket binds, so ports held by other processes are skipped; the search goes round the range
// from where the last one ended, so a port just released is not reused at once (late packets of
// the old call would land in the new one).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "media/udp_socket.hpp"

namespace rtcgw::media {

class PortPool {
 public:
  PortPool(std::string address, uint16_t min, uint16_t max);

  bool bind_pair(UdpSocket& rtp, UdpSocket& rtcp);
  bool bind_one(UdpSocket& sock);
  // For sockets the pool does not make (libnice binds its own): offers each candidate port in
  // turn to `bind` until it returns true. The port is free again when that socket closes.
  bool bind_with(const std::function<bool(uint16_t port)>& bind);
  const std::string& address() const { return address_; }

 private:
  uint16_t next_even();
  std::string address_;
  uint16_t min_, max_;
  uint32_t cursor_;
};

}  // namespace rtcgw::media
