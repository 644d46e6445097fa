// A peer's announcement: the small text file DIR/peers/<id>.peer that says
// who a peer is and that it is alive. Its owner rewrites it (temp + rename)
// about once a second; the beat counter grows each time, so others judge
// liveness by their own clock ("the beat changed recently"), never by
// comparing clocks across hosts.
//
//   fstun-peer 1
//   id=192-0-2-2
//   session=0123456789abcdef
//   role=client
//   addresses=192.0.2.2/24,2001:db8::2/64
//   mtu=1400
//   formats=1
//   offload=1
//   remote=1
//   beat=17
//   peers=192-0-2-1
//   time=2026-11-25T15:52:34Z
//   crc=1a2b3c4d
//
// crc is the CRC-32C (hex) of every byte before the "crc=" line; a file
// seen half-written fails it and is read again later. Unknown keys are
// ignored so later versions can add fields.
#ifndef FSTUN_TRANSPORTS_FS_ANNOUNCEMENT_H_
#define FSTUN_TRANSPORTS_FS_ANNOUNCEMENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/ip_address.h"

namespace fstun::fs {

// Announcements larger than this are rejected unread.
inline constexpr size_t kMaxAnnouncementBytes = 4096;

struct Announcement {
  std::string id;
  uint64_t session = 0;
  std::string role;
  std::vector<IpPrefix> addresses;
  size_t mtu = 0;
  std::vector<int> formats;  // record format versions this peer reads
  bool offload = false;      // takes frames with a virtio_net_hdr (TUN offloads)
  // Reads its inbox through a share another kernel serves (9p, virtiofs,
  // NFS, SMB, ...: FolderProfile::remote): writers coalesce records to it.
  bool remote = false;
  uint64_t beat = 0;
  // Ids of the peers this one knows. A peer missing from it rings the
  // doorbell (names.h), because directory listings may be stale for long.
  std::vector<std::string> peers;
  absl::Time time = absl::InfinitePast();  // the writer's clock; for humans
};

std::string EncodeAnnouncement(const Announcement& a);
absl::StatusOr<Announcement> ParseAnnouncement(absl::string_view text);

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_ANNOUNCEMENT_H_
