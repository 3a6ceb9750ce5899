// Process-wide counters and gauges, exposed in the Prometheus text format on metrics.listen.
// One instance, made by the daemon and passed by reference; everything runs on the loop thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <prometheus/counter.h>

namespace prometheus {
class Registry;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace rtcgw {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // WebSocket connections.
  void ws_connection_opened();
  void ws_connection_closed();
  void ws_connection_rejected(std::string_view reason);  // origin, subprotocol, limit, rate

  // Registrations remembered from 2xx to REGISTER (a gauge).
  void set_registrations(double n);

  // SIP traffic. `direction` is "from_browser" or "from_core" for what arrived, "to_browser" or
  // "to_core" for responses rtcgw formed itself (400, 430, 483, 408, ...).
  // (Parenthesised: sofia-sip defines a sip_request() macro.)
  void(sip_request)(std::string_view direction, std::string_view method);
  void sip_response(std::string_view direction, std::string_view method, int status);

  // Bad input that was answered or dropped. `source` is "ws" or "sip".
  void bad_message(std::string_view source, std::string_view reason);

  // Media anchors (gauges) and the UDP ports they hold.
  void set_media_sessions(double n);
  void set_media_ports(double n);
  // One packet relayed: `browser` is the leg it arrived on (in) or left on (out). Cheap: no
  // label lookup, meant for the packet path.
  void media_packet_in(bool browser) {
    (browser ? media_in_browser_ : media_in_network_)->Increment();
  }
  void media_packet_out(bool browser) {
    (browser ? media_out_browser_ : media_out_network_)->Increment();
  }
  // A media packet dropped (reason: stun_bad_integrity, srtp_auth_fail, unchecked_source, ...).
  void media_dropped(std::string_view reason);
  // A DTLS handshake finished: "ok", "failed", "fingerprint_mismatch".
  void dtls_handshake(std::string_view result);
  // SDP that could not be used, by side ("browser", "network").
  void sdp_rejected(std::string_view side);

  double counter_value(std::string_view name, std::string_view labels) const;  // for tests

  // The whole exposition, text format 0.0.4.
  std::string serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* ws_connections_;
  prometheus::Counter* ws_connections_total_;
  prometheus::Family<prometheus::Counter>* ws_rejected_;
  prometheus::Gauge* registrations_;
  prometheus::Family<prometheus::Counter>* sip_requests_;
  prometheus::Family<prometheus::Counter>* sip_responses_;
  prometheus::Family<prometheus::Counter>* bad_messages_;
  prometheus::Gauge* media_sessions_;
  prometheus::Gauge* media_ports_;
  prometheus::Counter* media_in_browser_;
  prometheus::Counter* media_in_network_;
  prometheus::Counter* media_out_browser_;
  prometheus::Counter* media_out_network_;
  prometheus::Family<prometheus::Counter>* media_dropped_;
  prometheus::Family<prometheus::Counter>* dtls_handshakes_;
  prometheus::Family<prometheus::Counter>* sdp_rejected_;
};

}  // namespace rtcgw
