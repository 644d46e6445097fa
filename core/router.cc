#include "core/router.h"

#include <algorithm>

#include "vnet/adapt.h"
#include "vnet/header.h"

namespace fstun {

Router::Router(RoutingTable& table, Transport& transport, FrameFormat format, size_t mtu,
               Counters& counters)
    : table_(table), transport_(transport), format_(format), mtu_(mtu), counters_(counters) {}

void Router::Start(const FrameBatch& batch) {
  batch_ = batch.empty() ? nullptr : &batch;
  next_ = 0;
}

absl::Status Router::Flush() {
  while (true) {
    if (run_sent_ < run_.size()) {
      absl::Span<const FrameView> rest = absl::MakeConstSpan(run_).subspan(run_sent_);
      absl::StatusOr<size_t> n = transport_.Send(run_peer_, rest);
      if (!n.ok()) return n.status();
      run_sent_ += std::min(*n, rest.size());
      if (run_sent_ < run_.size()) return absl::OkStatus();  // backpressure
    }
    run_.clear();
    run_sent_ = 0;
    if (segments_ != nullptr) segments_->Clear();
    if (!NextRun()) return absl::OkStatus();
  }
}

bool Router::NextRun() {
  while (batch_ != nullptr && next_ < batch_->size()) {
    FrameView frame = (*batch_)[next_];
    const FrameFormat format = batch_->format();
    FrameView packet = IpPacket(frame, format);
    std::optional<Route> route = table_.Lookup(PacketDestination(packet));
    if (!route) {
      counters_.AddDrop(kDropNoRoute);
      ++next_;
      continue;
    }
    if (!run_.empty() && route->peer != run_peer_) return true;
    const bool cut = format == FrameFormat::kVnet && !route->takes_vnet;
    if (cut) {
      if (segments_ == nullptr) {
        segments_ = std::make_unique<FrameBatch>(2 * kMaxSegmentsPerFrame,
                                                 std::max<size_t>(mtu_, 1500) + 64);
      }
      // Send what the run holds before the segment buffer could run out.
      if (!run_.empty() && segments_->capacity() - segments_->size() < kMaxSegmentsPerFrame) {
        return true;
      }
    }
    if (run_.empty()) run_peer_ = route->peer;
    ++next_;
    if (!cut) {
      // Frames in the same format on both ends pass unchanged; plain packets
      // must fit the peer (super-packets are the peer's TUN's to cut).
      if (format == FrameFormat::kIp && route->mtu > 0 && frame.size() > route->mtu) {
        counters_.AddDrop(kDropPeerMtu);
        continue;
      }
      run_.push_back(frame);
      continue;
    }
    const size_t before = segments_->size();
    absl::StatusOr<size_t> n =
        ConvertFrame(frame, FrameFormat::kVnet, FrameFormat::kIp, *segments_);
    if (!n.ok()) {
      counters_.AddDrop(kDropBadOffloadFrame);
      continue;
    }
    for (size_t i = before; i < segments_->size(); ++i) {
      FrameView seg = (*segments_)[i];
      if (route->mtu > 0 && seg.size() > route->mtu) {
        counters_.AddDrop(kDropPeerMtu);
        continue;
      }
      run_.push_back(seg);
    }
  }
  batch_ = nullptr;
  return !run_.empty();
}

absl::Span<const FrameView> Router::Deliver(const FrameBatch& batch, size_t first,
                                            const PeerId& from) {
  delivered_.clear();
  std::optional<Route> peer = table_.Find(from);
  // The frames between two ends are kVnet exactly when both take them.
  const FrameFormat theirs = format_ == FrameFormat::kVnet && peer && peer->takes_vnet
                                 ? FrameFormat::kVnet
                                 : FrameFormat::kIp;
  if (theirs != format_) {
    if (with_header_ == nullptr || with_header_->capacity() < batch.capacity()) {
      with_header_ = std::make_unique<FrameBatch>(batch.capacity(), kMaxFrameSize);
    }
    with_header_->Clear();
  }
  for (size_t i = first; i < batch.size(); ++i) {
    FrameView frame = batch[i];
    if (!table_.CheckSource(from, PacketSource(IpPacket(frame, theirs)))) {
      counters_.AddDrop(kDropSourceNotAllowed);
      continue;
    }
    if (theirs == format_) {
      delivered_.push_back(frame);
      continue;
    }
    const size_t before = with_header_->size();
    if (!ConvertFrame(frame, theirs, format_, *with_header_).ok()) {
      counters_.AddDrop(kDropBadOffloadFrame);
      continue;
    }
    delivered_.push_back((*with_header_)[before]);
  }
  return delivered_;
}

}  // namespace fstun
