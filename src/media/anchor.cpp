#include "media/anchor.hpp"

#include <glib.h>
#include <openssl/rand.h>

#include "media/anchor_internal.hpp"
#include "media/demux.hpp"
#include "rtcgw/log.hpp"
#include "rtcgw/metrics.hpp"

namespace rtcgw::media {
using namespace internal;
namespace {

uint64_t random_session_id() {
  uint64_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) v = uint64_t(now_ms());
  return (v >> 2) | 1;  // positive as a signed 63-bit number, never 0 (RFC 4566 o=)
}

}  // namespace

Anchor::Anchor(Shared& shared, std::string call_id)
    : sh_(shared),
      call_id_(std::move(call_id)),
      session_id_(random_session_id()),
      ice_(random_ice_string(8), random_ice_string(24)),
      last_rx_ms_(now_ms()) {
  injector_.set_inband(sh_.inband_dtmf);
}

Anchor::~Anchor() {
  rtcp_stop(true);
  // The DTLS session may send close_notify through the browser socket: end it first.
  dtls_.reset();
}

bool Anchor::open(std::string& error) {
  if (!sh_.ports.bind_pair(net_.rtp, net_.rtcp) ||
      (!sh_.ice_full && !sh_.ports.bind_one(browser_sock_))) {
    error = "no free media port in media.port_range";
    return false;
  }
  if (sh_.ice_full && !open_ice_agent(error)) return false;
  bool ok = (sh_.ice_full || browser_sock_.watch(sh_.poller, [this] { on_browser_readable(); })) &&
            net_.rtp.watch(sh_.poller, [this] { on_network_readable(false); }) &&
            net_.rtcp.watch(sh_.poller, [this] { on_network_readable(true); });
  if (!ok) error = "cannot poll the media sockets";
  return ok;
}

unsigned Anchor::ports_held() const {
  return unsigned(browser_sock_.open() || agent_) + unsigned(net_.rtp.open()) +
         unsigned(net_.rtcp.open()) + unsigned(video_.rtp.open()) + unsigned(video_.rtcp.open());
}

bool Anchor::open_ice_agent(std::string& error) {
  IceAgent::Options opt;
  opt.advertised = sh_.advertised;
  agent_ = IceAgent::create(
      sh_.ports, opt, [this](uint8_t* d, size_t n) { on_ice_data(d, n); },
      [this](IceAgent::State s) { on_ice_state(s); }, error);
  return agent_ != nullptr;
}

// libnice answered and consumed the STUN; what reaches here is DTLS, SRTP or SRTCP, from the
// selected pair's address once ICE connected.
void Anchor::on_ice_data(uint8_t* buf, size_t len) {
  if (!browser_addr_.valid()) return drop("unchecked_source", browser_addr_);
  browser_packet(buf, len, browser_addr_);
}

void Anchor::on_ice_state(IceAgent::State s) {
  if (s == IceAgent::State::kConnected) {
    Endpoint to = agent_->remote();
    if (browser_addr_.valid() && to != browser_addr_)
      spdlog::info("media {}: browser moved to {}", call_id_, to.text());
    spdlog::debug("media {}: ICE connected with {}", call_id_, to.text());
    browser_addr_ = to;
    consent_ms_ = kConsentKeptByAgent;
    last_rx_ms_ = now_ms();
    maybe_start_dtls();
  } else if (s == IceAgent::State::kFailed) {
    // Checks failed or consent was lost (RFC 7675 section 5.1): nothing more is sent to the
    // browser; with no media either way the inactivity timeout ends the call.
    spdlog::warn("media {}: ICE with the browser failed ({})", call_id_,
                 browser_addr_.valid() ? "consent lost" : "no working pair");
    browser_addr_ = Endpoint{};
  }
}

bool Anchor::send_to_browser(const uint8_t* buf, size_t len) {
  if (agent_) return agent_->send(buf, len);
  return browser_sock_.send(buf, len, browser_addr_);
}

sdp::BrowserLeg Anchor::browser_leg() {
  sdp::BrowserLeg leg;
  leg.address = sh_.advertised;
  leg.port = agent_ ? agent_->port() : browser_sock_.port();
  leg.ice_ufrag = agent_ ? agent_->local_ufrag() : ice_.local_ufrag();
  leg.ice_pwd = agent_ ? agent_->local_pwd() : ice_.local_pwd();
  if (agent_) {
    leg.ice_lite = false;
    leg.candidates = agent_->candidates();
  }
  leg.fingerprint_sha256 = sh_.fingerprint;
  leg.setup = dtls_role_ == DtlsRole::kClient ? "active" : "passive";
  leg.session_id = session_id_;
  leg.session_version = ++browser_version_;
  if (have_browser_) leg.mids = browser_.mids;
  leg.video_kbps = sh_.video_kbps;
  return leg;
}

sdp::NetworkLeg Anchor::network_leg() {
  sdp::NetworkLeg leg;
  leg.address = sh_.advertised;
  leg.rtp_port = net_.rtp.port();
  leg.rtcp_mux_offered = net_.rtcp_mux;
  leg.session_id = session_id_;
  leg.session_version = ++network_version_;
  leg.video_rtp_port = video_.rtp.open() ? video_.rtp.port() : 0;
  leg.video_rtcp_mux_offered = video_.rtcp_mux;
  leg.video_kbps = sh_.video_kbps;
  return leg;
}

namespace {
sdp::Result rejected(std::string error) {
  sdp::Result r;
  r.error = std::move(error);
  r.sip_status = 488;
  return r;
}
}  // namespace

void Anchor::settle(bool provisional) {
  if (provisional) {
    early_answer_ = true;
    return;
  }
  pending_ = Pending::kNone;
  early_answer_ = false;
  offer_.clear();
  if (!established_) last_rx_ms_ = now_ms();  // the inactivity clock starts with the call
  established_ = true;
}

sdp::Result Anchor::browser_sdp(std::string_view body, bool provisional) {
  sdp::BrowserTransport t = sdp::describe_browser(body);
  if (!t.ok) return rejected("browser SDP: " + t.error);
  if (pending_ == Pending::kNetworkOffer) {
    // The browser answers the core's offer: its setup decides the DTLS role.
    sdp::TranscodePlan plan;
    sdp::Result r = transcode_offer_ ? sdp::to_network_answer_transcoding(
                                           body, network_leg(), offer_, sh_.browser_codecs,
                                           sh_.network_codecs, plan)
                                     : sdp::to_network_answer(body, network_leg(), offer_);
    if (!r.ok) return r;
    if (std::string err; !use_plan(transcode_offer_ ? &plan : nullptr, err))
      return rejected("transcoding: " + err);
    apply_browser(t, true);
    settle(provisional);
    return r;
  }
  // An offer (initial, re-INVITE, UPDATE, or in a 2xx to an offerless INVITE). Relayed as it
  // is when the legs can share a codec; else offered to the IMS for transcoding.
  bool shared = false;
  std::string best = sdp::pick_browser_codec(body, sh_.browser_codecs, sh_.network_codecs, shared);
  bool transcode = !shared && !best.empty();
  if (t.video) want_video();
  sdp::Result r = transcode ? sdp::to_network_offer_transcoding(
                                  body, network_leg(), sh_.network_codecs, sh_.policy.video_codecs)
                            : sdp::to_network_offer(body, network_leg(), sh_.policy);
  if (!r.ok) return r;
  apply_browser(t, false);
  transcode_offer_ = transcode;
  pending_ = Pending::kBrowserOffer;
  early_answer_ = false;
  offer_ = std::string(body);
  return r;
}

sdp::Result Anchor::network_sdp(std::string_view body, bool provisional) {
  sdp::NetworkMedia m = sdp::describe_network(body);
  if (!m.ok) return rejected("network SDP: " + m.error);
  if (pending_ == Pending::kBrowserOffer) {
    sdp::TranscodePlan plan;
    sdp::Result r = transcode_offer_ ? sdp::to_browser_answer_transcoding(
                                           body, offer_, browser_leg(), sh_.browser_codecs, plan)
                                     : sdp::to_browser_answer(body, offer_, browser_leg());
    if (!r.ok) return r;
    if (std::string err; !use_plan(transcode_offer_ ? &plan : nullptr, err))
      return rejected("transcoding: " + err);
    apply_network(m);
    settle(provisional);
    return r;
  }
  // An offer from the core: relayed when the legs can share a codec; else the browser is
  // offered its own codecs, and the core's answer waits for the browser's.
  sdp::BrowserLeg leg = browser_leg();
  leg.setup = "actpass";
  sdp::NetworkChoice net = sdp::pick_network_codec(body, sh_.browser_codecs, sh_.network_codecs);
  bool transcode = !net.shared && !net.codec.empty();
  // Neither a codec both lists allow nor one of network_codecs to transcode from: relayed only
  // when it is opus and media.opus_to_network lets opus into the IMS, else refused (488).
  if (!net.shared && net.codec.empty() && !sh_.policy.allow_opus_to_network)
    return rejected("network SDP: no codec of transcoding.network_codecs offered");
  sdp::CodecPolicy policy = sh_.policy;
  if (!m.video.present || !want_video()) policy.video_codecs.clear();
  sdp::Result r = transcode ? sdp::to_browser_offer_transcoding(body, leg, sh_.browser_codecs,
                                                                policy.video_codecs)
                            : sdp::to_browser_offer(body, leg, policy);
  if (!r.ok) return r;
  apply_network(m);
  transcode_offer_ = transcode;
  pending_ = Pending::kNetworkOffer;
  early_answer_ = false;
  offer_ = std::string(body);
  return r;
}

bool Anchor::use_plan(const sdp::TranscodePlan* plan, std::string& error) {
  if (plan) return start_transcoding(*plan, error);
  if (transcoder_) rtcp_stop(true);  // rtcgw's own streams end: RTCP BYE on each leg
  transcoder_.reset();               // relayed: a re-negotiation may end transcoding
  return true;
}

bool Anchor::start_transcoding(const sdp::TranscodePlan& plan, std::string& error) {
  bool same = transcoder_ && plan.browser_codec == plan_.browser_codec &&
              plan.browser_pt == plan_.browser_pt && plan.network_codec == plan_.network_codec &&
              plan.network_pt == plan_.network_pt &&
              plan.browser_event_pt == plan_.browser_event_pt &&
              plan.network_event_pt == plan_.network_event_pt;
  if (same) return true;  // a re-offer with the same codecs keeps the running transcoder
  codec::TranscoderConfig cfg;
  cfg.browser = {codec_of_name(plan.browser_codec), uint8_t(plan.browser_pt),
                 plan.browser_event_pt};
  cfg.network = {codec_of_name(plan.network_codec), uint8_t(plan.network_pt),
                 plan.network_event_pt};
  cfg.opus = sh_.opus;
  cfg.inband_dtmf = sh_.inband_dtmf;
  if (transcoder_) {
    // A codec changed mid-call: what the old transcoder holds goes out, and the new one goes
    // on with the same output streams (SSRC, next sequence numbers, timestamps), so the far
    // ends see no gap longer than one packet time.
    auto sink = [this](codec::Leg to, uint8_t* p, size_t n) { send_transcoded(to, p, n); };
    transcoder_->flush_all(now_ms(), g_transcoded, codec::Transcoder::kMaxOutput,
                           codec::PacketSink::of(sink));
    transcoder_->continue_streams(cfg, now_ms());
  } else {
    codec::randomize_stream_ids(cfg);
  }
  auto t = codec::Transcoder::make(cfg, error);
  if (!t) return false;
  transcoder_ = std::move(t);
  plan_ = plan;
  rtcp_start(cfg);
  spdlog::info("media {}: transcoding {}/{} (browser) <-> {}/{} (network)", call_id_,
               plan.browser_codec, plan.browser_pt, plan.network_codec, plan.network_pt);
  return true;
}

void Anchor::final_response(bool success) {
  if (pending_ == Pending::kNone) return;
  if (success && early_answer_) established_ = true;
  pending_ = Pending::kNone;
  early_answer_ = false;
  offer_.clear();
}

void Anchor::apply_browser(const sdp::BrowserTransport& t, bool answer) {
  bool first = !have_browser_;
  if (!first && !answer && t.ice_restart_from(browser_)) {
    // RFC 8839 section 4.4.1.1.1: the answerer of an ICE restart changes its credentials too.
    // The old address keeps working until a check succeeds on the new credentials.
    ice_.set_local(random_ice_string(8), random_ice_string(24));
    nominated_ = false;
    if (agent_) {
      // The browser offered the restart: it controls from now (RFC 8445 section 9).
      if (!agent_->restart()) spdlog::warn("media {}: libnice refused the ICE restart", call_id_);
      agent_->set_role(IceAgent::Role::kControlled);
    }
    spdlog::info("media {}: ICE restart from the browser", call_id_);
  }
  ice_.set_remote(t.ice_ufrag, t.ice_pwd);
  if (agent_) {
    // RFC 8445 section 6.1.1, both agents full: the offerer controls, so rtcgw does when the
    // browser answers its offer (a call from the core). Later offers keep the roles.
    if (first)
      agent_->set_role(answer ? IceAgent::Role::kControlling : IceAgent::Role::kControlled);
    if (agent_->set_remote(t.ice_ufrag, t.ice_pwd, t.candidates) < 0)
      spdlog::warn("media {}: libnice refused the browser's ICE credentials", call_id_);
  }
  // Our role: the opposite of what the browser takes; actpass in an offer leaves us passive
  // (RFC 5763 section 5), and a passive answerer only waits for the ClientHello.
  DtlsRole role = t.setup == "passive" ? DtlsRole::kClient : DtlsRole::kServer;
  if (first || t.new_dtls_from(browser_) || (answer && role != dtls_role_)) {
    if (!first) spdlog::info("media {}: new DTLS association", call_id_);
    new_dtls(role, t.fingerprint);
  }
  browser_ = t;
  have_browser_ = true;
  apply_video(&t, nullptr);
}

void Anchor::new_dtls(DtlsRole role, const std::string& fingerprint) {
  dtls_role_ = role;
  dtls_started_ = false;
  dtls_ = std::make_unique<DtlsSession>(
      sh_.dtls, role, fingerprint,
      [this](const uint8_t* d, size_t n) {
        if (browser_addr_.valid()) send_to_browser(d, n);
      },
      [this](DtlsState s) { on_dtls_state(s); });
  maybe_start_dtls();
}

void Anchor::maybe_start_dtls() {
  if (!dtls_ || dtls_started_) return;
  // A server only arms itself; a client sends its ClientHello once ICE gave an address.
  if (dtls_role_ == DtlsRole::kClient && !browser_addr_.valid()) return;
  dtls_started_ = true;
  dtls_->start();
}

void Anchor::on_dtls_state(DtlsState s) {
  if (s == DtlsState::kConnected) {
    auto srtp = std::make_unique<SrtpSession>();
    std::string err;
    if (!srtp->init(dtls_->keys(), err)) {
      spdlog::warn("media {}: SRTP setup failed: {}", call_id_, err);
      sh_.metrics.dtls_handshake("srtp_failed");
      return;
    }
    srtp_ = std::move(srtp);
    sh_.metrics.dtls_handshake("ok");
    spdlog::info("media {}: DTLS connected with {} ({}), SRTP {}", call_id_, browser_addr_.text(),
                 dtls_role_ == DtlsRole::kServer ? "passive" : "active",
                 profile_name(dtls_->keys().profile));
  } else if (s == DtlsState::kFailed) {
    bool mismatch = dtls_->error() == "fingerprint mismatch";
    sh_.metrics.dtls_handshake(mismatch ? "fingerprint_mismatch" : "failed");
    if (g_drop_log.allow())
      spdlog::warn("media {}: DTLS with {} failed: {}", call_id_, browser_addr_.text(),
                   dtls_->error());
  }
}

void Anchor::apply_network(const sdp::NetworkMedia& m) {
  injector_.set_formats(m.formats);
  apply_video(nullptr, &m);
  Endpoint rtp = Endpoint::from(m.address, m.rtp_port);
  Endpoint rtcp = Endpoint::from(m.address, m.rtcp_mux ? m.rtp_port : m.rtcp_port);
  if (!rtp.valid() || m.rtp_port == 0) return;  // a hold with 0.0.0.0 or port 0: keep the old
  if (rtp != net_.rtp_addr) net_.latched = false;
  if (rtcp != net_.rtcp_addr) net_.rtcp_latched = false;
  net_.rtp_addr = rtp;
  net_.rtcp_addr = rtcp;
  net_.rtcp_mux = m.rtcp_mux;
}

bool Anchor::want_video() {
  if (!sh_.video) return false;
  std::string err;
  if (open_video(err)) return true;
  spdlog::warn("media {}: video rejected: {}", call_id_, err);
  return false;
}

}  // namespace rtcgw::media
