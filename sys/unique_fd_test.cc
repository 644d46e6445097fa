#include "sys/unique_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "gtest/gtest.h"

namespace fstun {
namespace {

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

TEST(UniqueFdTest, ClosesOnceAndMovesOwnership) {
  int raw = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  {
    UniqueFd a(raw);
    UniqueFd b = std::move(a);
    EXPECT_FALSE(a.valid());
    EXPECT_EQ(b.get(), raw);
    EXPECT_TRUE(IsOpen(raw));
  }
  EXPECT_FALSE(IsOpen(raw));

  int other = open("/dev/null", O_RDONLY | O_CLOEXEC);
  UniqueFd c(other);
  int kept = c.release();
  EXPECT_FALSE(c.valid());
  EXPECT_TRUE(IsOpen(kept));
  c.reset(kept);
  c.reset();
  EXPECT_FALSE(IsOpen(kept));
}

}  // namespace
}  // namespace fstun
