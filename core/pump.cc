#include "core/pump.h"

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/hexdump.h"
#include "glog/logging.h"
#include "vnet/header.h"

namespace fstun {
namespace {

void LogFrames(const char* direction, absl::Span<const FrameView> frames, FrameFormat format) {
  for (FrameView f : frames) {
    VLOG(1) << direction << " " << DescribePacket(IpPacket(f, format)) << "\n" << HexDump(f);
  }
}

uint64_t TotalBytes(absl::Span<const FrameView> frames) {
  uint64_t n = 0;
  for (FrameView f : frames) n += f.size();
  return n;
}

// Frames stay pending only while the transport lacks room; a transport that
// returned less than it was offered must ask for POLLOUT (or poll). This
// bounds the wait if it forgot.
constexpr absl::Duration kPendingRetry = absl::Milliseconds(50);

}  // namespace

Pump::Pump(Device& device, Transport& transport, PumpOptions options)
    : device_(device),
      transport_(transport),
      options_(options),
      outbound_(options.batch_size, options.frame_capacity),
      inbound_(options.batch_size, options.frame_capacity),
      table_(RoutingTable::Options{options.client}),
      router_(table_, transport, options.device_format, device.mtu(), counters_) {
  outbound_.set_format(options.device_format);
  inbound_.set_format(options.device_format);
  transport_.SetPeerObserver(&table_);
}

absl::Status Pump::Run() {
  started_ = absl::Now();
  std::vector<struct pollfd> fds;
  absl::Status status;
  while (status.ok()) {
    fds.clear();
    fds.push_back({stop_.fd(), POLLIN, 0});
    // While frames wait for the transport the device is not read: the
    // kernel's queue holds (and if need be drops) what comes meanwhile.
    const bool pending = router_.pending();
    fds.push_back({device_.fd(), static_cast<short>(pending ? 0 : POLLIN), 0});
    for (const WaitFd& w : transport_.wait_fds()) fds.push_back({w.fd, w.events, 0});
    absl::Duration interval = transport_.poll_interval();
    if (pending) interval = std::min(interval, kPendingRetry);
    struct timespec ts = absl::ToTimespec(interval);
    int r = ppoll(fds.data(), fds.size(), interval == absl::InfiniteDuration() ? nullptr : &ts,
                  nullptr);
    if (r < 0) {
      if (errno == EINTR) continue;
      status = absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
      break;
    }
    if (fds[0].revents & POLLIN) break;
    if (fds[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
      status = absl::UnavailableError(absl::StrCat("device ", device_.name(), " went away"));
      break;
    }
    if (pending) status = router_.Flush();
    if (status.ok() && !router_.pending() && (fds[1].revents & POLLIN)) {
      status = DeviceToTransport();
    }
    // Receive after every wake-up: it is cheap when nothing is ready, and a
    // polling transport needs the call even when no fd fired.
    if (status.ok()) status = TransportToDevice();
  }
  stopped_ = absl::Now();
  return status;
}

absl::Status Pump::DeviceToTransport() {
  for (int round = 0; round < options_.rounds_per_wakeup; ++round) {
    outbound_.Clear();
    absl::StatusOr<size_t> n = device_.Read(outbound_);
    if (!n.ok()) return n.status();
    if (*n == 0) return absl::OkStatus();
    absl::Span<const FrameView> frames = outbound_.frames();
    if (VLOG_IS_ON(1)) LogFrames("tun->transport", frames, outbound_.format());
    counters_.AddTx(frames.size(), TotalBytes(frames));
    router_.Start(outbound_);
    if (absl::Status s = router_.Flush(); !s.ok()) return s;
    if (router_.pending() || !outbound_.full()) return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status Pump::TransportToDevice() {
  for (int round = 0; round < options_.rounds_per_wakeup; ++round) {
    inbound_.Clear();
    absl::StatusOr<Transport::Received> got = transport_.Receive(inbound_);
    if (!got.ok()) return got.status();
    if (got->frames == 0) return absl::OkStatus();
    absl::Span<const FrameView> frames = router_.Deliver(inbound_, 0, got->from);
    if (VLOG_IS_ON(1)) LogFrames("transport->tun", frames, options_.device_format);
    counters_.AddRx(frames.size(), TotalBytes(frames));
    if (!frames.empty()) {
      if (absl::Status s = device_.Write(frames); !s.ok()) return s;
      // What the device has now (a reply to what was just written) goes
      // before the next Receive: Run() comes back here right after it.
      if (!router_.pending() && DeviceReadable()) return absl::OkStatus();
    }
    // Not full: this peer has nothing more now; others may (one peer per
    // Receive), so ask again until a call returns nothing.
  }
  return absl::OkStatus();
}

bool Pump::DeviceReadable() const {
  struct pollfd p = {device_.fd(), POLLIN, 0};
  const struct timespec now = {0, 0};
  return ppoll(&p, 1, &now, nullptr) == 1 && (p.revents & POLLIN);
}

std::string Pump::Summary() const {
  absl::Time end = stopped_ == absl::InfinitePast() ? absl::Now() : stopped_;
  double seconds = started_ == absl::InfinitePast() ? 0 : absl::ToDoubleSeconds(end - started_);
  CounterSnapshot c = counters_.Snapshot();
  return absl::StrFormat(
      "pump ran %.1fs: %s->transport %d frames (%d bytes), transport->%s %d frames (%d bytes), "
      "routing drops: %s; transport: %s; device: %s",
      seconds, device_.name(), c.tx_frames, c.tx_bytes, device_.name(), c.rx_frames, c.rx_bytes,
      c.drops.empty() ? "none" : absl::StrJoin(c.drops, ", ", absl::PairFormatter("=")),
      transport_.counters().ToString(), device_.counters().ToString());
}

}  // namespace fstun
