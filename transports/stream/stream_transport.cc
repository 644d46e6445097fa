// Theory of operation: see stream_transport.h. This file follows the data
// path: set-up, Send (frames -> records -> writer), Receive (housekeeping,
// read, decode, deliver), then the connection's life and the readiness set.
#include "transports/stream/stream_transport.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/send_checks.h"
#include "glog/logging.h"

namespace fstun::stream {
namespace {

// Drop reasons of this transport (besides core/send_checks.h's).
constexpr char kDropNotConnected[] = "not_connected";
constexpr char kDropDisconnected[] = "disconnected";
constexpr char kDropBadChecksum[] = "bad_checksum";
constexpr char kDropOffloadMismatch[] = "offload_mismatch";
constexpr char kDropNoRoute[] = "no_route";
constexpr char kDropTooBigForBatch[] = "too_big_for_batch";
// One stretch of bytes that were no record (noise on a serial line); it may
// have held frames.
constexpr char kDropGarbage[] = "garbage";

uint64_t NewSession() {
  std::random_device rd;
  uint64_t s = 0;
  while (s == 0) s = (uint64_t{rd()} << 32) | rd();
  return s;
}

}  // namespace

// --- set-up --------------------------------------------------------------

absl::StatusOr<std::unique_ptr<StreamTransport>> StreamTransport::Create(
    std::unique_ptr<Endpoint> endpoint, const StreamTransportOptions& options) {
  std::unique_ptr<StreamTransport> t(new StreamTransport(std::move(endpoint), options));
  // The first connection (stdio, fd:, tty: are up at once) starts now, so
  // the hello is on its way before the first frame.
  if (absl::Status s = t->Service(absl::Now()); !s.ok()) return s;
  return t;
}

StreamTransport::StreamTransport(std::unique_ptr<Endpoint> endpoint,
                                 const StreamTransportOptions& options)
    : options_(options),
      endpoint_(std::move(endpoint)),
      decoder_(kMaxRecordPayload, options.receive_buffer_bytes),
      // Without offloads no frame exceeds the MTU: a slow line need not
      // buffer 64 KiB records.
      writer_(options.send_buffer_bytes,
              options.vnet_frames ? kMaxRecordPayload : std::max<size_t>(options.mtu, 64)),
      session_(NewSession()) {
  out_.reserve(64);
  absl::MutexLock lock(&status_mu_);
  status_.endpoint = endpoint_->Describe();
}

StreamTransport::~StreamTransport() = default;

TransportCapabilities StreamTransport::capabilities() const {
  TransportCapabilities caps;
  caps.carries_gso_frames = options_.vnet_frames;
  return caps;
}

// The system calls of Send, Receive and Close after set-up: read, writev
// (RecordWriter), write (EventFd) and close are the core's; the rest is the
// endpoint's (reconnecting, accepting, reopening a tty).
SyscallNeeds StreamTransport::syscalls() const { return endpoint_->syscalls(); }

// --- peers -----------------------------------------------------------------

bool StreamTransport::peer_vnet() const {
  return peer_hello_.has_value() && (peer_hello_->features & kFeatureVnetFrames);
}

void StreamTransport::SetPeerObserver(PeerObserver* observer) {
  observer_ = observer;
  reported_vnet_.reset();
  ReportPeer();
}

void StreamTransport::ReportPeer() {
  if (observer_ == nullptr) return;
  // The peer exists for the core from its hello on (before it, nobody says
  // what format its frames take) until the connection is lost.
  std::optional<bool> now;
  if (endpoint_->connected() && peer_hello_.has_value()) now = peer_vnet();
  if (now == reported_vnet_) return;
  if (!now.has_value()) {
    observer_->PeerDown(kStreamPeer);
  } else {
    PeerInfo info;
    info.id = kStreamPeer;
    info.takes_vnet = *now;
    observer_->PeerUp(info);
  }
  reported_vnet_ = now;
}

// --- Send ----------------------------------------------------------------

absl::StatusOr<size_t> StreamTransport::Send(const PeerId& to, absl::Span<const FrameView> frames) {
  if (closed_.load()) return ClosedStatus();
  if (absl::Status s = Service(absl::Now()); !s.ok()) return s;
  if (to != kStreamPeer) {
    counters_.AddDrop(kDropNoRoute, frames.size());
    return frames.size();
  }
  if (!endpoint_->connected() || !peer_hello_.has_value()) {
    if (!frames.empty()) counters_.AddDrop(kDropNotConnected, frames.size());
    return frames.size();
  }
  if (hello_due_) SendHello();
  // Frames travel as the core adapted them: with a virtio_net_hdr exactly
  // when both ends take offload frames.
  const bool vnet = options_.vnet_frames && peer_vnet();
  const RecordType type = vnet ? RecordType::kVnetFrame : RecordType::kFrame;
  out_.clear();
  index_.clear();
  for (size_t i = 0; i < frames.size(); ++i) {
    if (!AcceptForSend(frames[i], options_.mtu, vnet, counters_)) continue;
    out_.push_back({type, frames[i], true});
    index_.push_back(i);
  }
  RecordWriter::Result r = writer_.Write(endpoint_->write_fd(), out_);
  uint64_t bytes = 0;
  for (size_t k = 0; k < r.accepted; ++k) bytes += frames[index_[k]].size();
  counters_.AddTx(r.accepted, bytes);
  size_t taken = r.accepted == out_.size() ? frames.size() : index_[r.accepted];
  if (!r.error.ok()) {
    // What was not taken is lost with the connection.
    if (taken < frames.size()) counters_.AddDrop(kDropDisconnected, out_.size() - r.accepted);
    taken = frames.size();
    if (absl::Status s = ConnectionLost(r.error.message()); !s.ok()) return s;
  }
  return taken;
}

// --- Receive -------------------------------------------------------------

absl::StatusOr<Transport::Received> StreamTransport::Receive(FrameBatch& batch) {
  if (closed_.load()) return ClosedStatus();
  const absl::Time now = absl::Now();
  if (absl::Status s = Service(now); !s.ok()) return s;
  const size_t before = batch.size();
  const uint64_t bad_before = decoder_.stats().bad_payloads;
  const uint64_t resyncs_before = decoder_.stats().resyncs;
  bool read_any = false;
  bool lost = false;
  absl::Status lost_status;
  while (endpoint_->connected() && !batch.full()) {
    if (std::optional<Record> r = decoder_.Next()) {
      if (r->type == RecordType::kHello) {
        HandleHello(r->payload);
      } else {
        Deliver(*r, batch);
      }
      continue;
    }
    absl::Span<uint8_t> room = decoder_.WritableTail();
    ssize_t n = read(endpoint_->read_fd(), room.data(), room.size());
    if (n > 0) {
      decoder_.Commit(n);
      read_any = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    lost = true;
    lost_status = ConnectionLost(n == 0 ? "end of stream" : strerror(errno));
    break;
  }
  if (uint64_t bad = decoder_.stats().bad_payloads - bad_before; bad > 0) {
    counters_.AddDrop(kDropBadChecksum, bad);
  }
  if (uint64_t stretches = decoder_.stats().resyncs - resyncs_before; stretches > 0) {
    counters_.AddDrop(kDropGarbage, stretches);
    LOG_EVERY_T(WARNING, 10) << "stream: skipped garbage on " << endpoint_->Describe() << " ("
                             << decoder_.stats().garbage_bytes << " bytes in "
                             << decoder_.stats().resyncs
                             << " stretches so far; this line at most every 10 s)";
  }
  // Records may wait in the decoder for a batch with room: come back.
  const bool more = batch.full() && decoder_.has_buffered();
  if (more != wake_raised_ && !closed_.load()) {
    if (more) {
      wake_.Signal();
    } else {
      wake_.Drain();
    }
    wake_raised_ = more;
  }
  if (read_any) {
    last_seen_ = now;
    UpdateStatus(false);
  }
  Received got;
  got.frames = batch.size() - before;
  if (got.frames > 0) got.from = kStreamPeer;
  // A final loss (stdio) is reported once the frames before it are out.
  if (lost && !lost_status.ok() && got.frames == 0) return lost_status;
  return got;
}

void StreamTransport::Deliver(const Record& record, FrameBatch& batch) {
  absl::Span<const uint8_t> p = record.payload;
  // The core takes frames from the peer in the format both ends take (it
  // adds a header where this end wants one): a record of the other kind
  // means the peer ignored our hello.
  const bool vnet = options_.vnet_frames && peer_vnet();
  if ((record.type == RecordType::kVnetFrame) != vnet) {
    counters_.AddDrop(kDropOffloadMismatch);
    return;
  }
  if (p.empty()) {
    counters_.AddDrop(kDropEmpty);
    return;
  }
  if (!batch.Append(p)) {
    counters_.AddDrop(kDropTooBigForBatch);
    return;
  }
  counters_.AddRx(1, p.size());
}

// --- the connection's life -------------------------------------------------

absl::Status StreamTransport::Service(absl::Time now) {
  absl::StatusOr<bool> fresh = endpoint_->Poll(now);
  if (!fresh.ok()) return fresh.status();
  if (*fresh) OnNewConnection();
  if (endpoint_->connected() && (writer_.pending() || hello_due_)) {
    if (absl::Status s = writer_.Flush(endpoint_->write_fd()); !s.ok()) {
      return ConnectionLost(s.message());
    }
    if (hello_due_) SendHello();
  }
  return absl::OkStatus();
}

void StreamTransport::OnNewConnection() {
  if (size_t lost = writer_.Reset(); lost > 0) counters_.AddDrop(kDropDisconnected, lost);
  decoder_.Reset();
  peer_hello_.reset();
  ReportPeer();
  SendHello();
  UpdateStatus(true);
}

absl::Status StreamTransport::ConnectionLost(absl::string_view why) {
  if (size_t lost = writer_.Reset(); lost > 0) counters_.AddDrop(kDropDisconnected, lost);
  decoder_.Reset();
  peer_hello_.reset();
  hello_due_ = false;
  absl::Status s = endpoint_->Lost(why);
  ReportPeer();
  UpdateStatus(true);
  return s;
}

void StreamTransport::SendHello() {
  HelloRecord h;
  h.features = options_.vnet_frames ? kFeatureVnetFrames : 0;
  h.session = session_;
  h.peer_session = peer_hello_.has_value() ? peer_hello_->session : 0;
  std::array<uint8_t, HelloRecord::kSize> bytes = h.Encode();
  OutRecord r{RecordType::kHello, bytes, false};
  RecordWriter::Result result = writer_.Write(endpoint_->write_fd(), absl::MakeConstSpan(&r, 1));
  hello_due_ = result.error.ok() && result.accepted == 0;
  // A write error shows again on the next read or write, which handles it.
}

void StreamTransport::HandleHello(absl::Span<const uint8_t> payload) {
  std::optional<HelloRecord> h = HelloRecord::Decode(payload);
  if (!h.has_value()) return;
  const bool new_session = !peer_hello_.has_value() || peer_hello_->session != h->session;
  peer_hello_ = h;
  const bool their_vnet = h->features & kFeatureVnetFrames;
  if (new_session) {
    LOG(INFO) << "stream: peer on " << endpoint_->Describe() << " says hello (session "
              << absl::StrFormat("%016x", h->session) << ", offload frames "
              << (their_vnet && options_.vnet_frames ? "both ends"
                  : their_vnet                       ? "peer only"
                  : options_.vnet_frames             ? "this end only"
                                                     : "neither end")
              << ")";
  }
  // Answer a hello that does not know us yet (the peer started after our
  // hello went out, or restarted).
  if (h->peer_session != session_) SendHello();
  ReportPeer();
  UpdateStatus(false);
}

// --- readiness ---------------------------------------------------------------

absl::InlinedVector<fstun::WaitFd, 2> StreamTransport::wait_fds() const {
  std::vector<WaitFd> fds = {{wake_.fd(), POLLIN}};
  endpoint_->AddWaitFds(fds);
  if (endpoint_->connected()) {
    fds.push_back({endpoint_->read_fd(), POLLIN});
    if (writer_.pending() || hello_due_) fds.push_back({endpoint_->write_fd(), POLLOUT});
  }
  absl::InlinedVector<fstun::WaitFd, 2> out;
  for (const WaitFd& w : fds) out.push_back({w.fd, w.events});
  return out;
}

absl::Duration StreamTransport::poll_interval() const {
  absl::Time retry = endpoint_->next_retry();
  if (retry == absl::InfiniteFuture()) return absl::InfiniteDuration();
  return std::max(absl::Milliseconds(1), retry - absl::Now());
}

// --- status ------------------------------------------------------------------

void StreamTransport::UpdateStatus(bool connection_changed) {
  std::string endpoint = connection_changed ? endpoint_->Describe() : std::string();
  absl::MutexLock lock(&status_mu_);
  status_.connected = endpoint_->connected();
  if (connection_changed) status_.endpoint = std::move(endpoint);
  status_.peer_session = peer_hello_.has_value() ? peer_hello_->session : 0;
  status_.peer_vnet = peer_hello_.has_value() && (peer_hello_->features & kFeatureVnetFrames);
  status_.last_seen = last_seen_;
  status_.backlog_bytes = writer_.pending_bytes();
  status_.decoder = decoder_.stats();
}

std::vector<PeerStatus> StreamTransport::peers() const {
  absl::MutexLock lock(&status_mu_);
  if (!status_.connected) return {};
  PeerStatus p;
  p.id = kStreamPeer;
  if (status_.peer_session != 0) p.session = absl::StrFormat("%016x", status_.peer_session);
  p.last_seen = status_.last_seen;
  p.details = {{"endpoint", status_.endpoint},
               {"offload_frames", status_.peer_vnet && options_.vnet_frames ? "yes" : "no"}};
  p.backlog_bytes = status_.backlog_bytes;
  p.counters = counters_.Snapshot();
  return {p};
}

DecoderStats StreamTransport::decoder_stats() const {
  absl::MutexLock lock(&status_mu_);
  return status_.decoder;
}

void StreamTransport::Close() {
  closed_.store(true);
  wake_.Signal();
}

}  // namespace fstun::stream
