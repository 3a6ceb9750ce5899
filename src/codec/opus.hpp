// libopus encoder and decoder, mono, at 8 kHz (towards a G.711 leg: libopus resamples inside
// its own band-limited modes, so no resampler is needed) or 48 kHz. The RTP clock of Opus is
// 48000 whatever rate the codec runs at (RFC 7587 section 4.1). Nothing here throws; the packet
// calls allocate nothing and return a sample or byte count, or a negative libopus error code.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

struct OpusEncoder;
struct OpusDecoder;

namespace rtcgw::codec {

struct OpusEncoderFree {
  void operator()(OpusEncoder* e) const;
};
struct OpusDecoderFree {
  void operator()(OpusDecoder* d) const;
};
using OpusEncoderPtr = std::unique_ptr<OpusEncoder, OpusEncoderFree>;
using OpusDecoderPtr = std::unique_ptr<OpusDecoder, OpusDecoderFree>;

struct OpusParams {
  int complexity = 5;         // 0..10
  int bitrate = 24000;        // bit/s (6000..510000); 8 kHz input is narrowband whatever this is
  bool fec = true;            // in-band FEC (LBRR), for the browser's lossy path
  int packet_loss_perc = 10;  // expected loss: libopus adds FEC only when this is > 0
  bool dtx = false;
};

// Samples per channel in one Opus packet at `rate` (opus_packet_get_nb_samples), or < 0.
int opus_packet_samples(const uint8_t* data, int len, int rate);
// True if the packet's first frame carries in-band FEC (SILK LBRR) for the frame before it:
// SILK or hybrid mode and the LBRR flag set (the check opus_packet_has_lbrr makes in libopus
// 1.4; Debian 12 has 1.3.1).
bool opus_packet_has_fec(const uint8_t* data, int len);

class OpusEnc {
 public:
  // rate: 8000 or 48000. nullptr with the reason for a bad rate or parameter.
  static std::unique_ptr<OpusEnc> make(int rate, const OpusParams& p, std::string& err);
  // Encodes one frame of `samples` (2.5, 5, 10, 20, 40 or 60 ms at the rate) into out[0..cap):
  // bytes written, or < 0 (libopus error).
  int encode(const int16_t* pcm, int samples, uint8_t* out, int cap);
  int rate() const { return rate_; }

 private:
  OpusEnc(OpusEncoderPtr e, int rate) : enc_(std::move(e)), rate_(rate) {}
  OpusEncoderPtr enc_;
  int rate_;
};

class OpusDec {
 public:
  // rate: 8000 or 48000.
  static std::unique_ptr<OpusDec> make(int rate, std::string& err);
  // Decodes one packet into pcm[0..max_samples): samples, or < 0 (a corrupt packet:
  // OPUS_INVALID_PACKET; the caller conceals).
  int decode(const uint8_t* data, int len, int16_t* pcm, int max_samples);
  // Recovers the lost frame before `next_packet` from its in-band FEC; `samples` must be the lost
  // frame's duration (a multiple of 2.5 ms). Without FEC in the packet libopus conceals instead.
  int decode_fec(const uint8_t* next_packet, int len, int16_t* pcm, int samples);
  // Packet loss concealment: `samples` (a multiple of 2.5 ms) extrapolated from the last frames.
  int conceal(int16_t* pcm, int samples);
  // Forgets the stream (a new SSRC). False if libopus refuses (it does not for a valid decoder).
  bool reset();
  int rate() const { return rate_; }

 private:
  OpusDec(OpusDecoderPtr d, int rate) : dec_(std::move(d)), rate_(rate) {}
  OpusDecoderPtr dec_;
  int rate_;
};

}  // namespace rtcgw::codec
