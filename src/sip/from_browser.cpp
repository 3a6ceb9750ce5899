// Requests from browsers towards the core, and the core's responses back to them.
#include <strings.h>

#include <algorithm>

#include "rtcgw/metrics.hpp"
#include "sip/headers.hpp"
#include "sip/proxy.hpp"

namespace rtcgw::sip {
namespace {

std::string aor_of(url_t const* u) {
  if (!u) return {};
  std::string s = std::string(u->url_scheme ? u->url_scheme : "sip") + ":";
  if (u->url_user) s += std::string(u->url_user) + "@";
  if (u->url_host) s += u->url_host;
  return s;
}

std::string contact_key_of(url_t const* u) {
  return Registrations::contact_key(u->url_user ? u->url_user : "", u->url_host ? u->url_host : "",
                                    u->url_port ? u->url_port : "");
}

}  // namespace

void Proxy::browser_request(Connection& c, Parsed p) {
  sip_t* sip = p.sip();
  msg_t* msg = p.msg.get();
  sip_method_t method = sip->sip_request->rq_method;
  (metrics_.sip_request)("from_browser", sip->sip_request->rq_method_name);

  if (method == sip_method_ack) return browser_ack(c, std::move(p.msg), sip);
  if (method == sip_method_cancel) return browser_cancel(c, sip);
  if (shutting_down_) return reply_browser(c.peer.id, sip, 503, "Service Unavailable");
  if (sip->sip_max_forwards && sip->sip_max_forwards->mf_count == 0)
    return reply_browser(c.peer.id, sip, 483, "Too Many Hops");
  // RFC 3261 section 16.3 steps 2 and 6: a scheme rtcgw cannot route, and Proxy-Require
  // extensions (rtcgw supports none).
  const char* scheme = sip->sip_request->rq_url->url_scheme;
  if (!scheme || (strcasecmp(scheme, "sip") != 0 && strcasecmp(scheme, "sips") != 0 &&
                  strcasecmp(scheme, "tel") != 0))
    return reply_browser(c.peer.id, sip, 416, "Unsupported URI Scheme");
  if (sip->sip_request->rq_url->url_headers)  // RFC 4475 section 3.1.2.11
    return reply_browser(c.peer.id, sip, 400, "Bad Request - Request-URI with headers");
  if (sip->sip_proxy_require) {
    std::string tags = header_text(sip->sip_proxy_require);
    return reply_browser(c.peer.id, sip, 420, "Bad Extension", "Unsupported: " + tags + "\r\n");
  }

  if (method == sip_method_info) {
    if (int status = media_info(sip))
      return reply_browser(c.peer.id, sip, status,
                           status == 200   ? "OK"
                           : status == 415 ? "Unsupported Media Type"
                                           : "Bad Request");
  }
  if (int status = media_request(true, c.peer.id, msg, sip)) {
    return reply_browser(c.peer.id, sip, status,
                         status == 488   ? "Not Acceptable Here"
                         : status == 503 ? "Service Unavailable"
                                         : "Server Internal Error");
  }
  std::string branch = sip->sip_via->v_branch ? sip->sip_via->v_branch : "";
  // The browser's hop is reliable, yet 100 Trying tells it the INVITE reached the proxy.
  std::string trying = method == sip_method_invite ? response_text(sip, 100, "Trying") : "";
  std::string next_hop;
  if (!prepare_towards_core(c, msg, sip, next_hop))
    return reply_browser(c.peer.id, sip, 500, "Server Internal Error");

  std::string method_name = sip->sip_request->rq_method_name;
  nta_outgoing_t* orq =
      nta_outgoing_mcreate(agent_, &Proxy::on_core_response, reinterpret_cast<Magic*>(this),
                           URL_STRING_MAKE(next_hop.c_str()), msg, TAG_END());
  if (!orq) {
    spdlog::warn("cannot forward {} from WebSocket {} to {}", method_name, c.peer.id, next_hop);
    return reply_browser(c.peer.id, sip, 503, "Service Unavailable");
  }
  p.msg.release();  // nta owns it now

  ClientTxn t;
  t.conn = c.peer.id;
  t.branch = branch;
  t.method = method;
  t.method_name = method_name;
  t.call_id = call_id_of(sip);
  clients_.emplace(orq, std::move(t));
  if (method == sip_method_invite) {
    invites_[{c.peer.id, branch}] = orq;
    send_browser(c.peer.id, trying);
  }
}

bool Proxy::prepare_towards_core(Connection& c, msg_t* msg, sip_t* sip, std::string& next_hop) {
  sip_method_t method = sip->sip_request->rq_method;
  bool initial = !sip->sip_to->a_tag;
  mark_received(msg, sip, c.peer.ip, c.peer.port);
  apply_ims_from_browser(msg, sip, initial);
  pop_own_routes(msg, sip);
  if (initial && !sip->sip_route && method != sip_method_register) {
    // Preloaded route (RFC 3608): the Service-Route the registrar returned for this flow.
    if (const Registration* reg = regs_.find(c.peer.id, aor_of(sip->sip_from->a_url))) {
      for (const std::string& r : reg->service_route)
        if (!add_header(msg, sip, sip_route_class, r)) return false;
    }
  }
  decrement_max_forwards(msg, sip);
  if (method == sip_method_register) {
    std::string path =
        "<sip:" + c.token + "@" + net_host_ + ";transport=" + net_transport_ + ";lr;ob>";
    if (!add_header(msg, sip, sip_path_class, path)) return false;
    ensure_supported(msg, sip, "path");
  } else if (initial && creates_dialog(method)) {
    // Double Record-Route: the entry facing the core ends up on top.
    if (!add_header(msg, sip, sip_record_route_class, ws_side_uri(c)) ||
        !add_header(msg, sip, sip_record_route_class, net_side_uri(c.token)))
      return false;
  }
  vias_first(msg, sip);
  next_hop = pcscf_;
  return true;
}

void Proxy::browser_ack(Connection& c, MsgPtr msg, sip_t* sip) {
  std::string branch = sip->sip_via->v_branch ? sip->sip_via->v_branch : "";
  auto inv = invites_.find({c.peer.id, branch});
  if (inv != invites_.end()) {
    auto t = clients_.find(inv->second);
    // ACK to a non-2xx final response is hop-by-hop: nta already acknowledged it.
    if (t == clients_.end() || t->second.status >= 300 || t->second.status < 200) return;
  }
  // An ACK to a 2xx follows the dialog's route set, whose first entry is rtcgw's Record-Route.
  // Without it the ACK belongs to a final response rtcgw sent itself (400, 488, 503...): the
  // hop-by-hop ACK ends there (RFC 3261 section 17.2.1).
  if (!sip->sip_route || !is_own(sip->sip_route->r_url)) return;
  media_request(true, c.peer.id, msg.get(), sip);  // an answer to an offer in a 2xx
  std::string next_hop;
  if (!prepare_towards_core(c, msg.get(), sip, next_hop)) return;
  // Stateless: the ACK to a 2xx is its own transaction (RFC 3261 section 17.1.1.3).
  if (nta_msg_tsend(agent_, msg.release(), URL_STRING_MAKE(next_hop.c_str()), TAG_END()) < 0)
    spdlog::warn("cannot forward ACK from WebSocket {}", c.peer.id);
}

void Proxy::browser_cancel(Connection& c, sip_t* sip) {
  std::string branch = sip->sip_via->v_branch ? sip->sip_via->v_branch : "";
  auto inv = invites_.find({c.peer.id, branch});
  if (inv == invites_.end())
    return reply_browser(c.peer.id, sip, 481, "Call/Transaction Does Not Exist");
  reply_browser(c.peer.id, sip, 200, "OK");
  auto t = clients_.find(inv->second);
  if (t != clients_.end() && t->second.status < 200) nta_outgoing_cancel(inv->second);
}

int Proxy::on_core_response(Magic* m, nta_outgoing_t* orq, sip_t const* sip) {
  reinterpret_cast<Proxy*>(m)->relay_core_response(orq, sip);
  return 0;
}

void Proxy::relay_core_response(nta_outgoing_t* orq, sip_t const* sip) {
  auto it = clients_.find(orq);
  if (it == clients_.end()) return;
  ClientTxn& t = it->second;
  int status = sip && sip->sip_status ? sip->sip_status->st_status : nta_outgoing_status(orq);
  metrics_.sip_response("from_core", t.method_name, status);

  std::string text;
  MsgPtr resp(nta_outgoing_getresponse(orq));
  sip_t* rs = resp ? sip_object(resp.get()) : nullptr;
  if (rs && rs->sip_status && rs->sip_via) {
    sip_header_remove(resp.get(), rs, reinterpret_cast<sip_header_t*>(rs->sip_via));  // rtcgw's
    apply_ims_to_browser(resp.get(), rs);
    media_response(false, t.conn, t.call_id, t.method, status, resp.get(), rs);
    if (t.method == sip_method_invite && status >= 200 && status < 300) {
      MsgPtr req(nta_outgoing_getrequest(orq));
      learn_dialog_from_core(t, req.get(), rs);
    }
    if (t.method == sip_method_register && status >= 200 && status < 300) {
      MsgPtr req(nta_outgoing_getrequest(orq));
      learn_registration(t.conn, req.get(), rs);
    }
    text = print(resp.get());
  } else {
    // nta gave no message (it should for its own 408/503): answer from the request.
    MsgPtr req(nta_outgoing_getrequest(orq));
    MsgPtr copy(req ? msg_dup(req.get()) : nullptr);
    sip_t* qs = copy ? sip_object(copy.get()) : nullptr;
    if (qs && qs->sip_via) {
      sip_header_remove(copy.get(), qs, reinterpret_cast<sip_header_t*>(qs->sip_via));
      text = response_text(qs, status, status == 408 ? "Request Timeout" : "Service Unavailable",
                           random_token(10));
    }
    media_response(false, t.conn, t.call_id, t.method, status, nullptr, nullptr);
  }
  if (status > 100 && conns_.count(t.conn) && !send_browser(t.conn, text))
    spdlog::debug("response {} for WebSocket {} not delivered", status, t.conn);

  if (status < 200) return;
  if (t.method == sip_method_invite) {
    // Keep an INVITE a while after its final response: after a 2xx so that retransmitted or
    // forked 2xx still reach the browser, after a non-2xx so that the browser's ACK to it is
    // recognised (and absorbed).
    if (t.status < 200 || status < 300) t.status = status;
    if (!t.linger.active()) {
      t.linger.once(status < 300 ? 32000 : 5000, [this, orq] {
        auto c = clients_.find(orq);
        if (c == clients_.end()) return;
        invites_.erase({c->second.conn, c->second.branch});
        clients_.erase(c);
        destroy_later(orq);
      });
    }
    return;
  }
  clients_.erase(it);
  destroy_later(orq);
}

void Proxy::learn_registration(ws::ConnId conn, msg_t* request, sip_t const* response) {
  sip_t const* req = request ? sip_object(request) : nullptr;
  if (!req || !req->sip_to) return;
  std::vector<std::string> mine;
  for (sip_contact_t const* m = req->sip_contact; m; m = m->m_next)
    if (m->m_url->url_host) mine.push_back(contact_key_of(m->m_url));
  Registration reg;
  reg.conn = conn;
  reg.aor = aor_of(req->sip_to->a_url);
  unsigned expires = 0;
  for (sip_contact_t const* m = response->sip_contact; m; m = m->m_next) {
    if (!m->m_url->url_host) continue;
    std::string key = contact_key_of(m->m_url);
    if (std::find(mine.begin(), mine.end(), key) == mine.end()) continue;
    unsigned e = m->m_expires            ? static_cast<unsigned>(strtoul(m->m_expires, nullptr, 10))
                 : response->sip_expires ? static_cast<unsigned>(response->sip_expires->ex_delta)
                                         : 3600;
    expires = std::max(expires, e);
    if (e > 0) reg.contacts.push_back(key);
  }
  for (sip_route_t const* r = response->sip_service_route; r; r = r->r_next)
    reg.service_route.push_back(header_text(r));
  regs_.update(std::move(reg), expires);
  metrics_.set_registrations(static_cast<double>(regs_.size()));
}

}  // namespace rtcgw::sip
