// A non-blocking UDP socket bound to one local address and port, read through the Poller.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "media/poller.hpp"

namespace rtcgw::media {

// A socket address that fits IPv4 and IPv6, comparable, printable.
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;

  bool valid() const { return len > 0; }
  bool operator==(const Endpoint& o) const;
  bool operator!=(const Endpoint& o) const { return !(*this == o); }
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&addr); }
  std::string text() const;  // "1.2.3.4:5" or "[::1]:5"
  // From an address literal and a port; invalid (len 0) when ip does not parse.
  static Endpoint from(const std::string& ip, uint16_t port);
};

class UdpSocket {
 public:
  UdpSocket() = default;
  ~UdpSocket() { close(); }
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  // Binds ip:port; false (errno kept) when taken or invalid.
  bool bind(const std::string& ip, uint16_t port);
  // Starts calling `ready` when readable.
  bool watch(Poller& poller, Poller::Ready ready);
  void close();

  int fd() const { return fd_; }
  uint16_t port() const { return port_; }
  bool open() const { return fd_ >= 0; }

  // One datagram; -1 when none is waiting (EAGAIN) or on error.
  ssize_t recv(uint8_t* buf, size_t cap, Endpoint& from) const;
  bool send(const uint8_t* buf, size_t len, const Endpoint& to) const;

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  Poller* poller_ = nullptr;
  uint64_t watch_id_ = 0;
};

}  // namespace rtcgw::media
