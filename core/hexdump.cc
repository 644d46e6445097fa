#include "core/hexdump.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/ip_address.h"

namespace fstun {

std::string HexDump(FrameView frame, size_t max_bytes) {
  std::string out;
  size_t n = std::min(frame.size(), max_bytes);
  for (size_t off = 0; off < n; off += 16) {
    absl::StrAppendFormat(&out, "%04x ", off);
    std::string ascii;
    for (size_t i = off; i < off + 16; ++i) {
      if (i < n) {
        absl::StrAppendFormat(&out, " %02x", frame[i]);
        ascii.push_back(frame[i] >= 32 && frame[i] < 127 ? static_cast<char>(frame[i]) : '.');
      } else {
        out.append("   ");
      }
    }
    absl::StrAppend(&out, "  ", ascii, "\n");
  }
  if (n < frame.size()) absl::StrAppend(&out, "... (", frame.size() - n, " more bytes)\n");
  return out;
}

std::string DescribePacket(FrameView frame) {
  std::optional<IpAddress> src = PacketSource(frame);
  std::optional<IpAddress> dst = PacketDestination(frame);
  if (!src || !dst) return absl::StrCat("non-IP len ", frame.size());
  int proto = src->is_v4() ? frame[9] : frame[6];
  return absl::StrCat(src->is_v4() ? "IPv4 " : "IPv6 ", src->ToString(), " > ", dst->ToString(),
                      " proto ", proto, " len ", frame.size());
}

}  // namespace fstun
