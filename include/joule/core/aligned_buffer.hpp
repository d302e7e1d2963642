#pragma once
/** @file aligned_buffer.hpp @brief Owning, 64-byte aligned, zero-initialised storage. */
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>

#include <joule/core/error.hpp>

namespace joule {

/** @brief Alignment of every joule allocation: one cache line, one AVX-512 register. */
inline constexpr std::size_t kAlignment = 64;

/** @brief A fixed-size array of trivially copyable @p T, aligned to kAlignment, zero-filled. */
template <class T>
class aligned_buffer {
  static_assert(std::is_trivially_copyable_v<T>, "aligned_buffer holds trivially copyable types only");

 public:
  aligned_buffer() = default;
  explicit aligned_buffer(std::size_t count) : size_(count) {
    if (count == 0) return;
    require(count <= (std::numeric_limits<std::size_t>::max() - kAlignment) / sizeof(T), "aligned_buffer: ", count,
            " elements do not fit in memory");
    // Round up so that vector kernels may load a whole register at the end of the buffer.
    const std::size_t bytes = (count * sizeof(T) + kAlignment - 1) / kAlignment * kAlignment;
    data_.reset(static_cast<T*>(::operator new (bytes, std::align_val_t{kAlignment})));
    std::memset(static_cast<void*>(data_.get()), 0, bytes);
  }
  aligned_buffer(const aligned_buffer& other) : aligned_buffer(other.size_) {
    if (size_) std::memcpy(static_cast<void*>(data_.get()), other.data_.get(), size_ * sizeof(T));
  }
  aligned_buffer& operator=(const aligned_buffer& other) {
    if (this != &other) *this = aligned_buffer(other);
    return *this;
  }
  aligned_buffer(aligned_buffer&&) noexcept = default;
  aligned_buffer& operator=(aligned_buffer&&) noexcept = default;

  T* data() noexcept { return data_.get(); }
  const T* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }

 private:
  struct deleter {
    void operator()(T* p) const noexcept { ::operator delete (p, std::align_val_t{kAlignment}); }
  };
  std::unique_ptr<T, deleter> data_;
  std::size_t size_ = 0;
};

}  // namespace joule
