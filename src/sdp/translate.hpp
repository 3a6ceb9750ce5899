// SDP translation of the media anchor (architecture.md section 4, issue 3): the WebRTC SDP the
// browser speaks (UDP/TLS/RTP/SAVPF, ICE, DTLS, BUNDLE, mid) <-> the plain RTP/AVP SDP the IMS
// takes (TS 23.228 Annex U: WebRTC-only extensions stop at the access edge). Pure text in, text
// out: no sockets, no ICE or DTLS state. Sofia-sip parses every input; every output is parsed
// again before it is returned, so a result with ok == true always holds an SDP sofia accepts.
//
// m= lines keep their number and order on both sides (RFC 3264 section 6), so line i of an
// answer always matches line i of the offer it answers. The first audio line is bridged, and
// with media.video: passthrough the first video line bundled with it (its codecs relayed as
// they are, on a port pair of its own towards the IMS); further lines are rejected with port 0.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rtcgw::sdp {

struct Result {
  bool ok = false;
  std::string sdp;     // the translated SDP (CRLF line ends) when ok
  std::string error;   // why not, when !ok
  int sip_status = 0;  // when !ok: 488 (Not Acceptable Here) for the side that sent the input
};

// The plain-RTP leg towards the IMS.
struct NetworkLeg {
  std::string address;  // c= and o= address (IPv4 or IPv6 literal)
  uint16_t rtp_port = 0;
  bool rtcp_mux_offered = false;  // add a=rtcp-mux (offer it / accept the network's offer)
  uint64_t session_id = 0;        // o= session id, fixed for the dialog
  uint64_t session_version = 1;   // o= version: the caller increments it on every new SDP
  // The video port pair's RTP port (RTCP on the next); 0: video lines are rejected.
  uint16_t video_rtp_port = 0;
  bool video_rtcp_mux_offered = false;
  unsigned video_kbps = 2000;  // b=AS of the video line
};

// The WebRTC leg towards the browser (ICE-lite, DTLS-SRTP, rtcp-mux).
struct BrowserLeg {
  std::string address;  // c= address (media.advertised_address when set)
  uint16_t port = 0;
  std::string ice_ufrag;
  std::string ice_pwd;
  std::string fingerprint_sha256;  // "AB:CD:..."
  // Answers: "passive" (the browser, offering actpass, becomes the DTLS client) or "active";
  // anything else takes the role the offer leaves. Offers always say actpass.
  std::string setup = "passive";
  // a=candidate values without the "candidate:" prefix, e.g.
  // "1 1 udp 2130706431 192.0.2.1 40000 typ host". Empty: one host candidate on address:port.
  std::vector<std::string> candidates;
  // a=ice-lite at session level (media.ice: lite); a full agent (media.ice: full) omits it.
  bool ice_lite = true;
  // Offers: the mids the browser gave each m= line in earlier negotiations of this dialog
  // (a browser refuses an offer that changes an m= line's mid); lines beyond it, or with "",
  // get their index.
  std::vector<std::string> mids;
  uint64_t session_id = 0;
  uint64_t session_version = 1;
  unsigned video_kbps = 2000;  // b=AS of a bridged video line (the browser's send limit)
};

struct CodecPolicy {
  bool allow_opus_to_network = false;
  // transcoding.network_codecs / transcoding.browser_codecs: relayed offers towards a side list
  // only that side's codecs (plus telephone-event). Empty: every G.711 towards the IMS, every
  // codec the browser decodes towards the browser.
  std::vector<std::string> network_codecs;
  std::vector<std::string> browser_codecs;
  // media.video: passthrough: the video codecs relayed ("VP8", "H264"), in preference order;
  // empty: video lines are rejected (media.video: reject, or no port pair free for video).
  // Offers towards either side then carry the first video line that is bundled with the
  // bridged audio line (browser offers) or plain RTP (core offers), with these codecs only (no
  // rtx, red or FEC: they need the ssrc-group lines the IMS does not get), and none whose
  // payload type the bridged audio line uses (the browser leg tells the two apart by it).
  std::vector<std::string> video_codecs;
};

// b=AS value written on the network audio line: G.711 at 20 ms is 64 kbit/s of payload plus
// 40 bytes IPv4/UDP/RTP headers x 50 packets/s = 16 kbit/s, so 80 (88 over IPv6, 60 bytes of
// headers). Opus, when allowed, fits in the same figure at the rates browsers use for speech.
constexpr unsigned kAudioAsIPv4 = 80;
constexpr unsigned kAudioAsIPv6 = 88;

// Browser offer -> offer to the IMS (RTP/AVP, PCMU/PCMA/telephone-event[/opus], b=AS).
// 488 when the offer cannot be parsed or has no audio codec the network can take.
Result to_network_offer(std::string_view browser_offer, const NetworkLeg& leg,
                        const CodecPolicy& policy = {});

// IMS answer to that offer -> answer to the browser (SAVPF, ICE-lite, DTLS, mids, BUNDLE).
// The answered codecs are written with the browser's payload type numbers.
Result to_browser_answer(std::string_view network_answer, std::string_view browser_offer,
                         const BrowserLeg& leg);

// Calls from the core: network offer (RTP/AVP) -> offer to the browser (setup:actpass, one
// mid per m= line, BUNDLE of the accepted lines). Codecs are those the browser can decode:
// PCMU, PCMA, G722, opus, CN and telephone-event; none of them -> 488.
Result to_browser_offer(std::string_view network_offer, const BrowserLeg& leg,
                        const CodecPolicy& policy = {});

// Browser answer to that offer -> answer to the IMS, with the network offer's payload types.
Result to_network_answer(std::string_view browser_answer, const NetworkLeg& leg,
                         std::string_view network_offer);

// Issue 4: transcoding when the browser's offer shares no codec with what the IMS takes.
// Codec names as in a=rtpmap ("opus", "PCMU", "PCMA"), lists in preference order.
struct TranscodePlan {
  std::string browser_codec;  // what the browser leg carries
  int browser_pt = -1;
  int browser_event_pt = -1;  // telephone-event at the browser codec's clock, -1: none
  std::string network_codec;  // what the network leg carries
  int network_pt = -1;
  int network_event_pt = -1;
};

// The codec the browser leg would carry: the first of `browser_codecs` the offer has; "" when
// none. `shared`: whether the offer also has one of `network_codecs` allowed on both legs (then
// no transcoding is needed).
std::string pick_browser_codec(std::string_view browser_offer,
                               const std::vector<std::string>& browser_codecs,
                               const std::vector<std::string>& network_codecs, bool& shared);

// Browser offer -> offer to the IMS listing `network_codecs` (G.711 with their static payload
// types) and telephone-event/8000, for a call rtcgw transcodes.
Result to_network_offer_transcoding(std::string_view browser_offer, const NetworkLeg& leg,
                                    const std::vector<std::string>& network_codecs,
                                    const std::vector<std::string>& video_codecs = {});

// The IMS's answer to that -> the answer to the browser with its best codec of
// `browser_codecs`, and what each leg carries.
Result to_browser_answer_transcoding(std::string_view network_answer,
                                     std::string_view browser_offer, const BrowserLeg& leg,
                                     const std::vector<std::string>& browser_codecs,
                                     TranscodePlan& plan);

// The same for calls from the core (transcode_core.cpp). What the network leg would carry of
// the core's offer: `shared` when the offer has a codec allowed on both legs (relay it with
// to_browser_offer, no transcoding); else the first G.711 codec of `network_codecs` the offer
// has, with the offer's payload types. `codec` is "" when there is none: rtcgw then relays the
// offer as before, and to_browser_offer answers 488 when the browser can decode none of it.
struct NetworkChoice {
  bool shared = false;
  std::string codec;
  int pt = -1;
  int event_pt = -1;  // the offer's telephone-event/8000, -1: none
};
NetworkChoice pick_network_codec(std::string_view network_offer,
                                 const std::vector<std::string>& browser_codecs,
                                 const std::vector<std::string>& network_codecs);

// Network offer -> offer to the browser listing only `browser_codecs` (opus 111 with in-band
// FEC, PCMU 0, PCMA 8, in list order) and telephone-event (110 at 48000 with opus, 126 at 8000
// with G.711: Chromium's numbers), for a call rtcgw transcodes. The rest as to_browser_offer.
Result to_browser_offer_transcoding(std::string_view network_offer, const BrowserLeg& leg,
                                    const std::vector<std::string>& browser_codecs,
                                    const std::vector<std::string>& video_codecs = {});

// The browser's answer to that -> the answer to the IMS with the codec pick_network_codec
// chose and the offer's telephone-event/8000, both with the offer's payload types; `plan` says
// what each leg carries. 488 when the browser took none of `browser_codecs`.
Result to_network_answer_transcoding(std::string_view browser_answer, const NetworkLeg& leg,
                                     std::string_view network_offer,
                                     const std::vector<std::string>& browser_codecs,
                                     const std::vector<std::string>& network_codecs,
                                     TranscodePlan& plan);

}  // namespace rtcgw::sdp
