#include "app/daemon.hpp"

#include <glib-unix.h>

#include <string>
#include <vector>

#include "app/notify.hpp"
#include "rtcgw/log.hpp"

namespace rtcgw::app {
namespace {

constexpr gint64 kStopBudgetUs = 4'000'000;  // SIGTERM to exit, inside systemd's 5 s

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

std::vector<std::string> texts(const std::vector<config::ListenUrl>& v) {
  std::vector<std::string> out;
  for (const auto& l : v) out.push_back(l.text);
  return out;
}

}  // namespace

Daemon::Daemon(config::Config cfg) : cfg_(std::move(cfg)), loop_(g_main_loop_new(nullptr, FALSE)) {
  media_ = std::make_unique<media::Anchors>(cfg_, metrics_);
  proxy_ = std::make_unique<sip::Proxy>(cfg_, metrics_);
  proxy_->attach_media(media_.get());
  media_->on_inactive([this](const std::string& call_id) { proxy_->end_dialog(call_id); });
  ws_ = ws::make_server(loop_.get(), cfg_, *proxy_, metrics_, [this] { return health(); });
  proxy_->attach(ws_.get());

  auto on_stop = [](gpointer self) -> gboolean {
    static_cast<Daemon*>(self)->stop();
    return G_SOURCE_CONTINUE;
  };
  sigterm_ = g_unix_signal_add(SIGTERM, on_stop, this);
  sigint_ = g_unix_signal_add(SIGINT, on_stop, this);
  sighup_ = g_unix_signal_add(
      SIGHUP,
      [](gpointer self) -> gboolean {
        static_cast<Daemon*>(self)->reload();
        return G_SOURCE_CONTINUE;
      },
      this);
}

Daemon::~Daemon() {
  for (guint id : {sigterm_, sigint_, sighup_})
    if (id) g_source_remove(id);
  watchdog_.cancel();
  stop_poll_.cancel();
  proxy_->attach(nullptr);
  ws_.reset();  // closes the WebSockets; the proxy hears of each
  proxy_.reset();
  media_.reset();
}

int Daemon::run() {
  if (uint64_t usec = watchdog_usec()) {
    unsigned ms = static_cast<unsigned>(usec / 2000);
    watchdog_.every(ms > 0 ? ms : 1, [] { notify_watchdog(); });
  }
  spdlog::info("rtcgw {} ready: WebSocket {}, SIP {}, metrics {}", RTCGW_VERSION,
               join(texts(cfg_.websocket.listen)), join(texts(cfg_.sip.listen)),
               cfg_.metrics.listen.empty() ? "off" : cfg_.metrics.listen);
  notify_ready();
  g_main_loop_run(loop_.get());
  spdlog::info("rtcgw stopped");
  return 0;
}

void Daemon::stop() {
  if (stopping_) {
    spdlog::warn("second stop signal: exiting now");
    g_main_loop_quit(loop_.get());
    return;
  }
  stopping_ = true;
  stop_started_us_ = g_get_monotonic_time();
  notify_stopping();
  spdlog::info("stopping: no new connections; ending {} open transactions",
               proxy_->pending_transactions());
  ws_->stop_accepting();
  proxy_->begin_shutdown();
  stop_poll_.every(50, [this] {
    bool idle = proxy_->pending_transactions() == 0;
    if (idle || g_get_monotonic_time() - stop_started_us_ > kStopBudgetUs) {
      if (!idle)
        spdlog::warn("stopping with {} transactions still open", proxy_->pending_transactions());
      stop_poll_.cancel();
      g_main_loop_quit(loop_.get());
    }
  });
}

void Daemon::reload() {
  notify_reloading();
  spdlog::info("SIGHUP: reloading {}", cfg_.path);
  config::Config next;
  try {
    next = config::load_file(cfg_.path);
  } catch (const config::Error& e) {
    for (const auto& err : e.errors()) spdlog::error("reload: {}", err);
    spdlog::error("reload failed: keeping the running configuration");
    notify_ready();
    return;
  } catch (const std::exception& e) {
    spdlog::error("reload failed ({}): keeping the running configuration", e.what());
    notify_ready();
    return;
  }
  std::vector<std::string> applied, restart;
  if (next.log.level != cfg_.log.level && log::set_level(next.log.level))
    applied.push_back("log.level");
  const auto& a = cfg_.websocket;
  const auto& b = next.websocket;
  if (a.allowed_origins != b.allowed_origins) applied.push_back("websocket.allowed_origins");
  if (a.max_connections != b.max_connections ||
      a.max_connections_per_ip != b.max_connections_per_ip ||
      a.connection_rate_per_ip != b.connection_rate_per_ip ||
      a.max_message_size != b.max_message_size || a.ping_interval != b.ping_interval)
    applied.push_back("websocket limits");
  ws_->reload(b);
  const auto& ia = cfg_.sip.ims;
  const auto& ib = next.sip.ims;
  if (ia.strip_security_headers != ib.strip_security_headers ||
      ia.strip_asserted_identity != ib.strip_asserted_identity ||
      ia.visited_network_id != ib.visited_network_id || ia.charging_vector != ib.charging_vector)
    applied.push_back("sip.ims");
  proxy_->reload(next);
  if (texts(a.listen) != texts(b.listen)) restart.push_back("websocket.listen");
  if (a.tls.certificate != b.tls.certificate || a.tls.private_key != b.tls.private_key)
    restart.push_back("websocket.tls");
  if (a.document_root != b.document_root) restart.push_back("websocket.document_root");
  if (texts(cfg_.sip.listen) != texts(next.sip.listen)) restart.push_back("sip.listen");
  if (cfg_.sip.pcscf != next.sip.pcscf) restart.push_back("sip.pcscf");
  if (cfg_.metrics.listen != next.metrics.listen) restart.push_back("metrics.listen");
  if (cfg_.media.address != next.media.address || cfg_.media.port_min != next.media.port_min ||
      cfg_.media.port_max != next.media.port_max ||
      cfg_.media.advertised_address != next.media.advertised_address)
    restart.push_back("media");
  // Keep what was applied; what needs a restart stays as it runs.
  cfg_.log = next.log;
  cfg_.websocket.allowed_origins = b.allowed_origins;
  cfg_.websocket.max_connections = b.max_connections;
  cfg_.websocket.max_connections_per_ip = b.max_connections_per_ip;
  cfg_.websocket.connection_rate_per_ip = b.connection_rate_per_ip;
  cfg_.websocket.max_message_size = b.max_message_size;
  cfg_.websocket.ping_interval = b.ping_interval;
  cfg_.sip.ims = ib;
  spdlog::info("reloaded: {}", applied.empty() ? "nothing changed" : join(applied));
  if (!restart.empty()) spdlog::warn("changed but needs a restart: {}", join(restart));
  notify_ready();
}

std::pair<bool, std::string> Daemon::health() const {
  std::string body = std::string("{\"status\":\"") + (stopping_ ? "stopping" : "ok") +
                     "\",\"connections\":" + std::to_string(ws_ ? ws_->connection_count() : 0) +
                     ",\"registrations\":" + std::to_string(proxy_->registration_count()) +
                     ",\"pending_transactions\":" + std::to_string(proxy_->pending_transactions()) +
                     "}";
  return {!stopping_, body};
}

}  // namespace rtcgw::app
