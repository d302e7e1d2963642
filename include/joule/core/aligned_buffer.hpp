#pragma once
/** @file aligned_buffer.hpp @brief Owning, 64-byte aligned (large ones on huge pages), zero-initialised storage. */
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>

#include <joule/core/error.hpp>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace joule {

/** @brief Alignment of every joule allocation: one cache line, one AVX-512 register. */
inline constexpr std::size_t kAlignment = 64;

/**
 * @brief Alignment of a joule allocation of at least this many bytes, and the size of the huge
 * pages it asks Linux for (x86-64's and arm64's usual ones); see aligned_buffer.
 */
inline constexpr std::size_t kHugePage = std::size_t{2} << 20;

/**
 * @brief A fixed-size array of trivially copyable @p T, aligned to kAlignment (to kHugePage from
 * kHugePage bytes, advised onto transparent huge pages on Linux), zero-filled.
 */
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
    // A large buffer (weights packed ahead, activations, scratch) on transparent huge pages, which
    // Linux gives on request in its usual "madvise" mode (Debian's default). A GEMM streaming a
    // layer's weights from memory crosses a 4 KiB page every 4 KiB, where the hardware prefetchers
    // stop and the TLB misses; BERT-base at 8 sequences ran in 0.92-0.95 of the time
    // (scripts/ab-models.sh, Zen 5). Aligned to a huge page, not rounded up to one: the whole huge
    // pages inside the buffer get one each, its tail keeps small pages, no memory goes on padding.
    const std::size_t alignment = bytes >= kHugePage ? kHugePage : kAlignment;
    data_ = std::unique_ptr<T, deleter>(static_cast<T*>(::operator new (bytes, std::align_val_t{alignment})),
                                        deleter{alignment});
#if defined(__linux__)
    if (alignment == kHugePage) ::madvise(static_cast<void*>(data_.get()), bytes, MADV_HUGEPAGE);  // a hint only
#endif
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
    std::size_t alignment = kAlignment;
    void operator()(T* p) const noexcept { ::operator delete (p, std::align_val_t{alignment}); }
  };
  std::unique_ptr<T, deleter> data_;
  std::size_t size_ = 0;
};

}  // namespace joule
