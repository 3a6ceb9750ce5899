#include "sip/headers.hpp"

#include <strings.h>

#include <string>
#include <vector>

namespace rtcgw::sip {

bool add_header(msg_t* msg, sip_t* sip, msg_hclass_t* hc, std::string_view value) {
  std::string v(value);
  msg_header_t* h = msg_header_make(msg_home(msg), hc, v.c_str());
  if (!h) return false;
  return msg_header_insert(msg, reinterpret_cast<msg_pub_t*>(sip), h) == 0;
}

bool add_unknown(msg_t* msg, sip_t* sip, std::string_view name, std::string_view value) {
  su_home_t* home = msg_home(msg);
  auto* u = reinterpret_cast<sip_unknown_t*>(msg_header_alloc(home, sip_unknown_class, 0));
  if (!u) return false;
  u->un_name = su_strndup(home, name.data(), static_cast<isize_t>(name.size()));
  u->un_value = su_strndup(home, value.data(), static_cast<isize_t>(value.size()));
  // msg_header_insert keeps the header section before the separator (msg_header_add_str
  // would append after it, into the body).
  return u->un_name && u->un_value &&
         msg_header_insert(msg, reinterpret_cast<msg_pub_t*>(sip),
                           reinterpret_cast<msg_header_t*>(u)) == 0;
}

namespace {

// Where sofia keeps headers called `name` when it has a class for them; null for extension
// headers (kept in sip_unknown).
msg_header_t** known_slot(sip_t* sip, const std::string& name) {
  msg_href_t const* href = msg_find_hclass(sip_default_mclass(), name.c_str(), nullptr);
  if (!href || !href->hr_class || href->hr_class == sip_unknown_class ||
      href->hr_class == sip_error_class)
    return nullptr;
  return reinterpret_cast<msg_header_t**>(reinterpret_cast<char*>(sip) + href->hr_offset);
}

}  // namespace

int remove_named(msg_t* msg, sip_t* sip, std::string_view name) {
  std::string n(name);
  int removed = 0;
  if (msg_header_t** hh = known_slot(sip, n)) {
    while (*hh) {
      if (msg_header_remove(msg, reinterpret_cast<msg_pub_t*>(sip), *hh) != 0) break;
      ++removed;
    }
    return removed;
  }
  std::vector<sip_unknown_t*> doomed;
  for (sip_unknown_t* u = sip->sip_unknown; u; u = u->un_next)
    if (u->un_name && strcasecmp(u->un_name, n.c_str()) == 0) doomed.push_back(u);
  for (sip_unknown_t* u : doomed)
    if (sip_header_remove(msg, sip, reinterpret_cast<sip_header_t*>(u)) == 0) ++removed;
  return removed;
}

bool has_named(sip_t const* sip, std::string_view name) {
  std::string n(name);
  if (msg_header_t** hh = known_slot(const_cast<sip_t*>(sip), n)) return *hh != nullptr;
  for (sip_unknown_t const* u = sip->sip_unknown; u; u = u->un_next)
    if (u->un_name && strcasecmp(u->un_name, n.c_str()) == 0) return true;
  return false;
}

void mark_received(msg_t* msg, sip_t* sip, const std::string& ip, uint16_t port) {
  sip_via_t* via = sip->sip_via;
  if (!via) return;
  su_home_t* home = msg_home(msg);
  // The parameter text is referenced, not copied: it must live in the message's home.
  std::string received = "received=" + ip;
  msg_header_replace_param(home, via->v_common, su_strdup(home, received.c_str()));
  if (via->v_rport) {
    std::string rport = "rport=" + std::to_string(port);
    msg_header_replace_param(home, via->v_common, su_strdup(home, rport.c_str()));
  }
  // The cached encoding of the Via is stale now.
  msg_fragment_clear_chain(reinterpret_cast<msg_header_t*>(via));
}

unsigned long decrement_max_forwards(msg_t* msg, sip_t* sip) {
  if (!sip->sip_max_forwards) {
    add_header(msg, sip, sip_max_forwards_class, "69");
    return 70;
  }
  unsigned long before = sip->sip_max_forwards->mf_count;
  if (before > 0) {
    sip->sip_max_forwards->mf_count = before - 1;
    msg_fragment_clear_chain(reinterpret_cast<msg_header_t*>(sip->sip_max_forwards));
  }
  return before;
}

void ensure_supported(msg_t* msg, sip_t* sip, std::string_view feature) {
  std::string f(feature);
  if (sip_has_feature(sip->sip_supported, f.c_str())) return;
  std::string value;
  for (sip_supported_t* s = sip->sip_supported; s; s = s->k_next) {
    for (msg_param_t const* p = s->k_items; p && *p; ++p) {
      if (!value.empty()) value += ", ";
      value += *p;
    }
  }
  if (!value.empty()) value += ", ";
  value += f;
  remove_named(msg, sip, "Supported");
  add_header(msg, sip, sip_supported_class, value);
}

void vias_first(msg_t* msg, sip_t* sip) {
  if (!sip->sip_via) return;
  sip_via_t* copy = sip_via_copy(msg_home(msg), sip->sip_via);
  if (!copy) return;
  while (sip->sip_via)
    if (sip_header_remove(msg, sip, reinterpret_cast<sip_header_t*>(sip->sip_via)) != 0) return;
  sip_header_insert(msg, sip, reinterpret_cast<sip_header_t*>(copy));
}

std::string url_text(url_t const* url) {
  if (!url) return {};
  su_home_t home[1] = {SU_HOME_INIT(home)};
  char* s = url_as_string(home, url);
  std::string out = s ? s : "";
  su_home_deinit(home);
  return out;
}

}  // namespace rtcgw::sip
