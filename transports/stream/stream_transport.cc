// Theory of operation: see stream_transport.h. This file follows the data
// path: set-up, Send (frames -> records -> writer), Receive (housekeeping,
// read, decode, deliver), then the connection's life and the readiness set.
#include "transports/stream/stream_transport.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/send_checks.h"
#include "glog/logging.h"
#include "vnet/header.h"

namespace fstun::stream {
namespace {

// Drop reasons of this transport (besides core/send_checks.h's).
constexpr char kDropNotConnected[] = "not_connected";
constexpr char kDropDisconnected[] = "disconnected";
constexpr char kDropBadChecksum[] = "bad_checksum";
constexpr char kDropPeerTakesNoOffloads[] = "peer_takes_no_offloads";
constexpr char kDropOffloadMismatch[] = "offload_mismatch";
constexpr char kDropTooBigForBatch[] = "too_big_for_batch";
// One stretch of bytes that were no record (noise on a serial line); it may
// have held frames.
constexpr char kDropGarbage[] = "garbage";

// The two bytes of a virtio_net_hdr this transport needs (the rest of the
// format belongs to the device side): flags and gso_type.
constexpr uint8_t kVnetNeedsCsum = 1;
bool IsPlainVnetFrame(FrameView f) {
  return f.size() >= kVirtioNetHdrSize && (f[0] & kVnetNeedsCsum) == 0 && f[1] == 0;
}

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
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return absl::InternalError(absl::StrCat("stream: epoll: ", strerror(errno)));
  std::unique_ptr<StreamTransport> t(new StreamTransport(std::move(endpoint), options, ep));
  // The first connection (stdio, fd:, tty: are up at once) starts now, so
  // the hello is on its way before the first frame.
  if (absl::Status s = t->Service(absl::Now()); !s.ok()) return s;
  t->SyncEpoll();
  return t;
}

StreamTransport::StreamTransport(std::unique_ptr<Endpoint> endpoint,
                                 const StreamTransportOptions& options, int epoll_fd)
    : options_(options),
      endpoint_(std::move(endpoint)),
      epoll_fd_(epoll_fd),
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

StreamTransport::~StreamTransport() { close(epoll_fd_); }

TransportCapabilities StreamTransport::capabilities() const {
  TransportCapabilities caps;
  caps.carries_gso_frames = options_.vnet_frames;
  return caps;
}

// --- Send ----------------------------------------------------------------

absl::Status StreamTransport::Send(absl::Span<const FrameView> frames) {
  absl::StatusOr<size_t> taken = Offer(frames);
  if (!taken.ok()) return taken.status();
  // Today's Transport contract: what the stream cannot take now is dropped
  // (a full NIC queue); Offer's caller could keep it instead.
  if (*taken < frames.size()) counters_.AddDrop(kDropQueueFull, frames.size() - *taken);
  if (refused_ > 0) return RefusedStatus(refused_, options_.mtu);
  return absl::OkStatus();
}

std::optional<RecordType> StreamTransport::TypeFor(FrameView& f) {
  const bool peer_vnet = peer_hello_.has_value() && (peer_hello_->features & kFeatureVnetFrames);
  if (options_.opaque_frames) {
    if (peer_hello_.has_value() && peer_vnet != options_.vnet_frames) {
      counters_.AddDrop(kDropOffloadMismatch);
      return std::nullopt;
    }
    return RecordType::kFrame;
  }
  if (!options_.vnet_frames) return RecordType::kFrame;
  if (peer_vnet) return RecordType::kVnetFrame;
  if (IsPlainVnetFrame(f)) {
    f = f.subspan(kVirtioNetHdrSize);
    return RecordType::kFrame;
  }
  LOG_EVERY_T(WARNING, 60) << "stream: dropping an offload super-packet: the peer "
                           << (peer_hello_.has_value() ? "runs without offloads"
                                                       : "has not said hello yet")
                           << " (run both ends with the same --offload)";
  counters_.AddDrop(kDropPeerTakesNoOffloads);
  return std::nullopt;
}

absl::StatusOr<size_t> StreamTransport::Offer(absl::Span<const FrameView> frames) {
  refused_ = 0;
  if (closed_.load()) return ClosedStatus();
  if (absl::Status s = Service(absl::Now()); !s.ok()) return s;
  if (!endpoint_->connected()) {
    if (!frames.empty()) counters_.AddDrop(kDropNotConnected, frames.size());
    return frames.size();
  }
  if (hello_due_) SendHello();
  // Frames that travel, and the index of each in `frames`.
  out_.clear();
  std::vector<size_t> index;
  index.reserve(frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    FrameView f = frames[i];
    if (!AcceptForSend(f, options_.mtu, options_.vnet_frames, counters_)) {
      ++refused_;
      continue;
    }
    std::optional<RecordType> type = TypeFor(f);
    if (!type.has_value()) continue;
    out_.push_back({*type, f, true});
    index.push_back(i);
  }
  RecordWriter::Result r = writer_.Write(endpoint_->write_fd(), out_);
  uint64_t bytes = 0;
  for (size_t k = 0; k < r.accepted; ++k) bytes += frames[index[k]].size();
  counters_.AddTx(r.accepted, bytes);
  size_t taken = r.accepted == out_.size() ? frames.size() : index[r.accepted];
  if (!r.error.ok()) {
    // What was not taken is lost with the connection.
    if (taken < frames.size()) counters_.AddDrop(kDropDisconnected, out_.size() - r.accepted);
    taken = frames.size();
    if (absl::Status s = ConnectionLost(r.error.message()); !s.ok()) return s;
  }
  SyncEpoll();
  return taken;
}

// --- Receive -------------------------------------------------------------

absl::StatusOr<size_t> StreamTransport::Receive(FrameBatch& batch) {
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
  SyncEpoll();
  size_t delivered = batch.size() - before;
  // A final loss (stdio) is reported once the frames before it are out.
  if (lost && !lost_status.ok() && delivered == 0) return lost_status;
  return delivered;
}

void StreamTransport::Deliver(const Record& record, FrameBatch& batch) {
  absl::Span<const uint8_t> p = record.payload;
  const bool add_header =
      record.type == RecordType::kFrame && options_.vnet_frames && !options_.opaque_frames;
  if (record.type == RecordType::kVnetFrame && !options_.vnet_frames) {
    counters_.AddDrop(kDropOffloadMismatch);  // the peer ignored our hello
    return;
  }
  const size_t size = p.size() + (add_header ? kVirtioNetHdrSize : 0);
  absl::Span<uint8_t> slot = batch.NextSlot();
  if (size > slot.size() || p.empty()) {
    counters_.AddDrop(p.empty() ? kDropEmpty : kDropTooBigForBatch);
    return;
  }
  uint8_t* out = slot.data();
  if (add_header) {
    std::memset(out, 0, kVirtioNetHdrSize);
    out += kVirtioNetHdrSize;
  }
  std::memcpy(out, p.data(), p.size());
  batch.CommitNext(size);
  counters_.AddRx(1, size);
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
  SendHello();
  UpdateStatus(true);
}

absl::Status StreamTransport::ConnectionLost(absl::string_view why) {
  if (size_t lost = writer_.Reset(); lost > 0) counters_.AddDrop(kDropDisconnected, lost);
  decoder_.Reset();
  peer_hello_.reset();
  hello_due_ = false;
  // The epoll set forgets the fds before they are closed (and perhaps
  // reused by the next connection).
  for (auto [fd, events] : in_epoll_) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  in_epoll_.clear();
  absl::Status s = endpoint_->Lost(why);
  UpdateStatus(true);
  SyncEpoll();
  return s;
}

void StreamTransport::SendHello() {
  HelloRecord h;
  h.features = (options_.vnet_frames ? kFeatureVnetFrames : 0) |
               (options_.opaque_frames ? kFeatureOpaqueFrames : 0);
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
  const bool peer_vnet = h->features & kFeatureVnetFrames;
  if (new_session) {
    LOG(INFO) << "stream: peer on " << endpoint_->Describe() << " says hello (session "
              << absl::StrFormat("%016x", h->session) << ", offload frames "
              << (peer_vnet && options_.vnet_frames ? "both ends"
                  : peer_vnet                       ? "peer only"
                  : options_.vnet_frames            ? "this end only"
                                                    : "neither end")
              << ")";
    if (options_.opaque_frames && peer_vnet != options_.vnet_frames && !mismatch_logged_) {
      mismatch_logged_ = true;
      LOG(ERROR) << "stream: sealed frames cannot be adapted between an end with offloads and "
                    "one without: run both ends with the same --offload (frames are dropped, "
                    "counted as offload_mismatch)";
    }
  }
  // Answer a hello that does not know us yet (the peer started after our
  // hello went out, or restarted).
  if (h->peer_session != session_) SendHello();
  UpdateStatus(false);
}

// --- readiness ---------------------------------------------------------------

std::vector<WaitFd> StreamTransport::WaitFds() const {
  std::vector<WaitFd> fds = {{wake_.fd(), POLLIN}};
  endpoint_->AddWaitFds(fds);
  if (endpoint_->connected()) {
    fds.push_back({endpoint_->read_fd(), POLLIN});
    if (writer_.pending() || hello_due_) fds.push_back({endpoint_->write_fd(), POLLOUT});
  }
  return fds;
}

void StreamTransport::SyncEpoll() {
  std::vector<std::pair<int, uint32_t>> want;
  for (const WaitFd& w : WaitFds()) {
    uint32_t ev = ((w.events & POLLIN) ? EPOLLIN : 0) | ((w.events & POLLOUT) ? EPOLLOUT : 0);
    auto it = std::find_if(want.begin(), want.end(), [&](auto& p) { return p.first == w.fd; });
    if (it == want.end()) {
      want.emplace_back(w.fd, ev);
    } else {
      it->second |= ev;
    }
  }
  for (auto [fd, ev] : in_epoll_) {
    if (std::none_of(want.begin(), want.end(), [&](auto& p) { return p.first == fd; })) {
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    }
  }
  for (auto [fd, ev] : want) {
    auto it =
        std::find_if(in_epoll_.begin(), in_epoll_.end(), [&](auto& p) { return p.first == fd; });
    if (it != in_epoll_.end() && it->second == ev) continue;
    epoll_event e{};
    e.events = ev;
    e.data.fd = fd;
    // A closed fd leaves the set by itself and its number may come back:
    // fall back between MOD and ADD.
    int op = it != in_epoll_.end() ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(epoll_fd_, op, fd, &e) != 0) {
      op = op == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
      if (epoll_ctl(epoll_fd_, op, fd, &e) != 0) {
        LOG_EVERY_T(ERROR, 60) << "stream: epoll_ctl(" << fd << "): " << strerror(errno);
      }
    }
  }
  in_epoll_ = std::move(want);
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
  p.id = status_.endpoint;
  if (status_.peer_session != 0) p.session = absl::StrFormat("%016x", status_.peer_session);
  p.last_seen = status_.last_seen;
  p.wakeup_path = "fd";
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
