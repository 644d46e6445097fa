#include "core/routing_table.h"

#include <utility>

namespace fstun {

RoutingTable::Entry* RoutingTable::FindEntry(const PeerId& id) {
  for (Entry& e : entries_) {
    if (e.info.id == id) return &e;
  }
  return nullptr;
}

const RoutingTable::Entry* RoutingTable::FindEntry(const PeerId& id) const {
  for (const Entry& e : entries_) {
    if (e.info.id == id) return &e;
  }
  return nullptr;
}

void RoutingTable::PeerUp(const PeerInfo& peer) {
  absl::MutexLock lock(&mu_);
  Entry* e = FindEntry(peer.id);
  if (e == nullptr) {
    entries_.emplace_back();
    e = &entries_.back();
  }
  e->info = peer;
  e->up = true;
}

void RoutingTable::PeerDown(const PeerId& id) {
  absl::MutexLock lock(&mu_);
  Entry* e = FindEntry(id);
  if (e == nullptr) return;
  if (!e->configured.empty()) {
    e->up = false;  // its configuration stays for when it comes back
    return;
  }
  entries_.erase(entries_.begin() + (e - entries_.data()));
}

void RoutingTable::ConfigurePeer(const PeerId& id, std::vector<IpPrefix> allowed) {
  absl::MutexLock lock(&mu_);
  Entry* e = FindEntry(id);
  if (e == nullptr) {
    entries_.emplace_back();
    e = &entries_.back();
    e->info.id = id;
  }
  e->configured = std::move(allowed);
}

Route RoutingTable::RouteOf(const Entry& e) {
  return Route{e.info.id, e.info.takes_vnet, e.info.mtu};
}

std::optional<Route> RoutingTable::Lookup(const std::optional<IpAddress>& destination) const {
  absl::MutexLock lock(&mu_);
  const Entry* best = nullptr;
  int best_length = -1;
  int best_count = 0;
  const Entry* server = nullptr;
  const Entry* only = nullptr;
  int up = 0;
  bool configured = false;
  for (const Entry& e : entries_) {
    configured |= !e.configured.empty();
    if (!e.up) continue;
    ++up;
    only = &e;
    if (e.info.is_server && server == nullptr) server = &e;
    if (!destination) continue;
    const std::vector<IpPrefix>& prefixes = e.configured.empty() ? e.info.prefixes : e.configured;
    for (const IpPrefix& p : prefixes) {
      if (p.address == *destination) return RouteOf(e);
      if (!p.Contains(*destination)) continue;
      if (p.length > best_length) {
        best = &e;
        best_length = p.length;
        best_count = 1;
      } else if (p.length == best_length && best != &e) {
        ++best_count;
      }
    }
  }
  if (best != nullptr && best_count == 1) return RouteOf(*best);
  if (options_.client && server != nullptr) return RouteOf(*server);
  // With configured peers nothing goes anywhere by default: a configured
  // peer that is down must not make another the "only" one.
  if (up == 1 && !configured) return RouteOf(*only);
  return std::nullopt;
}

std::optional<Route> RoutingTable::Find(const PeerId& id) const {
  absl::MutexLock lock(&mu_);
  const Entry* e = FindEntry(id);
  if (e == nullptr || !e->up) return std::nullopt;
  return RouteOf(*e);
}

bool RoutingTable::CheckSource(const PeerId& from, const std::optional<IpAddress>& source) const {
  absl::MutexLock lock(&mu_);
  const Entry* e = FindEntry(from);
  if (e == nullptr || e->configured.empty()) return true;
  if (!source) return false;
  for (const IpPrefix& p : e->configured) {
    if (p.Contains(*source)) return true;
  }
  return false;
}

std::vector<RoutingTable::Entry> RoutingTable::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return entries_;
}

}  // namespace fstun
