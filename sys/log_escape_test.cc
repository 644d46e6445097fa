#include "sys/log_escape.h"

#include "gtest/gtest.h"

namespace fstun {
namespace {

TEST(LogEscapeTest, OrdinaryNamesStayReadable) {
  EXPECT_EQ(EscapeForLog("192-0-2-2"), "192-0-2-2");
  EXPECT_EQ(EscapeForLog("server"), "server");
}

TEST(LogEscapeTest, ForgedLinesAndTerminalEscapesAreNeutralised) {
  EXPECT_EQ(EscapeForLog("a\nE1201 fake"), "a\\nE1201 fake");
  EXPECT_EQ(EscapeForLog("\x1b[2J"), "\\x1b[2J");
  EXPECT_EQ(EscapeForLog("caf\xc3\xa9"), "caf\\xc3\\xa9");
  EXPECT_EQ(EscapeForLog(std::string("a\0z", 3)), "a\\x00z");
}

TEST(LogEscapeTest, LongInputIsCut) {
  EXPECT_EQ(EscapeForLog(std::string(1000, 'x'), 4), "xxxx...");
}

}  // namespace
}  // namespace fstun
