#pragma once
/** @file shape.hpp @brief joule::shape: the dimensions of a row-major tensor, rank 0 to 5. */
#include <array>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <ostream>
#include <span>
#include <string>

#include <joule/core/error.hpp>

namespace joule {

/** @brief Highest rank a joule tensor can have (NCHW plus one, e.g. grouped weights). */
inline constexpr int kMaxRank = 5;

/** @brief Dimensions of a contiguous row-major tensor; every dimension is >= 0. */
class shape {
 public:
  shape() = default;
  shape(std::initializer_list<std::int64_t> dims) : shape(std::span<const std::int64_t>(dims.begin(), dims.size())) {}
  explicit shape(std::span<const std::int64_t> dims) {
    require(dims.size() <= static_cast<std::size_t>(kMaxRank), "shape: rank ", dims.size(),
            " exceeds the maximum rank ", kMaxRank);
    rank_ = static_cast<int>(dims.size());
    for (int i = 0; i < rank_; ++i) {
      require(dims[i] >= 0, "shape: dimension ", i, " is negative (", dims[i], ")");
      dims_[i] = dims[i];
    }
    numel();  // rejects shapes whose element count overflows
  }

  int rank() const noexcept { return rank_; }
  /** @brief Dimension @p i; negative @p i counts from the end, as in NumPy. */
  std::int64_t operator[](int i) const {
    const int j = i < 0 ? i + rank_ : i;
    if (j < 0 || j >= rank_) fail("shape: axis ", i, " is out of range for ", *this);
    return dims_[j];
  }
  std::span<const std::int64_t> dims() const noexcept { return {dims_.data(), static_cast<std::size_t>(rank_)}; }

  /** @brief Number of elements (1 for rank 0); throws if it does not fit in int64. */
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank_; ++i) {
      if (dims_[i] != 0 && n > std::numeric_limits<std::int64_t>::max() / dims_[i])
        fail("shape: element count of ", to_string(), " overflows int64");
      n *= dims_[i];
    }
    return n;
  }

  /** @brief Product of the dimensions before @p axis (the "rows" when flattening to 2-D). */
  std::int64_t prefix(int axis) const {
    std::int64_t n = 1;
    for (int i = 0; i < axis; ++i) n *= dims_[i];
    return n;
  }

  std::string to_string() const {
    std::string s = "[";
    for (int i = 0; i < rank_; ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
    return s + "]";
  }

  friend bool operator==(const shape& a, const shape& b) noexcept {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.dims_[i] != b.dims_[i]) return false;
    return true;
  }

 private:
  std::array<std::int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

inline std::ostream& operator<<(std::ostream& out, const shape& s) { return out << s.to_string(); }

}  // namespace joule
