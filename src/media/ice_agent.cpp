#include "media/ice_agent.hpp"

#include <agent.h>
#include <glib-object.h>

#include <cstring>
#include <utility>

namespace rtcgw::media {

namespace {

constexpr guint kComponent = 1;  // one component: RTP and RTCP muxed, all m= lines bundled

struct CandidateList {
  GSList* list = nullptr;
  ~CandidateList() {
    g_slist_free_full(list, reinterpret_cast<GDestroyNotify>(nice_candidate_free));
  }
};

std::string address_text(const NiceAddress& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  nice_address_to_string(&a, buf);
  return buf;
}

}  // namespace

struct IceAgent::Agent {
  NiceAgent* nice = nullptr;
  guint stream = 0;
  gulong state_handler = 0;

  ~Agent() {
    if (nice == nullptr) return;
    if (state_handler != 0) g_signal_handler_disconnect(nice, state_handler);
    if (stream != 0) {
      nice_agent_attach_recv(nice, stream, kComponent, g_main_context_default(), nullptr, nullptr);
    }
    // Safe inside one of its own callbacks (a failed state ending the call): libnice holds a
    // reference while it emits a signal (the queued signal's instance value) and while it runs
    // the receive callback, so the agent outlives them. Its sockets close with it.
    g_object_unref(nice);
  }
};

IceAgent::IceAgent(DataFn on_data, StateFn on_state)
    : agent_(std::make_unique<Agent>()),
      on_data_(std::move(on_data)),
      on_state_(std::move(on_state)) {}

IceAgent::~IceAgent() = default;

std::unique_ptr<IceAgent> IceAgent::create(PortPool& ports, const Options& opt, DataFn on_data,
                                           StateFn on_state, std::string& error) {
  std::unique_ptr<IceAgent> a(new IceAgent(std::move(on_data), std::move(on_state)));
  if (!a->gather(ports, opt, error)) return nullptr;
  return a;
}

bool IceAgent::gather(PortPool& ports, const Options& opt, std::string& error) {
  // RFC 8445 has no aggressive nomination any more: regular nomination, as browsers do.
  auto options = static_cast<NiceAgentOption>(
      NICE_AGENT_OPTION_REGULAR_NOMINATION |
      (opt.consent_freshness ? NICE_AGENT_OPTION_CONSENT_FRESHNESS : NICE_AGENT_OPTION_NONE));
  NiceAgent* nice =
      nice_agent_new_full(g_main_context_default(), NICE_COMPATIBILITY_RFC5245, options);
  if (nice == nullptr) {
    error = "libnice: cannot create an agent";
    return false;
  }
  agent_->nice = nice;
  // Host candidates only, on UDP: no UPnP discovery (it would send multicast), no ICE-TCP.
  g_object_set(nice, "upnp", FALSE, "ice-tcp", FALSE, "controlling-mode",
               opt.role == Role::kControlling ? TRUE : FALSE, nullptr);

  NiceAddress local;
  nice_address_init(&local);
  if (!nice_address_set_from_string(&local, ports.address().c_str()) ||
      !nice_agent_add_local_address(nice, &local)) {
    error = "libnice: media.address " + ports.address() + " is not an IP address";
    return false;
  }

  // libnice binds the port itself: each port the pool offers is tried as a one-port range on a
  // fresh stream until gathering succeeds (a port taken by another socket fails it).
  bool gathered = ports.bind_with([&](uint16_t port) {
    guint stream = nice_agent_add_stream(nice, 1);
    if (stream == 0) return false;
    nice_agent_set_port_range(nice, stream, kComponent, port, port);
    if (nice_agent_gather_candidates(nice, stream)) {
      agent_->stream = stream;
      return true;
    }
    nice_agent_remove_stream(nice, stream);
    return false;
  });
  if (!gathered) {
    error = "no free media port in media.port_range";
    return false;
  }

  agent_->state_handler =
      g_signal_connect(nice, "component-state-changed", G_CALLBACK(on_component_state), this);
  if (!nice_agent_attach_recv(nice, agent_->stream, kComponent, g_main_context_default(),
                              reinterpret_cast<NiceAgentRecvFunc>(on_recv), this)) {
    error = "libnice: cannot attach the receive callback";
    return false;
  }

  // Host candidates are made inside nice_agent_gather_candidates(): they are all there now.
  CandidateList local_cands{nice_agent_get_local_candidates(nice, agent_->stream, kComponent)};
  for (GSList* i = local_cands.list; i != nullptr; i = i->next) {
    const auto* c = static_cast<const NiceCandidate*>(i->data);
    if (c->type != NICE_CANDIDATE_TYPE_HOST || c->transport != NICE_CANDIDATE_TRANSPORT_UDP) {
      continue;
    }
    port_ = static_cast<uint16_t>(nice_address_get_port(&c->addr));
    std::string addr = opt.advertised.empty() ? address_text(c->addr) : opt.advertised;
    candidates_.push_back(std::string(c->foundation) + " " + std::to_string(c->component_id) +
                          " udp " + std::to_string(c->priority) + " " + addr + " " +
                          std::to_string(port_) + " typ host");
  }
  if (candidates_.empty()) {
    error = "libnice: no host candidate after gathering";
    return false;
  }
  if (!read_local()) {
    error = "libnice: no local credentials";
    return false;
  }
  return true;
}

bool IceAgent::read_local() {
  gchar* ufrag = nullptr;
  gchar* pwd = nullptr;
  if (!nice_agent_get_local_credentials(agent_->nice, agent_->stream, &ufrag, &pwd)) return false;
  ufrag_ = ufrag;
  pwd_ = pwd;
  g_free(ufrag);
  g_free(pwd);
  return true;
}

int IceAgent::set_remote(const std::string& ufrag, const std::string& pwd,
                         const std::vector<std::string>& candidates) {
  NiceAgent* nice = agent_->nice;
  if (!nice_agent_set_remote_credentials(nice, agent_->stream, ufrag.c_str(), pwd.c_str())) {
    return -1;
  }
  CandidateList remote;
  int used = 0;
  for (const auto& value : candidates) {
    // libnice parses the whole attribute line.
    std::string line = value.rfind("candidate:", 0) == 0 ? "a=" + value : "a=candidate:" + value;
    NiceCandidate* c = nice_agent_parse_remote_candidate_sdp(nice, agent_->stream, line.c_str());
    if (c == nullptr) continue;  // an mDNS name, a type or transport libnice does not know
    if (c->transport != NICE_CANDIDATE_TRANSPORT_UDP || c->component_id != kComponent) {
      nice_candidate_free(c);
      continue;
    }
    remote.list = g_slist_prepend(remote.list, c);
    ++used;
  }
  if (remote.list != nullptr &&
      nice_agent_set_remote_candidates(nice, agent_->stream, kComponent, remote.list) < 0) {
    return -1;
  }
  return used;
}

bool IceAgent::restart() {
  if (!nice_agent_restart_stream(agent_->nice, agent_->stream) || !read_local()) return false;
  state_ = State::kChecking;
  return true;
}

void IceAgent::set_role(Role role) {
  g_object_set(agent_->nice, "controlling-mode", role == Role::kControlling ? TRUE : FALSE,
               nullptr);
}

IceAgent::Role IceAgent::role() const {
  gboolean controlling = FALSE;
  g_object_get(agent_->nice, "controlling-mode", &controlling, nullptr);
  return controlling ? Role::kControlling : Role::kControlled;
}

bool IceAgent::send(const uint8_t* buf, size_t len) {
  return nice_agent_send(agent_->nice, agent_->stream, kComponent, static_cast<guint>(len),
                         reinterpret_cast<const gchar*>(buf)) == static_cast<gint>(len);
}

Endpoint IceAgent::remote() const {
  Endpoint e;
  NiceCandidate* local = nullptr;
  NiceCandidate* remote = nullptr;
  if (!nice_agent_get_selected_pair(agent_->nice, agent_->stream, kComponent, &local, &remote) ||
      remote == nullptr) {
    return e;
  }
  nice_address_copy_to_sockaddr(&remote->addr, reinterpret_cast<sockaddr*>(&e.addr));
  e.len = remote->addr.s.addr.sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  return e;
}

void IceAgent::on_recv(void*, unsigned, unsigned, unsigned len, char* buf, void* self) {
  auto* a = static_cast<IceAgent*>(self);
  if (a->on_data_) a->on_data_(reinterpret_cast<uint8_t*>(buf), len);
}

void IceAgent::on_component_state(void*, unsigned stream, unsigned component, unsigned state,
                                  void* self) {
  auto* a = static_cast<IceAgent*>(self);
  if (stream != a->agent_->stream || component != kComponent) return;
  State s = a->state_;
  switch (static_cast<NiceComponentState>(state)) {
    case NICE_COMPONENT_STATE_CONNECTED:
    case NICE_COMPONENT_STATE_READY:
      s = State::kConnected;
      break;
    case NICE_COMPONENT_STATE_FAILED:
      s = State::kFailed;
      break;
    default:
      s = State::kChecking;
      break;
  }
  if (s == a->state_) return;
  a->state_ = s;
  // May destroy `a`: nothing after this.
  if (a->on_state_) a->on_state_(s);
}

}  // namespace rtcgw::media
