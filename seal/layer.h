// The sealing layer as the command uses it: --key_file, and creating a
// transport from the registry with or without sealing.
//
//   absl::StatusOr<std::optional<Key>> key = KeyFromFlags();   // --key_file
//   absl::StatusOr<aead::Cipher> cipher = CipherFromFlags();   // --cipher
//   if (!key.ok()) { ...usage error, exit 2... }
//   if (!key->has_value()) LogTrustedModeWarning();
//   auto transport = CreateTransport(TransportRegistry::Global(), name, config, *key, *cipher);
//
// The core and the command never name a concrete transport: CreateTransport
// asks the registry for `name` with the MTU raised by the sealing overhead,
// and wraps what it returns in a SealedTransport.
#ifndef FSTUN_SEAL_LAYER_H_
#define FSTUN_SEAL_LAYER_H_

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/registry.h"
#include "core/transport.h"
#include "gflags/gflags.h"
#include "seal/cipher.h"
#include "seal/key.h"

DECLARE_string(key_file);
DECLARE_string(cipher);

namespace fstun {

// The key of --key_file, or nullopt if the flag is empty. Errors name the
// file and say how to fix it.
absl::StatusOr<std::optional<Key>> KeyFromFlags();

// The cipher of --cipher ("auto" resolved for this CPU); InvalidArgument
// names the accepted values.
absl::StatusOr<aead::Cipher> CipherFromFlags();

// Creates transport `name`; with a key, sealed (the inner transport is
// created with config.mtu + kSealOverhead, the result reports config.mtu).
// The sender id comes from config.options["seal_sender_id"] (dotted quad)
// if present, else from the first tunnel address (SenderIdFor). `cipher`:
// what this end seals with (seal/cipher.h).
absl::StatusOr<std::unique_ptr<Transport>> CreateTransport(
    const TransportRegistry& registry, absl::string_view name, const TransportConfig& config,
    std::optional<Key> key, aead::Cipher cipher = aead::AutoCipher());

// Logs, once, that without a key anyone who can write the transport's
// medium (the shared folder) can inject packets and anyone who can read it
// can read the traffic.
void LogTrustedModeWarning();

}  // namespace fstun

#endif  // FSTUN_SEAL_LAYER_H_
