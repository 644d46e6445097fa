#include "seal/layer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "seal/sealed_transport.h"

DEFINE_string(key_file, "",
              "File holding the tunnel's key (create it with `fstun genkey > FILE; chmod 600 "
              "FILE`; the same key on every peer). Every frame is then encrypted and "
              "authenticated; frames without a valid tag, replayed or from an old session are "
              "dropped. Without a key, anyone who can write the shared folder can inject packets.");

DEFINE_string(cipher, "auto",
              "what this end encrypts frames with, when keyed (--private_key_file or "
              "--key_file): aes-256-gcm, chacha20-poly1305, or auto (AES-256-GCM where the CPU "
              "has AES instructions, else ChaCha20-Poly1305). Every end decrypts both, so peers "
              "need not agree.");

namespace fstun {

absl::StatusOr<aead::Cipher> CipherFromFlags() {
  std::optional<aead::Cipher> cipher = aead::ParseCipher(FLAGS_cipher);
  if (!cipher.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--cipher=", FLAGS_cipher, ": expected auto, aes-256-gcm or chacha20-poly1305"));
  }
  return *cipher;
}

absl::StatusOr<std::optional<Key>> KeyFromFlags() {
  if (FLAGS_key_file.empty()) return std::optional<Key>();
  absl::StatusOr<Key> key = LoadKeyFile(FLAGS_key_file);
  if (!key.ok()) return key.status();
  return std::optional<Key>(*std::move(key));
}

absl::StatusOr<std::unique_ptr<Transport>> CreateTransport(const TransportRegistry& registry,
                                                           absl::string_view name,
                                                           const TransportConfig& config,
                                                           std::optional<Key> key,
                                                           aead::Cipher cipher) {
  if (!key.has_value()) return registry.Create(name, config);
  SealedTransportOptions options;
  options.mtu = config.mtu;
  options.cipher = cipher;
  std::string id_text = config.Option("seal_sender_id");
  if (id_text.empty()) {
    options.sender_id = SenderIdFor(config.addresses);
  } else {
    absl::StatusOr<IpAddress> id = IpAddress::Parse(id_text);
    if (!id.ok() || !id->is_v4()) {
      return absl::InvalidArgumentError(
          absl::StrCat("seal_sender_id '", id_text, "' is not a dotted quad like 192.0.2.1"));
    }
    const uint8_t* b = id->bytes.data();
    options.sender_id =
        (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  }
  absl::StatusOr<std::unique_ptr<Transport>> inner =
      registry.Create(name, SealedInnerConfig(config));
  if (!inner.ok()) return inner.status();
  absl::StatusOr<std::unique_ptr<SealedTransport>> sealed =
      SealedTransport::Create(*std::move(inner), *std::move(key), options);
  if (!sealed.ok()) return sealed.status();
  return std::unique_ptr<Transport>(*std::move(sealed));
}

void LogTrustedModeWarning() {
  static bool logged = false;
  if (logged) return;
  logged = true;
  LOG(WARNING) << "no --key_file: trusted-folder mode. Anyone who can write the shared folder "
                  "can inject packets into this host's network, and anyone who can read it can "
                  "read the traffic. Create a key with `fstun genkey` and pass --key_file on "
                  "every peer.";
}

}  // namespace fstun
