#include "codec/jitter_buffer.hpp"

#include <cstring>

namespace rtcgw::codec {

bool JitterBuffer::contains(uint16_t seq) const {
  for (const Slot& s : slots_)
    if (s.used && s.seq == seq) return true;
  return false;
}

bool JitterBuffer::hold(uint16_t seq, const uint8_t* data, size_t len, int64_t now_ms) {
  if (!data || len > kSlotBytes) return false;
  for (Slot& s : slots_) {
    if (s.used) continue;
    s.used = true;
    s.seq = seq;
    s.arrived_ms = now_ms;
    s.len = len;
    std::memcpy(s.data, data, len);
    ++held_;
    return true;
  }
  return false;
}

int JitterBuffer::next(uint16_t last_seq, bool exact) const {
  int best = -1, best_d = 0;
  for (int i = 0; i < kSlots; ++i) {
    if (!slots_[i].used) continue;
    // Held packets are all ahead of last_seq (the transcoder holds only those), by less than
    // 32768: the signed 16-bit difference orders them across the wrap.
    int d = int16_t(uint16_t(slots_[i].seq - last_seq));
    if (best < 0 || d < best_d) {
      best = i;
      best_d = d;
    }
  }
  if (exact && best_d != 1) return -1;
  return best;
}

void JitterBuffer::free(int i) {
  if (i < 0 || i >= kSlots || !slots_[i].used) return;
  slots_[i].used = false;
  --held_;
}

void JitterBuffer::clear() {
  for (Slot& s : slots_) s.used = false;
  held_ = 0;
}

int64_t JitterBuffer::deadline_ms() const {
  int64_t oldest = -1;
  for (const Slot& s : slots_)
    if (s.used && (oldest < 0 || s.arrived_ms < oldest)) oldest = s.arrived_ms;
  return oldest < 0 ? -1 : oldest + int64_t(depth_) * kPacketMs;
}

void JitterBuffer::grow() {
  if (depth_ < kMaxDepth) ++depth_;
  in_order_run_ = 0;
}

void JitterBuffer::in_order() {
  if (++in_order_run_ < kShrinkAfter) return;
  in_order_run_ = 0;
  if (depth_ > 1) --depth_;
}

}  // namespace rtcgw::codec
