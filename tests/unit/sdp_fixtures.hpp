// Shared by the SDP tests: the sample files in tests/unit/data/sdp, sofia's strict parser as an
// independent check, and the two legs of an anchor.
#pragma once

#include <gtest/gtest.h>
#include <sofia-sip/sdp.h>
#include <sofia-sip/su_alloc.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sdp/translate.hpp"

namespace rtcgw::sdp::testing {

inline std::string load(const std::string& name) {
  std::ifstream f(std::string(RTCGW_SOURCE_DIR) + "/tests/unit/data/sdp/" + name);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << name;
  return ss.str();
}

// Sofia's own strict parser, independent of the translator's.
inline bool sofia_parses(const std::string& sdp) {
  su_home_t* home = static_cast<su_home_t*>(su_home_new(sizeof(su_home_t)));
  sdp_parser_t* p = sdp_parse(home, sdp.data(), static_cast<issize_t>(sdp.size()), sdp_f_strict);
  bool ok = sdp_parsing_error(p) == nullptr && sdp_session(p) != nullptr;
  sdp_parser_free(p);
  su_home_unref(home);
  return ok;
}

// Lines without their CRLF (or LF: the sample files use LF, SIP carries CRLF).
inline std::vector<std::string> lines(const std::string& sdp) {
  std::vector<std::string> out;
  std::istringstream in(sdp);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    out.push_back(l);
  }
  return out;
}

inline bool has(const std::string& sdp, const std::string& line) {
  for (const auto& l : lines(sdp))
    if (l == line) return true;
  return false;
}

inline bool has_prefix(const std::string& sdp, const std::string& prefix) {
  for (const auto& l : lines(sdp))
    if (l.rfind(prefix, 0) == 0) return true;
  return false;
}

inline NetworkLeg net_leg() {
  NetworkLeg leg;
  leg.address = "198.51.100.7";
  leg.rtp_port = 30000;
  leg.session_id = 42;
  leg.session_version = 1;
  return leg;
}

inline BrowserLeg browser_leg() {
  BrowserLeg leg;
  leg.address = "203.0.113.5";
  leg.port = 50000;
  leg.ice_ufrag = "gwUf";
  leg.ice_pwd = "gatewayIcePassword0123456";
  leg.fingerprint_sha256 =
      "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:"
      "89:AB:CD:EF:01:23:45:67:89";
  leg.setup = "passive";
  leg.session_id = 77;
  leg.session_version = 3;
  return leg;
}

}  // namespace rtcgw::sdp::testing
