// The browser leg's ICE-lite responder (RFC 8445 sections 2.5 and 7.3): answers the browser's
// connectivity checks and its consent freshness checks (RFC 7675: the same Binding requests,
// every few seconds) on libnice's STUN code (short-term credentials, FINGERPRINT required).
// A lite agent sends no checks and is always controlled; it only answers.
//
// What a Binding request needs to be answered: the magic cookie and a correct FINGERPRINT
// (else it is not ours: kMalformed, no reply), USERNAME "<local ufrag>:<browser ufrag>" and a
// MESSAGE-INTEGRITY keyed with the local password. Replies (RFC 8489 section 9.1.3, RFC 8445
// section 7.3):
//   valid                                  -> success, XOR-MAPPED-ADDRESS = source, M-I, FP
//   USERNAME or M-I missing                -> 400, no M-I           (kBadUsername/kBadIntegrity)
//   USERNAME not ours, M-I does not verify -> 401, no M-I           (kBadUsername/kBadIntegrity)
//   ICE-CONTROLLED in the request          -> 487 Role Conflict, M-I (kRoleConflict): the peer
//                                             must be controlling (RFC 8445 section 6.1.1); on
//                                             the 487 a full agent switches (section 7.2.5.1)
//   unknown comprehension-required attr.   -> 420, M-I              (kMalformed)
// Responses, indications and other methods are not answered (kIgnored).
//
// One loop, one thread. handle() allocates nothing and never throws.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace rtcgw::media {

// `n` ICE characters ([A-Za-z0-9+/], RFC 8839 section 5.4) from OpenSSL's CSPRNG: 8 for a
// ufrag, 24 for a password (at least 4 and 22, 24 and 128 bits). Empty when the CSPRNG fails;
// an IceLite with an empty password answers nothing (401 to everything).
std::string random_ice_string(size_t n);

class IceLite {
 public:
  IceLite(std::string local_ufrag, std::string local_pwd);
  ~IceLite();
  IceLite(IceLite&&) noexcept;  // a moved-from IceLite may only be destroyed or assigned to
  IceLite& operator=(IceLite&&) noexcept;
  IceLite(const IceLite&) = delete;
  IceLite& operator=(const IceLite&) = delete;

  // New local credentials (an ICE restart on our side): checks with the old ones fail from now.
  void set_local(std::string ufrag, std::string pwd);
  // The browser's credentials from its SDP (a re-offer with new ones restarts ICE). Until this
  // is called, any non-empty browser ufrag after "<local ufrag>:" is accepted. The browser's
  // password is kept for completeness: a lite agent sends no checks, so it signs nothing.
  void set_remote(std::string ufrag, std::string pwd);

  const std::string& local_ufrag() const;
  const std::string& local_pwd() const;
  const std::string& remote_ufrag() const;

  enum class Verdict {
    kAnswered,      // a valid check: reply holds the success response
    kBadIntegrity,  // M-I missing or wrong (reply: 400 or 401)
    kBadUsername,   // USERNAME missing or not ours (reply: 400 or 401)
    kMalformed,     // not STUN, truncated, no cookie, bad FINGERPRINT (no reply); or unknown
                    // comprehension-required attributes in a valid check (reply: 420)
    kIgnored,       // responses, indications, methods other than Binding: no reply
    kRoleConflict,  // a valid check from a peer that claims to be controlled (reply: 487)
  };
  struct Outcome {
    Verdict verdict;
    size_t reply_len = 0;        // > 0: send reply[0, reply_len) back to `from`
    bool use_candidate = false;  // kAnswered: USE-CANDIDATE was present (nomination)
    bool error_reply = false;    // the reply is an error response
  };

  // One STUN datagram from `from` (IPv4 or IPv6). `reply` gets `cap` bytes at most: 1500 is
  // plenty (a success response is 20 + 12/24 + 24 + 8 bytes). A reply needs 3 bytes of room
  // beyond its length (libnice's padding); when `cap` is smaller than that, the verdict is the
  // same and reply_len is 0.
  Outcome handle(const uint8_t* data, size_t len, const sockaddr* from, socklen_t from_len,
                 uint8_t* reply, size_t cap);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rtcgw::media
