#include "media/poller.hpp"

#include <glib-unix.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace rtcgw::media {

Poller::Poller() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + strerror(errno));
  source_ = g_unix_fd_source_new(epfd_, G_IO_IN);
  g_source_set_callback(source_, G_SOURCE_FUNC(&Poller::on_epoll), this, nullptr);
  g_source_attach(source_, g_main_context_get_thread_default());
}

Poller::~Poller() {
  if (source_) {
    g_source_destroy(source_);
    g_source_unref(source_);
  }
  if (epfd_ >= 0) close(epfd_);
}

uint64_t Poller::add(int fd, Ready ready) {
  uint64_t id = next_id_++;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = id;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return 0;
  entries_.emplace(id, Entry{fd, std::move(ready)});
  return id;
}

void Poller::remove(uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, it->second.fd, nullptr);  // fails only if already closed
  entries_.erase(it);
}

gboolean Poller::on_epoll(gint, GIOCondition, gpointer self) {
  static_cast<Poller*>(self)->dispatch();
  return G_SOURCE_CONTINUE;
}

void Poller::dispatch() {
  // Every GLib iteration walks every source of the context and polls every descriptor in it
  // (each WebSocket is one): with hundreds of calls that costs more than the packets. So once
  // media is ready, the loop stays here while more keeps coming, waiting on the epoll
  // descriptor alone, for at most kHoldUs; then it goes back to GLib for signalling and timers,
  // which wait that long at most. When media goes quiet for kIdleWaitMs it goes back at once.
  epoll_event events[64];
  const int64_t until = g_get_monotonic_time() + kHoldUs;
  for (int timeout_ms = 0;; timeout_ms = kIdleWaitMs) {
    int n = epoll_wait(epfd_, events, 64, timeout_ms);
    if (n <= 0) return;  // quiet (or EINTR): back to the loop
    for (int i = 0; i < n; ++i) {
      auto it = entries_.find(events[i].data.u64);
      if (it == entries_.end()) continue;  // removed by an earlier callback of this batch
      // Copy: the callback may remove its own entry.
      Ready ready = it->second.ready;
      ready();
    }
    if (g_get_monotonic_time() >= until) return;
  }
}

}  // namespace rtcgw::media
