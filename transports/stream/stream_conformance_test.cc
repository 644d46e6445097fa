// The stream transport passes the transport conformance suite: two ends on a
// Unix socketpair.
//
// Each end of a real tunnel has its own pump, which flushes that end's send
// buffer whenever its stream becomes writable. The suite drives only the
// receiving end, so the pair's receiver stands in for the sender's pump
// too: before each Receive it lets the sender service its connection
// (Receive on the sender, which writes what its buffer holds). Without
// that, the last records in the sender's bounded buffer would never leave.
#include <signal.h>
#include <sys/socket.h>

#include "testing/transport_conformance.h"
#include "transports/stream/endpoint.h"
#include "transports/stream/stream_transport.h"

namespace fstun::stream {
namespace {

using testing::ConformanceParam;
using testing::ConformanceSetup;
using testing::TransportConformanceTest;
using testing::TransportPair;

// The receiving end, plus the sending end's pump.
class ReceiverWithPeerPump : public Transport {
 public:
  ReceiverWithPeerPump(std::unique_ptr<Transport> self, Transport* peer)
      : self_(std::move(self)), peer_(peer), scratch_(64, kMaxFrameSize) {}
  absl::StatusOr<size_t> Send(const PeerId& to, absl::Span<const FrameView> frames) override {
    return self_->Send(to, frames);
  }
  absl::StatusOr<Received> Receive(FrameBatch& batch) override {
    scratch_.Clear();
    (void)peer_->Receive(scratch_);  // the peer's pump: flush its buffer (nothing comes back)
    return self_->Receive(batch);
  }
  void SetPeerObserver(PeerObserver* observer) override { self_->SetPeerObserver(observer); }
  absl::InlinedVector<fstun::WaitFd, 2> wait_fds() const override { return self_->wait_fds(); }
  absl::Duration poll_interval() const override {
    return std::min(self_->poll_interval(), absl::Milliseconds(10));
  }
  SyscallNeeds syscalls() const override { return self_->syscalls(); }
  std::vector<PeerStatus> peers() const override { return self_->peers(); }
  size_t mtu() const override { return self_->mtu(); }
  CounterSnapshot counters() const override { return self_->counters(); }
  void Close() override { self_->Close(); }

 private:
  std::unique_ptr<Transport> self_;
  Transport* peer_;
  FrameBatch scratch_;
};

absl::StatusOr<TransportPair> MakeStreamPair(const ConformanceSetup& setup) {
  signal(SIGPIPE, SIG_IGN);  // as the daemon does
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    return absl::InternalError("socketpair");
  }
  StreamTransportOptions options;
  options.mtu = setup.mtu;
  options.send_buffer_bytes = setup.queue_bytes;
  auto a = StreamTransport::Create(EndpointFromFds(fds[0], fds[0], "a"), options);
  if (!a.ok()) return a.status();
  auto b = StreamTransport::Create(EndpointFromFds(fds[1], fds[1], "b"), options);
  if (!b.ok()) return b.status();
  Transport* sender = a->get();
  return TransportPair{*std::move(a), std::make_unique<ReceiverWithPeerPump>(*std::move(b), sender),
                       nullptr};
}

INSTANTIATE_TEST_SUITE_P(Stream, TransportConformanceTest,
                         ::testing::Values(ConformanceParam{"stream", MakeStreamPair}),
                         testing::ConformanceParamName);

}  // namespace
}  // namespace fstun::stream
