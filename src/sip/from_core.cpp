// Requests from the core towards browsers, and the browsers' responses back to the core.
#include "rtcgw/metrics.hpp"
#include "sip/headers.hpp"
#include "sip/proxy.hpp"

namespace rtcgw::sip {
namespace {

constexpr unsigned kNonInviteTimeoutMs = 32000;  // 64*T1: the core gives up by then anyway
constexpr unsigned kCancelledTimeoutMs = 32000;  // a cancelled INVITE the browser never ends

}  // namespace

int Proxy::on_core_request(Magic* m, nta_leg_t*, nta_incoming_t* irq, sip_t const* sip) {
  return reinterpret_cast<Proxy*>(m)->core_request(irq, sip);
}

int Proxy::on_core_cancel(Magic* m, nta_incoming_t* irq, sip_t const*) {
  reinterpret_cast<Proxy*>(m)->core_cancelled(irq);
  return 0;
}

int Proxy::core_request(nta_incoming_t* irq, sip_t const* sip) {
  sip_method_t method = sip->sip_request->rq_method;
  std::string method_name = sip->sip_request->rq_method_name;
  (metrics_.sip_request)("from_core", method_name);

  MsgPtr orig(nta_incoming_getrequest(irq));
  MsgPtr fwd(orig ? msg_dup(orig.get()) : nullptr);
  sip_t* fs = fwd ? sip_object(fwd.get()) : nullptr;
  if (!fs) {
    if (method == sip_method_ack) {
      nta_incoming_destroy(irq);
      return 0;
    }
    return 500;
  }
  if (method == sip_method_ack) {
    core_ack(fwd.get(), fs);
    nta_incoming_destroy(irq);
    return 0;
  }
  if (method == sip_method_cancel) return 481;  // nta matched none of our INVITEs
  if (shutting_down_) return 503;
  if (fs->sip_max_forwards && fs->sip_max_forwards->mf_count == 0) return 483;

  OwnRoutes own = pop_own_routes(fwd.get(), fs);
  ws::ConnId conn = 0;
  if (own.token == RouteCheck::kForged) {
    metrics_.bad_message("sip", "bad_flow_token");
    return 403;
  }
  if (own.token == RouteCheck::kFound) {
    if (!conns_.count(own.conn)) return 430;  // RFC 5626 section 5.3: the flow is gone
    conn = own.conn;
  } else {
    url_t const* ruri = fs->sip_request->rq_url;
    const Registration* reg = regs_.find_contact(Registrations::contact_key(
        ruri->url_user ? ruri->url_user : "", ruri->url_host ? ruri->url_host : "",
        ruri->url_port ? ruri->url_port : ""));
    if (reg) {
      conn = reg->conn;
    } else if (is_own(ruri) && method == sip_method_options) {
      return 200;  // a keepalive OPTIONS for rtcgw itself
    } else {
      return 404;
    }
  }
  Connection& c = conns_.at(conn);
  if (int status = media_request(false, conn, fwd.get(), fs)) return status;

  decrement_max_forwards(fwd.get(), fs);
  std::string branch = "z9hG4bK" + random_token(22);
  std::string via = ws_via(c, branch);
  if (!add_header(fwd.get(), fs, sip_via_class, via)) return 500;
  if (!fs->sip_to->a_tag && creates_dialog(method)) {
    // Double Record-Route: the entry facing the browser ends up on top.
    if (!add_header(fwd.get(), fs, sip_record_route_class, net_side_uri(c.token)) ||
        !add_header(fwd.get(), fs, sip_record_route_class, ws_side_uri(c)))
      return 500;
  }
  apply_ims_to_browser(fwd.get(), fs);
  vias_first(fwd.get(), fs);
  if (!send_browser(conn, print(fwd.get()))) return 430;

  ServerTxn t;
  t.conn = conn;
  t.branch = branch;
  t.method = method;
  t.method_name = method_name;
  t.call_id = call_id_of(fs);
  nta_incoming_bind(irq, &Proxy::on_core_cancel, reinterpret_cast<Magic*>(this));
  if (method == sip_method_invite) {
    t.ruri = url_text(fs->sip_request->rq_url);
    t.via = via;
    for (sip_route_t const* r = fs->sip_route; r; r = r->r_next)
      t.routes += "Route: " + header_text(r) + "\r\n";
    t.from = header_text(fs->sip_from);
    t.to = header_text(fs->sip_to);
    t.cseq = fs->sip_cseq->cs_seq;
    if (fs->sip_contact) t.core_contact = url_text(fs->sip_contact->m_url);
    for (sip_record_route_t const* r = fs->sip_record_route; r; r = r->r_next)
      if (!is_own(r->r_url)) t.core_route.push_back(header_text(r));
    nta_incoming_treply(irq, SIP_100_TRYING, TAG_END());
    t.timeout.once(cfg_.sip.invite_timeout * 1000, [this, irq] {
      // Timer C (RFC 3261 section 16.6 step 11): give up on the browser.
      auto it = servers_.find(irq);
      if (it == servers_.end()) return;
      send_browser(it->second.conn, hop_request(it->second, "CANCEL", it->second.to));
      nta_incoming_treply(irq, 408, "Request Timeout", TAG_END());
      metrics_.sip_response("to_core", it->second.method_name, 408);
      media_response(true, it->second.conn, it->second.call_id, sip_method_invite, 408, nullptr,
                     nullptr);
      finish_server(irq);
    });
  } else {
    t.timeout.once(kNonInviteTimeoutMs, [this, irq] {
      auto it = servers_.find(irq);
      if (it == servers_.end()) return;
      nta_incoming_treply(irq, 408, "Request Timeout", TAG_END());
      metrics_.sip_response("to_core", it->second.method_name, 408);
      finish_server(irq);
    });
  }
  server_by_branch_[branch] = irq;
  servers_.emplace(irq, std::move(t));
  return 0;
}

void Proxy::core_ack(msg_t* msg, sip_t* sip) {
  OwnRoutes own = pop_own_routes(msg, sip);
  auto it = own.token == RouteCheck::kFound ? conns_.find(own.conn) : conns_.end();
  if (it == conns_.end()) {
    metrics_.bad_message("sip", "ack_without_flow");
    spdlog::debug("ACK from the core with no live flow dropped");
    return;
  }
  media_request(false, it->first, msg, sip);  // an answer to the browser's offer in a 2xx
  decrement_max_forwards(msg, sip);
  if (!add_header(msg, sip, sip_via_class, ws_via(it->second, "z9hG4bK" + random_token(22))))
    return;
  apply_ims_to_browser(msg, sip);
  send_browser(it->first, print(msg));
}

void Proxy::core_cancelled(nta_incoming_t* irq) {
  auto it = servers_.find(irq);
  if (it == servers_.end()) return;
  ServerTxn& t = it->second;
  if (t.method == sip_method_invite) send_browser(t.conn, hop_request(t, "CANCEL", t.to));
  // The browser answers 487; should it never, end the transaction ourselves.
  t.timeout.once(kCancelledTimeoutMs, [this, irq] {
    if (!servers_.count(irq)) return;
    nta_incoming_treply(irq, SIP_487_REQUEST_CANCELLED, TAG_END());
    auto t = servers_.find(irq);
    media_response(true, t->second.conn, t->second.call_id, t->second.method, 487, nullptr,
                   nullptr);
    finish_server(irq);
  });
}

void Proxy::browser_response(Connection& c, Parsed p) {
  sip_t* sip = p.sip();
  int status = sip->sip_status->st_status;
  metrics_.sip_response("from_browser", method_name(sip), status);
  std::string branch = sip->sip_via->v_branch ? sip->sip_via->v_branch : "";
  if (own_byes_.erase(branch)) return;  // the browser's answer to rtcgw's own BYE
  auto bit = server_by_branch_.find(branch);
  if (bit == server_by_branch_.end()) {
    if (status >= 200 && status < 300 && sip->sip_cseq->cs_method == sip_method_invite &&
        sip->sip_via->v_next && is_own_via(sip->sip_via)) {
      // A retransmitted 2xx after the transaction ended: forward statelessly along the Vias
      // (RFC 3261 section 16.7 step 10). nta removes rtcgw's Via and sends to the next one.
      apply_ims_to_browser(p.msg.get(), sip);
      if (nta_msg_tsend(agent_, p.msg.release(), nullptr, TAG_END()) < 0)
        spdlog::debug("retransmitted 2xx from WebSocket {} not forwarded", c.peer.id);
      return;
    }
    bad_input(c.peer.id, "stray_response", "response matching no transaction");
    return;
  }
  nta_incoming_t* irq = bit->second;
  ServerTxn& t = servers_.at(irq);
  if (t.conn != c.peer.id) {
    bad_input(c.peer.id, "stray_response", "response for another connection's transaction");
    return;
  }
  if (sip->sip_cseq->cs_method == sip_method_cancel) return;  // 200 to rtcgw's CANCEL
  if (status < 101) return;                                   // rtcgw sent its own 100 Trying
  sip_header_remove(p.msg.get(), sip, reinterpret_cast<sip_header_t*>(sip->sip_via));
  if (!sip->sip_via) {
    bad_input(c.peer.id, "malformed", "response with only rtcgw's Via");
    return;
  }
  if (t.method == sip_method_invite && status >= 300) {
    // rtcgw's client side towards the browser acknowledges the non-2xx itself.
    send_browser(c.peer.id, hop_request(t, "ACK", header_text(sip->sip_to)));
  }
  media_response(true, c.peer.id, call_id_of(sip), t.method, status, p.msg.get(), sip);
  if (t.method == sip_method_invite && status >= 200 && status < 300)
    learn_dialog_from_browser(t, c.peer.id, sip);
  if (sip->sip_to && sip->sip_to->a_tag) nta_incoming_tag(irq, sip->sip_to->a_tag);
  if (nta_incoming_mreply(irq, p.msg.release()) < 0)
    spdlog::warn("cannot relay {} from WebSocket {} to the core", status, c.peer.id);
  if (status >= 200) finish_server(irq);
}

std::string Proxy::hop_request(const ServerTxn& t, const char* method, const std::string& to) {
  std::string s = std::string(method) + " " + t.ruri + " SIP/2.0\r\n";
  s += "Via: " + t.via + "\r\nMax-Forwards: 70\r\n" + t.routes;
  s += "From: " + t.from + "\r\nTo: " + to + "\r\nCall-ID: " + t.call_id + "\r\n";
  s += "CSeq: " + std::to_string(t.cseq) + " " + method + "\r\nContent-Length: 0\r\n\r\n";
  return s;
}

void Proxy::finish_server(nta_incoming_t* irq) {
  auto it = servers_.find(irq);
  if (it == servers_.end()) return;
  server_by_branch_.erase(it->second.branch);
  servers_.erase(it);
  destroy_later(irq);
}

}  // namespace rtcgw::sip
