#include "transports/fs/peer_table.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>

#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "sys/atomic_write.h"
#include "sys/log_escape.h"
#include "transports/fs/fs_io.h"
#include "transports/fs/names.h"
#include "transports/fs/record.h"

namespace fstun::fs {
namespace {

constexpr absl::Duration kRingInterval = absl::Milliseconds(100);

absl::string_view AsText(const ByteBuffer& b) {
  return absl::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

bool Lists(const Announcement& a, absl::string_view id) {
  return std::find(a.peers.begin(), a.peers.end(), id) != a.peers.end();
}

}  // namespace

void PeerTable::Announce(absl::Time now) {
  Announcement a;
  a.id = folder_.peer_id();
  a.session = folder_.session();
  a.role = config_.role;
  a.addresses = config_.addresses;
  a.mtu = config_.mtu;
  a.formats = {config_.auth != nullptr ? kRecordVersionTagged : kRecordVersion};
  if (config_.auth != nullptr) a.identity = config_.auth->identity();
  a.offload = config_.offload;
  a.remote = config_.remote;
  a.ring = config_.ring;
  a.beat = ++beat_;
  a.time = now;
  // `peers` lists live peers only (announcements nobody rewrites, e.g.
  // junk, drop out after the peer timeout), those that moved records most
  // recently first, and only as many as keep the file within the limit
  // every reader applies: junk announcements cannot push ours past it. A
  // peer left out rings our doorbell, which costs a scan, not traffic.
  std::vector<const Peer*> live;
  for (const auto& p : peers_) {
    if (p->live) live.push_back(p.get());
  }
  std::stable_sort(live.begin(), live.end(),
                   [](const Peer* x, const Peer* y) { return x->traffic_at > y->traffic_at; });
  size_t size = EncodeAnnouncement(a).size();
  for (const Peer* p : live) {
    size += p->id.size() + (a.peers.empty() ? 0 : 1);
    if (size > kMaxAnnouncementBytes) break;
    a.peers.push_back(p->id);
  }
  if (a.peers.size() < live.size()) {
    LOG_EVERY_T(WARNING, 60) << "fs: announcement lists " << a.peers.size() << " of " << live.size()
                             << " live peers (" << kMaxAnnouncementBytes
                             << "-byte limit); the others ring the doorbell";
  }
  // Keyed: the tags come on top of the limit (kMaxKeyedAnnouncementBytes).
  if (config_.auth != nullptr) TagAnnouncement(*config_.auth, a);
  AtomicWriteOptions options;
  options.mode = folder_.access().group ? 0660 : 0600;
  options.group = folder_.access().group;
  absl::Status s = WriteFileAtomically(folder_.peers_fd(), absl::StrCat(a.id, kPeerSuffix),
                                       EncodeAnnouncement(a), options);
  if (!s.ok()) {
    LOG_EVERY_T(WARNING, 1) << "fs: cannot write announcement: " << s;
  }
}

bool PeerTable::DoorbellRung() const { return Exists(folder_.inbox_fd(), kDoorbell); }

Peer* PeerTable::Find(absl::string_view id) {
  for (const auto& p : peers_) {
    if (p->id == id) return p.get();
  }
  return nullptr;
}

bool PeerTable::IsLive(const Peer& p, absl::Time now) const {
  return now - std::max(p.beat_changed_at, p.traffic_at) < config_.peer_timeout;
}

void PeerTable::StartStreams(Peer& p) {
  p.out.Start(folder_.OpenPeerInbox(p.id), p.ann.session);
  p.in.Start(p.ann.session, p.ann.offload);
}

bool PeerTable::MakeRoom(absl::Time now, Counters& counters) {
  if (peers_.size() < kMaxPeers) return true;
  // The peer silent for longest, if it is not live.
  auto oldest = peers_.end();
  for (auto it = peers_.begin(); it != peers_.end(); ++it) {
    if ((*it)->live) continue;
    if (oldest == peers_.end() || std::max((*it)->beat_changed_at, (*it)->traffic_at) <
                                      std::max((*oldest)->beat_changed_at, (*oldest)->traffic_at)) {
      oldest = it;
    }
  }
  if (oldest == peers_.end()) return false;
  (*oldest)->out.DropUnread("peer_gone", counters);
  peers_.erase(oldest);
  return true;
}

PeerTable::ScanResult PeerTable::Scan(absl::Time now, Counters& counters) {
  ScanResult result;
  last_scan_ = now;
  const std::string& me = folder_.peer_id();
  // Discovery by listing (may be stale on network shares); known peers are
  // re-read by name every time, which is fresh.
  std::vector<std::string> ids;
  for (const auto& p : peers_) ids.push_back(p->id);
  const std::string own_temp = absl::StrCat(".", me, kPeerSuffix, kTempInfix);
  if (config_.list_peers) {
    size_t fresh = 0;
    for (const std::string& name : ListDir(folder_.peers_fd())) {
      std::optional<std::string> id = ParsePeerFileName(name);
      if (!id) {
        // Our own temp, left by a crash mid-write (a live write is never
        // concurrent: Announce runs on this thread).
        if (absl::StartsWith(name, own_temp)) unlinkat(folder_.peers_fd(), name.c_str(), 0);
        continue;
      }
      if (*id == me || Find(*id) != nullptr) continue;
      // A flood of names costs one bounded read each per scan, no more.
      if (++fresh > kMaxNewPeersPerScan) break;
      ids.push_back(*std::move(id));
    }
  }
  ByteBuffer buffer;
  // A newcomer our listing may not show yet rang the doorbell.
  std::string doorbell_id;
  const bool rung =
      ReadRegularFile(folder_.inbox_fd(), kDoorbell, 2 + kMaxPeerIdLength, buffer).outcome ==
      ReadOutcome::kOk;
  if (rung) {
    std::string id(AsText(buffer));
    while (!id.empty() && id.back() == '\n') id.pop_back();
    if (IsValidPeerId(id) && id != me) {
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
      doorbell_id = id;
    }
  }
  const size_t max_bytes =
      config_.auth != nullptr ? kMaxKeyedAnnouncementBytes : kMaxAnnouncementBytes;
  for (const std::string& id : ids) {
    std::string name = absl::StrCat(id, kPeerSuffix);
    ReadResult r = ReadRegularFile(folder_.peers_fd(), name.c_str(), max_bytes, buffer);
    Peer* p = Find(id);
    if (r.outcome == ReadOutcome::kMissing) {
      if (p != nullptr) {
        LOG(INFO) << "fs: peer " << id << " left (announcement removed)";
        // Kept for a while: an announcement deleted by someone else comes
        // back with the same session, and the streams resume.
        if (left_.size() >= 16) left_.erase(left_.begin());
        left_.push_back({id, {p->ann.session, p->out.FirstUnread(), p->in.next_seq()}});
        p->out.DropUnread("peer_gone", counters);
        peers_.erase(std::find_if(peers_.begin(), peers_.end(),
                                  [&](const auto& q) { return q.get() == p; }));
      }
      continue;
    }
    if (r.outcome != ReadOutcome::kOk) continue;
    absl::StatusOr<Announcement> ann = ParseAnnouncement(AsText(buffer), max_bytes);
    if (!ann.ok() || ann->id != id) continue;  // half-written or foreign: next time
    const LinkMac* mac = nullptr;
    if (!Authenticate(*ann, AsText(buffer), p, counters, &mac)) continue;
    if (p != nullptr && mac != p->mac) {
      // A peer that was gone came back with another identity we accept.
      p->mac = mac;
      p->out.SetMac(mac);
      p->in.SetMac(mac);
    }
    if (p == nullptr) {
      if (!MakeRoom(now, counters)) {
        if (!table_full_) {
          counters.AddDrop("peer_table_full");
          LOG(WARNING) << "fs: " << kMaxPeers << " live peers in " << folder_.dirpath()
                       << "; new peers are not taken until some stop beating";
        }
        table_full_ = true;
        continue;
      }
      auto fresh = std::make_unique<Peer>(id, out_config_, in_config_);
      p = fresh.get();
      p->ann = *ann;
      p->mac = mac;
      p->out.SetMac(mac);
      p->in.SetMac(mac);
      // An announcement whose own clock says it is long dead starts as gone.
      p->beat_changed_at =
          now - ann->time > config_.peer_timeout + absl::Minutes(1) ? absl::InfinitePast() : now;
      p->live = IsLive(*p, now);
      auto was = std::find_if(left_.begin(), left_.end(), [&](const auto& l) {
        return l.first == id && l.second.session == ann->session;
      });
      if (was != left_.end()) {
        LOG(WARNING) << "fs: peer " << id << " is back with the same session "
                     << Hex16(ann->session)
                     << " (its announcement was removed by someone else?); its streams resume";
        counters.AddDrop("session_flip");
        p->out.Resume(folder_.OpenPeerInbox(p->id), p->ann.session, was->second.out_seq);
        p->in.Resume(p->ann.session, p->ann.offload, was->second.in_seq);
        left_.erase(was);
      } else {
        StartStreams(*p);
      }
      // Ring once even if its announcement lists our id: that may be an
      // earlier session of ours (we restarted), which it learns of at once.
      if (p->live) RingDoorbell(*p, now);
      peers_.push_back(std::move(fresh));
      result.changed = true;
      LOG(INFO) << "fs: peer " << id << " session " << Hex16(ann->session) << " role '"
                << EscapeForLog(ann->role, 32) << "' mtu " << ann->mtu
                << (p->live ? "" : " (not beating)");
      continue;
    }
    if (ann->session != p->ann.session) {
      // What the streams of the session being replaced had reached: if the
      // announcement returns to that session (the new one was forged: an
      // unkeyed folder cannot tell), both streams resume there instead of
      // restarting at 1 while the other end waits at its old number.
      Peer::Previous now_ending{p->ann.session, p->out.FirstUnread(), p->in.next_seq()};
      p->out.DropUnread("peer_restarted", counters);
      p->ann = *ann;
      p->beat_changed_at = now;
      if (p->previous.session == ann->session) {
        LOG(WARNING) << "fs: peer " << id << " is back at session " << Hex16(ann->session)
                     << " after " << Hex16(now_ending.session)
                     << " (a forged announcement?); its streams resume";
        counters.AddDrop("session_flip");
        p->out.Resume(folder_.OpenPeerInbox(p->id), p->ann.session, p->previous.out_seq);
        p->in.Resume(p->ann.session, p->ann.offload, p->previous.in_seq);
      } else {
        LOG(INFO) << "fs: peer " << id << " restarted (session " << Hex16(now_ending.session)
                  << " -> " << Hex16(ann->session) << "); its old records are discarded";
        StartStreams(*p);
      }
      p->previous = now_ending;
      result.restarted = true;
      result.changed = true;
    } else {
      if (ann->beat != p->ann.beat) p->beat_changed_at = now;
      p->ann = *ann;
    }
    bool live = IsLive(*p, now);
    if (live != p->live) {
      LOG(INFO) << "fs: peer " << id
                << (live ? " is live again" : " stopped beating and moved no records");
      if (!live) {
        p->out.DropUnread("peer_gone", counters);
        SilenceDoorbell(*p);
      }
      p->live = live;
    }
  }
  // Answered (the next announcement lists the ringer), or junk, or a
  // ringer whose announcement we cannot read yet: it rings again at its
  // next scan. Never left in place, so DoorbellRung() does not keep
  // triggering scans.
  if (rung) unlinkat(folder_.inbox_fd(), kDoorbell, 0);
  if (peers_.size() < kMaxPeers) table_full_ = false;
  for (const auto& p : peers_) {
    if (p->live && !Lists(p->ann, me)) RingDoorbell(*p, now);
  }
  return result;
}

bool PeerTable::Authenticate(const Announcement& ann, absl::string_view text, const Peer* known,
                             Counters& counters, const LinkMac** mac) {
  *mac = nullptr;
  if (config_.auth == nullptr) return true;
  // Counted and logged once per refused file (it stays until rewritten).
  auto first_time = [&](const char* what) {
    const size_t fingerprint = absl::HashOf(text);
    auto it = refused_.find(ann.id);
    if (it != refused_.end() && it->second == fingerprint) return false;
    if (it != refused_.end()) {
      it->second = fingerprint;
    } else if (refused_.size() < 1024) {
      refused_[ann.id] = fingerprint;
    }
    counters.AddDrop(what);
    return true;
  };
  const std::string me = TagReader(config_.auth->identity());
  const bool addressed =
      std::any_of(ann.tags.begin(), ann.tags.end(), [&](const auto& t) { return t.first == me; });
  if (!addressed && known == nullptr) {
    // Not addressed to us: a peer that does not list us (the clients of
    // one server do not list each other), or junk. Not a peer of ours.
    if (quiet_.size() < 1024 && quiet_.insert(ann.id).second) {
      LOG(INFO) << "fs: peer " << ann.id << " does not list this end (no tag for us); ignored";
    }
    return false;
  }
  const LinkMac* m = config_.auth->ForPeer(ann.identity);
  if (addressed && (m == nullptr || (known != nullptr && known->live && m != known->mac))) {
    if (not_accepted_.size() < 1024 && not_accepted_.insert(ann.id + "/" + ann.identity).second) {
      counters.AddDrop("peer_not_accepted");
      LOG(WARNING) << "fs: peer " << ann.id << " announces identity '"
                   << EscapeForLog(ann.identity, 12) << "'"
                   << (m == nullptr ? ", which is not accepted (not a listed peer)"
                                    : ", not the one it had")
                   << "; ignored";
    }
    return false;
  }
  if (m == nullptr || !AuthenticateAnnouncement(*config_.auth, *m, ann, text)) {
    if (first_time("bad_announcement_auth")) {
      LOG_EVERY_T(WARNING, 10) << "fs: the announcement of peer " << ann.id
                               << " fails authentication (a peer with another key, or "
                                  "written by someone without the key?); ignored";
    }
    return false;
  }
  // Sessions are start times: an older one, or an older beat, is a replay.
  // A live peer's is refused; once a peer is gone anything authentic is
  // taken (a clock set back at its restart must not lock it out), and an
  // announcement whose own time is old starts as gone (Scan).
  uint64_t session = 0, beat = 0;
  if (known != nullptr && known->live) {
    session = known->ann.session;
    beat = known->ann.beat;
  } else if (known == nullptr) {
    for (const auto& [id, previous] : left_) {
      if (id == ann.id) session = previous.session;
    }
  }
  if (ann.session < session || (ann.session == session && ann.beat < beat)) {
    if (first_time("replayed_announcement")) {
      LOG_EVERY_T(WARNING, 10) << "fs: an older announcement of peer " << ann.id << " (session "
                               << Hex16(ann.session) << " beat " << ann.beat
                               << ") is back (replayed?); ignored";
    }
    return false;
  }
  refused_.erase(ann.id);  // the next forged one is counted again
  *mac = m;
  return true;
}

void PeerTable::SilenceDoorbell(Peer& p) {
  if (p.out.inbox_fd() < 0) return;
  ByteBuffer buffer;
  if (ReadRegularFile(p.out.inbox_fd(), kDoorbell, 2 + kMaxPeerIdLength, buffer).outcome ==
          ReadOutcome::kOk &&
      AsText(buffer) == absl::StrCat(folder_.peer_id(), "\n")) {
    unlinkat(p.out.inbox_fd(), kDoorbell, 0);
  }
}

void PeerTable::RingDoorbell(Peer& p, absl::Time now) {
  // The receiver looks at its doorbell every 50 ms, or at once on the
  // ring's inotify event: ringing more often only costs both ends.
  if (now - p.rang_at < kRingInterval) return;
  p.rang_at = now;
  if (p.out.inbox_fd() < 0) p.out.SetInbox(folder_.OpenPeerInbox(p.id));
  if (p.out.inbox_fd() < 0) return;
  AtomicWriteOptions options;
  options.mode = folder_.access().group ? 0660 : 0600;
  options.group = folder_.access().group;
  (void)WriteFileAtomically(p.out.inbox_fd(), kDoorbell, absl::StrCat(folder_.peer_id(), "\n"),
                            options);
}

void PeerTable::DropAllUnread(Counters& counters) {
  for (const auto& p : peers_) p->out.DropUnread(nullptr, counters);
}

}  // namespace fstun::fs
