#include "media/anchors.hpp"

#include <glib.h>

#include <vector>

#include "rtcgw/log.hpp"
#include "rtcgw/metrics.hpp"

namespace rtcgw::media {

Anchors::Anchors(const config::Config& cfg, Metrics& metrics)
    : metrics_(metrics),
      ports_(cfg.media.address, cfg.media.port_min, cfg.media.port_max),
      inactivity_ms_(cfg.media.inactivity_timeout * 1000) {
  srtp_global_init();
  cert_ = cfg.media.dtls.certificate.empty()
              ? Certificate::generate()
              : Certificate::load(cfg.media.dtls.certificate, cfg.media.dtls.private_key);
  dtls_ = std::make_unique<DtlsContext>(*cert_);
  sdp::CodecPolicy policy;
  policy.allow_opus_to_network = cfg.media.opus_to_network;
  policy.network_codecs = cfg.transcoding.network_codecs;
  policy.browser_codecs = cfg.transcoding.browser_codecs;
  if (cfg.media.video) policy.video_codecs = cfg.media.video_codecs;
  std::string advertised =
      cfg.media.advertised_address.empty() ? cfg.media.address : cfg.media.advertised_address;
  codec::OpusParams opus;
  opus.complexity = int(cfg.transcoding.opus.complexity);
  opus.bitrate = int(cfg.transcoding.opus.bitrate);
  opus.fec = cfg.transcoding.opus.fec;
  opus.dtx = cfg.transcoding.opus.dtx;
  shared_.reset(new Shared{poller_, ports_, *dtls_, cert_->fingerprint_sha256(), advertised, policy,
                           metrics_, cfg.transcoding.browser_codecs, cfg.transcoding.network_codecs,
                           opus, cfg.dtmf.inband});
  shared_->ice_full = cfg.media.ice == config::IceMode::kFull;
  shared_->video = cfg.media.video;
  shared_->video_kbps = cfg.media.video_max_kbps;
  shared_->ports_changed = [this] { update_gauges(); };
  spdlog::info("media on {} ports {}-{}, DTLS fingerprint sha-256 {}", cfg.media.address,
               cfg.media.port_min, cfg.media.port_max, cert_->fingerprint_sha256());
  if (inactivity_ms_ > 0) {
    unsigned every = std::min<unsigned>(inactivity_ms_ / 4 + 1, 5000);
    sweep_timer_.every(every, [this] { sweep(); });
  }
  update_gauges();
}

Anchors::~Anchors() {
  sweep_timer_.cancel();
  anchors_.clear();
}

Anchor* Anchors::find(const std::string& call_id) {
  auto it = anchors_.find(call_id);
  return it == anchors_.end() ? nullptr : it->second.anchor.get();
}

Anchor* Anchors::create(const std::string& call_id, uint64_t conn, std::string& error) {
  auto a = std::make_unique<Anchor>(*shared_, call_id);
  if (!a->open(error)) return nullptr;
  Anchor* p = a.get();
  anchors_[call_id] = Entry{std::move(a), conn};
  update_gauges();
  spdlog::debug("media {}: anchor made", call_id);
  return p;
}

void Anchors::release(const std::string& call_id, std::string_view why) {
  auto it = anchors_.find(call_id);
  if (it == anchors_.end()) return;
  spdlog::debug("media {}: released ({})", call_id, why);
  anchors_.erase(it);
  update_gauges();
}

void Anchors::release_connection(uint64_t conn) {
  size_t before = anchors_.size();
  for (auto it = anchors_.begin(); it != anchors_.end();) {
    if (it->second.conn == conn)
      it = anchors_.erase(it);
    else
      ++it;
  }
  if (anchors_.size() != before) {
    spdlog::info("media: {} anchors released with WebSocket {}", before - anchors_.size(), conn);
    update_gauges();
  }
}

void Anchors::update_gauges() {
  unsigned ports = 0;
  for (const auto& [id, e] : anchors_) ports += e.anchor->ports_held();
  metrics_.set_media_sessions(double(anchors_.size()));
  metrics_.set_media_ports(double(ports));
}

void Anchors::sweep() {
  int64_t now = g_get_monotonic_time() / 1000;
  std::vector<std::string> idle;
  for (const auto& [id, e] : anchors_)
    if (e.anchor->established() && now - e.anchor->last_activity_ms() >= int64_t(inactivity_ms_))
      idle.push_back(id);
  for (const std::string& id : idle) {
    spdlog::warn("media {}: no media for {} s, ending the call", id, inactivity_ms_ / 1000);
    if (inactive_) inactive_(id);
    release(id, "media inactivity");
  }
}

}  // namespace rtcgw::media
