#include "media/udp_socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "rtcgw/log.hpp"

namespace rtcgw::media {
namespace {

constexpr int kSocketBuffer = 1 << 20;

}  // namespace

bool Endpoint::operator==(const Endpoint& o) const {
  if (len == 0 || o.len == 0 || addr.ss_family != o.addr.ss_family) return false;
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    auto* b = reinterpret_cast<const sockaddr_in*>(&o.addr);
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
  }
  auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
  auto* b = reinterpret_cast<const sockaddr_in6*>(&o.addr);
  return a->sin6_port == b->sin6_port &&
         memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(in6_addr)) == 0;
}

std::string Endpoint::text() const {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "none";
}

Endpoint Endpoint::from(const std::string& ip, uint16_t port) {
  Endpoint e;
  auto* a4 = reinterpret_cast<sockaddr_in*>(&e.addr);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&e.addr);
  if (inet_pton(AF_INET, ip.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    e.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, ip.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    e.len = sizeof(sockaddr_in6);
  }
  return e;
}

bool UdpSocket::bind(const std::string& ip, uint16_t port) {
  close();
  Endpoint local = Endpoint::from(ip, port);
  if (!local.valid()) {
    errno = EINVAL;
    return false;
  }
  int fd = socket(local.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  // Room for bursts: a loop busy with signalling for a few ms must not lose media to a full
  // receive queue (the default ~200 KiB fills at a few hundred calls). Best effort: the kernel
  // caps it at net.core.rmem_max, and a smaller buffer still works.
  int bytes = kSocketBuffer;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) != 0)
    spdlog::debug("media socket buffers left at their defaults: {}", strerror(errno));
  if (::bind(fd, local.sa(), local.len) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    return false;
  }
  fd_ = fd;
  port_ = port;
  if (port == 0) {  // the kernel's choice
    Endpoint bound;
    bound.len = sizeof bound.addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound.addr), &bound.len) == 0)
      port_ = ntohs(bound.addr.ss_family == AF_INET
                        ? reinterpret_cast<sockaddr_in*>(&bound.addr)->sin_port
                        : reinterpret_cast<sockaddr_in6*>(&bound.addr)->sin6_port);
  }
  return true;
}

bool UdpSocket::watch(Poller& poller, Poller::Ready ready) {
  if (fd_ < 0) return false;
  uint64_t id = poller.add(fd_, std::move(ready));
  if (id == 0) return false;
  poller_ = &poller;
  watch_id_ = id;
  return true;
}

void UdpSocket::close() {
  if (poller_ && watch_id_) poller_->remove(watch_id_);
  poller_ = nullptr;
  watch_id_ = 0;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  port_ = 0;
}

ssize_t UdpSocket::recv(uint8_t* buf, size_t cap, Endpoint& from) const {
  from.len = sizeof(from.addr);
  ssize_t n = recvfrom(fd_, buf, cap, 0, reinterpret_cast<sockaddr*>(&from.addr), &from.len);
  if (n < 0) from.len = 0;
  return n;
}

int UdpSocket::recv_batch(RecvBatch& b, size_t max_len) const {
  b.count_ = 0;
  if (fd_ < 0) return 0;
  if (max_len > RecvBatch::kBufSize) max_len = RecvBatch::kBufSize;
  for (int i = 0; i < RecvBatch::kSize; ++i) {
    b.iov_[i] = {b.buf_[i], max_len};
    msghdr& h = b.msgs_[i].msg_hdr;
    h = {};
    h.msg_name = &b.from_[i].addr;
    h.msg_namelen = sizeof(b.from_[i].addr);
    h.msg_iov = &b.iov_[i];
    h.msg_iovlen = 1;
    b.msgs_[i].msg_len = 0;
  }
  int n = recvmmsg(fd_, b.msgs_, RecvBatch::kSize, MSG_DONTWAIT, nullptr);
  if (n <= 0) return 0;
  for (int i = 0; i < n; ++i) b.from_[i].len = b.msgs_[i].msg_hdr.msg_namelen;
  b.count_ = n;
  return n;
}

bool UdpSocket::send(const uint8_t* buf, size_t len, const Endpoint& to) const {
  if (fd_ < 0 || !to.valid()) return false;
  return sendto(fd_, buf, len, 0, to.sa(), to.len) == static_cast<ssize_t>(len);
}

}  // namespace rtcgw::media
