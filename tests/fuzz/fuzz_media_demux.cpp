// One datagram on the browser leg: media::classify, then IceLite::handle as the anchor calls it
// (IPv4 and IPv6 sources, a fixed credential pair, and once more before the browser's ufrag is
// known). The input is also handed in a second time with its MESSAGE-INTEGRITY and FINGERPRINT
// recomputed for the fixed credentials, so the fuzzer gets past authentication and explores
// what follows (role conflict, unknown attributes, USE-CANDIDATE, the reply).
// Checks: classify agrees with the first-byte ranges; a reply is one well-formed STUN message of
// at most `cap` bytes with nothing written past `cap`; only STUN is answered; kAnswered means a
// Binding success response with the request's transaction id.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stun/stunmessage.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "media/demux.hpp"
#include "media/ice_lite.hpp"

using rtcgw::media::classify;
using rtcgw::media::IceLite;
using rtcgw::media::kind_name;
using rtcgw::media::PacketKind;

namespace {

constexpr char kLocalUfrag[] = "fZuF";
constexpr char kLocalPwd[] = "fuzzPasswordFuzzPassword";
constexpr char kRemoteUfrag[] = "brWs";
constexpr char kRemotePwd[] = "theBrowsersPasswordIs24c";
constexpr size_t kMax = 2048;

IceLite& ice() {
  static IceLite* i = [] {
    auto* p = new IceLite(kLocalUfrag, kLocalPwd);
    p->set_remote(kRemoteUfrag, kRemotePwd);
    return p;
  }();
  return *i;
}

IceLite& ice_any_remote() {
  static IceLite* i = new IceLite(kLocalUfrag, kLocalPwd);
  return *i;
}

void check_kind(const uint8_t* d, size_t n, PacketKind k) {
  if (kind_name(k) == nullptr) __builtin_trap();
  if (n == 0) {
    if (k != PacketKind::kUnknown) __builtin_trap();
    return;
  }
  uint8_t b = d[0];
  switch (k) {
    case PacketKind::kStun:
      if (b > 3 || n < 20 || d[4] != 0x21 || d[5] != 0x12 || d[6] != 0xA4 || d[7] != 0x42)
        __builtin_trap();
      break;
    case PacketKind::kDtls:
      if (b < 20 || b > 63 || n < 13) __builtin_trap();
      break;
    case PacketKind::kRtp:
    case PacketKind::kRtcp:
      // RTP needs its 12-byte header; RTCP may be its 8-byte header alone (an empty RR).
      if (b < 128 || b > 191 || n < (k == PacketKind::kRtcp ? 8u : 12u)) __builtin_trap();
      if ((k == PacketKind::kRtcp) != (d[1] >= 192 && d[1] <= 223)) __builtin_trap();
      break;
    case PacketKind::kUnknown:
      break;
  }
}

void run(IceLite& ice, const uint8_t* d, size_t n, const sockaddr* from, socklen_t from_len,
         size_t cap) {
  static uint8_t reply[1500 + 64];
  std::memset(reply, 0xEE, sizeof reply);
  IceLite::Outcome o = ice.handle(d, n, from, from_len, reply, cap);
  for (size_t i = cap; i < sizeof reply; ++i)
    if (reply[i] != 0xEE) __builtin_trap();  // written past cap
  if (o.reply_len > cap) __builtin_trap();
  if (o.reply_len > 0) {
    if (classify(d, n) != PacketKind::kStun) __builtin_trap();  // answered something not STUN
    if (classify(reply, o.reply_len) != PacketKind::kStun) __builtin_trap();
    if (stun_message_validate_buffer_length(reply, o.reply_len, true) !=
        static_cast<int>(o.reply_len))
      __builtin_trap();
    if (std::memcmp(reply + 4, d + 4, 16) != 0) __builtin_trap();  // cookie + transaction id
    StunMessage m{};
    m.buffer = reply;
    m.buffer_len = o.reply_len;
    if (stun_message_get_method(&m) != STUN_BINDING) __builtin_trap();
    StunClass c = stun_message_get_class(&m);
    if (o.error_reply != (c == STUN_ERROR)) __builtin_trap();
    if (!o.error_reply && c != STUN_RESPONSE) __builtin_trap();
  }
  if (o.verdict == IceLite::Verdict::kAnswered) {
    if (o.error_reply) __builtin_trap();
    if (cap >= 1500 && o.reply_len == 0) __builtin_trap();
  } else if (o.use_candidate) {
    __builtin_trap();
  }
  if ((o.verdict == IceLite::Verdict::kIgnored) && o.reply_len != 0) __builtin_trap();
}

void run_all(const uint8_t* d, size_t n, size_t small_cap) {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = htons(40000);
  v4.sin_addr.s_addr = htonl(0xC0000201);  // 192.0.2.1
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(50000);
  inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr);
  run(ice(), d, n, reinterpret_cast<const sockaddr*>(&v4), sizeof v4, 1500);
  run(ice(), d, n, reinterpret_cast<const sockaddr*>(&v6), sizeof v6, 1500);
  run(ice(), d, n, reinterpret_cast<const sockaddr*>(&v6), sizeof v6, small_cap);
  run(ice_any_remote(), d, n, reinterpret_cast<const sockaddr*>(&v4), sizeof v4, 1500);
}

uint32_t crc32(const uint8_t* p, size_t n) {
  static uint32_t table[256] = {};
  if (table[1] == 0) {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
      table[i] = c;
    }
  }
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return ~c;
}

// Recomputes, in place, a MESSAGE-INTEGRITY (keyed with kLocalPwd) and a final FINGERPRINT.
// Returns false when the message has neither.
bool fix_up(uint8_t* m, size_t n) {
  if (n < 20 || n > kMax) return false;
  bool changed = false;
  size_t off = 20;
  while (off + 4 <= n) {
    uint16_t type = uint16_t(m[off] << 8 | m[off + 1]);
    size_t alen = size_t(m[off + 2] << 8 | m[off + 3]);
    if (type == STUN_ATTRIBUTE_MESSAGE_INTEGRITY && alen == 20 && off + 24 <= n) {
      uint8_t saved[2] = {m[2], m[3]};
      size_t covered = off + 24 - 20;
      m[2] = uint8_t(covered >> 8);
      m[3] = uint8_t(covered);
      unsigned mac_len = 0;
      uint8_t mac[EVP_MAX_MD_SIZE];
      if (HMAC(EVP_sha1(), kLocalPwd, int(sizeof kLocalPwd - 1), m, off, mac, &mac_len) &&
          mac_len == 20) {
        std::memcpy(m + off + 4, mac, 20);
        changed = true;
      }
      m[2] = saved[0];
      m[3] = saved[1];
    }
    if (type == STUN_ATTRIBUTE_FINGERPRINT && alen == 4 && off + 8 == n) {
      uint32_t fp = crc32(m, off) ^ 0x5354554Eu;
      m[off + 4] = uint8_t(fp >> 24);
      m[off + 5] = uint8_t(fp >> 16);
      m[off + 6] = uint8_t(fp >> 8);
      m[off + 7] = uint8_t(fp);
      changed = true;
    }
    off += 4 + ((alen + 3) & ~size_t{3});
  }
  return changed;
}

// Datagrams are handed in from the end of a page followed by an unmapped one: a read past the
// datagram inside libnice (not instrumented, ASan does not see it) crashes.
uint8_t* guarded(const uint8_t* data, size_t size) {
  static uint8_t* end = [] {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t body = (kMax + page - 1) / page * page;
    void* map =
        mmap(nullptr, body + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) __builtin_trap();
    if (mprotect(static_cast<uint8_t*>(map) + body, page, PROT_NONE) != 0) __builtin_trap();
    return static_cast<uint8_t*>(map) + body;
  }();
  uint8_t* at = end - size;
  if (size > 0) std::memmove(at, data, size);
  return at;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  PacketKind k = classify(data, size);
  check_kind(data, size, k);
  const size_t small_cap = size > 0 ? data[size - 1] : 0;  // 0..255: cut replies
  if (size > kMax) {
    run_all(data, size, small_cap);
    return 0;
  }
  uint8_t* d = guarded(data, size);
  run_all(d, size, small_cap);
  if (k == PacketKind::kStun && fix_up(d, size)) run_all(d, size, small_cap);
  return 0;
}
