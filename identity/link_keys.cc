// Theory of operation: one X25519 per listed peer at start; the shared
// secret, both public keys (sorted, so both ends hash the same bytes) and a
// label are hashed into the pair key, keyed with the preshared key when
// there is one (without it the hash is unkeyed); KeyedLinkAuthenticator
// (seal/link_auth.h) does the rest.
#include "identity/link_keys.h"

#include <sodium.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "seal/key.h"
#include "seal/link_auth.h"

namespace fstun {
namespace {

constexpr char kLabel[] = "fstun link auth, per-peer v1";

}  // namespace

absl::StatusOr<std::shared_ptr<const LinkAuthenticator>> MakeIdentityLinkAuth(
    const PrivateKey& me, absl::Span<const PublicKey> peers, absl::Span<const uint8_t> psk) {
  InitSodium();
  const PublicKey mine = me.public_key();
  std::vector<std::pair<std::string, LinkKey>> keys;
  for (const PublicKey& peer : peers) {
    uint8_t dh[crypto_scalarmult_BYTES];
    if (crypto_scalarmult(dh, me.data(), peer.data()) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("peer key ", peer.ShortString(), " is not a usable X25519 public key"));
    }
    const bool mine_first = std::memcmp(mine.data(), peer.data(), kX25519KeySize) < 0;
    const PublicKey& lo = mine_first ? mine : peer;
    const PublicKey& hi = mine_first ? peer : mine;
    crypto_generichash_state st;
    crypto_generichash_init(&st, psk.empty() ? nullptr : psk.data(), psk.size(), kLinkKeyBytes);
    crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(kLabel), sizeof(kLabel) - 1);
    crypto_generichash_update(&st, dh, sizeof(dh));
    crypto_generichash_update(&st, lo.data(), kX25519KeySize);
    crypto_generichash_update(&st, hi.data(), kX25519KeySize);
    LinkKey key;
    crypto_generichash_final(&st, key.data(), key.size());
    sodium_memzero(dh, sizeof(dh));
    keys.emplace_back(peer.ToBase64(), key);
    sodium_memzero(key.data(), key.size());
  }
  return std::shared_ptr<const LinkAuthenticator>(
      std::make_shared<KeyedLinkAuthenticator>(mine.ToBase64(), std::move(keys)));
}

}  // namespace fstun
