// The WebSocket side (RFC 7118): a libwebsockets server running on the process's GLib loop.
// It accepts ws:// and wss:// connections with subprotocol "sip", checks Origin and the limits,
// and hands whole messages (one SIP message per WebSocket message) to a Handler. It also serves
// plain HTTP on the same listeners (static files from websocket.document_root) and, on
// metrics.listen, /metrics and /health.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "rtcgw/config.hpp"

typedef struct _GMainLoop GMainLoop;

namespace rtcgw {
class Metrics;
}

namespace rtcgw::ws {

using ConnId = uint64_t;  // never reused within one process

struct Peer {
  ConnId id = 0;
  std::string ip;          // source address of the browser (no brackets)
  uint16_t port = 0;       // source port
  bool secure = false;     // wss
  std::string local_host;  // the listener's address, as configured (no brackets)
  uint16_t local_port = 0;
  std::string origin;      // the Origin header, if any
};

class Handler {
 public:
  virtual ~Handler() = default;
  virtual void on_ws_open(const Peer& peer) = 0;
  // One whole WebSocket message (reassembled from fragments), at most max_message_size bytes.
  virtual void on_ws_message(ConnId id, std::string_view data, bool binary) = 0;
  virtual void on_ws_close(ConnId id) = 0;
};

// What /health answers: a status and a JSON body.
using HealthFn = std::function<std::pair<bool, std::string>()>;

class Server {
 public:
  virtual ~Server() = default;
  // Queues one message (sent as a text frame) on the connection. False if it is unknown/closing.
  virtual bool send(ConnId id, std::string_view message) = 0;
  // Closes the connection with a WebSocket close code and reason.
  virtual void close(ConnId id, uint16_t code, std::string_view reason) = 0;
  // Stops accepting new connections (shutdown); open ones keep working.
  virtual void stop_accepting() = 0;
  // Applies what can change without dropping connections: allowed origins and limits.
  virtual void reload(const config::WebSocket& ws) = 0;
  virtual size_t connection_count() const = 0;
};

// Creates the libwebsockets context on `loop` and opens every listener of cfg.websocket (and the
// metrics listener when cfg.metrics.listen is set). Throws std::runtime_error at start-up if a
// listener cannot be opened.
// Destroying the Server closes every connection and calls on_ws_close for each open one from
// inside the destructor: the Handler must outlive the Server, and the Server must not be destroyed
// from inside one of its own Handler callbacks.
std::unique_ptr<Server> make_server(GMainLoop* loop, const config::Config& cfg, Handler& handler,
                                    Metrics& metrics, HealthFn health);

}  // namespace rtcgw::ws
