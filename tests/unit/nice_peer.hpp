// A plain libnice agent playing the browser in the full-ICE tests (media_ice_agent_test.cpp,
// media_anchor_full_ice_test.cpp): full ICE as browsers do it, host candidates on 127.0.0.1,
// one stream of one component, on the default GMainContext. What arrives goes to received().
#pragma once

#include <agent.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rtcgw::media::testing {

class NicePeer {
 public:
  explicit NicePeer(bool controlling) {
    agent_ = nice_agent_new_full(nullptr, NICE_COMPATIBILITY_RFC5245,
                                 NICE_AGENT_OPTION_REGULAR_NOMINATION);
    g_object_set(agent_, "upnp", FALSE, "ice-tcp", FALSE, "controlling-mode", controlling, nullptr);
    NiceAddress lo;
    nice_address_init(&lo);
    nice_address_set_from_string(&lo, "127.0.0.1");
    nice_agent_add_local_address(agent_, &lo);
    stream_ = nice_agent_add_stream(agent_, 1);
    EXPECT_TRUE(nice_agent_gather_candidates(agent_, stream_));
    nice_agent_attach_recv(agent_, stream_, 1, nullptr, &NicePeer::on_recv, this);
    handler_ =
        g_signal_connect(agent_, "component-state-changed", G_CALLBACK(&NicePeer::on_state), this);
  }
  virtual ~NicePeer() {
    g_signal_handler_disconnect(agent_, handler_);
    nice_agent_attach_recv(agent_, stream_, 1, nullptr, nullptr, nullptr);
    g_object_unref(agent_);
  }
  NicePeer(const NicePeer&) = delete;
  NicePeer& operator=(const NicePeer&) = delete;

  std::string ufrag() const { return creds().first; }
  std::string pwd() const { return creds().second; }
  // As a browser writes them: a=candidate values without "candidate:".
  std::vector<std::string> candidates() const {
    std::vector<std::string> out;
    GSList* l = nice_agent_get_local_candidates(agent_, stream_, 1);
    for (GSList* i = l; i; i = i->next) {
      gchar* line =
          nice_agent_generate_local_candidate_sdp(agent_, static_cast<NiceCandidate*>(i->data));
      std::string s = line;
      g_free(line);
      const std::string prefix = "a=candidate:";
      out.push_back(s.rfind(prefix, 0) == 0 ? s.substr(prefix.size()) : s);
    }
    g_slist_free_full(l, reinterpret_cast<GDestroyNotify>(nice_candidate_free));
    return out;
  }
  // The other side's credentials and candidates (a=candidate values); all must be taken.
  void set_remote(const std::string& ufrag, const std::string& pwd,
                  const std::vector<std::string>& cands) {
    ASSERT_TRUE(nice_agent_set_remote_credentials(agent_, stream_, ufrag.c_str(), pwd.c_str()));
    GSList* l = nullptr;
    for (const auto& c : cands) {
      std::string line = "a=candidate:" + c;
      NiceCandidate* nc = nice_agent_parse_remote_candidate_sdp(agent_, stream_, line.c_str());
      ASSERT_NE(nc, nullptr) << line;
      l = g_slist_append(l, nc);
    }
    EXPECT_EQ(nice_agent_set_remote_candidates(agent_, stream_, 1, l), int(cands.size()));
    g_slist_free_full(l, reinterpret_cast<GDestroyNotify>(nice_candidate_free));
  }
  bool send(const void* data, size_t n) {
    return nice_agent_send(agent_, stream_, 1, guint(n), static_cast<const gchar*>(data)) ==
           gint(n);
  }
  bool ready() const {
    return state_ == NICE_COMPONENT_STATE_READY || state_ == NICE_COMPONENT_STATE_CONNECTED;
  }

 protected:
  // A datagram from the other side; `data` may be changed in place.
  virtual void received(uint8_t* data, size_t len) = 0;

  NiceAgent* agent_ = nullptr;
  guint stream_ = 0;

 private:
  std::pair<std::string, std::string> creds() const {
    gchar *u = nullptr, *p = nullptr;
    EXPECT_TRUE(nice_agent_get_local_credentials(agent_, stream_, &u, &p));
    std::pair<std::string, std::string> r{u ? u : "", p ? p : ""};
    g_free(u);
    g_free(p);
    return r;
  }
  static void on_recv(NiceAgent*, guint, guint, guint len, gchar* buf, gpointer self) {
    static_cast<NicePeer*>(self)->received(reinterpret_cast<uint8_t*>(buf), len);
  }
  static void on_state(NiceAgent*, guint, guint, guint state, gpointer self) {
    static_cast<NicePeer*>(self)->state_ = state;
  }

  gulong handler_ = 0;
  guint state_ = NICE_COMPONENT_STATE_DISCONNECTED;
};

}  // namespace rtcgw::media::testing
