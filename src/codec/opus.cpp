#include "codec/opus.hpp"

#include <opus/opus.h>

namespace rtcgw::codec {

void OpusEncoderFree::operator()(OpusEncoder* e) const { opus_encoder_destroy(e); }
void OpusDecoderFree::operator()(OpusDecoder* d) const { opus_decoder_destroy(d); }

namespace {

bool valid_rate(int rate) { return rate == 8000 || rate == 48000; }

}  // namespace

int opus_packet_samples(const uint8_t* data, int len, int rate) {
  if (!data || len < 1) return OPUS_INVALID_PACKET;
  return opus_packet_get_nb_samples(data, len, rate);
}

bool opus_packet_has_fec(const uint8_t* data, int len) {
  if (!data || len < 1) return false;
  const int config = data[0] >> 3;
  if (config >= 16) return false;  // CELT only: no SILK layer, no LBRR
  const unsigned char* frames[48];
  opus_int16 sizes[48];
  if (opus_packet_parse(data, len, nullptr, frames, sizes, nullptr) <= 0) return false;
  if (sizes[0] < 1) return false;
  // SILK frames are 10, 20, 40 or 60 ms; 40 and 60 ms are 2 or 3 20-ms SILK frames, each with
  // its VAD flag ahead of the LBRR flag in the first bits of the range coder (RFC 6716 4.2.3).
  const int spf = opus_packet_get_samples_per_frame(data, 48000);
  const int silk_frames = spf > 960 ? spf / 960 : 1;
  bool lbrr = (frames[0][0] >> (7 - silk_frames)) & 1;
  if (opus_packet_get_nb_channels(data) == 2)
    lbrr = lbrr || ((frames[0][0] >> (6 - 2 * silk_frames)) & 1);
  return lbrr;
}

std::unique_ptr<OpusEnc> OpusEnc::make(int rate, const OpusParams& p, std::string& err) {
  if (!valid_rate(rate)) {
    err = "opus encoder: rate must be 8000 or 48000";
    return nullptr;
  }
  if (p.complexity < 0 || p.complexity > 10 || p.bitrate < 6000 || p.bitrate > 510000 ||
      p.packet_loss_perc < 0 || p.packet_loss_perc > 100) {
    err = "opus encoder: complexity 0..10, bitrate 6000..510000, packet_loss_perc 0..100";
    return nullptr;
  }
  int status = OPUS_OK;
  OpusEncoderPtr e(opus_encoder_create(rate, 1, OPUS_APPLICATION_VOIP, &status));
  if (!e || status != OPUS_OK) {
    err = std::string("opus_encoder_create: ") + opus_strerror(status);
    return nullptr;
  }
  struct {
    int ret;
    const char* what;
  } steps[] = {
      {opus_encoder_ctl(e.get(), OPUS_SET_COMPLEXITY(p.complexity)), "complexity"},
      {opus_encoder_ctl(e.get(), OPUS_SET_BITRATE(p.bitrate)), "bitrate"},
      {opus_encoder_ctl(e.get(), OPUS_SET_INBAND_FEC(p.fec ? 1 : 0)), "inband_fec"},
      {opus_encoder_ctl(e.get(), OPUS_SET_PACKET_LOSS_PERC(p.packet_loss_perc)), "loss_perc"},
      {opus_encoder_ctl(e.get(), OPUS_SET_DTX(p.dtx ? 1 : 0)), "dtx"},
      {opus_encoder_ctl(e.get(), OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)), "signal"},
  };
  for (const auto& s : steps) {
    if (s.ret != OPUS_OK) {
      err = std::string("opus_encoder_ctl ") + s.what + ": " + opus_strerror(s.ret);
      return nullptr;
    }
  }
  return std::unique_ptr<OpusEnc>(new OpusEnc(std::move(e), rate));
}

int OpusEnc::encode(const int16_t* pcm, int samples, uint8_t* out, int cap) {
  if (!pcm || !out || cap < 1) return OPUS_BAD_ARG;
  return opus_encode(enc_.get(), pcm, samples, out, cap);
}

std::unique_ptr<OpusDec> OpusDec::make(int rate, std::string& err) {
  if (!valid_rate(rate)) {
    err = "opus decoder: rate must be 8000 or 48000";
    return nullptr;
  }
  int status = OPUS_OK;
  OpusDecoderPtr d(opus_decoder_create(rate, 1, &status));
  if (!d || status != OPUS_OK) {
    err = std::string("opus_decoder_create: ") + opus_strerror(status);
    return nullptr;
  }
  return std::unique_ptr<OpusDec>(new OpusDec(std::move(d), rate));
}

int OpusDec::decode(const uint8_t* data, int len, int16_t* pcm, int max_samples) {
  if (!data || len < 1 || !pcm || max_samples < 1) return OPUS_BAD_ARG;
  return opus_decode(dec_.get(), data, len, pcm, max_samples, 0);
}

int OpusDec::decode_fec(const uint8_t* next_packet, int len, int16_t* pcm, int samples) {
  if (!next_packet || len < 1 || !pcm || samples < 1) return OPUS_BAD_ARG;
  return opus_decode(dec_.get(), next_packet, len, pcm, samples, 1);
}

int OpusDec::conceal(int16_t* pcm, int samples) {
  if (!pcm || samples < 1) return OPUS_BAD_ARG;
  return opus_decode(dec_.get(), nullptr, 0, pcm, samples, 0);
}

bool OpusDec::reset() { return opus_decoder_ctl(dec_.get(), OPUS_RESET_STATE) == OPUS_OK; }

}  // namespace rtcgw::codec
