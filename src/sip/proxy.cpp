#include "sip/proxy.hpp"

#include "media/anchors.hpp"

#include <strings.h>

#include <stdexcept>

#include "rtcgw/metrics.hpp"
#include "sip/headers.hpp"

namespace rtcgw::sip {
namespace {

Magic* self_magic(Proxy* p) { return reinterpret_cast<Magic*>(p); }

std::string bracketed(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

std::string strip_brackets(std::string_view h) {
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']')
    return std::string(h.substr(1, h.size() - 2));
  return std::string(h);
}

std::string sip_uri_for(const config::ListenUrl& l) {
  return "sip:" + bracketed(l.host) + ":" + std::to_string(l.port) + ";transport=" + l.scheme;
}

}  // namespace

SofiaRoot::SofiaRoot() {
  if (su_init() != 0) throw std::runtime_error("su_init failed");
  root_ = su_glib_root_create(nullptr);
  if (!root_) {
    su_deinit();
    throw std::runtime_error("su_glib_root_create failed");
  }
  source_ = su_glib_root_gsource(root_);
  if (!source_ || g_source_attach(source_, g_main_context_get_thread_default()) == 0) {
    su_root_destroy(root_);
    su_deinit();
    throw std::runtime_error("cannot attach sofia-sip to the GLib main loop");
  }
}

SofiaRoot::~SofiaRoot() {
  if (source_) g_source_destroy(source_);
  su_root_destroy(root_);
  su_deinit();
}

Proxy::Proxy(const config::Config& cfg, Metrics& metrics) : cfg_(cfg), metrics_(metrics) {
  if (cfg_.sip.listen.empty()) throw std::runtime_error("sip.listen is empty");
  pcscf_ = cfg_.sip.pcscf;
  net_transport_ = cfg_.sip.pcscf_transport();
  const config::ListenUrl* net = &cfg_.sip.listen.front();
  for (const auto& l : cfg_.sip.listen)
    if (l.scheme == net_transport_) {
      net = &l;
      break;
    }
  net_transport_ = net->scheme;
  net_host_ = bracketed(net->host) + ":" + std::to_string(net->port);

  std::string first = sip_uri_for(cfg_.sip.listen.front());
  agent_ = nta_agent_create(root_.get(), URL_STRING_MAKE(first.c_str()), &Proxy::on_stray,
                            self_magic(this), NTATAG_UA(0), NTATAG_SERVER_RPORT(1),
                            NTATAG_CLIENT_RPORT(1), NTATAG_CANCEL_487(0), NTATAG_MERGE_482(0),
                            NTATAG_PASS_100(0), NTATAG_EXTRA_100(0),
                            NTATAG_MAXSIZE(cfg_.websocket.max_message_size), TAG_END());
  if (!agent_) throw std::runtime_error("cannot open SIP listener " + cfg_.sip.listen.front().text);
  for (size_t i = 1; i < cfg_.sip.listen.size(); ++i) {
    std::string uri = sip_uri_for(cfg_.sip.listen[i]);
    if (nta_agent_add_tport(agent_, URL_STRING_MAKE(uri.c_str()), TAG_END()) < 0) {
      nta_agent_destroy(agent_);
      throw std::runtime_error("cannot open SIP listener " + cfg_.sip.listen[i].text);
    }
  }
  leg_ = nta_leg_tcreate(agent_, &Proxy::on_core_request, self_magic(this), NTATAG_NO_DIALOG(1),
                         TAG_END());
  if (!leg_) {
    nta_agent_destroy(agent_);
    throw std::runtime_error("cannot create the default SIP leg");
  }
  reg_sweep_.every(5000, [this] {
    if (regs_.expire() > 0) metrics_.set_registrations(static_cast<double>(regs_.size()));
  });
  spdlog::info("SIP towards the core: {} next hop {}", net_host_, pcscf_);
}

Proxy::~Proxy() {
  reaper_.cancel();
  reg_sweep_.cancel();
  for (auto& [irq, t] : servers_) nta_incoming_destroy(irq);
  for (auto& [orq, t] : clients_) nta_outgoing_destroy(orq);
  servers_.clear();
  clients_.clear();
  reap();
  if (leg_) nta_leg_destroy(leg_);
  if (agent_) nta_agent_destroy(agent_);
}

void Proxy::reload(const config::Config& cfg) { cfg_.sip.ims = cfg.sip.ims; }

void Proxy::on_ws_open(const ws::Peer& peer) {
  Connection c{peer, tokens_.make(peer.id)};
  conns_.emplace(peer.id, std::move(c));
}

void Proxy::on_ws_message(ws::ConnId id, std::string_view data, bool binary) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  // RFC 5626 section 4.4.1 keepalive: a double CRLF is answered with a single CRLF.
  if (data == "\r\n\r\n") {
    send_browser(id, "\r\n");
    return;
  }
  if (data == "\r\n") return;
  Parsed p = parse(data);
  if (!p.ok()) {
    bad_input(id, p.error, p.detail);
    sip_t* s = p.sip();
    if (s && can_respond(s)) reply_browser(id, s, 400, "Bad Request - " + p.detail);
    return;
  }
  if (p.sip()->sip_request)
    browser_request(it->second, std::move(p));
  else
    browser_response(it->second, std::move(p));
}

void Proxy::on_ws_close(ws::ConnId id) {
  std::vector<nta_incoming_t*> pending;
  for (auto& [irq, t] : servers_)
    if (t.conn == id) pending.push_back(irq);
  for (nta_incoming_t* irq : pending) {
    nta_incoming_treply(irq, 430, "Flow Failed", TAG_END());
    metrics_.sip_response("to_core", servers_.at(irq).method_name, 430);
    finish_server(irq);
  }
  for (auto& [key, orq] : invites_) {
    auto t = clients_.find(orq);
    if (key.first == id && t != clients_.end() && t->second.status < 200) nta_outgoing_cancel(orq);
  }
  // Its established calls cannot go on: the core gets a BYE for each (RFC 5626's 430 Flow
  // Failed as the reason), rather than keeping them up until a session timer notices.
  for (const std::string& call_id : dialogs_.of_connection(id))
    end_dialog(call_id, "SIP;cause=430;text=\"Flow Failed\"", false);
  if (media_) media_->release_connection(id);
  dialogs_.erase_connection(id);
  regs_.remove_connection(id);
  metrics_.set_registrations(static_cast<double>(regs_.size()));
  conns_.erase(id);
}

void Proxy::begin_shutdown() {
  shutting_down_ = true;
  std::vector<nta_incoming_t*> pending;
  for (auto& [irq, t] : servers_) pending.push_back(irq);
  for (nta_incoming_t* irq : pending) {
    nta_incoming_treply(irq, 503, "Service Unavailable", SIPTAG_RETRY_AFTER_STR("5"), TAG_END());
    finish_server(irq);
  }
  for (auto& [key, orq] : invites_) {
    auto t = clients_.find(orq);
    if (t != clients_.end() && t->second.status < 200) nta_outgoing_cancel(orq);
  }
}

size_t Proxy::pending_transactions() const {
  size_t n = servers_.size();
  for (const auto& [orq, t] : clients_)
    if (t.status < 200) ++n;
  return n;
}

void Proxy::reply_browser(ws::ConnId conn, sip_t const* req, int status, std::string_view phrase,
                          std::string_view extra) {
  if (!can_respond(req)) return;
  send_browser(conn, response_text(req, status, phrase, random_token(10), extra));
  metrics_.sip_response("to_browser", method_name(req), status);
}

bool Proxy::send_browser(ws::ConnId conn, const std::string& text) {
  if (!ws_ || text.empty()) return false;
  return ws_->send(conn, text);
}

void Proxy::bad_input(ws::ConnId conn, std::string_view reason, std::string_view detail) {
  metrics_.bad_message("ws", reason);
  if (!bad_log_.allow()) return;
  auto it = conns_.find(conn);
  std::string who =
      it == conns_.end() ? "?" : it->second.peer.ip + ":" + std::to_string(it->second.peer.port);
  spdlog::warn("bad SIP message on WebSocket {} from {}: {} ({} similar suppressed)", conn, who,
               detail, bad_log_.suppressed());
}

bool Proxy::is_own(url_t const* url) const {
  if (!url || !url->url_host) return false;
  std::string host = strip_brackets(url->url_host);
  unsigned port = url->url_port ? static_cast<unsigned>(atoi(url->url_port)) : 5060;
  auto match = [&](const config::ListenUrl& l) {
    return strcasecmp(l.host.c_str(), host.c_str()) == 0 && l.port == port;
  };
  for (const auto& l : cfg_.sip.listen)
    if (match(l)) return true;
  for (const auto& l : cfg_.websocket.listen)
    if (match(l)) return true;
  return false;
}

bool Proxy::is_own_via(sip_via_t const* via) const {
  if (!via || !via->v_host) return false;
  std::string host = strip_brackets(via->v_host);
  unsigned port = via->v_port ? static_cast<unsigned>(atoi(via->v_port)) : 0;
  for (const auto& l : cfg_.websocket.listen)
    if (strcasecmp(l.host.c_str(), host.c_str()) == 0 && l.port == port) return true;
  return false;
}

Proxy::OwnRoutes Proxy::pop_own_routes(msg_t* msg, sip_t* sip) {
  OwnRoutes out;
  while (sip->sip_route && is_own(sip->sip_route->r_url)) {
    url_t const* u = sip->sip_route->r_url;
    if (u->url_user && out.token != RouteCheck::kFound) {
      auto id = tokens_.parse(u->url_user);
      if (id) {
        out.token = RouteCheck::kFound;
        out.conn = *id;
      } else {
        out.token = RouteCheck::kForged;
      }
    }
    sip_header_remove(msg, sip, reinterpret_cast<sip_header_t*>(sip->sip_route));
  }
  return out;
}

std::string Proxy::ws_side_uri(const Connection& c) const {
  return "<sip:" + c.token + "@" + bracketed(c.peer.local_host) + ":" +
         std::to_string(c.peer.local_port) + ";transport=" + (c.peer.secure ? "wss" : "ws") +
         ";lr;r2=on>";
}

std::string Proxy::net_side_uri(const std::string& token) const {
  return "<sip:" + token + "@" + net_host_ + ";transport=" + net_transport_ + ";lr;r2=on>";
}

std::string Proxy::ws_via(const Connection& c, const std::string& branch) const {
  return std::string("SIP/2.0/") + (c.peer.secure ? "WSS " : "WS ") + bracketed(c.peer.local_host) +
         ":" + std::to_string(c.peer.local_port) + ";branch=" + branch;
}

void Proxy::apply_ims_from_browser(msg_t* msg, sip_t* sip, bool initial) {
  const config::Ims& ims = cfg_.sip.ims;
  if (ims.strip_security_headers) {
    remove_named(msg, sip, "Security-Client");
    remove_named(msg, sip, "Security-Verify");
    remove_named(msg, sip, "Security-Server");
  }
  if (ims.strip_asserted_identity) remove_named(msg, sip, "P-Asserted-Identity");
  sip_method_t m = sip->sip_request->rq_method;
  if (ims.charging_vector && initial && (m == sip_method_register || m == sip_method_invite)) {
    remove_named(msg, sip, "P-Charging-Vector");
    std::string host = net_host_.substr(0, net_host_.rfind(':'));
    add_unknown(msg, sip, "P-Charging-Vector",
                "icid-value=" + random_token(32) + ";icid-generated-at=" + host);
  }
  if (!ims.visited_network_id.empty() && m == sip_method_register) {
    remove_named(msg, sip, "P-Visited-Network-ID");
    add_unknown(msg, sip, "P-Visited-Network-ID", "\"" + ims.visited_network_id + "\"");
  }
}

void Proxy::apply_ims_to_browser(msg_t* msg, sip_t* sip) {
  if (!cfg_.sip.ims.charging_vector) return;
  remove_named(msg, sip, "P-Charging-Vector");
  remove_named(msg, sip, "P-Charging-Function-Addresses");
}

void Proxy::destroy_later(nta_outgoing_t* orq) {
  dead_orqs_.push_back(orq);
  if (!reaper_.active()) reaper_.once(0, [this] { reap(); });
}

void Proxy::destroy_later(nta_incoming_t* irq) {
  dead_irqs_.push_back(irq);
  if (!reaper_.active()) reaper_.once(0, [this] { reap(); });
}

void Proxy::reap() {
  auto orqs = std::move(dead_orqs_);
  auto irqs = std::move(dead_irqs_);
  dead_orqs_.clear();
  dead_irqs_.clear();
  for (nta_outgoing_t* orq : orqs) nta_outgoing_destroy(orq);
  for (nta_incoming_t* irq : irqs) nta_incoming_destroy(irq);
}

int Proxy::on_stray(Magic* m, nta_agent_t*, msg_t* msg, sip_t* sip) {
  auto* self = reinterpret_cast<Proxy*>(m);
  if (sip && sip->sip_status) {
    self->metrics_.bad_message("sip", "stray_response");
    spdlog::debug("stray response {} from the core dropped", sip->sip_status->st_status);
  }
  msg_destroy(msg);
  return 0;
}

}  // namespace rtcgw::sip
