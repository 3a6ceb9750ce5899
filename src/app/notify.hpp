// systemd service notification (Type=notify) through libsystemd's sd_notify. Every call is a
// no-op when not started by systemd (NOTIFY_SOCKET unset).
#pragma once

#include <cstdint>

namespace rtcgw::app {

void notify_ready();
void notify_reloading();
void notify_stopping();
void notify_status(const char* text);
void notify_watchdog();
// The watchdog interval systemd asked for, in microseconds; 0 when there is none.
uint64_t watchdog_usec();

}  // namespace rtcgw::app
