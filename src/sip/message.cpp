#include "sip/message.hpp"

#include <openssl/rand.h>

#include <strings.h>

#include <array>
#include <cctype>
#include <cstring>

namespace rtcgw::sip {
namespace {

// Offset of the body: just past the first empty line (CRLF CRLF, or bare LF LF).
size_t body_offset(std::string_view data) {
  size_t crlf = data.find("\r\n\r\n");
  size_t lf = data.find("\n\n");
  if (crlf == std::string_view::npos && lf == std::string_view::npos) return data.size();
  if (crlf != std::string_view::npos && (lf == std::string_view::npos || crlf + 2 <= lf))
    return crlf + 4;
  return lf + 2;
}

// The value of the first Content-Length (or compact "l") header, npos if none or unreadable.
size_t declared_length(std::string_view head) {
  size_t pos = 0;
  while (pos < head.size()) {
    size_t eol = head.find('\n', pos);
    std::string_view line = head.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    pos = eol == std::string_view::npos ? head.size() : eol + 1;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (!(strncasecmp(name.data(), "Content-Length", name.size()) == 0 && name.size() == 14) &&
        !(name.size() == 1 && (name[0] == 'l' || name[0] == 'L')))
      continue;
    size_t value = 0;
    bool digits = false;
    for (char ch : line.substr(colon + 1)) {
      if (ch >= '0' && ch <= '9') {
        if (value > 100000000) return std::string_view::npos;
        value = value * 10 + static_cast<size_t>(ch - '0');
        digits = true;
      } else if (ch != ' ' && ch != '\t' && ch != '\r') {
        return std::string_view::npos;
      }
    }
    return digits ? value : std::string_view::npos;
  }
  return std::string_view::npos;
}

// True when the text starts like a SIP message: a status line ("SIP/..."), a request line ending
// in a SIP version, or "METHOD scheme:..." (a request with a broken version, still answerable).
bool looks_like_sip(std::string_view data) {
  size_t eol = data.find_first_of("\r\n");
  std::string_view first = data.substr(0, eol);
  if (first.starts_with("SIP/")) return true;
  size_t sp = first.rfind(' ');
  if (sp != std::string_view::npos && first.substr(sp + 1).starts_with("SIP/")) return true;
  size_t method_end = first.find(' ');
  if (method_end == 0 || method_end == std::string_view::npos || eol == std::string_view::npos)
    return false;
  for (char ch : first.substr(0, method_end))
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || std::strchr("-.!%*_+`'~", ch)))
      return false;
  std::string_view uri = first.substr(method_end + 1);
  size_t colon = uri.find(':');
  return colon != std::string_view::npos && colon > 0 && colon < 8;
}

// A URI scheme must start with a letter (RFC 3986 section 3.1); sofia accepts others and then
// prints them so that they no longer parse (found by fuzz_sip_frame).
bool bad_scheme(url_t const* u) {
  return u && u->url_scheme && !std::isalpha(static_cast<unsigned char>(u->url_scheme[0]));
}

bool bad_uris(sip_t const* sip) {
  if (sip->sip_request && bad_scheme(sip->sip_request->rq_url)) return true;
  if (bad_scheme(sip->sip_from->a_url) || bad_scheme(sip->sip_to->a_url)) return true;
  for (sip_route_t const* r = sip->sip_route; r; r = r->r_next)
    if (bad_scheme(r->r_url)) return true;
  for (sip_record_route_t const* r = sip->sip_record_route; r; r = r->r_next)
    if (bad_scheme(r->r_url)) return true;
  for (sip_path_t const* r = sip->sip_path; r; r = r->r_next)
    if (bad_scheme(r->r_url)) return true;
  for (sip_contact_t const* m = sip->sip_contact; m; m = m->m_next)
    if (bad_scheme(m->m_url)) return true;
  return false;
}

// The URI of a header that has one (the classes unreadable_header checks), else null.
url_t const* url_of(msg_header_t const* h) {
  msg_hclass_t const* c = h->sh_class;
  if (c == sip_request_class) return reinterpret_cast<sip_request_t const*>(h)->rq_url;
  if (c == sip_from_class || c == sip_to_class)
    return reinterpret_cast<sip_addr_t const*>(h)->a_url;
  if (c == sip_contact_class) return reinterpret_cast<sip_contact_t const*>(h)->m_url;
  if (c == sip_route_class || c == sip_record_route_class || c == sip_path_class)
    return reinterpret_cast<sip_route_t const*>(h)->r_url;
  return nullptr;
}

// True when sofia reads back what it prints for h, as rtcgw's checks would take it on arrival.
// It takes some values it then prints in a form it refuses or reads differently: CSeq "1 IN c1"
// becomes "1 IN" (an unknown method that is a prefix of INVITE or INFO, at the end of the
// value), a Record-Route "sip:x>" becomes "<sip:x>>", a Request-URI "sip:a:/b" becomes
// "sip:a:b", a To "$SIP/x:y" becomes "$SIPx:y" (a scheme not starting with a letter). Such a
// message would leave rtcgw as text the next hop cannot read (all found by fuzz_sip_frame).
bool reparses(msg_t* msg, void const* header) {
  auto h = static_cast<sip_header_t const*>(header);
  std::string text = header_text(h);
  if (text.empty()) return false;
  msg_header_t* again = msg_header_make(msg_home(msg), h->sh_class, text.c_str());
  // Read back and printed again, it must print the same: sofia drops one '/' a round from a
  // Contact "<sip:b@h x/y/z>", so one round trip alone is not enough.
  bool ok = again && again->sh_class == h->sh_class &&
            header_text(reinterpret_cast<sip_header_t const*>(again)) == text &&
            !bad_scheme(url_of(again));
  if (again) msg_header_free(msg_home(msg), again);
  return ok;
}

template <typename H>
bool all_reparse(msg_t* msg, H const* list) {
  for (H const* h = list; h; h = h->r_next)
    if (!reparses(msg, h)) return false;
  return true;
}

// The name of the first header that routing depends on and that does not read back, or null.
const char* unreadable_header(msg_t* msg, sip_t const* sip) {
  if (sip->sip_request && !reparses(msg, sip->sip_request)) return "Request-URI";
  for (sip_via_t const* v = sip->sip_via; v; v = v->v_next)
    if (!reparses(msg, v)) return "Via";
  for (sip_contact_t const* m = sip->sip_contact; m; m = m->m_next)
    if (!reparses(msg, m)) return "Contact";
  if (!all_reparse(msg, sip->sip_route)) return "Route";
  if (!all_reparse(msg, sip->sip_record_route)) return "Record-Route";
  if (!all_reparse(msg, sip->sip_path)) return "Path";
  if (!reparses(msg, sip->sip_from)) return "From";
  if (!reparses(msg, sip->sip_to)) return "To";
  if (!reparses(msg, sip->sip_call_id)) return "Call-ID";
  if (!reparses(msg, sip->sip_cseq)) return "CSeq";
  return nullptr;
}

Parsed fail(Parsed p, std::string_view error, std::string detail) {
  p.error = error;
  p.detail = std::move(detail);
  return p;
}

}  // namespace

Parsed parse(std::string_view data) {
  // RFC 3261 section 18.3: on a message-oriented transport, octets past Content-Length are
  // discarded (RFC 4475 section 3.3.11 "dblreq"); a body shorter than it is an error (below).
  size_t body_at = body_offset(data);
  if (size_t cl = declared_length(data.substr(0, body_at));
      cl != std::string_view::npos && body_at + cl < data.size())
    data = data.substr(0, body_at + cl);
  Parsed p;
  if (data.empty()) return fail(std::move(p), "empty", "empty message");
  if (!looks_like_sip(data)) return fail(std::move(p), "not_sip", "not a SIP message");

  p.msg.reset(msg_make(sip_default_mclass(), 0, data.data(), static_cast<ssize_t>(data.size())));
  sip_t* sip = p.sip();
  if (!sip) return fail(std::move(p), "malformed", "unparsable message");
  if (!sip->sip_request && !sip->sip_status) {
    // sofia parses no header after a broken start line. To answer 400 from the headers, parse
    // them again behind a stand-in request line; the message stays an error.
    size_t eol = data.find('\n');
    if (eol != std::string_view::npos && !data.starts_with("SIP/")) {
      std::string patched = "BROKEN sip:invalid.invalid SIP/2.0\r\n";
      patched.append(data.substr(eol + 1));
      p.msg.reset(
          msg_make(sip_default_mclass(), 0, patched.data(), static_cast<ssize_t>(patched.size())));
    }
    return fail(std::move(p), "bad_start_line", "bad start line");
  }
  if (sip->sip_request && (!sip->sip_request->rq_url || !sip->sip_request->rq_method_name ||
                           !sip->sip_request->rq_url->url_scheme))
    return fail(std::move(p), "bad_start_line", "bad Request-URI");
  if (sip->sip_request && sip->sip_request->rq_version &&
      std::strcmp(sip->sip_request->rq_version, "SIP/2.0") != 0)
    return fail(std::move(p), "bad_version", "unsupported SIP version");
  if (!sip->sip_via) return fail(std::move(p), "missing_header", "missing Via");
  if (!sip->sip_call_id) return fail(std::move(p), "missing_header", "missing Call-ID");
  if (!sip->sip_from) return fail(std::move(p), "missing_header", "missing From");
  if (!sip->sip_to) return fail(std::move(p), "missing_header", "missing To");
  if (!sip->sip_cseq) return fail(std::move(p), "missing_header", "missing CSeq");
  if (sip->sip_request && sip->sip_request->rq_method != sip->sip_cseq->cs_method)
    return fail(std::move(p), "malformed", "CSeq method does not match the request method");
  if (sip->sip_request && sip->sip_request->rq_method == sip_method_unknown &&
      std::strcmp(sip->sip_request->rq_method_name, sip->sip_cseq->cs_method_name) != 0)
    return fail(std::move(p), "malformed", "CSeq method does not match the request method");
  if (bad_uris(sip)) return fail(std::move(p), "malformed", "malformed URI");
  if (const char* h = unreadable_header(p.msg.get(), sip))
    return fail(std::move(p), "malformed", std::string("malformed ") + h);
  // Control characters in the header section: sofia stops or prints differently at them, so
  // what rtcgw would forward is not what arrived (found by fuzz_sip_frame). RFC 3261 allows
  // them only escaped in quoted strings; sofia-sip 1.12.11 cannot carry those either.
  // A bare CR ends a line for sofia but not for RFC 3261 framing: refused too.
  std::string_view head = data.substr(0, body_at);
  for (size_t i = 0; i < head.size(); ++i) {
    auto u = static_cast<unsigned char>(head[i]);
    bool bare_cr = u == '\r' && (i + 1 >= head.size() || head[i + 1] != '\n');
    if ((u < 0x20 && u != '\t' && u != '\r' && u != '\n') || u == 0x7f || bare_cr)
      return fail(std::move(p), "malformed", "control character in the header section");
  }
  if (sip->sip_content_length) {
    size_t body = data.size() - body_at;
    if (sip->sip_content_length->l_length != body)
      return fail(std::move(p), "content_length", "Content-Length does not match the body");
  }
  if (msg_object(p.msg.get())->msg_flags & MSG_FLG_ERROR)
    return fail(std::move(p), "malformed", "malformed header");
  // Headers that sofia could not parse are kept in sip_error. Those that matter to routing
  // are already checked above; a broken Max-Forwards, Contact or Route is fatal too.
  for (sip_error_t* e = sip->sip_error; e; e = e->er_next) {
    // Not every entry is a msg_error_t: read er_name only from those that are.
    msg_hclass_t const* hc = e->er_common->h_class;
    const char* name = hc == sip_error_class ? e->er_name : hc ? hc->hc_name : nullptr;
    if (!name) name = "";
    static constexpr std::array kFatal{"Max-Forwards",   "Contact", "Route",  "Record-Route",
                                       "Content-Length", "Via",     "From",   "To",
                                       "Call-ID",        "CSeq",    "Expires"};
    for (const char* f : kFatal)
      if (strcasecmp(name, f) == 0)
        return fail(std::move(p), "malformed", std::string("malformed ") + f);
  }
  return p;
}

std::string print(msg_t* msg) {
  if (!msg) return {};
  size_t len = 0;
  char* s = msg_as_string(msg_home(msg), msg, nullptr, 0, &len);
  if (!s) return {};
  std::string out(s, len);
  su_free(msg_home(msg), s);
  return out;
}

bool can_respond(sip_t const* req) {
  // A request whose start line did not parse is still answerable from its headers.
  return req && !req->sip_status && req->sip_via && req->sip_from && req->sip_to &&
         req->sip_call_id && req->sip_cseq && req->sip_cseq->cs_method != sip_method_ack &&
         (!req->sip_request || req->sip_request->rq_method != sip_method_ack);
}

std::string header_text(sip_header_t const* h) {
  if (!h) return {};
  // msg_header_field_e prints the field value and returns the length it needs; retry with a
  // buffer a little larger (its encoders skip a piece that would end exactly at the end).
  std::string buf(256, '\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    issize_t n = msg_header_field_e(buf.data(), static_cast<isize_t>(buf.size()),
                                    reinterpret_cast<msg_header_t const*>(h), 0);
    if (n < 0) return {};
    if (static_cast<size_t>(n) + 16 <= buf.size()) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    buf.assign(static_cast<size_t>(n) + 16, '\0');  // sofia's encoders want slack past n
  }
  return {};
}

std::string response_text(sip_t const* req, int status, std::string_view phrase,
                          std::string_view to_tag, std::string_view extra) {
  std::string out = "SIP/2.0 " + std::to_string(status) + " " + std::string(phrase) + "\r\n";
  for (sip_via_t const* v = req->sip_via; v; v = v->v_next)
    out += "Via: " + header_text(v) + "\r\n";
  out += "From: " + header_text(req->sip_from) + "\r\n";
  out += "To: " + header_text(req->sip_to);
  if (status > 100 && !req->sip_to->a_tag && !to_tag.empty()) out += ";tag=" + std::string(to_tag);
  out += "\r\n";
  out += "Call-ID: " + header_text(req->sip_call_id) + "\r\n";
  out += "CSeq: " + header_text(req->sip_cseq) + "\r\n";
  out += extra;
  out += "Server: rtcgw/" RTCGW_VERSION "\r\nContent-Length: 0\r\n\r\n";
  return out;
}

bool creates_dialog(sip_method_t m) {
  return m == sip_method_invite || m == sip_method_subscribe || m == sip_method_refer;
}

std::string call_id_of(sip_t const* sip) {
  return sip && sip->sip_call_id && sip->sip_call_id->i_id ? sip->sip_call_id->i_id : "";
}

std::string_view method_name(sip_t const* sip) {
  if (sip->sip_request) return sip->sip_request->rq_method_name;
  if (sip->sip_cseq) return sip->sip_cseq->cs_method_name;
  return "unknown";
}

std::string random_token(size_t n) {
  static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out(n, '0');
  std::array<unsigned char, 64> buf{};
  size_t done = 0;
  while (done < n) {
    size_t chunk = std::min(n - done, buf.size());
    if (RAND_bytes(buf.data(), static_cast<int>(chunk)) != 1) {
      // The CSPRNG failing is not recoverable in a meaningful way; fall back to a counter so
      // tokens stay unique within the process.
      static uint64_t counter = 0;
      for (size_t i = 0; i < chunk; ++i) buf[i] = static_cast<unsigned char>(++counter * 131 + i);
    }
    for (size_t i = 0; i < chunk; ++i) out[done + i] = kAlphabet[buf[i] % 36];
    done += chunk;
  }
  return out;
}

}  // namespace rtcgw::sip
