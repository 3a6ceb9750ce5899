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
  epoll_event events[64];
  int n = epoll_wait(epfd_, events, 64, 0);
  for (int i = 0; i < n; ++i) {
    auto it = entries_.find(events[i].data.u64);
    if (it == entries_.end()) continue;  // removed by an earlier callback of this batch
    // Copy: the callback may remove its own entry.
    Ready ready = it->second.ready;
    ready();
  }
}

}  // namespace rtcgw::media
