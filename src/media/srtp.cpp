#include "media/srtp.hpp"

#include <openssl/crypto.h>
#include <srtp2/srtp.h>

#include <climits>
#include <mutex>
#include <stdexcept>

#include "rtcgw/log.hpp"

namespace rtcgw::media {

static_assert(kSrtpMaxTrailer == SRTP_MAX_TRAILER_LEN);

namespace {

constexpr size_t kRtpFixedHeader = 12;
constexpr size_t kRtcpFixedHeader = 8;
constexpr unsigned long kReplayWindow = 1024;

const char* status_name(srtp_err_status_t s) {
  switch (s) {
    case srtp_err_status_ok:
      return "ok";
    case srtp_err_status_fail:
      return "fail";
    case srtp_err_status_bad_param:
      return "bad_param";
    case srtp_err_status_alloc_fail:
      return "alloc_fail";
    case srtp_err_status_dealloc_fail:
      return "dealloc_fail";
    case srtp_err_status_init_fail:
      return "init_fail";
    case srtp_err_status_terminus:
      return "terminus";
    case srtp_err_status_auth_fail:
      return "auth_fail";
    case srtp_err_status_cipher_fail:
      return "cipher_fail";
    case srtp_err_status_replay_fail:
      return "replay_fail";
    case srtp_err_status_replay_old:
      return "replay_old";
    case srtp_err_status_algo_fail:
      return "algo_fail";
    case srtp_err_status_no_such_op:
      return "no_such_op";
    case srtp_err_status_no_ctx:
      return "no_ctx";
    case srtp_err_status_cant_check:
      return "cant_check";
    case srtp_err_status_key_expired:
      return "key_expired";
    case srtp_err_status_socket_err:
      return "socket_err";
    case srtp_err_status_signal_err:
      return "signal_err";
    case srtp_err_status_nonce_bad:
      return "nonce_bad";
    case srtp_err_status_read_fail:
      return "read_fail";
    case srtp_err_status_write_fail:
      return "write_fail";
    case srtp_err_status_parse_err:
      return "parse_err";
    case srtp_err_status_encode_err:
      return "encode_err";
    case srtp_err_status_semaphore_err:
      return "semaphore_err";
    case srtp_err_status_pfkey_err:
      return "pfkey_err";
    case srtp_err_status_bad_mki:
      return "bad_mki";
    case srtp_err_status_pkt_idx_old:
      return "pkt_idx_old";
    case srtp_err_status_pkt_idx_adv:
      return "pkt_idx_adv";
  }
  return "unknown";
}

void set_crypto(SrtpProfile profile, srtp_crypto_policy_t& p) {
  switch (profile) {
    case SrtpProfile::kAes128CmSha1_80:
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p);
      return;
    case SrtpProfile::kAeadAes128Gcm:
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&p);
      return;
    case SrtpProfile::kAeadAes256Gcm:
      srtp_crypto_policy_set_aes_gcm_256_16_auth(&p);
      return;
  }
}

// libsrtp's own messages (replay and authentication failures among them) are per packet: debug.
void log_handler(srtp_log_level_t level, const char* msg, void*) {
  if (level == srtp_log_level_error)
    spdlog::debug("libsrtp error: {}", msg ? msg : "");
  else
    spdlog::trace("libsrtp: {}", msg ? msg : "");
}

}  // namespace

size_t master_key_len(SrtpProfile profile) {
  return profile == SrtpProfile::kAeadAes256Gcm ? 32 : 16;
}

size_t master_salt_len(SrtpProfile profile) {
  return profile == SrtpProfile::kAes128CmSha1_80 ? 14 : 12;
}

const char* profile_name(SrtpProfile profile) {
  switch (profile) {
    case SrtpProfile::kAes128CmSha1_80:
      return "SRTP_AES128_CM_SHA1_80";
    case SrtpProfile::kAeadAes128Gcm:
      return "SRTP_AEAD_AES_128_GCM";
    case SrtpProfile::kAeadAes256Gcm:
      return "SRTP_AEAD_AES_256_GCM";
  }
  return "unknown";
}

void srtp_global_init() {
  static std::once_flag once;
  static srtp_err_status_t status = srtp_err_status_ok;
  std::call_once(once, [] {
    status = srtp_init();
    if (status == srtp_err_status_ok) {
      if (srtp_install_log_handler(&log_handler, nullptr) != srtp_err_status_ok)
        spdlog::warn("libsrtp: cannot install the log handler");
      spdlog::debug("{}", srtp_get_version_string());
    }
  });
  if (status != srtp_err_status_ok)
    throw std::runtime_error(std::string("libsrtp: srtp_init failed: ") + status_name(status));
}

void SrtpSession::Free::operator()(srtp_ctx_t_* ctx) const {
  if (ctx && srtp_dealloc(ctx) != srtp_err_status_ok) spdlog::warn("libsrtp: srtp_dealloc failed");
}

SrtpSession::SrtpSession() = default;
SrtpSession::~SrtpSession() = default;

bool SrtpSession::init(const SrtpKeys& keys, std::string& error) {
  tx_.reset();
  rx_.reset();
  last_error_ = "not_ready";
  const size_t want = master_key_len(keys.profile) + master_salt_len(keys.profile);
  if (keys.local.size() != want || keys.remote.size() != want) {
    error = std::string("SRTP keys for ") + profile_name(keys.profile) + " must be " +
            std::to_string(want) + " bytes (key || salt)";
    return false;
  }
  // libsrtp derives the session keys in srtp_create and keeps no pointer to the master key, but
  // wants it non-const: hand it a copy, wiped afterwards.
  auto create = [&](const std::vector<uint8_t>& key, srtp_ssrc_type_t type,
                    std::unique_ptr<srtp_ctx_t_, Free>& out) {
    std::vector<uint8_t> copy = key;
    srtp_policy_t p{};
    set_crypto(keys.profile, p.rtp);
    set_crypto(keys.profile, p.rtcp);
    p.ssrc.type = type;
    p.key = copy.data();
    p.window_size = kReplayWindow;
    p.allow_repeat_tx = 1;
    p.next = nullptr;
    srtp_t ctx = nullptr;
    srtp_err_status_t s = srtp_create(&ctx, &p);
    OPENSSL_cleanse(copy.data(), copy.size());
    if (s != srtp_err_status_ok) {
      error = std::string("srtp_create failed: ") + status_name(s);
      return false;
    }
    out.reset(ctx);
    return true;
  };
  if (!create(keys.local, ssrc_any_outbound, tx_) || !create(keys.remote, ssrc_any_inbound, rx_)) {
    tx_.reset();
    rx_.reset();
    return false;
  }
  last_error_ = "ok";
  return true;
}

bool SrtpSession::check(int status) {
  if (status == srtp_err_status_ok) return true;
  return fail(status_name(static_cast<srtp_err_status_t>(status)));
}

bool SrtpSession::protect_rtp(uint8_t* buf, size_t& len) {
  if (!tx_) return fail("not_ready");
  if (buf == nullptr || len < kRtpFixedHeader) return fail("too_short");
  if (len > size_t(INT_MAX) - kSrtpMaxTrailer) return fail("bad_param");
  int n = int(len);
  if (!check(srtp_protect(tx_.get(), buf, &n))) return false;
  len = size_t(n);
  return true;
}

bool SrtpSession::unprotect_rtp(uint8_t* buf, size_t& len) {
  if (!rx_) return fail("not_ready");
  if (buf == nullptr || len < kRtpFixedHeader) return fail("too_short");
  if (len > size_t(INT_MAX)) return fail("bad_param");
  int n = int(len);
  if (!check(srtp_unprotect(rx_.get(), buf, &n))) return false;
  len = size_t(n);
  return true;
}

bool SrtpSession::protect_rtcp(uint8_t* buf, size_t& len) {
  if (!tx_) return fail("not_ready");
  if (buf == nullptr || len < kRtcpFixedHeader) return fail("too_short");
  if (len > size_t(INT_MAX) - kSrtpMaxTrailer) return fail("bad_param");
  int n = int(len);
  if (!check(srtp_protect_rtcp(tx_.get(), buf, &n))) return false;
  len = size_t(n);
  return true;
}

bool SrtpSession::unprotect_rtcp(uint8_t* buf, size_t& len) {
  if (!rx_) return fail("not_ready");
  if (buf == nullptr || len < kRtcpFixedHeader) return fail("too_short");
  if (len > size_t(INT_MAX)) return fail("bad_param");
  int n = int(len);
  if (!check(srtp_unprotect_rtcp(rx_.get(), buf, &n))) return false;
  len = size_t(n);
  return true;
}

}  // namespace rtcgw::media
