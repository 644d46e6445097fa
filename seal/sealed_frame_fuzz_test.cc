// Fuzz-style test of the decrypt-and-parse path: random bytes and mutations
// of genuine sealed frames go through FrameOpener::Open. Nothing may crash
// (this also runs under --config=asan), nothing but an unchanged genuine
// frame may open, and the opener keeps working for genuine frames after.
// The iteration counts are fixed, so the test is deterministic and bounded.
// seal/open_fuzzer.cc is the same path as a libFuzzer target.
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "seal/sealed_frame.h"

namespace fstun {
namespace {

using Error = FrameOpener::Error;

TEST(SealedFrameFuzzTest, RandomBytesNeverOpen) {
  Key key = Key::Generate();
  FrameOpener opener(key, /*my_session=*/1);
  std::mt19937_64 rng(1);
  std::vector<uint8_t> out(kMaxFrameSize);
  std::vector<uint8_t> input;
  for (int i = 0; i < 20000; ++i) {
    input.resize(rng() % 200);
    for (auto& b : input) b = static_cast<uint8_t>(rng());
    // Get past the type check, for each cipher's type.
    if (!input.empty() && (i & 1)) input[0] = (i & 4) ? kSealAesMarker : kSealMarker;
    if (input.size() > 4 && (i & 2)) input[1] = input[2] = input[3] = 0;
    FrameOpener::Result r = opener.Open(input, absl::MakeSpan(out));
    ASSERT_NE(r.error, Error::kOk) << i;
  }
}

TEST(SealedFrameFuzzTest, MutatedGenuineFramesNeverOpen) {
  Key key = Key::Generate();
  FrameSealer sealer(key, 0xC0000202, 77);
  FrameSealer aes_sealer(key, 0xC0000203, 78, aead::Cipher::kAes256Gcm);
  FrameOpener opener(key, /*my_session=*/1);
  std::mt19937_64 rng(2);
  std::vector<uint8_t> out(kMaxFrameSize);
  size_t opened = 0;
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> plain(rng() % 1500);
    for (auto& b : plain) b = static_cast<uint8_t>(rng());
    std::vector<uint8_t> sealed(plain.size() + kSealOverhead);
    FrameSealer& by = (i & 1) ? aes_sealer : sealer;  // each cipher
    ASSERT_EQ(by.Seal(plain, absl::MakeSpan(sealed)), sealed.size());
    // Several mutations of this frame: flips, truncation, extension,
    // overwrite of a run, splice with an older frame.
    for (int m = 0; m < 8; ++m) {
      std::vector<uint8_t> bad = sealed;
      switch (rng() % 5) {
        case 0:
          bad[rng() % bad.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
          break;
        case 1:
          bad.resize(rng() % bad.size());
          break;
        case 2:
          bad.resize(bad.size() + 1 + rng() % 64, static_cast<uint8_t>(rng()));
          break;
        case 3: {
          size_t at = rng() % bad.size();
          size_t len = 1 + rng() % 16;
          for (size_t k = at; k < std::min(bad.size(), at + len); ++k) {
            bad[k] = static_cast<uint8_t>(rng() | 1) ^ bad[k];
          }
          break;
        }
        case 4:
          // Keep the header, replace the body with another frame's.
          bad.resize(kSealHeaderSize);
          for (size_t k = 0; k < 100 + kSealTagSize; ++k)
            bad.push_back(static_cast<uint8_t>(rng()));
          break;
      }
      if (bad == sealed) continue;
      ASSERT_NE(opener.Open(bad, absl::MakeSpan(out)).error, Error::kOk) << i << "/" << m;
    }
    FrameOpener::Result r = opener.Open(sealed, absl::MakeSpan(out));
    ASSERT_EQ(r.error, Error::kOk) << i;
    ASSERT_EQ(r.size, plain.size());
    ASSERT_TRUE(std::equal(plain.begin(), plain.end(), out.begin()));
    ++opened;
    // And never twice.
    ASSERT_EQ(opener.Open(sealed, absl::MakeSpan(out)).error, Error::kReplay);
  }
  EXPECT_EQ(opened, 3000u);
}

}  // namespace
}  // namespace fstun
