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
// One receive buffer for the whole process: the loop is single-threaded and a packet is
// finished with before the next is read. Room for the SRTP trailer the protect step adds.
uint8_t g_packet[kMaxDatagram + kSrtpMaxTrailer + 64];
// What the transcoder writes for the other leg, with room for the SRTP trailer.
uint8_t g_transcoded[codec::Transcoder::kMaxOutput + kSrtpMaxTrailer + 64];
constexpr int kReadsPerWakeup = 64;

int64_t now_ms() { return g_get_monotonic_time() / 1000; }

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
      last_rx_ms_(now_ms()) {}

Anchor::~Anchor() {
  // The DTLS session may send close_notify through the browser socket: end it first.
  dtls_.reset();
}

bool Anchor::open(std::string& error) {
  if (!sh_.ports.bind_pair(net_rtp_, net_rtcp_) || !sh_.ports.bind_one(browser_sock_)) {
    error = "no free media port in media.port_range";
    return false;
  }
  bool ok = browser_sock_.watch(sh_.poller, [this] { on_browser_readable(); }) &&
            net_rtp_.watch(sh_.poller, [this] { on_network_readable(false); }) &&
            net_rtcp_.watch(sh_.poller, [this] { on_network_readable(true); });
  if (!ok) error = "cannot poll the media sockets";
  return ok;
}

unsigned Anchor::ports_held() const {
  return unsigned(browser_sock_.open()) + unsigned(net_rtp_.open()) + unsigned(net_rtcp_.open());
}

sdp::BrowserLeg Anchor::browser_leg() {
  sdp::BrowserLeg leg;
  leg.address = sh_.advertised;
  leg.port = browser_sock_.port();
  leg.ice_ufrag = ice_.local_ufrag();
  leg.ice_pwd = ice_.local_pwd();
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
    sdp::Result r = sdp::to_network_answer(body, network_leg(), offer_);
    if (!r.ok) return r;
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
    if (!transcode_offer_) {
      transcoder_.reset();
    } else if (std::string err; !start_transcoding(plan, err)) {
      return rejected("transcoding: " + err);
    }
    apply_network(m);
    settle(provisional);
    return r;
  }
  sdp::BrowserLeg leg = browser_leg();
  leg.setup = "actpass";
  sdp::Result r = sdp::to_browser_offer(body, leg);
  if (!r.ok) return r;
  apply_network(m);
  pending_ = Pending::kNetworkOffer;
  early_answer_ = false;
  offer_ = std::string(body);
  return r;
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
  codec::randomize_stream_ids(cfg);
  auto t = codec::Transcoder::make(cfg, error);
  if (!t) return false;
  transcoder_ = std::move(t);
  plan_ = plan;
  spdlog::info("media {}: transcoding {}/{} (browser) <-> {}/{} (network)", call_id_,
               plan.browser_codec, plan.browser_pt, plan.network_codec, plan.network_pt);
  return true;
}

bool Anchor::send_dtmf(uint8_t event, int duration_ms) {
  if (!transcoder_ || plan_.network_event_pt < 0 || !net_rtp_addr_.valid()) return false;
  if (event > 15 || duration_ms < 1 || duration_ms > 60000) return false;
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
    if (transcoder_ &&
        transcoder_->write_event(codec::Leg::kNetwork, dtmf_packets_[dtmf_next_], g_transcoded,
                                 sizeof g_transcoded, len) &&
        net_rtp_.send(g_transcoded, len, net_rtp_addr_))
      sh_.metrics.media_packet_out(false);
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
    spdlog::info("media {}: ICE restart from the browser", call_id_);
  }
  ice_.set_remote(t.ice_ufrag, t.ice_pwd);
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
        if (browser_addr_.valid()) browser_sock_.send(d, n, browser_addr_);
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
  Endpoint from;
  for (int i = 0; i < kReadsPerWakeup; ++i) {
    ssize_t n = browser_sock_.recv(g_packet, kMaxDatagram, from);
    if (n < 0) return;
    browser_packet(g_packet, size_t(n), from);
  }
}

void Anchor::on_network_readable(bool rtcp_socket) {
  Endpoint from;
  UdpSocket& s = rtcp_socket ? net_rtcp_ : net_rtp_;
  for (int i = 0; i < kReadsPerWakeup; ++i) {
    ssize_t n = s.recv(g_packet, kMaxDatagram, from);
    if (n < 0) return;
    network_packet(g_packet, size_t(n), from, rtcp_socket);
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
    if (rtcp || !net_rtp_addr_.valid()) return;
    size_t out = 0;
    if (!transcoder_->browser_to_network(buf, n, g_transcoded, codec::Transcoder::kMaxOutput, out))
      return drop("transcoder", from);
    if (net_rtp_.send(g_transcoded, out, net_rtp_addr_)) sh_.metrics.media_packet_out(false);
    return;
  }
  const Endpoint& to = rtcp ? net_rtcp_addr_ : net_rtp_addr_;
  const UdpSocket& via = rtcp && !net_rtcp_mux_ ? net_rtcp_ : net_rtp_;
  if (!to.valid()) return;  // no network answer yet
  if (via.send(buf, n, to)) sh_.metrics.media_packet_out(false);
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
  if (!srtp_ || !browser_addr_.valid()) return drop("browser_not_ready", from);
  size_t n = len;
  if (transcoder_) {
    if (rtcp) return;  // each leg's RTCP stays on its leg
    if (!transcoder_->network_to_browser(buf, len, g_transcoded, codec::Transcoder::kMaxOutput, n))
      return drop("transcoder", from);
    buf = g_transcoded;
  }
  if (!(rtcp ? srtp_->protect_rtcp(buf, n) : srtp_->protect_rtp(buf, n))) {
    sh_.metrics.media_dropped(std::string("srtp_protect_") + srtp_->last_error());
    return;
  }
  if (browser_sock_.send(buf, n, browser_addr_)) sh_.metrics.media_packet_out(true);
}

}  // namespace rtcgw::media
