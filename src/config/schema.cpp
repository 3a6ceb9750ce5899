// Every key of the configuration file, section by section. To add a key: add the field to the
// struct in include/rtcgw/config.hpp and one rule line to its table here (and document it in
// docs/configuration.md).
#include "config/schema.hpp"

#include <strings.h>
#include <unistd.h>

#include <algorithm>

#include <fstream>

#include "rtcgw/log.hpp"

namespace rtcgw::config {

namespace {

constexpr uint32_t kDay = 86400;
constexpr uint32_t kMaxMessageSize = 1 << 20;

std::string check_ip(std::string_view v) {
  if (is_ip(v)) return "";
  return "expected an IPv4 or IPv6 address, got " + quote(v);
}

std::string check_ip_or_empty(std::string_view v) { return v.empty() ? "" : check_ip(v); }

std::string check_pcscf(std::string_view v) { return check_sip_uri(v); }

// Goes into a SIP header as is: no control characters, quotes or backslashes.
std::string check_header_value(std::string_view v) {
  for (unsigned char c : v) {
    if (c < 0x21 || c == 0x7f || c == '"' || c == '\\') {
      return "expected a token (no spaces, quotes or control characters), got " + quote(v);
    }
  }
  return "";
}

std::string check_level(std::string_view v) {
  if (log::valid_level(v)) return "";
  return "expected one of trace, debug, info, warn, error, critical, off, got " + quote(v);
}

void read_origins(Checker& ck, const Field& f, WebSocket& ws) {
  std::vector<Field> items;
  if (!ck.read_list(f, items)) return;
  ws.allowed_origins.clear();
  for (const Field& item : items) {
    std::string v;
    if (!ck.read_string(item, v)) continue;
    if (std::string why = check_origin(v); !why.empty()) {
      ck.error(item, why);
      continue;
    }
    ws.allowed_origins.push_back(std::move(v));
  }
}

void read_port_range(Checker& ck, const Field& f, Media& m) {
  std::vector<Field> items;
  if (!ck.read_list(f, items)) return;
  if (items.size() != 2) {
    ck.error(f, "expected [min, max], got a list of " + std::to_string(items.size()));
    return;
  }
  uint64_t lo, hi;
  bool ok = ck.read_uint(items[0], 1024, 65535, lo);
  ok = ck.read_uint(items[1], 1024, 65535, hi) && ok;
  if (!ok) return;
  if (lo % 2 != 0) {
    ck.error(items[0], "must be even (RTP takes the even port), got " + std::to_string(lo));
    return;
  }
  if (lo > hi) {
    ck.error(f, "min " + std::to_string(lo) + " is above max " + std::to_string(hi));
    return;
  }
  m.port_min = uint16_t(lo);
  m.port_max = uint16_t(hi);
}

void read_ice(Checker& ck, const Field& f, Media& m) {
  std::string v;
  if (!ck.read_string(f, v)) return;
  if (v == "lite") {
    m.ice = IceMode::kLite;
  } else if (v == "full") {
    m.ice = IceMode::kFull;
  } else {
    ck.error(f, "expected lite or full, got " + quote(v));
  }
}

void read_video(Checker& ck, const Field& f, Media& m) {
  std::string v;
  if (!ck.read_string(f, v)) return;
  if (v == "reject") {
    m.video = false;
  } else if (v == "passthrough") {
    m.video = true;
  } else {
    ck.error(f, "expected reject or passthrough, got " + quote(v));
  }
}

void read_metrics_listen(Checker& ck, const Field& f, Metrics& m) {
  std::string v;
  if (!ck.read_string(f, v)) return;
  m.listen.clear();
  m.url = ListenUrl{};
  if (v.empty()) return;  // metrics off
  ListenUrl url;
  if (!read_listen(ck, Field{f.node, f.key, f.line}, {"http"}, url)) return;
  m.listen = v;
  m.url = std::move(url);
}

const Table<Tls>& tls_table() {
  static const Table<Tls> t = {
      path("certificate", &Tls::certificate, PathKind::kFile),
      path("private_key", &Tls::private_key, PathKind::kFile),
  };
  return t;
}

const Table<WebSocket>& websocket_table() {
  static const Table<WebSocket> t = {
      listen_list("listen", &WebSocket::listen, {"ws", "wss"}),
      section("tls", &WebSocket::tls, tls_table),
      {"allowed_origins", read_origins},
      u32("max_connections", &WebSocket::max_connections, 1),
      u32("max_connections_per_ip", &WebSocket::max_connections_per_ip, 1),
      u32("connection_rate_per_ip", &WebSocket::connection_rate_per_ip, 1),
      u32("max_message_size", &WebSocket::max_message_size, 1, kMaxMessageSize),
      u32("ping_interval", &WebSocket::ping_interval, 0, kDay),
      path("document_root", &WebSocket::document_root, PathKind::kDirectory),
  };
  return t;
}

const Table<Ims>& ims_table() {
  static const Table<Ims> t = {
      flag("strip_security_headers", &Ims::strip_security_headers),
      flag("strip_asserted_identity", &Ims::strip_asserted_identity),
      text("visited_network_id", &Ims::visited_network_id, check_header_value),
      flag("charging_vector", &Ims::charging_vector),
  };
  return t;
}

const Table<Sip>& sip_table() {
  static const Table<Sip> t = {
      listen_list("listen", &Sip::listen, {"udp", "tcp"}),
      text("pcscf", &Sip::pcscf, check_pcscf),
      u32("invite_timeout", &Sip::invite_timeout, 1, kDay),
      section("ims", &Sip::ims, ims_table),
  };
  return t;
}

void read_codecs(Checker& ck, const Field& f, std::vector<std::string>& out,
                 const std::vector<std::string>& known);

const Table<Media>& media_table() {
  static const Table<Media> t = {
      text("address", &Media::address, check_ip),
      text("advertised_address", &Media::advertised_address, check_ip_or_empty),
      {"port_range", read_port_range},
      u32("inactivity_timeout", &Media::inactivity_timeout, 0, kDay),
      flag("opus_to_network", &Media::opus_to_network),
      {"ice", read_ice},
      section("dtls", &Media::dtls, tls_table),
      {"video", read_video},
      {"video_codecs",
       [](Checker& ck, const Field& f, Media& m) {
         read_codecs(ck, f, m.video_codecs, {"VP8", "H264"});
       }},
      u32("video_max_kbps", &Media::video_max_kbps, 64, 100000),
  };
  return t;
}

// A non-empty list of distinct codec names out of `known` (compared case-insensitively,
// written back in the canonical spelling).
void read_codecs(Checker& ck, const Field& f, std::vector<std::string>& out,
                 const std::vector<std::string>& known) {
  std::vector<Field> items;
  if (!ck.read_list(f, items)) return;
  if (items.empty()) {
    ck.error(f, "needs at least one codec");
    return;
  }
  std::vector<std::string> got;
  for (const Field& item : items) {
    std::string v;
    if (!ck.read_string(item, v)) return;
    std::string canonical;
    for (const std::string& k : known)
      if (strcasecmp(k.c_str(), v.c_str()) == 0) canonical = k;
    if (canonical.empty()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      ck.error(item, "unknown codec " + quote(v) + " (known: " + list + ")");
      return;
    }
    if (std::find(got.begin(), got.end(), canonical) != got.end()) {
      ck.error(item, canonical + " is listed twice");
      return;
    }
    got.push_back(canonical);
  }
  out = std::move(got);
}

const Table<OpusParams>& opus_table() {
  static const Table<OpusParams> t = {
      u32("complexity", &OpusParams::complexity, 0, 10),
      u32("bitrate", &OpusParams::bitrate, 6000, 510000),
      flag("fec", &OpusParams::fec),
      flag("dtx", &OpusParams::dtx),
  };
  return t;
}

const Table<Transcoding>& transcoding_table() {
  static const Table<Transcoding> t = {
      {"browser_codecs",
       [](Checker& ck, const Field& f, Transcoding& tc) {
         read_codecs(ck, f, tc.browser_codecs, {"opus", "PCMU", "PCMA"});
       }},
      {"network_codecs",
       [](Checker& ck, const Field& f, Transcoding& tc) {
         read_codecs(ck, f, tc.network_codecs, {"PCMU", "PCMA", "opus"});
       }},
      section("opus", &Transcoding::opus, opus_table),
  };
  return t;
}

const Table<Dtmf>& dtmf_table() {
  static const Table<Dtmf> t = {
      flag("info_to_rfc4733", &Dtmf::info_to_rfc4733),
      flag("inband", &Dtmf::inband),
  };
  return t;
}

const Table<Log>& log_table() {
  static const Table<Log> t = {
      text("level", &Log::level, check_level),
  };
  return t;
}

const Table<Metrics>& metrics_table() {
  static const Table<Metrics> t = {
      {"listen", read_metrics_listen},
  };
  return t;
}

}  // namespace

const Table<Config>& root_table() {
  static const Table<Config> t = {
      section("websocket", &Config::websocket, websocket_table),
      section("sip", &Config::sip, sip_table),
      section("media", &Config::media, media_table),
      section("transcoding", &Config::transcoding, transcoding_table),
      section("dtmf", &Config::dtmf, dtmf_table),
      section("log", &Config::log, log_table),
      section("metrics", &Config::metrics, metrics_table),
  };
  return t;
}

bool read_listen(Checker& ck, const Field& f, const std::vector<std::string>& schemes,
                 ListenUrl& out) {
  std::string v;
  if (!ck.read_string(f, v)) return false;
  std::string why;
  ListenUrl url;
  if (!parse_listen_url(v, url, why)) {
    ck.error(f, why);
    return false;
  }
  if (std::find(schemes.begin(), schemes.end(), url.scheme) == schemes.end()) {
    std::string allowed;
    for (const std::string& s : schemes) allowed += (allowed.empty() ? "" : " or ") + s + "://";
    ck.error(f, "expected " + allowed + ", got " + quote(v));
    return false;
  }
  ck.seen(f.key, f.line);
  out = std::move(url);
  return true;
}

std::string resolve_path(Checker& ck, const Field& f, std::string_view value, PathKind kind) {
  namespace fs = std::filesystem;
  if (value.empty()) return "";
  fs::path p(value);
  if (p.is_relative()) p = ck.base_dir() / p;
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  if (!ec) p = abs;
  p = p.lexically_normal();
  std::string shown = quote(value) + (p.string() != value ? " (" + p.string() + ")" : "");
  if (kind == PathKind::kDirectory) {
    if (!fs::is_directory(p, ec)) {
      ck.error(f, "not a directory: " + shown);
    } else if (access(p.c_str(), R_OK | X_OK) != 0) {
      ck.error(f, "directory not readable: " + shown);
    }
  } else {
    if (!fs::is_regular_file(p, ec)) {
      ck.error(f, "not a file: " + shown);
    } else if (!std::ifstream(p).good()) {
      ck.error(f, "file not readable: " + shown);
    }
  }
  return p.string();
}

}  // namespace rtcgw::config
