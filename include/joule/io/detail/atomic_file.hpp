#pragma once
/**
 * @file atomic_file.hpp
 * @brief Writing a file so that readers see either the old file or the complete new one.
 *
 * The bytes go to `<path>.tmp.<pid>`, are flushed to disk with fsync, and the temporary file is
 * then renamed over @p path (rename is atomic within a file system on POSIX). A crash or an error
 * part-way leaves at most the temporary file behind, never a half-written @p path; an error or an
 * uncommitted destruction removes the temporary file.
 */
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <joule/core/error.hpp>
#include <joule/io/detail/errno_text.hpp>

namespace joule::io::detail {

/** @brief A file being written to a temporary name, put in place by commit(). Not copyable. */
class atomic_file {
 public:
  /** @brief Creates `<path>.tmp.<pid>`; @p what ("safetensors", "npy") starts every error message. */
  atomic_file(std::string path, const char* what)
      : path_(std::move(path)), tmp_(path_ + ".tmp." + std::to_string(::getpid())), what_(what) {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd_ < 0) fail(what_, " file '", path_, "': cannot create '", tmp_, "': ", errno_text(errno));
  }
  atomic_file(const atomic_file&) = delete;
  atomic_file& operator=(const atomic_file&) = delete;
  ~atomic_file() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(tmp_.c_str());
    }
  }

  /** @brief Appends @p size bytes from @p data. */
  void write(const void* data, std::size_t size) {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
      const ::ssize_t n = ::write(fd_, p, size);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail(what_, " file '", path_, "': cannot write '", tmp_, "': ", errno_text(n < 0 ? errno : EIO));
      p += n;
      size -= static_cast<std::size_t>(n);
      written_ += static_cast<std::size_t>(n);
    }
  }
  std::size_t written() const noexcept { return written_; }

  /** @brief Flushes the data to disk and renames the temporary file over the target path. */
  void commit() {
    if (::fsync(fd_) != 0) fail(what_, " file '", path_, "': cannot flush '", tmp_, "': ", errno_text(errno));
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      const int err = errno;
      ::unlink(tmp_.c_str());
      fail(what_, " file '", path_, "': cannot close '", tmp_, "': ", errno_text(err));
    }
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const int err = errno;
      ::unlink(tmp_.c_str());
      fail(what_, " file '", path_, "': cannot rename '", tmp_, "' into place: ", errno_text(err));
    }
    sync_directory();
  }

 private:
  // Makes the rename itself durable. Best effort: some file systems refuse fsync on a directory,
  // and the file is already complete and in place either way.
  void sync_directory() const noexcept {
    const auto slash = path_.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)::fsync(fd);
    ::close(fd);
  }

  std::string path_, tmp_;
  const char* what_;
  int fd_ = -1;
  std::size_t written_ = 0;
};

}  // namespace joule::io::detail
