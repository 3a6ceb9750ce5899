// The DTLS certificate of the media anchor: generated at start-up (ECDSA P-256, self-signed, as
// browsers do) or loaded from PEM files (media.dtls.certificate / private_key). Peers check it
// only by the SHA-256 fingerprint rtcgw writes into SDP (RFC 8122).
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace rtcgw::media {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct EvpPkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

class Certificate {
 public:
  // ECDSA P-256, self-signed, CN "rtcgw", valid from 30 days ago until a year from now.
  // Throws std::runtime_error (start-up only).
  static std::unique_ptr<Certificate> generate();
  // A certificate and its private key from PEM files. Throws std::runtime_error naming the file
  // and the reason (start-up only).
  static std::unique_ptr<Certificate> load(const std::string& cert_pem, const std::string& key_pem);

  Certificate(const Certificate&) = delete;
  Certificate& operator=(const Certificate&) = delete;

  // "AB:CD:...", 32 upper-case hex pairs: the value of a=fingerprint:sha-256.
  const std::string& fingerprint_sha256() const { return fingerprint_; }
  X509* x509() const { return cert_.get(); }
  EVP_PKEY* key() const { return key_.get(); }

 private:
  Certificate(X509Ptr cert, EvpPkeyPtr key);

  X509Ptr cert_;
  EvpPkeyPtr key_;
  std::string fingerprint_;
};

// SHA-256 over the certificate's DER encoding, "AB:CD:..." upper case; "" if it cannot be
// computed. Never throws.
std::string fingerprint_sha256(X509* cert);

}  // namespace rtcgw::media
