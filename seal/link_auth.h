// Keyed-BLAKE2b LinkAuthenticators (core/link_auth.h): the shared-key one
// (--key_file alone) and the building block the per-peer one uses
// (identity/link_keys.h).
//
//   std::shared_ptr<const LinkAuthenticator> auth = MakeSharedKeyLinkAuth(key);
//
// A tag is BLAKE2b (libsodium crypto_generichash, 16-byte output) keyed with
// a 32-byte pair key, over a label, the sender's and the receiver's
// identities, then each part, every field preceded by its length. The pair
// key is never the key that seals frames: with a shared key it is
// BLAKE2b-256(key = the shared key, "fstun link auth, shared key v1"), so a
// tag reveals nothing usable against the AEAD.
#ifndef FSTUN_SEAL_LINK_AUTH_H_
#define FSTUN_SEAL_LINK_AUTH_H_

#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "core/link_auth.h"
#include "seal/key.h"

namespace fstun {

inline constexpr size_t kLinkKeyBytes = 32;
using LinkKey = std::array<uint8_t, kLinkKeyBytes>;

// The identity a shared key gives every end.
inline constexpr char kSharedKeyIdentity[] = "psk";

// Identity -> pair key, as given. Pair keys are wiped on destruction.
class KeyedLinkAuthenticator : public LinkAuthenticator {
 public:
  KeyedLinkAuthenticator(std::string identity,
                         std::vector<std::pair<std::string, LinkKey>> peer_keys);
  ~KeyedLinkAuthenticator() override;

  const std::string& identity() const override { return identity_; }
  const LinkMac* ForPeer(absl::string_view peer_identity) const override;
  std::vector<std::string> peers() const override;

 private:
  const std::string identity_;
  absl::flat_hash_map<std::string, std::unique_ptr<LinkMac>> macs_;
  std::vector<std::string> order_;
};

// Every end with `key` has identity "psk" and accepts "psk".
std::shared_ptr<const LinkAuthenticator> MakeSharedKeyLinkAuth(const Key& key);

}  // namespace fstun

#endif  // FSTUN_SEAL_LINK_AUTH_H_
