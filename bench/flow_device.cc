#include "bench/flow_device.h"

#include <cstring>
#include <utility>

namespace fstun::bench {

FlowDevice::FlowDevice(std::vector<uint8_t> packet, FlowControl* flow)
    : packet_(std::move(packet)), flow_(flow) {
  fd_ = packet_.empty() ? never_ready_.fd() : flow_->credit.fd();
  if (!packet_.empty()) flow_->credit.Signal();
}

void FlowDevice::StopAfter(uint64_t frames, std::function<void()> on_target) {
  target_ = frames;
  on_target_ = std::move(on_target);
}

absl::StatusOr<size_t> FlowDevice::Read(FrameBatch& batch) {
  if (packet_.empty()) return 0;
  uint64_t in_flight = flow_->produced.load(std::memory_order_relaxed) -
                       flow_->consumed.load(std::memory_order_acquire);
  if (in_flight >= flow_->window) {
    // Sleep in poll() until the consumer frees room; re-check after draining
    // so a credit signalled in between is not lost.
    flow_->credit.Drain();
    in_flight = flow_->produced.load(std::memory_order_relaxed) -
                flow_->consumed.load(std::memory_order_acquire);
    if (in_flight >= flow_->window) return 0;
    flow_->credit.Signal();
  }
  size_t n = 0;
  while (!batch.full() && in_flight + n < flow_->window) {
    absl::Span<uint8_t> slot = batch.NextSlot();
    if (slot.size() < packet_.size()) break;
    std::memcpy(slot.data(), packet_.data(), packet_.size());
    batch.CommitNext(packet_.size());
    ++n;
  }
  flow_->produced.fetch_add(n, std::memory_order_relaxed);
  counters_.AddTx(n, n * packet_.size());
  return n;
}

absl::Status FlowDevice::Write(absl::Span<const FrameView> frames) {
  uint64_t bytes = 0;
  for (FrameView f : frames) bytes += f.size();
  counters_.AddRx(frames.size(), bytes);
  written_ += frames.size();
  flow_->consumed.fetch_add(frames.size(), std::memory_order_release);
  flow_->credit.Signal();  // one eventfd write per batch, not per frame
  if (target_ != 0 && written_ >= target_ && on_target_) {
    auto done = std::move(on_target_);
    on_target_ = nullptr;
    done();
  }
  return absl::OkStatus();
}

}  // namespace fstun::bench
