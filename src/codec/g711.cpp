#include "codec/g711.hpp"

#include <spandsp.h>

namespace rtcgw::codec {

uint8_t g711_encode_sample(G711Law law, int16_t sample) {
  return law == G711Law::kUlaw ? linear_to_ulaw(sample) : linear_to_alaw(sample);
}

int16_t g711_decode_sample(G711Law law, uint8_t code) {
  return law == G711Law::kUlaw ? ulaw_to_linear(code) : alaw_to_linear(code);
}

void g711_encode(G711Law law, const int16_t* pcm, size_t n, uint8_t* out) {
  if (law == G711Law::kUlaw) {
    for (size_t i = 0; i < n; ++i) out[i] = linear_to_ulaw(pcm[i]);
  } else {
    for (size_t i = 0; i < n; ++i) out[i] = linear_to_alaw(pcm[i]);
  }
}

void g711_decode(G711Law law, const uint8_t* in, size_t n, int16_t* pcm) {
  if (law == G711Law::kUlaw) {
    for (size_t i = 0; i < n; ++i) pcm[i] = ulaw_to_linear(in[i]);
  } else {
    for (size_t i = 0; i < n; ++i) pcm[i] = alaw_to_linear(in[i]);
  }
}

}  // namespace rtcgw::codec
