// FlowTokens::parse on any text never crashes and accepts nothing it did not make; make/parse
// round-trips for the connection id taken from the input.
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "sip/flow_token.hpp"

using rtcgw::sip::FlowTokens;

namespace {
const FlowTokens& tokens() {
  static const FlowTokens t([] {
    std::array<uint8_t, 32> key{};
    for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i * 7 + 1);
    return key;
  }());
  return t;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const FlowTokens& t = tokens();
  // Any input: parse may accept it only if it is exactly what make() gives for that id.
  if (auto id = t.parse(text)) {
    if (t.make(*id) != text) __builtin_trap();
  }
  // Round trip for an id taken from the input.
  uint64_t id = 0;
  std::memcpy(&id, data, size < sizeof id ? size : sizeof id);
  std::string tok = t.make(id);
  if (tok.size() != 24) __builtin_trap();
  auto back = t.parse(tok);
  if (!back || *back != id) __builtin_trap();
  // A token made with another key is refused.
  std::array<uint8_t, 32> other{};
  other[0] = 1;
  if (FlowTokens(other).parse(tok)) __builtin_trap();
  // Changing one character (chosen by the input) breaks it.
  if (size > 8) {
    std::string bad = tok;
    size_t at = data[8] % bad.size();
    bad[at] = bad[at] == 'A' ? 'B' : 'A';
    if (t.parse(bad)) __builtin_trap();
  }
  return 0;
}
