// StreamTransport: IP frames over any reliable byte stream (an Endpoint:
// stdin/stdout, a Unix or TCP socket, a serial line), as checksummed
// records (wire_format.h).
//
// A stream has exactly one peer: the other end, reported to the core
// (SetPeerObserver) as peer "stream" once its hello arrived, with whether it
// takes offload frames; the core routes everything to it and adapts frames
// to its format. A listening endpoint serves one connection at a time.
// Several peers are several fstun processes (one TUN each), or a
// multi-peer transport.
//
//   auto endpoint = OpenEndpoint(*ParseStreamAddress("unix:/run/t.sock"), {});
//   auto t = StreamTransport::Create(*std::move(endpoint), {.mtu = 1400});
//   (*t)->Send(kStreamPeer, frames);  // how many the stream took now
//   (*t)->Receive(batch);             // everything readable now, decoded
//
// Data path (one thread, the pump's; nothing blocks):
//   Send: each frame becomes one record (kVnetFrame when both ends take
//     offload frames, else kFrame). RecordWriter writes the batch with one
//     writev; what the stream does not take waits in its bounded buffer
//     (send_buffer_bytes); frames that do not fit are not taken: Send
//     returns how many it took and the core offers the rest again once the
//     connection is writable (wait_fds asks for POLLOUT then).
//   Receive: first the connection's housekeeping (accept, connect, retry,
//     flush the send buffer when writable), then read and decode until the
//     caller's batch is full or the stream has nothing more. Garbage is
//     skipped and counted; frames whose checksum fails are dropped and
//     counted ("bad_checksum").
//   wait_fds(): the connection readable, writable while the send buffer
//     holds bytes, a listening socket, a connect in progress, and an
//     eventfd raised on Close() and while decoded records wait for a batch
//     with room.
//
// Hello: every new connection starts with a hello from each end (its
// session and whether it takes offload frames); an end that hears a hello
// not answering its own session answers it, so both ends learn each other
// even when one (a serial line) started late. Until the peer's hello, frames
// have no peer to go to (counted "not_connected").
//
// Losing the connection drops what was buffered for it (counted
// "disconnected") and reports the peer down; sockets and ttys reconnect,
// stdio/fd endpoints make Receive fail (the peer is gone, the daemon exits).
#ifndef FSTUN_TRANSPORTS_STREAM_STREAM_TRANSPORT_H_
#define FSTUN_TRANSPORTS_STREAM_STREAM_TRANSPORT_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/counters.h"
#include "core/event_fd.h"
#include "core/transport.h"
#include "transports/stream/endpoint.h"
#include "transports/stream/record_writer.h"
#include "transports/stream/wire_format.h"

namespace fstun::stream {

// The one peer's id (what the core routes to).
inline constexpr char kStreamPeer[] = "stream";

struct StreamTransportOptions {
  size_t mtu = 1500;
  // This end takes frames that start with a virtio_net_hdr
  // (TransportConfig::offload_frames); with a peer that does too, GSO
  // super-frames up to kMaxFrameSize cross whole.
  bool vnet_frames = false;
  // Bound of the bytes waiting for the stream to become writable (raised
  // to hold two of the largest records: MTU-sized, or 64 KiB with offloads).
  size_t send_buffer_bytes = 1 << 20;
  // Read-ahead of the decoder.
  size_t receive_buffer_bytes = 256 << 10;
};

class StreamTransport : public Transport {
 public:
  static absl::StatusOr<std::unique_ptr<StreamTransport>> Create(
      std::unique_ptr<Endpoint> endpoint, const StreamTransportOptions& options);
  ~StreamTransport() override;

  absl::StatusOr<size_t> Send(const PeerId& to, absl::Span<const FrameView> frames) override;
  absl::StatusOr<Received> Receive(FrameBatch& batch) override;
  void SetPeerObserver(PeerObserver* observer) override;
  absl::InlinedVector<fstun::WaitFd, 2> wait_fds() const override;
  absl::Duration poll_interval() const override;
  size_t mtu() const override { return options_.mtu; }
  TransportCapabilities capabilities() const override;
  SyscallNeeds syscalls() const override;
  CounterSnapshot counters() const override { return counters_.Snapshot(); }
  std::vector<PeerStatus> peers() const override;
  void Close() override;

  // What the decoder skipped, for tests and status.
  DecoderStats decoder_stats() const;

 private:
  StreamTransport(std::unique_ptr<Endpoint> endpoint, const StreamTransportOptions& options);

  // Connection housekeeping: Poll the endpoint, start a fresh stream on a
  // new connection, flush the send buffer. Error: the endpoint is gone.
  absl::Status Service(absl::Time now);
  void OnNewConnection();
  // The connection failed: forget its buffers; OK if it will come back.
  absl::Status ConnectionLost(absl::string_view why);
  void SendHello();
  void HandleHello(absl::Span<const uint8_t> payload);
  // Appends a received frame record to `batch`.
  void Deliver(const Record& record, FrameBatch& batch);
  // Tells the observer what it does not know yet of the peer.
  void ReportPeer();
  bool peer_vnet() const;
  // Copies what peers() shows; the endpoint's description only when asked.
  void UpdateStatus(bool connection_changed);

  const StreamTransportOptions options_;
  const std::unique_ptr<Endpoint> endpoint_;
  EventFd wake_;  // Close(), and decoded records left over for the next Receive
  std::atomic<bool> closed_{false};
  Counters counters_;
  RecordDecoder decoder_;
  RecordWriter writer_;
  const uint64_t session_;
  std::optional<HelloRecord> peer_hello_;
  bool hello_due_ = false;      // a hello the send buffer had no room for
  bool wake_raised_ = false;    // wake_ signalled for records left in the decoder
  std::vector<OutRecord> out_;  // scratch of Send
  std::vector<size_t> index_;   // scratch of Send: each record's frame
  PeerObserver* observer_ = nullptr;
  // What the observer was told: the peer is up (with this offload setting).
  std::optional<bool> reported_vnet_;

  // For peers() and decoder_stats() from other threads.
  mutable absl::Mutex status_mu_;
  struct Status {
    bool connected = false;
    std::string endpoint;
    uint64_t peer_session = 0;
    bool peer_vnet = false;
    absl::Time last_seen = absl::InfinitePast();
    uint64_t backlog_bytes = 0;
    DecoderStats decoder;
  } status_ ABSL_GUARDED_BY(status_mu_);
  absl::Time last_seen_ = absl::InfinitePast();
};

}  // namespace fstun::stream

#endif  // FSTUN_TRANSPORTS_STREAM_STREAM_TRANSPORT_H_
