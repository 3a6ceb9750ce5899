// IceAgent (full ICE on libnice) against a second, independent libnice agent playing the
// browser, both on 127.0.0.1 in this process and on the default GMainContext: gathering,
// both roles, data both ways, ICE restart, wrong credentials, and the port's round trip
// through the PortPool.
#include <agent.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "media/ice_agent.hpp"
#include "media/port_pool.hpp"
#include "media/udp_socket.hpp"
#include "nice_peer.hpp"

namespace rtcgw::media {
namespace {

// Runs the default context until `done` or `ms` elapsed; the bound keeps a broken case from
// hanging the suite, it is not a speed requirement.
bool spin_until(const std::function<bool()>& done, int ms = 20000) {
  const gint64 end = g_get_monotonic_time() + gint64(ms) * 1000;
  while (!done()) {
    if (g_get_monotonic_time() > end) return false;
    if (!g_main_context_iteration(nullptr, FALSE)) g_usleep(1000);
  }
  return true;
}

void spin_for(int ms) {
  spin_until([] { return false; }, ms);
}

// An even port whose pair is free right now, so that tests running in parallel with other
// suites get a range of their own.
uint16_t free_even_port() {
  for (int tries = 0; tries < 200; ++tries) {
    auto p = static_cast<uint16_t>(20000 + 2 * g_random_int_range(0, 10000));
    UdpSocket a, b;
    if (a.bind("127.0.0.1", p) && b.bind("127.0.0.1", static_cast<uint16_t>(p + 1))) return p;
  }
  ADD_FAILURE() << "no free port";
  return 0;
}

// The browser: a plain libnice agent, full ICE, host candidates on 127.0.0.1.
class Peer : public testing::NicePeer {
 public:
  using NicePeer::NicePeer;
  using NicePeer::send;

  void restart() { ASSERT_TRUE(nice_agent_restart_stream(agent_, stream_)); }
  bool send(const std::string& s) { return send(s.data(), s.size()); }
  // The port the agent checks from: where IceAgent::remote() must point.
  uint16_t port() const {
    GSList* l = nice_agent_get_local_candidates(agent_, stream_, 1);
    uint16_t p =
        l ? uint16_t(nice_address_get_port(&static_cast<NiceCandidate*>(l->data)->addr)) : 0;
    g_slist_free_full(l, reinterpret_cast<GDestroyNotify>(nice_candidate_free));
    return p;
  }

  std::vector<std::string> got;

 private:
  void received(uint8_t* data, size_t len) override {
    got.emplace_back(reinterpret_cast<const char*>(data), len);
  }
};

class IceAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = free_even_port();
    pool_ = std::make_unique<PortPool>("127.0.0.1", base_, uint16_t(base_ + 9));
  }
  void TearDown() override { agent_.reset(); }

  std::unique_ptr<IceAgent> make(IceAgent::Role role, std::string advertised = "") {
    std::string error;
    IceAgent::Options opt;
    opt.role = role;
    opt.advertised = std::move(advertised);
    auto a = IceAgent::create(
        *pool_, opt,
        [this](uint8_t* d, size_t n) { got_.emplace_back(reinterpret_cast<char*>(d), n); },
        [this](IceAgent::State s) { states_.push_back(s); }, error);
    EXPECT_NE(a, nullptr) << error;
    return a;
  }
  bool send(const std::string& s) {
    return agent_->send(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  // Offer/answer done: each side has the other's credentials and candidates.
  void exchange(Peer& peer) {
    EXPECT_EQ(agent_->set_remote(peer.ufrag(), peer.pwd(), peer.candidates()), 1);
    peer.set_remote(agent_->local_ufrag(), agent_->local_pwd(), agent_->candidates());
  }
  // Connected both ways, data both ways, the selected pair points at the peer.
  void expect_media(Peer& peer, const std::string& tag) {
    ASSERT_TRUE(spin_until([&] {
      return agent_->state() == IceAgent::State::kConnected && peer.ready();
    })) << tag;
    Endpoint r = agent_->remote();
    ASSERT_TRUE(r.valid());
    EXPECT_EQ(r.text(), "127.0.0.1:" + std::to_string(peer.port()));
    got_.clear();
    peer.got.clear();
    // UDP on loopback: resend until it arrives, the loop being what delivers it.
    ASSERT_TRUE(spin_until([&] {
      send("to browser " + tag);
      peer.send("to rtcgw " + tag);
      spin_for(5);
      return !got_.empty() && !peer.got.empty();
    })) << tag;
    EXPECT_EQ(got_.front(), "to rtcgw " + tag);
    EXPECT_EQ(peer.got.front(), "to browser " + tag);
  }

  uint16_t base_ = 0;
  std::unique_ptr<PortPool> pool_;
  std::unique_ptr<IceAgent> agent_;
  std::vector<std::string> got_;
  std::vector<IceAgent::State> states_;
};

TEST_F(IceAgentTest, HostCandidateFromTheRangeIsThereOnReturn) {
  agent_ = make(IceAgent::Role::kControlled);
  ASSERT_NE(agent_, nullptr);
  EXPECT_GE(agent_->port(), base_);
  EXPECT_LE(agent_->port(), base_ + 9);
  EXPECT_EQ(agent_->port() % 2, 0);
  ASSERT_EQ(agent_->candidates().size(), 1u);
  const std::string& c = agent_->candidates()[0];
  EXPECT_NE(c.find(" 1 udp "), std::string::npos) << c;
  EXPECT_NE(c.find(" 127.0.0.1 " + std::to_string(agent_->port()) + " typ host"), std::string::npos)
      << c;
  EXPECT_GE(agent_->local_ufrag().size(), 4u);
  EXPECT_GE(agent_->local_pwd().size(), 22u);
  EXPECT_EQ(agent_->state(), IceAgent::State::kChecking);
  EXPECT_EQ(agent_->role(), IceAgent::Role::kControlled);
  EXPECT_FALSE(agent_->remote().valid());
  // Nothing connected: nothing can be sent.
  EXPECT_FALSE(send("early"));
}

TEST_F(IceAgentTest, AdvertisedAddressGoesIntoTheCandidate) {
  agent_ = make(IceAgent::Role::kControlled, "192.0.2.7");
  ASSERT_NE(agent_, nullptr);
  ASSERT_EQ(agent_->candidates().size(), 1u);
  const std::string& c = agent_->candidates()[0];
  EXPECT_NE(c.find(" 192.0.2.7 " + std::to_string(agent_->port()) + " typ host"), std::string::npos)
      << c;
  EXPECT_EQ(c.find("127.0.0.1"), std::string::npos) << c;
}

// The browser offered: it is controlling, rtcgw controlled.
TEST_F(IceAgentTest, ControlledConnects) {
  agent_ = make(IceAgent::Role::kControlled);
  ASSERT_NE(agent_, nullptr);
  Peer browser(true);
  exchange(browser);
  expect_media(browser, "controlled");
  EXPECT_EQ(states_.back(), IceAgent::State::kConnected);
}

// rtcgw offered (a call from the core): rtcgw controlling, the browser controlled.
TEST_F(IceAgentTest, ControllingConnects) {
  agent_ = make(IceAgent::Role::kControlling);
  ASSERT_NE(agent_, nullptr);
  EXPECT_EQ(agent_->role(), IceAgent::Role::kControlling);
  Peer browser(false);
  exchange(browser);
  expect_media(browser, "controlling");
}

// Checks arrive before the answer gave rtcgw the browser's candidates (the browser's checks
// race the SIP answer): rtcgw learns the browser as a peer-reflexive candidate.
TEST_F(IceAgentTest, ConnectsWithoutRemoteCandidates) {
  agent_ = make(IceAgent::Role::kControlled);
  ASSERT_NE(agent_, nullptr);
  Peer browser(true);
  EXPECT_EQ(agent_->set_remote(browser.ufrag(), browser.pwd(), {}), 0);
  browser.set_remote(agent_->local_ufrag(), agent_->local_pwd(), agent_->candidates());
  expect_media(browser, "prflx");
}

TEST_F(IceAgentTest, RestartGivesNewCredentialsAndReconnects) {
  agent_ = make(IceAgent::Role::kControlled);
  ASSERT_NE(agent_, nullptr);
  Peer browser(true);
  exchange(browser);
  expect_media(browser, "before");

  const std::string ufrag = agent_->local_ufrag(), pwd = agent_->local_pwd();
  const uint16_t port = agent_->port();
  // A re-offer from the browser with new credentials: both sides restart.
  browser.restart();
  ASSERT_TRUE(agent_->restart());
  EXPECT_NE(agent_->local_ufrag(), ufrag);
  EXPECT_NE(agent_->local_pwd(), pwd);
  EXPECT_EQ(agent_->port(), port);
  EXPECT_EQ(agent_->state(), IceAgent::State::kChecking);
  exchange(browser);
  expect_media(browser, "after");
}

// rtcgw has the browser's password wrong: its checks are refused (401), it fails; the
// browser, whose checks succeed, may connect one way but rtcgw never reports connected.
TEST_F(IceAgentTest, WrongRemotePasswordFails) {
  agent_ = make(IceAgent::Role::kControlling);
  ASSERT_NE(agent_, nullptr);
  Peer browser(false);
  EXPECT_EQ(agent_->set_remote(browser.ufrag(), "wrongPasswordWrongPassword", browser.candidates()),
            1);
  browser.set_remote(agent_->local_ufrag(), agent_->local_pwd(), agent_->candidates());
  ASSERT_TRUE(spin_until([&] { return agent_->state() == IceAgent::State::kFailed; }, 50000));
  for (auto s : states_) EXPECT_NE(s, IceAgent::State::kConnected);
  EXPECT_FALSE(send("nothing"));
}

// RFC 7675: the browser goes away without a word; libnice's consent checks go unanswered and
// the agent fails within the RFC's 30 s (and refuses to send). Without consent freshness
// nothing would notice: the agent would stay connected.
TEST_F(IceAgentTest, ConsentLostFails) {
  agent_ = make(IceAgent::Role::kControlled);
  ASSERT_NE(agent_, nullptr);
  auto browser = std::make_unique<Peer>(true);
  exchange(*browser);
  expect_media(*browser, "consent");
  browser.reset();
  ASSERT_TRUE(spin_until([&] { return agent_->state() == IceAgent::State::kFailed; }, 45000));
  EXPECT_FALSE(send("after consent"));
}

// The receive callback may end the call too.
TEST_F(IceAgentTest, DestroyedFromItsDataCallback) {
  std::string error;
  std::unique_ptr<IceAgent> a;
  bool called = false;
  a = IceAgent::create(
      *pool_, {},
      [&](uint8_t*, size_t) {
        called = true;
        a.reset();
      },
      nullptr, error);
  ASSERT_NE(a, nullptr) << error;
  Peer browser(true);
  a->set_remote(browser.ufrag(), browser.pwd(), browser.candidates());
  browser.set_remote(a->local_ufrag(), a->local_pwd(), a->candidates());
  ASSERT_TRUE(spin_until([&] {
    browser.send("bye");
    spin_for(5);
    return called;
  }));
  EXPECT_EQ(a, nullptr);
  spin_for(100);
}

TEST_F(IceAgentTest, CandidatesLibniceCannotUseAreSkipped) {
  agent_ = make(IceAgent::Role::kControlled);
  ASSERT_NE(agent_, nullptr);
  EXPECT_EQ(agent_->set_remote("abcd", "0123456789012345678901",
                               {"1 1 udp 2122260223 8c3f0b58-1f5e-4a4e.local 51000 typ host",
                                "2 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
                                "candidate:3 1 UDP 2122194687 127.0.0.1 51002 typ host",
                                "4 2 udp 2122194686 127.0.0.1 51003 typ host", "garbage"}),
            1);
}

// The port comes from the pool's range and is free again once the agent is gone.
TEST_F(IceAgentTest, PortComesFromThePoolAndGoesBack) {
  PortPool one("127.0.0.1", base_, uint16_t(base_ + 1));  // a single even port
  std::string error;
  auto a = IceAgent::create(one, {}, nullptr, nullptr, error);
  ASSERT_NE(a, nullptr) << error;
  EXPECT_EQ(a->port(), base_);
  UdpSocket probe;
  EXPECT_FALSE(probe.bind("127.0.0.1", base_));  // libnice holds it
  auto b = IceAgent::create(one, {}, nullptr, nullptr, error);
  EXPECT_EQ(b, nullptr);
  EXPECT_EQ(error, "no free media port in media.port_range");

  a.reset();
  {
    UdpSocket s;
    EXPECT_TRUE(s.bind("127.0.0.1", base_));
  }
  auto c = IceAgent::create(one, {}, nullptr, nullptr, error);
  ASSERT_NE(c, nullptr) << error;
  EXPECT_EQ(c->port(), base_);
}

// Destroying the agent from its own state callback (a failed call released there) is safe.
TEST_F(IceAgentTest, DestroyedFromItsOwnCallback) {
  std::string error;
  IceAgent::Options opt;
  opt.role = IceAgent::Role::kControlling;
  std::unique_ptr<IceAgent> a;
  bool called = false;
  a = IceAgent::create(
      *pool_, opt, nullptr,
      [&](IceAgent::State s) {
        if (s == IceAgent::State::kConnected) {
          called = true;
          a.reset();
        }
      },
      error);
  ASSERT_NE(a, nullptr) << error;
  Peer browser(false);
  a->set_remote(browser.ufrag(), browser.pwd(), browser.candidates());
  browser.set_remote(a->local_ufrag(), a->local_pwd(), a->candidates());
  ASSERT_TRUE(spin_until([&] { return called; }));
  EXPECT_EQ(a, nullptr);
  spin_for(100);  // whatever libnice had queued for the agent runs on a freed one under ASan
}

}  // namespace
}  // namespace rtcgw::media
