// libFuzzer target for the fs announcement parser (ParseAnnouncement): the
// peers/<id>.peer files anyone who can write the folder may forge. The
// first input byte is a control byte, the rest the file:
//   bit 0: replace any "crc=" line with the right CRC-32C, so the fuzzer
//          explores the field parsing behind the checksum.
//   bit 1: parse with the keyed size limit (identity and tags lines).
// A parsed announcement must encode and parse back to the same fields
// (what a peer announces is what others read).
// Seeds: transports/fs/corpus/announcement_fuzzer/. See docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_format.h"
#include "core/crc32c.h"
#include "transports/fs/announcement.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 2 * fstun::fs::kMaxKeyedAnnouncementBytes) return 0;
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    size_t crc_at = text.rfind("crc=");
    std::string body = crc_at == std::string::npos ? text : text.substr(0, crc_at);
    if (!body.empty() && body.back() != '\n') body += '\n';
    text = body + absl::StrFormat("crc=%08x\n", fstun::Crc32c(body.data(), body.size()));
  }
  const size_t limit =
      (data[0] & 2) ? fstun::fs::kMaxKeyedAnnouncementBytes : fstun::fs::kMaxAnnouncementBytes;
  absl::StatusOr<fstun::fs::Announcement> a = fstun::fs::ParseAnnouncement(text, limit);
  if (!a.ok()) return 0;
  if (a->signed_bytes > text.size() || a->tags.size() > fstun::fs::kMaxAnnouncementTags) {
    std::fprintf(stderr, "signed part or tags out of bounds\n");
    std::abort();
  }
  absl::StatusOr<fstun::fs::Announcement> b = fstun::fs::ParseAnnouncement(
      fstun::fs::EncodeAnnouncement(*a), fstun::fs::kMaxKeyedAnnouncementBytes);
  if (!b.ok() || b->id != a->id || b->session != a->session || b->role != a->role ||
      b->addresses != a->addresses || b->mtu != a->mtu || b->formats != a->formats ||
      b->offload != a->offload || b->beat != a->beat || b->peers != a->peers ||
      b->identity != a->identity || b->tags != a->tags) {
    std::fprintf(stderr, "an accepted announcement does not survive Encode/Parse: %s\n",
                 b.ok() ? "fields differ" : std::string(b.status().message()).c_str());
    std::abort();
  }
  return 0;
}
