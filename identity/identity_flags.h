// The command-line side of per-peer identity: --private_key_file, the
// repeatable --peer=PUBKEY,PREFIX[,PREFIX] (one per line in a flag file),
// --peers_file, and the per-peer lines of `fstun status`.
//
//   absl::StatusOr<std::optional<IdentityConfig>> id = IdentityConfigFromFlags();
//   if (!id.ok()) { ...one-line usage error, exit 2... }
//   if (id->has_value()) { ...PeerCrypto::Create(std::move((*id)->key), psk, ...)... }
//
// gflags keeps only the last value of a repeated flag, so --peer records
// every value it is given (command line and flag files) through a flag
// validator, which gflags calls on each assignment.
#ifndef FSTUN_IDENTITY_IDENTITY_FLAGS_H_
#define FSTUN_IDENTITY_IDENTITY_FLAGS_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gflags/gflags.h"
#include "identity/keys.h"
#include "identity/peer_crypto.h"

DECLARE_string(private_key_file);
DECLARE_string(peer);
DECLARE_string(peers_file);

namespace fstun {

struct IdentityConfig {
  PrivateKey key;
  std::vector<PeerConfig> peers;
};

// nullopt without --private_key_file (and without --peer/--peers_file).
// Errors (one line each): --peer without a private key, a private key
// without peers, a bad key file (seal/key.h's checks), a bad --peer.
absl::StatusOr<std::optional<IdentityConfig>> IdentityConfigFromFlags();

// Every --peer value given so far, in order.
std::vector<std::string> PeerFlagValues();
// Tests: forgets them.
void ClearPeerFlagValuesForTest();

// A peers file: one PUBKEY,PREFIX[,PREFIX] per line; blank lines and lines
// starting with '#' are skipped. Errors name `source` and the line number.
absl::StatusOr<std::vector<PeerConfig>> ParsePeersText(absl::string_view text,
                                                       absl::string_view source);
absl::StatusOr<std::vector<PeerConfig>> ReadPeersFile(const std::string& path);

// The per-peer key/value lines of `fstun status`: public key, allowed
// prefixes, latest handshake ("12s ago" / "never"), frames each way, the
// cipher of the last data message received from the peer, drops.
std::vector<std::pair<std::string, std::string>> PeerDetails(const PeerCrypto::PeerInfo& peer,
                                                             absl::Time now);

}  // namespace fstun

#endif  // FSTUN_IDENTITY_IDENTITY_FLAGS_H_
