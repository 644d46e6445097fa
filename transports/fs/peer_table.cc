#include "transports/fs/peer_table.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
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
  a.beat = ++beat_;
  for (const auto& p : peers_) a.peers.push_back(p->id);
  a.time = now;
  std::string text = EncodeAnnouncement(a);
  iovec iov{text.data(), text.size()};
  std::string temp = absl::StrCat(".", a.id, kPeerSuffix, kTempSuffix);
  std::string final = absl::StrCat(a.id, kPeerSuffix);
  absl::Status s = WriteFileAtomically(folder_.peers_fd(), temp.c_str(), final.c_str(), {&iov, 1},
                                       nullptr, folder_.access());
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

PeerTable::ScanResult PeerTable::Scan(absl::Time now, Counters& counters) {
  ScanResult result;
  last_scan_ = now;
  const std::string& me = folder_.peer_id();
  // Discovery by listing (may be stale on network shares); known peers are
  // re-read by name every time, which is fresh.
  std::vector<std::string> ids;
  if (config_.list_peers) {
    for (const std::string& name : ListDir(folder_.peers_fd())) {
      std::optional<std::string> id = ParsePeerFileName(name);
      if (id && *id != me) ids.push_back(*std::move(id));
    }
  }
  for (const auto& p : peers_) {
    if (std::find(ids.begin(), ids.end(), p->id) == ids.end()) ids.push_back(p->id);
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
      auto fresh = std::make_unique<Peer>(id, out_config_, in_config_);
      p = fresh.get();
      p->ann = *ann;
      // An announcement whose own clock says it is long dead starts as gone.
      p->beat_changed_at =
          now - ann->time > config_.peer_timeout + absl::Minutes(1) ? absl::InfinitePast() : now;
      p->live = IsLive(*p, now);
      StartStreams(*p);
      // Ring once even if its announcement lists our id: that may be an
      // earlier session of ours (we restarted), which it learns of at once.
      if (p->live) RingDoorbell(*p);
      peers_.push_back(std::move(fresh));
      LOG(INFO) << "fs: peer " << id << " session " << Hex16(ann->session) << " role '" << ann->role
                << "' mtu " << ann->mtu << (p->live ? "" : " (not beating)");
      continue;
    }
    if (ann->session != p->ann.session) {
      LOG(INFO) << "fs: peer " << id << " restarted (session " << Hex16(p->ann.session) << " -> "
                << Hex16(ann->session) << "); its old records are discarded";
      p->out.DropUnread("peer_restarted", counters);
      p->ann = *ann;
      p->beat_changed_at = now;
      StartStreams(*p);
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
  std::string text = absl::StrCat(folder_.peer_id(), "\n");
  std::string temp = absl::StrCat(kDoorbellTempPrefix, folder_.peer_id(), kTempSuffix);
  iovec iov{text.data(), text.size()};
  (void)WriteFileAtomically(p.out.inbox_fd(), temp.c_str(), kDoorbell, {&iov, 1}, nullptr,
                            folder_.access());
}

void PeerTable::DropAllUnread(Counters& counters) {
  for (const auto& p : peers_) p->out.DropUnread(nullptr, counters);
}

}  // namespace fstun::fs
