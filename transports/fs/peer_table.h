// PeerTable: who else is in the folder, and this peer's own announcement.
//
// Theory of operation: every heartbeat (1 s) Announce() rewrites
// DIR/peers/<me>.peer (temp + rename) with a growing beat, and Scan()
// lists DIR/peers (discovery; the listing may be stale on network shares),
// re-reads every known announcement BY NAME (fresh where listings are
// not), and reads the own inbox's doorbell, where a newcomer our listing
// may not show yet wrote its id. Each announcement read moves a peer
// through its life (docs/fs-transport.md section 5):
//   new        -> its streams start at 1;
//   restarted  -> (new session) what it did not read of the old stream is
//                 deleted (`peer_restarted`), both streams restart at 1;
//   gone       -> (beat unchanged for peer_timeout) its unread records are
//                 deleted (`peer_gone`), no more frames go to it;
//   left       -> (announcement removed) forgotten.
// A live peer whose announcement does not list us yet, or that we have just
// found, gets our id in its doorbell; the own doorbell is looked at every
// 50 ms (FsTransport), so a newcomer or a restarted peer is read at once.
// Routing is not done here: FsTransport reports the live peers' announced
// addresses, role and offloads to the core's routing table.
//
// Against whoever else writes the folder (unkeyed, announcements are not
// authenticated): the own announcement goes through a random temp name
// (sys/atomic_write.h) and lists only live peers, and only as many as fit
// kMaxAnnouncementBytes; the table holds at most kMaxPeers (a peer that
// stopped beating makes room; beyond that new peers wait, `peer_table_full`)
// and a scan reads at most kMaxNewPeersPerScan unknown announcements; a
// session that returns to the one before it (a forged announcement came
// and went), or an announcement that reappears with the session it had
// when it vanished (deleted by someone else), resumes both streams where
// they were (`session_flip`).
//
// Keyed (config.auth set), only authenticated announcements count
// (announcement.h): an announcement with a tag for us that does not verify
// (or none, from a known peer) is ignored entirely
// (`bad_announcement_auth`, once per file), as is one with a tag for us from
// an identity we do not accept (`peer_not_accepted`, once per id); one with
// no tag for us from an unknown id is not ours to count (the clients of a
// server do not list each other), logged once; sessions are start times
// (folder.h), so an announcement with an older session than the one known,
// or an older beat of the same session, is a replay and ignored
// (`replayed_announcement`) while the peer is live; a known peer keeps its
// identity while it is live. Our own announcement carries our identity and
// one tag per peer we accept.
#ifndef FSTUN_TRANSPORTS_FS_PEER_TABLE_H_
#define FSTUN_TRANSPORTS_FS_PEER_TABLE_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/counters.h"
#include "core/ip_address.h"
#include "core/link_auth.h"
#include "transports/fs/folder.h"
#include "transports/fs/peer.h"

namespace fstun::fs {

inline constexpr size_t kMaxPeers = 256;
inline constexpr size_t kMaxNewPeersPerScan = 64;

// What this peer announces and how it judges others.
struct PeerTableConfig {
  std::string role;
  std::vector<IpPrefix> addresses;
  size_t mtu = 1500;
  bool offload = false;  // we take vnet frames
  bool remote = false;   // our folder is served by another kernel (FolderProfile)
  bool ring = false;     // we read and write the ring store (--fs_store=ring)
  absl::Duration peer_timeout = absl::Seconds(10);
  bool list_peers = true;  // false: discover only by the doorbell
  // Keyed: announcements are tagged and checked; nullptr: unkeyed.
  const LinkAuthenticator* auth = nullptr;
};

class PeerTable {
 public:
  PeerTable(const FsFolder& folder, PeerTableConfig config, const OutboundConfig& out_config,
            const InboundConfig& in_config)
      : folder_(folder),
        config_(std::move(config)),
        out_config_(out_config),
        in_config_(in_config) {}

  // Rewrites the own announcement.
  void Announce(absl::Time now);

  struct ScanResult {
    bool restarted = false;  // a peer restarted: its old files want collecting
    // A peer is new or restarted: announce now, so that its next scan finds
    // itself listed (else each end rings the other on every scan).
    bool changed = false;
  };
  ScanResult Scan(absl::Time now, Counters& counters);
  absl::Time last_scan() const { return last_scan_; }
  // Someone wrote our doorbell since the last scan (one open, by name).
  bool DoorbellRung() const;

  Peer* Find(absl::string_view id);
  const std::vector<std::unique_ptr<Peer>>& peers() const { return peers_; }
  bool empty() const { return peers_.empty(); }

  // Clean stop: deletes what we wrote that nobody read (uncounted).
  void DropAllUnread(Counters& counters);

 private:
  bool IsLive(const Peer& p, absl::Time now) const;
  void StartStreams(Peer& p);
  // Keyed: true if `ann` (read as `text`; `known`: the peer of its id, or
  // nullptr) may be acted on, with *mac set to the announcer's MAC; false
  // if not (counted once per file). Unkeyed: true, *mac = nullptr.
  bool Authenticate(const Announcement& ann, absl::string_view text, const Peer* known,
                    Counters& counters, const LinkMac** mac);
  // Below kMaxPeers, or made so by forgetting the longest-silent peer that
  // is not live; false if every peer is live.
  bool MakeRoom(absl::Time now, Counters& counters);
  // Writes `p`'s doorbell, at most every kRingInterval.
  void RingDoorbell(Peer& p, absl::Time now);
  // Removes our ring from a peer that went away without answering.
  void SilenceDoorbell(Peer& p);

  const FsFolder& folder_;
  const PeerTableConfig config_;
  const OutboundConfig& out_config_;
  const InboundConfig& in_config_;
  std::vector<std::unique_ptr<Peer>> peers_;
  uint64_t beat_ = 0;
  absl::Time last_scan_ = absl::InfinitePast();
  bool table_full_ = false;  // counted and logged once per episode
  // Keyed: what was counted already: ids (and identities) not accepted,
  // and per id the last refused announcement (a hash of its text); at most
  // 1024 each.
  absl::flat_hash_set<std::string> not_accepted_;
  absl::flat_hash_set<std::string> quiet_;  // not addressed to us, logged
  absl::flat_hash_map<std::string, size_t> refused_;
  // Peers whose announcement disappeared, and where their streams stood
  // (the last 16).
  std::vector<std::pair<std::string, Peer::Previous>> left_;
};

}  // namespace fstun::fs

#endif  // FSTUN_TRANSPORTS_FS_PEER_TABLE_H_
