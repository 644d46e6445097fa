// UniqueFd: the one owner of a file descriptor in fstun. Closes it on
// destruction; movable, not copyable (as std::unique_ptr for memory).
//
//   UniqueFd fd(open(path, O_RDONLY | O_CLOEXEC));
//   if (!fd.valid()) return ErrnoError(...);
//   read(fd.get(), ...);
//   return fd;  // ownership moves to the caller
#ifndef FSTUN_SYS_UNIQUE_FD_H_
#define FSTUN_SYS_UNIQUE_FD_H_

namespace fstun {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives the descriptor up without closing it.
  [[nodiscard]] int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes the current descriptor (if any) and owns `fd` instead.
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

}  // namespace fstun

#endif  // FSTUN_SYS_UNIQUE_FD_H_
