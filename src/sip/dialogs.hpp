// What rtcgw keeps of each established dialog so that it can end the call itself (media
// inactivity: a BYE to each side, RFC 3261 section 15) though it is a proxy: both parties'
// tagged From/To, their targets, the route set towards the core from rtcgw onwards, and the
// highest CSeq each side has used.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace rtcgw::sip {

struct Dialog {
  uint64_t conn = 0;                    // the browser's WebSocket
  std::string browser_party;            // the browser's From (or To) header value, with its tag
  std::string core_party;               // the core party's, with its tag
  std::string browser_target;           // the browser's Contact URI
  std::string core_target;              // the core party's Contact URI
  std::vector<std::string> core_route;  // Route values towards the core, after rtcgw
  uint32_t browser_cseq = 0;            // highest CSeq in requests from the browser
  uint32_t core_cseq = 0;               // highest CSeq in requests from the core
};

class Dialogs {
 public:
  void put(const std::string& call_id, Dialog d) { map_[call_id] = std::move(d); }
  Dialog* find(const std::string& call_id) {
    auto it = map_.find(call_id);
    return it == map_.end() ? nullptr : &it->second;
  }
  void erase(const std::string& call_id) { map_.erase(call_id); }
  void erase_connection(uint64_t conn) {
    for (auto it = map_.begin(); it != map_.end();)
      it = it->second.conn == conn ? map_.erase(it) : ++it;
  }
  std::vector<std::string> of_connection(uint64_t conn) const {
    std::vector<std::string> ids;
    for (const auto& [id, d] : map_)
      if (d.conn == conn) ids.push_back(id);
    return ids;
  }
  size_t size() const { return map_.size(); }

 private:
  std::unordered_map<std::string, Dialog> map_;
};

}  // namespace rtcgw::sip
