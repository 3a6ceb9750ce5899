// The composition root: one GLib main loop driving the WebSocket server (libwebsockets), the SIP
// core (sofia-sip nta) and, later, the media anchors (libnice); signals; systemd notification.
#pragma once

#include <glib.h>

#include <memory>

#include "loop/timer.hpp"
#include "media/anchors.hpp"
#include "rtcgw/config.hpp"
#include "rtcgw/metrics.hpp"
#include "rtcgw/ws.hpp"
#include "sip/proxy.hpp"

namespace rtcgw::app {

class Daemon {
 public:
  // Opens every listener. Throws std::runtime_error at start-up when one cannot be opened.
  explicit Daemon(config::Config cfg);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until SIGTERM/SIGINT and the graceful stop that follows. Returns the exit code.
  int run();

 private:
  struct LoopUnref {
    void operator()(GMainLoop* l) const { g_main_loop_unref(l); }
  };

  void stop();
  void reload();
  std::pair<bool, std::string> health() const;

  config::Config cfg_;
  std::unique_ptr<GMainLoop, LoopUnref> loop_;
  Metrics metrics_;
  std::unique_ptr<media::Anchors> media_;
  std::unique_ptr<sip::Proxy> proxy_;
  std::unique_ptr<ws::Server> ws_;
  guint sigterm_ = 0, sigint_ = 0, sighup_ = 0;
  loop::Timer watchdog_;
  loop::Timer stop_poll_;
  bool stopping_ = false;
  gint64 stop_started_us_ = 0;
};

}  // namespace rtcgw::app
