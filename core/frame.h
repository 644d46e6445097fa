// Frames and batches of frames: the unit the data path moves.
//
// A frame is one IP packet (FrameFormat::kIp) or, with offloads, one
// virtio_net_hdr-prefixed super-packet (kVnet); a batch records which. Devices and transports move
// frames in batches, as wireguard-go's tun.Device and conn.Bind do, so one system call or one file
// carries many packets.
//
// A FrameBatch owns one contiguous allocation made at construction, divided
// into fixed-size slots; filling and clearing it never allocates, so the hot
// path reuses the same memory for every packet.
//
//   FrameBatch batch(/*max_frames=*/64, /*frame_capacity=*/65536);
//   while (!batch.full()) {
//     absl::Span<uint8_t> slot = batch.NextSlot();
//     ssize_t n = read(fd, slot.data(), slot.size());
//     if (n <= 0) break;
//     batch.CommitNext(n);
//   }
//   transport.Send(batch.frames());
#ifndef FSTUN_CORE_FRAME_H_
#define FSTUN_CORE_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"

namespace fstun {

// A read-only view of one frame's bytes.
using FrameView = absl::Span<const uint8_t>;

// The largest frame any part of fstun handles: an IPv4/IPv6 packet of 65535
// bytes plus room for a 12-byte virtio_net_hdr and alignment.
inline constexpr size_t kMaxFrameSize = 65535 + 64;

// What the bytes of a frame are. The Device sets it on every batch it reads
// (FrameBatch::set_format); nobody guesses it from the bytes.
enum class FrameFormat : uint8_t {
  kIp,    // one IPv4 or IPv6 packet
  kVnet,  // a struct virtio_net_hdr, then an IP packet that may be a GSO
          // super-packet of up to 64 KiB (vnet/header.h owns this format)
};
const char* FrameFormatName(FrameFormat format);

class FrameBatch {
 public:
  // One allocation of max_frames * frame_capacity bytes (rounded up to 64).
  FrameBatch(size_t max_frames, size_t frame_capacity);

  FrameBatch(const FrameBatch&) = delete;
  FrameBatch& operator=(const FrameBatch&) = delete;

  size_t capacity() const { return max_frames_; }
  size_t frame_capacity() const { return slot_size_; }
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  bool full() const { return count_ == max_frames_; }

  // The format of every frame in the batch (kIp unless set).
  FrameFormat format() const { return format_; }
  void set_format(FrameFormat format) { format_ = format; }

  // Forgets all frames; the memory stays allocated. The format stays.
  void Clear() { count_ = 0; }

  // The writable buffer of the next free slot (full slot capacity). Only
  // valid while !full().
  absl::Span<uint8_t> NextSlot();
  // Makes the next slot a frame of `size` bytes (size <= frame_capacity()).
  void CommitNext(size_t size);
  // Copies `frame` into the next slot. Returns false if the batch is full or
  // the frame does not fit a slot.
  bool Append(FrameView frame);

  // The committed frames, in order.
  absl::Span<const FrameView> frames() const { return absl::MakeConstSpan(views_.data(), count_); }
  FrameView operator[](size_t i) const { return views_[i]; }

  // Drops the first n frames, keeping the rest in order (used when a sink
  // took only part of a batch). Moves views only, never bytes.
  void ConsumeFront(size_t n);

 private:
  size_t max_frames_;
  size_t slot_size_;
  size_t count_ = 0;
  FrameFormat format_ = FrameFormat::kIp;
  std::unique_ptr<uint8_t[]> storage_;
  std::vector<uint8_t*> slots_;
  std::vector<FrameView> views_;
};

}  // namespace fstun

#endif  // FSTUN_CORE_FRAME_H_
