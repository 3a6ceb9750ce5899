#include "app/notify.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <string>

#include "rtcgw/log.hpp"

namespace rtcgw::app {
namespace {

void send(const std::string& state) {
  int rc = sd_notify(0, state.c_str());
  if (rc < 0) spdlog::warn("sd_notify({}) failed: {}", state, rc);
}

}  // namespace

void notify_ready() { send("READY=1\nSTATUS=serving"); }

void notify_reloading() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void notify_stopping() { send("STOPPING=1\nSTATUS=stopping"); }

void notify_status(const char* text) { send(std::string("STATUS=") + text); }

void notify_watchdog() { send("WATCHDOG=1"); }

uint64_t watchdog_usec() {
  uint64_t usec = 0;
  return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

}  // namespace rtcgw::app
