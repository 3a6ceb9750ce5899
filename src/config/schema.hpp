// The table of keys the configuration file may hold. Each section is a Table<S> of Rules that read
// one key into the struct S; adding a key is one line in schema.cpp. Unknown keys are errors.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/validate.hpp"
#include "rtcgw/config.hpp"

namespace rtcgw::config {

template <class S>
struct Rule {
  std::string_view name;
  std::function<void(Checker&, const Field&, S&)> apply;
};

template <class S>
using Table = std::vector<Rule<S>>;

// The rules for the top level of the file.
const Table<Config>& root_table();

// Reads the mapping `map` with `table` into `out`: every key must be in the table, once.
// A null section ("websocket:" with nothing after it) keeps the defaults.
template <class S>
void apply_map(Checker& ck, const Field& map, const Table<S>& table, S& out) {
  if (map.node.IsNull()) return;
  if (!map.node.IsMap()) {
    ck.error(map, "expected a mapping, got " + describe(map.node));
    return;
  }
  std::map<std::string, int> first_line;
  for (const auto& kv : map.node) {
    int line = node_line(kv.first, map.line);
    if (!kv.first.IsScalar()) {
      ck.error(line, map.key, "keys must be plain names, got " + describe(kv.first));
      continue;
    }
    const std::string& name = kv.first.Scalar();
    std::string key = map.key.empty() ? name : map.key + "." + name;
    auto rule =
        std::find_if(table.begin(), table.end(), [&](const Rule<S>& r) { return r.name == name; });
    if (rule == table.end()) {
      std::vector<std::string_view> names;
      for (const Rule<S>& r : table) names.push_back(r.name);
      std::string_view near = suggest(name, names);
      std::string msg = "unknown key";
      if (!near.empty()) {
        msg += " (did you mean \"" + std::string(near) + "\"?)";
      } else {
        msg += " (known here:";
        for (std::string_view n : names) msg.append(" ").append(n);
        msg += ")";
      }
      ck.error(line, key, msg);
      continue;
    }
    if (auto [it, fresh] = first_line.emplace(name, line); !fresh) {
      ck.error(line, key, "duplicate key (first on line " + std::to_string(it->second) + ")");
      continue;
    }
    ck.seen(key, line);
    rule->apply(ck, Field{kv.second, key, line}, out);
  }
}

// Rule makers for the common kinds of value.

template <class S>
Rule<S> u32(std::string_view name, uint32_t S::*member, uint32_t min,
            uint32_t max = std::numeric_limits<uint32_t>::max()) {
  return {name, [=](Checker& ck, const Field& f, S& s) {
            uint64_t v;
            if (ck.read_uint(f, min, max, v)) s.*member = uint32_t(v);
          }};
}

template <class S>
Rule<S> flag(std::string_view name, bool S::*member) {
  return {name, [=](Checker& ck, const Field& f, S& s) { ck.read_bool(f, s.*member); }};
}

// A string checked by `check`, which returns "" when the value is fine, else the problem.
using TextCheck = std::string (*)(std::string_view);

template <class S>
Rule<S> text(std::string_view name, std::string S::*member, TextCheck check) {
  return {name, [=](Checker& ck, const Field& f, S& s) {
            std::string v;
            if (!ck.read_string(f, v)) return;
            if (std::string why = check ? check(v) : ""; !why.empty()) {
              ck.error(f, why);
              return;
            }
            s.*member = std::move(v);
          }};
}

// A path to a readable file or directory, relative to the config file's directory; "" = none.
enum class PathKind { kFile, kDirectory };
std::string resolve_path(Checker& ck, const Field& f, std::string_view value, PathKind kind);

template <class S>
Rule<S> path(std::string_view name, std::string S::*member, PathKind kind) {
  return {name, [=](Checker& ck, const Field& f, S& s) {
            std::string v;
            if (ck.read_string(f, v)) s.*member = resolve_path(ck, f, v, kind);
          }};
}

// A non-empty list of listen URLs whose scheme is one of `schemes`.
bool read_listen(Checker& ck, const Field& f, const std::vector<std::string>& schemes,
                 ListenUrl& out);

template <class S>
Rule<S> listen_list(std::string_view name, std::vector<ListenUrl> S::*member,
                    std::vector<std::string> schemes) {
  return {name, [=](Checker& ck, const Field& f, S& s) {
            std::vector<Field> items;
            if (!ck.read_list(f, items)) return;
            if (items.empty()) ck.error(f, "needs at least one listen URL");
            (s.*member).clear();
            for (const Field& item : items) {
              ListenUrl url;
              if (read_listen(ck, item, schemes, url)) (s.*member).push_back(std::move(url));
            }
          }};
}

// A nested mapping read with its own table.
template <class S, class T>
Rule<S> section(std::string_view name, T S::*member, const Table<T>& (*table)()) {
  return {name, [=](Checker& ck, const Field& f, S& s) { apply_map(ck, f, table(), s.*member); }};
}

}  // namespace rtcgw::config
