// The WebSocket server: one libwebsockets context on the process's GLib loop, one vhost per
// websocket.listen URL, plus one plain-HTTP vhost for metrics.listen.
//
// Ownership: ServerImpl owns the lws context; the context (and so every callback) never outlives
// it. lws per-session data holds only a ConnId, looked up in conns_, so callbacks never follow a
// pointer to per-connection state that is gone. Everything runs on the loop thread.
#include <arpa/inet.h>
#include <glib.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "rtcgw/log.hpp"
#include "rtcgw/metrics.hpp"
#include "rtcgw/ws.hpp"
#include "ws/connection.hpp"
#include "ws/http.hpp"
#include "ws/limits.hpp"

namespace rtcgw::ws {

namespace {

constexpr const char* kSipProtocol = "sip";
// What one connection may have queued for sending before send() says no: a browser that stops
// reading must not make us buffer without bound.
constexpr size_t kMaxQueuedBytes = 8u << 20;

// Each vhost's lws user pointer: what the listener is. Owned by the server (stable address).
struct Listener {
  config::ListenUrl url;
  bool metrics = false;  // the /metrics + /health listener
  bool secure = false;   // wss
  std::string vhost_name;
  std::vector<lws_http_mount> mount;  // 0 or 1 mount: static files from document_root
  std::string mount_origin;
};

int lws_callback(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in,
                 size_t len);

// lws keeps pointers to all of these for the life of a vhost: static storage.
const lws_protocols kWsProtocols[] = {
    // protocols[0] takes plain HTTP and upgrades that name no subprotocol (refused, see filter).
    {"http", lws_callback, sizeof(Session), 0, 0, nullptr, 0},
    {kSipProtocol, lws_callback, sizeof(Session), 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};
const lws_protocols kHttpProtocols[] = {
    {"http", lws_callback, sizeof(Session), 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

const lws_protocol_vhost_options kMime5 = {nullptr, nullptr, ".ico", "image/x-icon"};
const lws_protocol_vhost_options kMime4 = {&kMime5, nullptr, ".wav", "audio/wav"};
const lws_protocol_vhost_options kMime3 = {&kMime4, nullptr, ".json", "application/json"};
const lws_protocol_vhost_options kMime2 = {&kMime3, nullptr, ".css", "text/css"};
const lws_protocol_vhost_options kMime1 = {&kMime2, nullptr, ".js", "text/javascript"};
const lws_protocol_vhost_options kMimeTypes = {&kMime1, nullptr, ".html",
                                               "text/html; charset=utf-8"};

std::string peer_text(const std::string& ip, uint16_t port) {
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

// The source address of a connection, IPv4-mapped IPv6 addresses written as IPv4.
bool peer_address(struct lws* wsi, std::string& ip, uint16_t& port) {
  const lws_sockfd_type fd = lws_get_socket_fd(lws_get_network_wsi(wsi));
  if (fd < 0) return false;
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    if (!inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf))) return false;
    port = ntohs(sin->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
      if (!inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf, sizeof(buf))) return false;
    } else if (!inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf))) {
      return false;
    }
    port = ntohs(sin6->sin6_port);
  } else {
    return false;
  }
  ip = buf;
  return true;
}

std::string header(struct lws* wsi, lws_token_indexes token) {
  const int n = lws_hdr_total_length(wsi, token);
  if (n <= 0) return {};
  std::string s(static_cast<size_t>(n) + 1, '\0');
  const int got = lws_hdr_copy(wsi, s.data(), n + 1, token);
  if (got < 0) return {};
  s.resize(static_cast<size_t>(got));
  return s;
}

// True if the comma-separated Sec-WebSocket-Protocol list names "sip".
bool offers_sip(std::string_view list) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item == kSipProtocol) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

LimitSettings limit_settings(const config::WebSocket& ws) {
  return {ws.max_connections, ws.max_connections_per_ip, ws.connection_rate_per_ip};
}

class ServerImpl final : public Server {
 public:
  ServerImpl(GMainLoop* loop, const config::Config& cfg, Handler& handler, Metrics& metrics,
             HealthFn health);
  ~ServerImpl() override;

  bool send(ConnId id, std::string_view message) override;
  void close(ConnId id, uint16_t code, std::string_view reason) override;
  void stop_accepting() override;
  void reload(const config::WebSocket& ws) override;
  size_t connection_count() const override { return conns_.size(); }

  static int callback(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in,
                      size_t len);

 private:
  void create_vhost(Listener& l, const config::Config& cfg);
  void destroy_context();

  int on_filter_network(Listener& l);
  int on_confirm_upgrade(struct lws* wsi, Listener& l, const char* upgrade);
  int on_filter_protocol(struct lws* wsi, Listener& l, Session* s);
  int on_established(struct lws* wsi, Session* s);
  int on_receive(struct lws* wsi, Session* s, const void* in, size_t len);
  int on_writeable(struct lws* wsi, Session* s);
  void on_closed(Session* s);
  int on_http(struct lws* wsi, Listener& l, const char* path);

  void refuse(std::string_view reason, const std::string& ip, uint16_t port,
              const std::string& origin);
  Connection* find(ConnId id);

  Handler& handler_;
  Metrics& metrics_;
  HealthFn health_;
  config::WebSocket ws_;  // allowed_origins and limits, replaced by reload()
  ConnectionLimits limits_;
  log::RateLimit refusal_log_{10};
  log::RateLimit bad_message_log_{10};
  bool accepting_ = true;
  bool destroying_ = false;
  ConnId next_id_ = 1;
  std::unordered_map<ConnId, Connection> conns_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  lws_retry_bo_t keepalive_{};
  struct lws_context* context_ = nullptr;
};

ServerImpl::ServerImpl(GMainLoop* loop, const config::Config& cfg, Handler& handler,
                       Metrics& metrics, HealthFn health)
    : handler_(handler),
      metrics_(metrics),
      health_(std::move(health)),
      ws_(cfg.websocket),
      limits_(limit_settings(cfg.websocket)) {
  if (!loop) throw std::runtime_error("ws: no GLib main loop");

  // Keepalive: lws pings a connection secs_since_valid_ping after it was last confirmed valid
  // (established or a PONG) and hangs up when no PONG came by secs_since_valid_hangup. Without a
  // policy of its own a vhost falls back to the context's 300 s / 310 s, so ping_interval 0 needs
  // an explicit policy that turns it off (hangup 0).
  if (ws_.ping_interval > 0) {
    keepalive_.secs_since_valid_ping = static_cast<uint16_t>(std::min(ws_.ping_interval, 30000u));
    keepalive_.secs_since_valid_hangup =
        static_cast<uint16_t>(2 * keepalive_.secs_since_valid_ping);
  }

  const bool any_tls = std::any_of(cfg.websocket.listen.begin(), cfg.websocket.listen.end(),
                                   [](const config::ListenUrl& u) { return u.scheme == "wss"; });

  lws_context_creation_info info;
  std::memset(&info, 0, sizeof(info));
  info.options = LWS_SERVER_OPTION_GLIB | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  if (any_tls) info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.foreign_loops = reinterpret_cast<void**>(&loop);
  info.user = this;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.gid = -1;
  info.uid = -1;
  info.server_string = "rtcgw";
  context_ = lws_create_context(&info);
  if (!context_) throw std::runtime_error("ws: cannot create the libwebsockets context");

  try {
    for (const auto& url : cfg.websocket.listen) {
      auto l = std::make_unique<Listener>();
      l->url = url;
      l->secure = url.scheme == "wss";
      listeners_.push_back(std::move(l));
      create_vhost(*listeners_.back(), cfg);
    }
    if (!cfg.metrics.listen.empty()) {
      auto l = std::make_unique<Listener>();
      l->url = cfg.metrics.url;
      l->metrics = true;
      listeners_.push_back(std::move(l));
      create_vhost(*listeners_.back(), cfg);
    }
  } catch (...) {
    destroy_context();
    throw;
  }
}

void ServerImpl::create_vhost(Listener& l, const config::Config& cfg) {
  const config::ListenUrl& url = l.url;
  l.vhost_name =
      url.text.empty() ? url.scheme + "://" + url.host + ":" + std::to_string(url.port) : url.text;

  lws_context_creation_info info;
  std::memset(&info, 0, sizeof(info));
  info.vhost_name = l.vhost_name.c_str();
  info.iface = url.host.c_str();  // an IP literal: lws binds to it (after no interface matches)
  info.port = url.port;
  info.user = &l;
  info.protocols = l.metrics ? kHttpProtocols : kWsProtocols;
  info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
  if (url.ipv6()) {
    // Only IPv6 on an IPv6 listener ([::] would otherwise take IPv4 too).
    info.options |= LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY | LWS_SERVER_OPTION_IPV6_V6ONLY_VALUE;
  } else {
    // lws quirk: with IPv6 enabled, an IPv4 literal as iface ends up in an AF_INET6 socket bound
    // to [::] (all addresses), because lws_interface_to_sa() parses it into the wrong place.
    // Disabling IPv6 on IPv4 vhosts makes it bind exactly the IPv4 address.
    info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  }
  if (!l.metrics) {
    info.retry_and_idle_policy = &keepalive_;
    if (l.secure) {
      info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
      info.ssl_cert_filepath = cfg.websocket.tls.certificate.c_str();
      info.ssl_private_key_filepath = cfg.websocket.tls.private_key.c_str();
    }
    if (!cfg.websocket.document_root.empty()) {
      // Static files: GET only, no directory listing (lws has none without the lws-dir plugin),
      // and lws cleans the URL of "/../" before mapping it onto the origin directory.
      l.mount_origin = cfg.websocket.document_root;
      l.mount.resize(1);
      lws_http_mount& m = l.mount[0];
      std::memset(&m, 0, sizeof(m));
      m.mountpoint = "/";
      m.mountpoint_len = 1;
      m.origin = l.mount_origin.c_str();
      m.def = "index.html";
      m.origin_protocol = LWSMPRO_FILE;
      m.extra_mimetypes = &kMimeTypes;
      info.mounts = l.mount.data();
    }
  }

  if (!lws_create_vhost(context_, &info))
    throw std::runtime_error("ws: cannot listen on " + l.vhost_name);
  spdlog::info("ws: listening on {}", l.vhost_name);
}

void ServerImpl::destroy_context() {
  if (!context_) return;
  destroying_ = true;
  // Closes every connection (LWS_CALLBACK_CLOSED / WSI_DESTROY come back synchronously, so the
  // handler hears on_ws_close for each open one) and removes lws's GSources from the loop.
  lws_context_destroy(context_);
  context_ = nullptr;
}

ServerImpl::~ServerImpl() {
  destroy_context();
  // Anything lws did not report (it should have): account it anyway.
  for (auto& [id, c] : conns_) {
    limits_.remove(c.peer.ip);
    if (c.opened) {
      metrics_.ws_connection_closed();
      handler_.on_ws_close(id);
    }
  }
  conns_.clear();
}

Connection* ServerImpl::find(ConnId id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : &it->second;
}

bool ServerImpl::send(ConnId id, std::string_view message) {
  if (destroying_) return false;
  Connection* c = find(id);
  if (!c || !c->opened || c->closing) return false;
  if (c->tx_bytes + message.size() > kMaxQueuedBytes) {
    spdlog::warn("ws: conn {} ({}): send queue full, message dropped", id,
                 peer_text(c->peer.ip, c->peer.port));
    return false;
  }
  std::string buf(LWS_PRE, '\0');
  buf.append(message);
  c->tx.push_back(std::move(buf));
  c->tx_bytes += message.size();
  if (lws_callback_on_writable(c->wsi) < 0) {
    c->tx.pop_back();
    c->tx_bytes -= message.size();
    return false;
  }
  return true;
}

void ServerImpl::close(ConnId id, uint16_t code, std::string_view reason) {
  if (destroying_) return;
  Connection* c = find(id);
  if (!c || c->closing) return;
  c->closing = true;
  c->close_code = code;
  // A close frame's payload is at most 125 bytes: 2 for the code, the rest for the reason.
  c->close_reason = std::string(reason.substr(0, 123));
  if (lws_callback_on_writable(c->wsi) < 0)
    spdlog::debug("ws: conn {}: cannot ask for a writeable callback to close", id);
}

void ServerImpl::stop_accepting() {
  // lws 4.1 offers no way to close one vhost's listen socket while keeping its connections
  // (lws_context_deprecate closes every listener, the metrics one too, and raises SIGINT once the
  // context has no connections left). So the listen sockets stay open and every new connection on
  // a WebSocket listener is dropped right after accept (FILTER_NETWORK_CONNECTION), and upgrades
  // already under way are refused (FILTER_PROTOCOL_CONNECTION). The metrics listener keeps
  // answering, so /health can say we are draining.
  accepting_ = false;
  spdlog::info("ws: no longer accepting connections ({} open)", conns_.size());
}

void ServerImpl::reload(const config::WebSocket& ws) {
  ws_.allowed_origins = ws.allowed_origins;
  ws_.max_connections = ws.max_connections;
  ws_.max_connections_per_ip = ws.max_connections_per_ip;
  ws_.connection_rate_per_ip = ws.connection_rate_per_ip;
  ws_.max_message_size = ws.max_message_size;
  limits_.set(limit_settings(ws));
}

void ServerImpl::refuse(std::string_view reason, const std::string& ip, uint16_t port,
                        const std::string& origin) {
  metrics_.ws_connection_rejected(reason);
  if (refusal_log_.allow()) {
    const uint64_t suppressed = refusal_log_.suppressed();
    spdlog::info("ws: refused a connection from {} (origin '{}'): {}{}", peer_text(ip, port),
                 origin, reason,
                 suppressed ? fmt::format(" ({} more refusals not logged)", suppressed) : "");
  }
}

int ServerImpl::on_filter_network(Listener& l) {
  if (!l.metrics && !accepting_) return 1;  // lws closes the accepted socket
  return 0;
}

int ServerImpl::on_confirm_upgrade(struct lws* wsi, Listener& l, const char* upgrade) {
  if (!upgrade || std::strcmp(upgrade, "websocket") != 0) return 0;
  if (!accepting_) return 1;
  if (!l.metrics && offers_sip(header(wsi, WSI_TOKEN_PROTOCOL))) return 0;
  std::string ip;
  uint16_t port = 0;
  peer_address(wsi, ip, port);
  refuse("subprotocol", ip, port, header(wsi, WSI_TOKEN_ORIGIN));
  return 1;
}

int ServerImpl::on_filter_protocol(struct lws* wsi, Listener& l, Session* s) {
  if (!s) return 1;
  s->id = 0;
  std::string ip;
  uint16_t port = 0;
  if (!peer_address(wsi, ip, port)) return 1;
  const std::string origin = header(wsi, WSI_TOKEN_ORIGIN);

  if (!accepting_) return 1;  // shutting down: not a refusal worth a metric
  // With no Sec-WebSocket-Protocol at all, lws binds the upgrade to protocols[0] ("http") rather
  // than refusing it: only a "sip" binding gets through. (A list without any protocol lws knows is
  // refused by lws itself before this callback.)
  const lws_protocols* p = lws_get_protocol(wsi);
  if (l.metrics || !p || !p->name || std::strcmp(p->name, kSipProtocol) != 0 ||
      !offers_sip(header(wsi, WSI_TOKEN_PROTOCOL))) {
    refuse("subprotocol", ip, port, origin);
    return 1;
  }
  // Origin: "*" admits any Origin and also requests without one (non-browser clients, e.g. SIP
  // test tools). Otherwise the Origin must equal one of the list exactly, and a request without
  // Origin is refused: browsers always send it on WebSocket upgrades, so a missing Origin under
  // an explicit list means a client we cannot vouch for.
  const auto& allowed = ws_.allowed_origins;
  const bool any = std::find(allowed.begin(), allowed.end(), "*") != allowed.end();
  if (!any &&
      (origin.empty() || std::find(allowed.begin(), allowed.end(), origin) == allowed.end())) {
    refuse("origin", ip, port, origin);
    return 1;
  }
  const Admission a = limits_.admit(ip, Clock::now());
  if (a != Admission::ok) {
    refuse(admission_reason(a), ip, port, origin);
    return 1;
  }

  // Admitted: the connection counts against the limits from now on, until CLOSED/WSI_DESTROY.
  const ConnId id = next_id_++;
  Connection c;
  c.wsi = wsi;
  c.peer.id = id;
  c.peer.ip = ip;
  c.peer.port = port;
  c.peer.secure = l.secure;
  c.peer.local_host = l.url.host;
  c.peer.local_port = l.url.port;
  c.peer.origin = origin;
  conns_.emplace(id, std::move(c));
  limits_.add(ip);
  s->id = id;
  return 0;
}

int ServerImpl::on_established(struct lws* wsi, Session* s) {
  Connection* c = s ? find(s->id) : nullptr;
  if (!c) return -1;
  c->opened = true;
  metrics_.ws_connection_opened();
  spdlog::debug("ws: conn {} open from {} on {}{} origin '{}'", c->peer.id,
                peer_text(c->peer.ip, c->peer.port), c->peer.secure ? "wss " : "ws ",
                peer_text(c->peer.local_host, c->peer.local_port), c->peer.origin);
  const Peer peer = c->peer;  // the handler may close or otherwise change the map
  handler_.on_ws_open(peer);
  return 0;
}

int ServerImpl::on_receive(struct lws* wsi, Session* s, const void* in, size_t len) {
  Connection* c = s ? find(s->id) : nullptr;
  if (!c) return -1;
  if (lws_is_first_fragment(wsi)) {
    c->rx.clear();
    c->rx_binary = lws_frame_is_binary(wsi) != 0;
    c->rx_in_message = true;
  }
  if (!c->rx_in_message) return 0;  // the rest of a message already dropped

  const size_t max = ws_.max_message_size;
  if (c->rx.size() + len > max || lws_remaining_packet_payload(wsi) > max - c->rx.size() - len) {
    c->rx.clear();
    c->rx.shrink_to_fit();
    c->rx_in_message = false;
    metrics_.bad_message("ws", "oversized");
    if (bad_message_log_.allow()) {
      const uint64_t suppressed = bad_message_log_.suppressed();
      spdlog::info("ws: conn {} ({}): message over {} bytes, closing with 1009{}", c->peer.id,
                   peer_text(c->peer.ip, c->peer.port), max,
                   suppressed ? fmt::format(" ({} more not logged)", suppressed) : "");
    }
    static const char kReason[] = "message too big";
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                     reinterpret_cast<unsigned char*>(const_cast<char*>(kReason)),
                     sizeof(kReason) - 1);
    c->closing = true;
    return -1;  // lws sends the close frame with the reason set above
  }
  if (len) c->rx.append(static_cast<const char*>(in), len);
  if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) != 0) return 0;

  c->rx_in_message = false;
  const ConnId id = c->peer.id;
  const bool binary = c->rx_binary;
  std::string msg;
  msg.swap(c->rx);  // the handler may send/close, which can touch the map
  handler_.on_ws_message(id, msg, binary);
  return 0;
}

int ServerImpl::on_writeable(struct lws* wsi, Session* s) {
  Connection* c = s ? find(s->id) : nullptr;
  if (!c) return -1;
  if (!c->tx.empty()) {
    std::string& front = c->tx.front();
    const size_t n = front.size() - LWS_PRE;
    auto* payload = reinterpret_cast<unsigned char*>(front.data() + LWS_PRE);
    if (lws_write(wsi, payload, n, LWS_WRITE_TEXT) < static_cast<int>(n)) {
      spdlog::debug("ws: conn {}: write failed", c->peer.id);
      return -1;
    }
    c->tx_bytes -= n;
    c->tx.pop_front();
    if (!c->tx.empty() || c->closing) lws_callback_on_writable(wsi);
    return 0;
  }
  if (c->closing) {
    lws_close_reason(wsi, static_cast<lws_close_status>(c->close_code),
                     reinterpret_cast<unsigned char*>(c->close_reason.data()),
                     c->close_reason.size());
    return -1;
  }
  return 0;
}

// CLOSED for a WebSocket connection, or WSI_DESTROY for any wsi: whichever comes first settles the
// connection, the second finds nothing. So on_ws_close happens once per opened connection.
void ServerImpl::on_closed(Session* s) {
  if (!s || !s->id) return;
  const ConnId id = s->id;
  s->id = 0;
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  const bool opened = it->second.opened;
  limits_.remove(it->second.peer.ip);
  spdlog::debug("ws: conn {} closed ({})", id, peer_text(it->second.peer.ip, it->second.peer.port));
  conns_.erase(it);
  if (opened) {
    metrics_.ws_connection_closed();
    handler_.on_ws_close(id);
  }
}

int ServerImpl::on_http(struct lws* wsi, Listener& l, const char* path) {
  const std::string_view p = path ? path : "";
  if (l.metrics) return http_serve_metrics(wsi, p, metrics_, health_);
  // Reached only for what no file mount serves (or when there is no document_root).
  return http_respond(wsi, HTTP_STATUS_NOT_FOUND, "text/plain", "not found\n");
}

int ServerImpl::callback(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in,
                         size_t len) {
  struct lws_vhost* vh = wsi ? lws_get_vhost(wsi) : nullptr;
  auto* l = vh ? static_cast<Listener*>(lws_vhost_user(vh)) : nullptr;
  struct lws_context* ctx = wsi ? lws_get_context(wsi) : nullptr;
  auto* self = ctx ? static_cast<ServerImpl*>(lws_context_user(ctx)) : nullptr;
  auto* s = static_cast<Session*>(user);
  if (!self || !l) return lws_callback_http_dummy(wsi, reason, user, in, len);

  switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
      return self->on_filter_network(*l);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
      return self->on_filter_protocol(wsi, *l, s);
    case LWS_CALLBACK_ESTABLISHED:
      return self->on_established(wsi, s);
    case LWS_CALLBACK_RECEIVE:
      return self->on_receive(wsi, s, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
      return self->on_writeable(wsi, s);
    case LWS_CALLBACK_CLOSED:
      self->on_closed(s);
      return 0;
    case LWS_CALLBACK_WSI_DESTROY:
      self->on_closed(s);
      return 0;
    case LWS_CALLBACK_HTTP:
      return self->on_http(wsi, *l, static_cast<const char*>(in));
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
      // Before lws picks a protocol: an upgrade that does not offer "sip" is refused here, so
      // that it is counted (lws would refuse a list of only unknown protocols silently).
      return self->on_confirm_upgrade(wsi, *l, static_cast<const char*>(in));
    default:
      break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

int lws_callback(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in,
                 size_t len) {
  return ServerImpl::callback(wsi, reason, user, in, len);
}

}  // namespace

std::unique_ptr<Server> make_server(GMainLoop* loop, const config::Config& cfg, Handler& handler,
                                    Metrics& metrics, HealthFn health) {
  return std::make_unique<ServerImpl>(loop, cfg, handler, metrics, std::move(health));
}

}  // namespace rtcgw::ws
