// RecordWriter: puts records (wire_format.h) on a non-blocking byte stream
// without ever blocking and without an unbounded buffer.
//
// Records go straight from the caller's frames to the fd with one writev
// per batch (no copy) for as long as the fd takes them. What the fd does not
// take is copied into one bounded buffer: first the rest of a record the
// kernel took only part of (it must go out before anything else, or the
// stream would be corrupt), then whole records while there is room. The
// records that find no room are not accepted; the caller decides to drop or
// to offer them again once the fd is writable. Buffered bytes leave with
// Flush(), which the owner calls when the fd becomes writable.
//
//   RecordWriter writer(1 << 20);
//   RecordWriter::Result r = writer.Write(fd, records);   // r.accepted <= records.size()
//   if (!r.error.ok()) ...connection lost...
//   if (writer.pending()) ...wait for POLLOUT, then writer.Flush(fd)...
#ifndef FSTUN_TRANSPORTS_STREAM_RECORD_WRITER_H_
#define FSTUN_TRANSPORTS_STREAM_RECORD_WRITER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "transports/stream/wire_format.h"

namespace fstun::stream {

struct OutRecord {
  RecordType type = RecordType::kFrame;
  absl::Span<const uint8_t> payload;
  // A caller's frame (counted when lost in Reset), not a control record.
  bool is_frame = true;
};

class RecordWriter {
 public:
  // `buffer_bytes` is raised to hold two records of `max_payload` bytes
  // (the rest of a partly written record must always fit); records with
  // larger payloads must not be written.
  explicit RecordWriter(size_t buffer_bytes, size_t max_payload = kMaxRecordPayload);

  struct Result {
    size_t accepted = 0;  // records taken, in order from the first
    absl::Status error;   // the fd failed (the connection is lost)
  };
  Result Write(int fd, absl::Span<const OutRecord> records);

  // Writes buffered bytes until the fd is full. Error: the fd failed.
  absl::Status Flush(int fd);

  bool pending() const { return tail_ > head_; }
  size_t pending_bytes() const { return tail_ - head_; }
  size_t capacity() const { return capacity_; }

  // Forgets everything buffered (the connection is gone; a new stream
  // starts clean). Returns how many frames (is_frame) were not fully
  // written.
  size_t Reset();

 private:
  // Copies `data` to the buffer tail; the caller checked room().
  void Append(absl::Span<const uint8_t> data);
  size_t room() const { return capacity_ - (tail_ - head_); }
  void Consumed(size_t n);
  // Appends a whole record if it fits; false otherwise.
  bool Buffer(const OutRecord& r);

  const size_t capacity_;
  std::unique_ptr<uint8_t[]> buffer_;
  size_t head_ = 0;
  size_t tail_ = 0;
  // Records (wholly or partly) in the buffer: their end as a count of bytes
  // ever appended, and whether each is a frame.
  struct Pending {
    uint64_t end;
    bool is_frame;
  };
  std::deque<Pending> records_;
  uint64_t appended_ = 0;  // bytes ever appended
  uint64_t consumed_ = 0;  // bytes ever written out of the buffer
  // Scratch for one writev: a header per record and the iovecs.
  std::vector<std::array<uint8_t, kHeaderSize>> headers_;
};

}  // namespace fstun::stream

#endif  // FSTUN_TRANSPORTS_STREAM_RECORD_WRITER_H_
