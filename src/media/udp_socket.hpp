// A non-blocking UDP socket bound to one local address and port, read through the Poller.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

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

// The datagrams one recvmmsg() call read. A wakeup with fewer than kSize waiting costs one
// system call, where a recvfrom() loop costs one more to find the socket empty (EAGAIN).
class RecvBatch {
 public:
  static constexpr int kSize = 16;
  static constexpr size_t kBufSize = 2048;  // a datagram (<= 1500) plus room for an SRTP trailer

  int count() const { return count_; }
  uint8_t* data(int i) { return buf_[i]; }
  size_t len(int i) const { return msgs_[i].msg_len; }
  const Endpoint& from(int i) const { return from_[i]; }

 private:
  friend class UdpSocket;
  mmsghdr msgs_[kSize]{};
  iovec iov_[kSize]{};
  Endpoint from_[kSize];
  uint8_t buf_[kSize][kBufSize];
  int count_ = 0;
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
  // Up to RecvBatch::kSize datagrams of at most `max_len` bytes each (longer ones are cut, as
  // recv() does); the number read, 0 when none is waiting or on error.
  int recv_batch(RecvBatch& b, size_t max_len) const;
  bool send(const uint8_t* buf, size_t len, const Endpoint& to) const;

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  Poller* poller_ = nullptr;
  uint64_t watch_id_ = 0;
};

}  // namespace rtcgw::media
