#include "media/dtls.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/srtp.h>
#include <sys/time.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace rtcgw::media {
namespace {

// ECDHE only (forward secrecy), AEAD first. Our own certificate is ECDSA when generated, so as
// a server only the ECDSA suites apply; the RSA ones let a loaded RSA certificate work and let
// rtcgw, as a client, reach a server with an RSA certificate.
constexpr const char* kCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA";
constexpr const char* kGroups = "X25519:P-256:P-384";
// In order of preference: as the server, OpenSSL picks the first of these the client offers.
constexpr const char* kSrtpProfiles =
    "SRTP_AEAD_AES_128_GCM:SRTP_AEAD_AES_256_GCM:SRTP_AES128_CM_SHA1_80";
constexpr char kExporterLabel[] = "EXTRACTOR-dtls_srtp";  // RFC 5764 section 4.2
constexpr int kVerifyMode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;

// Retransmission (RFC 6347 section 4.2.4.1): 500 ms, doubling up to 8 s. OpenSSL gives up
// after 12 retransmissions of one flight (about a minute).
constexpr unsigned kInitialTimeoutUs = 500'000;
constexpr unsigned kMaxTimeoutUs = 8'000'000;

constexpr size_t kRecordHeaderLen = 13;  // RFC 6347 section 4.1

// OpenSSL's earliest queued error as text ("certificate verify failed", "sslv3 alert bad
// certificate"), or `fallback`. Empties the queue.
std::string openssl_error(const char* fallback) {
  unsigned long e = ERR_peek_error();
  std::string text = fallback;
  if (e != 0) {
    if (const char* reason = ERR_reason_error_string(e)) {
      text = reason;
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      text = buf;
    }
  }
  ERR_clear_error();
  return text;
}

[[noreturn]] void fail_ctx(const char* what) {
  throw std::runtime_error(std::string("DTLS context: ") + what + ": " +
                           openssl_error("unknown error"));
}

// The peer's certificate is checked against the SDP fingerprint per session; the chain itself
// means nothing (browsers use self-signed certificates).
int accept_any(int, X509_STORE_CTX*) { return 1; }

// A datagram of whole DTLS 1.2 records (RFC 6347 section 4.1): content type 20..25 (up to
// tls12_cid), major version 254, lengths that add up.
bool whole_records(const uint8_t* data, size_t len) {
  if (len < kRecordHeaderLen || len > 65535) return false;
  size_t off = 0;
  while (off < len) {
    if (len - off < kRecordHeaderLen) return false;
    const uint8_t* r = data + off;
    if (r[0] < 20 || r[0] > 25 || r[1] != 0xfe) return false;
    size_t body = size_t(r[11]) << 8 | r[12];
    if (body > len - off - kRecordHeaderLen) return false;
    off += kRecordHeaderLen + body;
  }
  return true;
}

// A datagram that starts with a ClientHello: a handshake record of epoch 0 whose message is of
// type client_hello (1) (RFC 6347 sections 4.1 and 4.2.2).
bool starts_with_client_hello(const uint8_t* data, size_t len) {
  constexpr size_t kHandshakeHeaderLen = 12;
  if (len < kRecordHeaderLen + kHandshakeHeaderLen) return false;
  size_t body = size_t(data[11]) << 8 | data[12];
  return data[0] == 22 && data[3] == 0 && data[4] == 0 && body >= kHandshakeHeaderLen &&
         data[kRecordHeaderLen] == 1;
}

// The length of the record at `off`, header included; the rest of the buffer if it is cut.
size_t record_len(const std::vector<uint8_t>& buf, size_t off) {
  size_t left = buf.size() - off;
  if (left < kRecordHeaderLen) return left;
  size_t body = size_t(buf[off + 11]) << 8 | buf[off + 12];
  return std::min(left, kRecordHeaderLen + body);
}

std::string normalize_fingerprint(const std::string& fp) {
  std::string out;
  out.reserve(fp.size());
  for (char c : fp)
    if (!std::isspace(static_cast<unsigned char>(c)))
      out.push_back(char(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

}  // namespace

const char* state_name(DtlsState state) {
  switch (state) {
    case DtlsState::kNew:
      return "new";
    case DtlsState::kHandshaking:
      return "handshaking";
    case DtlsState::kConnected:
      return "connected";
    case DtlsState::kFailed:
      return "failed";
    case DtlsState::kClosed:
      return "closed";
  }
  return "unknown";
}

DtlsContext::DtlsContext(const Certificate& cert) {
  ERR_clear_error();
  ctx_.reset(SSL_CTX_new(DTLS_method()));
  SSL_CTX* c = ctx_.get();
  if (!c) fail_ctx("SSL_CTX_new");
  if (SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(c, DTLS1_2_VERSION) != 1)
    fail_ctx("DTLS 1.2 only");
  if (SSL_CTX_use_certificate(c, cert.x509()) != 1) fail_ctx("certificate");
  if (SSL_CTX_use_PrivateKey(c, cert.key()) != 1) fail_ctx("private key");
  if (SSL_CTX_check_private_key(c) != 1) fail_ctx("private key does not match the certificate");
  if (SSL_CTX_set_cipher_list(c, kCiphers) != 1) fail_ctx("cipher list");
  if (SSL_CTX_set1_groups_list(c, kGroups) != 1) fail_ctx("groups");
  // Returns 0 on success, unlike the rest of OpenSSL.
  if (SSL_CTX_set_tlsext_use_srtp(c, kSrtpProfiles) != 0) fail_ctx("use_srtp profiles");
  SSL_CTX_set_verify(c, kVerifyMode, &accept_any);
  // No resumption (every association is a full handshake checked against SDP), no
  // renegotiation (the peer's certificate cannot change), the MTU is ours to set.
  SSL_CTX_set_options(c, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
}

DtlsSession::DtlsSession(const DtlsContext& ctx, DtlsRole role,
                         std::string remote_fingerprint_sha256, Send send, Event on_state)
    : role_(role),
      remote_fp_(normalize_fingerprint(remote_fingerprint_sha256)),
      send_(std::move(send)),
      on_state_(std::move(on_state)),
      alive_(std::make_shared<bool>(true)) {
  // No exception here: sessions are made on the SIP message path. A session that cannot be
  // set up is kFailed from the start and start() does nothing.
  ERR_clear_error();
  ssl_.reset(SSL_new(ctx.get()));
  if (!ssl_) {
    state_ = DtlsState::kFailed;
    error_ = openssl_error("SSL_new failed");
    return;
  }
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  if (!rbio || !wbio) {
    BIO_free(rbio);
    BIO_free(wbio);
    state_ = DtlsState::kFailed;
    error_ = openssl_error("BIO_new failed");
    return;
  }
  // An empty BIO means "wait for more", not end of file.
  BIO_set_mem_eof_return(rbio, -1);
  BIO_set_mem_eof_return(wbio, -1);
  SSL_set_bio(ssl_.get(), rbio, wbio);  // the SSL owns both from here
  rbio_ = rbio;
  wbio_ = wbio;
  // The SSL belongs to this session and calls back only from inside this session's calls.
  SSL_set_app_data(ssl_.get(), this);
  SSL_set_verify(ssl_.get(), kVerifyMode, &DtlsSession::verify_peer);
  SSL_set_options(ssl_.get(), SSL_OP_NO_QUERY_MTU);
  if (DTLS_set_link_mtu(ssl_.get(), long(kDtlsMtu)) != 1) {
    state_ = DtlsState::kFailed;
    error_ = openssl_error("cannot set the DTLS MTU");
    return;
  }
  DTLS_set_timer_cb(ssl_.get(), &DtlsSession::next_timeout);
  if (role_ == DtlsRole::kClient)
    SSL_set_connect_state(ssl_.get());
  else
    SSL_set_accept_state(ssl_.get());
}

DtlsSession::~DtlsSession() {
  timer_.cancel();
  if (state_ == DtlsState::kConnected && ssl_) {
    ERR_clear_error();
    SSL_shutdown(ssl_.get());  // close_notify
    flush();
  }
  ERR_clear_error();
}

int DtlsSession::verify_peer(int, X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* self = ssl ? static_cast<DtlsSession*>(SSL_get_app_data(ssl)) : nullptr;
  if (self == nullptr) return 0;
  // The certificate the peer presented (the end of any chain): only its fingerprint counts.
  if (fingerprint_sha256(X509_STORE_CTX_get0_cert(store)) == self->remote_fp_) return 1;
  self->fingerprint_mismatch_ = true;
  X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
  return 0;  // the handshake ends with a bad_certificate alert to the peer
}

unsigned int DtlsSession::next_timeout(SSL*, unsigned int timer_us) {
  return timer_us == 0 ? kInitialTimeoutUs : std::min(timer_us * 2, kMaxTimeoutUs);
}

void DtlsSession::start() {
  if (started_ || busy_ || state_ != DtlsState::kNew) return;
  started_ = true;
  set_state(DtlsState::kHandshaking);
  if (role_ == DtlsRole::kClient) {
    busy_ = true;
    handshake();  // writes the ClientHello
    flush();
    arm_timer();
    busy_ = false;
  }
  // A server sends nothing until the ClientHello arrives.
  emit();
}

bool DtlsSession::receive(const uint8_t* data, size_t len) {
  if (busy_ || data == nullptr || !whole_records(data, len)) return false;
  if (state_ == DtlsState::kNew) {
    // A server is ready for a ClientHello even if start() was not called yet; a client that
    // did not send its ClientHello expects nothing.
    if (role_ == DtlsRole::kClient) return false;
    started_ = true;
    set_state(DtlsState::kHandshaking);
  }
  if (state_ != DtlsState::kHandshaking && state_ != DtlsState::kConnected) return false;
  if (role_ == DtlsRole::kServer && !hello_seen_) {
    if (!starts_with_client_hello(data, len)) return false;
    hello_seen_ = true;
  }
  busy_ = true;
  ERR_clear_error();
  bool taken = BIO_write(rbio_, data, int(len)) == int(len);
  if (taken) {
    if (state_ == DtlsState::kHandshaking) handshake();
    // Records after the handshake, or that came with its last flight: alerts, close_notify,
    // retransmissions of the peer's last flight (answered by OpenSSL).
    if (state_ == DtlsState::kConnected) read_records(taken);
  } else {
    ERR_clear_error();
  }
  flush();
  arm_timer();
  busy_ = false;
  emit();
  return taken;
}

void DtlsSession::close() {
  if (busy_ || state_ == DtlsState::kFailed || state_ == DtlsState::kClosed) return;
  timer_.cancel();
  if (state_ == DtlsState::kConnected) {
    ERR_clear_error();
    SSL_shutdown(ssl_.get());  // close_notify
    ERR_clear_error();
    flush();
  }
  set_state(DtlsState::kClosed);
  emit();
}

void DtlsSession::handshake() {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_.get());
  if (r == 1) {
    if (handshake_done()) set_state(DtlsState::kConnected);
    return;
  }
  int e = SSL_get_error(ssl_.get(), r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    ERR_clear_error();
    return;
  }
  // The alert OpenSSL wrote for the peer goes out with the next flush().
  std::string why = openssl_error("handshake failed");
  fail(fingerprint_mismatch_ ? "fingerprint mismatch" : why);
}

bool DtlsSession::handshake_done() {
  SSL* ssl = ssl_.get();
  // verify_peer() has already compared the fingerprint; a second look costs nothing.
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer == nullptr || fingerprint_sha256(peer) != remote_fp_) {
    SSL_shutdown(ssl);
    ERR_clear_error();
    fail("fingerprint mismatch");
    return false;
  }
  const SRTP_PROTECTION_PROFILE* p = SSL_get_selected_srtp_profile(ssl);
  SrtpProfile profile;
  switch (p ? p->id : 0) {
    case SRTP_AES128_CM_SHA1_80:
      profile = SrtpProfile::kAes128CmSha1_80;
      break;
    case SRTP_AEAD_AES_128_GCM:
      profile = SrtpProfile::kAeadAes128Gcm;
      break;
    case SRTP_AEAD_AES_256_GCM:
      profile = SrtpProfile::kAeadAes256Gcm;
      break;
    default:
      SSL_shutdown(ssl);
      ERR_clear_error();
      fail("no SRTP profile negotiated");
      return false;
  }
  // RFC 5764 section 4.2: client key | server key | client salt | server salt.
  const size_t k = master_key_len(profile), s = master_salt_len(profile);
  uint8_t material[2 * (32 + 14)];
  if (SSL_export_keying_material(ssl, material, 2 * (k + s), kExporterLabel,
                                 sizeof kExporterLabel - 1, nullptr, 0, 0) != 1) {
    std::string why = openssl_error("cannot export the SRTP keys");
    SSL_shutdown(ssl);
    ERR_clear_error();
    fail(why);
    return false;
  }
  const uint8_t* client_key = material;
  const uint8_t* server_key = material + k;
  const uint8_t* client_salt = material + 2 * k;
  const uint8_t* server_salt = material + 2 * k + s;
  auto join = [&](const uint8_t* key, const uint8_t* salt) {
    std::vector<uint8_t> v(key, key + k);
    v.insert(v.end(), salt, salt + s);
    return v;
  };
  const bool client = role_ == DtlsRole::kClient;
  keys_.profile = profile;
  keys_.local = client ? join(client_key, client_salt) : join(server_key, server_salt);
  keys_.remote = client ? join(server_key, server_salt) : join(client_key, client_salt);
  OPENSSL_cleanse(material, sizeof material);
  return true;
}

void DtlsSession::read_records(bool& taken) {
  SSL* ssl = ssl_.get();
  uint8_t scratch[2048];
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(ssl, scratch, int(sizeof scratch));
    if (n > 0) continue;  // application data: rtcgw has no data channel, dropped
    int e = SSL_get_error(ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      SSL_shutdown(ssl);  // our close_notify in reply
      ERR_clear_error();
      timer_.cancel();
      set_state(DtlsState::kClosed);
      break;
    }
    if (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) {
      fail(openssl_error("fatal alert"));  // a fatal alert from the peer
      break;
    }
    // Records OpenSSL refused: the SRTP keys are out already, so the session stays connected.
    ERR_clear_error();
    taken = false;
    break;
  }
}

void DtlsSession::on_timeout() {
  if (busy_ || (state_ != DtlsState::kHandshaking && state_ != DtlsState::kConnected)) return;
  busy_ = true;
  ERR_clear_error();
  if (DTLSv1_handle_timeout(ssl_.get()) < 0) {
    ERR_clear_error();
    if (state_ == DtlsState::kHandshaking) fail("handshake timeout");
  } else {
    ERR_clear_error();
  }
  flush();
  arm_timer();
  busy_ = false;
  emit();
}

void DtlsSession::flush() {
  if (!wbio_) return;
  char* p = nullptr;
  long n = BIO_get_mem_data(wbio_, &p);
  if (n <= 0 || p == nullptr) return;
  out_.assign(p, p + n);
  (void)BIO_reset(wbio_);
  // OpenSSL writes one record per BIO_write, each within the MTU: pack whole records into
  // datagrams of at most kDtlsMtu bytes.
  size_t off = 0;
  while (off < out_.size()) {
    size_t start = off, end = off;
    while (end < out_.size()) {
      size_t rec = record_len(out_, end);
      if (end > start && end + rec - start > kDtlsMtu) break;
      end += rec;
    }
    if (send_) send_(out_.data() + start, end - start);
    off = end;
  }
  out_.clear();
}

void DtlsSession::arm_timer() {
  if (state_ != DtlsState::kHandshaking && state_ != DtlsState::kConnected) {
    timer_.cancel();
    return;
  }
  timeval tv{};
  if (DTLSv1_get_timeout(ssl_.get(), &tv) != 1) {
    timer_.cancel();
    return;
  }
  auto ms = unsigned(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
  timer_.once(ms, [this] { on_timeout(); });
}

void DtlsSession::set_state(DtlsState s) {
  if (s == state_) return;
  state_ = s;
  pending_events_.push_back(s);
}

void DtlsSession::fail(std::string why) {
  if (state_ == DtlsState::kFailed || state_ == DtlsState::kClosed) return;
  error_ = std::move(why);
  timer_.cancel();
  set_state(DtlsState::kFailed);
}

void DtlsSession::emit() {
  if (pending_events_.empty()) return;
  std::vector<DtlsState> events;
  events.swap(pending_events_);
  std::weak_ptr<bool> alive = alive_;
  for (DtlsState s : events) {
    if (alive.expired()) return;
    Event cb = on_state_;  // a copy: the callback may destroy this session
    if (cb) cb(s);
  }
}

}  // namespace rtcgw::media
