// The typed configuration of rtcgw, loaded from one YAML file.
// Loading is start-up work: it throws config::Error listing every problem, each naming
// "file:line: key: message". Nothing on the message path throws.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rtcgw::config {

// A listen address written as a URL: ws://127.0.0.1:8080, wss://[::1]:8443, udp://127.0.0.1:5070,
// tcp://[::1]:5070, http://127.0.0.1:9090.
struct ListenUrl {
  std::string scheme;  // "ws", "wss", "udp", "tcp" or "http"
  std::string host;    // an IPv4 or IPv6 literal, without brackets
  uint16_t port = 0;
  std::string text;  // as written in the file

  bool ipv6() const { return host.find(':') != std::string::npos; }
  // host with brackets when IPv6, then ":port".
  std::string hostport() const;
};

struct Tls {
  std::string certificate;  // PEM file; required when any websocket.listen is wss://
  std::string private_key;  // PEM file
};

struct WebSocket {
  std::vector<ListenUrl> listen;  // ws:// and wss://
  Tls tls;
  std::vector<std::string> allowed_origins;  // exact origins, or "*"
  uint32_t max_connections = 10000;          // open WebSocket connections in all
  uint32_t max_connections_per_ip = 100;     // open connections from one source address
  uint32_t connection_rate_per_ip = 20;      // new connections per second from one address
  uint32_t max_message_size = 65535;         // bytes of one SIP message (one frame)
  uint32_t ping_interval = 30;               // seconds between WebSocket pings; 0 = off
  std::string document_root;                 // static files served over HTTP; empty = none
};

struct Ims {
  bool strip_security_headers = true;   // Security-Client/-Server/-Verify from browsers
  bool strip_asserted_identity = true;  // P-Asserted-Identity from browsers
  std::string visited_network_id;       // P-Visited-Network-ID on REGISTER; empty = none
  bool charging_vector = true;          // P-Charging-Vector icid on REGISTER and INVITE
};

struct Sip {
  std::vector<ListenUrl> listen;  // udp:// and tcp:// towards the core
  std::string pcscf;              // a SIP URI: next hop for requests from browsers
  Ims ims;
  uint32_t invite_timeout = 180;  // seconds a browser has to answer an INVITE (Timer C)

  // The transport named in pcscf's transport parameter, lower-cased; "udp" when it has none.
  std::string pcscf_transport() const;
};

// The browser leg's ICE: lite (rtcgw answers checks only, as gateways do) or full (libnice
// checks too: controlling when rtcgw made the offer).
enum class IceMode { kLite, kFull };

struct Media {
  std::string address = "127.0.0.1";
  std::string advertised_address;  // empty = address
  uint16_t port_min = 30000;
  uint16_t port_max = 39999;
  uint32_t inactivity_timeout = 60;  // seconds without media from either leg before BYE; 0 = off
  bool opus_to_network = false;      // offer/accept opus towards the IMS besides G.711
  IceMode ice = IceMode::kLite;      // media.ice: lite | full
  Tls dtls;                          // DTLS certificate and key; empty = generated at start
  // media.video: passthrough bridges the first video m= line (bundled with the audio on the
  // browser leg, its own RTP/AVP port pair towards the IMS) with the codecs of video_codecs,
  // relayed as they are; reject answers video lines with port 0.
  bool video = false;
  std::vector<std::string> video_codecs = {"VP8", "H264"};
  uint32_t video_max_kbps = 2000;  // b=AS of the video lines, both legs
};

struct OpusParams {
  uint32_t complexity = 5;   // 0..10
  uint32_t bitrate = 32000;  // bit/s, 6000..510000
  bool fec = true;           // in-band FEC (helps the lossy browser leg)
  bool dtx = false;
};

// Issue 4: codecs offered and accepted on each leg, in preference order (names as in a=rtpmap:
// opus, PCMU, PCMA). Legs sharing a codec allowed on both relay it; otherwise rtcgw transcodes
// between the best of each list.
struct Transcoding {
  std::vector<std::string> browser_codecs = {"opus", "PCMU", "PCMA"};
  std::vector<std::string> network_codecs = {"PCMU", "PCMA"};
  OpusParams opus;
};

struct Dtmf {
  // SIP INFO DTMF (application/dtmf-relay, application/dtmf) from browsers becomes RFC 4733
  // events towards the IMS (in rtcgw's stream when transcoding, injected into the browser's
  // when relaying), answered 200 by rtcgw; when the call cannot carry it, INFO passes.
  bool info_to_rfc4733 = true;
  // Where the IMS took no telephone-event: the digit as a tone in the G.711 stream instead.
  bool inband = true;
};

struct Log {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
};

struct Metrics {
  std::string listen;  // http://host:port serving /metrics and /health; empty = off
  ListenUrl url;       // parsed listen, when set
};

struct Config {
  std::string path;  // the file it came from
  WebSocket websocket;
  Sip sip;
  Media media;
  Transcoding transcoding;
  Dtmf dtmf;
  Log log;
  Metrics metrics;
};

class Error : public std::runtime_error {
 public:
  explicit Error(std::vector<std::string> errors);
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::vector<std::string> errors_;
};

// Reads and validates the file. Throws Error with every problem found.
Config load_file(const std::string& path);
// The same for text already in memory; `name` stands for the file name in errors.
Config load_string(std::string_view yaml, const std::string& name);
// Parses "ws://127.0.0.1:8080" and the like; returns false and sets `why` when it is not one.
bool parse_listen_url(std::string_view text, ListenUrl& out, std::string& why);

}  // namespace rtcgw::config
