#include "ops/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ops/control_client.h"
#include "ops/control_protocol.h"
#include "ops/unix_socket.h"

namespace fstun {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// TEST_TMPDIR is usually longer than a sun_path, which exercises the
// /proc/self/fd route for long paths.
std::string TestDir(const std::string& name) {
  const char* tmp = getenv("TEST_TMPDIR");
  return absl::StrCat(tmp ? tmp : "/tmp", "/control-", name, "-", getpid());
}

ControlServer::Options EchoOptions(const std::string& path) {
  ControlServer::Options o;
  o.path = path;
  o.io_timeout = absl::Milliseconds(300);
  o.handler = [](absl::string_view request) -> absl::StatusOr<std::string> {
    if (request == "status") return std::string("all good\n");
    return absl::InvalidArgumentError("unknown request");
  };
  return o;
}

// Sends raw bytes and returns whatever the server answers before closing.
std::string RawExchange(const std::string& path, const std::string& bytes, bool shut_write = true) {
  absl::StatusOr<UniqueFd> fd = ConnectUnix(path);
  if (!fd.ok()) return absl::StrCat("connect failed: ", fd.status().ToString());
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  WriteAllBy(fd->get(), bytes, deadline).IgnoreError();
  if (shut_write) shutdown(fd->get(), SHUT_WR);
  absl::StatusOr<std::string> reply = ReadBy(fd->get(), 1 << 20, false, deadline);
  return reply.ok() ? *reply : reply.status().ToString();
}

TEST(ControlServerTest, AnswersAndRefusesWithoutDying) {
  std::string path = TestDir("answers") + "/sub/tun0.sock";
  auto server = ControlServer::Listen(EchoOptions(path));
  ASSERT_TRUE(server.ok()) << server.status();
  (*server)->Start();

  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(stat((TestDir("answers") + "/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700);

  absl::StatusOr<std::string> reply = QueryDaemon(path, "status");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, "all good\n");

  reply = QueryDaemon(path, "shutdown");
  EXPECT_TRUE(absl::IsFailedPrecondition(reply.status())) << reply.status();
  EXPECT_THAT(reply.status().message(), HasSubstr("unknown request"));

  EXPECT_THAT(RawExchange(path, std::string(100000, 'A')),
              StartsWith("error: request longer than 256 bytes"));
  EXPECT_THAT(RawExchange(path, std::string("\x00\xff\x01garbage\n", 11)),
              StartsWith("error: unknown request"));
  EXPECT_THAT(RawExchange(path, "status"), StartsWith("error: a request is one line"));
  EXPECT_THAT(RawExchange(path, "status\nstatus\n"),
              StartsWith("error: one request per connection"));
  EXPECT_THAT(RawExchange(path, ""), StartsWith("error: a request is one line"));
  // A client that connects and never writes is dropped after the timeout.
  EXPECT_THAT(RawExchange(path, "", /*shut_write=*/false), StartsWith("error: timed out"));

  reply = QueryDaemon(path, "status");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, "all good\n");
  EXPECT_EQ((*server)->served(), 2);
  EXPECT_EQ((*server)->refused(), 7);

  server->reset();
  EXPECT_NE(stat(path.c_str(), &st), 0) << "socket left behind";
  reply = QueryDaemon(path, "status");
  EXPECT_TRUE(absl::IsNotFound(reply.status())) << reply.status();
}

TEST(ControlServerTest, ReplacesAStaleSocketButNotALiveOne) {
  std::string path = TestDir("stale") + "/tun0.sock";
  {
    auto first = ControlServer::Listen(EchoOptions(path));
    ASSERT_TRUE(first.ok()) << first.status();
    (*first)->Start();
    auto second = ControlServer::Listen(EchoOptions(path));
    EXPECT_TRUE(absl::IsAlreadyExists(second.status())) << second.status();
    EXPECT_THAT(second.status().message(), HasSubstr("another fstun answers on"));
    // The refused second server must not have removed the first's socket.
    EXPECT_TRUE(QueryDaemon(path, "status").ok());
  }
  // A socket file nobody listens on (a daemon killed with SIGKILL).
  auto stale = BindUnix(path);
  ASSERT_TRUE(stale.ok()) << stale.status();
  stale->release();  // leaked on purpose: bound, never listening
  EXPECT_TRUE(absl::IsUnavailable(QueryDaemon(path, "status").status()));
  auto replacement = ControlServer::Listen(EchoOptions(path));
  ASSERT_TRUE(replacement.ok()) << replacement.status();
  (*replacement)->Start();
  EXPECT_TRUE(QueryDaemon(path, "status").ok());
}

TEST(ControlServerTest, TicksWithAndWithoutASocket) {
  for (std::string path : {TestDir("ticks") + "/tun0.sock", std::string()}) {
    std::atomic<int> ticks{0};
    ControlServer::Options o = EchoOptions(path);
    o.tick_interval = absl::Milliseconds(10);
    o.on_tick = [&] { ticks.fetch_add(1); };
    auto server = ControlServer::Listen(o);
    ASSERT_TRUE(server.ok()) << server.status();
    (*server)->Start();
    for (int i = 0; i < 500 && ticks.load() < 3; ++i) absl::SleepFor(absl::Milliseconds(10));
    EXPECT_GE(ticks.load(), 3) << "path '" << path << "'";
    (*server)->Stop();
    int after_stop = ticks.load();
    absl::SleepFor(absl::Milliseconds(50));
    EXPECT_EQ(ticks.load(), after_stop);
  }
}

// Runs `body` in a child process as user nobody; returns its exit code.
int AsNobody(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(100);
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 101;
}

TEST(ControlServerTest, OnlyRootOrTheDaemonsUserMayAsk) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to nobody";
  if (AsNobody([] { return 0; }) == 100) {
    GTEST_SKIP() << "cannot switch to uid 65534 here (a sandbox's user namespace maps only root)";
  }
  // Under /tmp, not TEST_TMPDIR: nobody must be able to walk to the socket
  // for the second half (TEST_TMPDIR usually sits below root's 0700 home).
  std::string dir = absl::StrCat("/tmp/fstun-control-perm-", getpid());
  struct RemoveDir {
    std::string dir;
    ~RemoveDir() { rmdir(dir.c_str()); }
  } remove_dir{dir};
  std::string path = dir + "/tun0.sock";
  auto server = ControlServer::Listen(EchoOptions(path));
  ASSERT_TRUE(server.ok()) << server.status();
  (*server)->Start();
  // The 0700 directory keeps others out...
  EXPECT_EQ(AsNobody([&] {
              return absl::IsPermissionDenied(QueryDaemon(path, "status").status()) ? 0 : 1;
            }),
            0);
  // ...and should it be opened up, the daemon still checks who asks.
  ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
  ASSERT_EQ(chmod(path.c_str(), 0666), 0);
  EXPECT_EQ(AsNobody([&] {
              absl::StatusOr<std::string> r = QueryDaemon(path, "status");
              return absl::IsFailedPrecondition(r.status()) &&
                             r.status().message() == "permission denied"
                         ? 0
                         : 1;
            }),
            0);
  EXPECT_TRUE(QueryDaemon(path, "status").ok());
  server->reset();  // removes the socket; RemoveDir the directory
}

TEST(ControlProtocolTest, SocketNameNamesInterfaceAndNamespace) {
  absl::StatusOr<std::string> path = ControlSocketPath("/run/fstun", "tun0");
  ASSERT_TRUE(path.ok());
  struct stat st;
  ASSERT_EQ(stat("/proc/self/ns/net", &st), 0);
  EXPECT_EQ(*path, absl::StrCat("/run/fstun/tun0.net", st.st_ino, ".sock"));
}

}  // namespace
}  // namespace fstun
