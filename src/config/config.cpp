// Loading: parse the YAML, fill the structs through the key tables (schema.cpp), then the checks
// that involve several keys. Every problem is collected before one config::Error is thrown.
#include "rtcgw/config.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "config/schema.hpp"
#include "config/validate.hpp"

namespace rtcgw::config {

namespace {

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) {
    if (!out.empty()) out += '\n';
    out += l;
  }
  return out;
}

// Two listeners on one address and port cannot both be opened. ws, wss, tcp and http share the
// TCP port space; udp has its own.
void check_listen_conflicts(Checker& ck, const Config& c) {
  std::map<std::string, std::string> taken;  // "tcp [::1]:8080" -> key that has it
  auto add = [&](const ListenUrl& url, const std::string& key) {
    std::string id = (url.scheme == "udp" ? "udp " : "tcp ") + url.hostport();
    auto [it, fresh] = taken.emplace(id, key);
    if (!fresh) {
      ck.error(ck.line_of(key), key,
               quote(url.text) + " uses the same address and port as " + it->second);
    }
  };
  for (size_t i = 0; i < c.websocket.listen.size(); ++i) {
    add(c.websocket.listen[i], "websocket.listen[" + std::to_string(i) + "]");
  }
  for (size_t i = 0; i < c.sip.listen.size(); ++i) {
    add(c.sip.listen[i], "sip.listen[" + std::to_string(i) + "]");
  }
  if (!c.metrics.listen.empty()) add(c.metrics.url, "metrics.listen");
}

void check_required(Checker& ck, const Config& c) {
  // A key whose value was wrong is already reported.
  if (c.websocket.listen.empty() && !ck.failed("websocket.listen")) {
    ck.error(ck.line_of("websocket.listen"), "websocket.listen",
             "required: at least one ws:// or wss:// URL");
  }
  if (c.sip.listen.empty() && !ck.failed("sip.listen")) {
    ck.error(ck.line_of("sip.listen"), "sip.listen", "required: at least one udp:// or tcp:// URL");
  }
  if (c.sip.pcscf.empty() && !ck.failed("sip.pcscf")) {
    ck.error(ck.line_of("sip.pcscf"), "sip.pcscf", "required: the SIP URI of the P-CSCF");
  }
}

// rtcgw sends to the P-CSCF from one of its own listeners of that transport (sofia's nta picks
// the transport from the URI): without one every request would get 503.
void check_pcscf_transport(Checker& ck, const Config& c) {
  if (c.sip.pcscf.empty() || c.sip.listen.empty() || ck.failed("sip.pcscf") ||
      ck.failed("sip.listen"))
    return;
  const std::string t = c.sip.pcscf_transport();
  for (const ListenUrl& u : c.sip.listen)
    if (u.scheme == t) return;
  ck.error(ck.line_of("sip.pcscf"), "sip.pcscf",
           "transport=" + t + " needs a " + t + ":// URL in sip.listen: rtcgw reaches the " +
               "P-CSCF from a listener of that transport");
}

void check_tls(Checker& ck, const Config& c) {
  bool wss = false;
  for (const ListenUrl& u : c.websocket.listen) wss = wss || u.scheme == "wss";
  if (!wss) return;
  const char* keys[] = {"websocket.tls.certificate", "websocket.tls.private_key"};
  const std::string* values[] = {&c.websocket.tls.certificate, &c.websocket.tls.private_key};
  for (int i = 0; i < 2; ++i) {
    if (values[i]->empty() && !ck.failed(keys[i])) {
      ck.error(ck.line_of(keys[i]), keys[i], "required when websocket.listen has a wss:// URL");
    }
  }
}

void check_media(Checker& ck, const Config& c) {
  if (is_unspecified_ip(c.media.address) && c.media.advertised_address.empty()) {
    ck.error(ck.line_of("media.address"), "media.advertised_address",
             "required when media.address is " + quote(c.media.address) +
                 ": browsers cannot send media to it");
  }
  if (is_unspecified_ip(c.media.advertised_address)) {
    ck.error(ck.line_of("media.advertised_address"), "media.advertised_address",
             "must be a reachable address, got " + quote(c.media.advertised_address));
  }
  // The DTLS certificate comes from files as a pair, or is generated at start when neither is set.
  bool cert = !c.media.dtls.certificate.empty(), key = !c.media.dtls.private_key.empty();
  if (cert != key) {
    const char* missing = cert ? "media.dtls.private_key" : "media.dtls.certificate";
    if (!ck.failed(missing))
      ck.error(ck.line_of(cert ? "media.dtls.certificate" : "media.dtls.private_key"), missing,
               "required with the other key of media.dtls (or set neither to generate one)");
  }
}

// Debian 12's yaml-cpp 0.7 never returns (and grows without bound) on a ',' that starts a line
// outside any flow collection ("a: 1\n ,b" is fine, "#x\n ,y" or a document starting with ','
// is not; found by fuzz_config). Such a line is never valid YAML: refuse it before yaml-cpp
// sees it. Flow depth is counted roughly (quotes and comments skipped), which is enough for a
// ',' at the start of a line.
int stray_comma_line(std::string_view yaml) {
  int depth = 0, line = 1;
  bool line_start = true;
  char quote = 0;
  for (size_t i = 0; i < yaml.size(); ++i) {
    char ch = yaml[i];
    if (ch == '\n') {
      ++line;
      line_start = true;
      if (quote == '\'') quote = 0;  // keep single-line scanning simple for plain scalars
      continue;
    }
    if (quote) {
      if (ch == quote && !(quote == '"' && i > 0 && yaml[i - 1] == '\\')) quote = 0;
      continue;
    }
    if (line_start && (ch == ' ' || ch == '\t' || ch == '\r')) continue;
    if (line_start && ch == ',' && depth <= 0) return line;
    line_start = false;
    if (ch == '#') {
      while (i + 1 < yaml.size() && yaml[i + 1] != '\n') ++i;
    } else if (ch == '"' || ch == '\'') {
      quote = ch;
    } else if (ch == '[' || ch == '{') {
      ++depth;
    } else if (ch == ']' || ch == '}') {
      --depth;
    }
  }
  return 0;
}

Config load(std::string_view yaml, const std::string& name) {
  Checker ck(name, std::filesystem::path(name).parent_path());
  Config c;
  c.path = name;
  if (int line = stray_comma_line(yaml)) {
    ck.error(line, "", "YAML syntax error: ',' outside a flow sequence or mapping");
    throw Error(ck.errors());
  }
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    ck.error(e.mark.is_null() ? 1 : e.mark.line + 1, "", "YAML syntax error: " + e.msg);
    throw Error(ck.errors());
  } catch (const YAML::Exception& e) {
    ck.error(e.mark.is_null() ? 1 : e.mark.line + 1, "", e.what());
    throw Error(ck.errors());
  }
  if (docs.size() > 1) {
    ck.error(node_line(docs[1], 1), "", "more than one YAML document; expected one");
  }
  YAML::Node root = docs.empty() ? YAML::Node() : docs[0];
  if (!root.IsMap()) {
    ck.error(node_line(root, 1), "",
             "expected a mapping with the sections websocket, sip, media, transcoding, dtmf, log, "
             "metrics; got " +
                 describe(root));
    throw Error(ck.errors());
  }
  try {
    apply_map(ck, Field{root, "", node_line(root, 1)}, root_table(), c);
  } catch (const YAML::Exception& e) {  // not expected: the readers check types first
    ck.error(e.mark.is_null() ? 1 : e.mark.line + 1, "", e.what());
  }
  check_required(ck, c);
  check_pcscf_transport(ck, c);
  check_tls(ck, c);
  check_media(ck, c);
  check_listen_conflicts(ck, c);
  if (auto errors = ck.errors(); !errors.empty()) throw Error(std::move(errors));
  return c;
}

}  // namespace

Error::Error(std::vector<std::string> errors)
    : std::runtime_error(join(errors)), errors_(std::move(errors)) {}

Config load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error({path + ": cannot open: " + std::strerror(errno)});
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error({path + ": cannot read: " + std::strerror(errno)});
  return load(text.str(), path);
}

Config load_string(std::string_view yaml, const std::string& name) { return load(yaml, name); }

std::string Sip::pcscf_transport() const {
  std::string lower = pcscf;
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  size_t pos = lower.find(";transport=");
  if (pos == std::string::npos) return "udp";
  std::string t = lower.substr(pos + 11);
  return t.substr(0, t.find_first_of(";>?"));
}

}  // namespace rtcgw::config
