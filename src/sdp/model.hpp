// A plain C++ view of a parsed SDP, filled from sofia-sip's parser (model.cpp is the only file
// that includes sofia's SDP headers), and a line writer for the SDPs the translator makes.
// Internal to src/sdp: other code uses translate.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rtcgw::sdp::detail {

struct Attr {
  std::string name;
  std::string value;  // empty for flag attributes (a=rtcp-mux)
};

// One RTP payload format, from the m= line and its a=rtpmap / a=fmtp (or the static table).
struct Codec {
  int pt = -1;
  std::string encoding;  // as written, e.g. "opus", "PCMU"; empty when unknown
  unsigned long rate = 0;
  std::string channels;  // encoding parameters ("2" for opus), empty when none
  std::string fmtp;
};

enum class Mode { inactive = 0, sendonly = 1, recvonly = 2, sendrecv = 3 };

struct Media {
  std::string type;  // "audio", "video", "application"
  unsigned long port = 0;
  std::string proto;                 // "RTP/AVP", "UDP/TLS/RTP/SAVPF", ...
  std::vector<std::string> formats;  // as on the m= line, in order
  std::vector<Codec> codecs;         // RTP protocols only, in m= line order
  std::vector<Attr> attrs;           // all a= lines but rtpmap, fmtp and the direction attributes
  Mode mode = Mode::sendrecv;
  std::string address;    // c= of the media, else of the session
  bool rejected = false;  // port 0

  bool is_rtp() const { return proto.find("RTP/") != std::string::npos; }
  const Attr* attr(std::string_view name) const;
  std::string mid() const;  // value of a=mid or ""
};

struct Session {
  std::vector<Attr> attrs;  // session-level a= lines but the direction attributes
  std::string address;      // session c=
  std::vector<Media> media;

  const Attr* attr(std::string_view name) const;
};

// Parses `text` with sofia-sip. On failure returns nullopt and sets `error`.
std::optional<Session> parse(std::string_view text, std::string& error);

bool iequals(std::string_view a, std::string_view b);
const char* mode_name(Mode m);
// The direction an answer may take to an offer with `offered` (RFC 3264 section 6.1): what the
// answerer said, less what the offer does not allow (an answer of sendrecv to sendonly is
// recvonly; anything to inactive is inactive).
Mode answer_mode(Mode offered, Mode answered);
// "IP4" or "IP6" for an address literal.
const char* addr_type(std::string_view address);
// True when `a` and `b` name the same codec (encoding case-insensitive, rate, channels).
bool same_codec(const Codec& a, const Codec& b);

// Builds SDP text line by line, CRLF-terminated.
class Writer {
 public:
  void line(char type, std::string_view value);
  void attr(std::string_view name, std::string_view value = {});
  void session_head(uint64_t session_id, uint64_t version, std::string_view address);
  void codecs(const std::vector<Codec>& cs);  // a=rtpmap + a=fmtp
  void m_line(std::string_view type, unsigned long port, std::string_view proto,
              const std::vector<std::string>& formats);
  // A parsed media line as it was (m=, codecs, attributes, direction; not its c= line).
  void media(const Media& m);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

std::vector<std::string> pt_list(const std::vector<Codec>& cs);

}  // namespace rtcgw::sdp::detail
