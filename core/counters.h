// Traffic counters shared by devices, transports and the pump.
//
// Frames and bytes in each direction, and drops keyed by a short reason
// ("oversize", "queue_full", "bad_checksum", ...). A component never drops a
// frame without counting it here. Increments are lock-free on the hot path;
// drops (rare) take a mutex. Snapshot() may run on any thread.
#ifndef FSTUN_CORE_COUNTERS_H_
#define FSTUN_CORE_COUNTERS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace fstun {

struct CounterSnapshot {
  uint64_t tx_frames = 0;
  uint64_t tx_bytes = 0;
  uint64_t rx_frames = 0;
  uint64_t rx_bytes = 0;
  std::map<std::string, uint64_t> drops;  // reason -> frames dropped

  uint64_t total_drops() const;
  uint64_t drops_for(absl::string_view reason) const;
  // "tx 10 frames/1400 bytes, rx ..., drops: oversize=1"
  std::string ToString() const;
};

class Counters {
 public:
  void AddTx(uint64_t frames, uint64_t bytes) {
    tx_frames_.fetch_add(frames, std::memory_order_relaxed);
    tx_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void AddRx(uint64_t frames, uint64_t bytes) {
    rx_frames_.fetch_add(frames, std::memory_order_relaxed);
    rx_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void AddDrop(absl::string_view reason, uint64_t frames = 1);

  CounterSnapshot Snapshot() const;

 private:
  std::atomic<uint64_t> tx_frames_{0};
  std::atomic<uint64_t> tx_bytes_{0};
  std::atomic<uint64_t> rx_frames_{0};
  std::atomic<uint64_t> rx_bytes_{0};
  mutable absl::Mutex mu_;
  std::map<std::string, uint64_t, std::less<>> drops_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fstun

#endif  // FSTUN_CORE_COUNTERS_H_
