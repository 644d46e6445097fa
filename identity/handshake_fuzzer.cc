// libFuzzer target for the per-peer message parser: every input reaches
// PeerCrypto::Open on a fresh responder with fixed keys. The first byte
// picks how far past the cheap checks the input gets:
//
//   0  the rest as a raw message (type/size/padding classification, index
//      lookups, mac1)
//   1  the rest padded/cut to an initiation, with a valid mac1 recomputed:
//      reaches the X25519 and AEAD steps of ConsumeInitiation
//   2  a genuine initiation from a listed peer, XORed with the rest (mac1
//      recomputed): mutated transcripts, timestamps, indices
//   3  a full handshake, then the rest sealed as a data frame and opened,
//      then the same message with one byte flipped: data path, replay
//      window, AllowedIPs check on fuzzer-chosen plaintext
//
// Nothing persists between inputs except the two fixed key pairs. Run:
// tools/fuzz --time=60 //identity:handshake_fuzzer (docs/fuzzing.md).
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "identity/handshake.h"
#include "identity/messages.h"
#include "identity/peer_crypto.h"

namespace {

using fstun::PeerCrypto;

std::vector<uint8_t> FixedKey(uint8_t seed) {
  std::vector<uint8_t> k(32);
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(seed + 7 * i);
  k[0] &= 248;
  k[31] = (k[31] & 127) | 64;
  return k;
}

std::unique_ptr<PeerCrypto> Make(uint8_t me, uint8_t peer, const char* prefix) {
  fstun::PeerCryptoOptions o;
  o.peers.push_back({fstun::PrivateKey::FromBytes(FixedKey(peer)).public_key(),
                     {*fstun::IpPrefix::Parse(prefix)}});
  return *PeerCrypto::Create(fstun::PrivateKey::FromBytes(FixedKey(me)), {}, std::move(o));
}

void FixMac1(const fstun::PublicKey& receiver, std::vector<uint8_t>& m) {
  std::array<uint8_t, 32> key = fstun::Mac1Key(receiver);
  crypto_generichash(m.data() + m.size() - fstun::kMac1Size, fstun::kMac1Size, m.data(),
                     m.size() - fstun::kMac1Size, key.data(), key.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 70000) return 0;
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  auto server = Make(1, 2, "192.0.2.2/32");
  std::vector<uint8_t> out(fstun::kMaxFrameSize);
  const uint8_t mode = data[0] % 4;
  std::vector<uint8_t> rest(data + 1, data + size);
  switch (mode) {
    case 0:
      server->Open(rest, absl::MakeSpan(out), now);
      break;
    case 1: {
      rest.resize(fstun::kInitiationSize);
      rest[0] = static_cast<uint8_t>(fstun::MessageType::kInitiation);
      rest[1] = rest[2] = rest[3] = 0;
      FixMac1(server->public_key(), rest);
      server->Open(rest, absl::MakeSpan(out), now);
      break;
    }
    case 2: {
      auto client = Make(2, 1, "0.0.0.0/0");
      std::vector<uint8_t> sealed(64);
      client->Seal(0, {}, absl::MakeSpan(sealed), now);  // queues, initiates
      std::vector<PeerCrypto::Outgoing> o = client->TakeOutgoing();
      if (o.empty()) return 0;
      std::vector<uint8_t> m = o[0].bytes;
      for (size_t i = 0; i < rest.size() && i < m.size(); ++i) m[i] ^= rest[i];
      FixMac1(server->public_key(), m);
      server->Open(m, absl::MakeSpan(out), now);
      for (const auto& reply : server->TakeOutgoing())
        client->Open(reply.bytes, absl::MakeSpan(out), now);
      break;
    }
    case 3: {
      auto client = Make(2, 1, "0.0.0.0/0");
      std::vector<uint8_t> sealed(rest.size() + fstun::kDataOverhead);
      client->Seal(0, {}, absl::MakeSpan(sealed), now);
      for (int round = 0; round < 3; ++round) {
        for (const auto& m : client->TakeOutgoing())
          server->Open(m.bytes, absl::MakeSpan(out), now);
        for (const auto& m : server->TakeOutgoing())
          client->Open(m.bytes, absl::MakeSpan(out), now);
      }
      size_t n = client->Seal(0, rest, absl::MakeSpan(sealed), now);
      if (n == 0) return 0;
      sealed.resize(n);
      server->Open(sealed, absl::MakeSpan(out), now);
      if (!rest.empty()) {
        sealed[rest[0] % sealed.size()] ^= 1 + (rest.back() & 0x7f);
        server->Open(sealed, absl::MakeSpan(out), now);
      }
      break;
    }
  }
  server->Tick(now + absl::Seconds(200));
  return 0;
}
