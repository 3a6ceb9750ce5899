// rtcgw_bench_media_load: the browser side and the network far end of the media benchmark, in one
// process on one GLib loop (tests/bench/README.md).
//
// For each call it has a "browser" UDP socket that does what Chrome does towards an ICE-lite
// gateway: a STUN connectivity check (libnice's ICE usage, USE-CANDIDATE, controlling,
// MESSAGE-INTEGRITY and FINGERPRINT) retransmitted every 50 ms until answered, consent checks
// every 5 s, a DTLS 1.2 client handshake (rtcgw's own DtlsSession in the client role, one
// generated ECDSA P-256 certificate for every call), then SRTP (fast_srtp.hpp: OpenSSL for GCM,
// rtcgw's SrtpSession over libsrtp2 for AES_CM_128_HMAC_SHA1_80)
// with PCMU-sized RTP (12 + 160 bytes) every 20 ms with a random phase; the payload carries the
// send time, a measurement window number and the call number.
//
// The network far end is a reflector: every datagram goes back to where it came from. By default
// one UDP socket for all calls, read and written in batches (recvmmsg/sendmmsg, 8 MB buffers), so
// that this process stays far from saturation at 500 calls; --per-call-reflector gives each call
// its own socket (one recv and one send per packet). Reflected packets come back through the
// gateway, are unprotected and give the round-trip time, loss and the jitter of the arrivals.
//
// "direct" calls skip the gateway: the browser socket sends its SRTP straight to the reflector,
// keyed with one random key both ways. Same work in this process, no gateway: the baseline the
// gateway's added latency is measured against.
//
// One epoll loop (not GLib's: its per-iteration cost matters at 100 k packets/s); GLib, which
// DtlsSession's retransmission timer needs, is turned once per 1 ms tick.
//
// Driven by lines on stdin, answers on stdout (one line each):
//   CALL <id> [direct]   -> CALL <id> <browser port> <reflector port> <ufrag> <pwd>
//                           (direct: then UP <id> ...)
//   ANSWER <id> <ip> <port> <ufrag> <pwd> <sha-256 fingerprint>
//                        -> UP <id> <srtp profile> <ms from ANSWER to SRTP> | FAIL <id> <why>
//   WINDOW START         -> WINDOW <n>           (packets sent from now on count)
//   WINDOW STOP          -> STATS key=value ...  (after a grace time for packets in flight)
//   HANGUP <id>|all      -> HUNG <count>          (stops media and closes the sockets)
//   QUIT
// At start: READY <certificate fingerprint> <pid>.
#include <arpa/inet.h>
#include <glib-unix.h>
#include <glib.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <stun/stunagent.h>
#include <stun/stunmessage.h>
#include <stun/usages/ice.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "media/certificate.hpp"
#include "media/demux.hpp"
#include "media/dtls.hpp"
#include "media/ice_lite.hpp"
#include "media/srtp.hpp"
#include "media/udp_socket.hpp"
#include "fast_srtp.hpp"

using namespace rtcgw::media;

namespace {

constexpr int kPtimeMs = 20;
constexpr size_t kPayload = 160;  // PCMU, 20 ms
constexpr size_t kRtpHeader = 12;
constexpr uint32_t kMagic = 0x62656e63;  // "benc"
constexpr int kIceRetransmitMs = 50;
constexpr int kIceTries = 100;          // 5 s
constexpr int kConsentMs = 5000;
constexpr int kSetupTimeoutMs = 15000;  // ANSWER to SRTP
constexpr int kGraceMs = 1000;          // WINDOW STOP to STATS

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void put32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}
uint32_t get32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
void put64(uint8_t* p, uint64_t v) {
  put32(p, uint32_t(v >> 32));
  put32(p + 4, uint32_t(v));
}
uint64_t get64(const uint8_t* p) { return uint64_t(get32(p)) << 32 | get32(p + 4); }

uint32_t rand32() {
  uint32_t v = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v);
  return v;
}

void say(const std::string& line) {
  fputs(line.c_str(), stdout);
  fputc('\n', stdout);
  fflush(stdout);
}

// 1 us buckets up to 2 s, one overflow bucket.
class Histogram {
 public:
  Histogram() : b_(kBuckets + 1, 0) {}
  void add(int64_t ns) {
    int64_t us = ns < 0 ? 0 : ns / 1000;
    b_[size_t(std::min<int64_t>(us, kBuckets))]++;
    n_++;
    sum_us_ += double(ns) / 1000.0;
    max_ns_ = std::max(max_ns_, ns);
  }
  void clear() {
    std::fill(b_.begin(), b_.end(), 0);
    n_ = 0;
    sum_us_ = 0;
    max_ns_ = 0;
  }
  uint64_t count() const { return n_; }
  // Microseconds at quantile q (upper edge of the bucket); -1 without samples.
  double quantile(double q) const {
    if (n_ == 0) return -1;
    uint64_t want = uint64_t(std::ceil(q * double(n_)));
    if (want == 0) want = 1;
    uint64_t acc = 0;
    for (size_t i = 0; i < b_.size(); ++i) {
      acc += b_[i];
      if (acc >= want) return double(i) + 1.0;
    }
    return double(kBuckets);
  }
  double mean() const { return n_ ? sum_us_ / double(n_) : -1; }
  double max_us() const { return double(max_ns_) / 1000.0; }

 private:
  static constexpr int64_t kBuckets = 2000000;
  std::vector<uint32_t> b_;
  uint64_t n_ = 0;
  double sum_us_ = 0;
  int64_t max_ns_ = 0;
};

struct Stats {
  uint64_t sent = 0, recv = 0, late = 0, dup_or_reordered = 0, unprotect_fail = 0,
           send_fail = 0, protect_fail = 0, foreign = 0;
  Histogram rtt, jitter;
  void clear() {
    sent = recv = late = dup_or_reordered = unprotect_fail = send_fail = protect_fail = foreign =
        0;
    rtt.clear();
    jitter.clear();
  }
};

class Bench;

struct Call {
  enum class State { kNew, kIce, kDtls, kUp, kFailed, kHung };
  int id = 0;
  bool direct = false;
  State state = State::kNew;
  UdpSocket browser;
  UdpSocket reflector;  // --per-call-reflector only
  int reflector_port = 0;
  std::string ufrag, pwd;                  // the browser's (ours)
  std::string gw_ufrag, gw_pwd, gw_fp;     // the gateway's, from its answer
  std::string username;                    // "<gateway ufrag>:<our ufrag>"
  Endpoint gw;                             // where media goes
  StunAgent agent;
  uint64_t tie = 0;
  int ice_tries = 0;
  int64_t answer_ns = 0;
  int64_t next_consent_ns = 0;
  std::unique_ptr<DtlsSession> dtls;
  std::vector<DtlsState> dtls_events;
  bench::BenchSrtp srtp;
  SrtpProfile profile = SrtpProfile::kAes128CmSha1_80;
  bool sending = false;
  uint32_t ssrc = 0, ts = 0;
  uint16_t seq = 0;
  int slot = 0;  // ms of the 20 ms period this call sends in
  // Receive side.
  bool have_prev = false;
  uint16_t prev_seq = 0;
  int64_t prev_send_ns = 0, prev_recv_ns = 0;
  uint64_t rx = 0;
};

class Bench {
 public:
  Bench(std::string bind_ip, std::string profiles, bool shared_reflector)
      : bind_ip_(std::move(bind_ip)), shared_reflector_(shared_reflector) {
    srtp_global_init();
    cert_ = Certificate::generate();
    ctx_ = std::make_unique<DtlsContext>(*cert_);
    if (!profiles.empty() && SSL_CTX_set_tlsext_use_srtp(ctx_->get(), profiles.c_str()) != 0) {
      fprintf(stderr, "bad --srtp-profiles %s\n", profiles.c_str());
      exit(2);
    }
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    tfd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    itimerspec its{};
    its.it_interval.tv_nsec = 1000000;
    its.it_value.tv_nsec = 1000000;
    timerfd_settime(tfd_, 0, &its, nullptr);
    watch(tfd_, &tick_src_);
    watch(0, &stdin_src_);
    if (shared_reflector_) {
      if (!shared_.bind(bind_ip_, 0)) {
        perror("reflector bind");
        exit(2);
      }
      big_buffers(shared_.fd());
      watch(shared_.fd(), &shared_src_);
    }
    start_ns_ = now_ns();
    wheel_.resize(kPtimeMs);
  }

  // One epoll loop for every socket, the 1 ms tick and stdin; GLib (DtlsSession's and our own
  // timers) is turned once per tick, without blocking.
  void run() {
    say("READY " + cert_->fingerprint_sha256() + " " + std::to_string(getpid()));
    epoll_event evs[256];
    while (!quit_) {
      int n = epoll_wait(ep_, evs, 256, 5);
      for (int i = 0; i < n && !quit_; ++i) {
        auto* src = static_cast<Source*>(evs[i].data.ptr);
        switch (src->kind) {
          case Source::kTick:
            on_tick();
            while (g_main_context_iteration(nullptr, FALSE)) {
            }
            break;
          case Source::kStdin:
            on_stdin();
            break;
          case Source::kBrowser:
            on_browser(*src->call);
            break;
          case Source::kReflector:
            on_reflector(*src->call);
            break;
          case Source::kShared:
            on_shared_reflector();
            break;
        }
      }
    }
  }

 private:
  struct Source {
    enum Kind { kTick, kStdin, kBrowser, kReflector, kShared } kind;
    Call* call = nullptr;
  };

  void watch(int fd, Source* src) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = src;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) perror("epoll_ctl");
  }

  // Room for bursts while this process is not scheduled (8 MB; SO_RCVBUFFORCE as root).
  static void big_buffers(int fd) {
    int sz = 8 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) != 0)
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  }

  // ---- commands ------------------------------------------------------------------------------
  void on_stdin() {
    char buf[65536];
    ssize_t n = read(0, buf, sizeof buf);
    if (n <= 0) {
      quit_ = true;
      return;
    }
    in_.append(buf, size_t(n));
    size_t pos;
    while ((pos = in_.find('\n')) != std::string::npos) {
      std::string line = in_.substr(0, pos);
      in_.erase(0, pos + 1);
      command(line);
    }
  }

  void command(const std::string& line) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "CALL") {
      int id;
      std::string mode;
      in >> id >> mode;
      new_call(id, mode == "direct");
    } else if (cmd == "ANSWER") {
      int id, port;
      std::string ip, ufrag, pwd, fp;
      in >> id >> ip >> port >> ufrag >> pwd >> fp;
      answer(id, ip, uint16_t(port), ufrag, pwd, fp);
    } else if (cmd == "WINDOW") {
      std::string what;
      in >> what;
      if (what == "START") window_start();
      else window_stop();
    } else if (cmd == "HANGUP") {
      std::string which;
      in >> which;
      hangup(which);
    } else if (cmd == "QUIT") {
      quit_ = true;
    } else if (!cmd.empty()) {
      say("ERROR unknown command " + cmd);
    }
  }

  void new_call(int id, bool direct) {
    auto c = std::make_unique<Call>();
    c->id = id;
    c->direct = direct;
    if (!c->browser.bind(bind_ip_, 0) ||
        (!shared_reflector_ && !c->reflector.bind(bind_ip_, 0))) {
      say("FAIL " + std::to_string(id) + " bind:" + strerror(errno));
      return;
    }
    c->reflector_port = shared_reflector_ ? shared_.port() : c->reflector.port();
    c->ufrag = random_ice_string(4);
    c->pwd = random_ice_string(24);
    c->ssrc = rand32();
    c->seq = uint16_t(rand32());
    c->ts = rand32();
    c->tie = uint64_t(rand32()) << 32 | rand32();
    c->slot = int(rand32() % kPtimeMs);
    stun_agent_init(&c->agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
                    StunAgentUsageFlags(STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS |
                                        STUN_AGENT_USAGE_USE_FINGERPRINT));
    Call* p = c.get();
    auto srcs = std::make_unique<Source[]>(2);
    srcs[0] = Source{Source::kBrowser, p};
    srcs[1] = Source{Source::kReflector, p};
    watch(p->browser.fd(), &srcs[0]);
    if (!shared_reflector_) watch(p->reflector.fd(), &srcs[1]);
    sources_[id] = std::move(srcs);
    say("CALL " + std::to_string(id) + " " + std::to_string(p->browser.port()) + " " +
        std::to_string(p->reflector_port) + " " + p->ufrag + " " + p->pwd);
    calls_[id] = std::move(c);
    if (direct) {
      p->gw = Endpoint::from(bind_ip_, uint16_t(p->reflector_port));
      SrtpKeys keys;
      keys.profile = SrtpProfile::kAeadAes128Gcm;
      std::vector<uint8_t> k(master_key_len(keys.profile) + master_salt_len(keys.profile));
      RAND_bytes(k.data(), int(k.size()));
      keys.local = k;
      keys.remote = k;
      std::string err;
      if (!p->srtp.init(keys, err)) return fail(*p, "srtp:" + err);
      p->profile = keys.profile;
      up(*p);
    }
  }

  void answer(int id, const std::string& ip, uint16_t port, const std::string& ufrag,
              const std::string& pwd, const std::string& fp) {
    auto it = calls_.find(id);
    if (it == calls_.end()) return say("FAIL " + std::to_string(id) + " no such call");
    Call& c = *it->second;
    c.gw = Endpoint::from(ip, port);
    c.gw_ufrag = ufrag;
    c.gw_pwd = pwd;
    c.gw_fp = fp;
    c.username = ufrag + ":" + c.ufrag;
    c.state = Call::State::kIce;
    c.answer_ns = now_ns();
    c.ice_tries = 0;
    send_check(c, true);
  }

  // ---- ICE -----------------------------------------------------------------------------------
  void send_check(Call& c, bool use_candidate) {
    uint8_t buf[1500];
    StunMessage msg;
    // Priority of a host candidate as Chrome computes it (type 126, local 65535, component 1).
    size_t n = stun_usage_ice_conncheck_create(
        &c.agent, &msg, buf, sizeof buf, reinterpret_cast<const uint8_t*>(c.username.data()),
        c.username.size(), reinterpret_cast<const uint8_t*>(c.gw_pwd.data()), c.gw_pwd.size(),
        use_candidate, true, 2122260223u, c.tie, nullptr, STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
    if (n == 0) return;
    c.browser.send(buf, n, c.gw);
    stun_sent_++;
    if (c.state == Call::State::kIce) {
      c.ice_tries++;
      int id = c.id;
      ice_timer(id);
    }
  }

  void ice_timer(int id) {
    struct Arg {
      Bench* b;
      int id;
    };
    g_timeout_add_full(
        G_PRIORITY_DEFAULT, kIceRetransmitMs,
        [](gpointer data) -> gboolean {
          auto* a = static_cast<Arg*>(data);
          auto it = a->b->calls_.find(a->id);
          if (it == a->b->calls_.end()) return G_SOURCE_REMOVE;
          Call& c = *it->second;
          if (c.state != Call::State::kIce) return G_SOURCE_REMOVE;
          if (c.ice_tries >= kIceTries) {
            a->b->fail(c, "ice_timeout");
            return G_SOURCE_REMOVE;
          }
          a->b->send_check(c, true);
          return G_SOURCE_REMOVE;
        },
        new Arg{this, id}, [](gpointer data) { delete static_cast<Arg*>(data); });
  }

  // USERNAME of checks sent to us: "<our ufrag>:<theirs>", keyed with our password.
  static bool our_key(StunAgent*, StunMessage*, uint8_t* username, uint16_t username_len,
                      uint8_t** password, size_t* password_len, void* user_data) {
    auto* c = static_cast<Call*>(user_data);
    std::string_view u(reinterpret_cast<const char*>(username), username_len);
    if (u.size() <= c->ufrag.size() || u.compare(0, c->ufrag.size(), c->ufrag) != 0 ||
        u[c->ufrag.size()] != ':')
      return false;
    *password = reinterpret_cast<uint8_t*>(c->pwd.data());
    *password_len = c->pwd.size();
    return true;
  }

  void on_stun(Call& c, const uint8_t* buf, size_t len, const Endpoint& from) {
    StunMessage msg;
    StunValidationStatus v = stun_agent_validate(&c.agent, &msg, buf, len, &Bench::our_key, &c);
    if (v != STUN_VALIDATION_SUCCESS) {
      stun_bad_++;
      return;
    }
    if (stun_message_get_class(&msg) == STUN_REQUEST) {
      // A full ICE gateway (rtpengine) checks us too: answer as a browser does (controlling).
      uint8_t reply[1500];
      size_t rlen = sizeof reply;
      StunMessage out;
      bool control = true;
      sockaddr_storage src{};
      memcpy(&src, &from.addr, from.len);
      if (stun_usage_ice_conncheck_create_reply(&c.agent, &msg, &out, reply, &rlen, &src, from.len,
                                                &control, c.tie,
                                                STUN_USAGE_ICE_COMPATIBILITY_RFC5245) ==
              STUN_USAGE_ICE_RETURN_SUCCESS &&
          rlen > 0) {
        c.browser.send(reply, rlen, from);
        stun_answered_++;
      }
      return;
    }
    if (stun_message_get_class(&msg) != STUN_RESPONSE) {
      stun_bad_++;  // an error response
      return;
    }
    stun_ok_++;
    if (c.state != Call::State::kIce) return;  // a consent response
    c.state = Call::State::kDtls;
    Call* p = &c;
    c.dtls = std::make_unique<DtlsSession>(
        *ctx_, DtlsRole::kClient, c.gw_fp,
        [p](const uint8_t* d, size_t n) { p->browser.send(d, n, p->gw); },
        [this, p](DtlsState s) {
          // Not from inside the session: queued, handled on the next loop turn.
          p->dtls_events.push_back(s);
          pending_dtls_.push_back(p->id);
          schedule_dtls_events();
        });
    c.dtls->start();
    dtls_timeout(c.id);
  }

  void dtls_timeout(int id) {
    struct Arg {
      Bench* b;
      int id;
    };
    g_timeout_add_full(
        G_PRIORITY_DEFAULT, kSetupTimeoutMs,
        [](gpointer data) -> gboolean {
          auto* a = static_cast<Arg*>(data);
          auto it = a->b->calls_.find(a->id);
          if (it != a->b->calls_.end() && it->second->state == Call::State::kDtls)
            a->b->fail(*it->second, "dtls_timeout");
          return G_SOURCE_REMOVE;
        },
        new Arg{this, id}, [](gpointer data) { delete static_cast<Arg*>(data); });
  }

  void schedule_dtls_events() {
    if (dtls_idle_) return;
    dtls_idle_ = g_idle_add(
        [](gpointer self) -> gboolean {
          auto* b = static_cast<Bench*>(self);
          b->dtls_idle_ = 0;
          std::vector<int> ids;
          ids.swap(b->pending_dtls_);
          for (int id : ids) {
            auto it = b->calls_.find(id);
            if (it == b->calls_.end()) continue;
            Call& c = *it->second;
            std::vector<DtlsState> evs;
            evs.swap(c.dtls_events);
            for (DtlsState s : evs) b->on_dtls(c, s);
          }
          return G_SOURCE_REMOVE;
        },
        this);
  }

  void on_dtls(Call& c, DtlsState s) {
    if (c.state != Call::State::kDtls) return;
    if (s == DtlsState::kConnected) {
      std::string err;
      if (!c.srtp.init(c.dtls->keys(), err)) return fail(c, "srtp:" + err);
      c.profile = c.dtls->keys().profile;
      up(c);
    } else if (s == DtlsState::kFailed) {
      std::string e = c.dtls->error();
      std::replace(e.begin(), e.end(), ' ', '_');
      fail(c, "dtls:" + e);
    } else if (s == DtlsState::kClosed) {
      fail(c, "dtls_closed");
    }
  }

  void up(Call& c) {
    c.state = Call::State::kUp;
    c.sending = true;
    c.next_consent_ns = now_ns() + int64_t(kConsentMs) * 1000000 + int64_t(rand32() % 1000) * 1000000;
    wheel_[size_t(c.slot)].push_back(c.id);
    double ms = c.direct ? 0.0 : double(now_ns() - c.answer_ns) / 1e6;
    char b[64];
    snprintf(b, sizeof b, "%.1f", ms);
    say("UP " + std::to_string(c.id) + " " + profile_name(c.profile) + " " + b);
  }

  void fail(Call& c, const std::string& why) {
    if (c.state == Call::State::kFailed) return;
    c.state = Call::State::kFailed;
    c.sending = false;
    say("FAIL " + std::to_string(c.id) + " " + why);
  }

  void hangup(const std::string& which) {
    std::vector<int> ids;
    if (which == "all") {
      for (auto& [id, c] : calls_) ids.push_back(id);
    } else {
      ids.push_back(atoi(which.c_str()));
    }
    size_t n = 0;
    for (int id : ids) {
      auto it = calls_.find(id);
      if (it == calls_.end()) continue;
      Call& c = *it->second;
      auto& slot = wheel_[size_t(c.slot)];
      slot.erase(std::remove(slot.begin(), slot.end(), id), slot.end());
      c.dtls.reset();  // close_notify goes out, as a browser's would on hangup
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.browser.fd(), nullptr);
      if (c.reflector.open()) epoll_ctl(ep_, EPOLL_CTL_DEL, c.reflector.fd(), nullptr);
      calls_.erase(it);
      sources_.erase(id);
      n++;
    }
    say("HUNG " + std::to_string(n));
  }

  // ---- media ---------------------------------------------------------------------------------
  void on_tick() {
    uint64_t exp;
    while (read(tfd_, &exp, sizeof exp) > 0) {
    }
    int64_t now = now_ns();
    int64_t ms = (now - start_ns_) / 1000000;
    if (last_ms_ < 0) last_ms_ = ms - 1;
    // Catch up on every millisecond since the last tick (at most one period).
    int64_t from = std::max(last_ms_ + 1, ms - kPtimeMs + 1);
    for (int64_t m = from; m <= ms; ++m) {
      for (int id : wheel_[size_t(m % kPtimeMs)]) {
        auto it = calls_.find(id);
        if (it != calls_.end()) send_rtp(*it->second);
      }
    }
    last_ms_ = ms;
    // Consent freshness, as browsers do it (RFC 7675): a check every ~5 s.
    if (now >= next_consent_scan_) {
      next_consent_scan_ = now + 100000000;  // every 100 ms
      for (auto& [id, c] : calls_) {
        if (c->direct || c->state != Call::State::kUp || now < c->next_consent_ns) continue;
        c->next_consent_ns = now + int64_t(kConsentMs) * 1000000;
        send_check(*c, false);
      }
    }
  }

  void send_rtp(Call& c) {
    if (!c.sending) return;
    uint8_t* p = pkt_;
    p[0] = 0x80;
    p[1] = 0;  // PCMU
    p[2] = uint8_t(c.seq >> 8);
    p[3] = uint8_t(c.seq);
    put32(p + 4, c.ts);
    put32(p + 8, c.ssrc);
    uint8_t* pl = p + kRtpHeader;
    memset(pl + 20, 0xff, kPayload - 20);  // u-law silence
    put32(pl, kMagic);
    put32(pl + 4, uint32_t(c.id));
    put32(pl + 8, window_active_ ? window_ : 0);
    int64_t t = now_ns();
    put64(pl + 12, uint64_t(t));
    size_t len = kRtpHeader + kPayload;
    c.seq++;
    c.ts += 160;
    if (!c.srtp.protect_rtp(p, len)) {
      if (window_active_) cur_.protect_fail++;
      return;
    }
    if (!c.browser.send(p, len, c.gw)) {
      if (window_active_) cur_.send_fail++;
      return;
    }
    if (window_active_) cur_.sent++;
    total_sent_++;
  }

  // One datagram per readiness: epoll is level-triggered, so whatever else is queued is reported
  // again, and no recv is spent on EAGAIN.
  void on_reflector(Call& c) {
    Endpoint from;
    ssize_t n = c.reflector.recv(rbuf_[0], sizeof rbuf_[0], from);
    if (n < 0) return;
    c.reflector.send(rbuf_[0], size_t(n), from);
    reflected_++;
  }

  // The shared reflector: batches in, the same batch back out to each source.
  void on_shared_reflector() {
    constexpr int kBatch = 64;
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    sockaddr_storage from[kBatch];
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {rbuf_[i], sizeof rbuf_[i]};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    for (int round = 0; round < 16; ++round) {  // drain, with a bound
      for (int i = 0; i < kBatch; ++i) {
        iov[i].iov_len = sizeof rbuf_[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
      }
      int n = recvmmsg(shared_.fd(), msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return;
      for (int i = 0; i < n; ++i) iov[i].iov_len = msgs[i].msg_len;
      int done = 0;
      while (done < n) {
        int k = sendmmsg(shared_.fd(), msgs + done, unsigned(n - done), MSG_DONTWAIT);
        if (k <= 0) {
          reflect_fail_ += uint64_t(n - done);
          break;
        }
        done += k;
      }
      reflected_ += uint64_t(done);
      batches_++;
      if (n < kBatch) return;
    }
  }

  void on_browser(Call& c) {
    Endpoint from;
    {
      ssize_t n = c.browser.recv(bbuf_, 1500, from);
      if (n < 0) return;
      size_t len = size_t(n);
      PacketKind kind = classify(bbuf_, len);
      if (kind == PacketKind::kStun) {
        on_stun(c, bbuf_, len, from);
      } else if (kind == PacketKind::kDtls) {
        if (c.dtls) c.dtls->receive(bbuf_, len);
      } else if (kind == PacketKind::kRtp) {
        on_rtp(c, len);
      } else {
        if (window_active_) cur_.foreign++;
      }
    }
  }

  void on_rtp(Call& c, size_t len) {
    int64_t now = now_ns();
    if (!c.srtp.ready() || !c.srtp.unprotect_rtp(bbuf_, len)) {
      if (window_active_ || grace_) cur_.unprotect_fail++;
      return;
    }
    total_recv_++;
    if (len != kRtpHeader + kPayload || get32(bbuf_ + kRtpHeader) != kMagic) {
      cur_.foreign++;
      return;
    }
    const uint8_t* pl = bbuf_ + kRtpHeader;
    uint32_t win = get32(pl + 8);
    int64_t sent = int64_t(get64(pl + 12));
    uint16_t seq = uint16_t(bbuf_[2] << 8 | bbuf_[3]);
    bool counts = win != 0 && win == window_ && (window_active_ || grace_);
    if (counts) {
      cur_.recv++;
      cur_.rtt.add(now - sent);
    }
    if (c.have_prev) {
      int16_t d = int16_t(uint16_t(seq - c.prev_seq));
      if (d <= 0) {
        if (counts) cur_.dup_or_reordered++;
        return;
      }
      if (d == 1 && counts) {
        int64_t j = (now - c.prev_recv_ns) - (sent - c.prev_send_ns);
        cur_.jitter.add(j < 0 ? -j : j);
      }
    }
    c.have_prev = true;
    c.prev_seq = seq;
    c.prev_send_ns = sent;
    c.prev_recv_ns = now;
  }

  // ---- windows -------------------------------------------------------------------------------
  void window_start() {
    window_++;
    cur_.clear();
    window_active_ = true;
    grace_ = false;
    win_start_ns_ = now_ns();
    getrusage(RUSAGE_SELF, &ru0_);
    say("WINDOW " + std::to_string(window_));
  }

  void window_stop() {
    if (!window_active_) return say("ERROR no window");
    window_active_ = false;
    grace_ = true;
    int64_t end = now_ns();
    rusage ru1;
    getrusage(RUSAGE_SELF, &ru1);
    auto us = [](const timeval& t) { return double(t.tv_sec) * 1e6 + double(t.tv_usec); };
    double cpu_us = us(ru1.ru_utime) - us(ru0_.ru_utime) + us(ru1.ru_stime) - us(ru0_.ru_stime);
    double wall_s = double(end - win_start_ns_) / 1e9;
    size_t up = 0;
    for (auto& [id, c] : calls_)
      if (c->state == Call::State::kUp) up++;
    struct Arg {
      Bench* b;
      double cpu_us, wall_s;
      size_t up;
    };
    g_timeout_add_full(
        G_PRIORITY_DEFAULT, kGraceMs,
        [](gpointer data) -> gboolean {
          auto* a = static_cast<Arg*>(data);
          Bench* b = a->b;
          b->grace_ = false;
          const Stats& s = b->cur_;
          char line[1024];
          uint64_t lost = s.sent > s.recv ? s.sent - s.recv : 0;
          snprintf(line, sizeof line,
                   "STATS window=%u calls_up=%zu wall_s=%.3f sent=%" PRIu64 " recv=%" PRIu64
                   " lost=%" PRIu64 " loss_pct=%.4f dup_or_reordered=%" PRIu64
                   " unprotect_fail=%" PRIu64 " protect_fail=%" PRIu64 " send_fail=%" PRIu64
                   " foreign=%" PRIu64
                   " rtt_p50_us=%.0f rtt_p99_us=%.0f rtt_p999_us=%.0f rtt_mean_us=%.1f"
                   " rtt_max_us=%.0f jitter_p50_us=%.0f jitter_p99_us=%.0f"
                   " load_cpu_pct=%.1f stun_ok=%" PRIu64 " stun_bad=%" PRIu64
                   " reflected=%" PRIu64 " reflect_fail=%" PRIu64 " reflect_batches=%" PRIu64
                   " stun_answered=%" PRIu64,
                   b->window_, a->up, a->wall_s, s.sent, s.recv, lost,
                   s.sent ? 100.0 * double(lost) / double(s.sent) : 0.0, s.dup_or_reordered,
                   s.unprotect_fail, s.protect_fail, s.send_fail, s.foreign, s.rtt.quantile(0.5),
                   s.rtt.quantile(0.99), s.rtt.quantile(0.999), s.rtt.mean(), s.rtt.max_us(),
                   s.jitter.quantile(0.5), s.jitter.quantile(0.99),
                   100.0 * a->cpu_us / (a->wall_s * 1e6), b->stun_ok_, b->stun_bad_,
                   b->reflected_, b->reflect_fail_, b->batches_, b->stun_answered_);
          say(line);
          return G_SOURCE_REMOVE;
        },
        new Arg{this, cpu_us, wall_s, up}, [](gpointer data) { delete static_cast<Arg*>(data); });
  }

  std::string bind_ip_;
  bool shared_reflector_;
  bool quit_ = false;
  int ep_ = -1;
  UdpSocket shared_;
  Source tick_src_{Source::kTick}, stdin_src_{Source::kStdin}, shared_src_{Source::kShared};
  std::unordered_map<int, std::unique_ptr<Source[]>> sources_;
  uint64_t reflect_fail_ = 0, batches_ = 0;
  std::unique_ptr<Certificate> cert_;
  std::unique_ptr<DtlsContext> ctx_;
  int tfd_ = -1;
  std::string in_;
  std::unordered_map<int, std::unique_ptr<Call>> calls_;
  std::vector<std::vector<int>> wheel_;
  int64_t start_ns_ = 0, last_ms_ = -1, next_consent_scan_ = 0;
  std::vector<int> pending_dtls_;
  guint dtls_idle_ = 0;
  uint8_t pkt_[1500 + kSrtpMaxTrailer];
  uint8_t bbuf_[1500 + kSrtpMaxTrailer];
  uint8_t rbuf_[64][1500];
  // Windows.
  uint32_t window_ = 0;
  bool window_active_ = false, grace_ = false;
  int64_t win_start_ns_ = 0;
  rusage ru0_{};
  Stats cur_;
  uint64_t total_sent_ = 0, total_recv_ = 0, reflected_ = 0, stun_sent_ = 0, stun_ok_ = 0,
           stun_bad_ = 0, stun_answered_ = 0;
};

}  // namespace

// fast_srtp.hpp against rtcgw's SrtpSession (libsrtp2), both ways, across a sequence number
// wrap, for both GCM profiles; and a tampered packet must fail.
static int selftest() {
  srtp_global_init();
  int failures = 0;
  for (SrtpProfile prof : {SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAeadAes256Gcm}) {
    size_t kl = master_key_len(prof) + master_salt_len(prof);
    std::vector<uint8_t> a(kl), b(kl);
    RAND_bytes(a.data(), int(kl));
    RAND_bytes(b.data(), int(kl));
    SrtpKeys mine{prof, a, b}, theirs{prof, b, a};
    bench::BenchSrtp fast;
    SrtpSession lib;
    std::string err;
    if (!fast.init(mine, err) || !lib.init(theirs, err)) {
      printf("selftest %s: init: %s\n", profile_name(prof), err.c_str());
      return 1;
    }
    uint16_t seq = 0xfff0;
    uint32_t ssrc = rand32();
    int ok = 0, bad = 0;
    for (int i = 0; i < 64; ++i, ++seq) {
      for (int dir = 0; dir < 2; ++dir) {
        uint8_t pkt[1500 + kSrtpMaxTrailer] = {0x80, 0x00};
        pkt[2] = uint8_t(seq >> 8);
        pkt[3] = uint8_t(seq);
        put32(pkt + 4, 160u * i);
        put32(pkt + 8, ssrc + uint32_t(dir));
        for (int k = 0; k < 160; ++k) pkt[12 + k] = uint8_t(k * 7 + i);
        uint8_t ref[172];
        memcpy(ref, pkt, 172);
        size_t len = 172;
        bool p = dir == 0 ? fast.protect_rtp(pkt, len) : lib.protect_rtp(pkt, len);
        bool u = p && (dir == 0 ? lib.unprotect_rtp(pkt, len) : fast.unprotect_rtp(pkt, len));
        if (u && len == 172 && memcmp(pkt, ref, 172) == 0) ok++; else bad++;
      }
    }
    // A flipped payload bit must not pass.
    uint8_t pkt[1500 + kSrtpMaxTrailer] = {0x80, 0x00, uint8_t(seq >> 8), uint8_t(seq)};
    put32(pkt + 8, ssrc);
    size_t len = 172;
    fast.protect_rtp(pkt, len);
    pkt[40] ^= 1;
    bool tampered_passed = lib.unprotect_rtp(pkt, len);
    printf("selftest %s: %d/%d packets round-trip with libsrtp2%s\n", profile_name(prof), ok,
           ok + bad, tampered_passed ? ", TAMPERED PACKET PASSED" : ", tampered packet refused");
    if (bad || tampered_passed) failures++;
  }
  printf("selftest %s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}

int main(int argc, char** argv) {
  std::string bind_ip = "127.0.0.1";
  // OpenSSL names, colon separated, in order of preference. Default: what rtcgw's own context
  // offers (GCM-128 first).
  std::string profiles;
  bool shared = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--bind" && i + 1 < argc) {
      bind_ip = argv[++i];
    } else if (a == "--srtp-profiles" && i + 1 < argc) {
      profiles = argv[++i];
    } else if (a == "--per-call-reflector") {
      shared = false;
    } else if (a == "--libsrtp") {
      bench::BenchSrtp::use_libsrtp_always = true;
    } else if (a == "--selftest") {
      return selftest();
    } else {
      fprintf(stderr,
              "usage: %s [--bind IP] [--srtp-profiles SRTP_AEAD_AES_128_GCM:...] "
              "[--per-call-reflector] [--libsrtp] [--selftest]\n"
              "commands on stdin, see the top of tests/bench/media_load.cpp\n",
              argv[0]);
      return 2;
    }
  }
  setvbuf(stdout, nullptr, _IOLBF, 0);
  Bench b(bind_ip, profiles, shared);
  b.run();
  return 0;
}
