// DTLS-SRTP between two in-memory sessions (a client and a server, each with its own generated
// certificate), datagrams queued and delivered by the test, retransmission timers on a private
// GLib main context: the handshake, mirrored SRTP keys that really protect media, the
// fingerprint check, a server that never speaks first, garbage, loss, close_notify. Also the
// certificate: generation, its fingerprint, loading from PEM files.
#include <glib.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "media/certificate.hpp"
#include "media/dtls.hpp"
#include "media/srtp.hpp"

namespace rtcgw::media {
namespace {

using Bytes = std::vector<uint8_t>;
using Clock = std::chrono::steady_clock;

// A private main context, thread-default for the test (where loop::Timer attaches).
class Context {
 public:
  Context() : ctx_(g_main_context_new()) { g_main_context_push_thread_default(ctx_.get()); }
  ~Context() {
    while (g_main_context_iteration(ctx_.get(), FALSE)) {
    }
    g_main_context_pop_thread_default(ctx_.get());
  }
  GMainContext* get() const { return ctx_.get(); }

 private:
  struct Unref {
    void operator()(GMainContext* c) const { g_main_context_unref(c); }
  };
  std::unique_ptr<GMainContext, Unref> ctx_;
};

std::string write_file(const std::string& name, const std::function<int(BIO*)>& write) {
  std::string path = ::testing::TempDir() + "rtcgw_dtls_test_" + name;
  BIO* b = BIO_new_file(path.c_str(), "w");
  EXPECT_NE(b, nullptr);
  EXPECT_EQ(write(b), 1);
  BIO_free(b);
  return path;
}

// The files of a self-signed RSA certificate of `bits` (larger than any browser's: its flights
// take more than one datagram).
std::unique_ptr<Certificate> rsa_certificate(int bits) {
  EvpPkeyPtr key(EVP_RSA_gen(unsigned(bits)));
  X509Ptr x(X509_new());
  EXPECT_TRUE(key && x);
  X509_set_version(x.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 86400);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("rsa peer"), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  X509_set_pubkey(x.get(), key.get());
  EXPECT_GT(X509_sign(x.get(), key.get(), EVP_sha256()), 0);
  std::string cert =
      write_file("rsa_cert.pem", [&](BIO* b) { return PEM_write_bio_X509(b, x.get()); });
  std::string pkey = write_file("rsa_key.pem", [&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  auto loaded = Certificate::load(cert, pkey);
  std::remove(cert.c_str());
  std::remove(pkey.c_str());
  return loaded;
}

struct Peer {
  std::unique_ptr<Certificate> cert = Certificate::generate();
  std::unique_ptr<DtlsContext> ctx = std::make_unique<DtlsContext>(*cert);
  std::vector<DtlsState> events;
  std::vector<Bytes> sent;            // every datagram it sent, in order
  std::unique_ptr<DtlsSession> dtls;  // last: its destructor may still send
};

class DtlsTest : public ::testing::Test {
 protected:
  struct Datagram {
    bool to_server;
    Bytes data;
  };

  static void SetUpTestSuite() { srtp_global_init(); }
  // The sessions go first: their destructors send close_notify through the fixture.
  void TearDown() override {
    client.dtls.reset();
    server.dtls.reset();
  }

  // Sessions for both peers; each expects the other's fingerprint unless told otherwise.
  void make(std::string client_expects = {}, std::string server_expects = {}) {
    if (client_expects.empty()) client_expects = server.cert->fingerprint_sha256();
    if (server_expects.empty()) server_expects = client.cert->fingerprint_sha256();
    client.dtls = make_session(client, DtlsRole::kClient, client_expects, true);
    server.dtls = make_session(server, DtlsRole::kServer, server_expects, false);
  }

  std::unique_ptr<DtlsSession> make_session(Peer& p, DtlsRole role, const std::string& fp,
                                            bool to_server) {
    return std::make_unique<DtlsSession>(
        *p.ctx, role, fp,
        [this, &p, to_server](const uint8_t* d, size_t n) {
          Bytes b(d, d + n);
          p.sent.push_back(b);
          EXPECT_LE(n, kDtlsMtu);
          // Queued, never delivered from inside the sending session.
          wire.push_back(Datagram{to_server, std::move(b)});
        },
        [&p](DtlsState s) { p.events.push_back(s); });
  }

  // Delivers what is on the wire (unless `drop` says otherwise) and turns the main context
  // until `done` or `ms` milliseconds.
  bool pump(const std::function<bool()>& done, int ms = 10000) {
    auto deadline = Clock::now() + std::chrono::milliseconds(ms);
    while (Clock::now() < deadline) {
      while (!wire.empty()) {
        Datagram d = std::move(wire.front());
        wire.pop_front();
        size_t index = delivered++;
        if (drop && drop(d, index)) continue;
        Peer& to = d.to_server ? server : client;
        if (to.dtls) to.dtls->receive(d.data.data(), d.data.size());
      }
      while (g_main_context_iteration(loop.get(), FALSE)) {
      }
      if (done()) return true;
      if (wire.empty()) g_usleep(1000);
    }
    return done();
  }

  bool both_connected() {
    return client.dtls->state() == DtlsState::kConnected &&
           server.dtls->state() == DtlsState::kConnected;
  }

  void connect() {
    server.dtls->start();
    client.dtls->start();
    ASSERT_TRUE(pump([&] { return both_connected(); }))
        << "client " << state_name(client.dtls->state()) << " " << client.dtls->error()
        << ", server " << state_name(server.dtls->state()) << " " << server.dtls->error();
  }

  // An RTP packet protected by `from`'s keys comes out of `to`'s SRTP session unchanged.
  static void expect_media_flows(const DtlsSession& from, const DtlsSession& to, uint16_t seq) {
    SrtpSession tx, rx;
    std::string err;
    ASSERT_TRUE(tx.init(from.keys(), err)) << err;
    ASSERT_TRUE(rx.init(to.keys(), err)) << err;
    Bytes plain = {0x80, 0x6f, uint8_t(seq >> 8), uint8_t(seq), 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef};
    for (int i = 0; i < 100; ++i) plain.push_back(uint8_t(i));
    Bytes buf = plain;
    buf.resize(plain.size() + kSrtpMaxTrailer);
    size_t len = plain.size();
    ASSERT_TRUE(tx.protect_rtp(buf.data(), len)) << tx.last_error();
    ASSERT_TRUE(rx.unprotect_rtp(buf.data(), len)) << rx.last_error();
    EXPECT_EQ(Bytes(buf.begin(), buf.begin() + long(len)), plain);
  }

  Context loop;  // first: destroyed after the sessions, whose timers attach to it
  std::deque<Datagram> wire;
  Peer client, server;
  size_t delivered = 0;
  std::function<bool(const Datagram&, size_t index)> drop;
};

bool is_client_hello(const Bytes& d) {
  // Handshake record, epoch 0, handshake type 1.
  return d.size() > 13 && d[0] == 22 && d[3] == 0 && d[4] == 0 && d[13] == 1;
}

TEST_F(DtlsTest, HandshakeGivesMirroredKeysThatProtectMedia) {
  make();
  connect();
  const SrtpKeys& c = client.dtls->keys();
  const SrtpKeys& s = server.dtls->keys();
  // Both ends prefer AEAD_AES_128_GCM.
  EXPECT_EQ(c.profile, SrtpProfile::kAeadAes128Gcm);
  EXPECT_EQ(s.profile, c.profile);
  size_t n = master_key_len(c.profile) + master_salt_len(c.profile);
  EXPECT_EQ(c.local.size(), n);
  EXPECT_EQ(c.remote.size(), n);
  EXPECT_EQ(c.local, s.remote);
  EXPECT_EQ(c.remote, s.local);
  EXPECT_NE(c.local, c.remote);
  EXPECT_TRUE(client.dtls->error().empty());
  EXPECT_EQ(client.events,
            (std::vector<DtlsState>{DtlsState::kHandshaking, DtlsState::kConnected}));
  EXPECT_EQ(server.events,
            (std::vector<DtlsState>{DtlsState::kHandshaking, DtlsState::kConnected}));
  expect_media_flows(*client.dtls, *server.dtls, 1);
  expect_media_flows(*server.dtls, *client.dtls, 2);
}

TEST_F(DtlsTest, FingerprintIsMatchedInAnyCase) {
  std::string lower = server.cert->fingerprint_sha256();
  for (char& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  make(lower);
  connect();
}

TEST_F(DtlsTest, ServerWithTheWrongFingerprintFailsTheClient) {
  Peer stranger;
  make(stranger.cert->fingerprint_sha256());
  server.dtls->start();
  client.dtls->start();
  ASSERT_TRUE(pump([&] { return client.dtls->state() == DtlsState::kFailed; }));
  EXPECT_EQ(client.dtls->error(), "fingerprint mismatch");
  EXPECT_TRUE(client.dtls->keys().local.empty());
  EXPECT_EQ(client.events.back(), DtlsState::kFailed);
  // The server hears about it through an alert and never connects.
  ASSERT_TRUE(pump([&] { return server.dtls->state() == DtlsState::kFailed; }));
  EXPECT_EQ(server.dtls->error(), "sslv3 alert bad certificate");
}

TEST_F(DtlsTest, ClientWithTheWrongFingerprintFailsTheServer) {
  Peer stranger;
  make({}, stranger.cert->fingerprint_sha256());
  server.dtls->start();
  client.dtls->start();
  ASSERT_TRUE(pump([&] { return server.dtls->state() == DtlsState::kFailed; }));
  EXPECT_EQ(server.dtls->error(), "fingerprint mismatch");
  ASSERT_TRUE(pump([&] { return client.dtls->state() == DtlsState::kFailed; }));
  EXPECT_EQ(client.dtls->error(), "sslv3 alert bad certificate");
  // A failed session takes nothing more.
  uint8_t record[20] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 7};
  EXPECT_FALSE(server.dtls->receive(record, sizeof record));
}

TEST_F(DtlsTest, ServerNeverSendsFirst) {
  make();
  server.dtls->start();
  EXPECT_EQ(server.dtls->state(), DtlsState::kHandshaking);
  // Well past the first retransmission timeout: still silent.
  EXPECT_FALSE(pump([] { return false; }, 1500));
  EXPECT_TRUE(server.sent.empty());
  EXPECT_EQ(server.dtls->state(), DtlsState::kHandshaking);
  // Only a ClientHello makes it speak.
  client.dtls->start();
  ASSERT_EQ(client.sent.size(), 1u);
  EXPECT_TRUE(is_client_hello(client.sent[0]));
  ASSERT_TRUE(pump([&] { return both_connected(); }));
}

TEST_F(DtlsTest, ServerTakesAClientHelloBeforeStart) {
  make();
  client.dtls->start();
  ASSERT_TRUE(pump([&] { return both_connected(); }));
}

TEST_F(DtlsTest, ClientNotStartedTakesNothing) {
  make();
  uint8_t record[20] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
  EXPECT_FALSE(client.dtls->receive(record, sizeof record));
  EXPECT_EQ(client.dtls->state(), DtlsState::kNew);
  EXPECT_TRUE(client.sent.empty());
}

// Datagrams that are not DTLS, records whose lengths do not add up, records OpenSSL cannot use.
std::vector<Bytes> garbage() {
  std::vector<Bytes> g;
  g.push_back(Bytes{22});
  g.push_back(Bytes(12, 22));
  g.push_back(Bytes(200, 0xff));
  Bytes cut = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 1, 2, 3};  // says 256 bytes
  g.push_back(cut);
  Bytes bad_version = {22, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0};
  g.push_back(bad_version);
  Bytes trailing = {21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 40, 0xaa};  // a byte more
  g.push_back(trailing);
  Bytes srtp_like = {0x80, 0x00, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
  g.push_back(srtp_like);
  for (uint8_t type : {20, 21, 22, 23}) {
    for (uint8_t epoch : {0, 1, 7}) {
      Bytes r = {type, 0xfe, 0xfd, 0, epoch, 0, 0, 0, 0, 0, 0x2a, 0, 32};
      for (int i = 0; i < 32; ++i) r.push_back(uint8_t(i * 37 + type));
      g.push_back(r);
    }
  }
  return g;
}

TEST_F(DtlsTest, GarbageNeitherCrashesNorFailsAConnectedSession) {
  make();
  server.dtls->start();
  // Before the handshake: a server waiting for the ClientHello takes nothing else.
  for (const Bytes& g : garbage()) {
    EXPECT_FALSE(server.dtls->receive(g.data(), g.size()));
    EXPECT_FALSE(client.dtls->receive(g.data(), g.size()));  // not started
  }
  EXPECT_EQ(server.dtls->state(), DtlsState::kHandshaking);
  EXPECT_TRUE(server.sent.empty());
  client.dtls->start();
  ASSERT_TRUE(pump([&] { return both_connected(); }));

  // After it: every kind, to both ends, and a real record cut short or altered.
  std::vector<Bytes> all = garbage();
  Bytes real = client.sent.back();
  all.push_back(Bytes(real.begin(), real.begin() + long(real.size() / 2)));
  Bytes flipped = real;
  flipped[flipped.size() - 1] ^= 0x55;
  all.push_back(flipped);
  for (const Bytes& g : all) {
    client.dtls->receive(g.data(), g.size());
    server.dtls->receive(g.data(), g.size());
  }
  pump([] { return false; }, 100);
  EXPECT_EQ(client.dtls->state(), DtlsState::kConnected) << client.dtls->error();
  EXPECT_EQ(server.dtls->state(), DtlsState::kConnected) << server.dtls->error();
  expect_media_flows(*client.dtls, *server.dtls, 3);
  // The association still works for the protocol: close_notify gets through.
  client.dtls->close();
  ASSERT_TRUE(pump([&] { return server.dtls->state() == DtlsState::kClosed; }));
}

TEST_F(DtlsTest, ProfileIsTheServersFirstChoiceAmongTheClientsOffer) {
  // A client offering AES_CM first and AEAD_AES_256_GCM second: the server (rtcgw's order,
  // GCM first) picks AEAD_AES_256_GCM.
  ASSERT_EQ(SSL_CTX_set_tlsext_use_srtp(client.ctx->get(),
                                        "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_256_GCM"),
            0);
  make();
  connect();
  EXPECT_EQ(client.dtls->keys().profile, SrtpProfile::kAeadAes256Gcm);
  EXPECT_EQ(server.dtls->keys().profile, SrtpProfile::kAeadAes256Gcm);
  EXPECT_EQ(client.dtls->keys().local.size(), 44u);
  expect_media_flows(*client.dtls, *server.dtls, 7);
  expect_media_flows(*server.dtls, *client.dtls, 8);
}

TEST_F(DtlsTest, AesCmWhenThatIsAllTheClientOffers) {
  ASSERT_EQ(SSL_CTX_set_tlsext_use_srtp(client.ctx->get(), "SRTP_AES128_CM_SHA1_80"), 0);
  make();
  connect();
  EXPECT_EQ(client.dtls->keys().profile, SrtpProfile::kAes128CmSha1_80);
  EXPECT_EQ(server.dtls->keys().local.size(), 30u);
  EXPECT_EQ(client.dtls->keys().local, server.dtls->keys().remote);
  expect_media_flows(*server.dtls, *client.dtls, 9);
}

TEST_F(DtlsTest, NoCommonSrtpProfileFails) {
  ASSERT_EQ(SSL_CTX_set_tlsext_use_srtp(client.ctx->get(), "SRTP_AEAD_AES_256_GCM"), 0);
  ASSERT_EQ(SSL_CTX_set_tlsext_use_srtp(server.ctx->get(), "SRTP_AES128_CM_SHA1_80"), 0);
  make();
  server.dtls->start();
  client.dtls->start();
  ASSERT_TRUE(pump([&] {
    return client.dtls->state() == DtlsState::kFailed && server.dtls->state() == DtlsState::kFailed;
  }));
  EXPECT_EQ(client.dtls->error(), "no SRTP profile negotiated");
  EXPECT_EQ(server.dtls->error(), "no SRTP profile negotiated");
}

TEST_F(DtlsTest, LostClientHelloIsRetransmitted) {
  make();
  bool dropped = false;
  drop = [&](const Datagram& d, size_t) {
    if (!d.to_server || !is_client_hello(d.data) || dropped) return false;
    return dropped = true;
  };
  server.dtls->start();
  client.dtls->start();
  auto t0 = Clock::now();
  ASSERT_TRUE(pump([&] { return both_connected(); }))
      << "client " << state_name(client.dtls->state()) << " " << client.dtls->error();
  EXPECT_GE(Clock::now() - t0, std::chrono::milliseconds(400));  // after a timeout, not before
  size_t hellos = 0;
  for (const Bytes& d : client.sent) hellos += is_client_hello(d);
  EXPECT_GE(hellos, 2u);
  expect_media_flows(*client.dtls, *server.dtls, 4);
}

TEST_F(DtlsTest, LostFinalFlightIsRetransmitted) {
  make();
  // The server's last flight (ChangeCipherSpec, Finished) is its second one: drop it once.
  // The client retransmits its own flight and the server, already connected, answers again.
  size_t server_flights = 0;
  drop = [&](const Datagram& d, size_t) {
    if (d.to_server) return false;
    return ++server_flights == 2;
  };
  connect();
  EXPECT_GE(server_flights, 3u);
  expect_media_flows(*server.dtls, *client.dtls, 5);
}

TEST_F(DtlsTest, LargeFlightsAreSplitIntoDatagramsWithinTheMtu) {
  // A server with an RSA-3072 certificate: its first flight is over 1200 bytes.
  server.cert = rsa_certificate(3072);
  server.ctx = std::make_unique<DtlsContext>(*server.cert);
  make();
  connect();
  EXPECT_GE(server.sent.size(), 3u);  // first flight in several datagrams, then the last one
  size_t total = 0;
  for (const Bytes& d : server.sent) {
    EXPECT_LE(d.size(), kDtlsMtu);
    total += d.size();
  }
  EXPECT_GT(total - server.sent.back().size(), kDtlsMtu);  // the first flight
  expect_media_flows(*client.dtls, *server.dtls, 6);
}

TEST_F(DtlsTest, CloseSendsCloseNotify) {
  make();
  connect();
  client.dtls->close();
  EXPECT_EQ(client.dtls->state(), DtlsState::kClosed);
  EXPECT_EQ(client.events.back(), DtlsState::kClosed);
  ASSERT_TRUE(pump([&] { return server.dtls->state() == DtlsState::kClosed; }));
  EXPECT_EQ(server.events.back(), DtlsState::kClosed);
  EXPECT_TRUE(server.dtls->error().empty());
  // A second close does nothing.
  size_t sent = client.sent.size();
  client.dtls->close();
  EXPECT_EQ(client.sent.size(), sent);
}

TEST_F(DtlsTest, DestructorSendsCloseNotify) {
  make();
  connect();
  size_t before = server.sent.size();
  server.dtls.reset();
  EXPECT_EQ(server.sent.size(), before + 1);
  ASSERT_TRUE(pump([&] { return client.dtls->state() == DtlsState::kClosed; }));
}

TEST_F(DtlsTest, SessionMayBeDestroyedFromItsStateCallback) {
  client.dtls = std::make_unique<DtlsSession>(
      *client.ctx, DtlsRole::kClient, server.cert->fingerprint_sha256(),
      [this](const uint8_t* d, size_t n) {
        wire.push_back(Datagram{true, Bytes(d, d + n)});
      },
      [this](DtlsState s) {
        client.events.push_back(s);
        if (s == DtlsState::kConnected) client.dtls.reset();
      });
  server.dtls = make_session(server, DtlsRole::kServer, client.cert->fingerprint_sha256(), false);
  server.dtls->start();
  client.dtls->start();
  ASSERT_TRUE(pump([&] { return client.dtls == nullptr; }));
  EXPECT_EQ(client.events.back(), DtlsState::kConnected);
}

// Certificate

TEST(Certificate, GeneratedFingerprintFormat) {
  auto cert = Certificate::generate();
  const std::string& fp = cert->fingerprint_sha256();
  EXPECT_TRUE(std::regex_match(fp, std::regex("([0-9A-F]{2}:){31}[0-9A-F]{2}"))) << fp;
  EXPECT_EQ(fp, fingerprint_sha256(cert->x509()));
  // SHA-256 over the DER encoding, computed independently.
  unsigned char* der = nullptr;
  int n = i2d_X509(cert->x509(), &der);
  ASSERT_GT(n, 0);
  unsigned char md[32];
  unsigned int md_len = 0;
  ASSERT_EQ(EVP_Digest(der, size_t(n), md, &md_len, EVP_sha256(), nullptr), 1);
  OPENSSL_free(der);
  std::string expect;
  char hexbyte[4];
  for (unsigned i = 0; i < md_len; ++i) {
    std::snprintf(hexbyte, sizeof hexbyte, i ? ":%02X" : "%02X", md[i]);
    expect += hexbyte;
  }
  EXPECT_EQ(fp, expect);
  EXPECT_EQ(fingerprint_sha256(nullptr), "");
  // Every certificate is a new one.
  EXPECT_NE(Certificate::generate()->fingerprint_sha256(), fp);
}

TEST(Certificate, GeneratedIsEcdsaP256SelfSignedForAYear) {
  auto cert = Certificate::generate();
  X509* x = cert->x509();
  EXPECT_EQ(EVP_PKEY_get_base_id(cert->key()), EVP_PKEY_EC);
  char group[32] = {};
  size_t glen = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(cert->key(), group, sizeof group, &glen), 1);
  EXPECT_STREQ(group, "prime256v1");
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "rtcgw");
  EXPECT_EQ(X509_check_issued(x, x), X509_V_OK);
  EXPECT_EQ(X509_verify(x, cert->key()), 1);
  time_t now = time(nullptr);
  time_t t = now - 29 * 86400;
  EXPECT_LT(X509_cmp_time(X509_get0_notBefore(x), &t), 0);
  t = now + 364 * 86400;
  EXPECT_GT(X509_cmp_time(X509_get0_notAfter(x), &t), 0);
}

TEST(Certificate, LoadsPemFilesAndExplainsFailures) {
  auto made = Certificate::generate();
  auto other = Certificate::generate();
  std::string cert =
      write_file("cert.pem", [&](BIO* b) { return PEM_write_bio_X509(b, made->x509()); });
  std::string key = write_file("key.pem", [&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, made->key(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  std::string other_key = write_file("other_key.pem", [&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, other->key(), nullptr, nullptr, 0, nullptr, nullptr);
  });

  auto loaded = Certificate::load(cert, key);
  EXPECT_EQ(loaded->fingerprint_sha256(), made->fingerprint_sha256());
  EXPECT_NO_THROW(DtlsContext{*loaded});

  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  std::string missing = ::testing::TempDir() + "rtcgw_dtls_test_missing.pem";
  EXPECT_NE(message([&] { Certificate::load(missing, key); }).find(missing), std::string::npos);
  EXPECT_NE(message([&] { Certificate::load(cert, missing); }).find(missing), std::string::npos);
  // A key file where the certificate should be, and the other way round.
  EXPECT_NE(message([&] { Certificate::load(key, key); }).find("no PEM certificate"),
            std::string::npos);
  EXPECT_NE(message([&] { Certificate::load(cert, cert); }).find("private key"), std::string::npos);
  EXPECT_NE(message([&] { Certificate::load(cert, other_key); }).find("does not match"),
            std::string::npos);
  for (const std::string& f : {cert, key, other_key}) std::remove(f.c_str());
}

}  // namespace
}  // namespace rtcgw::media
