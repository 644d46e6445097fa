#include "seal/key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "glog/logging.h"

namespace fstun {

void InitSodium() {
  static const bool ok = sodium_init() >= 0;
  CHECK(ok) << "libsodium failed to initialise";
}

Key::Key() { bytes_.fill(0); }

Key::~Key() { sodium_memzero(bytes_.data(), bytes_.size()); }

Key::Key(Key&& other) noexcept : bytes_(other.bytes_) {
  sodium_memzero(other.bytes_.data(), other.bytes_.size());
}

Key& Key::operator=(Key&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    sodium_memzero(other.bytes_.data(), other.bytes_.size());
  }
  return *this;
}

Key Key::Generate() {
  InitSodium();
  Key key;
  randombytes_buf(key.bytes_.data(), key.bytes_.size());
  return key;
}

absl::StatusOr<Key> Key::FromBase64(absl::string_view text) {
  InitSodium();
  Key key;
  size_t len = 0;
  const char* end = nullptr;
  int rc = sodium_base642bin(key.bytes_.data(), key.bytes_.size(), text.data(), text.size(),
                             " \t\r\n", &len, &end, sodium_base64_VARIANT_ORIGINAL);
  // Everything must be consumed (trailing whitespace is skipped by `ignore`).
  if (rc != 0 || len != kSize || end != text.data() + text.size()) {
    return absl::InvalidArgumentError(
        "not a key: expected 44 base64 characters (32 bytes) as printed by `fstun genkey`");
  }
  return key;
}

std::string Key::ToBase64() const {
  char out[sodium_base64_ENCODED_LEN(kSize, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(out, sizeof(out), bytes_.data(), bytes_.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string s(out);
  sodium_memzero(out, sizeof(out));
  return s;
}

absl::StatusOr<Key> LoadKeyFile(const std::string& path) {
  // O_NONBLOCK: a FIFO in place of the key must fail the check below, not
  // hang the start-up. fstat on the open file, not stat on the name, so the
  // file checked is the file read.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat("cannot open key file ", path, ": ", strerror(errno),
                                            " (create one with: fstun genkey > ", path,
                                            " && chmod 600 ", path, ")"));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return absl::InternalError(absl::StrCat("cannot stat key file ", path, ": ", strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat("key file ", path, " is not a regular file"));
  }
  if (st.st_uid != geteuid()) {
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrFormat("key file %s is owned by uid %d, not by the user fstun runs as (uid %d); "
                        "run: chown %d %s && chmod 600 %s",
                        path, st.st_uid, geteuid(), geteuid(), path, path));
  }
  if ((st.st_mode & 077) != 0) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrFormat(
        "key file %s is accessible by group or others (mode %04o); run: chmod 600 %s", path,
        st.st_mode & 07777, path));
  }
  // A key file holds 44 characters and a newline; anything much longer is
  // not a key file.
  char buf[256];
  size_t used = 0;
  while (used < sizeof(buf)) {
    ssize_t n = read(fd, buf + used, sizeof(buf) - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      sodium_memzero(buf, sizeof(buf));
      return absl::InternalError(absl::StrCat("cannot read key file ", path, ": ", strerror(err)));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  close(fd);
  absl::StatusOr<Key> key = used == sizeof(buf) ? absl::InvalidArgumentError("file too long")
                                                : Key::FromBase64(absl::string_view(buf, used));
  sodium_memzero(buf, sizeof(buf));
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key file ", path,
        " does not hold a key: expected 44 base64 characters as printed by `fstun genkey`"));
  }
  return key;
}

}  // namespace fstun
