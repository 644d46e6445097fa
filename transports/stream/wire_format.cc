// Encoding is a header written in front of the caller's payload (the payload
// is never copied here). Decoding keeps one buffer: bytes are read to its
// tail, records are parsed from its head, and the unparsed rest moves to the
// front only when the tail runs short. See wire_format.h for the layout.
#include "transports/stream/wire_format.h"

#include <algorithm>
#include <cstring>

#include "core/crc32c.h"

namespace fstun::stream {
namespace {

void Put32(uint8_t* p, uint32_t v) {
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
  p[2] = (v >> 16) & 0xff;
  p[3] = v >> 24;
}

void Put64(uint8_t* p, uint64_t v) {
  Put32(p, static_cast<uint32_t>(v));
  Put32(p + 4, static_cast<uint32_t>(v >> 32));
}

uint32_t Get32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

uint64_t Get64(const uint8_t* p) { return Get32(p) | (uint64_t{Get32(p + 4)} << 32); }

bool KnownType(uint8_t t) {
  return t == static_cast<uint8_t>(RecordType::kFrame) ||
         t == static_cast<uint8_t>(RecordType::kVnetFrame) ||
         t == static_cast<uint8_t>(RecordType::kHello);
}

}  // namespace

void EncodeHeader(RecordType type, absl::Span<const uint8_t> payload,
                  std::array<uint8_t, kHeaderSize>& out) {
  uint8_t* h = out.data();
  std::memcpy(h, kMagic.data(), kMagic.size());
  h[4] = static_cast<uint8_t>(type);
  h[5] = 0;
  h[6] = 0;
  h[7] = 0;
  Put32(h + 8, static_cast<uint32_t>(payload.size()));
  Put32(h + 12, Crc32c(payload.data(), payload.size()));
  Put32(h + 16, Crc32c(h, 16));
}

std::array<uint8_t, HelloRecord::kSize> HelloRecord::Encode() const {
  std::array<uint8_t, kSize> out{};
  out[0] = version;
  Put32(&out[4], features);
  Put64(&out[8], session);
  Put64(&out[16], peer_session);
  return out;
}

std::optional<HelloRecord> HelloRecord::Decode(absl::Span<const uint8_t> payload) {
  if (payload.size() < kSize) return std::nullopt;
  HelloRecord h;
  h.version = payload[0];
  h.features = Get32(&payload[4]);
  h.session = Get64(&payload[8]);
  h.peer_session = Get64(&payload[16]);
  return h;
}

RecordDecoder::RecordDecoder(size_t max_payload, size_t buffer_bytes)
    : max_payload_(std::min(max_payload, kMaxRecordPayload)),
      capacity_(std::max(buffer_bytes, kHeaderSize + max_payload_ + 4096)),
      buffer_(new uint8_t[capacity_]) {}

absl::Span<uint8_t> RecordDecoder::WritableTail() {
  if (start_ == end_) {
    start_ = end_ = 0;
  } else if (start_ > 0 && capacity_ - end_ < capacity_ / 4) {
    std::memmove(buffer_.get(), buffer_.get() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  return absl::MakeSpan(buffer_.get() + end_, capacity_ - end_);
}

void RecordDecoder::Commit(size_t n) { end_ = std::min(capacity_, end_ + n); }

void RecordDecoder::Reset() {
  start_ = end_ = 0;
  header_checked_ = false;
  in_garbage_ = false;
}

void RecordDecoder::Skip(size_t n) {
  start_ += n;
  stats_.garbage_bytes += n;
  if (!in_garbage_) {
    in_garbage_ = true;
    ++stats_.resyncs;
  }
}

std::optional<Record> RecordDecoder::Next() {
  while (end_ > start_) {
    const uint8_t* p = buffer_.get() + start_;
    const size_t avail = end_ - start_;
    if (!header_checked_) {
      // 1. Find the magic (or, at the very end, a prefix of it).
      size_t i = 0;
      while (i < avail) {
        const void* hit = std::memchr(p + i, kMagic[0], avail - i);
        if (hit == nullptr) {
          i = avail;
          break;
        }
        i = static_cast<const uint8_t*>(hit) - p;
        size_t n = std::min(kMagic.size(), avail - i);
        if (std::memcmp(p + i, kMagic.data(), n) == 0) break;
        ++i;
      }
      if (i > 0) {
        Skip(i);
        continue;
      }
      // 2. The header: its own checksum, then a sane length.
      if (avail < kHeaderSize) return std::nullopt;
      if (Crc32c(p, 16) != Get32(p + 16) || Get32(p + 8) > max_payload_) {
        ++stats_.bad_headers;
        Skip(1);
        continue;
      }
      header_checked_ = true;
    }
    // 3. The payload.
    const size_t length = Get32(p + 8);
    if (avail < kHeaderSize + length) return std::nullopt;
    header_checked_ = false;
    if (Crc32c(p + kHeaderSize, length) != Get32(p + 12)) {
      // Noise inside the record (or a lost byte that pulled the next
      // record's bytes in): rescan from just after this magic.
      ++stats_.bad_payloads;
      Skip(1);
      continue;
    }
    start_ += kHeaderSize + length;
    in_garbage_ = false;
    if (!KnownType(p[4])) {
      ++stats_.unknown_types;
      continue;
    }
    ++stats_.records;
    return Record{static_cast<RecordType>(p[4]), absl::MakeConstSpan(p + kHeaderSize, length)};
  }
  return std::nullopt;
}

}  // namespace fstun::stream
