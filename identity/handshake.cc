// The IKpsk2 handshake (handshake.h). Theory of operation: each function
// walks its message's tokens in pattern order over a noise::SymmetricState;
// "e" in a psk pattern is MixHash(e) and MixKey(e) (Noise 9.2). A failed
// check leaves the caller's state unusable, never half-updated in a way the
// caller could mistake for success: callers discard it.
#include "identity/handshake.h"

#include <sodium.h>

#include <cstring>

#include "glog/logging.h"
#include "seal/key.h"

namespace fstun {
namespace {

constexpr char kMac1Label[] = "mac1----";

void WriteMac1(const PublicKey& receiver, uint8_t* message, size_t size) {
  std::array<uint8_t, 32> key = Mac1Key(receiver);
  crypto_generichash(message + size - kMac1Size, kMac1Size, message, size - kMac1Size, key.data(),
                     key.size());
}

absl::Span<const uint8_t> Bytes(const uint8_t* p, size_t n) { return absl::MakeConstSpan(p, n); }

}  // namespace

Tai64n Tai64nOf(absl::Time t) {
  int64_t nanos = absl::ToUnixNanos(t);
  uint64_t secs = (uint64_t{1} << 62) + 10 + static_cast<uint64_t>(nanos / 1000000000);
  uint32_t ns = static_cast<uint32_t>(nanos % 1000000000);
  Tai64n out;
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(secs >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) out[8 + i] = static_cast<uint8_t>(ns >> (24 - 8 * i));
  return out;
}

LocalIdentity::LocalIdentity(PrivateKey key)
    : private_key(std::move(key)),
      public_key(private_key.public_key()),
      mac1_key(Mac1Key(public_key)) {}

std::array<uint8_t, 32> Mac1Key(const PublicKey& receiver) {
  InitSodium();
  std::array<uint8_t, 32> key;
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, key.size());
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(kMac1Label),
                            sizeof(kMac1Label) - 1);
  crypto_generichash_update(&st, receiver.data(), kX25519KeySize);
  crypto_generichash_final(&st, key.data(), key.size());
  return key;
}

bool CheckMac1(const std::array<uint8_t, 32>& mac1_key, absl::Span<const uint8_t> message) {
  if (message.size() < kMac1Size) return false;
  uint8_t mac[kMac1Size];
  crypto_generichash(mac, sizeof(mac), message.data(), message.size() - kMac1Size, mac1_key.data(),
                     mac1_key.size());
  return sodium_memcmp(mac, message.data() + message.size() - kMac1Size, kMac1Size) == 0;
}

void SessionKeys::Wipe() {
  sodium_memzero(send.data(), send.size());
  sodium_memzero(receive.data(), receive.size());
}

InitiatorHandshake::InitiatorHandshake() : state(kNoiseProtocolName, kNoisePrologue) {
  ephemeral_private.fill(0);
}
InitiatorHandshake::~InitiatorHandshake() {
  sodium_memzero(ephemeral_private.data(), ephemeral_private.size());
}

ReceivedInitiation::ReceivedInitiation() : state(kNoiseProtocolName, kNoisePrologue) {
  remote_ephemeral.fill(0);
  timestamp.fill(0);
}
ReceivedInitiation::~ReceivedInitiation() = default;

void CreateInitiation(const LocalIdentity& me, const PublicKey& peer, uint32_t local_index,
                      const Tai64n& timestamp, InitiatorHandshake* hs, uint8_t* out) {
  *hs = InitiatorHandshake();
  hs->local_index = local_index;
  noise::SymmetricState& s = hs->state;
  s.MixHash(peer.bytes());  // <- s (pre-message)

  std::memset(out, 0, kInitiationSize);
  out[0] = static_cast<uint8_t>(MessageType::kInitiation);
  StoreLe32(out + msg::kInitSender, local_index);

  // e
  randombytes_buf(hs->ephemeral_private.data(), hs->ephemeral_private.size());
  uint8_t* e_pub = out + msg::kInitEphemeral;
  crypto_scalarmult_base(e_pub, hs->ephemeral_private.data());
  s.MixHash(Bytes(e_pub, 32));
  s.MixKey(Bytes(e_pub, 32));
  // es
  uint8_t dh[32];
  CHECK(noise::Dh(hs->ephemeral_private.data(), peer.data(), dh))
      << "peer public key " << peer.ShortString() << " is a low-order point";
  s.MixKey(Bytes(dh, 32));
  // s
  s.EncryptAndHash(me.public_key.bytes(), out + msg::kInitStatic);
  // ss
  CHECK(noise::Dh(me.private_key.data(), peer.data(), dh));
  s.MixKey(Bytes(dh, 32));
  sodium_memzero(dh, sizeof(dh));
  // payload: the timestamp
  s.EncryptAndHash(timestamp, out + msg::kInitTimestamp);

  WriteMac1(peer, out, kInitiationSize);
}

HandshakeError ConsumeInitiation(const LocalIdentity& me, absl::Span<const uint8_t> m,
                                 ReceivedInitiation* out) {
  if (ClassifyMessage(m) != MessageType::kInitiation) return HandshakeError::kMalformed;
  if (!CheckMac1(me.mac1_key, m)) return HandshakeError::kBadMac1;
  *out = ReceivedInitiation();
  noise::SymmetricState& s = out->state;
  s.MixHash(me.public_key.bytes());

  out->sender_index = LoadLe32(m.data() + msg::kInitSender);
  std::memcpy(out->remote_ephemeral.data(), m.data() + msg::kInitEphemeral, 32);
  s.MixHash(out->remote_ephemeral);
  s.MixKey(out->remote_ephemeral);
  uint8_t dh[32];
  if (!noise::Dh(me.private_key.data(), out->remote_ephemeral.data(), dh)) {
    return HandshakeError::kBadKey;
  }
  s.MixKey(Bytes(dh, 32));
  uint8_t static_key[kX25519KeySize];
  if (!s.DecryptAndHash(Bytes(m.data() + msg::kInitStatic, 32 + noise::kTagLen), static_key)) {
    sodium_memzero(dh, sizeof(dh));
    return HandshakeError::kDecryptFailed;
  }
  out->initiator = PublicKey::FromBytes(static_key);
  if (!noise::Dh(me.private_key.data(), static_key, dh)) return HandshakeError::kBadKey;
  s.MixKey(Bytes(dh, 32));
  sodium_memzero(dh, sizeof(dh));
  if (!s.DecryptAndHash(Bytes(m.data() + msg::kInitTimestamp, kTimestampSize + noise::kTagLen),
                        out->timestamp.data())) {
    return HandshakeError::kDecryptFailed;
  }
  return HandshakeError::kOk;
}

HandshakeError CreateResponse(ReceivedInitiation* in, absl::Span<const uint8_t> psk,
                              uint32_t local_index, uint8_t* out, SessionKeys* keys) {
  CHECK_EQ(psk.size(), 32u);
  noise::SymmetricState& s = in->state;
  std::memset(out, 0, kResponseSize);
  out[0] = static_cast<uint8_t>(MessageType::kResponse);
  StoreLe32(out + msg::kRespSender, local_index);
  StoreLe32(out + msg::kRespReceiver, in->sender_index);

  // e
  uint8_t e_priv[32];
  randombytes_buf(e_priv, sizeof(e_priv));
  uint8_t* e_pub = out + msg::kRespEphemeral;
  crypto_scalarmult_base(e_pub, e_priv);
  s.MixHash(Bytes(e_pub, 32));
  s.MixKey(Bytes(e_pub, 32));
  uint8_t dh[32];
  bool ok = noise::Dh(e_priv, in->remote_ephemeral.data(), dh);  // ee
  if (ok) s.MixKey(Bytes(dh, 32));
  ok = ok && noise::Dh(e_priv, in->initiator.data(), dh);  // se
  sodium_memzero(e_priv, sizeof(e_priv));
  if (!ok) {
    sodium_memzero(dh, sizeof(dh));
    return HandshakeError::kBadKey;
  }
  s.MixKey(Bytes(dh, 32));
  sodium_memzero(dh, sizeof(dh));
  s.MixKeyAndHash(psk);                         // psk
  s.EncryptAndHash({}, out + msg::kRespEmpty);  // empty payload
  WriteMac1(in->initiator, out, kResponseSize);
  s.Split(&keys->receive, &keys->send);  // the initiator sends with the first
  return HandshakeError::kOk;
}

HandshakeError ConsumeResponse(const LocalIdentity& me, const PublicKey& peer,
                               absl::Span<const uint8_t> psk, InitiatorHandshake* hs,
                               absl::Span<const uint8_t> m, SessionKeys* keys) {
  CHECK_EQ(psk.size(), 32u);
  if (ClassifyMessage(m) != MessageType::kResponse) return HandshakeError::kMalformed;
  if (!CheckMac1(me.mac1_key, m)) return HandshakeError::kBadMac1;
  // Work on a copy: a forged response must not spoil the handshake in flight.
  noise::SymmetricState s = hs->state;
  const uint8_t* re = m.data() + msg::kRespEphemeral;
  s.MixHash(Bytes(re, 32));
  s.MixKey(Bytes(re, 32));
  uint8_t dh[32];
  if (!noise::Dh(hs->ephemeral_private.data(), re, dh)) return HandshakeError::kBadKey;  // ee
  s.MixKey(Bytes(dh, 32));
  if (!noise::Dh(me.private_key.data(), re, dh)) {  // se
    sodium_memzero(dh, sizeof(dh));
    return HandshakeError::kBadKey;
  }
  s.MixKey(Bytes(dh, 32));
  sodium_memzero(dh, sizeof(dh));
  s.MixKeyAndHash(psk);
  uint8_t empty[1];
  if (!s.DecryptAndHash(Bytes(m.data() + msg::kRespEmpty, noise::kTagLen), empty)) {
    return HandshakeError::kDecryptFailed;
  }
  (void)peer;
  s.Split(&keys->send, &keys->receive);
  return HandshakeError::kOk;
}

}  // namespace fstun
