// G.711 (ITU-T G.711) mu-law (PCMU, RTP payload type 0) and A-law (PCMA, 8) on spandsp's
// implementation: 8 kHz, one byte per sample, no state, nothing allocated.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rtcgw::codec {

enum class G711Law { kUlaw, kAlaw };

// Encodes n linear 16-bit samples into n code words.
void g711_encode(G711Law law, const int16_t* pcm, size_t n, uint8_t* out);
// Decodes n code words into n linear 16-bit samples.
void g711_decode(G711Law law, const uint8_t* in, size_t n, int16_t* pcm);

uint8_t g711_encode_sample(G711Law law, int16_t sample);
int16_t g711_decode_sample(G711Law law, uint8_t code);

}  // namespace rtcgw::codec
