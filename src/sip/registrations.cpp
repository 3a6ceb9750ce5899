#include "sip/registrations.hpp"

#include <algorithm>
#include <cctype>

namespace rtcgw::sip {

void Registrations::update(Registration reg, unsigned expires_s, Clock::time_point now) {
  auto key = std::make_pair(reg.conn, reg.aor);
  if (expires_s == 0 || reg.contacts.empty()) {
    regs_.erase(key);
    return;
  }
  reg.expires = now + std::chrono::seconds(expires_s);
  regs_[key] = std::move(reg);
}

void Registrations::remove_connection(uint64_t conn) {
  for (auto it = regs_.lower_bound({conn, std::string()});
       it != regs_.end() && it->first.first == conn;)
    it = regs_.erase(it);
}

size_t Registrations::expire(Clock::time_point now) {
  return std::erase_if(regs_, [now](const auto& kv) { return kv.second.expires <= now; });
}

const Registration* Registrations::find(uint64_t conn, const std::string& aor) const {
  auto it = regs_.find({conn, aor});
  if (it != regs_.end()) return &it->second;
  auto first = regs_.lower_bound({conn, std::string()});
  if (first != regs_.end() && first->first.first == conn) return &first->second;
  return nullptr;
}

const Registration* Registrations::find_contact(const std::string& key) const {
  for (const auto& [k, reg] : regs_)
    if (std::find(reg.contacts.begin(), reg.contacts.end(), key) != reg.contacts.end()) return &reg;
  return nullptr;
}

std::string Registrations::contact_key(const std::string& user, const std::string& host,
                                       const std::string& port) {
  std::string h = host;
  std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return std::tolower(c); });
  return user + "@" + h + (port.empty() ? "" : ":" + port);
}

}  // namespace rtcgw::sip
