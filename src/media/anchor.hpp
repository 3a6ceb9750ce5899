// The media anchor of one dialog: the browser leg (ICE-lite, DTLS, SRTP on one rtcp-muxed UDP
// port) bridged to the network leg (plain RTP and RTCP on an even/odd port pair), and the SDP
// offer/answer state that drives both (RFC 3264).
//
// Every SDP of the dialog passes through browser_sdp() or network_sdp(), whichever side sent
// it; the anchor knows from its offer/answer state whether it is an offer or an answer, applies
// what it says to the legs, and returns the translated SDP for the other side.
//
// Packet path, browser -> network: recv -> classify -> STUN: IceLite answers and the checked
// address becomes the browser's address | DTLS: only from that address | SRTP/SRTCP: unprotect
// in place -> send to the network's address. Network -> browser: recv -> latch the far end's
// address (symmetric RTP) -> protect in place -> send to the browser's address.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codec/transcoder.hpp"
#include "loop/timer.hpp"
#include "media/dtls.hpp"
#include "media/dtmf_injector.hpp"
#include "media/ice_agent.hpp"
#include "media/ice_lite.hpp"
#include "media/poller.hpp"
#include "media/port_pool.hpp"
#include "media/rtcp_report.hpp"
#include "media/srtp.hpp"
#include "media/udp_socket.hpp"
#include "sdp/describe.hpp"
#include "sdp/translate.hpp"

namespace rtcgw {
class Metrics;
}

namespace rtcgw::media {

// What all anchors share (owned by Anchors).
struct Shared {
  Poller& poller;
  PortPool& ports;
  const DtlsContext& dtls;
  const std::string& fingerprint;  // of the DTLS certificate, "AB:CD:..."
  std::string advertised;          // address written into SDP
  sdp::CodecPolicy policy;
  Metrics& metrics;
  // transcoding.*: codecs per leg in preference order, and the Opus encoder's settings.
  std::vector<std::string> browser_codecs;
  std::vector<std::string> network_codecs;
  codec::OpusParams opus;
  // dtmf.inband: INFO digits as tones in the G.711 stream when the IMS took no telephone-event.
  bool inband_dtmf = true;
  // RFC 7675 section 5.1: media towards the browser stops when its last consent check (an ICE
  // check on the selected address) is older than this. Tests shorten it.
  int64_t consent_expiry_ms = 30000;
  // media.ice: full: the browser leg is a libnice agent (IceAgent) instead of IceLite on a
  // socket of rtcgw's own.
  bool ice_full = false;
  // media.video: passthrough (policy.video_codecs holds media.video_codecs then), and the b=AS
  // of video lines.
  bool video = false;
  unsigned video_kbps = 2000;
  // Called when an anchor binds ports after it was made (video): the ports gauge is refreshed.
  std::function<void()> ports_changed = {};
};

class Anchor {
 public:
  Anchor(Shared& shared, std::string call_id);
  ~Anchor();
  Anchor(const Anchor&) = delete;
  Anchor& operator=(const Anchor&) = delete;

  // Binds the three ports; false (with the reason) when none are free.
  bool open(std::string& error);

  // An SDP body from the browser / from the core. `provisional` for SDP in a 1xx: an answer
  // there is applied, yet the offer stays open until the final response repeats or replaces it.
  sdp::Result browser_sdp(std::string_view body, bool provisional);
  sdp::Result network_sdp(std::string_view body, bool provisional);
  // The final response of the transaction carrying the open offer, when it had no SDP: a
  // success commits an answer seen in a 1xx; a failure forgets the offer (RFC 3261 14.1).
  void final_response(bool success);
  // An offer and its answer have completed at least once.
  bool established() const { return established_; }
  bool offer_pending() const { return pending_ != Pending::kNone; }

  // DTMF that came by SIP INFO, sent towards the IMS as RFC 4733 events (one report every
  // 50 ms, three end packets) when its leg took telephone-event: on a transcoded call in rtcgw's
  // stream, on a relayed call injected into the browser's stream (DtmfInjector); else, by
  // dtmf.inband, as tones in the G.711 stream. Digits asked for while one plays follow it.
  // False when this call cannot (on a relayed call: also before the browser's first RTP).
  bool send_dtmf(uint8_t event, int duration_ms);
  bool transcoding() const { return transcoder_ != nullptr; }

  // Milliseconds (monotonic) of the last packet received on either leg; the creation time
  // before any.
  int64_t last_activity_ms() const { return last_rx_ms_; }
  unsigned ports_held() const;
  const std::string& call_id() const { return call_id_; }

 private:
  enum class Pending { kNone, kBrowserOffer, kNetworkOffer };

  void settle(bool provisional);
  void on_browser_readable();
  void on_network_readable(bool rtcp_socket);
  void browser_packet(uint8_t* buf, size_t len, const Endpoint& from);
  void network_packet(uint8_t* buf, size_t len, const Endpoint& from, bool rtcp_socket);
  void apply_browser(const sdp::BrowserTransport& t, bool answer);
  void apply_network(const sdp::NetworkMedia& m);
  void new_dtls(DtlsRole role, const std::string& fingerprint);
  void on_dtls_state(DtlsState s);
  void maybe_start_dtls();
  sdp::BrowserLeg browser_leg();
  sdp::NetworkLeg network_leg();
  void drop(const char* reason, const Endpoint& from);
  // Everything towards the browser: on the ICE agent's selected pair (media.ice: full), else
  // from the browser socket to the checked address.
  bool send_to_browser(const uint8_t* buf, size_t len);
  bool open_ice_agent(std::string& error);
  void on_ice_data(uint8_t* buf, size_t len);
  void on_ice_state(IceAgent::State s);
  bool start_transcoding(const sdp::TranscodePlan& plan, std::string& error);
  // An answer completed an offer: transcode as `plan` says (kept when unchanged), or relay
  // when it is null.
  bool use_plan(const sdp::TranscodePlan* plan, std::string& error);

  Shared& sh_;
  std::string call_id_;
  UdpSocket browser_sock_;

  // Offer/answer.
  Pending pending_ = Pending::kNone;
  std::string offer_;          // the open offer as it arrived (untranslated)
  bool early_answer_ = false;  // the open offer was answered in a 1xx
  bool established_ = false;
  uint64_t session_id_;
  uint64_t browser_version_ = 0, network_version_ = 0;

  // Browser leg.
  IceLite ice_;
  // media.ice: full: the browser leg's libnice agent; browser_sock_ then stays closed.
  std::unique_ptr<IceAgent> agent_;
  sdp::BrowserTransport browser_;  // what the browser's last SDP said
  bool have_browser_ = false;
  Endpoint browser_addr_;   // where checks succeeded (the nominated pair when USE-CANDIDATE)
  int64_t consent_ms_ = 0;  // monotonic ms of the last check answered from browser_addr_
  bool nominated_ = false;
  std::unique_ptr<DtlsSession> dtls_;
  DtlsRole dtls_role_ = DtlsRole::kServer;
  bool dtls_started_ = false;
  std::unique_ptr<SrtpSession> srtp_;  // set once DTLS connected

  // Network leg.
  // One RTP/RTCP port pair towards the IMS and where its far end is.
  struct NetPath {
    UdpSocket rtp, rtcp;
    Endpoint rtp_addr, rtcp_addr;  // from SDP, replaced by the source once packets come
    bool rtcp_mux = false;
    bool latched = false, rtcp_latched = false;
    const UdpSocket& rtcp_via() const { return rtcp_mux ? rtp : rtcp; }
  };
  NetPath net_;  // the audio line's
  // Video passthrough (media.video, anchor_video.cpp): the video line's own pair, bound on the
  // first SDP that has a video line rtcgw may bridge; RTP from the browser with one of the
  // payload types of the browser's video line goes there, the rest is audio.
  NetPath video_;
  bool video_on_ = false;  // both sides' last SDPs have an open video line
  bool browser_video_open_ = false, net_video_open_ = false;
  uint8_t video_pt_[128] = {};
  uint32_t browser_video_ssrc_[4] = {};  // the browser's video senders, as their RTP shows them
  uint32_t net_video_ssrc_ = 0;          // the IMS's video sender, likewise
  bool open_video(std::string& error);
  bool want_video();  // media.video on and the video ports bound (a warning when none are free)
  void apply_video(const sdp::BrowserTransport* t, const sdp::NetworkMedia* m);
  bool browser_video_rtp(const uint8_t* buf, size_t n);
  bool browser_video_rtcp(const uint8_t* buf, size_t n) const;
  void on_video_readable(bool rtcp_socket);
  void video_from_network(uint8_t* buf, size_t len, const Endpoint& from, bool rtcp_socket);
  void video_from_browser(uint8_t* buf, size_t n, bool rtcp);

  // Shared by the legs' packet paths (anchor_packets.cpp).
  // Symmetric RTP on one network pair: false (counted) for a packet from elsewhere.
  bool latch(NetPath& p, bool rtcp_socket, const Endpoint& from, const char* what);
  // Whether packets can go to the browser (SRTP keyed, an address with consent); counts why not.
  bool browser_ready(const Endpoint& from);
  // SRTP/SRTCP-protects a network packet in place and sends it to the browser.
  void protect_to_browser(uint8_t* buf, size_t len, bool rtcp);
  // Reads `s` in recvmmsg batches (a few per wakeup) and hands each datagram to `f`
  // (defined in anchor_packets.cpp, the only user).
  template <class F>
  void read_batches(UdpSocket& s, F&& f);

  // Transcoding (issue 4): set by an answer to an offer rtcgw made for transcoding, in either
  // direction (the browser's offer to the IMS, or the core's offer to the browser).
  bool transcode_offer_ = false;  // the open offer was made for transcoding
  sdp::TranscodePlan plan_;
  std::unique_ptr<codec::Transcoder> transcoder_;
  // Where the transcoder's packets go (its PacketSink), and the one-shot timer that ends its
  // waits (reordered packets, a remainder under 20 ms) when no further packet comes.
  void send_transcoded(codec::Leg to, uint8_t* rtp, size_t len);
  void arm_transcoder_timer();
  loop::Timer transcoder_timer_;
  int64_t transcoder_due_ms_ = -1;
  // RTCP of rtcgw's own streams on a transcoded call, one report per leg (anchor_rtcp.cpp).
  void rtcp_start(const codec::TranscoderConfig& cfg);
  void rtcp_stop(bool send_bye);
  void rtcp_schedule();
  void rtcp_send(bool bye);
  // The peer's RTP or RTCP on `leg` (after SRTP); false for RTCP the report refuses.
  bool rtcp_observe(codec::Leg leg, bool rtcp, const uint8_t* p, size_t n);
  void rtcp_sent(codec::Leg leg, const uint8_t* rtp, size_t n);
  std::string cname_;
  int64_t wallclock_offset_us_ = 0;
  std::unique_ptr<RtcpReport> rtcp_browser_, rtcp_network_;
  loop::Timer rtcp_timer_;

  // DTMF by INFO: the packets of the digit playing, and the digits waiting.
  void dtmf_tick();
  void dtmf_start(uint8_t event, int duration_ms);
  void tone_tick();  // the next waiting digit in-band once the one playing is over
  std::vector<codec::EventPacket> dtmf_packets_;
  size_t dtmf_next_ = 0;
  int64_t dtmf_started_ms_ = 0;
  std::vector<std::pair<uint8_t, int>> dtmf_waiting_;
  loop::Timer dtmf_timer_;
  // DTMF by INFO on a relayed call: the browser's stream rewritten, the timer pacing events.
  void inject_tick();
  DtmfInjector injector_;
  loop::Timer inject_timer_;

  int64_t last_rx_ms_ = 0;
};

}  // namespace rtcgw::media
