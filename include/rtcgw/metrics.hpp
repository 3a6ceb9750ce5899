// Process-wide counters and gauges, exposed in the Prometheus text format on metrics.listen.
// One instance, made by the daemon and passed by reference; everything runs on the loop thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace prometheus {
class Registry;
class Counter;
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
  void (sip_request)(std::string_view direction, std::string_view method);
  void sip_response(std::string_view direction, std::string_view method, int status);

  // Bad input that was answered or dropped. `source` is "ws" or "sip".
  void bad_message(std::string_view source, std::string_view reason);

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
};

}  // namespace rtcgw
