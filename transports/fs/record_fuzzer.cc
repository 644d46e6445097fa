// libFuzzer target for the fs record parser (ParseRecord): a record file is
// written by whoever can write the shared folder, so every byte is hostile.
// The first input byte is a control byte, the rest the file image:
//   bit 0: the reader's frame limit is kMaxFrameSize (a vnet-header peer)
//          instead of 1500;
//   bit 1: rewrite the CRC-32C trailer to match, so the fuzzer explores the
//          header and length-table checks behind the checksum.
// On a record that parses it checks the promises record.h makes: the frame
// count and payload match the header, every frame is a non-empty view
// inside the image and within the limit.
// Seeds: transports/fs/corpus/record_fuzzer/. See docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/crc32c.h"
#include "transports/fs/record.h"

namespace {

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "ParseRecord accepted a record that breaks: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t control = data[0];
  std::vector<uint8_t> image(data + 1, data + size);
  if ((control & 2) && image.size() >= fstun::fs::kRecordTrailer) {
    size_t body = image.size() - fstun::fs::kRecordTrailer;
    uint32_t crc = fstun::Crc32c(image.data(), body);
    for (int i = 0; i < 4; ++i) image[body + i] = static_cast<uint8_t>(crc >> (8 * i));
  }
  const size_t limit = (control & 1) ? fstun::kMaxFrameSize : 1500;
  static fstun::fs::ParsedRecord* out = new fstun::fs::ParsedRecord;
  if (fstun::fs::ParseRecord(image, limit, *out) != fstun::fs::RecordError::kOk) return 0;

  const fstun::fs::RecordHeader& h = out->header;
  Check(h.frame_count == out->frames.size(), "frame count");
  Check(h.frame_count >= 1 && h.frame_count <= fstun::fs::kMaxRecordFrames, "frame count range");
  Check(!h.sender_id.empty() && h.sender_id.size() <= fstun::fs::kMaxPeerIdLength, "sender id");
  Check(h.sender_id.data() >= reinterpret_cast<const char*>(image.data()) &&
            h.sender_id.data() + h.sender_id.size() <=
                reinterpret_cast<const char*>(image.data() + image.size()),
        "sender id inside the image");
  size_t total = 0;
  for (const fstun::FrameView& f : out->frames) {
    Check(f.size() > 0 && f.size() <= limit, "frame size");
    Check(f.data() >= image.data() && f.data() + f.size() <= image.data() + image.size(),
          "frame inside the image");
    total += f.size();
  }
  Check(total == h.payload_bytes, "payload bytes");
  const bool tagged = h.version == fstun::fs::kRecordVersionTagged;
  Check(fstun::fs::RecordSize(h.sender_id.size(), h.frame_count, h.payload_bytes, tagged) ==
            image.size(),
        "record size");
  Check(out->tag.size() == (tagged ? fstun::fs::kRecordTagBytes : 0), "tag size");
  if (tagged) {
    Check(out->tag.data() >= image.data() &&
              out->tag.data() + out->tag.size() <= image.data() + image.size(),
          "tag inside the image");
  }
  Check(out->covered.data() == reinterpret_cast<const char*>(image.data()) &&
            out->covered.size() <= image.size(),
        "covered bytes inside the image");
  return 0;
}
