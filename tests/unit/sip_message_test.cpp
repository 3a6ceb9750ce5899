// Parsing one SIP message per WebSocket frame: what is accepted, what gets which error.
#include <gtest/gtest.h>

#include <string>

#include "sip/message.hpp"

namespace rtcgw::sip {
namespace {

std::string message(std::string start = "MESSAGE sip:bob@example.com SIP/2.0",
                    std::string body = "hello", std::string cl = "") {
  std::string s = start + "\r\n";
  s += "Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK776asdhds\r\n";
  s += "Max-Forwards: 69\r\n";
  s += "To: <sip:bob@example.com>\r\n";
  s += "From: <sip:alice@example.com>;tag=1928301774\r\n";
  s += "Call-ID: a84b4c76e66710\r\n";
  s += "CSeq: 1 MESSAGE\r\n";
  s += "Content-Type: text/plain\r\n";
  s += "Content-Length: " + (cl.empty() ? std::to_string(body.size()) : cl) + "\r\n\r\n";
  return s + body;
}

TEST(SipMessage, ValidRequestParses) {
  Parsed p = parse(message());
  ASSERT_TRUE(p.ok()) << p.detail;
  EXPECT_EQ(method_name(p.sip()), "MESSAGE");
  EXPECT_TRUE(can_respond(p.sip()));
}

TEST(SipMessage, EmptyAndGarbage) {
  EXPECT_EQ(parse("").error, "empty");
  EXPECT_EQ(parse("hello there\r\n\r\n").error, "not_sip");
  EXPECT_EQ(parse(std::string("\x16\x03\x01\x02\x00", 5)).error, "not_sip");
}

TEST(SipMessage, MissingVersionIsAnAnswerableBadStartLine) {
  Parsed p = parse(message("MESSAGE sip:bob@example.com"));
  EXPECT_FALSE(p.ok());
  EXPECT_NE(p.error, "not_sip");
  ASSERT_NE(p.sip(), nullptr);
  EXPECT_TRUE(can_respond(p.sip())) << "a 400 can be formed";
}

TEST(SipMessage, WrongVersion) {
  Parsed p = parse(message("MESSAGE sip:bob@example.com SIP/7.0"));
  EXPECT_FALSE(p.ok());
}

TEST(SipMessage, ContentLengthLargerThanBodyIsAnError) {
  Parsed p = parse(message("MESSAGE sip:bob@example.com SIP/2.0", "hello", "50"));
  EXPECT_EQ(p.error, "content_length");
  ASSERT_NE(p.sip(), nullptr);
  EXPECT_TRUE(can_respond(p.sip()));
}

TEST(SipMessage, OctetsPastContentLengthAreDiscarded) {
  Parsed p = parse(message("MESSAGE sip:bob@example.com SIP/2.0", "hello world", "5"));
  ASSERT_TRUE(p.ok()) << p.detail;
  std::string out = print(p.msg.get());
  EXPECT_TRUE(out.ends_with("\r\n\r\nhello")) << out;
}

TEST(SipMessage, MissingHeaders) {
  for (const char* h : {"Via: ", "Call-ID: ", "From: ", "To: ", "CSeq: "}) {
    std::string m = message();
    size_t at = m.find(h);
    m.erase(at, m.find("\r\n", at) + 2 - at);
    Parsed p = parse(m);
    EXPECT_EQ(p.error, "missing_header") << h;
  }
}

TEST(SipMessage, CSeqMethodMustMatch) {
  std::string m = message();
  m.replace(m.find("CSeq: 1 MESSAGE"), 15, "CSeq: 1 INVITE");
  EXPECT_EQ(parse(m).error, "malformed");
}

// sofia reads "1 IN c1" as CSeq "1 IN", prints that, and then cannot read "1 IN" back (an
// unknown method that is a prefix of INVITE or INFO): refused on arrival, not forwarded broken.
// (A request line "IN sip:..." does not parse at all; a response carries the CSeq alone.)
TEST(SipMessage, CSeqThatWouldNotReadBackIsMalformed) {
  std::string m = message("SIP/2.0 180 Ringing");
  m.replace(m.find("CSeq: 1 MESSAGE"), 15, "CSeq: 1 IN c1");
  Parsed p = parse(m);
  EXPECT_EQ(p.error, "malformed");
  EXPECT_EQ(p.detail, "malformed CSeq");
  // An extension method sofia knows nothing of, but reads back, still passes.
  std::string ok = message();
  ok.replace(ok.find("CSeq: 1 MESSAGE"), 15, "CSeq: 1 FOO");
  ok.replace(ok.find("MESSAGE sip:"), 7, "FOO");
  Parsed q = parse(ok);
  EXPECT_TRUE(q.ok()) << q.detail;
}

// sofia takes a Record-Route "sip:x>" (no "<") and prints "<sip:x>>", which it then refuses.
TEST(SipMessage, RouteThatWouldNotReadBackIsMalformed) {
  std::string m = message();
  m.insert(m.find("CSeq: "), "Record-Route: sip:proxy.example.com;lr>\r\n");
  Parsed p = parse(m);
  EXPECT_EQ(p.error, "malformed");
  EXPECT_EQ(p.detail, "malformed Record-Route");
  std::string ok = message();
  ok.insert(ok.find("CSeq: "), "Record-Route: <sip:proxy.example.com;lr>\r\n");
  Parsed q = parse(ok);
  EXPECT_TRUE(q.ok()) << q.detail;
}

// sofia takes the Request-URI "sip:a:/b" and prints "sip:a:b", a request line it then refuses.
TEST(SipMessage, RequestUriThatWouldNotReadBackIsMalformed) {
  Parsed p = parse(message("MESSAGE sip:a:/b SIP/2.0"));
  EXPECT_EQ(p.error, "malformed");
  EXPECT_EQ(p.detail, "malformed Request-URI");
  Parsed q = parse(message("MESSAGE sip:bob@host:5060 SIP/2.0"));
  EXPECT_TRUE(q.ok()) << q.detail;
}

// sofia drops one '/' each time it prints a Contact "<sip:b@h x/y/z>": the first print reads back,
// the second no longer does. Printing must reach a fixed point for the message to pass.
TEST(SipMessage, ContactThatDriftsWhenReprintedIsMalformed) {
  std::string m = message();
  m.insert(m.find("CSeq: "), "Contact: <sip:bob@host SIP/2.A/TCP: x;transport=ws>\r\n");
  Parsed p = parse(m);
  EXPECT_EQ(p.error, "malformed");
  EXPECT_EQ(p.detail, "malformed Contact");
}

// sofia reads the To "$SIP/x:y" as a URI without a scheme and prints "$SIPx:y", which it then
// reads with the scheme "$SIPx", one no URI may have (RFC 3986 section 3.1).
TEST(SipMessage, ToWhoseReprintHasABadSchemeIsMalformed) {
  std::string m = message();
  m.replace(m.find("To: <sip:bob@example.com>"), 25, "To: $SIP/x:y");
  Parsed p = parse(m);
  EXPECT_EQ(p.error, "malformed");
  EXPECT_EQ(p.detail, "malformed To");
}

TEST(SipMessage, ResponseTextCopiesTheTransactionHeaders) {
  Parsed p = parse(message());
  ASSERT_TRUE(p.ok());
  std::string r = response_text(p.sip(), 483, "Too Many Hops", "abc");
  EXPECT_TRUE(r.starts_with("SIP/2.0 483 Too Many Hops\r\n")) << r;
  EXPECT_NE(r.find("Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK776asdhds\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("To: <sip:bob@example.com>;tag=abc\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("CSeq: 1 MESSAGE\r\n"), std::string::npos) << r;
  Parsed back = parse(r);
  EXPECT_TRUE(back.ok()) << back.detail;
}

TEST(SipMessage, RandomTokens) {
  std::string a = random_token(16), b = random_token(16);
  EXPECT_EQ(a.size(), 16u);
  EXPECT_NE(a, b);
  for (char c : a) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'));
}

}  // namespace
}  // namespace rtcgw::sip

namespace rtcgw::sip {
namespace {

TEST(SipMessage, LongViaPrintsWhole) {
  std::string branch(2000, 'b');
  std::string m = message();
  m.replace(m.find("branch=z9hG4bK776asdhds"), 23, "received=192.0.2.5;branch=z9hG4bK" + branch);
  Parsed p = parse(m);
  ASSERT_TRUE(p.ok()) << p.detail;
  std::string v = header_text(reinterpret_cast<sip_header_t const*>(p.sip()->sip_via));
  EXPECT_EQ(v, "SIP/2.0/WS df7jal23ls0d.invalid;received=192.0.2.5;branch=z9hG4bK" + branch);
  std::string r = response_text(p.sip(), 100, "Trying");
  EXPECT_NE(r.find(branch + "\r\n"), std::string::npos);
}

}  // namespace
}  // namespace rtcgw::sip
