#include "transports/fs/peer_table.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>

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
  a.formats = {kRecordVersion};
  a.offload = config_.offload;
  a.remote = config_.remote;
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
  for (const std::string& id : ids) {
    std::string name = absl::StrCat(id, kPeerSuffix);
    ReadResult r = ReadRegularFile(folder_.peers_fd(), name.c_str(), kMaxAnnouncementBytes, buffer);
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
    absl::StatusOr<Announcement> ann = ParseAnnouncement(AsText(buffer));
    if (!ann.ok() || ann->id != id) continue;  // half-written or foreign: next time
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
      if (p->live) RingDoorbell(*p);
      peers_.push_back(std::move(fresh));
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
    if (p->live && !Lists(p->ann, me)) RingDoorbell(*p);
  }
  return result;
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

void PeerTable::RingDoorbell(Peer& p) {
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
