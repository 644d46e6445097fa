#include "seal/replay_window.h"

namespace fstun {

ReplayWindow::Verdict ReplayWindow::Accept(uint64_t seq) {
  uint64_t block = seq / kBlockBits;
  if (seq > highest_) {
    // Clear the blocks the window moves over (at most the whole ring).
    uint64_t current = highest_ / kBlockBits;
    uint64_t diff = block - current;
    if (diff > kBlocks) diff = kBlocks;
    for (uint64_t i = current + 1; i <= current + diff; ++i) ring_[i % kBlocks] = 0;
    highest_ = seq;
  } else if (highest_ - seq > kWindowSize) {
    return Verdict::kTooOld;
  }
  uint64_t& word = ring_[block % kBlocks];
  uint64_t bit = uint64_t{1} << (seq % kBlockBits);
  if (word & bit) return Verdict::kReplay;
  word |= bit;
  return Verdict::kAccepted;
}

void ReplayWindow::Reset() {
  highest_ = 0;
  ring_.fill(0);
}

}  // namespace fstun
