// libFuzzer target over the decrypt-and-parse path (FrameOpener::Open).
// Build with clang (see seal/BUILD); the gtest seal/sealed_frame_fuzz_test
// runs a bounded, deterministic version of the same idea in CI.
//
// With a fixed key the fuzzer can still reach past authentication only by
// forging Poly1305, so half of the inputs are first sealed with the key:
// those exercise the session and replay-window logic with fuzzer-chosen
// sender ids, sessions and sequence numbers.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "seal/sealed_frame.h"

namespace {

fstun::Key& FuzzKey() {
  static fstun::Key* key =
      new fstun::Key(*fstun::Key::FromBase64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="));
  return *key;
}

uint64_t Read64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fstun::FrameOpener* opener = new fstun::FrameOpener(FuzzKey(), /*my_session=*/1, 64);
  static std::vector<uint8_t> out(fstun::kMaxFrameSize);
  if (size > 0 && (data[0] & 1) && size >= 21) {
    // [flags: 1 seal, 2 hello first, 4 XAES][sender 4][session 8][echo 8][payload...]
    uint32_t sender = static_cast<uint32_t>(Read64(data + 1) >> 32);
    uint64_t session = Read64(data + 5) & 0xFF;  // few sessions, so they collide
    fstun::FrameSealer sealer(
        FuzzKey(), sender & 0x3F, session,
        (data[0] & 4) ? fstun::aead::Cipher::kAes256Gcm : fstun::aead::Cipher::kChaCha20Poly1305);
    sealer.set_echo(Read64(data + 13) & 3);
    if (data[0] & 2) {
      std::vector<uint8_t> hello(fstun::kSealOverhead);
      sealer.SealHello(absl::MakeSpan(hello));
      opener->Open(hello, absl::MakeSpan(out));
    }
    std::vector<uint8_t> sealed(size - 21 + fstun::kSealOverhead);
    sealer.Seal(fstun::FrameView(data + 21, size - 21), absl::MakeSpan(sealed));
    opener->Open(sealed, absl::MakeSpan(out));
    return 0;
  }
  opener->Open(fstun::FrameView(data, size), absl::MakeSpan(out));
  return 0;
}
