// The reorder buffer on the input of one transcoding direction: packets that arrive after a gap
// in the sequence numbers wait here (copied into fixed slots) for the missing ones, so that a
// packet that is only reordered is decoded in order instead of being concealed and then thrown
// away as late.
//
// It only stores; the transcoder decides. Its depth (how many packets may wait) adapts: it starts
// at one packet (20 ms), grows by one (up to kMaxDepth) each time a packet comes that would have
// been usable had we waited longer, and shrinks by one after kShrinkAfter packets in a row came
// in order. A packet waits at most depth x 20 ms (deadline()). Nothing here allocates.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rtcgw::codec {

class JitterBuffer {
 public:
  static constexpr int kSlots = 8;  // > kMaxDepth: the transcoder may hold depth + 1 for a moment
  static constexpr size_t kSlotBytes = 1500;
  static constexpr int kMaxDepth = 5;
  static constexpr int kShrinkAfter = 500;  // in-order packets (10 s of 20 ms packets)
  static constexpr int kPacketMs = 20;

  struct Slot {
    bool used = false;
    uint16_t seq = 0;
    int64_t arrived_ms = 0;
    size_t len = 0;
    uint8_t data[kSlotBytes];
  };

  int held() const { return held_; }
  bool empty() const { return held_ == 0; }
  bool contains(uint16_t seq) const;
  // Copies the packet into a free slot; false when it is too big or every slot is taken.
  bool hold(uint16_t seq, const uint8_t* data, size_t len, int64_t now_ms);
  // The slot holding the packet that comes first after `last_seq` (the last one decoded), or
  // -1 when empty. `exact`: only if it is last_seq + 1.
  int next(uint16_t last_seq, bool exact) const;
  const Slot& slot(int i) const { return slots_[i]; }
  void free(int i);
  void clear();

  // When the packet that has waited longest has waited depth x 20 ms; -1 when empty.
  int64_t deadline_ms() const;

  int depth() const { return depth_; }
  // A late packet whose gap had already been concealed: waiting longer would have saved it.
  void grow();
  // A packet that came in order (no gap in front of it, nothing held).
  void in_order();
  // A hold began: the run of in-order packets starts again.
  void reordering() { in_order_run_ = 0; }

 private:
  Slot slots_[kSlots];
  int held_ = 0;
  int depth_ = 1;
  int in_order_run_ = 0;
};

}  // namespace rtcgw::codec
