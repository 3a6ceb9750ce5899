// What rtcgw remembers from each 2xx to a REGISTER: per WebSocket connection and AOR, the
// Contact(s), expiry and Service-Route (used to preload Route on the browser's initial requests).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rtcgw::sip {

struct Registration {
  uint64_t conn = 0;
  std::string aor;                         // sip:user@domain, no parameters
  std::vector<std::string> contacts;       // the browser's Contact URIs (as text)
  std::vector<std::string> service_route;  // Service-Route values, in order, e.g. "<sip:x;lr>"
  std::chrono::steady_clock::time_point expires;
};

class Registrations {
 public:
  using Clock = std::chrono::steady_clock;

  // Replaces what is known for (conn, aor); expires_s == 0 removes it.
  void update(Registration reg, unsigned expires_s, Clock::time_point now = Clock::now());
  void remove_connection(uint64_t conn);
  // Drops expired entries; returns how many.
  size_t expire(Clock::time_point now = Clock::now());

  // The registration of `conn` whose AOR is `aor`, else the connection's first one, else null.
  const Registration* find(uint64_t conn, const std::string& aor) const;
  // The connection that registered this Contact URI (compared as user@host:port), if any.
  const Registration* find_contact(const std::string& contact_key) const;
  size_t size() const { return regs_.size(); }

  // user@host:port of a Contact URI text, lower-cased host: the key find_contact compares.
  static std::string contact_key(const std::string& user, const std::string& host,
                                 const std::string& port);

 private:
  std::map<std::pair<uint64_t, std::string>, Registration> regs_;
};

}  // namespace rtcgw::sip
