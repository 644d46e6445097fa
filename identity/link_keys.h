// Per-peer link authentication (--private_key_file): the LinkAuthenticator
// (core/link_auth.h) a transport gets to authenticate its own control data
// (the fs transport's record headers and announcements) per pair of peers.
//
//   auto auth = MakeIdentityLinkAuth(private_key, {peer_a, peer_b}, psk);
//   config.link_auth = *auth;
//
// This end's identity is its public key in base64; a peer is accepted only
// if its public key is listed. The pair key of two peers is computed once,
// at start, from their static keys (no handshake needed, so the transport
// can authenticate its very first file):
//   BLAKE2b-256(key = the preshared key if any,
//               "fstun link auth, per-peer v1" || X25519(my private, peer public)
//               || the two public keys, smaller first)
// Both ends derive the same key; nobody without one of the two private keys
// (and the preshared key, if set) can. It authenticates, it does not hide:
// there is no forward secrecy to lose, as nothing is encrypted with it.
#ifndef FSTUN_IDENTITY_LINK_KEYS_H_
#define FSTUN_IDENTITY_LINK_KEYS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/link_auth.h"
#include "identity/keys.h"

namespace fstun {

// InvalidArgument (one line) if a peer key is unusable (a low-order point:
// X25519 gives zero).
absl::StatusOr<std::shared_ptr<const LinkAuthenticator>> MakeIdentityLinkAuth(
    const PrivateKey& me, absl::Span<const PublicKey> peers, absl::Span<const uint8_t> psk);

}  // namespace fstun

#endif  // FSTUN_IDENTITY_LINK_KEYS_H_
