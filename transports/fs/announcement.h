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
//   store=ring          (only with --fs_store=ring)
//   beat=17
//   peers=192-0-2-1
//   time=2026-11-25T15:52:34Z
//   crc=1a2b3c4d
//
// crc is the CRC-32C (hex) of every byte before the "crc=" line; a file
// seen half-written fails it and is read again later. Unknown keys are
// ignored so later versions can add fields.
//
// Keyed (TransportConfig::link_auth), two more lines come last before crc:
//   identity=<the announcer's identity: public key, or "psk">
//   tags=<reader>:<tag>,<reader>:<tag>,...
// <reader> is the first 8 characters of a reader's identity (each peer the
// announcer accepts; "psk" with a shared key), <tag> the 32-hex LinkMac tag
// announcer -> reader over "fstun announcement v1" and every byte before
// the "tags=" line. A keyed reader acts on nothing in an announcement
// without a tag for it that verifies (AuthenticateAnnouncement).
#ifndef FSTUN_TRANSPORTS_FS_ANNOUNCEMENT_H_
#define FSTUN_TRANSPORTS_FS_ANNOUNCEMENT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/ip_address.h"
#include "core/link_auth.h"

namespace fstun::fs {

// Announcements larger than this are rejected unread.
inline constexpr size_t kMaxAnnouncementBytes = 4096;
// Keyed, the tags come on top: at most kMaxAnnouncementTags of them.
inline constexpr size_t kMaxAnnouncementTags = 256;
inline constexpr size_t kAnnouncementTagEntryBytes = 8 + 1 + 32 + 1;  // "reader:tag,"
inline constexpr size_t kMaxKeyedAnnouncementBytes =
    kMaxAnnouncementBytes + kMaxAnnouncementTags * kAnnouncementTagEntryBytes;

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
  // Reads and writes the ring store (--fs_store=ring: one ring file per
  // stream, docs/fs-transport.md section 14); two peers that both announce
  // it use it between them, otherwise a file per record.
  bool ring = false;
  uint64_t beat = 0;
  // Ids of the peers this one knows. A peer missing from it rings the
  // doorbell (names.h), because directory listings may be stale for long.
  std::vector<std::string> peers;
  absl::Time time = absl::InfinitePast();  // the writer's clock; for humans
  // Keyed only: the announcer's identity, and (reader prefix, tag hex)
  // pairs; `signed_bytes`: how much of the parsed text the tags cover.
  std::string identity;
  std::vector<std::pair<std::string, std::string>> tags;
  size_t signed_bytes = 0;
};

// The text before the "tags=" line (what the tags cover).
std::string EncodeAnnouncementBody(const Announcement& a);
// The whole file: body, tags (if any), crc.
std::string EncodeAnnouncement(const Announcement& a);
absl::StatusOr<Announcement> ParseAnnouncement(absl::string_view text,
                                               size_t max_bytes = kMaxAnnouncementBytes);

// The reader prefix of an identity in "tags=".
std::string TagReader(absl::string_view identity);
// Fills a.tags, one per identity `auth` accepts (at most
// kMaxAnnouncementTags), over EncodeAnnouncementBody(a).
void TagAnnouncement(const LinkAuthenticator& auth, Announcement& a);
// True if `text` (parsed as `a`) carries a tag for `auth`'s identity that
// `mac` (the announcer's, from a.identity) verifies.
bool AuthenticateAnnouncement(const LinkAuthenticator& auth, const LinkMac& mac,
                              const Announcement& a, absl::string_view text);

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_ANNOUNCEMENT_H_
