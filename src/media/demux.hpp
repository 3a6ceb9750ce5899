// What a datagram on the browser leg's socket is, from its first bytes (RFC 7983 section 7, the
// first-byte ranges, and RFC 5761 section 4, RTP and RTCP on one port): STUN (ICE checks and
// consent freshness), DTLS, RTP or RTCP (SRTP/SRTCP on the browser leg). Nothing else is
// expected there: ZRTP (16..19) and TURN channels (64..79) are kUnknown, as are packets too short
// for their kind. Pure function of the bytes, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rtcgw::media {

enum class PacketKind { kStun, kDtls, kRtp, kRtcp, kUnknown };

// The shortest packet of each kind that can be classified as such: the STUN header (RFC 8489
// section 5), the DTLS record header (RFC 6347 section 4.1), the fixed RTP header (RFC 3550
// section 5.1; SRTCP is longer still: 8 bytes of RTCP header, 4 of index, the tag).
inline constexpr size_t kStunHeaderLen = 20;
inline constexpr size_t kDtlsRecordHeaderLen = 13;
inline constexpr size_t kRtpHeaderLen = 12;
inline constexpr size_t kRtcpHeaderLen = 8;
inline constexpr uint32_t kStunMagicCookie = 0x2112A442;

constexpr PacketKind classify(const uint8_t* data, size_t len) {
  if (data == nullptr || len == 0) return PacketKind::kUnknown;
  const uint8_t b = data[0];
  if (b <= 3) {
    if (len < kStunHeaderLen) return PacketKind::kUnknown;
    const uint32_t cookie = uint32_t{data[4]} << 24 | uint32_t{data[5]} << 16 |
                            uint32_t{data[6]} << 8 | uint32_t{data[7]};
    return cookie == kStunMagicCookie ? PacketKind::kStun : PacketKind::kUnknown;
  }
  if (b >= 20 && b <= 63) {
    return len >= kDtlsRecordHeaderLen ? PacketKind::kDtls : PacketKind::kUnknown;
  }
  if (b >= 128 && b <= 191) {
    if (len < kRtcpHeaderLen) return PacketKind::kUnknown;
    // RFC 5761 section 4: RTCP packet types 192..223 (SR 200, RR 201, SDES, BYE, APP, RTPFB,
    // PSFB, XR) sit where RTP payload types 64..95 with the marker bit would be. An RTCP
    // packet may be as short as its 8-byte header (an RR with no report blocks).
    const uint8_t second = data[1];
    if (second >= 192 && second <= 223) return PacketKind::kRtcp;
    return len >= kRtpHeaderLen ? PacketKind::kRtp : PacketKind::kUnknown;
  }
  return PacketKind::kUnknown;
}

constexpr const char* kind_name(PacketKind kind) {
  switch (kind) {
    case PacketKind::kStun:
      return "stun";
    case PacketKind::kDtls:
      return "dtls";
    case PacketKind::kRtp:
      return "rtp";
    case PacketKind::kRtcp:
      return "rtcp";
    case PacketKind::kUnknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace rtcgw::media
