#include "transports/fs/record.h"

#include <cstring>
#include <string>

#include "core/crc32c.h"
#include "transports/fs/le_bytes.h"

namespace fstun::fs {
namespace {

size_t HeaderBytes(size_t id_length) { return kRecordFixedHeader + ((id_length + 7) & ~size_t{7}); }

constexpr char kTagLabel[] = "fstun record v2";

// The receiver's session as the tag covers it: 8 bytes, little-endian.
std::string SessionBytes(uint64_t session) {
  return std::string(reinterpret_cast<const char*>(&session), sizeof(session));
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the record format is little-endian");

}  // namespace

size_t RecordSize(size_t sender_id_length, size_t frame_count, size_t payload_bytes, bool tagged) {
  return HeaderBytes(sender_id_length) + 4 * frame_count + payload_bytes + kRecordTrailer +
         (tagged ? kRecordTagBytes : 0);
}

const char* RecordErrorName(RecordError e) {
  switch (e) {
    case RecordError::kOk:
      return "ok";
    case RecordError::kTruncated:
      return "truncated";
    case RecordError::kBadMagic:
      return "bad_magic";
    case RecordError::kBadVersion:
      return "bad_version";
    case RecordError::kBadHeader:
      return "bad_header";
    case RecordError::kTrailingBytes:
      return "trailing_bytes";
    case RecordError::kFrameTooLarge:
      return "frame_too_large";
    case RecordError::kBadChecksum:
      return "bad_checksum";
  }
  return "unknown";
}

RecordEncoder::RecordEncoder() {
  head_.reserve(HeaderBytes(kMaxPeerIdLength) + 4 * kMaxRecordFrames);
  iov_.reserve(kMaxRecordFrames + 2);
}

absl::Span<const iovec> RecordEncoder::Encode(absl::string_view sender_id, uint64_t session,
                                              uint64_t seq, absl::Span<const FrameView> frames,
                                              uint32_t flags, const RecordAuth* auth) {
  const bool tagged = auth != nullptr && auth->mac != nullptr;
  const size_t header_bytes = HeaderBytes(sender_id.size());
  uint64_t payload = 0;
  for (FrameView f : frames) payload += f.size();
  head_.assign(header_bytes + 4 * frames.size(), 0);
  uint8_t* h = head_.data();
  Put32(h + 0, kRecordMagic);
  Put16(h + 4, tagged ? kRecordVersionTagged : kRecordVersion);
  Put16(h + 6, static_cast<uint16_t>(header_bytes));
  Put64(h + 8, session);
  Put64(h + 16, seq);
  Put32(h + 24, static_cast<uint32_t>(frames.size()));
  Put32(h + 28, flags);
  Put32(h + 32, static_cast<uint32_t>(payload));
  h[36] = static_cast<uint8_t>(sender_id.size());
  std::memcpy(h + kRecordFixedHeader, sender_id.data(), sender_id.size());
  uint8_t* table = h + header_bytes;
  for (size_t i = 0; i < frames.size(); ++i) {
    Put32(table + 4 * i, static_cast<uint32_t>(frames[i].size()));
  }
  iov_.clear();
  iov_.push_back({head_.data(), head_.size()});
  uint32_t crc = Crc32c(head_.data(), head_.size());
  for (FrameView f : frames) {
    iov_.push_back({const_cast<uint8_t*>(f.data()), f.size()});
    crc = Crc32cExtend(crc, f.data(), f.size());
  }
  size_t trailer = kRecordTrailer;
  if (tagged) {
    absl::string_view covered(reinterpret_cast<const char*>(head_.data()), head_.size());
    LinkMac::Tag tag = auth->mac->Compute(LinkMac::kToPeer, {kTagLabel, covered, auth->receiver_id,
                                                             SessionBytes(auth->receiver_session)});
    std::memcpy(trailer_, tag.data(), kRecordTagBytes);
    crc = Crc32cExtend(crc, trailer_, kRecordTagBytes);
    trailer += kRecordTagBytes;
  }
  Put32(trailer_ + trailer - kRecordTrailer, crc);
  iov_.push_back({trailer_, trailer});
  size_ = head_.size() + payload + trailer;
  return iov_;
}

RecordError ParseRecord(absl::Span<const uint8_t> image, size_t max_frame_bytes,
                        ParsedRecord& out) {
  out.frames.clear();
  out.covered = {};
  out.tag = {};
  const uint8_t* p = image.data();
  const size_t size = image.size();
  if (size < 4) return RecordError::kTruncated;
  if (Get32(p) != kRecordMagic) return RecordError::kBadMagic;
  if (size < kRecordFixedHeader) return RecordError::kTruncated;
  RecordHeader& h = out.header;
  h.version = Get16(p + 4);
  if (h.version != kRecordVersion && h.version != kRecordVersionTagged) {
    return RecordError::kBadVersion;
  }
  const bool tagged = h.version == kRecordVersionTagged;
  const size_t header_bytes = Get16(p + 6);
  h.session = Get64(p + 8);
  h.seq = Get64(p + 16);
  h.frame_count = Get32(p + 24);
  h.flags = Get32(p + 28);
  h.payload_bytes = Get32(p + 32);
  const size_t id_length = p[36];
  if ((h.flags & ~kRecordFlagVnetHdr) != 0) return RecordError::kBadVersion;
  if (h.flags & kRecordFlagVnetHdr) max_frame_bytes = kMaxFrameSize;
  if (id_length == 0 || id_length > kMaxPeerIdLength || header_bytes != HeaderBytes(id_length) ||
      h.frame_count == 0 || h.frame_count > kMaxRecordFrames || h.payload_bytes > kMaxRecordBytes) {
    return RecordError::kBadHeader;
  }
  for (size_t i = 37; i < kRecordFixedHeader; ++i) {
    if (p[i] != 0) return RecordError::kBadHeader;
  }
  // All sizes are bounded above, so this sum cannot overflow.
  const size_t expected = RecordSize(id_length, h.frame_count, h.payload_bytes, tagged);
  if (size < expected) return RecordError::kTruncated;
  if (size > expected) return RecordError::kTrailingBytes;
  h.sender_id = absl::string_view(reinterpret_cast<const char*>(p + kRecordFixedHeader), id_length);
  for (size_t i = kRecordFixedHeader + id_length; i < header_bytes; ++i) {
    if (p[i] != 0) return RecordError::kBadHeader;
  }
  const uint8_t* table = p + header_bytes;
  const uint8_t* frame = table + 4 * size_t{h.frame_count};
  uint64_t total = 0;
  for (uint32_t i = 0; i < h.frame_count; ++i) {
    uint32_t len = Get32(table + 4 * i);
    if (len == 0) return RecordError::kBadHeader;
    if (len > max_frame_bytes) return RecordError::kFrameTooLarge;
    total += len;
  }
  if (total != h.payload_bytes) return RecordError::kBadHeader;
  const size_t body = expected - kRecordTrailer;
  if (Crc32c(p, body) != Get32(p + body)) return RecordError::kBadChecksum;
  for (uint32_t i = 0; i < h.frame_count; ++i) {
    uint32_t len = Get32(table + 4 * i);
    out.frames.emplace_back(frame, len);
    frame += len;
  }
  out.covered =
      absl::string_view(reinterpret_cast<const char*>(p), header_bytes + 4 * size_t{h.frame_count});
  out.tag = tagged ? absl::MakeConstSpan(frame, kRecordTagBytes) : absl::Span<const uint8_t>();
  return RecordError::kOk;
}

bool VerifyRecord(const ParsedRecord& record, const RecordAuth& auth) {
  if (auth.mac == nullptr || record.tag.size() != kRecordTagBytes) return false;
  return auth.mac->Verify(
      LinkMac::kFromPeer,
      {kTagLabel, record.covered, auth.receiver_id, SessionBytes(auth.receiver_session)},
      record.tag);
}

}  // namespace fstun::fs
