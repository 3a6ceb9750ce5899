// The ICE-lite responder against checks made the way a browser makes them (libnice's STUN
// usage for ICE, full agent, controlling), the RFC 5769 sample request, and broken input.
#include <arpa/inet.h>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stun/stunagent.h>
#include <stun/stunmessage.h>
#include <stun/usages/ice.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "media/ice_lite.hpp"

namespace rtcgw::media {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr StunAgentUsageFlags kUsage = static_cast<StunAgentUsageFlags>(
    STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);

const std::string kLocalUfrag = "LoCa";  // ours: the browser reads it from our answer
const std::string kLocalPwd = "ourPasswordOf24chars+/xx";
const std::string kRemoteUfrag = "brWs";  // the browser's, from its offer
const std::string kRemotePwd = "theBrowsersPasswordIs24c";

sockaddr_in v4(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET, ip, &a.sin_addr), 1);
  return a;
}

sockaddr_in6 v6(const char* ip, uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
  return a;
}

// The browser's side: a full, controlling agent sending checks signed with `key` (our password,
// as the browser has it), and validating our responses with the transaction it remembers.
class Browser {
 public:
  explicit Browser(std::string key) : key_(std::move(key)) {
    stun_agent_init(&agent_, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389, kUsage);
  }

  Bytes check(const std::string& username, bool use_candidate = true, bool controlling = true) {
    uint8_t buf[1500];
    StunMessage msg;
    size_t n = stun_usage_ice_conncheck_create(
        &agent_, &msg, buf, sizeof buf, reinterpret_cast<const uint8_t*>(username.data()),
        username.size(), reinterpret_cast<const uint8_t*>(key_.data()), key_.size(), use_candidate,
        controlling, 0x6e0001ff, 0x0123456789abcdefULL, nullptr,
        STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
    EXPECT_GT(n, 0u);
    return Bytes(buf, buf + n);
  }

  // stun_agent_validate of our reply, as the browser's agent does it.
  StunValidationStatus validate(const uint8_t* reply, size_t len, StunMessage& msg) {
    return stun_agent_validate(&agent_, &msg, reply, len, nullptr, nullptr);
  }

  StunAgent* agent() { return &agent_; }

 private:
  std::string key_;  // the agent keeps a pointer to it for the response
  StunAgent agent_;
};

std::string user(const std::string& local = kLocalUfrag, const std::string& remote = kRemoteUfrag) {
  return local + ":" + remote;
}

struct Handled {
  IceLite::Outcome outcome;
  Bytes reply;
};

// Where feed() puts a datagram: its last byte right before an unmapped page, so that a read
// past the datagram crashes even inside libnice, which ASan does not instrument.
const uint8_t* guarded_copy(const Bytes& data) {
  static uint8_t* page_end = [] {
    const long page = sysconf(_SC_PAGESIZE);
    void* map =
        mmap(nullptr, size_t(2 * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) std::abort();
    if (mprotect(static_cast<uint8_t*>(map) + page, size_t(page), PROT_NONE) != 0) std::abort();
    return static_cast<uint8_t*>(map) + page;  // never unmapped: one per test binary
  }();
  if (data.size() > 4096) std::abort();
  uint8_t* at = page_end - data.size();
  if (!data.empty()) std::memcpy(at, data.data(), data.size());
  return at;
}

Handled feed(IceLite& ice, const Bytes& req, const sockaddr* from, socklen_t from_len) {
  uint8_t reply[1500];
  const uint8_t* at = guarded_copy(req);
  Handled h{ice.handle(at, req.size(), from, from_len, reply, sizeof reply), {}};
  h.reply.assign(reply, reply + h.outcome.reply_len);
  return h;
}

Handled feed(IceLite& ice, const Bytes& req) {
  sockaddr_in from = v4("192.0.2.1", 40000);
  return feed(ice, req, reinterpret_cast<const sockaddr*>(&from), sizeof from);
}

IceLite make_ice() {
  IceLite ice(kLocalUfrag, kLocalPwd);
  ice.set_remote(kRemoteUfrag, kRemotePwd);
  return ice;
}

int error_code(const Bytes& reply) {
  StunMessage msg{};
  msg.buffer = const_cast<uint8_t*>(reply.data());
  msg.buffer_len = reply.size();
  int code = -1;
  if (stun_message_get_class(&msg) != STUN_ERROR) return 0;
  EXPECT_EQ(stun_message_find_error(&msg, &code), STUN_MESSAGE_RETURN_SUCCESS);
  return code;
}

bool has_attribute(const Bytes& reply, StunAttribute a) {
  StunMessage msg{};
  msg.buffer = const_cast<uint8_t*>(reply.data());
  msg.buffer_len = reply.size();
  return stun_message_has_attribute(&msg, a);
}

// RFC 8489 section 14.5 by hand (OpenSSL, not libnice): HMAC-SHA1 keyed with the password over
// the message up to MESSAGE-INTEGRITY, the header's length counting up to the end of M-I.
bool integrity_ok(const Bytes& m, const std::string& key) {
  size_t off = 20;
  while (off + 4 <= m.size()) {
    uint16_t type = uint16_t(m[off] << 8 | m[off + 1]);
    uint16_t alen = uint16_t(m[off + 2] << 8 | m[off + 3]);
    if (type == STUN_ATTRIBUTE_MESSAGE_INTEGRITY) {
      if (alen != 20 || off + 24 > m.size()) return false;
      Bytes signed_part(m.begin(), m.begin() + off);
      uint16_t covered = uint16_t(off + 24 - 20);
      signed_part[2] = uint8_t(covered >> 8);
      signed_part[3] = uint8_t(covered);
      uint8_t mac[EVP_MAX_MD_SIZE];
      unsigned mac_len = 0;
      if (!HMAC(EVP_sha1(), key.data(), int(key.size()), signed_part.data(), signed_part.size(),
                mac, &mac_len))
        return false;
      return mac_len == 20 && std::memcmp(mac, m.data() + off + 4, 20) == 0;
    }
    off += 4 + ((alen + 3u) & ~3u);
  }
  return false;
}

// FINGERPRINT by hand: CRC-32 (zlib's) XOR 0x5354554e over all but the FINGERPRINT attribute
// (RFC 8489 section 14.7), written into the last 4 bytes.
void set_fingerprint(Bytes& m) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i + 8 < m.size(); ++i) {
    c ^= m[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  uint32_t crc = ~c ^ 0x5354554eu;
  const size_t at = m.size() - 4;
  for (int k = 0; k < 4; ++k) m[at + k] = uint8_t(crc >> (24 - 8 * k));
}

// ---------------------------------------------------------------------------------------------

// libsofia-sip-ua exports a `stun_message_length` of its own (another signature); libnice calls
// its one through the PLT, so when sofia comes first in the link every libnice STUN call
// misreads message lengths (reads past buffers, crashes). libnice must be linked before sofia.
TEST(MediaIceLite, LibniceOwnsStunMessageLength) {
  void* sym = dlsym(RTLD_DEFAULT, "stun_message_length");
  ASSERT_NE(sym, nullptr);
  Dl_info info{};
  ASSERT_NE(dladdr(sym, &info), 0);
  ASSERT_NE(info.dli_fname, nullptr);
  EXPECT_NE(std::string(info.dli_fname).find("libnice"), std::string::npos)
      << "stun_message_length resolves to " << info.dli_fname
      << ": link libnice (pkg-config nice) before sofia-sip-ua";
}

TEST(MediaIceLite, RandomIceStrings) {
  std::string u = random_ice_string(8), p = random_ice_string(24);
  EXPECT_EQ(u.size(), 8u);
  EXPECT_EQ(p.size(), 24u);
  EXPECT_EQ(random_ice_string(0), "");
  std::string big = random_ice_string(1000);
  ASSERT_EQ(big.size(), 1000u);
  std::set<char> seen;
  for (char c : big) {
    EXPECT_TRUE(isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/') << c;
    seen.insert(c);
  }
  EXPECT_GT(seen.size(), 50u);  // 1000 draws over 64 characters
  EXPECT_NE(random_ice_string(24), random_ice_string(24));
}

TEST(MediaIceLite, AnswersBrowserCheckIPv4) {
  IceLite ice = make_ice();
  Browser browser(kLocalPwd);
  sockaddr_in from = v4("192.0.2.1", 40000);
  Handled h =
      feed(ice, browser.check(user()), reinterpret_cast<const sockaddr*>(&from), sizeof from);
  ASSERT_EQ(h.outcome.verdict, IceLite::Verdict::kAnswered);
  EXPECT_TRUE(h.outcome.use_candidate);
  EXPECT_FALSE(h.outcome.error_reply);
  ASSERT_GT(h.reply.size(), 0u);

  StunMessage resp;
  ASSERT_EQ(browser.validate(h.reply.data(), h.reply.size(), resp), STUN_VALIDATION_SUCCESS);
  EXPECT_EQ(stun_message_get_class(&resp), STUN_RESPONSE);
  EXPECT_EQ(stun_message_get_method(&resp), STUN_BINDING);
  EXPECT_TRUE(has_attribute(h.reply, STUN_ATTRIBUTE_MESSAGE_INTEGRITY));
  EXPECT_TRUE(has_attribute(h.reply, STUN_ATTRIBUTE_FINGERPRINT));
  EXPECT_FALSE(has_attribute(h.reply, STUN_ATTRIBUTE_ICE_CONTROLLED));
  EXPECT_TRUE(integrity_ok(h.reply, kLocalPwd));

  sockaddr_storage mapped{};
  socklen_t mapped_len = sizeof mapped;
  ASSERT_EQ(stun_usage_ice_conncheck_process(&resp, &mapped, &mapped_len,
                                             STUN_USAGE_ICE_COMPATIBILITY_RFC5245),
            STUN_USAGE_ICE_RETURN_SUCCESS);
  ASSERT_EQ(mapped.ss_family, AF_INET);
  auto* m4 = reinterpret_cast<sockaddr_in*>(&mapped);
  EXPECT_EQ(m4->sin_port, from.sin_port);
  EXPECT_EQ(m4->sin_addr.s_addr, from.sin_addr.s_addr);
  // XOR-MAPPED-ADDRESS really is XORed on the wire (not the plain address).
  EXPECT_TRUE(has_attribute(h.reply, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS));
  EXPECT_FALSE(has_attribute(h.reply, STUN_ATTRIBUTE_MAPPED_ADDRESS));
}

TEST(MediaIceLite, AnswersBrowserCheckIPv6WithoutNomination) {
  IceLite ice = make_ice();
  Browser browser(kLocalPwd);
  sockaddr_in6 from = v6("2001:db8::1:2", 50000);
  Handled h = feed(ice, browser.check(user(), /*use_candidate=*/false),
                   reinterpret_cast<const sockaddr*>(&from), sizeof from);
  ASSERT_EQ(h.outcome.verdict, IceLite::Verdict::kAnswered);
  EXPECT_FALSE(h.outcome.use_candidate);
  StunMessage resp;
  ASSERT_EQ(browser.validate(h.reply.data(), h.reply.size(), resp), STUN_VALIDATION_SUCCESS);
  sockaddr_storage mapped{};
  socklen_t mapped_len = sizeof mapped;
  ASSERT_EQ(stun_usage_ice_conncheck_process(&resp, &mapped, &mapped_len,
                                             STUN_USAGE_ICE_COMPATIBILITY_RFC5245),
            STUN_USAGE_ICE_RETURN_SUCCESS);
  ASSERT_EQ(mapped.ss_family, AF_INET6);
  auto* m6 = reinterpret_cast<sockaddr_in6*>(&mapped);
  EXPECT_EQ(m6->sin6_port, from.sin6_port);
  EXPECT_EQ(std::memcmp(&m6->sin6_addr, &from.sin6_addr, 16), 0);
}

TEST(MediaIceLite, ConsentFreshnessChecksAreAnsweredEachTime) {
  IceLite ice = make_ice();
  Browser browser(kLocalPwd);
  for (int i = 0; i < 300; ++i) {  // more than libnice's 200 remembered transactions
    Handled h = feed(ice, browser.check(user(), false));
    ASSERT_EQ(h.outcome.verdict, IceLite::Verdict::kAnswered) << i;
    StunMessage resp;
    ASSERT_EQ(browser.validate(h.reply.data(), h.reply.size(), resp), STUN_VALIDATION_SUCCESS);
  }
}

TEST(MediaIceLite, WrongPasswordIsBadIntegrityWith401) {
  IceLite ice = make_ice();
  Browser browser("notOurPasswordButAlso24c");
  Handled h = feed(ice, browser.check(user()));
  EXPECT_EQ(h.outcome.verdict, IceLite::Verdict::kBadIntegrity);
  EXPECT_TRUE(h.outcome.error_reply);
  ASSERT_GT(h.reply.size(), 0u);
  EXPECT_EQ(error_code(h.reply), 401);
  // Unauthenticated: no MESSAGE-INTEGRITY (RFC 8489 section 9.1.3), FINGERPRINT still.
  EXPECT_FALSE(has_attribute(h.reply, STUN_ATTRIBUTE_MESSAGE_INTEGRITY));
  EXPECT_TRUE(has_attribute(h.reply, STUN_ATTRIBUTE_FINGERPRINT));
  StunMessage resp;
  EXPECT_EQ(browser.validate(h.reply.data(), h.reply.size(), resp), STUN_VALIDATION_SUCCESS);
  EXPECT_FALSE(h.outcome.use_candidate);
}

TEST(MediaIceLite, WrongUsernameIsBadUsernameWith401) {
  IceLite ice = make_ice();
  Browser browser(kLocalPwd);
  for (const std::string& u :
       {user("LoCb"), user("LoC"), user("LoCaX"), user(kLocalUfrag, "other"), user(kLocalUfrag, ""),
        std::string("LoCa"), std::string("brWs:LoCa"), std::string("LoCa;brWs"), user("loca")}) {
    Handled h = feed(ice, browser.check(u));
    EXPECT_EQ(h.outcome.verdict, IceLite::Verdict::kBadUsername) << u;
    EXPECT_TRUE(h.outcome.error_reply) << u;
    EXPECT_EQ(error_code(h.reply), 401) << u;
    EXPECT_FALSE(has_attribute(h.reply, STUN_ATTRIBUTE_MESSAGE_INTEGRITY)) << u;
  }
}

TEST(MediaIceLite, AnyRemoteUfragUntilTheRemoteIsKnown) {
  IceLite ice(kLocalUfrag, kLocalPwd);
  Browser browser(kLocalPwd);
  EXPECT_EQ(feed(ice, browser.check(user(kLocalUfrag, "whatever"))).outcome.verdict,
            IceLite::Verdict::kAnswered);
  EXPECT_EQ(feed(ice, browser.check(user(kLocalUfrag, ""))).outcome.verdict,
            IceLite::Verdict::kBadUsername);
  ice.set_remote(kRemoteUfrag, kRemotePwd);
  EXPECT_EQ(ice.remote_ufrag(), kRemoteUfrag);
  EXPECT_EQ(feed(ice, browser.check(user(kLocalUfrag, "whatever"))).outcome.verdict,
            IceLite::Verdict::kBadUsername);
  EXPECT_EQ(feed(ice, browser.check(user())).outcome.verdict, IceLite::Verdict::kAnswered);
}

TEST(MediaIceLite, IceRestartTakesEffect) {
  IceLite ice = make_ice();
  Browser old_browser(kLocalPwd);
  ASSERT_EQ(feed(ice, old_browser.check(user())).outcome.verdict, IceLite::Verdict::kAnswered);

  // Our side restarts: new ufrag and password.
  ice.set_local("NeWu", "aNewPasswordForUsIs24chr");
  EXPECT_EQ(ice.local_ufrag(), "NeWu");
  EXPECT_EQ(ice.local_pwd(), "aNewPasswordForUsIs24chr");
  EXPECT_EQ(feed(ice, old_browser.check(user())).outcome.verdict, IceLite::Verdict::kBadUsername);
  // The old ufrag with the new password still is not ours; the new ufrag with the old password
  // fails integrity.
  EXPECT_EQ(feed(ice, old_browser.check(user("NeWu"))).outcome.verdict,
            IceLite::Verdict::kBadIntegrity);
  Browser new_browser("aNewPasswordForUsIs24chr");
  Handled h = feed(ice, new_browser.check(user("NeWu")));
  ASSERT_EQ(h.outcome.verdict, IceLite::Verdict::kAnswered);
  StunMessage resp;
  EXPECT_EQ(new_browser.validate(h.reply.data(), h.reply.size(), resp), STUN_VALIDATION_SUCCESS);

  // The browser restarts (re-offer with a new ufrag).
  ice.set_remote("brW2", "theBrowsersNewPassword24");
  EXPECT_EQ(feed(ice, new_browser.check(user("NeWu"))).outcome.verdict,
            IceLite::Verdict::kBadUsername);
  EXPECT_EQ(feed(ice, new_browser.check(user("NeWu", "brW2"))).outcome.verdict,
            IceLite::Verdict::kAnswered);
}

TEST(MediaIceLite, ControlledPeerGetsRoleConflict) {
  IceLite ice = make_ice();
  Browser browser(kLocalPwd);
  Handled h = feed(ice, browser.check(user(), true, /*controlling=*/false));
  EXPECT_EQ(h.outcome.verdict, IceLite::Verdict::kRoleConflict);
  EXPECT_TRUE(h.outcome.error_reply);
  EXPECT_FALSE(h.outcome.use_candidate);
  EXPECT_EQ(error_code(h.reply), 487);
  // The check was authenticated, so the error is too.
  EXPECT_TRUE(integrity_ok(h.reply, kLocalPwd));
  StunMessage resp;
  EXPECT_EQ(browser.validate(h.reply.data(), h.reply.size(), resp), STUN_VALIDATION_SUCCESS);
  StunUsageIceReturn r = stun_usage_ice_conncheck_process(&resp, nullptr, nullptr,
                                                          STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  EXPECT_EQ(r, STUN_USAGE_ICE_RETURN_ROLE_CONFLICT);
}

TEST(MediaIceLite, MissingCredentialsGet400) {
  IceLite ice = make_ice();
  StunAgent agent;
  stun_agent_init(&agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389, kUsage);
  uint8_t buf[512];
  StunMessage msg;

  // USERNAME, no MESSAGE-INTEGRITY.
  ASSERT_TRUE(stun_agent_init_request(&agent, &msg, buf, sizeof buf, STUN_BINDING));
  std::string u = user();
  ASSERT_EQ(stun_message_append_bytes(&msg, STUN_ATTRIBUTE_USERNAME, u.data(), u.size()),
            STUN_MESSAGE_RETURN_SUCCESS);
  size_t n = stun_agent_finish_message(&agent, &msg, nullptr, 0);
  ASSERT_GT(n, 0u);
  Handled h = feed(ice, Bytes(buf, buf + n));
  EXPECT_EQ(h.outcome.verdict, IceLite::Verdict::kBadIntegrity);
  EXPECT_EQ(error_code(h.reply), 400);

  // MESSAGE-INTEGRITY, no USERNAME.
  ASSERT_TRUE(stun_agent_init_request(&agent, &msg, buf, sizeof buf, STUN_BINDING));
  n = stun_agent_finish_message(&agent, &msg, reinterpret_cast<const uint8_t*>(kLocalPwd.data()),
                                kLocalPwd.size());
  ASSERT_GT(n, 0u);
  h = feed(ice, Bytes(buf, buf + n));
  EXPECT_EQ(h.outcome.verdict, IceLite::Verdict::kBadUsername);
  EXPECT_EQ(error_code(h.reply), 400);

  // Neither (a plain STUN binding request, e.g. a scanner).
  ASSERT_TRUE(stun_agent_init_request(&agent, &msg, buf, sizeof buf, STUN_BINDING));
  n = stun_agent_finish_message(&agent, &msg, nullptr, 0);
  h = feed(ice, Bytes(buf, buf + n));
  EXPECT_EQ(h.outcome.verdict, IceLite::Verdict::kBadUsername);
  EXPECT_EQ(error_code(h.reply), 400);
}

TEST(MediaIceLite, ResponsesIndicationsAndOtherMethodsAreIgnored) {
  IceLite ice = make_ice();
  Browser browser(kLocalPwd);
  Handled answer = feed(ice, browser.check(user()));
  ASSERT_EQ(answer.outcome.verdict, IceLite::Verdict::kAnswered);
  // Our own response reflected back at us.
  Handled h = feed(ice, answer.reply);
  EXPECT_EQ(h.outcome.verdict, IceLite::Verdict::kIgnored);
  EXPECT_EQ(h.outcome.reply_len, 0u);

  StunAgent agent;
  stun_agent_init(&agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389, kUsage);
  uint8_t buf[512];
  StunMessage msg;
  // A Binding indication (keepalive).
  ASSERT_TRUE(stun_agent_init_indication(&agent, &msg, buf, sizeof buf, STUN_BINDING));
  size_t n = stun_agent_finish_message(&agent, &msg, nullptr, 0);
  ASSERT_GT(n, 0u);
  h = feed(ice, Bytes(buf, buf + n));
  EXPECT_EQ(h.outcome.verdict, IceLite::Verdict::kIgnored);
  EXPECT_EQ(h.outcome.reply_len, 0u);
  // An authenticated request of another method (TURN Allocate).
  ASSERT_TRUE(stun_agent_init_request(&agent, &msg, buf, sizeof buf, STUN_ALLOCATE));
  std::string u = user();
  ASSERT_EQ(stun_message_append_bytes(&msg, STUN_ATTRIBUTE_USERNAME, u.data(), u.size()),
            STUN_MESSAGE_RETURN_SUCCESS);
  n = stun_agent_finish_message(&agent, &msg, reinterpret_cast<const uint8_t*>(kLocalPwd.data()),
                                kLocalPwd.size());
  ASSERT_GT(n, 0u);
  h = feed(ice, Bytes(buf, buf + n));
  EXPECT_EQ(h.outcome.verdict, IceLite::Verdict::kIgnored);
  EXPECT_EQ(h.outcome.reply_len, 0u);
}

TEST(MediaIceLite, UnknownComprehensionRequiredAttributeGets420) {
  IceLite ice = make_ice();
  StunAgent agent;
  stun_agent_init(&agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389, kUsage);
  uint8_t buf[512];
  StunMessage msg;
  ASSERT_TRUE(stun_agent_init_request(&agent, &msg, buf, sizeof buf, STUN_BINDING));
  const uint8_t value[4] = {1, 2, 3, 4};
  ASSERT_EQ(stun_message_append_bytes(&msg, static_cast<StunAttribute>(0x7ff0), value, 4),
            STUN_MESSAGE_RETURN_SUCCESS);
  // A comprehension-optional unknown one (like Chrome's GOOG-NETWORK-INFO) is fine.
  ASSERT_EQ(stun_message_append_bytes(&msg, static_cast<StunAttribute>(0xc057), value, 4),
            STUN_MESSAGE_RETURN_SUCCESS);
  std::string u = user();
  ASSERT_EQ(stun_message_append_bytes(&msg, STUN_ATTRIBUTE_USERNAME, u.data(), u.size()),
            STUN_MESSAGE_RETURN_SUCCESS);
  size_t n = stun_agent_finish_message(
      &agent, &msg, reinterpret_cast<const uint8_t*>(kLocalPwd.data()), kLocalPwd.size());
  ASSERT_GT(n, 0u);
  Handled h = feed(ice, Bytes(buf, buf + n));
  EXPECT_EQ(h.outcome.verdict, IceLite::Verdict::kMalformed);
  EXPECT_TRUE(h.outcome.error_reply);
  EXPECT_EQ(error_code(h.reply), 420);
  EXPECT_TRUE(integrity_ok(h.reply, kLocalPwd));

  // Only the optional one: answered.
  ASSERT_TRUE(stun_agent_init_request(&agent, &msg, buf, sizeof buf, STUN_BINDING));
  ASSERT_EQ(stun_message_append_bytes(&msg, static_cast<StunAttribute>(0xc057), value, 4),
            STUN_MESSAGE_RETURN_SUCCESS);
  ASSERT_EQ(stun_message_append_bytes(&msg, STUN_ATTRIBUTE_USERNAME, u.data(), u.size()),
            STUN_MESSAGE_RETURN_SUCCESS);
  n = stun_agent_finish_message(&agent, &msg, reinterpret_cast<const uint8_t*>(kLocalPwd.data()),
                                kLocalPwd.size());
  EXPECT_EQ(feed(ice, Bytes(buf, buf + n)).outcome.verdict, IceLite::Verdict::kAnswered);
}

TEST(MediaIceLite, EveryPrefixAndEveryBitFlipIsRefused) {
  IceLite ice = make_ice();
  Browser browser(kLocalPwd);
  Bytes req = browser.check(user());
  ASSERT_EQ(feed(ice, req).outcome.verdict, IceLite::Verdict::kAnswered);
  for (size_t len = 0; len < req.size(); ++len) {
    // feed() puts it at the end of a page: any read past `len` crashes.
    Bytes prefix(req.begin(), req.begin() + len);
    Handled h = feed(ice, prefix);
    EXPECT_EQ(h.outcome.verdict, IceLite::Verdict::kMalformed) << "prefix " << len;
    EXPECT_EQ(h.outcome.reply_len, 0u) << "prefix " << len;
  }
  for (size_t i = 0; i < req.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = req;
      bad[i] ^= uint8_t(1 << bit);
      Handled h = feed(ice, bad);
      EXPECT_NE(h.outcome.verdict, IceLite::Verdict::kAnswered) << "byte " << i << " bit " << bit;
      EXPECT_FALSE(h.outcome.use_candidate);
    }
  }
  // Trailing bytes after the message: not one STUN message.
  Bytes longer = req;
  longer.push_back(0);
  EXPECT_EQ(feed(ice, longer).outcome.verdict, IceLite::Verdict::kMalformed);
}

TEST(MediaIceLite, GarbageIsMalformedWithoutReply) {
  IceLite ice = make_ice();
  // Not STUN at all: RTP, DTLS, empty.
  EXPECT_EQ(feed(ice, Bytes{0x80, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}).outcome.verdict,
            IceLite::Verdict::kMalformed);
  EXPECT_EQ(feed(ice, Bytes(40, 22)).outcome.verdict, IceLite::Verdict::kMalformed);
  EXPECT_EQ(feed(ice, Bytes{}).outcome.verdict, IceLite::Verdict::kMalformed);
  uint8_t reply[64];
  sockaddr_in from = v4("192.0.2.1", 1);
  EXPECT_EQ(
      ice.handle(nullptr, 0, reinterpret_cast<sockaddr*>(&from), sizeof from, reply, sizeof reply)
          .verdict,
      IceLite::Verdict::kMalformed);
  // A STUN header whose length runs past the datagram; attributes overrunning the message;
  // a MESSAGE-INTEGRITY shorter than 20 bytes before the FINGERPRINT (libnice would compare
  // 20 bytes from its start, past the datagram).
  Bytes hdr = {0x00, 0x01, 0x00, 0x10, 0x21, 0x12, 0xa4, 0x42, 1,  2,
               3,    4,    5,    6,    7,    8,    9,    10,   11, 12};
  EXPECT_EQ(feed(ice, hdr).outcome.verdict, IceLite::Verdict::kMalformed);
  Bytes overrun = hdr;
  overrun[3] = 0x04;
  overrun.insert(overrun.end(), {0x00, 0x06, 0x00, 0x20});
  EXPECT_EQ(feed(ice, overrun).outcome.verdict, IceLite::Verdict::kMalformed);
  for (uint8_t mi_len : {0, 4, 16}) {
    Bytes m = hdr;
    std::string u = user();
    Bytes attrs = {0x00, 0x06, 0x00, uint8_t(u.size())};
    attrs.insert(attrs.end(), u.begin(), u.end());
    while (attrs.size() % 4) attrs.push_back(0);
    attrs.insert(attrs.end(), {0x00, 0x08, 0x00, mi_len});
    attrs.insert(attrs.end(), mi_len, 0xAA);
    attrs.insert(attrs.end(), {0x80, 0x28, 0x00, 0x04, 0, 0, 0, 0});
    m[3] = uint8_t(attrs.size());
    m.insert(m.end(), attrs.begin(), attrs.end());
    set_fingerprint(m);
    Handled h = feed(ice, m);  // at the end of a page: libnice would read past it
    EXPECT_EQ(h.outcome.verdict, IceLite::Verdict::kMalformed) << int(mi_len);
    EXPECT_EQ(h.outcome.reply_len, 0u);
  }
  // Random bytes behind a valid-looking header, many times.
  uint32_t x = 12345;
  for (int round = 0; round < 2000; ++round) {
    Bytes m = hdr;
    size_t body = (round % 16) * 4;
    m[2] = 0;
    m[3] = uint8_t(body);
    for (size_t i = 0; i < body; ++i) {
      x = x * 1103515245 + 12345;
      m.push_back(uint8_t(x >> 16));
    }
    Handled h = feed(ice, m);
    EXPECT_NE(h.outcome.verdict, IceLite::Verdict::kAnswered);
  }
}

TEST(MediaIceLite, BadSourceAddressAndSmallReplyBuffers) {
  IceLite ice = make_ice();
  Browser browser(kLocalPwd);
  Bytes req = browser.check(user());
  uint8_t reply[1500];
  sockaddr_in from = v4("192.0.2.1", 40000);
  auto* sa = reinterpret_cast<const sockaddr*>(&from);
  EXPECT_EQ(ice.handle(req.data(), req.size(), nullptr, 0, reply, sizeof reply).verdict,
            IceLite::Verdict::kMalformed);
  EXPECT_EQ(
      ice.handle(req.data(), req.size(), sa, sizeof(sockaddr_in) - 1, reply, sizeof reply).verdict,
      IceLite::Verdict::kMalformed);
  sockaddr_in6 from6 = v6("::1", 1);
  EXPECT_EQ(ice.handle(req.data(), req.size(), reinterpret_cast<const sockaddr*>(&from6),
                       sizeof(sockaddr_in), reply, sizeof reply)
                .verdict,
            IceLite::Verdict::kMalformed);
  sockaddr unix_like{};
  unix_like.sa_family = AF_UNIX;
  EXPECT_EQ(
      ice.handle(req.data(), req.size(), &unix_like, sizeof unix_like, reply, sizeof reply).verdict,
      IceLite::Verdict::kMalformed);

  // No reply buffer: the verdict stands, nothing is written.
  IceLite::Outcome o = ice.handle(req.data(), req.size(), sa, sizeof from, nullptr, 0);
  EXPECT_EQ(o.verdict, IceLite::Verdict::kAnswered);
  EXPECT_EQ(o.reply_len, 0u);

  // Every capacity: never a byte written past `cap` (libnice pads attributes past the room it
  // checked), the reply either whole or absent. For success, 401 and 487 replies.
  Browser wrong("notOurPasswordButAlso24c");
  Browser controlled(kLocalPwd);
  for (const Bytes& r : {req, wrong.check(user()), controlled.check(user(), true, false)}) {
    Handled whole = feed(ice, r);
    const size_t full = whole.outcome.reply_len;
    ASSERT_GT(full, 0u);
    for (size_t cap = 0; cap <= full + 8; ++cap) {
      std::vector<uint8_t> buf(cap + 16, 0xEE);
      IceLite::Outcome o = ice.handle(r.data(), r.size(), sa, sizeof from, buf.data(), cap);
      EXPECT_EQ(o.verdict, whole.outcome.verdict);
      for (size_t i = cap; i < buf.size(); ++i) ASSERT_EQ(buf[i], 0xEE) << "cap " << cap;
      ASSERT_LE(o.reply_len, cap);
      if (o.reply_len > 0) {
        ASSERT_EQ(o.reply_len, full);
        EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + full, whole.reply.begin()));
      }
      // 3 bytes of room beyond the reply are always enough.
      if (cap >= full + 3) {
        EXPECT_EQ(o.reply_len, full) << "cap " << cap;
      }
    }
  }
}

// RFC 5769 section 2.1: the sample request, a real ICE check (USERNAME "evtj:h6vY", password
// "VOkJxbRl1RmTxUk/WvJxBt", SOFTWARE, PRIORITY, ICE-CONTROLLED, M-I, FINGERPRINT).
const Bytes kRfc5769Request = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};
const std::string kRfc5769Pwd = "VOkJxbRl1RmTxUk/WvJxBt";

TEST(MediaIceLite, Rfc5769SampleRequest) {
  ASSERT_EQ(kRfc5769Request.size(), 108u);
  ASSERT_TRUE(integrity_ok(kRfc5769Request, kRfc5769Pwd));  // the helper agrees with the RFC

  // The request validates (M-I keyed with our password, FINGERPRINT). The sender says
  // ICE-CONTROLLED, as a lite agent we are controlled too: 487, authenticated.
  IceLite ice("evtj", kRfc5769Pwd);
  Handled h = feed(ice, kRfc5769Request);
  EXPECT_EQ(h.outcome.verdict, IceLite::Verdict::kRoleConflict);
  EXPECT_EQ(error_code(h.reply), 487);
  EXPECT_TRUE(integrity_ok(h.reply, kRfc5769Pwd));
  // Its transaction id is echoed.
  ASSERT_GE(h.reply.size(), 20u);
  EXPECT_TRUE(std::equal(h.reply.begin() + 4, h.reply.begin() + 20, kRfc5769Request.begin() + 4));

  ice.set_remote("h6vY", "");
  EXPECT_EQ(feed(ice, kRfc5769Request).outcome.verdict, IceLite::Verdict::kRoleConflict);
  ice.set_remote("h6vZ", "");
  EXPECT_EQ(feed(ice, kRfc5769Request).outcome.verdict, IceLite::Verdict::kBadUsername);

  IceLite wrong_pwd("evtj", "VOkJxbRl1RmTxUk/WvJxBu");
  Handled w = feed(wrong_pwd, kRfc5769Request);
  EXPECT_EQ(w.outcome.verdict, IceLite::Verdict::kBadIntegrity);
  EXPECT_EQ(error_code(w.reply), 401);
  IceLite wrong_ufrag("evtk", kRfc5769Pwd);
  EXPECT_EQ(feed(wrong_ufrag, kRfc5769Request).outcome.verdict, IceLite::Verdict::kBadUsername);

  // Changed PRIORITY and a recomputed FINGERPRINT (anyone can): integrity fails.
  Bytes same = kRfc5769Request;
  set_fingerprint(same);
  ASSERT_EQ(same, kRfc5769Request);  // the helper agrees with the RFC
  Bytes forged = kRfc5769Request;
  forged[47] ^= 1;  // last byte of PRIORITY
  set_fingerprint(forged);
  IceLite fresh("evtj", kRfc5769Pwd);
  Handled f = feed(fresh, forged);
  EXPECT_EQ(f.outcome.verdict, IceLite::Verdict::kBadIntegrity);
  EXPECT_EQ(error_code(f.reply), 401);
  // Without the FINGERPRINT fixed up, it is not even taken for STUN meant for us.
  forged = kRfc5769Request;
  forged[47] ^= 1;
  EXPECT_EQ(feed(fresh, forged).outcome.verdict, IceLite::Verdict::kMalformed);
}

}  // namespace
}  // namespace rtcgw::media
