// StreamTransport: IP frames over any reliable byte stream (an Endpoint:
// stdin/stdout, a Unix or TCP socket, a serial line), as checksummed
// records (wire_format.h).
//
// A stream has exactly one peer: the other end. It is point-to-point, not
// multi-peer; a listening endpoint serves one connection at a time. Several
// peers are several fstun processes (one TUN each), or a multi-peer
// transport.
//
//   auto endpoint = OpenEndpoint(*ParseStreamAddress("unix:/run/t.sock"), {});
//   auto t = StreamTransport::Create(*std::move(endpoint), {.mtu = 1400});
//   (*t)->Send(frames);        // records go out now, or wait in a bounded buffer
//   (*t)->Receive(batch);      // everything readable now, decoded
//
// Data path (one thread, the pump's; nothing blocks):
//   Send: each frame becomes one record (kFrame, or kVnetFrame when both
//     ends use offload headers). RecordWriter writes the batch with one
//     writev; what the stream does not take waits in its bounded buffer
//     (send_buffer_bytes); frames that do not fit are not taken: today
//     dropped and counted ("queue_full"), as a full NIC queue drops.
//   Receive: first the connection's housekeeping (accept, connect, retry,
//     flush the send buffer when writable), then read and decode until the
//     caller's batch is full or the stream has nothing more. Garbage is
//     skipped and counted; frames whose checksum fails are dropped and
//     counted ("bad_checksum").
//   readiness_fd(): an epoll set over what the transport waits for: the
//     connection readable, writable while the send buffer holds bytes, a
//     listening socket, a connect in progress, and an eventfd raised on
//     Close() and while decoded records wait for a batch with room.
//
// Hello: every new connection starts with a hello from each end (its
// session and whether its frames carry a virtio_net_hdr); an end that
// hears a hello not answering its own session answers it, so both ends
// learn each other even when one (a serial line) started late.
//
// Offloads: an end whose TUN has offloads (vnet_frames) sends its frames as
// kVnetFrame to a peer that has them too (GSO super-packets cross the
// stream whole, 64 KiB per record); to a peer without, a frame with a plain
// (zeroed) header travels as kFrame without the header, and a super-packet
// cannot travel yet (dropped and counted "peer_takes_no_offloads"; the
// core's vnet/ package will segment it). A kFrame that reaches an end with
// offloads gets a zeroed header.
//
// Sealing (--key_file) wraps this transport: it then carries opaque sealed
// frames (opaque_frames), which it never adapts; both ends must use the
// same --offload setting (a mismatch is logged and counted).
//
// Losing the connection drops what was buffered for it (counted
// "disconnected"); sockets and ttys reconnect, stdio/fd endpoints make
// Receive fail (the peer is gone, the daemon exits).
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

struct StreamTransportOptions {
  size_t mtu = 1500;
  // This end's frames start with a virtio_net_hdr (TransportConfig::
  // offload_frames): GSO super-frames up to kMaxFrameSize are accepted.
  bool vnet_frames = false;
  // Frames are sealed: carried unchanged, never adapted.
  bool opaque_frames = false;
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

  absl::Status Send(absl::Span<const FrameView> frames) override;
  absl::StatusOr<size_t> Receive(FrameBatch& batch) override;
  int readiness_fd() const override { return epoll_fd_; }
  absl::Duration poll_interval() const override;
  size_t mtu() const override { return options_.mtu; }
  TransportCapabilities capabilities() const override;
  CounterSnapshot counters() const override { return counters_.Snapshot(); }
  std::vector<PeerStatus> peers() const override;
  void Close() override;

  // Sends what the stream takes now: returns how many frames from the
  // front were taken (sent, buffered, or refused and counted); the rest
  // waits for the caller (backpressure). Send() drops that rest.
  absl::StatusOr<size_t> Offer(absl::Span<const FrameView> frames);

  // What the transport waits for (readiness_fd() is an epoll set of these).
  std::vector<WaitFd> WaitFds() const;

  // What the decoder skipped, for tests and status.
  DecoderStats decoder_stats() const;

 private:
  StreamTransport(std::unique_ptr<Endpoint> endpoint, const StreamTransportOptions& options,
                  int epoll_fd);

  // Connection housekeeping: Poll the endpoint, start a fresh stream on a
  // new connection, flush the send buffer. Error: the endpoint is gone.
  absl::Status Service(absl::Time now);
  void OnNewConnection();
  // The connection failed: forget its buffers; OK if it will come back.
  absl::Status ConnectionLost(absl::string_view why);
  void SendHello();
  void HandleHello(absl::Span<const uint8_t> payload);
  // Appends a received frame record to `batch`, adapted to this end.
  void Deliver(const Record& record, FrameBatch& batch);
  // The record type frame `f` travels as, or nullopt (dropped, counted).
  std::optional<RecordType> TypeFor(FrameView& f);
  void SyncEpoll();
  // Copies what peers() shows; the endpoint's description only when asked.
  void UpdateStatus(bool connection_changed);

  const StreamTransportOptions options_;
  const std::unique_ptr<Endpoint> endpoint_;
  const int epoll_fd_;
  EventFd wake_;  // Close(), and decoded records left over for the next Receive
  std::atomic<bool> closed_{false};
  Counters counters_;
  RecordDecoder decoder_;
  RecordWriter writer_;
  const uint64_t session_;
  std::optional<HelloRecord> peer_hello_;
  bool hello_due_ = false;  // a hello the send buffer had no room for
  bool mismatch_logged_ = false;
  bool wake_raised_ = false;    // wake_ signalled for records left in the decoder
  size_t refused_ = 0;          // frames the last Offer refused (empty, oversize)
  std::vector<OutRecord> out_;  // scratch of Offer
  std::vector<std::pair<int, uint32_t>> in_epoll_;  // what SyncEpoll registered

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
