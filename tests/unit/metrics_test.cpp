#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "rtcgw/metrics.hpp"

using rtcgw::Metrics;

TEST(Metrics, ConnectionsGaugeAndTotal) {
  Metrics m;
  EXPECT_EQ(m.counter_value("rtcgw_ws_connections", ""), 0);
  EXPECT_EQ(m.counter_value("rtcgw_ws_connections_total", ""), 0);
  m.ws_connection_opened();
  m.ws_connection_opened();
  m.ws_connection_closed();
  EXPECT_EQ(m.counter_value("rtcgw_ws_connections", ""), 1);
  EXPECT_EQ(m.counter_value("rtcgw_ws_connections_total", ""), 2);
}

TEST(Metrics, RejectedByReason) {
  Metrics m;
  m.ws_connection_rejected("origin");
  m.ws_connection_rejected("origin");
  m.ws_connection_rejected("rate");
  EXPECT_EQ(m.counter_value("rtcgw_ws_rejected_total", "reason=\"origin\""), 2);
  EXPECT_EQ(m.counter_value("rtcgw_ws_rejected_total", "reason=\"rate\""), 1);
  EXPECT_EQ(m.counter_value("rtcgw_ws_rejected_total", "reason=\"limit\""), 0);
}

TEST(Metrics, SipRequestsAndResponses) {
  Metrics m;
  m.sip_request("from_browser", "INVITE");
  m.sip_request("from_browser", "INVITE");
  m.sip_request("from_core", "INVITE");
  m.sip_request("from_browser", "XYZZY");
  m.sip_response("from_core", "INVITE", 200);
  m.sip_response("from_core", "INVITE", 180);
  m.sip_response("from_core", "INVITE", 180);
  m.sip_response("from_browser", "BYE", 9999);
  // Label order does not matter.
  EXPECT_EQ(
      m.counter_value("rtcgw_sip_requests_total", "method=\"INVITE\",direction=\"from_browser\""),
      2);
  EXPECT_EQ(
      m.counter_value("rtcgw_sip_requests_total", "direction=\"from_browser\",method=\"INVITE\""),
      2);
  EXPECT_EQ(
      m.counter_value("rtcgw_sip_requests_total", "direction=\"from_core\", method=\"INVITE\""), 1);
  // Unknown methods are folded so that peers cannot create time series at will.
  EXPECT_EQ(
      m.counter_value("rtcgw_sip_requests_total", "direction=\"from_browser\",method=\"other\""),
      1);
  EXPECT_EQ(
      m.counter_value("rtcgw_sip_requests_total", "direction=\"from_browser\",method=\"XYZZY\""),
      0);
  EXPECT_EQ(m.counter_value("rtcgw_sip_responses_total",
                            "direction=\"from_core\",method=\"INVITE\",status=\"180\""),
            2);
  EXPECT_EQ(m.counter_value("rtcgw_sip_responses_total",
                            "direction=\"from_core\",method=\"INVITE\",status=\"200\""),
            1);
  EXPECT_EQ(m.counter_value("rtcgw_sip_responses_total",
                            "direction=\"from_browser\",method=\"BYE\",status=\"other\""),
            1);
  // A subset of the labels is not a match.
  EXPECT_EQ(m.counter_value("rtcgw_sip_responses_total", "direction=\"from_core\""), 0);
}

TEST(Metrics, BadMessagesAndRegistrations) {
  Metrics m;
  m.bad_message("ws", "parse");
  m.bad_message("sip", "parse");
  m.bad_message("sip", "parse");
  EXPECT_EQ(m.counter_value("rtcgw_bad_messages_total", "source=\"ws\",reason=\"parse\""), 1);
  EXPECT_EQ(m.counter_value("rtcgw_bad_messages_total", "source=\"sip\",reason=\"parse\""), 2);
  m.set_registrations(5);
  EXPECT_EQ(m.counter_value("rtcgw_registrations", ""), 5);
  m.set_registrations(3);
  EXPECT_EQ(m.counter_value("rtcgw_registrations", ""), 3);
}

TEST(Metrics, UnknownNamesAndBadLabels) {
  Metrics m;
  EXPECT_TRUE(std::isnan(m.counter_value("rtcgw_nope_total", "")));
  EXPECT_TRUE(std::isnan(m.counter_value("rtcgw_ws_rejected_total", "reason=origin")));
  EXPECT_TRUE(std::isnan(m.counter_value("rtcgw_ws_rejected_total", "reason=\"origin")));
}

TEST(Metrics, InstancesAreIndependent) {
  Metrics a, b;
  a.ws_connection_opened();
  EXPECT_EQ(a.counter_value("rtcgw_ws_connections_total", ""), 1);
  EXPECT_EQ(b.counter_value("rtcgw_ws_connections_total", ""), 0);
}

TEST(Metrics, SerializeIsPrometheusText) {
  Metrics m;
  m.ws_connection_opened();
  m.sip_request("from_browser", "REGISTER");
  m.sip_response("from_core", "REGISTER", 401);
  m.ws_connection_rejected("a\"b");
  m.bad_message("sip", "no_via");
  std::string text = m.serialize();
  for (const char* want : {
           "# TYPE rtcgw_ws_connections gauge\n",
           "rtcgw_ws_connections 1\n",
           "# TYPE rtcgw_ws_connections_total counter\n",
           "rtcgw_ws_connections_total 1\n",
           "# TYPE rtcgw_registrations gauge\n",
           "rtcgw_sip_requests_total{direction=\"from_browser\",method=\"REGISTER\"} 1\n",
           "rtcgw_sip_responses_total{direction=\"from_core\",method=\"REGISTER\",status=\"401\"} "
           "1\n",
           "rtcgw_ws_rejected_total{reason=\"a\\\"b\"} 1\n",
           "# TYPE rtcgw_bad_messages_total counter\n",
           "rtcgw_bad_messages_total{reason=\"no_via\",source=\"sip\"} 1\n",
           "rtcgw_build_info{version=\"" RTCGW_VERSION "\"} 1\n",
       }) {
    EXPECT_NE(text.find(want), std::string::npos) << "missing: " << want << "\nin:\n" << text;
  }
  // The escaped label value reads back.
  EXPECT_EQ(m.counter_value("rtcgw_ws_rejected_total", "reason=\"a\\\"b\""), 1);
}
