// Pieces shared by the media anchor tests (media_anchor_test.cpp, media_anchor_full_ice_test.cpp):
// SDP line editing, plain RTP packets, the browser's DTLS and SRTP, and the IMS far end.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "media/anchors.hpp"
#include "media/demux.hpp"

namespace rtcgw::media::testing {

using Bytes = std::vector<uint8_t>;

// `sdp` with the line starting with `prefix` replaced by `line`.
inline std::string replace_line(std::string sdp, const std::string& prefix,
                                const std::string& line) {
  size_t at = sdp.find(prefix);
  EXPECT_NE(at, std::string::npos) << prefix;
  if (at == std::string::npos) return sdp;
  size_t end = sdp.find('\n', at);
  return sdp.replace(at, end - at, line + "\r");
}

// A PCMU-sized RTP packet (160 bytes of payload, timestamp seq * 160).
inline Bytes rtp_packet(uint16_t seq, uint8_t pt = 0, uint32_t ssrc = 0x11223344) {
  Bytes p(12 + 160, 0xAB);
  p[0] = 0x80;
  p[1] = pt;
  p[2] = uint8_t(seq >> 8);
  p[3] = uint8_t(seq);
  uint32_t ts = seq * 160u;
  for (int i = 0; i < 4; ++i) p[4 + i] = uint8_t(ts >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) p[8 + i] = uint8_t(ssrc >> (24 - 8 * i));
  return p;
}

// The browser's DTLS and SRTP over the transport of the derived class (send_datagram). Its
// destructor must reset `dtls` first: the session's close_notify goes out through that transport.
struct SecureBrowser {
  std::unique_ptr<Certificate> cert = Certificate::generate();
  DtlsContext ctx{*cert};
  std::unique_ptr<DtlsSession> dtls;
  SrtpSession srtp;
  bool srtp_ready = false;
  std::vector<Bytes> media;  // SRTP/SRTCP received, unprotected

  virtual ~SecureBrowser() = default;

  // DTLS with the gateway in `role`; SRTP is keyed (srtp_ready) when it connects.
  void start_dtls(DtlsRole role, const std::string& gw_fingerprint) {
    dtls = std::make_unique<DtlsSession>(
        ctx, role, gw_fingerprint, [this](const uint8_t* d, size_t n) { send_datagram(d, n); },
        [this](DtlsState s) {
          if (s == DtlsState::kConnected) {
            std::string err;
            srtp_ready = srtp.init(dtls->keys(), err);
            EXPECT_TRUE(srtp_ready) << err;
          }
        });
    dtls->start();
  }

  // `plain` protected as SRTP (SRTCP if `rtcp`), copied to `sent` if given, and sent unless
  // `transmit` is false.
  bool send_rtp(const Bytes& plain, bool rtcp = false, Bytes* sent = nullptr,
                bool transmit = true) {
    uint8_t buf[2048];
    memcpy(buf, plain.data(), plain.size());
    size_t len = plain.size();
    if (!(rtcp ? srtp.protect_rtcp(buf, len) : srtp.protect_rtp(buf, len))) return false;
    if (sent) sent->assign(buf, buf + len);
    return !transmit || send_datagram(buf, len);
  }

 protected:
  virtual bool send_datagram(const uint8_t* data, size_t len) = 0;

  // A datagram from the gateway: DTLS goes to the session, SRTP/SRTCP unprotected to `media`;
  // anything else is ignored.
  void receive_secure(uint8_t* buf, size_t len) {
    switch (classify(buf, len)) {
      case PacketKind::kDtls:
        if (dtls) dtls->receive(buf, len);
        break;
      case PacketKind::kRtp:
      case PacketKind::kRtcp: {
        bool rtcp = classify(buf, len) == PacketKind::kRtcp;
        if (srtp_ready && (rtcp ? srtp.unprotect_rtcp(buf, len) : srtp.unprotect_rtp(buf, len)))
          media.emplace_back(buf, buf + len);
        break;
      }
      default:
        break;
    }
  }
};

// The IMS far end: an RTP/RTCP socket pair on the first free even port in [first, first + 1000).
struct FarEnd {
  UdpSocket rtp, rtcp;
  std::vector<Bytes> got_rtp, got_rtcp;
  Endpoint gw_rtp, gw_rtcp;

  explicit FarEnd(uint16_t first) {
    for (uint16_t p = first; p < first + 1000; p += 2)
      if (rtp.bind("127.0.0.1", p) && rtcp.bind("127.0.0.1", uint16_t(p + 1))) return;
    ADD_FAILURE() << "no free port pair for the far end";
  }
  void poll() {
    uint8_t buf[2048];
    Endpoint from;
    for (ssize_t n; (n = rtp.recv(buf, sizeof buf, from)) >= 0;) got_rtp.emplace_back(buf, buf + n);
    for (ssize_t n; (n = rtcp.recv(buf, sizeof buf, from)) >= 0;)
      got_rtcp.emplace_back(buf, buf + n);
  }
  // Its SDP: an answer takes PCMU and telephone-event as 126; an offer has PCMU, PCMA unless
  // `offer_pcma` is false, and telephone-event as 101.
  std::string sdp(bool answer, bool offer_pcma = true) const {
    std::string offer_pts = offer_pcma ? "8 101" : "101";
    std::string offer_maps = std::string(offer_pcma ? "a=rtpmap:8 PCMA/8000\r\n" : "") +
                             "a=rtpmap:101 telephone-event/8000\r\n";
    return "v=0\r\no=- 7 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           "m=audio " +
           std::to_string(rtp.port()) + " RTP/AVP 0 " + (answer ? "126" : offer_pts) +
           "\r\na=rtpmap:0 PCMU/8000\r\n" +
           (answer ? "a=rtpmap:126 telephone-event/8000\r\n" : offer_maps) +
           "a=ptime:20\r\na=sendrecv\r\n";
  }
};

}  // namespace rtcgw::media::testing
