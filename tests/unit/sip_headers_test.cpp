// Header edits on real JsSIP messages: what rtcgw adds lands in the header section, in order.
#include <gtest/gtest.h>

#include "sip/headers.hpp"
#include "sip/message.hpp"

namespace rtcgw::sip {
namespace {

const char kRegister[] =
    "REGISTER sip:example.com SIP/2.0\r\n"
    "Via: SIP/2.0/WS 3x4mspml7ic2.invalid;branch=z9hG4bK2724023\r\n"
    "Max-Forwards: 69\r\n"
    "To: <sip:alice@example.com>\r\n"
    "From: <sip:alice@example.com>;tag=zkv4jaqkh9\r\n"
    "Call-ID: mvqdqpvjofr34fofuoz4f0\r\n"
    "CSeq: 1 REGISTER\r\n"
    "Contact: <sip:gbhn1l9s@3x4mspml7ic2.invalid;transport=ws>;+sip.ice;reg-id=1;"
    "+sip.instance=\"<urn:uuid:bd68230b-1461-4209-8855-8a6e5e4a0d6d>\";expires=600\r\n"
    "P-Asserted-Identity: <sip:boss@example.com>\r\n"
    "Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1;spi-s=2;port-c=3;port-s=4\r\n"
    "Supported: gruu, outbound\r\n"
    "Content-Length: 0\r\n\r\n";

std::string head_of(const std::string& text) { return text.substr(0, text.find("\r\n\r\n") + 4); }

TEST(SipHeaders, UnknownHeaderGoesIntoTheHeaderSection) {
  Parsed p = parse(kRegister);
  ASSERT_TRUE(p.ok()) << p.detail;
  ASSERT_TRUE(add_unknown(p.msg.get(), p.sip(), "P-Charging-Vector", "icid-value=abc"));
  std::string out = print(p.msg.get());
  EXPECT_NE(head_of(out).find("P-Charging-Vector: icid-value=abc\r\n"), std::string::npos) << out;
  EXPECT_TRUE(out.ends_with("\r\n\r\n")) << out;
  Parsed again = parse(out);
  EXPECT_TRUE(again.ok()) << again.detail;
  EXPECT_TRUE(has_named(again.sip(), "P-Charging-Vector"));
}

TEST(SipHeaders, RemoveNamedKnownAndUnknown) {
  Parsed p = parse(kRegister);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(remove_named(p.msg.get(), p.sip(), "Security-Client"), 1);
  EXPECT_EQ(remove_named(p.msg.get(), p.sip(), "P-Asserted-Identity"), 1);
  EXPECT_EQ(remove_named(p.msg.get(), p.sip(), "P-Asserted-Identity"), 0);
  std::string out = print(p.msg.get());
  EXPECT_EQ(out.find("Security-Client"), std::string::npos) << out;
  EXPECT_EQ(out.find("P-Asserted-Identity"), std::string::npos) << out;
  EXPECT_NE(out.find("Contact: "), std::string::npos);
}

TEST(SipHeaders, PathAndRecordRouteArePrependedInOrder) {
  Parsed p = parse(kRegister);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(add_header(p.msg.get(), p.sip(), sip_record_route_class, "<sip:ws-side;lr>"));
  ASSERT_TRUE(add_header(p.msg.get(), p.sip(), sip_record_route_class, "<sip:net-side;lr>"));
  std::string out = print(p.msg.get());
  size_t net = out.find("<sip:net-side;lr>");
  size_t ws = out.find("<sip:ws-side;lr>");
  ASSERT_NE(net, std::string::npos) << out;
  ASSERT_NE(ws, std::string::npos) << out;
  EXPECT_LT(net, ws) << "the last Record-Route added must be the first in the message\n" << out;
}

TEST(SipHeaders, SupportedGainsPathOnce) {
  Parsed p = parse(kRegister);
  ASSERT_TRUE(p.ok());
  ensure_supported(p.msg.get(), p.sip(), "path");
  ensure_supported(p.msg.get(), p.sip(), "path");
  std::string out = print(p.msg.get());
  EXPECT_NE(out.find("Supported: gruu, outbound, path\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("path", out.find("path") + 1), std::string::npos) << out;
}

TEST(SipHeaders, ReceivedAndMaxForwards) {
  Parsed p = parse(kRegister);
  ASSERT_TRUE(p.ok());
  mark_received(p.msg.get(), p.sip(), "192.0.2.7", 50000);
  EXPECT_EQ(decrement_max_forwards(p.msg.get(), p.sip()), 69u);
  std::string out = print(p.msg.get());
  EXPECT_NE(out.find("Via: SIP/2.0/WS 3x4mspml7ic2.invalid;branch=z9hG4bK2724023;received=192.0.2.7\r\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("rport="), std::string::npos) << "rport only when the client asked";
  EXPECT_NE(out.find("Max-Forwards: 68\r\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace rtcgw::sip

namespace rtcgw::sip {
namespace {

TEST(SipHeaders, ViasStayTogetherAboveRecordRoute) {
  Parsed p = parse(kRegister);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(add_header(p.msg.get(), p.sip(), sip_record_route_class, "<sip:rr;lr>"));
  ASSERT_TRUE(add_header(p.msg.get(), p.sip(), sip_via_class, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx"));
  vias_first(p.msg.get(), p.sip());
  std::string out = print(p.msg.get());
  size_t v1 = out.find("Via: SIP/2.0/UDP 192.0.2.1");
  size_t v2 = out.find("Via: SIP/2.0/WS 3x4mspml7ic2.invalid");
  size_t rr = out.find("Record-Route:");
  ASSERT_NE(v1, std::string::npos) << out;
  ASSERT_NE(v2, std::string::npos) << out;
  EXPECT_LT(v1, v2) << out;
  EXPECT_LT(v2, rr) << out;
  EXPECT_EQ(out.find("REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1"), 0u) << out;
}

}  // namespace
}  // namespace rtcgw::sip

namespace rtcgw::sip {
namespace {

// Other proxies' flow tokens are base64 with '/' and '=' in the user part: they pass unchanged.
TEST(SipHeaders, ForeignRouteUserPartsPassUnchanged) {
  std::string m = kRegister;
  m.insert(m.find("Max-Forwards"),
           "Route: <sip:Zm9v/YmFy+cXV4=@pcscf.example.net;lr>, <sip:a%20b!$&'()*+,;=@x.example.net;lr>\r\n");
  Parsed p = parse(m);
  ASSERT_TRUE(p.ok()) << p.detail;
  ASSERT_NE(p.sip()->sip_route, nullptr);
  EXPECT_STREQ(p.sip()->sip_route->r_url->url_user, "Zm9v/YmFy+cXV4=");
  add_header(p.msg.get(), p.sip(), sip_record_route_class, "<sip:rr;lr>");
  std::string out = print(p.msg.get());
  EXPECT_NE(out.find("<sip:Zm9v/YmFy+cXV4=@pcscf.example.net;lr>"), std::string::npos) << out;
  EXPECT_NE(out.find("<sip:a%20b!$&'()*+,;=@x.example.net;lr>"), std::string::npos) << out;
}

}  // namespace
}  // namespace rtcgw::sip
