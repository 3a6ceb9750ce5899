// Process-wide counters and gauges on a prometheus-cpp registry.
#include "rtcgw/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <cmath>
#include <limits>
#include <map>

namespace rtcgw {

namespace {

// Methods come off the wire: anything unknown is counted as "other", so that a peer cannot make
// the number of time series grow without bound.
std::string method_label(std::string_view method) {
  static constexpr std::array<std::string_view, 14> kKnown = {
      "REGISTER", "INVITE", "ACK",   "BYE",       "CANCEL", "OPTIONS", "MESSAGE",
      "INFO",     "UPDATE", "PRACK", "SUBSCRIBE", "NOTIFY", "REFER",   "PUBLISH"};
  for (std::string_view m : kKnown) {
    if (m == method) return std::string(m);
  }
  return "other";
}

std::string status_label(int status) {
  return status >= 100 && status <= 699 ? std::to_string(status) : "other";
}

// Parses `a="x",b="y"` (the exposition's label syntax, with \" \\ \n escapes). False if malformed.
bool parse_labels(std::string_view text, std::map<std::string, std::string>& out) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == ',')) ++i;
  };
  skip_space();
  while (i < text.size()) {
    size_t eq = text.find('=', i);
    if (eq == std::string_view::npos || eq + 1 >= text.size() || text[eq + 1] != '"') return false;
    std::string name(text.substr(i, eq - i));
    while (!name.empty() && name.back() == ' ') name.pop_back();
    std::string value;
    for (i = eq + 2;; ++i) {
      if (i >= text.size()) return false;
      if (text[i] == '"') break;
      if (text[i] == '\\' && i + 1 < text.size()) {
        ++i;
        value += text[i] == 'n' ? '\n' : text[i];
      } else {
        value += text[i];
      }
    }
    ++i;
    out[name] = value;
    skip_space();
  }
  return true;
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  auto& r = *registry_;
  ws_connections_ = &BuildGauge()
                         .Name("rtcgw_ws_connections")
                         .Help("Open WebSocket connections")
                         .Register(r)
                         .Add({});
  ws_connections_total_ = &BuildCounter()
                               .Name("rtcgw_ws_connections_total")
                               .Help("WebSocket connections accepted")
                               .Register(r)
                               .Add({});
  ws_rejected_ = &BuildCounter()
                      .Name("rtcgw_ws_rejected_total")
                      .Help("WebSocket connections refused, by reason")
                      .Register(r);
  registrations_ = &BuildGauge()
                        .Name("rtcgw_registrations")
                        .Help("Registrations currently known from 2xx responses to REGISTER")
                        .Register(r)
                        .Add({});
  sip_requests_ = &BuildCounter()
                       .Name("rtcgw_sip_requests_total")
                       .Help("SIP requests relayed, by direction and method")
                       .Register(r);
  sip_responses_ = &BuildCounter()
                        .Name("rtcgw_sip_responses_total")
                        .Help("SIP responses relayed, by direction, method and status")
                        .Register(r);
  bad_messages_ = &BuildCounter()
                       .Name("rtcgw_bad_messages_total")
                       .Help("Bad input answered with an error or dropped, by source and reason")
                       .Register(r);
  media_sessions_ = &BuildGauge()
                         .Name("rtcgw_media_sessions")
                         .Help("Media anchors alive (one per dialog with SDP)")
                         .Register(r)
                         .Add({});
  media_ports_ = &BuildGauge()
                      .Name("rtcgw_media_ports_in_use")
                      .Help("UDP ports held by media anchors")
                      .Register(r)
                      .Add({});
  auto& packets = BuildCounter()
                      .Name("rtcgw_media_packets_total")
                      .Help("Media packets relayed, by the leg they arrived on or left on")
                      .Register(r);
  media_in_browser_ = &packets.Add({{"leg", "browser"}, {"direction", "in"}});
  media_in_network_ = &packets.Add({{"leg", "network"}, {"direction", "in"}});
  media_out_browser_ = &packets.Add({{"leg", "browser"}, {"direction", "out"}});
  media_out_network_ = &packets.Add({{"leg", "network"}, {"direction", "out"}});
  media_dropped_ = &BuildCounter()
                        .Name("rtcgw_media_dropped_total")
                        .Help("Media packets dropped, by reason")
                        .Register(r);
  dtls_handshakes_ = &BuildCounter()
                          .Name("rtcgw_dtls_handshakes_total")
                          .Help("DTLS handshakes finished, by result")
                          .Register(r);
  sdp_rejected_ = &BuildCounter()
                       .Name("rtcgw_sdp_rejected_total")
                       .Help("SDP bodies rtcgw could not use (answered 488 or call ended), by side")
                       .Register(r);
  BuildGauge()
      .Name("rtcgw_build_info")
      .Help("Always 1; the version is a label")
      .Register(r)
      .Add({{"version", RTCGW_VERSION}})
      .Set(1);
}

Metrics::~Metrics() = default;

void Metrics::ws_connection_opened() {
  ws_connections_->Increment();
  ws_connections_total_->Increment();
}

void Metrics::ws_connection_closed() { ws_connections_->Decrement(); }

void Metrics::ws_connection_rejected(std::string_view reason) {
  ws_rejected_->Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::set_registrations(double n) { registrations_->Set(n); }

void Metrics::set_media_sessions(double n) { media_sessions_->Set(n); }
void Metrics::set_media_ports(double n) { media_ports_->Set(n); }

void Metrics::media_dropped(std::string_view reason) {
  media_dropped_->Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::dtls_handshake(std::string_view result) {
  dtls_handshakes_->Add({{"result", std::string(result)}}).Increment();
}

void Metrics::sdp_rejected(std::string_view side) {
  sdp_rejected_->Add({{"side", std::string(side)}}).Increment();
}

void(Metrics::sip_request)(std::string_view direction, std::string_view method) {
  sip_requests_->Add({{"direction", std::string(direction)}, {"method", method_label(method)}})
      .Increment();
}

void Metrics::sip_response(std::string_view direction, std::string_view method, int status) {
  sip_responses_
      ->Add({{"direction", std::string(direction)},
             {"method", method_label(method)},
             {"status", status_label(status)}})
      .Increment();
}

void Metrics::bad_message(std::string_view source, std::string_view reason) {
  bad_messages_->Add({{"source", std::string(source)}, {"reason", std::string(reason)}})
      .Increment();
}

double Metrics::counter_value(std::string_view name, std::string_view labels) const {
  std::map<std::string, std::string> want;
  if (!parse_labels(labels, want)) return std::numeric_limits<double>::quiet_NaN();
  for (const prometheus::MetricFamily& family : registry_->Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& m : family.metric) {
      std::map<std::string, std::string> have;
      for (const auto& l : m.label) have[l.name] = l.value;
      if (have != want) continue;
      return family.type == prometheus::MetricType::Gauge ? m.gauge.value : m.counter.value;
    }
    return 0;  // a known family without that label set yet
  }
  return std::numeric_limits<double>::quiet_NaN();
}

std::string Metrics::serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace rtcgw
