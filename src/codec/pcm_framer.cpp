// The output side of a transcoder direction: decoded 8 kHz PCM collects in a FIFO and leaves in
// 20 ms packets (G.711 or Opus), whatever the input's packet time; gaps on the output timeline
// are filled with silence or start a new talkspurt. See transcoder.hpp for the rules.
#include <algorithm>
#include <cstring>

#include "codec/transcoder_internal.hpp"

namespace rtcgw::codec {

using namespace internal;

void Transcoder::Direction::send(size_t len) {
  if (sink) (*sink)(to, o, len);
  ++st.packets_out;
  last_emit_ms = now;
}

void Transcoder::Direction::emit_frame(int16_t* pcm, uint32_t ts) {
  if (tone_left > 0 && tone) {  // play_tone(): the digit replaces the audio
    int k = std::min(kFrame, tone_left);
    tone->generate(pcm, k);
    tone_left -= k;
    ++st.tone_packets;
  }
  size_t payload = 0;
  if (!o || cap < kRtpHeader + (is_g711(out.codec) ? size_t(kFrame) : 1)) {
    drop = "no_room";
    ++st.errors;
    return;
  }
  if (is_g711(out.codec)) {
    g711_encode(law_of(out.codec), pcm, size_t(kFrame), o + kRtpHeader);
    payload = size_t(kFrame);
  } else {
    int room = int(std::min<size_t>(cap - kRtpHeader, 1500));
    int r = enc->encode(pcm, kFrame, o + kRtpHeader, room);
    if (r < 0) {
      drop = "encode";
      ++st.errors;
      return;
    }
    payload = size_t(r);
  }
  write_header(o, marker, out.payload_type, out_seq++, ts, out_ssrc);
  marker = false;
  send(kRtpHeader + payload);
}

void Transcoder::Direction::emit_frames() {
  int off = 0;
  while (fifo_len - off >= kFrame) {
    emit_frame(fifo + off, fifo_ts);
    fifo_ts += uint32_t(kFrame * out_per_pcm);
    off += kFrame;
  }
  if (off > 0) {
    std::memmove(fifo, fifo + off, size_t(fifo_len - off) * sizeof(int16_t));
    fifo_len -= off;
  }
  if (fifo_len == 0) {
    leftover_since = -1;
  } else if (off > 0 || leftover_since < 0) {
    leftover_since = now;
  }
}

void Transcoder::Direction::pad_leftover() {
  if (fifo_len == 0) return;
  std::fill(fifo + fifo_len, fifo + kFrame, int16_t(0));
  fifo_len = kFrame;
  emit_frames();
}

int Transcoder::Direction::place(uint32_t t, int mirror_frames) {
  const int32_t d = int32_t(t - next_out_ts());
  if (d < 0) return int(std::min<int64_t>(-int64_t(d) / out_per_pcm, kFifo));
  int g = d / out_per_pcm;
  if (g == 0) return 0;
  if (fifo_len > 0) {
    const int pad = kFrame - fifo_len;
    if (g <= pad) {
      std::fill(fifo + fifo_len, fifo + fifo_len + g, int16_t(0));
      fifo_len += g;
      return 0;
    }
    pad_leftover();
    g -= pad;
  }
  out_seq = uint16_t(out_seq + std::min(g / kFrame, mirror_frames));
  fifo_ts = t;
  marker = true;
  return 0;
}

}  // namespace rtcgw::codec
