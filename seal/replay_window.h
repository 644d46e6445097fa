// ReplayWindow: which sequence numbers of one sender session were already
// accepted, as WireGuard keeps it (wireguard-go replay/replay.go, RFC 6479).
//
// A ring of 32 64-bit words (2048 bits) remembers the numbers just below
// the highest one seen. A number above the highest moves the window forward;
// one inside the window is accepted once; one below it is refused as too old.
// Frames may therefore arrive reordered by up to kWindowSize positions.
//
// Call Accept only for frames that passed authentication, or a forger could
// move the window and make genuine frames look old.
#ifndef FSTUN_SEAL_REPLAY_WINDOW_H_
#define FSTUN_SEAL_REPLAY_WINDOW_H_

#include <array>
#include <cstddef>
#include <cstdint>

namespace fstun {

class ReplayWindow {
 public:
  enum class Verdict { kAccepted, kReplay, kTooOld };

  static constexpr size_t kBlockBits = 64;
  static constexpr size_t kBlocks = 32;  // 2048 bits
  // One block is always being reused, so the guaranteed reorder depth is
  // one block less than the ring.
  static constexpr uint64_t kWindowSize = (kBlocks - 1) * kBlockBits;  // 1984

  // Decides on `seq` and, if accepted, remembers it.
  Verdict Accept(uint64_t seq);
  // Forgets everything (a new session starts).
  void Reset();

  uint64_t highest() const { return highest_; }

 private:
  uint64_t highest_ = 0;
  std::array<uint64_t, kBlocks> ring_{};
};

}  // namespace fstun

#endif  // FSTUN_SEAL_REPLAY_WINDOW_H_
