// GLib timers owned by C++ objects: the destructor cancels, so a callback never outlives its owner.
#pragma once

#include <glib.h>

#include <functional>
#include <memory>

namespace rtcgw::loop {

class Timer {
 public:
  Timer() = default;
  ~Timer() { cancel(); }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  Timer(Timer&& o) noexcept { *this = std::move(o); }
  Timer& operator=(Timer&& o) noexcept {
    if (this != &o) {
      cancel();
      state_ = std::move(o.state_);
    }
    return *this;
  }

  // Calls fn once after ms milliseconds (on the thread-default main context).
  void once(unsigned ms, std::function<void()> fn) { start(ms, std::move(fn), false); }
  // Calls fn every ms milliseconds until cancelled.
  void every(unsigned ms, std::function<void()> fn) { start(ms, std::move(fn), true); }
  void cancel() {
    if (state_ && state_->source) {
      g_source_destroy(state_->source);
      g_source_unref(state_->source);
      state_->source = nullptr;
    }
    state_.reset();
  }
  bool active() const { return state_ && state_->source; }

 private:
  struct State {
    GSource* source = nullptr;
    std::function<void()> fn;
    bool repeat = false;
  };

  void start(unsigned ms, std::function<void()> fn, bool repeat) {
    cancel();
    state_ = std::make_unique<State>();
    state_->fn = std::move(fn);
    state_->repeat = repeat;
    state_->source = g_timeout_source_new(ms);
    g_source_set_callback(state_->source, &Timer::fire, state_.get(), nullptr);
    g_source_attach(state_->source, g_main_context_get_thread_default());
  }

  static gboolean fire(gpointer data) {
    auto* s = static_cast<State*>(data);
    bool repeat = s->repeat;
    if (!repeat) {
      // One-shot: drop the source before calling, so fn may restart or destroy this timer.
      g_source_unref(s->source);
      s->source = nullptr;
    }
    auto fn = s->fn;  // fn may destroy the owner (and so *s)
    fn();
    return repeat ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
  }

  std::unique_ptr<State> state_;
};

}  // namespace rtcgw::loop
