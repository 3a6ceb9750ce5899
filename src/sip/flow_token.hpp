// RFC 5626 flow tokens: the user part of rtcgw's Path and Record-Route URIs names the WebSocket
// connection a request from the core must go to. A token is base64url(conn id || HMAC), so a
// token cannot be forged or altered (RFC 5626 section 5.2); the key is made at start-up.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rtcgw::sip {

class FlowTokens {
 public:
  FlowTokens();  // random key
  explicit FlowTokens(const std::array<uint8_t, 32>& key);

  std::string make(uint64_t conn_id) const;
  // The connection id, or nullopt if the token was not made with this key.
  std::optional<uint64_t> parse(std::string_view token) const;

 private:
  std::array<uint8_t, 32> key_{};
};

}  // namespace rtcgw::sip
