// The browser leg's full ICE agent (media.ice: full; RFC 8445): a libnice NiceAgent
// (NICE_COMPATIBILITY_RFC5245, on the default GMainContext) with one stream of one component
// (rtcp-mux and BUNDLE put everything on one 5-tuple), for one call. Unlike IceLite, it sends
// checks itself, so it can be controlling (rtcgw made the offer) or controlled (the browser
// did), RFC 8445 section 6.1.1 with both sides full.
//
// One host candidate, UDP only, on media.address at a port from media.port_range: the port is
// one the PortPool hands out, bound by libnice itself (nice_agent_set_port_range(p, p)); it is
// free again when the agent is gone. Candidates are written with media.advertised_address
// when that is set (the host address behind a 1:1 NAT). No STUN/TURN servers, no UPnP, no TCP.
//
// Consent freshness (RFC 7675) is libnice's own (NICE_AGENT_OPTION_CONSENT_FRESHNESS, libnice
// >= 0.1.19): it sends consent checks on the selected pair and fails the component when they
// go unanswered (30 s at most); libnice then refuses to send. The browser's checks are
// answered by libnice as any check is.
//
// Data: datagrams that are not STUN reach `on_data` in libnice's receive buffer, which may be
// changed in place within their length (SRTP unprotects there); send() sends on the selected
// pair. One loop, one thread; the callbacks are never called after the destructor started,
// and the destructor may run inside one of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "media/port_pool.hpp"
#include "media/udp_socket.hpp"

namespace rtcgw::media {

class IceAgent {
 public:
  enum class Role { kControlling, kControlled };
  enum class State {
    kChecking,   // gathered; checks not yet succeeded (again, after a restart)
    kConnected,  // a pair works: send() sends on it
    kFailed,     // every pair failed, or consent was lost (RFC 7675 section 5.1)
  };
  using DataFn = std::function<void(uint8_t* data, size_t len)>;
  using StateFn = std::function<void(State)>;

  struct Options {
    std::string advertised;  // written into candidates instead of the bound address; "" none
    Role role = Role::kControlled;
    bool consent_freshness = true;
  };

  // A new agent with its host candidate gathered (candidates() is complete on return); null
  // with `error` when libnice fails or no port of the range can be bound.
  static std::unique_ptr<IceAgent> create(PortPool& ports, const Options& opt, DataFn on_data,
                                          StateFn on_state, std::string& error);
  ~IceAgent();
  IceAgent(const IceAgent&) = delete;
  IceAgent& operator=(const IceAgent&) = delete;

  const std::string& local_ufrag() const { return ufrag_; }
  const std::string& local_pwd() const { return pwd_; }
  uint16_t port() const { return port_; }
  // a=candidate values without "candidate:", e.g. "1 1 UDP 2015363327 192.0.2.1 40000 typ host".
  const std::vector<std::string>& candidates() const { return candidates_; }

  // The browser's credentials and a=candidate values (with or without "candidate:"). Only
  // UDP candidates with an IP address are used; others (mDNS names, TCP) are skipped, the
  // browser is then found through its checks (peer-reflexive, RFC 8445 section 7.3.1.3).
  // Checks start here. The number of candidates used; -1 when libnice refuses the credentials
  // or the candidates.
  int set_remote(const std::string& ufrag, const std::string& pwd,
                 const std::vector<std::string>& candidates);
  // ICE restart (RFC 8445 section 9): new local credentials, remote ones forgotten until the
  // next set_remote(); the state goes back to kChecking.
  bool restart();
  void set_role(Role role);
  Role role() const;

  State state() const { return state_; }
  // One datagram on the selected pair; false before kConnected or when libnice refuses.
  bool send(const uint8_t* buf, size_t len);
  // The browser's side of the selected pair; invalid before kConnected.
  Endpoint remote() const;

 private:
  struct Agent;  // the NiceAgent, its stream and signal handler; unreferenced last
  IceAgent(DataFn on_data, StateFn on_state);
  bool gather(PortPool& ports, const Options& opt, std::string& error);
  bool read_local();
  static void on_recv(void* agent, unsigned stream, unsigned component, unsigned len, char* buf,
                      void* self);
  static void on_component_state(void* agent, unsigned stream, unsigned component, unsigned state,
                                 void* self);

  std::unique_ptr<Agent> agent_;
  DataFn on_data_;
  StateFn on_state_;
  std::string ufrag_, pwd_;
  uint16_t port_ = 0;
  std::vector<std::string> candidates_;
  State state_ = State::kChecking;
};

}  // namespace rtcgw::media
