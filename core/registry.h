// TransportRegistry: transports register by name; the command creates them
// by name. Neither the core nor cmd/ names a concrete transport.
//
// Each transport package has a small register.cc, built alwayslink, that
// holds one static registration:
//
//   static fstun::TransportRegistration kRegistration(
//       "memory", "in-process pair of endpoints, for tests",
//       [](const fstun::TransportConfig& config) { ... });
//
// Which transports a binary offers is therefore just its deps list.
//
// Per-transport options travel as an opaque string map; the core never
// looks inside. A transport may also define its own gflags (e.g. --dirpath)
// in its register.cc and read them in its factory when the map lacks a key,
// so every option can live in a flag file.
#ifndef FSTUN_CORE_REGISTRY_H_
#define FSTUN_CORE_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/ip_address.h"
#include "core/link_auth.h"
#include "core/transport.h"

namespace fstun {

// What every transport may want to know about the local end.
struct TransportConfig {
  std::string role;                 // "server", "client" or "" (none)
  std::string ifname;               // the TUN's name, e.g. "tun0"
  size_t mtu = 1500;                // link MTU of the TUN
  std::vector<IpPrefix> addresses;  // this end's tunnel addresses
  // The TUN can hand over frames that start with a virtio_net_hdr and may be
  // GSO super-packets of up to 64 KiB (vnet/header.h). A transport that can
  // carry such frames says so in capabilities().carries_gso_frames; the
  // daemon then turns the TUN's offloads on. Otherwise frames are plain IP.
  bool offload_frames = false;
  // The user the daemon runs as after set-up (--user), if not root: folders
  // and files the transport creates before the privilege drop must belong
  // to it, or it could not use them afterwards.
  struct FileOwner {
    uint32_t uid = 0;
    uint32_t gid = 0;
  };
  std::optional<FileOwner> file_owner;
  // Set when a key is configured (--key_file or --private_key_file): lets
  // the transport authenticate its own control data (core/link_auth.h).
  // Null: unkeyed. Transports whose medium nobody else writes may ignore it.
  std::shared_ptr<const LinkAuthenticator> link_auth;
  // Transport-specific options, opaque to the core.
  absl::flat_hash_map<std::string, std::string> options;

  // options[key] if present, else `fallback`.
  std::string Option(absl::string_view key, absl::string_view fallback = "") const;
};

using TransportFactory =
    std::function<absl::StatusOr<std::unique_ptr<Transport>>(const TransportConfig&)>;

class TransportRegistry {
 public:
  struct Entry {
    std::string name;
    std::string description;
  };

  // The process-wide registry that registrations add to.
  static TransportRegistry& Global();

  // AlreadyExists if the name is taken.
  absl::Status Register(std::string name, std::string description, TransportFactory factory);
  // NotFound (listing the known names) if nobody registered `name`.
  absl::StatusOr<std::unique_ptr<Transport>> Create(absl::string_view name,
                                                    const TransportConfig& config) const;
  // Sorted by name.
  std::vector<Entry> List() const;

 private:
  struct Registered {
    std::string description;
    TransportFactory factory;
  };
  mutable absl::Mutex mu_;
  std::map<std::string, Registered, std::less<>> entries_ ABSL_GUARDED_BY(mu_);
};

// Registers a transport in the global registry at static-initialisation time.
// A duplicate name is a programming error and aborts at start-up.
class TransportRegistration {
 public:
  TransportRegistration(std::string name, std::string description, TransportFactory factory);
};

}  // namespace fstun

#endif  // FSTUN_CORE_REGISTRY_H_
