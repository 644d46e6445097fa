#include "core/counters.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fstun {

uint64_t CounterSnapshot::total_drops() const {
  uint64_t total = 0;
  for (const auto& [reason, n] : drops) total += n;
  return total;
}

uint64_t CounterSnapshot::drops_for(absl::string_view reason) const {
  auto it = drops.find(std::string(reason));
  return it == drops.end() ? 0 : it->second;
}

std::string CounterSnapshot::ToString() const {
  std::string s = absl::StrCat("tx ", tx_frames, " frames/", tx_bytes, " bytes, rx ", rx_frames,
                               " frames/", rx_bytes, " bytes, drops ", total_drops());
  if (!drops.empty()) {
    absl::StrAppend(&s, " (", absl::StrJoin(drops, ", ", absl::PairFormatter("=")), ")");
  }
  return s;
}

void Counters::AddDrop(absl::string_view reason, uint64_t frames) {
  absl::MutexLock lock(&mu_);
  auto it = drops_.find(reason);
  if (it == drops_.end()) {
    drops_.emplace(std::string(reason), frames);
  } else {
    it->second += frames;
  }
}

CounterSnapshot Counters::Snapshot() const {
  CounterSnapshot s;
  s.tx_frames = tx_frames_.load(std::memory_order_relaxed);
  s.tx_bytes = tx_bytes_.load(std::memory_order_relaxed);
  s.rx_frames = rx_frames_.load(std::memory_order_relaxed);
  s.rx_bytes = rx_bytes_.load(std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  s.drops.insert(drops_.begin(), drops_.end());
  return s;
}

}  // namespace fstun
