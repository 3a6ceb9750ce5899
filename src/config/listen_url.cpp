// ListenUrl: "scheme://address:port" where address is an IPv4 literal or a bracketed IPv6 one.
#include "config/validate.hpp"
#include "rtcgw/config.hpp"

namespace rtcgw::config {

std::string ListenUrl::hostport() const {
  std::string out = ipv6() ? "[" + host + "]" : host;
  return out + ":" + std::to_string(port);
}

bool parse_listen_url(std::string_view text, ListenUrl& out, std::string& why) {
  const std::string want = "expected scheme://address:port, got " + quote(text);
  size_t sep = text.find("://");
  if (sep == std::string_view::npos) {
    why = want;
    return false;
  }
  std::string_view scheme = text.substr(0, sep);
  if (scheme != "ws" && scheme != "wss" && scheme != "udp" && scheme != "tcp" && scheme != "http") {
    why = "unknown scheme " + quote(scheme) + " in " + quote(text) + " (ws, wss, udp, tcp or http)";
    return false;
  }
  std::string_view rest = text.substr(sep + 3);
  std::string_view host, port;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      why = want;
      return false;
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
    if (!is_ipv6(host)) {
      why = "not an IPv6 address: " + quote(host) + " in " + quote(text);
      return false;
    }
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      why = "port missing: " + want;
      return false;
    }
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (is_ipv6(host)) {
      why = "an IPv6 address goes in brackets, e.g. \"" + std::string(scheme) + "://[" +
            std::string(host) + "]:" + std::string(port) + "\"";
      return false;
    }
    if (!is_ipv4(host)) {
      why = "a listener needs an IP address, not " + quote(host) + ", in " + quote(text);
      return false;
    }
  }
  if (port.find('/') != std::string_view::npos) {
    why = "no path allowed: " + want;
    return false;
  }
  uint16_t p = 0;
  if (!parse_port(port, p)) {
    why = "port must be 1..65535, got " + quote(port) + " in " + quote(text);
    return false;
  }
  out.scheme = std::string(scheme);
  out.host = std::string(host);
  out.port = p;
  out.text = std::string(text);
  return true;
}

}  // namespace rtcgw::config
