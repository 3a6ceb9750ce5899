// rtcgw's SIP core: a transaction-stateful, dialog-aware edge proxy between browsers on
// WebSocket (RFC 7118) and the P-CSCF on UDP/TCP (driven by sofia-sip's nta).
//
// Browser -> core: parse the frame, check it, mark Via received/rport, apply the IMS policy, pop
// rtcgw's own Route entries, preload Service-Route on initial requests, add Path (REGISTER) or
// Record-Route (dialog-creating requests), decrement Max-Forwards, and forward statefully with
// nta (own Via on top). Responses come back on the same WebSocket without rtcgw's Via.
// Core -> browser: nta's default leg receives the request; rtcgw's Route entries name the
// WebSocket by flow token (RFC 5626); rtcgw adds its WS Via and Record-Route and relays the
// browser's responses through the nta server transaction.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "loop/timer.hpp"
#include "rtcgw/config.hpp"
#include "rtcgw/log.hpp"
#include "rtcgw/ws.hpp"
#include "sip/dialogs.hpp"
#include "sip/flow_token.hpp"
#include "sip/message.hpp"
#include "sip/registrations.hpp"
#include "sip/sofia.hpp"

namespace rtcgw {
class Metrics;
namespace media {
class Anchors;
}
}  // namespace rtcgw

namespace rtcgw::sip {

// sofia's su_root on the thread-default GLib main context; the GSource is destroyed before the
// root (the order sofia needs).
class SofiaRoot {
 public:
  SofiaRoot();  // throws at start-up
  ~SofiaRoot();
  SofiaRoot(const SofiaRoot&) = delete;
  SofiaRoot& operator=(const SofiaRoot&) = delete;
  su_root_t* get() const { return root_; }

 private:
  su_root_t* root_ = nullptr;
  GSource* source_ = nullptr;
};

class Proxy final : public ws::Handler {
 public:
  // Opens every sip.listen transport. Throws std::runtime_error at start-up on failure.
  Proxy(const config::Config& cfg, Metrics& metrics);
  ~Proxy() override;
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  void attach(ws::Server* ws) { ws_ = ws; }
  // The media anchors that rewrite SDP; without them SDP passes unchanged.
  void attach_media(media::Anchors* media) { media_ = media; }

  void on_ws_open(const ws::Peer& peer) override;
  void on_ws_message(ws::ConnId id, std::string_view data, bool binary) override;
  void on_ws_close(ws::ConnId id) override;

  // Applies what can change at run time (the IMS policy). Listeners and pcscf need a restart.
  void reload(const config::Config& cfg);
  // Stops taking new work: pending requests from the core are answered 503, pending INVITEs
  // from browsers are cancelled. Open transactions then finish on their own.
  void begin_shutdown();
  // Client or server transactions still waiting for a final response.
  size_t pending_transactions() const;
  size_t registration_count() const { return regs_.size(); }
  // Ends an established dialog from the middle (media inactivity): BYE to the core and to the
  // browser, each with Reason RELEASE_CAUSE 2 "RTP/RTCP time-out" (TS 24.229 7.2A.18).
  void end_dialog(const std::string& call_id);
  // Ends it with `reason` (a Reason header value): BYE to the core, and to the browser when
  // `to_browser`.
  void end_dialog(const std::string& call_id, const char* reason, bool to_browser);

 private:
  struct Connection {
    ws::Peer peer;
    std::string token;  // flow token naming this connection
  };
  // A request from a browser forwarded to the core.
  struct ClientTxn {
    ws::ConnId conn = 0;
    std::string branch;  // the browser's top Via branch
    sip_method_t method = sip_method_unknown;
    std::string method_name;
    std::string call_id;
    int status = 0;      // the last final status relayed
    loop::Timer linger;  // INVITE after 2xx: kept to relay retransmitted 2xx
  };
  // A request from the core forwarded to a browser.
  struct ServerTxn {
    ws::ConnId conn = 0;
    std::string branch;  // rtcgw's Via branch towards the browser
    sip_method_t method = sip_method_unknown;
    std::string method_name;
    // INVITE only: what rtcgw needs to CANCEL it or ACK a non-2xx (RFC 3261 sections 9.1,
    // 17.1.1.3): everything of the forwarded INVITE but the To tag and method.
    std::string ruri, via, routes, from, to, call_id;
    uint32_t cseq = 0;
    std::string core_contact;             // the core party's target
    std::vector<std::string> core_route;  // its Record-Route entries, rtcgw's left out
    loop::Timer timeout;
  };
  enum class RouteCheck { kNone, kFound, kForged };
  struct OwnRoutes {
    RouteCheck token = RouteCheck::kNone;
    uint64_t conn = 0;
  };

  // nta callbacks (magic is the Proxy).
  static int on_core_request(Magic* m, nta_leg_t* leg, nta_incoming_t* irq, sip_t const* sip);
  static int on_core_response(Magic* m, nta_outgoing_t* orq, sip_t const* sip);
  static int on_core_cancel(Magic* m, nta_incoming_t* irq, sip_t const* sip);
  static int on_own_response(Magic* m, nta_outgoing_t* orq, sip_t const* sip);
  static int on_stray(Magic* m, nta_agent_t* agent, msg_t* msg, sip_t* sip);

  // from_browser.cpp
  void browser_request(Connection& c, Parsed p);
  void browser_ack(Connection& c, MsgPtr msg, sip_t* sip);
  void browser_cancel(Connection& c, sip_t* sip);
  bool prepare_towards_core(Connection& c, msg_t* msg, sip_t* sip, std::string& next_hop);
  void relay_core_response(nta_outgoing_t* orq, sip_t const* sip);
  void learn_registration(ws::ConnId conn, msg_t* request, sip_t const* response);
  // from_core.cpp
  int core_request(nta_incoming_t* irq, sip_t const* sip);
  void core_ack(msg_t* msg, sip_t* sip);
  void browser_response(Connection& c, Parsed p);
  void finish_server(nta_incoming_t* irq);
  static std::string hop_request(const ServerTxn& t, const char* method, const std::string& to);
  void core_cancelled(nta_incoming_t* irq);
  // media_glue.cpp: 0, or the status to refuse the request with.
  int media_request(bool from_browser, ws::ConnId conn, msg_t* msg, sip_t* sip);
  void media_response(bool from_browser, ws::ConnId conn, const std::string& call_id,
                      sip_method_t method, int status, msg_t* msg, sip_t* sip);
  void media_release(const std::string& call_id, std::string_view why);
  // INFO DTMF from the browser: 200 when the call's anchor took the digit (RFC 4733 events or
  // an in-band tone towards the IMS), 400/415 for a body that does not parse, 0 when the INFO
  // is to be forwarded.
  int media_info(sip_t const* sip);
  void learn_dialog_from_core(const ClientTxn& t, msg_t* request, sip_t const* response);
  void learn_dialog_from_browser(const ServerTxn& t, ws::ConnId conn, sip_t const* response);
  void note_cseq(bool from_browser, sip_t const* sip);
  // proxy.cpp
  void reply_browser(ws::ConnId conn, sip_t const* req, int status, std::string_view phrase,
                     std::string_view extra = {});
  bool send_browser(ws::ConnId conn, const std::string& text);
  OwnRoutes pop_own_routes(msg_t* msg, sip_t* sip);
  bool is_own(url_t const* url) const;
  bool is_own_via(sip_via_t const* via) const;
  std::string ws_side_uri(const Connection& c) const;
  std::string net_side_uri(const std::string& token) const;
  std::string ws_via(const Connection& c, const std::string& branch) const;
  void bad_input(ws::ConnId conn, std::string_view reason, std::string_view detail);
  void destroy_later(nta_outgoing_t* orq);
  void destroy_later(nta_incoming_t* irq);
  void reap();
  void apply_ims_from_browser(msg_t* msg, sip_t* sip, bool initial);
  void apply_ims_to_browser(msg_t* msg, sip_t* sip);

  config::Config cfg_;
  Metrics& metrics_;
  ws::Server* ws_ = nullptr;
  media::Anchors* media_ = nullptr;
  SofiaRoot root_;
  nta_agent_t* agent_ = nullptr;
  nta_leg_t* leg_ = nullptr;
  FlowTokens tokens_;
  std::string net_host_;       // host[:port] of rtcgw's SIP side in Path/Record-Route
  std::string net_transport_;  // "udp" or "tcp"
  std::string pcscf_;          // next hop URI text
  bool shutting_down_ = false;

  std::unordered_map<ws::ConnId, Connection> conns_;
  std::unordered_map<nta_outgoing_t*, ClientTxn> clients_;
  std::map<std::pair<ws::ConnId, std::string>, nta_outgoing_t*> invites_;  // (conn, branch)
  std::unordered_map<nta_incoming_t*, ServerTxn> servers_;
  std::unordered_map<std::string, nta_incoming_t*> server_by_branch_;
  Registrations regs_;
  Dialogs dialogs_;
  std::unordered_map<std::string, int> own_byes_;  // branches of BYEs rtcgw sent to browsers
  loop::Timer reg_sweep_;
  loop::Timer reaper_;
  std::vector<nta_outgoing_t*> dead_orqs_;
  std::vector<nta_incoming_t*> dead_irqs_;
  log::RateLimit bad_log_{20};
};

}  // namespace rtcgw::sip
