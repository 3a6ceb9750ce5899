// Logging: spdlog, with sofia-sip's and libwebsockets' own logs routed into it.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace rtcgw::log {

// Sets up the default logger on stderr and routes sofia-sip and libwebsockets logs into it.
void init(std::string_view level);
// Changes the level at run time (SIGHUP). Returns false if `level` is not a level name.
bool set_level(std::string_view level);
bool valid_level(std::string_view level);

}  // namespace rtcgw::log
