// DropPrivileges leaves only CAP_NET_ADMIN, switches user, sets
// no_new_privs, and empties the bounding set. Each case runs in a forked
// child; nothing on the host changes.
#include "security/privileges.h"

#include <fcntl.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/syscalls.h"
#include "gtest/gtest.h"
#include "security/seccomp_filter.h"

namespace fstun {
namespace {

void RunInChild(const std::function<bool()>& body) {
  fflush(nullptr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    bool ok = body();
    fflush(nullptr);
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see the child's messages above";
}

bool Check(bool cond, const std::string& what) {
  if (!cond) fprintf(stderr, "FAILED: %s (errno %d: %s)\n", what.c_str(), errno, strerror(errno));
  return cond;
}

bool Has(cap_value_t cap, cap_flag_t set) {
  cap_t caps = cap_get_proc();
  cap_flag_value_t v = CAP_CLEAR;
  cap_get_flag(caps, cap, set, &v);
  cap_free(caps);
  return v == CAP_SET;
}

std::string RootOnlyFile() {
  const char* d = std::getenv("TEST_TMPDIR");
  std::string path = absl::StrCat(d ? d : "/tmp", "/root-only");
  std::ofstream(path) << "secret";
  chmod(path.c_str(), 0600);
  return path;
}

class PrivilegesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || !Has(CAP_SETUID, CAP_EFFECTIVE)) GTEST_SKIP() << "needs root";
  }
};

TEST_F(PrivilegesTest, SwitchesUserAndKeepsOnlyNetAdmin) {
  std::string secret = RootOnlyFile();
  RunInChild([&] {
    absl::Status s = DropPrivileges({"nobody"});
    if (!Check(s.ok(), s.ToString())) return false;
    bool ok = true;
    ok &= Check(getuid() == 65534 && geteuid() == 65534, "uid is nobody's");
    uid_t r, e, saved;
    getresuid(&r, &e, &saved);
    ok &= Check(saved == 65534, "saved uid is nobody's too (no way back)");
    ok &= Check(Has(CAP_NET_ADMIN, CAP_EFFECTIVE), "CAP_NET_ADMIN kept for teardown");
    ok &= Check(Has(CAP_NET_ADMIN, CAP_PERMITTED), "CAP_NET_ADMIN permitted");
    for (cap_value_t c : {CAP_SYS_ADMIN, CAP_DAC_OVERRIDE, CAP_SETUID, CAP_NET_RAW, CAP_CHOWN}) {
      ok &=
          Check(!Has(c, CAP_EFFECTIVE) && !Has(c, CAP_PERMITTED), absl::StrCat("cap ", c, " gone"));
      ok &= Check(prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 0,
                  absl::StrCat("cap ", c, " not in bounding set"));
    }
    ok &= Check(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, "no_new_privs");
    ok &= Check(open(secret.c_str(), O_RDONLY) == -1 && errno == EACCES,
                "root's 0600 file is unreadable");
    ok &= Check(setuid(0) == -1, "cannot become root again");
    // And the seccomp filter installs without CAP_SYS_ADMIN.
    absl::Status f = InstallSeccompFilter(CoreSyscalls());
    ok &= Check(f.ok(), f.ToString());
    return ok;
  });
}

TEST_F(PrivilegesTest, WithoutAUserStaysRootWithOnlyNetAdmin) {
  RunInChild([&] {
    absl::Status s = DropPrivileges({});
    if (!Check(s.ok(), s.ToString())) return false;
    bool ok = Check(geteuid() == 0, "still uid 0");
    ok &= Check(Has(CAP_NET_ADMIN, CAP_EFFECTIVE), "CAP_NET_ADMIN kept");
    ok &= Check(!Has(CAP_DAC_OVERRIDE, CAP_EFFECTIVE), "CAP_DAC_OVERRIDE gone");
    ok &= Check(!Has(CAP_SYS_ADMIN, CAP_PERMITTED), "CAP_SYS_ADMIN gone");
    const char* d = std::getenv("TEST_TMPDIR");
    std::string path = absl::StrCat(d ? d : "/tmp", "/chown-me");
    std::ofstream(path) << "x";
    ok &= Check(chown(path.c_str(), 65534, 65534) == -1 && errno == EPERM,
                "chown refused without CAP_CHOWN");
    return ok;
  });
}

TEST_F(PrivilegesTest, UnknownUserIsAClearError) {
  RunInChild([] {
    absl::Status s = DropPrivileges({"no-such-user-fstun"});
    return Check(!s.ok() && absl::StrContains(s.message(), "no-such-user-fstun"), s.ToString());
  });
}

}  // namespace
}  // namespace fstun
