#include "sip/flow_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace rtcgw::sip {
namespace {

constexpr size_t kIdLen = 8;
constexpr size_t kMacLen = 10;
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool mac(const std::array<uint8_t, 32>& key, const uint8_t* id, uint8_t out[kMacLen]) {
  unsigned char full[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), id, kIdLen, full, &len))
    return false;
  std::copy(full, full + kMacLen, out);
  return true;
}

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

FlowTokens::FlowTokens() {
  // Start-up only: without randomness tokens could be forged.
  if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1)
    throw std::runtime_error("RAND_bytes failed making the flow token key");
}

FlowTokens::FlowTokens(const std::array<uint8_t, 32>& key) : key_(key) {}

std::string FlowTokens::make(uint64_t conn_id) const {
  uint8_t raw[kIdLen + kMacLen];
  for (size_t i = 0; i < kIdLen; ++i) raw[i] = static_cast<uint8_t>(conn_id >> (56 - 8 * i));
  if (!mac(key_, raw, raw + kIdLen)) return {};
  // 18 bytes -> 24 characters, no padding.
  std::string out;
  out.reserve(24);
  for (size_t i = 0; i < sizeof raw; i += 3) {
    uint32_t v = (raw[i] << 16) | (raw[i + 1] << 8) | raw[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
  }
  return out;
}

std::optional<uint64_t> FlowTokens::parse(std::string_view token) const {
  if (token.size() != 24) return std::nullopt;
  uint8_t raw[kIdLen + kMacLen];
  for (size_t i = 0, o = 0; i < token.size(); i += 4, o += 3) {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      int d = b64_value(token[i + k]);
      if (d < 0) return std::nullopt;
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    raw[o] = static_cast<uint8_t>(v >> 16);
    raw[o + 1] = static_cast<uint8_t>(v >> 8);
    raw[o + 2] = static_cast<uint8_t>(v);
  }
  uint8_t expect[kMacLen];
  if (!mac(key_, raw, expect) || CRYPTO_memcmp(expect, raw + kIdLen, kMacLen) != 0)
    return std::nullopt;
  uint64_t id = 0;
  for (size_t i = 0; i < kIdLen; ++i) id = (id << 8) | raw[i];
  return id;
}

}  // namespace rtcgw::sip
