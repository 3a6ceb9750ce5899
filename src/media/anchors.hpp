// Every media anchor of the process, by Call-ID, with what they share: the poller, the port
// pool, the DTLS certificate and context. The SIP proxy calls into it for each SDP body it
// relays and when dialogs end; it calls back when an anchor has had no media for
// media.inactivity_timeout seconds so that the proxy can end the dialog on both sides.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "loop/timer.hpp"
#include "media/anchor.hpp"
#include "media/certificate.hpp"
#include "rtcgw/config.hpp"

namespace rtcgw::media {

class Anchors {
 public:
  using Inactive = std::function<void(const std::string& call_id)>;

  Anchors(const config::Config& cfg, Metrics& metrics);  // throws at start-up
  ~Anchors();
  Anchors(const Anchors&) = delete;
  Anchors& operator=(const Anchors&) = delete;

  Anchor* find(const std::string& call_id);
  // A new anchor for the dialog, owned by connection `conn` (its browser's WebSocket);
  // nullptr and the reason when no ports are free.
  Anchor* create(const std::string& call_id, uint64_t conn, std::string& error);
  void release(const std::string& call_id, std::string_view why);
  // The browser's WebSocket closed: every anchor of its dialogs goes.
  void release_connection(uint64_t conn);
  void on_inactive(Inactive cb) { inactive_ = std::move(cb); }

  size_t size() const { return anchors_.size(); }
  // RFC 7675's 30 s, for every anchor; tests shorten it.
  void set_consent_expiry_ms(int64_t ms) { shared_->consent_expiry_ms = ms; }
  const std::string& fingerprint() const { return cert_->fingerprint_sha256(); }

 private:
  void update_gauges();
  void sweep();

  struct Entry {
    std::unique_ptr<Anchor> anchor;
    uint64_t conn;
  };
  Metrics& metrics_;
  Poller poller_;
  PortPool ports_;
  std::unique_ptr<Certificate> cert_;
  std::unique_ptr<DtlsContext> dtls_;
  std::unique_ptr<Shared> shared_;
  uint32_t inactivity_ms_;
  std::unordered_map<std::string, Entry> anchors_;
  loop::Timer sweep_timer_;
  Inactive inactive_;
};

}  // namespace rtcgw::media
