// All media sockets of the process behind one epoll descriptor, which is the only thing the GLib
// main loop polls for media: a GLib source per socket would make every loop iteration walk
// thousands of descriptors. Each socket is registered under a numeric id; a ready event is looked
// up by id, so a socket closed while a batch of events is being dispatched is simply skipped.
#pragma once

#include <glib.h>

#include <cstdint>
#include <functional>
#include <unordered_map>

namespace rtcgw::media {

class Poller {
 public:
  using Ready = std::function<void()>;
  // How long one dispatch may keep serving media before it returns to the GLib loop, and how
  // long it waits for more media before it returns early (see dispatch()).
  static constexpr int64_t kHoldUs = 2000;
  static constexpr int kIdleWaitMs = 1;

  Poller();  // throws at start-up
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Calls `ready` (on the loop) whenever fd is readable. Returns 0 on failure (errno set).
  uint64_t add(int fd, Ready ready);
  void remove(uint64_t id);

 private:
  static gboolean on_epoll(gint fd, GIOCondition cond, gpointer self);
  void dispatch();

  struct Entry {
    int fd;
    Ready ready;
  };
  int epfd_ = -1;
  GSource* source_ = nullptr;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Entry> entries_;
};

}  // namespace rtcgw::media
