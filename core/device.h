// Device: the local end of the tunnel, where the kernel's IP stack is.
//
// The real implementation is a Linux TUN (tun/); tests use the in-memory
// FakeDevice (testing/). Like Transport, a Device is non-blocking and
// batched: Read fills a batch with the packets ready now, Write hands a batch
// to the kernel. fd() becomes readable when Read may return packets.
#ifndef FSTUN_CORE_DEVICE_H_
#define FSTUN_CORE_DEVICE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/counters.h"
#include "core/frame.h"
#include "core/syscalls.h"

namespace fstun {

class Device {
 public:
  virtual ~Device() = default;

  // Appends the packets ready now to `batch` until it is full; never blocks.
  // Returns how many were appended (0: none ready).
  virtual absl::StatusOr<size_t> Read(FrameBatch& batch) = 0;
  // Delivers packets to the kernel. A packet the kernel refuses is counted
  // as a drop; only a broken device returns an error.
  virtual absl::Status Write(absl::Span<const FrameView> frames) = 0;

  virtual int fd() const = 0;
  virtual const std::string& name() const = 0;
  virtual size_t mtu() const = 0;
  virtual CounterSnapshot counters() const = 0;
  // The system calls Read and Write make (core/syscalls.h), for the
  // seccomp filter. A fake in memory makes none.
  virtual SyscallNeeds syscalls() const { return {}; }
};

}  // namespace fstun

#endif  // FSTUN_CORE_DEVICE_H_
