#include "media/anchor.hpp"

#include <glib.h>
#include <openssl/rand.h>
#include <strings.h>

#include "media/demux.hpp"
#include "rtcgw/log.hpp"
#include "rtcgw/metrics.hpp"

namespace rtcgw::media {
namespace {

constexpr size_t kMaxDatagram = 1500;
// One receive batch for the whole process: the loop is single-threaded and a batch is finished
// with before the next is read. Each buffer has room for the SRTP trailer the protect step adds.
RecvBatch g_batch;
static_assert(RecvBatch::kBufSize >= kMaxDatagram + kSrtpMaxTrailer);
// What the transcoder writes for the other leg, with room for the SRTP trailer.
uint8_t g_transcoded[codec::Transcoder::kMaxOutput + kSrtpMaxTrailer + 64];
// At most this many batches per wakeup, so one busy socket cannot starve the loop.
constexpr int kBatchesPerWakeup = 4;

int64_t now_ms() { return g_get_monotonic_time() / 1000; }

// With media.ice: full libnice keeps RFC 7675 consent itself (a lost consent fails the agent and
// the browser's address is forgotten): the anchor's own consent clock, which IceLite's answers
// feed, is set where it never expires.
constexpr int64_t kConsentKeptByAgent = INT64_MAX / 4;

uint64_t random_session_id() {
  uint64_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) v = uint64_t(now_ms());
  return (v >> 2) | 1;  // positive as a signed 63-bit number, never 0 (RFC 4566 o=)
}

log::RateLimit g_drop_log{20};

codec::Codec codec_of_name(const std::string& name) {
  return strcasecmp(name.c_str(), "opus") == 0   ? codec::Codec::kOpus
         : strcasecmp(name.c_str(), "PCMA") == 0 ? codec::Codec::kPcma
                                                 : codec::Codec::kPcmu;
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
  if (!sh_.ports.bind_pair(net_rtp_, net_rtcp_) ||
      (!sh_.ice_full && !sh_.ports.bind_one(browser_sock_))) {
    error = "no free media port in media.port_range";
    return false;
  }
  if (sh_.ice_full && !open_ice_agent(error)) return false;
  bool ok = (sh_.ice_full || browser_sock_.watch(sh_.poller, [this] { on_browser_readable(); })) &&
            net_rtp_.watch(sh_.poller, [this] { on_network_readable(false); }) &&
            net_rtcp_.watch(sh_.poller, [this] { on_network_readable(true); });
  if (!ok) error = "cannot poll the media sockets";
  return ok;
}

unsigned Anchor::ports_held() const {
  return unsigned(browser_sock_.open() || agent_) + unsigned(net_rtp_.open()) +
         unsigned(net_rtcp_.open());
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
  return leg;
}

sdp::NetworkLeg Anchor::network_leg() {
  sdp::NetworkLeg leg;
  leg.address = sh_.advertised;
  leg.rtp_port = net_rtp_.port();
  leg.rtcp_mux_offered = net_rtcp_mux_;
  leg.session_id = session_id_;
  leg.session_version = ++network_version_;
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
  sdp::Result r = transcode
                      ? sdp::to_network_offer_transcoding(body, network_leg(), sh_.network_codecs)
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
  sdp::Result r = transcode ? sdp::to_browser_offer_transcoding(body, leg, sh_.browser_codecs)
                            : sdp::to_browser_offer(body, leg);
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

bool Anchor::send_dtmf(uint8_t event, int duration_ms) {
  if (event > 15 || duration_ms < 1 || duration_ms > 60000 || !net_rtp_addr_.valid()) return false;
  if (!transcoder_) {
    // Relayed: into the browser's own stream, which must have begun (its SSRC, codec, clock).
    if (!injector_.send(event, duration_ms, now_ms())) return false;
    inject_tick();
    return true;
  }
  if (plan_.network_event_pt < 0) {
    // No telephone-event towards the IMS: the digit in-band in rtcgw's G.711 (dtmf.inband).
    if (!sh_.inband_dtmf) return false;
    if (dtmf_waiting_.empty() && !transcoder_->tone_playing(codec::Leg::kNetwork))
      return transcoder_->play_tone(codec::Leg::kNetwork, event, duration_ms);
    if (dtmf_waiting_.size() >= 32) return false;
    dtmf_waiting_.emplace_back(event, duration_ms);
    if (!dtmf_timer_.active()) dtmf_timer_.every(10, [this] { tone_tick(); });
    return true;
  }
  if (dtmf_timer_.active()) {
    if (dtmf_waiting_.size() >= 32) return false;
    dtmf_waiting_.emplace_back(event, duration_ms);
    return true;
  }
  dtmf_start(event, duration_ms);
  return true;
}

void Anchor::dtmf_start(uint8_t event, int duration_ms) {
  codec::EventSender sender(codec::rtp_clock(codec_of_name(plan_.network_codec)),
                            uint8_t(plan_.network_event_pt), 50);
  dtmf_packets_.resize(sender.count(duration_ms));
  size_t n = sender.sequence(event, duration_ms, transcoder_->next_timestamp(codec::Leg::kNetwork),
                             10, dtmf_packets_.data(), dtmf_packets_.size());
  dtmf_packets_.resize(n);
  dtmf_next_ = 0;
  dtmf_started_ms_ = now_ms();
  dtmf_tick();
  if (dtmf_next_ < dtmf_packets_.size()) dtmf_timer_.every(10, [this] { dtmf_tick(); });
}

void Anchor::dtmf_tick() {
  int64_t elapsed = now_ms() - dtmf_started_ms_;
  while (dtmf_next_ < dtmf_packets_.size() && dtmf_packets_[dtmf_next_].at_ms <= elapsed) {
    size_t len = 0;
    if (transcoder_ && transcoder_->write_event(codec::Leg::kNetwork, dtmf_packets_[dtmf_next_],
                                                g_transcoded, sizeof g_transcoded, len))
      send_transcoded(codec::Leg::kNetwork, g_transcoded, len);
    ++dtmf_next_;
  }
  if (dtmf_next_ < dtmf_packets_.size()) return;
  dtmf_timer_.cancel();  // safe inside its own callback: Timer::fire works on copies
  if (!dtmf_waiting_.empty() && transcoder_) {
    auto [event, ms] = dtmf_waiting_.front();
    dtmf_waiting_.erase(dtmf_waiting_.begin());
    dtmf_start(event, ms);
  }
}

void Anchor::tone_tick() {
  if (transcoder_ && transcoder_->tone_playing(codec::Leg::kNetwork)) return;
  if (!transcoder_ || dtmf_waiting_.empty()) {
    dtmf_waiting_.clear();
    dtmf_timer_.cancel();  // safe inside its own callback: Timer::fire works on copies
    return;
  }
  auto [event, ms] = dtmf_waiting_.front();
  dtmf_waiting_.erase(dtmf_waiting_.begin());
  transcoder_->play_tone(codec::Leg::kNetwork, event, ms);
}

void Anchor::inject_tick() {
  size_t len = 0;
  while (injector_.next(now_ms(), g_transcoded, sizeof g_transcoded, len))
    if (net_rtp_.send(g_transcoded, len, net_rtp_addr_)) sh_.metrics.media_packet_out(false);
  if (!injector_.pacing())
    inject_timer_.cancel();  // safe inside its own callback: Timer::fire works on copies
  else if (!inject_timer_.active())
    inject_timer_.every(10, [this] { inject_tick(); });
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
  Endpoint rtp = Endpoint::from(m.address, m.rtp_port);
  Endpoint rtcp = Endpoint::from(m.address, m.rtcp_mux ? m.rtp_port : m.rtcp_port);
  if (!rtp.valid() || m.rtp_port == 0) return;  // a hold with 0.0.0.0 or port 0: keep the old
  if (rtp != net_rtp_addr_) net_latched_ = false;
  if (rtcp != net_rtcp_addr_) net_rtcp_latched_ = false;
  net_rtp_addr_ = rtp;
  net_rtcp_addr_ = rtcp;
  net_rtcp_mux_ = m.rtcp_mux;
}

void Anchor::drop(const char* reason, const Endpoint& from) {
  sh_.metrics.media_dropped(reason);
  if (g_drop_log.allow())
    spdlog::debug("media {}: dropped a packet from {}: {}", call_id_, from.text(), reason);
}

void Anchor::on_browser_readable() {
  for (int round = 0; round < kBatchesPerWakeup; ++round) {
    int n = browser_sock_.recv_batch(g_batch, kMaxDatagram);
    for (int i = 0; i < n; ++i) browser_packet(g_batch.data(i), g_batch.len(i), g_batch.from(i));
    if (n < RecvBatch::kSize) return;  // drained; the poller is level-triggered in any case
  }
}

void Anchor::on_network_readable(bool rtcp_socket) {
  UdpSocket& s = rtcp_socket ? net_rtcp_ : net_rtp_;
  for (int round = 0; round < kBatchesPerWakeup; ++round) {
    int n = s.recv_batch(g_batch, kMaxDatagram);
    for (int i = 0; i < n; ++i)
      network_packet(g_batch.data(i), g_batch.len(i), g_batch.from(i), rtcp_socket);
    if (n < RecvBatch::kSize) return;
  }
}

void Anchor::browser_packet(uint8_t* buf, size_t len, const Endpoint& from) {
  PacketKind kind = classify(buf, len);
  if (kind == PacketKind::kStun) {
    uint8_t reply[1500];
    IceLite::Outcome o = ice_.handle(buf, len, from.sa(), from.len, reply, sizeof reply);
    if (o.reply_len > 0) browser_sock_.send(reply, o.reply_len, from);
    switch (o.verdict) {
      case IceLite::Verdict::kAnswered:
        last_rx_ms_ = now_ms();
        if (!browser_addr_.valid() || (o.use_candidate && (!nominated_ || from != browser_addr_))) {
          if (browser_addr_.valid() && from != browser_addr_)
            spdlog::info("media {}: browser moved to {}", call_id_, from.text());
          browser_addr_ = from;
          nominated_ = nominated_ || o.use_candidate;
          maybe_start_dtls();
        }
        if (from == browser_addr_) consent_ms_ = last_rx_ms_;  // RFC 7675 consent refreshed
        return;
      case IceLite::Verdict::kBadIntegrity:
        return drop("stun_bad_integrity", from);
      case IceLite::Verdict::kBadUsername:
        return drop("stun_bad_username", from);
      case IceLite::Verdict::kMalformed:
        return drop("stun_malformed", from);
      case IceLite::Verdict::kRoleConflict:
        return drop("stun_role_conflict", from);
      case IceLite::Verdict::kIgnored:
        return;
    }
    return;
  }
  if (!browser_addr_.valid() || from != browser_addr_) return drop("unchecked_source", from);
  last_rx_ms_ = now_ms();
  if (kind == PacketKind::kDtls) {
    // Records OpenSSL refused, or DTLS when no session takes it: counted, the session goes on.
    if (!dtls_ || !dtls_->receive(buf, len)) drop("dtls_refused", from);
    return;
  }
  if (kind != PacketKind::kRtp && kind != PacketKind::kRtcp) return drop("unknown", from);
  if (!srtp_) return drop("srtp_not_ready", from);
  bool rtcp = kind == PacketKind::kRtcp;
  size_t n = len;
  if (!(rtcp ? srtp_->unprotect_rtcp(buf, n) : srtp_->unprotect_rtp(buf, n))) {
    sh_.metrics.media_dropped(std::string("srtp_") + srtp_->last_error());
    return;
  }
  sh_.metrics.media_packet_in(true);
  if (transcoder_) {
    // Each leg's RTCP reports that leg's own streams: the browser's is not relayed.
    if (!rtcp_observe(codec::Leg::kBrowser, rtcp, buf, n)) return drop("rtcp_malformed", from);
    if (rtcp || !net_rtp_addr_.valid()) return;
    auto sink = [this](codec::Leg to, uint8_t* p, size_t n) { send_transcoded(to, p, n); };
    const codec::PacketSink out = codec::PacketSink::of(sink);
    bool taken = transcoder_->browser_to_network(buf, n, last_rx_ms_, g_transcoded,
                                                 codec::Transcoder::kMaxOutput, out);
    arm_transcoder_timer();
    if (!taken) drop("transcoder", from);
    return;
  }
  const Endpoint& to = rtcp ? net_rtcp_addr_ : net_rtp_addr_;
  const UdpSocket& via = rtcp && !net_rtcp_mux_ ? net_rtcp_ : net_rtp_;
  if (!to.valid()) return;  // no network answer yet
  // DTMF by INFO: sequence numbers shifted around injected events, audio under them dropped.
  if (!rtcp && !injector_.relay(buf, n, last_rx_ms_)) return;
  if (via.send(buf, n, to)) sh_.metrics.media_packet_out(false);
  if (!rtcp && injector_.pacing() && !inject_timer_.active()) inject_tick();
}

// The transcoder's output (0..n packets per input, and what its timer releases): RTP to the
// IMS as it is; to the browser SRTP-protected in place (g_transcoded has room for the trailer).
void Anchor::send_transcoded(codec::Leg to, uint8_t* rtp, size_t len) {
  rtcp_sent(to, rtp, len);
  if (to == codec::Leg::kNetwork) {
    if (net_rtp_addr_.valid() && net_rtp_.send(rtp, len, net_rtp_addr_))
      sh_.metrics.media_packet_out(false);
    return;
  }
  if (!srtp_ || !browser_addr_.valid()) return;
  size_t n = len;
  if (!srtp_->protect_rtp(rtp, n)) {
    sh_.metrics.media_dropped(std::string("srtp_protect_") + srtp_->last_error());
    return;
  }
  if (send_to_browser(rtp, n)) sh_.metrics.media_packet_out(true);
}

// A one-shot timer for the transcoder's next deadline. Armed only when none is pending or the
// deadline moved earlier (a GLib source per packet would allocate on the packet path); firing
// early or for nothing is harmless: flush_due does what is due and the timer re-arms.
void Anchor::arm_transcoder_timer() {
  const int64_t due = transcoder_ ? transcoder_->next_deadline_ms() : -1;
  if (due < 0) return;
  if (transcoder_timer_.active() && transcoder_due_ms_ <= due) return;
  transcoder_due_ms_ = due;
  transcoder_timer_.once(unsigned(std::max<int64_t>(0, due - now_ms())), [this] {
    if (!transcoder_) return;
    auto sink = [this](codec::Leg to, uint8_t* p, size_t n) { send_transcoded(to, p, n); };
    transcoder_->flush_due(now_ms(), g_transcoded, codec::Transcoder::kMaxOutput,
                           codec::PacketSink::of(sink));
    arm_transcoder_timer();
  });
}

void Anchor::network_packet(uint8_t* buf, size_t len, const Endpoint& from, bool rtcp_socket) {
  PacketKind kind = classify(buf, len);
  if (kind != PacketKind::kRtp && kind != PacketKind::kRtcp) return drop("not_rtp", from);
  bool rtcp = rtcp_socket || kind == PacketKind::kRtcp;
  // Symmetric RTP (RFC 4961): the far end's first packet tells where it really is.
  Endpoint& addr = rtcp_socket ? net_rtcp_addr_ : net_rtp_addr_;
  bool& latched = rtcp_socket ? net_rtcp_latched_ : net_latched_;
  if (!latched) {
    if (addr != from)
      spdlog::debug("media {}: network {} latched to {}", call_id_, rtcp_socket ? "RTCP" : "RTP",
                    from.text());
    addr = from;
    latched = true;
  } else if (from != addr) {
    return drop("unexpected_source", from);
  }
  last_rx_ms_ = now_ms();
  sh_.metrics.media_packet_in(false);
  // Transcoded: the IMS's RTP and RTCP feed this leg's own reports, browser ready or not.
  if (transcoder_ && !rtcp_observe(codec::Leg::kNetwork, rtcp, buf, len))
    return drop("rtcp_malformed", from);
  if (!srtp_ || !browser_addr_.valid()) return drop("browser_not_ready", from);
  // RFC 7675 section 5.1: no media to an address whose consent (its last check) is older
  // than 30 s. last_rx_ms_ is now.
  if (last_rx_ms_ - consent_ms_ > sh_.consent_expiry_ms) return drop("consent_expired", from);
  size_t n = len;
  if (transcoder_) {
    if (rtcp) return;  // each leg's RTCP stays on its leg
    auto sink = [this](codec::Leg to, uint8_t* p, size_t n) { send_transcoded(to, p, n); };
    const codec::PacketSink out = codec::PacketSink::of(sink);
    bool taken = transcoder_->network_to_browser(buf, len, last_rx_ms_, g_transcoded,
                                                 codec::Transcoder::kMaxOutput, out);
    arm_transcoder_timer();
    if (!taken) drop("transcoder", from);
    return;
  }
  if (!(rtcp ? srtp_->protect_rtcp(buf, n) : srtp_->protect_rtp(buf, n))) {
    sh_.metrics.media_dropped(std::string("srtp_protect_") + srtp_->last_error());
    return;
  }
  if (send_to_browser(buf, n)) sh_.metrics.media_packet_out(true);
}

}  // namespace rtcgw::media
