// Theory of operation: each LinkMac holds one pair key and both identities;
// Compute and Verify hash, with a libsodium BLAKE2b state keyed by the pair
// key, "fstun link mac v1", the sender's identity, the receiver's identity
// (which is which follows the direction) and the caller's parts, each
// preceded by its length as 4 little-endian bytes. Verify compares with
// crypto_verify_16 (constant time).
#include "seal/link_auth.h"

#include <sodium.h>

#include <cstring>

namespace fstun {
namespace {

constexpr char kMacLabel[] = "fstun link mac v1";
constexpr char kSharedKeyLabel[] = "fstun link auth, shared key v1";

void Absorb(crypto_generichash_state& st, absl::string_view part) {
  uint8_t len[4];
  const uint32_t n = static_cast<uint32_t>(part.size());
  for (int i = 0; i < 4; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  crypto_generichash_update(&st, len, sizeof(len));
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(part.data()), part.size());
}

class Blake2bLinkMac : public LinkMac {
 public:
  Blake2bLinkMac(const LinkKey& key, std::string me, std::string peer)
      : key_(key), me_(std::move(me)), peer_(std::move(peer)) {}
  ~Blake2bLinkMac() override { sodium_memzero(key_.data(), key_.size()); }

  Tag Compute(Direction direction, std::initializer_list<absl::string_view> parts) const override {
    crypto_generichash_state st;
    crypto_generichash_init(&st, key_.data(), key_.size(), kTagBytes);
    Absorb(st, kMacLabel);
    Absorb(st, direction == kToPeer ? me_ : peer_);  // sender
    Absorb(st, direction == kToPeer ? peer_ : me_);  // receiver
    for (absl::string_view p : parts) Absorb(st, p);
    Tag tag;
    crypto_generichash_final(&st, tag.data(), tag.size());
    return tag;
  }

  bool Verify(Direction direction, std::initializer_list<absl::string_view> parts,
              absl::Span<const uint8_t> tag) const override {
    if (tag.size() != kTagBytes) return false;
    Tag want = Compute(direction, parts);
    return crypto_verify_16(want.data(), tag.data()) == 0;
  }

 private:
  LinkKey key_;
  const std::string me_;
  const std::string peer_;
};

}  // namespace

KeyedLinkAuthenticator::KeyedLinkAuthenticator(
    std::string identity, std::vector<std::pair<std::string, LinkKey>> peer_keys)
    : identity_(std::move(identity)) {
  InitSodium();
  for (auto& [id, key] : peer_keys) {
    if (macs_.contains(id)) continue;
    macs_[id] = std::make_unique<Blake2bLinkMac>(key, identity_, id);
    order_.push_back(id);
    sodium_memzero(key.data(), key.size());
  }
}

KeyedLinkAuthenticator::~KeyedLinkAuthenticator() = default;

const LinkMac* KeyedLinkAuthenticator::ForPeer(absl::string_view peer_identity) const {
  auto it = macs_.find(peer_identity);
  return it == macs_.end() ? nullptr : it->second.get();
}

std::vector<std::string> KeyedLinkAuthenticator::peers() const { return order_; }

std::shared_ptr<const LinkAuthenticator> MakeSharedKeyLinkAuth(const Key& key) {
  InitSodium();
  LinkKey pair;
  crypto_generichash(pair.data(), pair.size(), reinterpret_cast<const uint8_t*>(kSharedKeyLabel),
                     sizeof(kSharedKeyLabel) - 1, key.bytes().data(), key.bytes().size());
  std::vector<std::pair<std::string, LinkKey>> peers;
  peers.emplace_back(kSharedKeyIdentity, pair);
  sodium_memzero(pair.data(), pair.size());
  return std::make_shared<KeyedLinkAuthenticator>(kSharedKeyIdentity, std::move(peers));
}

}  // namespace fstun
