// SRTP and SRTCP on the browser leg (RFC 3711, RFC 7714) over libsrtp2: one session per
// transport, keyed from DTLS-SRTP (RFC 5764). Packets are protected and unprotected in place;
// nothing on the packet path throws or allocates (libsrtp clones a stream the first time it sees
// an SSRC).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct srtp_ctx_t_;

namespace rtcgw::media {

// The DTLS-SRTP protection profiles rtcgw negotiates (RFC 5764 section 4.1.2, RFC 7714 section
// 14.2).
enum class SrtpProfile { kAes128CmSha1_80, kAeadAes128Gcm, kAeadAes256Gcm };

size_t master_key_len(SrtpProfile profile);   // 16, 16, 32 bytes
size_t master_salt_len(SrtpProfile profile);  // 14, 12, 12 bytes
// The IANA name: "SRTP_AES128_CM_SHA1_80", "SRTP_AEAD_AES_128_GCM", "SRTP_AEAD_AES_256_GCM".
const char* profile_name(SrtpProfile profile);

// The keys of one DTLS-SRTP association, each master key || master salt.
struct SrtpKeys {
  SrtpProfile profile = SrtpProfile::kAes128CmSha1_80;
  std::vector<uint8_t> local;   // what we protect our packets with
  std::vector<uint8_t> remote;  // what the peer protects its packets with
};

// What protect may add at most: the authentication tag and the MKI (SRTP_MAX_TRAILER_LEN).
// rtcgw uses no MKI, so SRTCP really adds at most 16 (tag) + 4 (E flag and index) bytes.
constexpr size_t kSrtpMaxTrailer = 144;

// srtp_init() once per process; further calls do nothing. Throws std::runtime_error when
// libsrtp cannot start (start-up only).
void srtp_global_init();

// One SRTP context pair for one transport: outbound (protect, with the local key, any SSRC) and
// inbound (unprotect, with the remote key, any SSRC), two libsrtp sessions because one takes only
// one wildcard-SSRC template. Replay protection with a 1024-packet window on the inbound side;
// the outbound side may protect the same packet again (allow_repeat_tx).
class SrtpSession {
 public:
  SrtpSession();
  ~SrtpSession();
  SrtpSession(const SrtpSession&) = delete;
  SrtpSession& operator=(const SrtpSession&) = delete;

  // (Re)keys the session. False, with the reason in `error`, for keys of the wrong length or
  // when libsrtp refuses them; the session then protects nothing.
  bool init(const SrtpKeys& keys, std::string& error);
  bool ready() const { return tx_ && rx_; }

  // In place: `len` is the packet's length before and after. The buffer must have room for
  // kSrtpMaxTrailer more bytes after the packet when protecting. False for an authentication
  // failure, a replay, a malformed packet or an uninitialised session: the caller counts the
  // packet (last_error()) and drops it; the buffer's contents are then unspecified.
  bool protect_rtp(uint8_t* buf, size_t& len);
  bool unprotect_rtp(uint8_t* buf, size_t& len);
  bool protect_rtcp(uint8_t* buf, size_t& len);
  bool unprotect_rtcp(uint8_t* buf, size_t& len);

  // The libsrtp status of the last failure, usable as a metric label: "auth_fail",
  // "replay_fail", "replay_old", "bad_param", ... ("ok" before any failure, "not_ready" when
  // init() has not succeeded, "too_short" for packets shorter than their fixed header).
  const char* last_error() const { return last_error_; }

 private:
  struct Free {
    void operator()(srtp_ctx_t_* ctx) const;
  };

  bool fail(const char* why) {
    last_error_ = why;
    return false;
  }
  bool check(int status);

  std::unique_ptr<srtp_ctx_t_, Free> tx_, rx_;  // protect, unprotect
  const char* last_error_ = "ok";
};

}  // namespace rtcgw::media
