// CRC-32C: the published vectors (the transports' wire formats depend on
// these exact values), and the hardware and portable paths agree on every
// length, alignment and split.
#include "core/crc32c.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace fstun {
namespace {

std::vector<uint8_t> Pattern(size_t size) {
  std::vector<uint8_t> v(size);
  for (size_t i = 0; i < size; ++i) v[i] = static_cast<uint8_t>(i * 31 + 3);
  return v;
}

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32c("", 0), 0u);
  // RFC 3720 (iSCSI), appendix B.4.
  std::vector<uint8_t> zeros(32, 0x00), ones(32, 0xFF), up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<uint8_t>(i);
    down[i] = static_cast<uint8_t>(31 - i);
  }
  EXPECT_EQ(Crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(Crc32c(up.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(down.data(), 32), 0x113FDB5Cu);
  EXPECT_EQ(Crc32cExtendPortable(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32cExtendPortable(0, down.data(), 32), 0x113FDB5Cu);
}

TEST(Crc32cTest, BothPathsAgreeOnEveryLengthAndAlignment) {
  std::vector<uint8_t> data = Pattern(10007);
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t n = 0; n <= 80; ++n) {
      EXPECT_EQ(Crc32c(data.data() + offset, n), Crc32cExtendPortable(0, data.data() + offset, n))
          << "offset " << offset << " length " << n;
    }
  }
  EXPECT_EQ(Crc32c(data.data(), data.size()), Crc32cExtendPortable(0, data.data(), data.size()));
}

// Long inputs run as three interleaved parts joined by shift tables: every
// length around the part boundaries (3 x 256 B, 3 x 8 KiB) and a record's
// worth must give the portable value.
TEST(Crc32cTest, InterleavedPartsAgreeAroundEveryBoundary) {
  // Not Pattern(): its period (256) would give the three parts equal bytes.
  std::vector<uint8_t> data(3 * 65536 + 100);
  uint64_t x = 0x9E3779B97F4A7C15;
  for (uint8_t& b : data) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<uint8_t>(x >> 32);
  }
  for (size_t base : {size_t{768}, size_t{1536}, size_t{24576}, size_t{49152}, size_t{65546}}) {
    for (size_t n = base - 9; n <= base + 9; ++n) {
      for (size_t offset : {0, 3}) {
        EXPECT_EQ(Crc32cExtend(0x12345678, data.data() + offset, n),
                  Crc32cExtendPortable(0x12345678, data.data() + offset, n))
            << "offset " << offset << " length " << n;
      }
    }
  }
  EXPECT_EQ(Crc32c(data.data(), data.size()), Crc32cExtendPortable(0, data.data(), data.size()));
}

TEST(Crc32cTest, ExtendingEqualsOnePass) {
  std::vector<uint8_t> data = Pattern(10007);
  uint32_t whole = Crc32c(data.data(), data.size());
  for (size_t split : {0, 1, 7, 8, 333, 5000, 10007}) {
    EXPECT_EQ(Crc32cExtend(Crc32c(data.data(), split), data.data() + split, data.size() - split),
              whole)
        << split;
    EXPECT_EQ(Crc32cExtendPortable(Crc32cExtendPortable(0, data.data(), split), data.data() + split,
                                   data.size() - split),
              whole)
        << split;
  }
}

}  // namespace
}  // namespace fstun
