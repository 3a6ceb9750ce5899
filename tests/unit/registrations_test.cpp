// What rtcgw remembers from 2xx to REGISTER, per WebSocket connection and AOR.
#include <gtest/gtest.h>

#include "sip/registrations.hpp"

namespace rtcgw::sip {
namespace {

using namespace std::chrono_literals;

Registration reg(uint64_t conn, std::string aor, std::string contact) {
  Registration r;
  r.conn = conn;
  r.aor = std::move(aor);
  r.contacts = {std::move(contact)};
  r.service_route = {"<sip:orig@scscf.example.com;lr>"};
  return r;
}

TEST(Registrations, UpdateFindExpire) {
  Registrations regs;
  auto now = Registrations::Clock::now();
  regs.update(reg(1, "sip:alice@example.com", "abc@x.invalid"), 600, now);
  regs.update(reg(2, "sip:bob@example.com", "def@y.invalid"), 60, now);
  EXPECT_EQ(regs.size(), 2u);
  ASSERT_NE(regs.find(1, "sip:alice@example.com"), nullptr);
  EXPECT_EQ(regs.find(1, "sip:alice@example.com")->service_route.size(), 1u);
  // An AOR the connection did not register falls back to the connection's registration.
  ASSERT_NE(regs.find(1, "sip:other@example.com"), nullptr);
  EXPECT_EQ(regs.find(3, "sip:alice@example.com"), nullptr);
  ASSERT_NE(regs.find_contact("def@y.invalid"), nullptr);
  EXPECT_EQ(regs.find_contact("def@y.invalid")->conn, 2u);
  EXPECT_EQ(regs.expire(now + 61s), 1u);
  EXPECT_EQ(regs.find_contact("def@y.invalid"), nullptr);
  EXPECT_EQ(regs.size(), 1u);
}

TEST(Registrations, ZeroExpiresAndConnectionCloseRemove) {
  Registrations regs;
  regs.update(reg(1, "sip:alice@example.com", "abc@x.invalid"), 600);
  regs.update(reg(1, "sip:alice2@example.com", "abd@x.invalid"), 600);
  regs.update(reg(2, "sip:bob@example.com", "def@y.invalid"), 600);
  regs.update(reg(1, "sip:alice@example.com", "abc@x.invalid"), 0);
  EXPECT_EQ(regs.size(), 2u);
  regs.remove_connection(1);
  EXPECT_EQ(regs.size(), 1u);
  EXPECT_EQ(regs.find(1, "sip:alice2@example.com"), nullptr);
  EXPECT_NE(regs.find(2, "sip:bob@example.com"), nullptr);
}

TEST(Registrations, ContactKeyLowercasesHostOnly) {
  EXPECT_EQ(Registrations::contact_key("Alice", "X.Invalid", ""), "Alice@x.invalid");
  EXPECT_EQ(Registrations::contact_key("a", "h", "5060"), "a@h:5060");
}

}  // namespace
}  // namespace rtcgw::sip
