#include "core/pump.h"

#include <poll.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/hexdump.h"
#include "glog/logging.h"

namespace fstun {
namespace {

void LogFrames(const char* direction, absl::Span<const FrameView> frames) {
  for (FrameView f : frames) {
    VLOG(1) << direction << " " << DescribePacket(f) << "\n" << HexDump(f);
  }
}

uint64_t TotalBytes(absl::Span<const FrameView> frames) {
  uint64_t n = 0;
  for (FrameView f : frames) n += f.size();
  return n;
}

}  // namespace

Pump::Pump(Device& device, Transport& transport, PumpOptions options)
    : device_(device),
      transport_(transport),
      options_(options),
      outbound_(options.batch_size, options.frame_capacity),
      inbound_(options.batch_size, options.frame_capacity) {}

absl::Status Pump::Run() {
  started_ = absl::Now();
  struct pollfd fds[3] = {
      {stop_.fd(), POLLIN, 0},
      {device_.fd(), POLLIN, 0},
      {transport_.readiness_fd(), POLLIN, 0},  // -1 is ignored by poll
  };
  absl::Status status;
  while (status.ok()) {
    absl::Duration interval = transport_.poll_interval();
    struct timespec ts = absl::ToTimespec(interval);
    int r = ppoll(fds, 3, interval == absl::InfiniteDuration() ? nullptr : &ts, nullptr);
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
    if (fds[1].revents & POLLIN) status = DeviceToTransport();
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
    if (VLOG_IS_ON(1)) LogFrames("tun->transport", frames);
    counters_.AddTx(frames.size(), TotalBytes(frames));
    absl::Status s = transport_.Send(frames);
    if (s.code() == absl::StatusCode::kInvalidArgument) {
      // Per-frame refusal (e.g. larger than the transport's MTU): counted by
      // the transport; log the first and then every 1000th.
      counters_.AddDrop("transport_refused");
      if (refused_logged_++ % 1000 == 0) LOG(WARNING) << "transport refused a frame: " << s;
    } else if (!s.ok()) {
      return s;
    }
    if (!outbound_.full()) return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status Pump::TransportToDevice() {
  for (int round = 0; round < options_.rounds_per_wakeup; ++round) {
    inbound_.Clear();
    absl::StatusOr<size_t> n = transport_.Receive(inbound_);
    if (!n.ok()) return n.status();
    if (*n == 0) return absl::OkStatus();
    absl::Span<const FrameView> frames = inbound_.frames();
    if (VLOG_IS_ON(1)) LogFrames("transport->tun", frames);
    counters_.AddRx(frames.size(), TotalBytes(frames));
    absl::Status s = device_.Write(frames);
    if (!s.ok()) return s;
    if (!inbound_.full()) return absl::OkStatus();
  }
  return absl::OkStatus();
}

std::string Pump::Summary() const {
  absl::Time end = stopped_ == absl::InfinitePast() ? absl::Now() : stopped_;
  double seconds = started_ == absl::InfinitePast() ? 0 : absl::ToDoubleSeconds(end - started_);
  CounterSnapshot c = counters_.Snapshot();
  return absl::StrFormat(
      "pump ran %.1fs: %s->transport %d frames (%d bytes), transport->%s %d frames (%d bytes); "
      "transport: %s; device: %s",
      seconds, device_.name(), c.tx_frames, c.tx_bytes, device_.name(), c.rx_frames, c.rx_bytes,
      transport_.counters().ToString(), device_.counters().ToString());
}

}  // namespace fstun
