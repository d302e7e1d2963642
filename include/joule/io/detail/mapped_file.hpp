#pragma once
/**
 * @file mapped_file.hpp
 * @brief A read-only memory mapping of a whole file, unmapped on destruction (POSIX mmap).
 *
 * The mapping is private and read-only; readers must still check every offset against size()
 * themselves. A file that another process truncates while it is mapped raises SIGBUS on access:
 * no reader can guard against that, so joule never maps files it is writing.
 */
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <joule/core/error.hpp>
#include <joule/io/detail/errno_text.hpp>

namespace joule::io::detail {

/** @brief The read-only mapping of one file; move-only. An empty file maps to no memory. */
class mapped_file {
 public:
  mapped_file() = default;
  /** @brief Maps @p path; @p what ("safetensors", "npy") starts every error message. */
  mapped_file(const std::string& path, const char* what) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(what, " file '", path, "': cannot open: ", errno_text(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      fail(what, " file '", path, "': cannot stat: ", errno_text(err));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      fail(what, " file '", path, "': not a regular file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        fail(what, " file '", path, "': cannot map ", size_, " bytes: ", errno_text(err));
      }
      data_ = static_cast<const std::byte*>(p);
    }
    ::close(fd);  // the mapping keeps the file's pages reachable
  }
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  mapped_file(mapped_file&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  mapped_file& operator=(mapped_file&& other) noexcept {
    if (this != &other) {
      unmap();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~mapped_file() { unmap(); }

  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  void unmap() noexcept {
    if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
  }

  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace joule::io::detail
