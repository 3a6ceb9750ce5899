// The one place that includes sofia-sip. Magic types are declared before the headers so that
// callbacks are typed; C++ code elsewhere includes this header only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace rtcgw::sip {
struct Magic;  // never dereferenced: callbacks carry ids cast to pointers (see to_magic)
}

#define SU_ROOT_MAGIC_T rtcgw::sip::Magic
#define NTA_AGENT_MAGIC_T rtcgw::sip::Magic
#define NTA_LEG_MAGIC_T rtcgw::sip::Magic
#define NTA_OUTGOING_MAGIC_T rtcgw::sip::Magic
#define NTA_INCOMING_MAGIC_T rtcgw::sip::Magic

#include <sofia-sip/msg.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/msg_mclass.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/nta_stateless.h>
#include <sofia-sip/nta_tport.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_glib.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_wait.h>
#include <sofia-sip/url.h>

namespace rtcgw::sip {

// Callbacks carry a 64-bit id looked up in the owner's table, never a pointer to an object that
// may be gone.
inline Magic* to_magic(uint64_t id) { return reinterpret_cast<Magic*>(static_cast<uintptr_t>(id)); }
inline uint64_t from_magic(Magic* m) {
  return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(m));
}

// Owner of one msg_t reference.
struct MsgUnref {
  void operator()(msg_t* m) const { msg_destroy(m); }
};
using MsgPtr = std::unique_ptr<msg_t, MsgUnref>;

// Owner of a su_home_t made with su_home_new.
struct HomeUnref {
  void operator()(su_home_t* h) const { su_home_unref(h); }
};
using HomePtr = std::unique_ptr<su_home_t, HomeUnref>;

}  // namespace rtcgw::sip
