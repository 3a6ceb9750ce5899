// DTLS-SRTP (RFC 5763, RFC 5764) on the browser leg: DTLS 1.2 over OpenSSL memory BIOs, so no
// socket here. The anchor hands in the datagrams it demuxed as DTLS (first byte 20..63) and sends
// what the session gives back; the handshake retransmits on a loop::Timer. The peer is
// authenticated by the fingerprint of its certificate from SDP only (RFC 8122 section 5).
//
// Roles (RFC 5763 section 5): the side that answered a=setup:passive is the server and only
// waits for the ClientHello; it never sends first, or both ends deadlock when the answer is late.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "loop/timer.hpp"
#include "media/certificate.hpp"
#include "media/srtp.hpp"

namespace rtcgw::media {

// The largest datagram the session sends (DTLS_set_link_mtu): fits any path with room for
// TURN and IPv6 headers.
constexpr size_t kDtlsMtu = 1200;

// One SSL_CTX for the process, shared by every session: the certificate, DTLS 1.2 only,
// ECDHE ciphers, the SRTP profiles rtcgw supports (AEAD_AES_128_GCM, AEAD_AES_256_GCM,
// AES128_CM_SHA1_80, in that order of preference), a client certificate required.
class DtlsContext {
 public:
  explicit DtlsContext(const Certificate& cert);  // throws std::runtime_error (start-up only)
  DtlsContext(const DtlsContext&) = delete;
  DtlsContext& operator=(const DtlsContext&) = delete;

  SSL_CTX* get() const { return ctx_.get(); }

 private:
  struct Free {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
  };
  std::unique_ptr<SSL_CTX, Free> ctx_;
};

enum class DtlsRole {
  kServer,  // we answered a=setup:passive (or the peer answered active): wait for ClientHello
  kClient,  // we answered a=setup:active (or the peer answered passive): send ClientHello
};
enum class DtlsState { kNew, kHandshaking, kConnected, kFailed, kClosed };
const char* state_name(DtlsState state);

// One DTLS association with one peer. Single-threaded: every call, and every callback, on the
// loop's thread. The callbacks must not call receive() / start() / close() synchronously (queue
// the datagram instead); on_state may destroy the session.
class DtlsSession {
 public:
  using Send = std::function<void(const uint8_t* data, size_t len)>;  // one datagram to the peer
  using Event = std::function<void(DtlsState)>;  // kHandshaking, kConnected, kFailed, kClosed

  // `remote_fingerprint_sha256`: the peer's a=fingerprint:sha-256 value, "AB:CD:..." in either
  // case.
  DtlsSession(const DtlsContext& ctx, DtlsRole role, std::string remote_fingerprint_sha256,
              Send send, Event on_state);
  // Sends close_notify when connected; calls no callback but `send`.
  ~DtlsSession();
  DtlsSession(const DtlsSession&) = delete;
  DtlsSession& operator=(const DtlsSession&) = delete;

  // Client: sends the ClientHello and arms the retransmission timer. Server: only arms itself
  // for the ClientHello. Once; later calls do nothing.
  void start();

  // One datagram from the peer, already demuxed as DTLS. Never throws. False when it was not
  // taken: not a sequence of DTLS records, nothing to do in this state (a client not started,
  // failed, closed; a server before the ClientHello takes nothing else, so that strays such as
  // the last records of a previous association cannot fail it), or records that OpenSSL
  // refused after the handshake (ignored: a connected session stays connected). State kFailed only
  // on a fatal alert, a failed handshake or a fingerprint mismatch; kClosed on close_notify.
  bool receive(const uint8_t* data, size_t len);

  // close_notify (when connected), then kClosed; the retransmission timer stops.
  void close();

  DtlsRole role() const { return role_; }
  DtlsState state() const { return state_; }
  // Why the session failed: "fingerprint mismatch", "handshake timeout", "no SRTP profile
  // negotiated", or OpenSSL's error string.
  const std::string& error() const { return error_; }
  // Valid once kConnected: the SRTP profile the handshake selected and the keys exported from
  // it (RFC 5764 section 4.2), local = ours to protect with, remote = the peer's.
  const SrtpKeys& keys() const { return keys_; }

 private:
  struct SslFree {
    void operator()(SSL* s) const { SSL_free(s); }
  };

  static int verify_peer(int preverify_ok, X509_STORE_CTX* store);
  static unsigned int next_timeout(SSL* ssl, unsigned int timer_us);

  void handshake();
  void read_records(bool& taken);
  bool handshake_done();
  void on_timeout();
  void flush();
  void arm_timer();
  void set_state(DtlsState s);
  void fail(std::string why);
  void emit();

  DtlsRole role_;
  std::string remote_fp_;  // upper case
  Send send_;
  Event on_state_;
  std::unique_ptr<SSL, SslFree> ssl_;  // owns both BIOs
  BIO* rbio_ = nullptr;                // datagrams from the peer
  BIO* wbio_ = nullptr;                // records to the peer
  DtlsState state_ = DtlsState::kNew;
  std::string error_;
  SrtpKeys keys_;
  bool started_ = false;
  bool hello_seen_ = false;  // server: a ClientHello came; nothing else is taken before it
  bool fingerprint_mismatch_ = false;
  bool busy_ = false;  // inside receive()/start()/the timer: refuse reentrant calls
  std::vector<DtlsState> pending_events_;
  std::vector<uint8_t> out_;     // records drained from wbio_, sent as datagrams
  std::shared_ptr<bool> alive_;  // false once destroyed, for callbacks that destroy us
  loop::Timer timer_;            // handshake retransmission (DTLSv1_handle_timeout)
};

}  // namespace rtcgw::media
