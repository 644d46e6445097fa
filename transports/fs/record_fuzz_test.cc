// Fuzz-style test of the file parsers: random images and mutations of valid
// ones, a bounded number of iterations with a fixed seed. The parsers must
// never crash or read out of bounds (run under --config=asan in CI), and
// anything they accept must be self-consistent.
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "transports/fs/announcement.h"
#include "transports/fs/names.h"
#include "transports/fs/record.h"

namespace fstun::fs {
namespace {

std::vector<uint8_t> ValidImage(std::mt19937& rng) {
  std::uniform_int_distribution<int> count(1, 12);
  std::uniform_int_distribution<int> len(1, 1500);
  std::vector<std::vector<uint8_t>> frames(count(rng));
  for (auto& f : frames) {
    f.resize(len(rng));
    for (auto& b : f) b = static_cast<uint8_t>(rng());
  }
  std::vector<FrameView> views(frames.begin(), frames.end());
  RecordEncoder enc;
  std::vector<uint8_t> out;
  for (const iovec& v : enc.Encode("fuzz", rng(), rng(), views)) {
    const uint8_t* p = static_cast<const uint8_t*>(v.iov_base);
    out.insert(out.end(), p, p + v.iov_len);
  }
  return out;
}

void Mutate(std::mt19937& rng, std::vector<uint8_t>& image) {
  std::uniform_int_distribution<int> op(0, 4);
  int edits = 1 + rng() % 4;
  for (int e = 0; e < edits && !image.empty(); ++e) {
    size_t at = rng() % image.size();
    switch (op(rng)) {
      case 0:
        image[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 1:
        image[at] = static_cast<uint8_t>(rng());
        break;
      case 2:
        image.resize(at);
        break;
      case 3:
        image.insert(image.begin() + at, static_cast<uint8_t>(rng()));
        break;
      case 4: {  // overwrite a 32-bit field with an extreme value
        uint32_t v = (rng() & 1) ? 0xFFFFFFFFu : static_cast<uint32_t>(rng() % 70000);
        for (int k = 0; k < 4 && at + k < image.size(); ++k) image[at + k] = (v >> (8 * k)) & 0xFF;
        break;
      }
    }
  }
}

void CheckConsistent(absl::Span<const uint8_t> image, const ParsedRecord& rec) {
  ASSERT_EQ(rec.frames.size(), rec.header.frame_count);
  size_t total = 0;
  for (FrameView f : rec.frames) {
    ASSERT_GE(f.data(), image.data());
    ASSERT_LE(f.data() + f.size(), image.data() + image.size());
    total += f.size();
  }
  ASSERT_EQ(total, rec.header.payload_bytes);
}

TEST(RecordFuzz, RandomAndMutatedImagesNeverCrash) {
  std::mt19937 rng(20261125);
  ParsedRecord rec;
  int accepted_mutants = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> image;
    std::vector<uint8_t> original;
    if (iter % 4 == 0) {
      image.resize(rng() % 300);
      for (auto& b : image) b = static_cast<uint8_t>(rng());
      if (image.size() >= 4 && iter % 8 == 0) {
        image[0] = 'F';
        image[1] = 'S';
        image[2] = 'T';
        image[3] = 'R';
      }
    } else {
      original = ValidImage(rng);
      image = original;
      Mutate(rng, image);
    }
    RecordError e = ParseRecord(image, 1500, rec);
    if (e == RecordError::kOk) {
      if (image != original) ++accepted_mutants;  // a mutation may change nothing
      CheckConsistent(image, rec);
    } else {
      EXPECT_TRUE(rec.frames.empty());
    }
  }
  // CRC-32C makes an accepted mutant astronomically unlikely.
  EXPECT_EQ(accepted_mutants, 0);
}

TEST(RecordFuzz, NamesAndAnnouncementsNeverCrash) {
  std::mt19937 rng(7);
  const std::string alphabet = "abz09.-_/\\\0xrecpetm";
  Announcement a;
  a.id = "p";
  a.session = 1;
  a.mtu = 1500;
  a.addresses = {*IpPrefix::Parse("192.0.2.1/24")};
  const std::string valid = EncodeAnnouncement(a);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string name(rng() % 80, 'x');
    for (char& c : name) c = alphabet[rng() % alphabet.size()];
    auto parsed = ParseInboxName(name);
    if (parsed) {
      EXPECT_TRUE(IsValidPeerId(parsed->sender));
    }
    std::string text = valid;
    size_t edits = 1 + rng() % 3;
    for (size_t e = 0; e < edits; ++e) text[rng() % text.size()] = static_cast<char>(rng());
    if (iter % 10 == 0) text.resize(rng() % text.size());
    (void)ParseAnnouncement(text);
  }
}

}  // namespace
}  // namespace fstun::fs
