#include "testing/fake_device.h"

#include <utility>

#include "core/send_checks.h"

namespace fstun::testing {

FakeDevice::FakeDevice(FakeDeviceOptions options)
    : options_(std::move(options)), inbound_(options_.queue_frames, options_.queue_bytes) {}

bool FakeDevice::Inject(FrameView frame) {
  if (!inbound_.Push(frame)) {
    counters_.AddDrop(kDropQueueFull);
    return false;
  }
  readable_.Signal();
  return true;
}

absl::Status FakeDevice::broken() const {
  absl::MutexLock lock(&mu_);
  return broken_;
}

void FakeDevice::SetBroken(absl::Status error) {
  {
    absl::MutexLock lock(&mu_);
    broken_ = std::move(error);
  }
  readable_.Signal();  // a poller wakes up and meets the error
}

absl::StatusOr<size_t> FakeDevice::Read(FrameBatch& batch) {
  if (absl::Status s = broken(); !s.ok()) return s;
  // Drain before popping: an Inject after the pop signals again.
  readable_.Drain();
  const size_t before = batch.size();
  const size_t moved = inbound_.PopInto(batch);
  uint64_t bytes = 0;
  for (size_t i = before; i < batch.size(); ++i) bytes += batch[i].size();
  counters_.AddRx(moved, bytes);
  if (inbound_.size() > 0) readable_.Signal();  // more than the batch held
  return moved;
}

absl::Status FakeDevice::Write(absl::Span<const FrameView> frames) {
  absl::MutexLock lock(&mu_);
  if (!broken_.ok()) return broken_;
  for (FrameView frame : frames) {
    if (frame.empty()) {
      counters_.AddDrop(kDropEmpty);
      continue;
    }
    if (written_.size() >= options_.max_written) {
      counters_.AddDrop("written_full");
      continue;
    }
    written_.emplace_back(frame.begin(), frame.end());
    counters_.AddTx(1, frame.size());
  }
  return absl::OkStatus();
}

std::vector<std::vector<uint8_t>> FakeDevice::Written() const {
  absl::MutexLock lock(&mu_);
  return written_;
}

bool FakeDevice::WaitForWritten(size_t count, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [this, count]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return written_.size() >= count; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

void FakeDevice::ClearWritten() {
  absl::MutexLock lock(&mu_);
  written_.clear();
}

}  // namespace fstun::testing
