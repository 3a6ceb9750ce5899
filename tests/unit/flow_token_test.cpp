// RFC 5626 flow tokens: round trip, and no forgery or alteration gets through.
#include <gtest/gtest.h>

#include "sip/flow_token.hpp"

namespace rtcgw::sip {
namespace {

TEST(FlowToken, RoundTrip) {
  FlowTokens t;
  for (uint64_t id : {uint64_t{1}, uint64_t{42}, uint64_t{0xfffffffffffffffe}}) {
    std::string tok = t.make(id);
    ASSERT_EQ(tok.size(), 24u);
    for (char c : tok) EXPECT_TRUE(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << tok;
    auto back = t.parse(tok);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, id);
  }
}

TEST(FlowToken, AlteredTokenIsRefused) {
  FlowTokens t;
  std::string tok = t.make(7);
  for (size_t i = 0; i < tok.size(); ++i) {
    std::string bad = tok;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(t.parse(bad).has_value()) << "position " << i;
  }
}

TEST(FlowToken, OtherKeyOrJunkIsRefused) {
  std::array<uint8_t, 32> k1{}, k2{};
  k2[0] = 1;
  FlowTokens a(k1), b(k2);
  EXPECT_FALSE(b.parse(a.make(9)).has_value());
  EXPECT_FALSE(a.parse("").has_value());
  EXPECT_FALSE(a.parse("AAAAAAAAAAAAAAAAAAAAAAA").has_value());
  EXPECT_FALSE(a.parse("AAAAAAAAAAAAAAAAAAAAAAA=").has_value());
  EXPECT_FALSE(a.parse("a/b+c=dddddddddddddddddd").has_value());
}

}  // namespace
}  // namespace rtcgw::sip
