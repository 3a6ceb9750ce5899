#include "media/certificate.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <stdexcept>

namespace rtcgw::media {
namespace {

constexpr long kDay = 24L * 60 * 60;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct X509NameFree {
  void operator()(X509_NAME* n) const { X509_NAME_free(n); }
};

// The most recent OpenSSL error, or `fallback` when the queue is empty. Empties the queue.
std::string openssl_error(const char* fallback) {
  unsigned long e = ERR_peek_last_error();
  std::string text = fallback;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    text = buf;
  }
  ERR_clear_error();
  return text;
}

[[noreturn]] void fail(const std::string& what, const char* fallback = "unknown error") {
  throw std::runtime_error(what + ": " + openssl_error(fallback));
}

}  // namespace

std::string fingerprint_sha256(X509* cert) {
  if (cert == nullptr) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n == 0) {
    ERR_clear_error();
    return {};
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(size_t{n} * 3);
  for (unsigned int i = 0; i < n; ++i) {
    if (i) out.push_back(':');
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

Certificate::Certificate(X509Ptr cert, EvpPkeyPtr key)
    : cert_(std::move(cert)),
      key_(std::move(key)),
      fingerprint_(media::fingerprint_sha256(cert_.get())) {
  if (fingerprint_.empty()) fail("DTLS certificate: cannot compute its SHA-256 fingerprint");
}

std::unique_ptr<Certificate> Certificate::generate() {
  ERR_clear_error();
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) fail("DTLS certificate: cannot generate an ECDSA P-256 key");

  X509Ptr x(X509_new());
  if (!x) fail("DTLS certificate: X509_new");
  if (X509_set_version(x.get(), X509_VERSION_3) != 1) fail("DTLS certificate: X509_set_version");

  // A random positive 63-bit serial number (RFC 5280 section 4.1.2.2).
  std::unique_ptr<BIGNUM, BnFree> serial(BN_new());
  if (!serial || BN_rand(serial.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x.get())) == nullptr)
    fail("DTLS certificate: serial number");

  // Valid since 30 days ago (peers with a slow clock), for a year.
  if (X509_gmtime_adj(X509_getm_notBefore(x.get()), -30 * kDay) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(x.get()), 365 * kDay) == nullptr)
    fail("DTLS certificate: validity");

  std::unique_ptr<X509_NAME, X509NameFree> name(X509_NAME_new());
  if (!name ||
      X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("rtcgw"), -1, -1, 0) != 1 ||
      X509_set_subject_name(x.get(), name.get()) != 1 ||
      X509_set_issuer_name(x.get(), name.get()) != 1)
    fail("DTLS certificate: name");

  if (X509_set_pubkey(x.get(), key.get()) != 1) fail("DTLS certificate: X509_set_pubkey");
  if (X509_sign(x.get(), key.get(), EVP_sha256()) <= 0) fail("DTLS certificate: X509_sign");
  return std::unique_ptr<Certificate>(new Certificate(std::move(x), std::move(key)));
}

std::unique_ptr<Certificate> Certificate::load(const std::string& cert_pem,
                                               const std::string& key_pem) {
  ERR_clear_error();
  std::unique_ptr<BIO, BioFree> cb(BIO_new_file(cert_pem.c_str(), "r"));
  if (!cb) fail("DTLS certificate " + cert_pem + ": cannot open");
  X509Ptr x(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  if (!x) fail("DTLS certificate " + cert_pem + ": no PEM certificate");

  std::unique_ptr<BIO, BioFree> kb(BIO_new_file(key_pem.c_str(), "r"));
  if (!kb) fail("DTLS private key " + key_pem + ": cannot open");
  // No passphrase callback: an encrypted key fails here rather than prompting on a terminal.
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, const_cast<char*>("")));
  if (!key) fail("DTLS private key " + key_pem + ": no (unencrypted) PEM private key");

  if (X509_check_private_key(x.get(), key.get()) != 1)
    fail("DTLS private key " + key_pem + " does not match the certificate " + cert_pem,
         "key mismatch");
  return std::unique_ptr<Certificate>(new Certificate(std::move(x), std::move(key)));
}

}  // namespace rtcgw::media
