#include "core/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace fstun {

absl::StatusOr<IpAddress> IpAddress::Parse(absl::string_view text) {
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = 4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = 6;
    return a;
  }
  return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not an IPv4 or IPv6 address"));
}

IpAddress IpAddress::V4(const uint8_t* b) {
  IpAddress a;
  a.family = 4;
  std::memcpy(a.bytes.data(), b, 4);
  return a;
}

IpAddress IpAddress::V6(const uint8_t* b) {
  IpAddress a;
  a.family = 6;
  std::memcpy(a.bytes.data(), b, 16);
  return a;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 4) inet_ntop(AF_INET, bytes.data(), buf, sizeof(buf));
  if (family == 6) inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf));
  return buf;
}

absl::StatusOr<IpPrefix> IpPrefix::Parse(absl::string_view text) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(text, absl::MaxSplits('/', 1));
  absl::StatusOr<IpAddress> addr = IpAddress::Parse(parts.first);
  if (!addr.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad address '", text, "': expected ADDR/PREFIX, e.g. 192.0.2.1/24"));
  }
  IpPrefix p;
  p.address = *addr;
  int max_len = addr->is_v4() ? 32 : 128;
  if (parts.second.empty() && text.find('/') == absl::string_view::npos) {
    p.length = max_len;
    return p;
  }
  if (!absl::SimpleAtoi(parts.second, &p.length) || p.length < 0 || p.length > max_len) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad prefix length in '", text, "': must be 0..", max_len));
  }
  return p;
}

IpPrefix IpPrefix::Network() const {
  IpPrefix n = *this;
  for (size_t i = 0; i < address.size(); ++i) {
    int bits = length - static_cast<int>(i) * 8;
    if (bits >= 8) continue;
    n.address.bytes[i] &= bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
  }
  return n;
}

bool IpPrefix::Contains(const IpAddress& a) const {
  if (a.family != address.family) return false;
  IpPrefix other{a, length};
  return other.Network().address == Network().address;
}

std::string IpPrefix::ToString() const { return absl::StrCat(address.ToString(), "/", length); }

absl::StatusOr<std::vector<IpPrefix>> ParsePrefixList(absl::string_view text) {
  std::vector<IpPrefix> out;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    absl::StatusOr<IpPrefix> p = IpPrefix::Parse(part);
    if (!p.ok()) return p.status();
    out.push_back(*p);
  }
  return out;
}

namespace {
std::optional<IpAddress> PacketAddress(FrameView p, bool destination) {
  if (p.empty()) return std::nullopt;
  int version = p[0] >> 4;
  if (version == 4 && p.size() >= 20) return IpAddress::V4(p.data() + (destination ? 16 : 12));
  if (version == 6 && p.size() >= 40) return IpAddress::V6(p.data() + (destination ? 24 : 8));
  return std::nullopt;
}
}  // namespace

std::optional<IpAddress> PacketDestination(FrameView packet) { return PacketAddress(packet, true); }
std::optional<IpAddress> PacketSource(FrameView packet) { return PacketAddress(packet, false); }

}  // namespace fstun
