// The default spdlog logger on stderr, with sofia-sip's and libwebsockets' logs routed into it.
#include "rtcgw/log.hpp"

#include <libwebsockets.h>
#include <sofia-sip/su_log.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>

// Defined in libsofia-sip-ua but declared in no public header.
extern "C" {
extern su_log_t nta_log[];
extern su_log_t tport_log[];
}

namespace rtcgw::log {

namespace {

struct Level {
  std::string_view name;
  spdlog::level::level_enum spd;
  unsigned sofia;  // 0..9: 1 critical errors, 3 warnings, 5 signalling, 9 everything
  int lws;         // LLL_ mask
};

constexpr int kLwsBase = LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_USER;
constexpr Level kLevels[] = {
    {"trace", spdlog::level::trace, 9, kLwsBase | LLL_INFO | LLL_DEBUG},
    {"debug", spdlog::level::debug, 5, kLwsBase | LLL_INFO},
    {"info", spdlog::level::info, 1, kLwsBase},
    {"warn", spdlog::level::warn, 1, LLL_ERR | LLL_WARN},
    {"error", spdlog::level::err, 1, LLL_ERR},
    {"critical", spdlog::level::critical, 1, LLL_ERR},
    {"off", spdlog::level::off, 0, 0},
};

const Level* find_level(std::string_view name) {
  for (const Level& l : kLevels) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

// Sofia's current level. At 1 and below only critical messages get through: those are logged
// as warnings; above it sofia is chatty and everything goes to debug.
std::atomic<unsigned> g_sofia_level{1};

// Warnings and errors of the libraries can be triggered from the network (bad TLS handshakes,
// garbage on the SIP port): rate-limit them. The libraries may log from other threads.
std::mutex g_limit_mutex;
RateLimit g_limit(50);

void emit(spdlog::level::level_enum level, std::string_view source, std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (text.empty()) return;
  if (level >= spdlog::level::warn) {
    std::lock_guard lock(g_limit_mutex);
    if (!g_limit.allow()) return;
    if (uint64_t n = g_limit.suppressed()) {
      spdlog::log(level, "{}: {} ({} library messages suppressed)", source, text, n);
      return;
    }
  }
  spdlog::log(level, "{}: {}", source, text);
}

// su_logger_f: one call may carry part of a line; lines are collected until their newline.
void sofia_logger(void* stream, char const* fmt, va_list ap) {
  char buf[2048];
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  if (n < 0) return;
  thread_local std::string line;
  line.append(buf, std::min<size_t>(size_t(n), sizeof buf - 1));
  if (line.empty() || (line.back() != '\n' && line.size() < 4096)) return;
  auto level = g_sofia_level.load() <= 1 ? spdlog::level::warn : spdlog::level::debug;
  emit(level, static_cast<const char*>(stream), line);
  line.clear();
}

void lws_logger(int bit, const char* line) {
  spdlog::level::level_enum level = spdlog::level::trace;
  switch (bit) {
    case LLL_ERR:
      level = spdlog::level::err;
      break;
    case LLL_WARN:
      level = spdlog::level::warn;
      break;
    case LLL_NOTICE:
    case LLL_USER:
      level = spdlog::level::info;
      break;
    case LLL_INFO:
      level = spdlog::level::debug;
      break;
    default:
      break;
  }
  emit(level, "lws", line ? line : "");
}

void apply(const Level& l) {
  spdlog::set_level(l.spd);
  g_sofia_level = l.sofia;
  for (su_log_t* log : {su_log_default, su_log_global, nta_log, tport_log}) {
    su_log_set_level(log, l.sofia);
  }
  lws_set_log_level(l.lws, lws_logger);
}

}  // namespace

bool valid_level(std::string_view level) { return find_level(level) != nullptr; }

void init(std::string_view level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("rtcgw", std::move(sink));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(std::move(logger));

  // Route the libraries before setting their levels: su_log_set_level logs the change itself.
  su_log_redirect(nullptr, sofia_logger, const_cast<char*>("sofia"));
  su_log_redirect(su_log_global, sofia_logger, const_cast<char*>("su"));
  su_log_redirect(nta_log, sofia_logger, const_cast<char*>("nta"));
  su_log_redirect(tport_log, sofia_logger, const_cast<char*>("tport"));

  const Level* l = find_level(level);
  apply(l ? *l : *find_level("info"));
  if (!l) spdlog::warn("unknown log level \"{}\", using info", level);
}

bool set_level(std::string_view level) {
  const Level* l = find_level(level);
  if (!l) return false;
  apply(*l);
  return true;
}

}  // namespace rtcgw::log
