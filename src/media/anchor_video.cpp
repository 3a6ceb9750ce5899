// Video passthrough (media.video: passthrough): the browser's video line shares the audio's
// ICE/DTLS/SRTP transport (BUNDLE) and is bridged to a port pair of its own towards the IMS.
// Video is relayed packet for packet like relayed audio, never transcoded. On the bundled
// transport, RTP is told apart by payload type (the browser's video line has its own, RFC 8843
// section 9.2) and RTCP by the SSRCs it is about.
#include "media/anchor.hpp"
#include "media/anchor_internal.hpp"
#include "media/demux.hpp"
#include "rtcgw/log.hpp"
#include "rtcgw/metrics.hpp"

namespace rtcgw::media {
using namespace internal;
namespace {

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

constexpr uint8_t kRtcpSr = 200, kRtcpRr = 201, kRtcpRtpfb = 205, kRtcpPsfb = 206;

}  // namespace

bool Anchor::open_video(std::string& error) {
  if (!sh_.video) return false;
  if (video_.rtp.open()) return true;
  bool ok = sh_.ports.bind_pair(video_.rtp, video_.rtcp) &&
            video_.rtp.watch(sh_.poller, [this] { on_video_readable(false); }) &&
            video_.rtcp.watch(sh_.poller, [this] { on_video_readable(true); });
  if (!ok) {
    video_.rtp.close();
    video_.rtcp.close();
    error = "no free port pair in media.port_range for video";
    return false;
  }
  if (sh_.ports_changed) sh_.ports_changed();
  return true;
}

// What the last SDPs of each side say about video: payload types from the browser's, the far
// end's address from the network's. Video flows when both have an open video line.
void Anchor::apply_video(const sdp::BrowserTransport* t, const sdp::NetworkMedia* m) {
  if (t) {
    std::fill(std::begin(video_pt_), std::end(video_pt_), 0);
    for (int pt : t->video_payload_types)
      if (pt >= 0 && pt < 128) video_pt_[pt] = 1;
    browser_video_open_ = t->video;
  }
  if (m) {
    net_video_open_ = m->video.present;
    Endpoint rtp = Endpoint::from(m->video.address, m->video.rtp_port);
    Endpoint rtcp = Endpoint::from(m->video.address, m->video.rtcp_port);
    // A hold with c=0.0.0.0 keeps the old address, as on the audio line.
    if (m->video.present && rtp.valid() && m->video.rtp_port != 0) {
      if (rtp != video_.rtp_addr) video_.latched = false;
      if (rtcp != video_.rtcp_addr) video_.rtcp_latched = false;
      video_.rtp_addr = rtp;
      video_.rtcp_addr = rtcp;
      video_.rtcp_mux = m->video.rtcp_mux;
    }
  }
  bool on = video_.rtp.open() && browser_video_open_ && net_video_open_;
  if (on != video_on_) spdlog::info("media {}: video {}", call_id_, on ? "bridged" : "not bridged");
  video_on_ = on;
}

bool Anchor::browser_video_rtp(const uint8_t* buf, size_t n) {
  if (n < 12 || !video_pt_[buf[1] & 0x7f]) return false;
  uint32_t ssrc = be32(buf + 8);
  for (uint32_t& s : browser_video_ssrc_) {
    if (s == ssrc) break;
    if (s == 0) {
      s = ssrc;
      break;
    }
  }
  return true;
}

// RTCP from the browser is about video when its sender is one of the browser's video streams,
// or when it reports on (RR/SR blocks) or gives feedback about (RTPFB/PSFB) the IMS's video
// sender. Chromium sends each stream's RTCP in packets of its own.
bool Anchor::browser_video_rtcp(const uint8_t* buf, size_t n) const {
  auto is_browser_video = [this](uint32_t ssrc) {
    for (uint32_t s : browser_video_ssrc_)
      if (s != 0 && s == ssrc) return true;
    return false;
  };
  auto is_net_video = [this](uint32_t ssrc) {
    return net_video_ssrc_ != 0 && ssrc == net_video_ssrc_;
  };
  size_t off = 0;
  while (off + 8 <= n) {
    const uint8_t* p = buf + off;
    size_t len = (size_t(p[2]) << 8 | p[3]) * 4 + 4;
    if (len > n - off) break;
    uint8_t pt = p[1];
    if (is_browser_video(be32(p + 4))) return true;
    if (pt == kRtcpSr || pt == kRtcpRr) {
      size_t blocks = pt == kRtcpSr ? 28 : 8;
      for (unsigned i = 0; i < (p[0] & 0x1fu) && blocks + 24 * (i + 1) <= len; ++i)
        if (is_net_video(be32(p + blocks + 24 * i))) return true;
    } else if ((pt == kRtcpRtpfb || pt == kRtcpPsfb) && len >= 12 && is_net_video(be32(p + 8))) {
      return true;
    }
    off += len;
  }
  return false;
}

void Anchor::video_from_browser(uint8_t* buf, size_t n, bool rtcp) {
  const Endpoint& to = rtcp ? video_.rtcp_addr : video_.rtp_addr;
  if (!to.valid()) return;  // no network answer with video yet
  const UdpSocket& via = rtcp ? video_.rtcp_via() : video_.rtp;
  if (via.send(buf, n, to)) sh_.metrics.media_packet_out(false);
}

void Anchor::video_from_network(uint8_t* buf, size_t len, const Endpoint& from, bool rtcp_socket) {
  PacketKind kind = classify(buf, len);
  if (kind != PacketKind::kRtp && kind != PacketKind::kRtcp) return drop("not_rtp", from);
  if (!latch(video_, rtcp_socket, from, "video")) return;
  last_rx_ms_ = now_ms();
  sh_.metrics.media_packet_in(false);
  if (!video_on_) return drop("video_not_negotiated", from);
  bool rtcp = rtcp_socket || kind == PacketKind::kRtcp;
  if (!rtcp) net_video_ssrc_ = be32(buf + 8);
  if (!browser_ready(from)) return;
  protect_to_browser(buf, len, rtcp);
}

}  // namespace rtcgw::media
