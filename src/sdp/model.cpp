#include "sdp/model.hpp"

#include <sofia-sip/sdp.h>
#include <sofia-sip/su_alloc.h>

#include <cctype>
#include <cstdlib>
#include <memory>

namespace rtcgw::sdp::detail {
namespace {

struct HomeDeleter {
  void operator()(su_home_t* h) const { su_home_unref(h); }
};
struct ParserDeleter {
  void operator()(sdp_parser_t* p) const { sdp_parser_free(p); }
};

std::string str(const char* s) { return s ? std::string(s) : std::string(); }

bool is_direction(std::string_view name) {
  return name == "sendrecv" || name == "sendonly" || name == "recvonly" || name == "inactive";
}

std::vector<Attr> attrs_of(const sdp_attribute_t* a) {
  std::vector<Attr> out;
  for (; a; a = a->a_next) {
    std::string name = str(a->a_name);
    if (is_direction(name)) continue;
    out.push_back({std::move(name), str(a->a_value)});
  }
  return out;
}

// Static payload types a browser may list without a=rtpmap (RFC 3551 table 4).
Codec static_codec(int pt) {
  struct Static {
    int pt;
    const char* encoding;
  };
  static constexpr Static kStatic[] = {
      {0, "PCMU"}, {8, "PCMA"}, {9, "G722"}, {13, "CN"}, {18, "G729"}};
  Codec c;
  c.pt = pt;
  for (const Static& st : kStatic)
    if (st.pt == pt) {
      c.encoding = st.encoding;
      c.rate = 8000;  // G722 too: its RTP clock is 8000 (RFC 3551 section 4.5.2)
    }
  return c;
}

// "opus/48000/2" -> encoding, rate, channels
void parse_rtpmap(std::string_view v, Codec& c) {
  auto s1 = v.find('/');
  c.encoding = std::string(v.substr(0, s1));
  if (s1 == std::string_view::npos) return;
  auto rest = v.substr(s1 + 1);
  auto s2 = rest.find('/');
  c.rate = std::strtoul(std::string(rest.substr(0, s2)).c_str(), nullptr, 10);
  if (s2 != std::string_view::npos) c.channels = std::string(rest.substr(s2 + 1));
}

int leading_pt(std::string_view v, std::string_view& rest) {
  auto sp = v.find(' ');
  std::string num(v.substr(0, sp));
  rest = sp == std::string_view::npos ? std::string_view() : v.substr(sp + 1);
  if (num.empty() || num.size() > 3) return -1;
  for (char ch : num)
    if (!std::isdigit(static_cast<unsigned char>(ch))) return -1;
  return std::atoi(num.c_str());
}

// Sofia fills m_rtpmaps only for the protocols it knows as RTP (RTP/AVP, RTP/SAVP); for
// UDP/TLS/RTP/SAVPF the a=rtpmap and a=fmtp lines stay attributes. Both end up in codecs.
void fill_codecs(const sdp_media_t* m, Media& out) {
  std::vector<Attr> kept;
  for (const auto& f : out.formats) {
    std::string_view rest;
    int pt = leading_pt(f, rest);
    if (pt < 0 || pt > 127) continue;
    Codec c = static_codec(pt);
    for (const sdp_rtpmap_t* r = m->m_rtpmaps; r; r = r->rm_next) {
      if (static_cast<int>(r->rm_pt) != pt) continue;
      if (r->rm_encoding && *r->rm_encoding) {
        c.encoding = r->rm_encoding;
        c.rate = r->rm_rate;
        c.channels = str(r->rm_params);
      }
      c.fmtp = str(r->rm_fmtp);
    }
    out.codecs.push_back(std::move(c));
  }
  for (auto& a : out.attrs) {
    bool is_map = a.name == "rtpmap", is_fmtp = a.name == "fmtp";
    if (!is_map && !is_fmtp) {
      kept.push_back(std::move(a));
      continue;
    }
    std::string_view rest;
    int pt = leading_pt(a.value, rest);
    for (auto& c : out.codecs) {
      if (c.pt != pt) continue;
      if (is_map) {
        c.channels.clear();
        parse_rtpmap(rest, c);
      } else {
        c.fmtp = std::string(rest);
      }
    }
  }
  out.attrs = std::move(kept);
}

}  // namespace

const Attr* Media::attr(std::string_view name) const {
  for (const auto& a : attrs)
    if (a.name == name) return &a;
  return nullptr;
}

std::string Media::mid() const {
  const Attr* a = attr("mid");
  return a ? a->value : std::string();
}

const Attr* Session::attr(std::string_view name) const {
  for (const auto& a : attrs)
    if (a.name == name) return &a;
  return nullptr;
}

namespace {

bool is_token_char(char c) {
  static constexpr std::string_view kToken =
      "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz{|}~";
  return c != '\0' && kToken.find(c) != std::string_view::npos;
}

// RFC 4566 section 5.14, written strictly: `m=<media> <port>[/<n>] <proto> <fmt> ...` with
// single spaces, a numeric port, token fields, and at least one format. Debian 12's sofia-sip
// sdp_parse loops allocating memory until it runs out on some m= lines that break this (a
// format starting with a non-token character, or only blanks after a TAB), so nothing that
// fails this check reaches it.
bool strict_m_line(std::string_view line) {
  std::string_view rest = line.substr(2);
  int field = 0;
  for (;;) {
    size_t sp = rest.find(' ');
    std::string_view f = rest.substr(0, sp);
    if (f.empty()) return false;  // leading, double or trailing space
    ++field;
    size_t run = 0;  // characters since the last '/'
    for (char c : f) {
      if (field == 2 ? (c >= '0' && c <= '9') : is_token_char(c)) {
        ++run;
      } else if (c == '/' && (field == 2 || field == 3) && run > 0) {
        run = 0;
      } else {
        return false;
      }
    }
    if (run == 0) return false;
    if (sp == std::string_view::npos) return field >= 4;
    rest = rest.substr(sp + 1);
  }
}

// The first m= line that fails strict_m_line, or "" when all pass. Sofia stops at a NUL.
std::string_view bad_m_line(std::string_view sdp) {
  sdp = sdp.substr(0, sdp.find('\0'));
  size_t pos = 0;
  while (pos < sdp.size()) {
    size_t eol = sdp.find_first_of("\r\n", pos);
    if (eol == std::string_view::npos) eol = sdp.size();
    std::string_view line = sdp.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.size() >= 2 && line[0] == 'm' && line[1] == '=' && !strict_m_line(line)) return line;
  }
  return {};
}

}  // namespace

std::optional<Session> parse(std::string_view text, std::string& error) {
  if (std::string_view bad = bad_m_line(text); !bad.empty()) {
    std::string shown(bad.substr(0, 80));
    for (char& c : shown)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    error = "SDP parse error: malformed media line \"" + shown + "\"";
    return std::nullopt;
  }
  std::unique_ptr<su_home_t, HomeDeleter> home(
      static_cast<su_home_t*>(su_home_new(sizeof(su_home_t))));
  if (!home) {
    error = "out of memory";
    return std::nullopt;
  }
  std::unique_ptr<sdp_parser_t, ParserDeleter> parser(
      sdp_parse(home.get(), text.data(), static_cast<issize_t>(text.size()), sdp_f_strict));
  const char* perr = sdp_parsing_error(parser.get());
  const sdp_session_t* s = sdp_session(parser.get());
  if (perr || !s) {
    error = std::string("SDP parse error: ") + (perr ? perr : "no session");
    return std::nullopt;
  }
  Session out;
  out.attrs = attrs_of(s->sdp_attributes);
  if (s->sdp_connection) out.address = str(s->sdp_connection->c_address);
  for (const sdp_media_t* m = s->sdp_media; m; m = m->m_next) {
    Media md;
    md.type = str(m->m_type_name);
    md.port = m->m_port;
    md.proto = str(m->m_proto_name);
    for (const sdp_list_t* l = m->m_format; l; l = l->l_next) md.formats.push_back(str(l->l_text));
    // For RTP/AVP and RTP/SAVP sofia moves the m= line's payload types into m_rtpmaps.
    if (md.formats.empty())
      for (const sdp_rtpmap_t* r = m->m_rtpmaps; r; r = r->rm_next)
        md.formats.push_back(std::to_string(r->rm_pt));
    md.attrs = attrs_of(m->m_attributes);
    md.mode = static_cast<Mode>(m->m_mode & 3);
    md.address = m->m_connections ? str(m->m_connections->c_address) : out.address;
    md.rejected = m->m_rejected || m->m_port == 0;
    if (md.is_rtp()) fill_codecs(m, md);
    out.media.push_back(std::move(md));
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::inactive:
      return "inactive";
    case Mode::sendonly:
      return "sendonly";
    case Mode::recvonly:
      return "recvonly";
    case Mode::sendrecv:
      break;
  }
  return "sendrecv";
}

Mode answer_mode(Mode offered, Mode answered) {
  // Bit 0: sends, bit 1: receives (Mode's values). The offerer sending lets the answerer
  // receive, and the other way round.
  unsigned o = unsigned(offered);
  unsigned allowed = ((o & 1u) << 1) | ((o & 2u) >> 1);
  return Mode(unsigned(answered) & allowed);
}

const char* addr_type(std::string_view address) {
  return address.find(':') != std::string_view::npos ? "IP6" : "IP4";
}

bool same_codec(const Codec& a, const Codec& b) {
  auto ch = [](const std::string& c) { return c.empty() ? std::string("1") : c; };
  return !a.encoding.empty() && iequals(a.encoding, b.encoding) && a.rate == b.rate &&
         ch(a.channels) == ch(b.channels);
}

void Writer::line(char type, std::string_view value) {
  out_ += type;
  out_ += '=';
  out_ += value;
  out_ += "\r\n";
}

void Writer::attr(std::string_view name, std::string_view value) {
  std::string v(name);
  if (!value.empty()) v += ":" + std::string(value);
  line('a', v);
}

void Writer::session_head(uint64_t session_id, uint64_t version, std::string_view address) {
  std::string at = addr_type(address);
  line('v', "0");
  line('o', "- " + std::to_string(session_id) + " " + std::to_string(version) + " IN " + at + " " +
                std::string(address));
  line('s', "-");
  line('c', "IN " + at + " " + std::string(address));
  line('t', "0 0");
}

void Writer::codecs(const std::vector<Codec>& cs) {
  for (const auto& c : cs) {
    std::string pt = std::to_string(c.pt);
    if (!c.encoding.empty()) {
      std::string map = pt + " " + c.encoding + "/" + std::to_string(c.rate);
      if (!c.channels.empty()) map += "/" + c.channels;
      attr("rtpmap", map);
    }
    if (!c.fmtp.empty()) attr("fmtp", pt + " " + c.fmtp);
  }
}

void Writer::m_line(std::string_view type, unsigned long port, std::string_view proto,
                    const std::vector<std::string>& formats) {
  std::string v = std::string(type) + " " + std::to_string(port) + " " + std::string(proto);
  for (const auto& f : formats) v += " " + f;
  if (formats.empty()) v += " 0";  // a format is mandatory even on a rejected line
  line('m', v);
}

void Writer::media(const Media& m) {
  m_line(m.type, m.port, m.proto, m.formats);
  codecs(m.codecs);
  for (const auto& a : m.attrs) attr(a.name, a.value);
  attr(mode_name(m.mode));
}

std::vector<std::string> pt_list(const std::vector<Codec>& cs) {
  std::vector<std::string> out;
  for (const auto& c : cs) out.push_back(std::to_string(c.pt));
  return out;
}

}  // namespace rtcgw::sdp::detail
