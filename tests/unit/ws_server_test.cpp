// The WebSocket server in-process: a Server on a private GMainContext, driven by raw POSIX sockets
// doing the HTTP upgrade and WebSocket framing by hand. Every wait is bounded by a deadline.
#include <arpa/inet.h>
#include <fcntl.h>
#include <glib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "rtcgw/config.hpp"
#include "rtcgw/metrics.hpp"
#include "rtcgw/ws.hpp"
#include "ws/limits.hpp"

namespace {

using namespace std::chrono_literals;
using rtcgw::ws::ConnId;

// A free loopback port: bind port 0, read it, close the socket.
uint16_t free_port(bool ipv6 = false) {
  int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket");
  sockaddr_storage ss{};
  socklen_t len;
  if (ipv6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(*a);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind");
  }
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  uint16_t port = ipv6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                       : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  ::close(fd);
  return port;
}

rtcgw::config::ListenUrl url(const std::string& scheme, const std::string& host, uint16_t port) {
  rtcgw::config::ListenUrl u;
  u.scheme = scheme;
  u.host = host;
  u.port = port;
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  u.text = scheme + "://" + h + ":" + std::to_string(port);
  return u;
}

// The value of the first sample line of the exposition that contains `needle` (e.g. a label
// pair), 0 if there is none. Independent of the metric names.
double sample(const rtcgw::Metrics& m, const std::string& needle) {
  std::istringstream in(m.serialize());
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.find(needle) == std::string::npos) continue;
    return std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
  }
  return 0;
}

class Loop {
 public:
  Loop() : ctx_(g_main_context_new()), loop_(g_main_loop_new(ctx_, FALSE)) {
    g_main_context_push_thread_default(ctx_);
  }
  ~Loop() {
    // Let anything left run, then free.
    for (int i = 0; i < 100 && g_main_context_iteration(ctx_, FALSE); ++i) {
    }
    g_main_context_pop_thread_default(ctx_);
    g_main_loop_unref(loop_);
    g_main_context_unref(ctx_);
  }
  GMainLoop* loop() { return loop_; }
  void spin(std::chrono::milliseconds d = 0ms) {
    const auto end = std::chrono::steady_clock::now() + d;
    do {
      while (g_main_context_iteration(ctx_, FALSE)) {
      }
      if (d > 0ms) g_usleep(1000);
    } while (std::chrono::steady_clock::now() < end);
  }
  // Runs the loop until pred() or the deadline.
  bool until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 3000ms) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      while (g_main_context_iteration(ctx_, FALSE)) {
      }
      if (pred()) return true;
      g_usleep(1000);
    }
    return pred();
  }

 private:
  GMainContext* ctx_;
  GMainLoop* loop_;
};

// A hand-made client: TCP, HTTP upgrade, masked frames. Non-blocking; all waits pump the loop.
class Client {
 public:
  explicit Client(Loop& loop) : loop_(loop) {}
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool connect(const std::string& host, uint16_t port) {
    const bool v6 = host.find(':') != std::string::npos;
    fd_ = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd_ < 0) return false;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
      a->sin6_port = htons(port);
      len = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      inet_pton(AF_INET, host.c_str(), &a->sin_addr);
      a->sin_port = htons(port);
      len = sizeof(*a);
    }
    int r = ::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len);
    if (r != 0 && errno != EINPROGRESS) return false;
    return loop_.until([&] {
      pollfd p{fd_, POLLOUT, 0};
      return poll(&p, 1, 0) == 1;
    });
  }

  bool write_all(const std::string& data) {
    size_t off = 0;
    return loop_.until([&] {
      while (off < data.size()) {
        ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
          off += static_cast<size_t>(n);
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          return false;
        } else {
          return true;  // error: stop (checked below)
        }
      }
      return true;
    }) && off == data.size();
  }

  // Reads what is there; false once the peer closed (EOF or reset).
  bool pump_read() {
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        in_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) eof_ = true;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) eof_ = true;
      return !eof_;
    }
  }

  // Sends the upgrade; returns the status code of the answer (0 = none / connection closed).
  int upgrade(const std::string& protocol = "sip", const std::string& origin = "",
              const std::string& path = "/") {
    std::string req = "GET " + path +
                      " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n";
    if (!protocol.empty()) req += "Sec-WebSocket-Protocol: " + protocol + "\r\n";
    if (!origin.empty()) req += "Origin: " + origin + "\r\n";
    req += "\r\n";
    if (!write_all(req)) return 0;
    return read_head();
  }

  // A plain HTTP GET; returns status, fills body (Content-Length or until close).
  int get(const std::string& path, std::string& body, std::string* head = nullptr) {
    if (!write_all("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
      return 0;
    int status = read_head(head);
    if (!status) return 0;
    size_t want = std::string::npos;
    auto cl = head_.find("content-length:");
    if (cl != std::string::npos) want = std::strtoul(head_.c_str() + cl + 15, nullptr, 10);
    loop_.until([&] {
      pump_read();
      return eof_ || (want != std::string::npos && in_.size() >= want);
    });
    body = want == std::string::npos ? in_ : in_.substr(0, want);
    in_.clear();
    return status;
  }

  void send_frame(int opcode, const std::string& payload, bool fin = true) {
    std::string f;
    f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
    const size_t n = payload.size();
    if (n < 126) {
      f.push_back(static_cast<char>(0x80 | n));
    } else if (n < 65536) {
      f.push_back(static_cast<char>(0x80 | 126));
      f.push_back(static_cast<char>(n >> 8));
      f.push_back(static_cast<char>(n & 0xff));
    } else {
      f.push_back(static_cast<char>(0x80 | 127));
      for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((uint64_t(n) >> (8 * i)) & 0xff));
    }
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    f.append(mask, 4);
    for (size_t i = 0; i < n; ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
    ASSERT_TRUE(write_all(f));
  }

  // Waits for one whole server frame (servers do not mask).
  bool read_frame(int& opcode, std::string& payload, std::chrono::milliseconds t = 3000ms) {
    bool got = loop_.until(
        [&] {
          pump_read();
          return parse_frame(opcode, payload) || eof_;
        },
        t);
    return got && !payload_pending_failed_;
  }

  bool closed_by_peer(std::chrono::milliseconds t = 3000ms) {
    return loop_.until(
        [&] {
          pump_read();
          return eof_;
        },
        t);
  }

  // Close without a close frame and with a RST: an abrupt loss of the connection.
  void abort() {
    linger l{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    ::close(fd_);
    fd_ = -1;
  }

  const std::string& head() const { return head_; }

 private:
  int read_head(std::string* head = nullptr) {
    size_t end = std::string::npos;
    loop_.until([&] {
      pump_read();
      end = in_.find("\r\n\r\n");
      return end != std::string::npos || eof_;
    });
    if (end == std::string::npos) return 0;
    head_ = in_.substr(0, end + 4);
    in_.erase(0, end + 4);
    for (auto& ch : head_) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (head) *head = head_;
    if (head_.rfind("http/1.1 ", 0) != 0) return 0;
    return std::atoi(head_.c_str() + 9);
  }

  bool parse_frame(int& opcode, std::string& payload) {
    payload_pending_failed_ = false;
    if (in_.size() < 2) return false;
    const auto* b = reinterpret_cast<const unsigned char*>(in_.data());
    size_t n = b[1] & 0x7f, hdr = 2;
    if (n == 126) {
      if (in_.size() < 4) return false;
      n = (size_t(b[2]) << 8) | b[3];
      hdr = 4;
    } else if (n == 127) {
      if (in_.size() < 10) return false;
      n = 0;
      for (int i = 0; i < 8; ++i) n = (n << 8) | b[2 + i];
      hdr = 10;
    }
    if (in_.size() < hdr + n) return false;
    opcode = b[0] & 0x0f;
    payload = in_.substr(hdr, n);
    in_.erase(0, hdr + n);
    return true;
  }

  Loop& loop_;
  int fd_ = -1;
  std::string in_;
  std::string head_;
  bool eof_ = false;
  bool payload_pending_failed_ = false;
};

class TestHandler : public rtcgw::ws::Handler {
 public:
  void on_ws_open(const rtcgw::ws::Peer& peer) override { opens.push_back(peer); }
  void on_ws_message(ConnId id, std::string_view data, bool binary) override {
    messages.push_back({id, std::string(data), binary});
    if (echo && server) server->send(id, data);
  }
  void on_ws_close(ConnId id) override { ++closes[id]; }

  struct Msg {
    ConnId id;
    std::string data;
    bool binary;
  };
  rtcgw::ws::Server* server = nullptr;
  bool echo = true;
  std::vector<rtcgw::ws::Peer> opens;
  std::vector<Msg> messages;
  std::map<ConnId, int> closes;
};

class WsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = free_port();
    cfg_.websocket.listen = {url("ws", "127.0.0.1", port_)};
    cfg_.websocket.allowed_origins = {"*"};
  }
  void start() {
    server_ = rtcgw::ws::make_server(loop_.loop(), cfg_, handler_, metrics_, health_);
    handler_.server = server_.get();
  }
  void TearDown() override {
    server_.reset();
    handler_.server = nullptr;
  }
  // An upgraded client on the default listener.
  std::unique_ptr<Client> open_client(const std::string& origin = "") {
    auto c = std::make_unique<Client>(loop_);
    EXPECT_TRUE(c->connect("127.0.0.1", port_));
    EXPECT_EQ(c->upgrade("sip", origin), 101);
    return c;
  }

  Loop loop_;
  rtcgw::config::Config cfg_;
  rtcgw::Metrics metrics_;
  TestHandler handler_;
  rtcgw::ws::HealthFn health_ = [] { return std::pair<bool, std::string>{true, "{\"ok\":true}"}; };
  std::unique_ptr<rtcgw::ws::Server> server_;
  uint16_t port_ = 0;
};

TEST_F(WsServerTest, UpgradeWithSipDeliversAndEchoes) {
  start();
  auto c = open_client();
  EXPECT_NE(c->head().find("sec-websocket-protocol: sip"), std::string::npos);
  ASSERT_TRUE(loop_.until([&] { return handler_.opens.size() == 1; }));
  const auto& p = handler_.opens[0];
  EXPECT_EQ(p.ip, "127.0.0.1");
  EXPECT_NE(p.port, 0);
  EXPECT_FALSE(p.secure);
  EXPECT_EQ(p.local_host, "127.0.0.1");
  EXPECT_EQ(p.local_port, port_);
  EXPECT_EQ(server_->connection_count(), 1u);

  const std::string options = "OPTIONS sip:x@example.com SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n";
  c->send_frame(1, options);
  int op = 0;
  std::string payload;
  ASSERT_TRUE(c->read_frame(op, payload));
  EXPECT_EQ(op, 1);
  EXPECT_EQ(payload, options);
  ASSERT_EQ(handler_.messages.size(), 1u);
  EXPECT_EQ(handler_.messages[0].id, p.id);
  EXPECT_FALSE(handler_.messages[0].binary);

  // RFC 5626 keepalive and an empty message reach the handler as they are.
  c->send_frame(1, "\r\n\r\n");
  c->send_frame(1, "");
  ASSERT_TRUE(loop_.until([&] { return handler_.messages.size() == 3; }));
  EXPECT_EQ(handler_.messages[1].data, "\r\n\r\n");
  EXPECT_EQ(handler_.messages[2].data, "");
}

TEST_F(WsServerTest, UpgradeWithoutSipIsRefused) {
  start();
  Client none(loop_);
  ASSERT_TRUE(none.connect("127.0.0.1", port_));
  EXPECT_NE(none.upgrade(""), 101);
  Client other(loop_);
  ASSERT_TRUE(other.connect("127.0.0.1", port_));
  EXPECT_NE(other.upgrade("chat"), 101);
  Client listed(loop_);  // "sip" anywhere in the list is fine
  ASSERT_TRUE(listed.connect("127.0.0.1", port_));
  EXPECT_EQ(listed.upgrade("chat, sip"), 101);
  loop_.spin(20ms);
  EXPECT_EQ(handler_.opens.size(), 1u);
  EXPECT_GE(sample(metrics_, "reason=\"subprotocol\""), 1);
}

TEST_F(WsServerTest, WrongOriginIsRefusedAndCounted) {
  cfg_.websocket.allowed_origins = {"https://good.example"};
  start();
  Client bad(loop_);
  ASSERT_TRUE(bad.connect("127.0.0.1", port_));
  EXPECT_NE(bad.upgrade("sip", "https://evil.example"), 101);
  Client none(loop_);  // no Origin under an explicit list: refused too
  ASSERT_TRUE(none.connect("127.0.0.1", port_));
  EXPECT_NE(none.upgrade("sip", ""), 101);
  Client good(loop_);
  ASSERT_TRUE(good.connect("127.0.0.1", port_));
  EXPECT_EQ(good.upgrade("sip", "https://good.example"), 101);
  ASSERT_TRUE(loop_.until([&] { return handler_.opens.size() == 1; }));
  EXPECT_EQ(handler_.opens[0].origin, "https://good.example");
  EXPECT_EQ(sample(metrics_, "reason=\"origin\""), 2);

  // reload() replaces the list.
  rtcgw::config::WebSocket ws = cfg_.websocket;
  ws.allowed_origins = {"https://evil.example"};
  server_->reload(ws);
  Client now_ok(loop_);
  ASSERT_TRUE(now_ok.connect("127.0.0.1", port_));
  EXPECT_EQ(now_ok.upgrade("sip", "https://evil.example"), 101);
}

TEST_F(WsServerTest, FragmentedMessageIsReassembled) {
  start();
  auto c = open_client();
  c->send_frame(1, "INVITE sip:a@b ", false);
  c->send_frame(0, "SIP/2.0\r\n", false);
  c->send_frame(9, "ping-in-between");  // a control frame may come between fragments
  c->send_frame(0, "\r\n", true);
  ASSERT_TRUE(loop_.until([&] { return handler_.messages.size() == 1; }));
  EXPECT_EQ(handler_.messages[0].data, "INVITE sip:a@b SIP/2.0\r\n\r\n");

  // Bigger than lws's receive buffer, in one frame: still one message.
  std::string big(20000, 'x');
  c->send_frame(1, big);
  ASSERT_TRUE(loop_.until([&] { return handler_.messages.size() == 2; }));
  EXPECT_EQ(handler_.messages[1].data, big);
}

TEST_F(WsServerTest, OversizedMessageClosesWith1009OthersUnaffected) {
  cfg_.websocket.max_message_size = 1000;
  start();
  auto other = open_client();
  auto c = open_client();
  ASSERT_TRUE(loop_.until([&] { return handler_.opens.size() == 2; }));
  const ConnId bad_id = handler_.opens[1].id;

  c->send_frame(1, std::string(600, 'a'), false);
  c->send_frame(0, std::string(600, 'b'), true);
  int op = 0;
  std::string payload;
  ASSERT_TRUE(c->read_frame(op, payload));
  EXPECT_EQ(op, 8);
  ASSERT_GE(payload.size(), 2u);
  EXPECT_EQ((static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]),
            1009);
  EXPECT_TRUE(handler_.messages.empty());
  EXPECT_EQ(sample(metrics_, "reason=\"oversized\""), 1);
  c->abort();
  ASSERT_TRUE(loop_.until([&] { return handler_.closes[bad_id] == 1; }));

  other->send_frame(1, std::string(1000, 'c'));  // exactly the limit is fine
  ASSERT_TRUE(other->read_frame(op, payload));
  EXPECT_EQ(payload.size(), 1000u);
}

TEST_F(WsServerTest, BinaryFrameDelivered) {
  start();
  auto c = open_client();
  const std::string data("REGISTER \0\x01\xff", 12);
  c->send_frame(2, data);
  ASSERT_TRUE(loop_.until([&] { return handler_.messages.size() == 1; }));
  EXPECT_TRUE(handler_.messages[0].binary);
  EXPECT_EQ(handler_.messages[0].data, data);
}

TEST_F(WsServerTest, PerIpLimitRefuses) {
  cfg_.websocket.max_connections_per_ip = 2;
  start();
  auto a = open_client();
  auto b = open_client();
  Client third(loop_);
  ASSERT_TRUE(third.connect("127.0.0.1", port_));
  EXPECT_NE(third.upgrade("sip"), 101);
  EXPECT_EQ(sample(metrics_, "reason=\"per_ip_limit\""), 1);
  // A slot frees when one closes.
  a->abort();
  ASSERT_TRUE(loop_.until([&] { return server_->connection_count() == 1; }));
  Client fourth(loop_);
  ASSERT_TRUE(fourth.connect("127.0.0.1", port_));
  EXPECT_EQ(fourth.upgrade("sip"), 101);
}

TEST_F(WsServerTest, TotalLimitRefuses) {
  cfg_.websocket.max_connections = 1;
  start();
  auto a = open_client();
  Client second(loop_);
  ASSERT_TRUE(second.connect("127.0.0.1", port_));
  EXPECT_NE(second.upgrade("sip"), 101);
  EXPECT_EQ(sample(metrics_, "reason=\"limit\""), 1);
}

TEST_F(WsServerTest, RateLimitRefuses) {
  cfg_.websocket.connection_rate_per_ip = 3;
  start();
  std::vector<std::unique_ptr<Client>> clients;
  int ok = 0, refused = 0;
  for (int i = 0; i < 5; ++i) {
    auto c = std::make_unique<Client>(loop_);
    ASSERT_TRUE(c->connect("127.0.0.1", port_));
    (c->upgrade("sip") == 101 ? ok : refused)++;
    clients.push_back(std::move(c));
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(sample(metrics_, "reason=\"rate\""), 2);
  loop_.spin(1100ms);  // the window slides on
  Client later(loop_);
  ASSERT_TRUE(later.connect("127.0.0.1", port_));
  EXPECT_EQ(later.upgrade("sip"), 101);
}

TEST_F(WsServerTest, Ipv6Loopback) {
  const uint16_t port6 = free_port(true);
  cfg_.websocket.listen.push_back(url("ws", "::1", port6));
  start();
  Client c(loop_);
  ASSERT_TRUE(c.connect("::1", port6));
  ASSERT_EQ(c.upgrade("sip"), 101);
  ASSERT_TRUE(loop_.until([&] { return handler_.opens.size() == 1; }));
  EXPECT_EQ(handler_.opens[0].ip, "::1");
  EXPECT_EQ(handler_.opens[0].local_host, "::1");
  EXPECT_EQ(handler_.opens[0].local_port, port6);
  c.send_frame(1, "hello6");
  int op = 0;
  std::string payload;
  ASSERT_TRUE(c.read_frame(op, payload));
  EXPECT_EQ(payload, "hello6");
}

TEST_F(WsServerTest, Ipv4ListenerBindsOnlyItsAddress) {
  // The lws quirk worked around in create_vhost: 127.0.0.1 must not become [::].
  start();
  Client c(loop_);
  EXPECT_FALSE(c.connect("::1", port_) && c.upgrade("sip") == 101);
}

TEST_F(WsServerTest, MetricsAndHealth) {
  const uint16_t mport = free_port();
  cfg_.metrics.listen = "http://127.0.0.1:" + std::to_string(mport);
  cfg_.metrics.url = url("http", "127.0.0.1", mport);
  bool healthy = true;
  health_ = [&] {
    return std::pair<bool, std::string>{
        healthy, healthy ? "{\"status\":\"ok\"}" : "{\"status\":\"draining\"}"};
  };
  start();
  metrics_.ws_connection_rejected("origin");
  std::string body, head;
  Client m(loop_);
  ASSERT_TRUE(m.connect("127.0.0.1", mport));
  EXPECT_EQ(m.get("/metrics", body, &head), 200);
  EXPECT_NE(head.find("content-type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(body.find("reason=\"origin\""), std::string::npos);

  Client h(loop_);
  ASSERT_TRUE(h.connect("127.0.0.1", mport));
  EXPECT_EQ(h.get("/health", body, &head), 200);
  EXPECT_EQ(body, "{\"status\":\"ok\"}");
  EXPECT_NE(head.find("application/json"), std::string::npos);

  healthy = false;
  Client h2(loop_);
  ASSERT_TRUE(h2.connect("127.0.0.1", mport));
  EXPECT_EQ(h2.get("/health", body), 503);
  EXPECT_EQ(body, "{\"status\":\"draining\"}");

  Client n(loop_);
  ASSERT_TRUE(n.connect("127.0.0.1", mport));
  EXPECT_EQ(n.get("/nothing", body), 404);

  Client w(loop_);  // no WebSocket on the metrics listener
  ASSERT_TRUE(w.connect("127.0.0.1", mport));
  EXPECT_NE(w.upgrade("sip"), 101);
}

TEST_F(WsServerTest, StaticFilesFromDocumentRoot) {
  char tmpl[] = "/tmp/rtcgw-ws-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir(tmpl);
  std::filesystem::create_directory(dir / "www");
  std::ofstream(dir / "www" / "index.html") << "<html>hi</html>";
  std::ofstream(dir / "www" / "app.js") << "console.log(1)";
  std::ofstream(dir / "secret.txt") << "SECRET";
  cfg_.websocket.document_root = (dir / "www").string();
  start();

  std::string body, head;
  Client a(loop_);
  ASSERT_TRUE(a.connect("127.0.0.1", port_));
  EXPECT_EQ(a.get("/", body, &head), 200);
  EXPECT_EQ(body, "<html>hi</html>");
  EXPECT_NE(head.find("content-type: text/html"), std::string::npos);

  Client b(loop_);
  ASSERT_TRUE(b.connect("127.0.0.1", port_));
  EXPECT_EQ(b.get("/app.js", body, &head), 200);
  EXPECT_NE(head.find("javascript"), std::string::npos);

  Client c(loop_);
  ASSERT_TRUE(c.connect("127.0.0.1", port_));
  EXPECT_EQ(c.get("/missing.html", body), 404);

  for (const char* escape : {"/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt"}) {
    Client e(loop_);
    ASSERT_TRUE(e.connect("127.0.0.1", port_));
    const int status = e.get(escape, body);
    EXPECT_NE(status, 200) << escape;
    EXPECT_EQ(body.find("SECRET"), std::string::npos) << escape;
  }

  // The WebSocket still works on the same listener.
  auto ws = open_client();
  ASSERT_TRUE(loop_.until([&] { return handler_.opens.size() == 1; }));
  server_.reset();
  std::filesystem::remove_all(dir);
}

TEST_F(WsServerTest, NoDocumentRootGives404) {
  start();
  Client a(loop_);
  ASSERT_TRUE(a.connect("127.0.0.1", port_));
  std::string body;
  EXPECT_EQ(a.get("/index.html", body), 404);
}

TEST_F(WsServerTest, AbruptCloseReportsOnce) {
  start();
  auto c = open_client();
  ASSERT_TRUE(loop_.until([&] { return handler_.opens.size() == 1; }));
  const ConnId id = handler_.opens[0].id;
  c->abort();
  ASSERT_TRUE(loop_.until([&] { return handler_.closes.count(id) == 1; }));
  loop_.spin(50ms);
  EXPECT_EQ(handler_.closes[id], 1);
  EXPECT_EQ(server_->connection_count(), 0u);
  EXPECT_FALSE(server_->send(id, "late"));
}

TEST_F(WsServerTest, ServerCloseSendsCodeAndFlushesQueue) {
  handler_.echo = false;
  start();
  auto c = open_client();
  ASSERT_TRUE(loop_.until([&] { return handler_.opens.size() == 1; }));
  const ConnId id = handler_.opens[0].id;
  ASSERT_TRUE(server_->send(id, "SIP/2.0 200 OK\r\n\r\n"));
  server_->close(id, 1001, "going away");
  EXPECT_FALSE(server_->send(id, "after close"));
  int op = 0;
  std::string payload;
  ASSERT_TRUE(c->read_frame(op, payload));
  EXPECT_EQ(op, 1);
  EXPECT_EQ(payload, "SIP/2.0 200 OK\r\n\r\n");
  ASSERT_TRUE(c->read_frame(op, payload));
  EXPECT_EQ(op, 8);
  ASSERT_GE(payload.size(), 2u);
  EXPECT_EQ((static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]),
            1001);
  EXPECT_EQ(payload.substr(2), "going away");
  c->abort();
  ASSERT_TRUE(loop_.until([&] { return handler_.closes[id] == 1; }));
}

TEST_F(WsServerTest, StopAcceptingKeepsOpenConnections) {
  start();
  auto c = open_client();
  ASSERT_TRUE(loop_.until([&] { return handler_.opens.size() == 1; }));
  server_->stop_accepting();
  Client late(loop_);
  EXPECT_FALSE(late.connect("127.0.0.1", port_) && late.upgrade("sip") == 101);
  c->send_frame(1, "still here");
  int op = 0;
  std::string payload;
  ASSERT_TRUE(c->read_frame(op, payload));
  EXPECT_EQ(payload, "still here");
}

TEST_F(WsServerTest, DestructorReportsOpenConnections) {
  start();
  auto c = open_client();
  ASSERT_TRUE(loop_.until([&] { return handler_.opens.size() == 1; }));
  const ConnId id = handler_.opens[0].id;
  server_.reset();
  EXPECT_EQ(handler_.closes[id], 1);
  EXPECT_TRUE(c->closed_by_peer());
}

TEST_F(WsServerTest, PingDetectsDeadPeer) {
  cfg_.websocket.ping_interval = 1;
  start();
  auto c = open_client();
  ASSERT_TRUE(loop_.until([&] { return handler_.opens.size() == 1; }));
  const ConnId id = handler_.opens[0].id;
  int op = 0;
  std::string payload;
  ASSERT_TRUE(c->read_frame(op, payload, 2500ms));
  EXPECT_EQ(op, 9);  // a ping; we never answer it
  EXPECT_TRUE(loop_.until([&] { return handler_.closes[id] == 1; }, 4000ms));
}

TEST_F(WsServerTest, PortInUseThrowsNamingTheUrl) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port_);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  try {
    start();
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(cfg_.websocket.listen[0].text), std::string::npos)
        << e.what();
  }
  ::close(fd);
}

// wss: a throwaway ECDSA P-256 self-signed certificate; an OpenSSL client on a thread (blocking),
// while this thread runs the loop.
TEST_F(WsServerTest, SecureWebSocket) {
  char tmpl[] = "/tmp/rtcgw-ws-tls-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
      " -subj /CN=localhost -days 1 -keyout " +
      dir + "/key.pem -out " + dir + "/cert.pem >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "making a test certificate with the openssl command";
  const uint16_t sport = free_port();
  cfg_.websocket.listen.push_back(url("wss", "127.0.0.1", sport));
  cfg_.websocket.tls.certificate = dir + "/cert.pem";
  cfg_.websocket.tls.private_key = dir + "/key.pem";
  start();

  std::atomic<bool> done{false};
  std::string status_line, echoed;
  std::thread t([&] {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(sport);
    SSL* ssl = nullptr;
    if (ctx && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
      ssl = SSL_new(ctx);
      SSL_set_fd(ssl, fd);
      if (SSL_connect(ssl) == 1) {
        const std::string req =
            "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: sip\r\n\r\n";
        SSL_write(ssl, req.data(), static_cast<int>(req.size()));
        std::string in;
        char buf[4096];
        int n;
        while (in.find("\r\n\r\n") == std::string::npos &&
               (n = SSL_read(ssl, buf, sizeof(buf))) > 0)
          in.append(buf, static_cast<size_t>(n));
        status_line = in.substr(0, in.find("\r\n"));
        in.erase(0, in.find("\r\n\r\n") + 4);
        const char frame[] = {char(0x81), char(0x84), 1,       2,       3,
                              4,          'w' ^ 1,    's' ^ 2, 's' ^ 3, '!' ^ 4};
        SSL_write(ssl, frame, sizeof(frame));
        while (in.size() < 6 && (n = SSL_read(ssl, buf, sizeof(buf))) > 0)
          in.append(buf, static_cast<size_t>(n));
        if (in.size() >= 6) echoed = in.substr(2, 4);
      }
      SSL_free(ssl);
    }
    ::close(fd);
    SSL_CTX_free(ctx);
    done = true;
  });
  loop_.until([&] { return done.load(); }, 5000ms);
  t.join();
  EXPECT_EQ(status_line.substr(0, 12), "HTTP/1.1 101");
  EXPECT_EQ(echoed, "wss!");
  ASSERT_EQ(handler_.opens.size(), 1u);
  EXPECT_TRUE(handler_.opens[0].secure);
  EXPECT_EQ(handler_.opens[0].local_port, sport);
  server_.reset();
  std::filesystem::remove_all(dir);
}

TEST(WsLimits, SlidingWindowAndPerIp) {
  using rtcgw::ws::Admission;
  rtcgw::ws::ConnectionLimits l({10, 2, 3});
  const auto t0 = rtcgw::ws::Clock::now();
  EXPECT_EQ(l.admit("a", t0), Admission::ok);
  l.add("a");
  EXPECT_EQ(l.admit("a", t0), Admission::ok);
  l.add("a");
  EXPECT_EQ(l.admit("a", t0), Admission::per_ip_limit);
  EXPECT_EQ(l.admit("a", t0), Admission::rate);
  EXPECT_EQ(l.admit("b", t0), Admission::ok);
  EXPECT_EQ(l.admit("a", t0 + 1100ms), Admission::per_ip_limit);
  l.remove("a");
  EXPECT_EQ(l.admit("a", t0 + 1200ms), Admission::ok);
  EXPECT_EQ(l.open_total(), 1u);
  l.remove("a");
  (void)l.admit("c", t0 + 5s);  // sweeps idle addresses
  EXPECT_EQ(l.tracked_addresses(), 1u);
}

}  // namespace
