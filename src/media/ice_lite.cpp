#include "media/ice_lite.hpp"

#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stun/stunagent.h>
#include <stun/stunmessage.h>
#include <stun/usages/ice.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <utility>

#include "media/demux.hpp"

namespace rtcgw::media {

std::string random_ice_string(size_t n) {
  static constexpr char kIceChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static_assert(sizeof kIceChars - 1 == 64);
  std::string out(n, '\0');
  uint8_t buf[64];
  for (size_t done = 0; done < n;) {
    size_t k = std::min(n - done, sizeof buf);
    if (RAND_bytes(buf, static_cast<int>(k)) != 1) {
      OPENSSL_cleanse(buf, sizeof buf);
      return {};
    }
    // 256 is a multiple of 64: the low 6 bits of a uniform byte are uniform.
    for (size_t i = 0; i < k; ++i) out[done + i] = kIceChars[buf[i] & 63];
    done += k;
  }
  OPENSSL_cleanse(buf, sizeof buf);
  return out;
}

struct IceLite::Impl {
  StunAgent agent;
  std::string local_ufrag;
  std::string local_pwd;
  std::string remote_ufrag;
  std::string remote_pwd;
};

namespace {

constexpr StunAgentUsageFlags kUsage = static_cast<StunAgentUsageFlags>(
    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);

// libnice's stun_message_append() checks that an attribute fits without its padding, then pads:
// ERROR-CODE reasons ("Bad Request", "Unauthorized", "Role Conflict") can write up to 3 bytes
// past the buffer it was given. It gets 3 bytes less than the caller's reply buffer.
constexpr size_t kAppendSlack = 3;

struct CheckContext {
  const std::string* local_ufrag;
  const std::string* local_pwd;
  const std::string* remote_ufrag;
  bool username_ok = false;
};

// USERNAME of a check we answer: "<our ufrag>:<the browser's ufrag>" (RFC 8445 section 7.2.2);
// the key is our password (section 7.3). Any browser ufrag until set_remote() told us which.
bool check_username(StunAgent*, StunMessage*, uint8_t* username, uint16_t username_len,
                    uint8_t** password, size_t* password_len, void* user_data) {
  auto* ctx = static_cast<CheckContext*>(user_data);
  const std::string& ufrag = *ctx->local_ufrag;
  const std::string& pwd = *ctx->local_pwd;
  if (username == nullptr || ufrag.empty() || pwd.empty()) return false;
  std::string_view u(reinterpret_cast<const char*>(username), username_len);
  const size_t l = ufrag.size();
  if (u.size() <= l + 1 || u.compare(0, l, ufrag) != 0 || u[l] != ':') return false;
  std::string_view remote = u.substr(l + 1);
  if (!ctx->remote_ufrag->empty() && remote != *ctx->remote_ufrag) return false;
  ctx->username_ok = true;
  // libnice only reads the key (HMAC), the const_cast is for its signature.
  *password = reinterpret_cast<uint8_t*>(const_cast<char*>(pwd.data()));
  *password_len = pwd.size();
  return true;
}

// The source address as libnice reads it: a sockaddr_storage of the right family and length.
bool copy_source(const sockaddr* from, socklen_t from_len, sockaddr_storage& out,
                 socklen_t& out_len) {
  if (from == nullptr || from_len < static_cast<socklen_t>(sizeof(sa_family_t))) return false;
  size_t need = 0;
  if (from->sa_family == AF_INET) {
    need = sizeof(sockaddr_in);
  } else if (from->sa_family == AF_INET6) {
    need = sizeof(sockaddr_in6);
  } else {
    return false;
  }
  if (static_cast<size_t>(from_len) < need) return false;
  std::memset(&out, 0, sizeof out);
  std::memcpy(&out, from, need);
  out_len = static_cast<socklen_t>(need);
  return true;
}

// An error response (no MESSAGE-INTEGRITY unless the request was authenticated, RFC 8489
// section 9.1.3); its length, 0 when it does not fit.
size_t error_reply(StunAgent* agent, const StunMessage& req, StunError code, uint8_t* reply,
                   size_t cap) {
  StunMessage msg;
  if (!stun_agent_init_error(agent, &msg, reply, cap, &req, code)) return 0;
  return stun_agent_finish_message(agent, &msg, nullptr, 0);
}

}  // namespace

IceLite::IceLite(std::string local_ufrag, std::string local_pwd) : impl_(std::make_unique<Impl>()) {
  // libnice's list of comprehension-required attributes it knows (USERNAME, MESSAGE-INTEGRITY,
  // PRIORITY, USE-CANDIDATE, ...): anything else in the comprehension-required range gets 420.
  stun_agent_init(&impl_->agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389, kUsage);
  impl_->local_ufrag = std::move(local_ufrag);
  impl_->local_pwd = std::move(local_pwd);
}

IceLite::~IceLite() = default;
IceLite::IceLite(IceLite&&) noexcept = default;
IceLite& IceLite::operator=(IceLite&&) noexcept = default;

void IceLite::set_local(std::string ufrag, std::string pwd) {
  impl_->local_ufrag = std::move(ufrag);
  impl_->local_pwd = std::move(pwd);
}

void IceLite::set_remote(std::string ufrag, std::string pwd) {
  impl_->remote_ufrag = std::move(ufrag);
  impl_->remote_pwd = std::move(pwd);
}

const std::string& IceLite::local_ufrag() const { return impl_->local_ufrag; }
const std::string& IceLite::local_pwd() const { return impl_->local_pwd; }
const std::string& IceLite::remote_ufrag() const { return impl_->remote_ufrag; }

IceLite::Outcome IceLite::handle(const uint8_t* data, size_t len, const sockaddr* from,
                                 socklen_t from_len, uint8_t* reply, size_t cap) {
  Outcome out{Verdict::kMalformed};
  // Cookie and the two leading zero bits first: anything else is not a check.
  if (classify(data, len) != PacketKind::kStun) return out;
  sockaddr_storage src;
  socklen_t src_len = 0;
  if (!copy_source(from, from_len, src, src_len)) return out;
  if (reply == nullptr) cap = 0;
  const size_t lib_cap = cap > kAppendSlack ? cap - kAppendSlack : 0;

  StunAgent* agent = &impl_->agent;
  // Exactly one whole message with well-formed attribute headers. And a MESSAGE-INTEGRITY
  // must be 20 bytes: stun_agent_validate() compares 20 bytes wherever the attribute starts,
  // so a shorter one at the end would be read past the datagram.
  int whole = stun_message_validate_buffer_length(data, len, true);
  if (whole <= 0 || static_cast<size_t>(whole) != len) return out;
  StunMessage probe{};
  probe.agent = agent;
  probe.buffer = const_cast<uint8_t*>(data);  // read only
  probe.buffer_len = len;
  uint16_t mi_len = 0;
  if (stun_message_find(&probe, STUN_ATTRIBUTE_MESSAGE_INTEGRITY, &mi_len) != nullptr &&
      mi_len != 20)
    return out;

  CheckContext ctx{&impl_->local_ufrag, &impl_->local_pwd, &impl_->remote_ufrag};
  StunMessage req;
  StunValidationStatus status = stun_agent_validate(agent, &req, data, len, check_username, &ctx);
  switch (status) {
    case STUN_VALIDATION_NOT_STUN:
    case STUN_VALIDATION_INCOMPLETE_STUN:
    case STUN_VALIDATION_BAD_REQUEST:  // no cookie or no/bad FINGERPRINT: not for us
      return out;
    case STUN_VALIDATION_UNMATCHED_RESPONSE:  // we send no requests
    case STUN_VALIDATION_UNKNOWN_ATTRIBUTE:   // not a request
    case STUN_VALIDATION_FORBIDDEN:
      out.verdict = Verdict::kIgnored;
      return out;
    default:
      break;
  }
  // From here `req` is a parsed message; only Binding requests are answered.
  if (stun_message_get_class(&req) != STUN_REQUEST ||
      stun_message_get_method(&req) != STUN_BINDING) {
    out.verdict = Verdict::kIgnored;
    return out;
  }

  switch (status) {
    case STUN_VALIDATION_UNAUTHORIZED_BAD_REQUEST:  // USERNAME or MESSAGE-INTEGRITY missing
      out.verdict = stun_message_has_attribute(&req, STUN_ATTRIBUTE_USERNAME)
                        ? Verdict::kBadIntegrity
                        : Verdict::kBadUsername;
      out.error_reply = true;
      out.reply_len = error_reply(agent, req, STUN_ERROR_BAD_REQUEST, reply, lib_cap);
      return out;
    case STUN_VALIDATION_UNAUTHORIZED:
      out.verdict = ctx.username_ok ? Verdict::kBadIntegrity : Verdict::kBadUsername;
      out.error_reply = true;
      out.reply_len = error_reply(agent, req, STUN_ERROR_UNAUTHORIZED, reply, lib_cap);
      return out;
    case STUN_VALIDATION_UNKNOWN_REQUEST_ATTRIBUTE: {  // authenticated, but not understood
      out.verdict = Verdict::kMalformed;
      out.error_reply = true;
      StunMessage msg;
      out.reply_len = stun_agent_build_unknown_attributes_error(agent, &msg, reply, lib_cap, &req);
      return out;
    }
    case STUN_VALIDATION_SUCCESS:
      break;
    default:
      out.verdict = Verdict::kMalformed;
      return out;
  }

  // A lite agent is always controlled (RFC 8445 section 6.1.1) and cannot switch: a peer that
  // says it is controlled too gets 487, on which a full agent becomes controlling (7.2.5.1).
  uint64_t tie = 0;
  if (stun_message_find64(&req, STUN_ATTRIBUTE_ICE_CONTROLLED, &tie) ==
      STUN_MESSAGE_RETURN_SUCCESS) {
    out.verdict = Verdict::kRoleConflict;
    out.error_reply = true;
    out.reply_len = error_reply(agent, req, STUN_ERROR_ROLE_CONFLICT, reply, lib_cap);
    return out;
  }

  out.verdict = Verdict::kAnswered;
  out.use_candidate = stun_usage_ice_conncheck_use_candidate(&req);
  // Success response: XOR-MAPPED-ADDRESS, then MESSAGE-INTEGRITY with the request's key (our
  // password, kept in req by stun_agent_validate) and FINGERPRINT, by stun_agent_finish_message.
  StunMessage resp;
  if (!stun_agent_init_response(agent, &resp, reply, lib_cap, &req)) return out;
  if (stun_message_append_xor_addr(&resp, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, &src, src_len) !=
      STUN_MESSAGE_RETURN_SUCCESS)
    return out;
  out.reply_len = stun_agent_finish_message(agent, &resp, nullptr, 0);
  return out;
}

}  // namespace rtcgw::media
