// SRTP for the benchmark's load client. rtcgw's SrtpSession (libsrtp2, which Debian builds on
// NSS) costs the load client several microseconds per packet for AEAD_AES_*_GCM; with 500 calls
// the load client does 50,000 of them a second besides its socket work, and a saturated load
// client would add its own queueing to the latency it measures. So for the GCM profiles the load
// client uses this: RFC 7714 AES-GCM with OpenSSL EVP, one context per direction kept keyed,
// session keys derived with the AES-CM PRF of RFC 3711 section 4.3.3 exactly as libsrtp does
// (master salt zero-padded to 112 bits). RTP only (the load client sends no RTCP), no MKI, no
// replay list. AES_CM_128_HMAC_SHA1_80 stays on SrtpSession. The load client checks both against
// SrtpSession at start (--selftest), and rtcgw checks every packet it gets from it.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "media/srtp.hpp"

namespace bench {

using rtcgw::media::SrtpKeys;
using rtcgw::media::SrtpProfile;
using rtcgw::media::SrtpSession;

class GcmDirection {
 public:
  GcmDirection() = default;
  GcmDirection(const GcmDirection&) = delete;
  GcmDirection& operator=(const GcmDirection&) = delete;
  ~GcmDirection() {
    if (ctx_) EVP_CIPHER_CTX_free(ctx_);
  }

  // master = master key || master salt (16+12 or 32+12 bytes).
  bool init(const uint8_t* master, size_t key_len, bool encrypt) {
    encrypt_ = encrypt;
    uint8_t salt14[14] = {};
    std::memcpy(salt14, master + key_len, 12);
    uint8_t session_key[32];
    if (!prf(master, key_len, salt14, 0x00, session_key, key_len)) return false;
    if (!prf(master, key_len, salt14, 0x02, salt_, 12)) return false;
    if (!ctx_) ctx_ = EVP_CIPHER_CTX_new();
    const EVP_CIPHER* c = key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
    bool ok = (encrypt ? EVP_EncryptInit_ex(ctx_, c, nullptr, session_key, nullptr)
                       : EVP_DecryptInit_ex(ctx_, c, nullptr, session_key, nullptr)) == 1;
    OPENSSL_cleanse(session_key, sizeof session_key);
    return ok;
  }

  // In place; the buffer has 16 bytes of room after the packet when encrypting.
  bool protect(uint8_t* buf, size_t& len) {
    size_t hdr = header_len(buf, len);
    if (hdr == 0) return false;
    uint16_t seq = uint16_t(buf[2] << 8 | buf[3]);
    if (started_ && seq < last_seq_ && uint16_t(last_seq_ - seq) > 0x8000) roc_++;  // wrapped
    started_ = true;
    last_seq_ = seq;
    uint8_t iv[12];
    make_iv(buf, roc_, seq, iv);
    int n = 0;
    if (EVP_EncryptInit_ex(ctx_, nullptr, nullptr, nullptr, iv) != 1) return false;
    if (EVP_EncryptUpdate(ctx_, nullptr, &n, buf, int(hdr)) != 1) return false;
    if (EVP_EncryptUpdate(ctx_, buf + hdr, &n, buf + hdr, int(len - hdr)) != 1) return false;
    if (EVP_EncryptFinal_ex(ctx_, buf + hdr + n, &n) != 1) return false;
    if (EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_GET_TAG, 16, buf + len) != 1) return false;
    len += 16;
    return true;
  }

  bool unprotect(uint8_t* buf, size_t& len) {
    size_t hdr = header_len(buf, len);
    if (hdr == 0 || len < hdr + 16) return false;
    uint16_t seq = uint16_t(buf[2] << 8 | buf[3]);
    // RFC 3711 section 3.3.1: the ROC this packet was sent with, from the highest seq seen.
    uint32_t v = roc_;
    if (!started_) {
      v = 0;
    } else if (last_seq_ < 0x8000) {
      if (int(seq) - int(last_seq_) > 0x8000) v = roc_ - 1;
    } else if (int(last_seq_) - 0x8000 > int(seq)) {
      v = roc_ + 1;
    }
    uint8_t iv[12];
    make_iv(buf, v, seq, iv);
    size_t body = len - hdr - 16;
    int n = 0;
    if (EVP_DecryptInit_ex(ctx_, nullptr, nullptr, nullptr, iv) != 1) return false;
    if (EVP_DecryptUpdate(ctx_, nullptr, &n, buf, int(hdr)) != 1) return false;
    if (EVP_DecryptUpdate(ctx_, buf + hdr, &n, buf + hdr, int(body)) != 1) return false;
    if (EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_SET_TAG, 16, buf + hdr + body) != 1) return false;
    if (EVP_DecryptFinal_ex(ctx_, buf + hdr + n, &n) != 1) return false;
    len = hdr + body;
    // Update the highest index (authenticated packets only).
    if (!started_ || v > roc_ || (v == roc_ && seq > last_seq_)) {
      roc_ = v;
      last_seq_ = seq;
    }
    started_ = true;
    return true;
  }

 private:
  static size_t header_len(const uint8_t* buf, size_t len) {
    if (len < 12 || (buf[0] >> 6) != 2) return 0;
    size_t h = 12 + size_t(buf[0] & 0x0f) * 4;
    if (buf[0] & 0x10) {
      if (len < h + 4) return 0;
      h += 4 + size_t(buf[h + 2] << 8 | buf[h + 3]) * 4;
    }
    return h <= len ? h : 0;
  }

  void make_iv(const uint8_t* buf, uint32_t roc, uint16_t seq, uint8_t iv[12]) const {
    // RFC 7714 section 8.1: 00 00 || SSRC || ROC || SEQ, XOR the session salt.
    iv[0] = iv[1] = 0;
    std::memcpy(iv + 2, buf + 8, 4);
    iv[6] = uint8_t(roc >> 24);
    iv[7] = uint8_t(roc >> 16);
    iv[8] = uint8_t(roc >> 8);
    iv[9] = uint8_t(roc);
    iv[10] = uint8_t(seq >> 8);
    iv[11] = uint8_t(seq);
    for (int i = 0; i < 12; ++i) iv[i] ^= salt_[i];
  }

  // AES-CM PRF (RFC 3711 section 4.3.3), key derivation rate 0: AES-CTR keystream under the
  // master key from IV = (master salt XOR label at byte 7) || 00 00.
  static bool prf(const uint8_t* master_key, size_t key_len, const uint8_t salt14[14],
                  uint8_t label, uint8_t* out, size_t out_len) {
    uint8_t iv[16] = {};
    std::memcpy(iv, salt14, 14);
    iv[7] ^= label;
    EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
    if (!c) return false;
    const EVP_CIPHER* ctr = key_len == 16 ? EVP_aes_128_ctr() : EVP_aes_256_ctr();
    uint8_t zeros[32] = {};
    int n = 0;
    bool ok = EVP_EncryptInit_ex(c, ctr, nullptr, master_key, iv) == 1 &&
              EVP_EncryptUpdate(c, out, &n, zeros, int(out_len)) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok;
  }

  EVP_CIPHER_CTX* ctx_ = nullptr;
  bool encrypt_ = true;
  uint8_t salt_[12] = {};
  bool started_ = false;
  uint16_t last_seq_ = 0;
  uint32_t roc_ = 0;
};

// SrtpSession's interface for RTP, on OpenSSL for the GCM profiles (unless told otherwise).
class BenchSrtp {
 public:
  static inline bool use_libsrtp_always = false;

  bool init(const SrtpKeys& keys, std::string& error) {
    gcm_ = !use_libsrtp_always && (keys.profile == SrtpProfile::kAeadAes128Gcm ||
                                   keys.profile == SrtpProfile::kAeadAes256Gcm);
    if (!gcm_) {
      ready_ = lib_.init(keys, error);
      return ready_;
    }
    size_t kl = keys.profile == SrtpProfile::kAeadAes128Gcm ? 16 : 32;
    if (keys.local.size() != kl + 12 || keys.remote.size() != kl + 12) {
      error = "bad key length";
      return false;
    }
    out_ = std::make_unique<GcmDirection>();
    in_ = std::make_unique<GcmDirection>();
    ready_ = out_->init(keys.local.data(), kl, true) && in_->init(keys.remote.data(), kl, false);
    if (!ready_) error = "OpenSSL GCM init failed";
    return ready_;
  }
  bool ready() const { return ready_; }
  bool protect_rtp(uint8_t* buf, size_t& len) {
    return gcm_ ? out_->protect(buf, len) : lib_.protect_rtp(buf, len);
  }
  bool unprotect_rtp(uint8_t* buf, size_t& len) {
    return gcm_ ? in_->unprotect(buf, len) : lib_.unprotect_rtp(buf, len);
  }

 private:
  bool gcm_ = false, ready_ = false;
  SrtpSession lib_;
  std::unique_ptr<GcmDirection> out_, in_;
};

}  // namespace bench
