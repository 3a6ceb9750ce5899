// What the media anchor needs to read out of an SDP besides translating it: the browser's ICE
// and DTLS parameters (to check STUN, verify the DTLS peer, and see an ICE restart or a new
// DTLS setup in a re-offer by comparing two values) and the network's RTP address and ports.
// No sofia types here; describe.cpp parses with sofia-sip like translate.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rtcgw::sdp {

// The browser's transport, read from the first audio m= line that is not rejected; media-level
// attributes win over session-level ones (Firefox puts a=fingerprint at session level).
struct BrowserTransport {
  bool ok = false;
  std::string error;
  std::string mid;
  std::vector<std::string> mids;  // a=mid of every m= line in order, "" where there is none
  std::string ice_ufrag;
  std::string ice_pwd;
  bool ice_lite = false;
  std::string fingerprint_alg;  // "sha-256"
  std::string fingerprint;      // "7B:8B:..."
  std::string setup;            // "actpass", "active", "passive"
  bool rtcp_mux = false;
  std::vector<std::string> candidates;  // a=candidate values without "candidate:"
  // The first open video line: whether there is one, and its payload types (on the bundled
  // transport, RTP with one of them is video; the browser's audio line uses none of them).
  bool video = false;
  std::vector<int> video_payload_types;

  // A re-offer with new ICE credentials restarts ICE (RFC 8839 section 4.4.1.1.1).
  bool ice_restart_from(const BrowserTransport& before) const {
    return ice_ufrag != before.ice_ufrag || ice_pwd != before.ice_pwd;
  }
  // A new fingerprint means a new DTLS association (RFC 8842 section 5). The setup role is
  // not compared: browsers re-offer actpass every time.
  bool new_dtls_from(const BrowserTransport& before) const {
    return fingerprint != before.fingerprint || fingerprint_alg != before.fingerprint_alg;
  }
};

// The network's RTP endpoint, from its first audio m= line that is not rejected.
struct NetworkMedia {
  bool ok = false;
  std::string error;
  std::string address;  // c= of the media or the session
  uint16_t rtp_port = 0;
  uint16_t rtcp_port = 0;  // a=rtcp, else rtp_port + 1; rtp_port when rtcp_mux
  bool rtcp_mux = false;
  std::string direction;           // "sendrecv", "sendonly", "recvonly", "inactive"
  std::vector<int> payload_types;  // in m= line order
  int telephone_event_pt = -1;     // the 8000 Hz one when several
  // Each payload type's encoding and clock (a=rtpmap, or RFC 3551's static table), in m= line
  // order; encoding "" and rate 0 when neither names it. The DTMF injector of a relayed call
  // reads the relayed codec's clock and the telephone-event at that clock from them.
  struct Format {
    int pt = -1;
    std::string encoding;
    int rate = 0;
  };
  std::vector<Format> formats;
  // The first open video line (media.video: passthrough): its own port pair.
  struct Video {
    bool present = false;  // an open video line with an address and port
    std::string address;
    uint16_t rtp_port = 0;
    uint16_t rtcp_port = 0;
    bool rtcp_mux = false;
  } video;
};

BrowserTransport describe_browser(std::string_view sdp);
NetworkMedia describe_network(std::string_view sdp);

}  // namespace rtcgw::sdp
