// Cost of sealing: one frame sealed and opened (the per-frame CPU cost), and
// a batch through SealedTransport over the memory transport against the bare
// memory transport (the cost seen by the pump). BM_LibcryptoAeadSeal: what
// other AEADs of the same libcrypto would cost per frame (docs/security.md,
// "Cost"). BM_AesGcmKeySeal: fstun's AES-256-GCM (seal/aes_gcm.h) per
// backend.
//
//   bazel run -c opt //seal:seal_benchmark
#include <openssl/evp.h>

#include <vector>

#include "benchmark/benchmark.h"
#include "seal/aead.h"
#include "seal/aes_gcm.h"
#include "seal/sealed_frame.h"
#include "seal/sealed_transport.h"
#include "testing/packet_builder.h"
#include "transports/memory/memory_transport.h"

namespace fstun {
namespace {

using ::fstun::testing::Ip;
using ::fstun::testing::PacketBuilder;

// range(0): frame size; range(1): 0 = the default AEAD backend (libcrypto
// from aead::kLargeInput bytes on), 1 = libsodium for every size (before).
void BM_SealOpen(benchmark::State& state) {
  aead::InitAead();
  aead::SetBackendForTest(state.range(1) ? aead::Backend::kLibsodium : aead::Backend::kAuto);
  Key key = Key::Generate();
  FrameSealer sealer(key, 1, 1);
  FrameOpener opener(key, /*my_session=*/1);
  std::vector<uint8_t> packet =
      PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), 1, state.range(0));
  std::vector<uint8_t> sealed(packet.size() + kSealOverhead);
  std::vector<uint8_t> out(packet.size());
  for (auto _ : state) {
    sealer.Seal(packet, absl::MakeSpan(sealed));
    FrameOpener::Result r = opener.Open(sealed, absl::MakeSpan(out));
    benchmark::DoNotOptimize(r.size);
  }
  state.SetBytesProcessed(state.iterations() * packet.size());
  aead::SetBackendForTest(aead::Backend::kAuto);
}
BENCHMARK(BM_SealOpen)->ArgsProduct({{64, 1400, 65535}, {0, 1}});

// One 64 KiB frame sealed (12-byte nonce, 12 bytes of associated data, a
// 16-byte tag) by libcrypto's EVP interface, the way seal/aead.cc calls it.
void BM_LibcryptoAeadSeal(benchmark::State& state, const char* cipher_name) {
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, cipher_name, nullptr);
  if (cipher == nullptr) {
    state.SkipWithError("this libcrypto lacks the cipher");
    return;
  }
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_EncryptInit_ex2(ctx, cipher, nullptr, nullptr, nullptr);
  std::vector<uint8_t> key(EVP_CIPHER_get_key_length(cipher), 1);
  uint8_t nonce[12] = {};
  uint8_t tag[16];
  std::vector<uint8_t> frame(65536, 3), out(65536);
  int n = 0;
  for (auto _ : state) {
    ++nonce[0];
    EVP_EncryptInit_ex2(ctx, nullptr, key.data(), nonce, nullptr);
    EVP_EncryptUpdate(ctx, nullptr, &n, nonce, sizeof(nonce));
    EVP_EncryptUpdate(ctx, out.data(), &n, frame.data(), static_cast<int>(frame.size()));
    EVP_EncryptFinal_ex(ctx, out.data() + n, &n);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, sizeof(tag), tag);
    benchmark::DoNotOptimize(tag);
  }
  state.SetBytesProcessed(state.iterations() * frame.size());
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(cipher);
}
BENCHMARK_CAPTURE(BM_LibcryptoAeadSeal, chacha20_poly1305, "ChaCha20-Poly1305");
BENCHMARK_CAPTURE(BM_LibcryptoAeadSeal, aes_256_gcm, "AES-256-GCM");
BENCHMARK_CAPTURE(BM_LibcryptoAeadSeal, aes_256_ocb, "AES-256-OCB");
BENCHMARK_CAPTURE(BM_LibcryptoAeadSeal, aes_128_ocb, "AES-128-OCB");

// range(0): 0 = libcrypto, 1 = ipsec-mb (where the build and CPU have it).
void BM_AesGcmKeySeal(benchmark::State& state) {
  aead::InitAead();
  aead::SetAesBackendForTest(state.range(0) ? aead::AesBackend::kIpsecMb
                                            : aead::AesBackend::kLibcrypto);
  state.SetLabel(aead::ActiveAesBackend() == aead::AesBackend::kIpsecMb ? "ipsec-mb" : "libcrypto");
  Key key = Key::Generate();
  aead::AesGcmKey k(key.bytes().data());
  aead::SetAesBackendForTest(aead::AesBackend::kAuto);
  std::vector<uint8_t> frame(65536, 3), out(65536 + 16);
  uint8_t nonce[12] = {}, ad[16] = {};
  for (auto _ : state) {
    ++nonce[0];
    k.Seal(nonce, frame, ad, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * frame.size());
}
BENCHMARK(BM_AesGcmKeySeal)->Arg(0)->Arg(1);

// range(0): frame size; range(1): 0 = bare memory transport, 1 = sealed
// with XChaCha20-Poly1305, 2 = sealed with XAES-256-GCM.
void BM_MemoryTransportBatch(benchmark::State& state) {
  const size_t size = state.range(0);
  MemoryTransportOptions options;
  options.mtu = size + kSealOverhead;
  options.carry_gso_frames = size > 9000;
  auto [a_inner, b_inner] = MemoryTransport::CreatePair(options);
  std::unique_ptr<Transport> a = std::move(a_inner);
  std::unique_ptr<Transport> b = std::move(b_inner);
  Key key = Key::Generate();
  std::string text = key.ToBase64();
  if (state.range(1)) {
    auto [x, y] = MemoryTransport::CreatePair(options);
    const aead::Cipher cipher =
        state.range(1) == 2 ? aead::Cipher::kAes256Gcm : aead::Cipher::kChaCha20Poly1305;
    a = *SealedTransport::Create(std::move(x), *Key::FromBase64(text), {size, 1, 0, cipher});
    b = *SealedTransport::Create(std::move(y), *Key::FromBase64(text), {size, 2, 0, cipher});
  }
  std::vector<uint8_t> packet = PacketBuilder::TaggedUdp(Ip("192.0.2.2"), Ip("192.0.2.1"), 1, size);
  std::vector<FrameView> batch(64, FrameView(packet));
  FrameBatch in(64, kMaxFrameSize);
  // The first Send adds the sender's hello (sealed_transport.h), and one of
  // its 64 frames does not come out of that first Receive; the loop below
  // stopped there with "frames lost". Measure from the first whole batch on.
  for (int i = 0; i < 100; ++i) {
    (void)a->Send(MemoryTransport::kPeer, batch);
    in.Clear();
    (void)b->Receive(in);
    if (in.size() == 64) break;
  }
  for (auto _ : state) {
    (void)a->Send(MemoryTransport::kPeer, batch);
    in.Clear();
    (void)b->Receive(in);
    if (in.size() != 64) state.SkipWithError("frames lost");
  }
  state.SetBytesProcessed(state.iterations() * 64 * size);
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_MemoryTransportBatch)
    ->Args({1400, 0})
    ->Args({1400, 1})
    ->Args({1400, 2})
    ->Args({65535, 0})
    ->Args({65535, 1})
    ->Args({65535, 2});

}  // namespace
}  // namespace fstun
