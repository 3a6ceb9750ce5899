#include "config/validate.hpp"

#include <arpa/inet.h>
#include <sofia-sip/url.h>
#include <strings.h>

#include <algorithm>
#include <charconv>

namespace rtcgw::config {

namespace {

std::string_view kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "a scalar";
  }
}

// Quoted scalars ("123") have the tag "!", plain ones (123) "?".
bool plain(const YAML::Node& node) { return node.IsScalar() && node.Tag() != "!"; }

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

Checker::Checker(std::string file, std::filesystem::path base_dir)
    : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

void Checker::error(int line, std::string_view key, std::string_view message) {
  std::string e = file_ + ":" + std::to_string(line) + ": ";
  if (!key.empty()) e.append(key).append(": ");
  e.append(message);
  errors_.emplace_back(line, std::move(e));
  failed_keys_.emplace_back(key);
}

bool Checker::failed(std::string_view key) const {
  return std::any_of(failed_keys_.begin(), failed_keys_.end(), [&](const std::string& k) {
    return k.starts_with(key) &&
           (k.size() == key.size() || k[key.size()] == '.' || k[key.size()] == '[');
  });
}

void Checker::file_error(std::string_view message) {
  errors_.emplace_back(0, file_ + ": " + std::string(message));
}

std::vector<std::string> Checker::errors() const {
  auto sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& e : sorted) out.push_back(std::move(e.second));
  return out;
}

int Checker::line_of(std::string_view key) const {
  for (;;) {
    if (auto it = lines_.find(key); it != lines_.end()) return it->second;
    size_t cut = key.find_last_of(".[");
    if (cut == std::string_view::npos) return 1;
    key = key.substr(0, cut);
  }
}

bool Checker::read_uint(const Field& f, uint64_t min, uint64_t max, uint64_t& out) {
  const std::string& s = f.node.IsScalar() ? f.node.Scalar() : std::string();
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  bool digits =
      !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  bool negative = s.size() > 1 && s[0] == '-' &&
                  std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (plain(f.node) && (negative || (digits && ec == std::errc::result_out_of_range))) {
    error(f, "must be " + std::to_string(min) + ".." + std::to_string(max) + ", got " + s);
    return false;
  }
  if (!plain(f.node) || !digits || ec != std::errc() || end != s.data() + s.size()) {
    error(f, "expected a whole number, got " + describe(f.node));
    return false;
  }
  if (v < min || v > max) {
    error(f, "must be " + std::to_string(min) + ".." + std::to_string(max) + ", got " + s);
    return false;
  }
  out = v;
  return true;
}

bool Checker::read_bool(const Field& f, bool& out) {
  if (plain(f.node)) {
    const std::string& s = f.node.Scalar();
    if (s == "true" || s == "True" || s == "TRUE" || s == "yes" || s == "on") {
      out = true;
      return true;
    }
    if (s == "false" || s == "False" || s == "FALSE" || s == "no" || s == "off") {
      out = false;
      return true;
    }
  }
  error(f, "expected true or false, got " + describe(f.node));
  return false;
}

bool Checker::read_string(const Field& f, std::string& out) {
  if (f.node.IsNull() && f.node.Tag() != "!") {
    out.clear();
    return true;
  }
  if (!f.node.IsScalar()) {
    error(f, "expected a string, got " + describe(f.node));
    return false;
  }
  out = f.node.Scalar();
  return true;
}

bool Checker::read_list(const Field& f, std::vector<Field>& items) {
  items.clear();
  if (!f.node.IsSequence()) {
    error(f, "expected a list, got " + describe(f.node));
    return false;
  }
  for (size_t i = 0; i < f.node.size(); ++i) {
    YAML::Node item = f.node[i];
    items.push_back({item, f.key + "[" + std::to_string(i) + "]", node_line(item, f.line)});
  }
  return true;
}

std::string describe(const YAML::Node& node) {
  if (node.IsScalar()) return quote(node.Scalar());
  return std::string(kind_of(node));
}

int node_line(const YAML::Node& node, int fallback) {
  if (!node.IsDefined()) return fallback;
  YAML::Mark m = node.Mark();
  return m.is_null() ? fallback : m.line + 1;
}

std::string quote(std::string_view text) {
  static const char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

bool is_ipv4(std::string_view text) {
  in_addr a;
  return text.size() < INET_ADDRSTRLEN && inet_pton(AF_INET, std::string(text).c_str(), &a) == 1;
}

bool is_ipv6(std::string_view text) {
  in6_addr a;
  return text.size() < INET6_ADDRSTRLEN && inet_pton(AF_INET6, std::string(text).c_str(), &a) == 1;
}

bool is_unspecified_ip(std::string_view text) {
  std::string s(text);
  in_addr a4;
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) return a4.s_addr == 0;
  in6_addr a6;
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    return std::all_of(a6.s6_addr, a6.s6_addr + 16, [](uint8_t b) { return b == 0; });
  }
  return false;
}

bool is_hostname(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  if (text.back() == '.') text.remove_suffix(1);  // fully qualified
  size_t start = 0;
  while (start <= text.size()) {
    size_t dot = text.find('.', start);
    if (dot == std::string_view::npos) dot = text.size();
    std::string_view label = text.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
    start = dot + 1;
  }
  return true;
}

bool parse_port(std::string_view text, uint16_t& out) {
  if (text.empty() || text.size() > 5) return false;
  unsigned v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + unsigned(c - '0');
  }
  if (v < 1 || v > 65535) return false;
  out = uint16_t(v);
  return true;
}

std::string check_origin(std::string_view text) {
  static const std::string kWant =
      "expected \"*\" or an origin like \"https://example.com[:port]\" (lower case, no path)";
  if (text == "*") return "";
  size_t sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) return kWant + ", got " + quote(text);
  std::string_view scheme = text.substr(0, sep);
  std::string_view rest = text.substr(sep + 3);
  bool scheme_ok =
      scheme[0] >= 'a' && scheme[0] <= 'z' && std::all_of(scheme.begin(), scheme.end(), [](char c) {
        return lower_alnum(c) || c == '+' || c == '-' || c == '.';
      });
  if (!scheme_ok) return kWant + ", got " + quote(text);
  if (rest.find_first_of("/?#") != std::string_view::npos) {
    return "an origin has no path, query or fragment: " + quote(text);
  }
  std::string_view host = rest;
  std::string_view port;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return kWant + ", got " + quote(text);
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return kWant + ", got " + quote(text);
      port = after.substr(1);
      if (port.empty()) return "port missing after ':' in " + quote(text);
    }
    if (!is_ipv6(host)) return "not an IPv6 address in " + quote(text);
  } else {
    size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (port.empty()) return "port missing after ':' in " + quote(text);
    }
    if (!is_ipv4(host) && !is_hostname(host)) return kWant + ", got " + quote(text);
    if (std::any_of(host.begin(), host.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
      return "browsers send origins in lower case, got " + quote(text);
    }
  }
  uint16_t p;
  if (!port.empty() && !parse_port(port, p)) return "bad port in " + quote(text);
  return "";
}

std::string check_sip_uri(std::string_view text) {
  const std::string want =
      "expected a SIP URI like \"sip:192.0.2.1:5060;transport=udp\", got " + quote(text);
  if (text.empty() || text.find_first_of(" \t\r\n<>\"") != std::string_view::npos) return want;
  std::string buf(text);
  url_t url;
  url_init(&url, url_sip);
  if (url_d(&url, buf.data()) < 0) return want;
  if (url.url_type != url_sip && url.url_type != url_sips) return want;
  if (!url.url_host || !*url.url_host) return want;
  std::string_view host = url.url_host;
  bool host_ok = (host.front() == '[' && host.back() == ']' && host.size() > 2 &&
                  is_ipv6(host.substr(1, host.size() - 2))) ||
                 is_ipv4(host) || is_hostname(host);
  if (!host_ok) return want;
  uint16_t port;
  if (url.url_port && !parse_port(url.url_port, port)) return want;
  // A host like "1.2.3.4:" leaves an empty port behind; so does "host:" in the params.
  std::string_view before_params = text.substr(0, text.find_first_of(";?"));
  if (before_params.back() == ':') return want;
  if (url.url_params) {
    // Split the parameters here: sofia's url_param() reads past the end of some inputs
    // (found by fuzz_config).
    std::string_view params = url.url_params;
    while (!params.empty()) {
      std::string_view p = params.substr(0, params.find(';'));
      params.remove_prefix(std::min(params.size(), p.size() + 1));
      size_t eq = p.find('=');
      std::string_view name = p.substr(0, eq);
      if (name.size() != 9 || strncasecmp(name.data(), "transport", 9) != 0) continue;
      std::string value(eq == std::string_view::npos ? std::string_view() : p.substr(eq + 1));
      if (strcasecmp(value.c_str(), "udp") != 0 && strcasecmp(value.c_str(), "tcp") != 0)
        return "transport must be udp or tcp (sip.listen has only those), got " + quote(text);
    }
  }
  return "";
}

std::string_view suggest(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_d = 3;  // suggest only when at most two edits away
  for (std::string_view c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) {
      best = c;
      best_d = d;
    }
  }
  return best;
}

}  // namespace rtcgw::config
