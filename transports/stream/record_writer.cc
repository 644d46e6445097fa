// Theory of operation: see record_writer.h. The buffer is linear: bytes are
// appended at tail_ and written from head_; when the tail runs out of room
// the live bytes move to the front (at most one buffer's worth, and only
// while the fd is backed up, which is when the CPU has time for it).
#include "transports/stream/record_writer.h"

#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace fstun::stream {
namespace {

// Records per writev: 2 iovecs each, below IOV_MAX (1024).
constexpr size_t kRecordsPerWritev = 256;

bool WouldBlock(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

absl::Status WriteError(int e) {
  return absl::UnavailableError(absl::StrCat("write: ", strerror(e)));
}

}  // namespace

RecordWriter::RecordWriter(size_t buffer_bytes, size_t max_payload)
    : capacity_(std::max(buffer_bytes, 2 * (kHeaderSize + max_payload))),
      buffer_(new uint8_t[capacity_]),
      headers_(kRecordsPerWritev) {}

void RecordWriter::Append(absl::Span<const uint8_t> data) {
  if (capacity_ - tail_ < data.size()) {
    std::memmove(buffer_.get(), buffer_.get() + head_, tail_ - head_);
    tail_ -= head_;
    head_ = 0;
  }
  std::memcpy(buffer_.get() + tail_, data.data(), data.size());
  tail_ += data.size();
  appended_ += data.size();
}

void RecordWriter::Consumed(size_t n) {
  head_ += n;
  consumed_ += n;
  if (head_ == tail_) head_ = tail_ = 0;
  while (!records_.empty() && records_.front().end <= consumed_) records_.pop_front();
}

bool RecordWriter::Buffer(const OutRecord& r) {
  if (room() < kHeaderSize + r.payload.size()) return false;
  std::array<uint8_t, kHeaderSize> header;
  EncodeHeader(r.type, r.payload, header);
  Append(header);
  Append(r.payload);
  records_.push_back({appended_, r.is_frame});
  return true;
}

absl::Status RecordWriter::Flush(int fd) {
  while (pending()) {
    ssize_t n = write(fd, buffer_.get() + head_, tail_ - head_);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (WouldBlock(errno)) return absl::OkStatus();
      return WriteError(errno);
    }
    Consumed(n);
  }
  return absl::OkStatus();
}

RecordWriter::Result RecordWriter::Write(int fd, absl::Span<const OutRecord> records) {
  Result result;
  if (pending()) result.error = Flush(fd);
  if (!result.error.ok()) return result;
  size_t i = 0;
  // Fast path: nothing buffered, so records may go straight out.
  while (!pending() && i < records.size()) {
    const size_t count = std::min(kRecordsPerWritev, records.size() - i);
    iovec iov[2 * kRecordsPerWritev];
    size_t total = 0;
    for (size_t k = 0; k < count; ++k) {
      const OutRecord& r = records[i + k];
      EncodeHeader(r.type, r.payload, headers_[k]);
      iov[2 * k] = {headers_[k].data(), kHeaderSize};
      iov[2 * k + 1] = {const_cast<uint8_t*>(r.payload.data()), r.payload.size()};
      total += kHeaderSize + r.payload.size();
    }
    ssize_t n = writev(fd, iov, 2 * count);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (!WouldBlock(errno)) {
        result.error = WriteError(errno);
        return result;
      }
      n = 0;
    }
    size_t written = n;
    // Whole records the fd took.
    size_t k = 0;
    for (; k < count; ++k) {
      size_t size = kHeaderSize + records[i + k].payload.size();
      if (written < size) break;
      written -= size;
    }
    result.accepted += k;
    i += k;
    if (k == count) continue;
    if (static_cast<size_t>(n) == total) continue;
    // A record the fd took only part of: the rest is buffered (it fits: the
    // buffer is empty and holds two records of the largest payload).
    if (written > 0) {
      const OutRecord& r = records[i];
      if (written < kHeaderSize) {
        Append(absl::MakeConstSpan(headers_[k].data() + written, kHeaderSize - written));
        Append(r.payload);
      } else {
        Append(r.payload.subspan(written - kHeaderSize));
      }
      records_.push_back({appended_, r.is_frame});
      ++result.accepted;
      ++i;
    }
    break;
  }
  // Slow path: the fd is full; whole records into the buffer while they fit.
  for (; i < records.size(); ++i) {
    if (!Buffer(records[i])) break;
    ++result.accepted;
  }
  return result;
}

size_t RecordWriter::Reset() {
  size_t frames = 0;
  for (const Pending& p : records_) frames += p.is_frame ? 1 : 0;
  records_.clear();
  head_ = tail_ = 0;
  appended_ = consumed_ = 0;
  return frames;
}

}  // namespace fstun::stream
