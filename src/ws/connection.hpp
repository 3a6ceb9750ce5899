// What the server keeps per WebSocket connection. Owned by the server's id -> Connection map; the
// lws per-session data holds only the id (see Session), so a C callback never follows a pointer to
// a Connection that is gone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "rtcgw/ws.hpp"

struct lws;

namespace rtcgw::ws {

// The lws per-session user data (allocated and zeroed by lws, plain data only).
struct Session {
  ConnId id;  // 0 = not a WebSocket connection of ours (plain HTTP, or refused)
};

struct Connection {
  struct lws* wsi = nullptr;  // valid while the connection is in the map
  Peer peer;
  bool opened = false;  // ESTABLISHED seen: on_ws_open was called, on_ws_close is owed

  // Receiving: one message reassembled from its fragments.
  std::string rx;
  bool rx_binary = false;
  bool rx_in_message = false;

  // Sending: whole messages, each with LWS_PRE bytes of headroom in front.
  std::deque<std::string> tx;
  size_t tx_bytes = 0;

  // close(): sent once the queue is empty.
  bool closing = false;
  uint16_t close_code = 1000;
  std::string close_reason;
};

}  // namespace rtcgw::ws
