// Where the proxy meets the media anchor: every SDP body rtcgw relays is handed to the dialog's
// anchor (made on the first offer), and the result replaces the body. An offer rtcgw cannot use
// is answered 488 towards its sender; dialogs that end release their anchor.
#include <strings.h>

#include <algorithm>

#include "codec/dtmf.hpp"
#include "media/anchors.hpp"
#include "rtcgw/metrics.hpp"
#include "sip/body.hpp"
#include "sip/headers.hpp"
#include "sip/proxy.hpp"

namespace rtcgw::sip {
namespace {

bool carries_sdp(sip_method_t m) {
  return m == sip_method_invite || m == sip_method_update || m == sip_method_ack ||
         m == sip_method_prack;
}

}  // namespace

int Proxy::media_request(bool from_browser, ws::ConnId conn, msg_t* msg, sip_t* sip) {
  sip_method_t method = sip->sip_request->rq_method;
  std::string call_id = call_id_of(sip);
  note_cseq(from_browser, sip);
  if (method == sip_method_bye) {
    dialogs_.erase(call_id);
    if (media_)
      media_->release(call_id, from_browser ? "BYE from the browser" : "BYE from the core");
    return 0;
  }
  if (!media_) return 0;
  std::string_view body = sdp_body(sip);
  if (body.empty() || !carries_sdp(method)) return 0;
  media::Anchor* a = media_->find(call_id);
  bool made = false;
  if (!a) {
    if (method != sip_method_invite && method != sip_method_update) return 0;
    std::string err;
    a = media_->create(call_id, conn, err);
    if (!a) {
      spdlog::warn("media {}: {}", call_id, err);
      return 503;
    }
    made = true;
  }
  sdp::Result r = from_browser ? a->browser_sdp(body, false) : a->network_sdp(body, false);
  if (!r.ok) {
    metrics_.sdp_rejected(from_browser ? "browser" : "network");
    if (bad_log_.allow())
      spdlog::warn("media {}: SDP in {} from the {} not usable: {}", call_id,
                   sip->sip_request->rq_method_name, from_browser ? "browser" : "core", r.error);
    if (made) media_->release(call_id, "unusable offer");
    // An ACK cannot be refused: it goes on as it is and the far end ends the call.
    return method == sip_method_ack ? 0 : (r.sip_status ? r.sip_status : 488);
  }
  if (!set_body(msg, sip, r.sdp)) return 500;
  return 0;
}

int Proxy::media_info(sip_t const* sip) {
  if (!media_ || !cfg_.dtmf.info_to_rfc4733 || !sip->sip_content_type || !sip->sip_payload)
    return 0;
  const char* type = sip->sip_content_type->c_type;
  if (!type || (strcasecmp(type, "application/dtmf-relay") != 0 &&
                strcasecmp(type, "application/dtmf") != 0))
    return 0;  // other INFO packages are end to end
  media::Anchor* a = media_->find(call_id_of(sip));
  if (!a) return 0;  // no media anchored here: the INFO goes on to the core
  std::string error;
  codec::InfoError kind = codec::InfoError::kNone;
  auto digit = codec::parse_dtmf_info(
      type, std::string_view(sip->sip_payload->pl_data, sip->sip_payload->pl_len), error, &kind);
  if (!digit) {
    metrics_.bad_message("ws", "dtmf_info");
    if (bad_log_.allow()) spdlog::info("INFO DTMF refused: {}", error);
    return codec::info_error_status(kind);
  }
  // A digit the call cannot carry (flash, no browser RTP yet on a relayed call, no
  // telephone-event and no in-band tone) goes on to the core as it came.
  if (digit->event > 15 || !a->send_dtmf(digit->event, digit->duration_ms)) return 0;
  spdlog::debug("media {}: INFO digit {} sent towards the IMS", call_id_of(sip), digit->digit);
  return 200;
}

void Proxy::media_response(bool from_browser, ws::ConnId conn, const std::string& call_id,
                           sip_method_t method, int status, msg_t* msg, sip_t* sip) {
  if (!media_ || !carries_sdp(method) || method == sip_method_ack) return;
  media::Anchor* a = media_->find(call_id);
  std::string_view body = sip ? sdp_body(sip) : std::string_view{};
  if (status >= 300) {
    if (!a) return;
    a->final_response(false);
    if (method == sip_method_invite && !a->established())
      media_->release(call_id, "call failed with " + std::to_string(status));
    return;
  }
  if (status <= 100) return;
  if (body.empty()) {
    if (a && status >= 200) a->final_response(true);
    return;
  }
  if (!a) {
    // An offer in the response to an offerless INVITE (RFC 3261 section 13.2.1).
    std::string err;
    a = media_->create(call_id, conn, err);
    if (!a) {
      spdlog::warn("media {}: {}", call_id, err);
      return;
    }
  }
  bool provisional = status < 200;
  sdp::Result r =
      from_browser ? a->browser_sdp(body, provisional) : a->network_sdp(body, provisional);
  if (!r.ok) {
    metrics_.sdp_rejected(from_browser ? "browser" : "network");
    if (bad_log_.allow())
      spdlog::warn("media {}: SDP in {} from the {} not usable: {}", call_id, status,
                   from_browser ? "browser" : "core", r.error);
    return;  // relayed as it is: the receiving UA rejects it and ends the call
  }
  if (!set_body(msg, sip, r.sdp))
    spdlog::warn("media {}: cannot replace the SDP of a {}", call_id, status);
}

void Proxy::media_release(const std::string& call_id, std::string_view why) {
  if (media_) media_->release(call_id, why);
}

}  // namespace rtcgw::sip

namespace rtcgw::sip {

void Proxy::learn_dialog_from_core(const ClientTxn& t, msg_t* request, sip_t const* rs) {
  sip_t const* rq = request ? sip_object(request) : nullptr;
  if (!rq || !rq->sip_from || !rq->sip_contact || !rs->sip_to || !rs->sip_contact) return;
  if (dialogs_.find(t.call_id)) return;  // a re-INVITE, or another 2xx of a forked INVITE
  Dialog d;
  d.conn = t.conn;
  d.browser_party = header_text(rq->sip_from);
  d.core_party = header_text(rs->sip_to);
  d.browser_target = url_text(rq->sip_contact->m_url);
  d.core_target = url_text(rs->sip_contact->m_url);
  // The caller's route set is the Record-Route list reversed (RFC 3261 section 12.1.2).
  for (sip_record_route_t const* r = rs->sip_record_route; r; r = r->r_next)
    if (!is_own(r->r_url)) d.core_route.insert(d.core_route.begin(), header_text(r));
  d.browser_cseq = rq->sip_cseq ? rq->sip_cseq->cs_seq : 1;
  dialogs_.put(t.call_id, std::move(d));
}

void Proxy::learn_dialog_from_browser(const ServerTxn& t, ws::ConnId conn, sip_t const* rs) {
  if (!rs->sip_to || !rs->sip_contact || dialogs_.find(t.call_id)) return;
  Dialog d;
  d.conn = conn;
  d.browser_party = header_text(rs->sip_to);
  d.core_party = t.from;
  d.browser_target = url_text(rs->sip_contact->m_url);
  d.core_target = t.core_contact;
  d.core_route = t.core_route;
  d.core_cseq = t.cseq;
  dialogs_.put(t.call_id, std::move(d));
}

void Proxy::note_cseq(bool from_browser, sip_t const* sip) {
  if (!sip->sip_cseq || !sip->sip_to || !sip->sip_to->a_tag) return;
  Dialog* d = dialogs_.find(call_id_of(sip));
  if (!d) return;
  uint32_t& seq = from_browser ? d->browser_cseq : d->core_cseq;
  seq = std::max(seq, sip->sip_cseq->cs_seq);
}

int Proxy::on_own_response(Magic* m, nta_outgoing_t* orq, sip_t const* sip) {
  int status = sip && sip->sip_status ? sip->sip_status->st_status : nta_outgoing_status(orq);
  if (status >= 200) reinterpret_cast<Proxy*>(m)->destroy_later(orq);
  return 0;
}

void Proxy::end_dialog(const std::string& call_id) {
  end_dialog(call_id, "RELEASE_CAUSE;cause=2;text=\"RTP/RTCP time-out\"", true);
}

void Proxy::end_dialog(const std::string& call_id, const char* kReason, bool to_browser) {
  Dialog* d = dialogs_.find(call_id);
  if (!d) {
    spdlog::warn("media {}: no established dialog to end", call_id);
    return;
  }
  std::string route;
  for (const std::string& r : d->core_route) route += (route.empty() ? "" : ", ") + r;
  std::string cseq = std::to_string(d->browser_cseq + 1) + " BYE";
  nta_outgoing_t* orq = nta_outgoing_tcreate(
      leg_, &Proxy::on_own_response, reinterpret_cast<Magic*>(this),
      URL_STRING_MAKE(pcscf_.c_str()), SIP_METHOD_BYE, URL_STRING_MAKE(d->core_target.c_str()),
      SIPTAG_FROM_STR(d->browser_party.c_str()), SIPTAG_TO_STR(d->core_party.c_str()),
      SIPTAG_CALL_ID_STR(call_id.c_str()), SIPTAG_CSEQ_STR(cseq.c_str()),
      TAG_IF(!route.empty(), SIPTAG_ROUTE_STR(route.c_str())), SIPTAG_REASON_STR(kReason),
      TAG_END());
  if (!orq) spdlog::warn("media {}: cannot send BYE to the core", call_id);
  (metrics_.sip_request)("to_core", "BYE");

  auto c = to_browser ? conns_.find(d->conn) : conns_.end();
  if (c != conns_.end()) {
    std::string branch = "z9hG4bK" + random_token(22);
    std::string text =
        "BYE " + d->browser_target + " SIP/2.0\r\nVia: " + ws_via(c->second, branch) +
        "\r\nMax-Forwards: 70\r\nFrom: " + d->core_party + "\r\nTo: " + d->browser_party +
        "\r\nCall-ID: " + call_id + "\r\nCSeq: " + std::to_string(d->core_cseq + 1) +
        " BYE\r\nReason: " + kReason + "\r\nContent-Length: 0\r\n\r\n";
    own_byes_[branch] = 1;
    send_browser(d->conn, text);
    (metrics_.sip_request)("to_browser", "BYE");
  }
  spdlog::info("call {} ended by rtcgw: {}", call_id, kReason);
  dialogs_.erase(call_id);
}

}  // namespace rtcgw::sip
