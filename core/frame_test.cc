#include "core/frame.h"

#include <vector>

#include "gtest/gtest.h"

namespace fstun {
namespace {

TEST(FrameBatchTest, AppendKeepsOrderAndBytes) {
  FrameBatch batch(3, 100);
  std::vector<uint8_t> a = {1, 2, 3}, b = {4}, c(100, 7);
  EXPECT_TRUE(batch.Append(a));
  EXPECT_TRUE(batch.Append(b));
  EXPECT_TRUE(batch.Append(c));
  EXPECT_TRUE(batch.full());
  EXPECT_FALSE(batch.Append(b)) << "a full batch refuses more";
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(std::vector<uint8_t>(batch[0].begin(), batch[0].end()), a);
  EXPECT_EQ(std::vector<uint8_t>(batch[1].begin(), batch[1].end()), b);
  EXPECT_EQ(std::vector<uint8_t>(batch[2].begin(), batch[2].end()), c);
}

TEST(FrameBatchTest, RefusesFrameLargerThanSlot) {
  FrameBatch batch(2, 64);
  std::vector<uint8_t> big(65, 1);
  EXPECT_FALSE(batch.Append(big));
  EXPECT_TRUE(batch.empty());
}

TEST(FrameBatchTest, ClearReusesTheSameMemory) {
  FrameBatch batch(2, 64);
  const uint8_t* first = batch.NextSlot().data();
  batch.CommitNext(10);
  batch.Clear();
  EXPECT_EQ(batch.NextSlot().data(), first);
}

TEST(FrameBatchTest, ConsumeFrontKeepsTheRestInOrder) {
  FrameBatch batch(4, 16);
  for (uint8_t i = 0; i < 4; ++i) {
    std::vector<uint8_t> f = {i};
    batch.Append(f);
  }
  batch.ConsumeFront(1);
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0][0], 1);
  EXPECT_EQ(batch[2][0], 3);
  // The freed slot is reusable and does not overwrite live frames.
  std::vector<uint8_t> f = {9};
  ASSERT_TRUE(batch.Append(f));
  EXPECT_EQ(batch[0][0], 1);
  EXPECT_EQ(batch[3][0], 9);
}

}  // namespace
}  // namespace fstun
