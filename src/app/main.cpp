// rtcgw: a WebRTC-to-SIP gateway. `rtcgw --config FILE` runs it; `--check` only validates.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "app/daemon.hpp"
#include "rtcgw/config.hpp"
#include "rtcgw/log.hpp"

int main(int argc, char** argv) {
  CLI::App app{"rtcgw: WebRTC (SIP over WebSocket, DTLS-SRTP) to SIP/RTP gateway"};
  std::string path = "/etc/rtcgw/rtcgw.yaml";
  bool check = false;
  app.add_option("-c,--config", path, "configuration file (YAML)");
  app.add_flag("--check", check, "validate the configuration and exit: 0 if valid, 1 if not");
  app.set_version_flag("--version", "rtcgw " RTCGW_VERSION);
  CLI11_PARSE(app, argc, argv);

  rtcgw::config::Config cfg;
  try {
    cfg = rtcgw::config::load_file(path);
  } catch (const rtcgw::config::Error& e) {
    for (const auto& err : e.errors()) std::fprintf(stderr, "%s\n", err.c_str());
    std::fprintf(stderr, "%s: %zu error(s)\n", path.c_str(), e.errors().size());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), e.what());
    return 1;
  }
  if (check) {
    std::printf("%s: OK\n", path.c_str());
    return 0;
  }

  rtcgw::log::init(cfg.log.level);
  try {
    rtcgw::app::Daemon daemon(std::move(cfg));
    return daemon.run();
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
}
