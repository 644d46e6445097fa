#include "seal/replay_window.h"

#include "gtest/gtest.h"

namespace fstun {
namespace {

using Verdict = ReplayWindow::Verdict;

TEST(ReplayWindowTest, InOrderNumbersAreAcceptedOnce) {
  ReplayWindow w;
  for (uint64_t i = 0; i < 10000; ++i) ASSERT_EQ(w.Accept(i), Verdict::kAccepted) << i;
  EXPECT_EQ(w.Accept(9999), Verdict::kReplay);
  EXPECT_EQ(w.Accept(9000), Verdict::kReplay);
  EXPECT_EQ(w.Accept(0), Verdict::kTooOld);
}

TEST(ReplayWindowTest, ReorderInsideTheWindowIsAcceptedBeyondIsTooOld) {
  ReplayWindow w;
  ASSERT_EQ(w.Accept(5000), Verdict::kAccepted);
  EXPECT_EQ(w.Accept(5000 - ReplayWindow::kWindowSize), Verdict::kAccepted);
  EXPECT_EQ(w.Accept(5000 - ReplayWindow::kWindowSize), Verdict::kReplay);
  EXPECT_EQ(w.Accept(5000 - ReplayWindow::kWindowSize - 1), Verdict::kTooOld);
  for (uint64_t i = 4999; i > 5000 - ReplayWindow::kWindowSize; --i) {
    ASSERT_EQ(w.Accept(i), Verdict::kAccepted) << i;
  }
  for (uint64_t i = 4999; i > 5000 - ReplayWindow::kWindowSize; --i) {
    ASSERT_EQ(w.Accept(i), Verdict::kReplay) << i;
  }
}

TEST(ReplayWindowTest, BigJumpForgetsOldBitsButNotTheNewHighest) {
  ReplayWindow w;
  for (uint64_t i = 0; i < 100; ++i) w.Accept(i);
  EXPECT_EQ(w.Accept(1'000'000), Verdict::kAccepted);
  EXPECT_EQ(w.Accept(1'000'000), Verdict::kReplay);
  // Numbers inside the new window that were never seen (their ring slots
  // once held 0..99) are accepted.
  EXPECT_EQ(w.Accept(1'000'000 - 64), Verdict::kAccepted);
  EXPECT_EQ(w.Accept(50), Verdict::kTooOld);
}

TEST(ReplayWindowTest, ResetStartsOver) {
  ReplayWindow w;
  w.Accept(7);
  w.Reset();
  EXPECT_EQ(w.Accept(7), Verdict::kAccepted);
  EXPECT_EQ(w.highest(), 7u);
}

}  // namespace
}  // namespace fstun
