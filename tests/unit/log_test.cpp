#include <gtest/gtest.h>
#include <libwebsockets.h>
#include <sofia-sip/su_log.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "rtcgw/log.hpp"

extern "C" {
extern su_log_t nta_log[];
extern su_log_t tport_log[];
}

using rtcgw::log::RateLimit;
using namespace std::chrono_literals;

TEST(RateLimit, AllowsNPerSecondAndCountsTheRest) {
  RateLimit r(3);
  auto t0 = RateLimit::Clock::time_point{} + 100s;
  EXPECT_TRUE(r.allow(t0));
  EXPECT_EQ(r.suppressed(), 0u);
  EXPECT_TRUE(r.allow(t0 + 100ms));
  EXPECT_TRUE(r.allow(t0 + 200ms));
  EXPECT_FALSE(r.allow(t0 + 300ms));
  EXPECT_FALSE(r.allow(t0 + 999ms));
  EXPECT_EQ(r.suppressed_total(), 2u);
  // A new second: allowed again, and it says how many were dropped in between.
  EXPECT_TRUE(r.allow(t0 + 1000ms));
  EXPECT_EQ(r.suppressed(), 2u);
  EXPECT_TRUE(r.allow(t0 + 1001ms));
  EXPECT_EQ(r.suppressed(), 0u);
  EXPECT_TRUE(r.allow(t0 + 1002ms));
  EXPECT_FALSE(r.allow(t0 + 1003ms));
  EXPECT_EQ(r.suppressed_total(), 3u);
  EXPECT_TRUE(r.allow(t0 + 5s));
  EXPECT_EQ(r.suppressed(), 1u);
}

TEST(RateLimit, AtLeastOnePerSecond) {
  for (int n : {0, -5, 1}) {
    RateLimit r(n);
    auto t0 = RateLimit::Clock::time_point{} + 10s;
    EXPECT_TRUE(r.allow(t0));
    EXPECT_FALSE(r.allow(t0 + 1ms));
    EXPECT_TRUE(r.allow(t0 + 1s));
  }
}

TEST(RateLimit, RealClock) {
  RateLimit r(2);
  EXPECT_TRUE(r.allow());
  EXPECT_TRUE(r.allow());
  EXPECT_FALSE(r.allow());
}

TEST(Log, LevelNames) {
  for (const char* l : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    EXPECT_TRUE(rtcgw::log::valid_level(l)) << l;
  }
  for (const char* l : {"", "warning", "err", "INFO", "verbose"}) {
    EXPECT_FALSE(rtcgw::log::valid_level(l)) << l;
  }
}

TEST(Log, SetLevel) {
  rtcgw::log::init("warn");
  EXPECT_EQ(spdlog::get_level(), spdlog::level::warn);
  EXPECT_TRUE(rtcgw::log::set_level("debug"));
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
  EXPECT_FALSE(rtcgw::log::set_level("loud"));
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
  EXPECT_TRUE(rtcgw::log::set_level("off"));
  EXPECT_EQ(spdlog::get_level(), spdlog::level::off);
  rtcgw::log::init("nonsense");
  EXPECT_EQ(spdlog::get_level(), spdlog::level::info);
}

// Runs `fn` with stderr going to a file and returns what was written.
template <class Fn>
std::string capture_stderr(Fn fn) {
  char name[] = "/tmp/rtcgw_log_test_XXXXXX";
  int fd = mkstemp(name);
  EXPECT_GE(fd, 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  fn();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  std::ifstream in(name);
  std::stringstream text;
  text << in.rdbuf();
  unlink(name);
  return text.str();
}

TEST(Log, JournalFriendlyPattern) {
  std::string out = capture_stderr([] {
    rtcgw::log::init("info");  // after the redirect: no colours on a file
    spdlog::info("hello {}", 42);
    spdlog::debug("not shown");
  });
  // 2024-05-01T12:34:56.789 info hello 42
  const std::string shape = "dddd-dd-ddTdd:dd:dd.ddd info hello 42\n";
  ASSERT_EQ(out.size(), shape.size()) << out;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 'd') {
      EXPECT_TRUE(isdigit(static_cast<unsigned char>(out[i]))) << i << ": " << out;
    } else {
      EXPECT_EQ(out[i], shape[i]) << i << ": " << out;
    }
  }
  rtcgw::log::init("info");
}

class LogRouting : public ::testing::Test {
 protected:
  void SetUp() override {
    rtcgw::log::init("info");
    sink_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  void TearDown() override { rtcgw::log::init("info"); }
  std::vector<std::string> messages() {
    std::vector<std::string> out;
    for (const auto& m : sink_->last_raw()) {
      out.push_back(std::string(spdlog::level::to_string_view(m.level).data()) + " " +
                    std::string(m.payload.data(), m.payload.size()));
    }
    return out;
  }
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

TEST_F(LogRouting, SofiaLogsGoToSpdlog) {
  su_llog(nta_log, 1, "critical thing %d\n", 5);
  su_llog(nta_log, 5, "signalling detail\n");  // above sofia's level at info
  su_llog(tport_log, 0, "partial ");
  su_llog(tport_log, 0, "line\n");
  EXPECT_EQ(messages(), (std::vector<std::string>{"warning nta: critical thing 5",
                                                  "warning tport: partial line"}));

  ASSERT_TRUE(rtcgw::log::set_level("debug"));
  su_llog(nta_log, 5, "signalling detail\n");
  su_llog(nta_log, 7, "media detail\n");  // above 5
  auto m = messages();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[2], "debug nta: signalling detail");
}

TEST_F(LogRouting, LibwebsocketsLogsGoToSpdlog) {
  _lws_log(LLL_ERR, "boom %d\n", 7);
  _lws_log(LLL_WARN, "careful\n");
  _lws_log(LLL_NOTICE, "notice\n");
  _lws_log(LLL_INFO, "info only at debug\n");
  EXPECT_EQ(messages(), (std::vector<std::string>{"error lws: boom 7", "warning lws: careful",
                                                  "info lws: notice"}));
  ASSERT_TRUE(rtcgw::log::set_level("debug"));
  _lws_log(LLL_INFO, "info at debug\n");
  auto m = messages();
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[3], "debug lws: info at debug");
}
