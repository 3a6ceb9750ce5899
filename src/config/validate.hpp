// Helpers for loading the configuration: an error collector that knows the file name and turns
// YAML nodes into typed values, and the value checks (IP literals, origins, SIP URIs).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace rtcgw::config {

// One value in the file: the node, its dotted key ("websocket.listen[1]") and its 1-based line.
struct Field {
  YAML::Node node;
  std::string key;
  int line = 1;
};

// Collects "file:line: key: message" errors and reads typed values. A read that fails records an
// error and returns false; it never throws.
class Checker {
 public:
  Checker(std::string file, std::filesystem::path base_dir);

  void error(int line, std::string_view key, std::string_view message);
  void error(const Field& f, std::string_view message) { error(f.line, f.key, message); }
  // An error about the whole file, without a line (it cannot be read, ...).
  void file_error(std::string_view message);

  // Every error so far, in the order of their lines (file errors first).
  std::vector<std::string> errors() const;
  const std::filesystem::path& base_dir() const { return base_dir_; }

  // Remembers where a key was seen, for checks that involve several keys.
  void seen(const std::string& key, int line) { lines_.emplace(key, line); }
  // Whether an error was reported for `key` or for something inside it (key.x, key[i]).
  bool failed(std::string_view key) const;
  // The line of `key`, else of its closest parent that was seen, else 1.
  int line_of(std::string_view key) const;

  bool read_uint(const Field& f, uint64_t min, uint64_t max, uint64_t& out);
  bool read_bool(const Field& f, bool& out);
  // A scalar; a null value ("key:" with nothing after it) reads as "".
  bool read_string(const Field& f, std::string& out);
  // A sequence; `items` gets one Field per element, keyed "key[i]" with the element's line.
  bool read_list(const Field& f, std::vector<Field>& items);

 private:
  std::string file_;
  std::filesystem::path base_dir_;
  std::vector<std::pair<int, std::string>> errors_;  // line, text
  std::vector<std::string> failed_keys_;
  std::map<std::string, int, std::less<>> lines_;
};

// The 1-based line of a node, or `fallback` when the node has no position.
int node_line(const YAML::Node& node, int fallback);
// What a node holds, for "expected X, got Y": the quoted scalar, "a list", "a mapping", "nothing".
std::string describe(const YAML::Node& node);
// "text" in double quotes, with quotes, backslashes and control characters escaped.
std::string quote(std::string_view text);

bool is_ipv4(std::string_view text);
bool is_ipv6(std::string_view text);  // without brackets
inline bool is_ip(std::string_view text) { return is_ipv4(text) || is_ipv6(text); }
// 0.0.0.0 or :: (and the other spellings of them).
bool is_unspecified_ip(std::string_view text);
// A DNS name: labels of letters, digits and '-', separated by dots.
bool is_hostname(std::string_view text);
// A decimal port number 1..65535 with nothing else around it.
bool parse_port(std::string_view text, uint16_t& out);

// These return "" when `text` is fine, else what is wrong with it (for the error message).
std::string check_origin(std::string_view text);   // "*" or scheme://host[:port]
std::string check_sip_uri(std::string_view text);  // sip: or sips: URI with a host

// The nearest of `candidates` to a mistyped `word`, or "" when none is close.
std::string_view suggest(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace rtcgw::config
