// IPv4/IPv6 addresses and prefixes in CIDR form ("192.0.2.1/24",
// "2001:db8::1/64"), and reading the addresses out of an IP packet.
#ifndef FSTUN_CORE_IP_ADDRESS_H_
#define FSTUN_CORE_IP_ADDRESS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/frame.h"

namespace fstun {

struct IpAddress {
  int family = 0;                   // 4 or 6 (0: unset)
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4

  static absl::StatusOr<IpAddress> Parse(absl::string_view text);
  static IpAddress V4(const uint8_t* b);
  static IpAddress V6(const uint8_t* b);

  size_t size() const { return family == 4 ? 4 : (family == 6 ? 16 : 0); }
  bool is_v4() const { return family == 4; }
  bool is_v6() const { return family == 6; }
  std::string ToString() const;

  bool operator==(const IpAddress& o) const { return family == o.family && bytes == o.bytes; }
  bool operator!=(const IpAddress& o) const { return !(*this == o); }
};

struct IpPrefix {
  IpAddress address;  // as written (host bits kept: it is the interface address)
  int length = 0;

  // "ADDR/LEN"; a bare address means a host prefix (/32 or /128).
  static absl::StatusOr<IpPrefix> Parse(absl::string_view text);
  // The network: address with host bits cleared.
  IpPrefix Network() const;
  bool Contains(const IpAddress& a) const;
  std::string ToString() const;

  bool operator==(const IpPrefix& o) const { return address == o.address && length == o.length; }
};

// "a/n,b/m" -> prefixes. Empty elements are an error.
absl::StatusOr<std::vector<IpPrefix>> ParsePrefixList(absl::string_view text);

// The destination / source address of an IPv4 or IPv6 packet, or nullopt if
// the frame is too short or not IP.
std::optional<IpAddress> PacketDestination(FrameView packet);
std::optional<IpAddress> PacketSource(FrameView packet);

}  // namespace fstun

#endif  // FSTUN_CORE_IP_ADDRESS_H_
