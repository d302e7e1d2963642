#pragma once
/**
 * @file tensor.hpp
 * @brief joule::tensor (owning) and joule::tensor_view (non-owning), contiguous and row-major.
 *
 * Layout is always dense row-major (C order), the layout of PyTorch's contiguous tensors and of
 * NumPy's default arrays, so that .npy and safetensors data map onto a view with no copy.
 */
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <type_traits>
#include <vector>

#include <joule/core/aligned_buffer.hpp>
#include <joule/core/error.hpp>
#include <joule/core/shape.hpp>

namespace joule {

/** @brief A non-owning view of a contiguous row-major tensor of @p T (const T for read-only). */
template <class T>
class tensor_view {
 public:
  using value_type = std::remove_const_t<T>;

  tensor_view() = default;
  tensor_view(T* data, const joule::shape& s) : data_(data), shape_(s) {}
  /** @brief A read-only view converts implicitly from a mutable one. */
  template <class U>
    requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>)
  tensor_view(tensor_view<U> other) : data_(other.data()), shape_(other.shape()) {}

  T* data() const noexcept { return data_; }
  const joule::shape& shape() const noexcept { return shape_; }
  int rank() const noexcept { return shape_.rank(); }
  std::int64_t dim(int axis) const { return shape_[axis]; }
  std::int64_t numel() const { return shape_.numel(); }
  bool empty() const { return numel() == 0; }
  /** @brief True for a default-constructed view: "no tensor", as for an optional bias. */
  bool is_none() const noexcept { return data_ == nullptr && shape_.rank() == 0; }
  std::span<T> span() const { return {data_, static_cast<std::size_t>(numel())}; }
  T& operator[](std::int64_t flat_index) const noexcept { return data_[flat_index]; }

  /** @brief The same elements under another shape with the same element count. */
  tensor_view reshape(joule::shape s) const {
    if (s.numel() != numel()) fail("reshape: cannot view ", shape_, " as ", s);
    return {data_, s};
  }
  /** @brief Element @p i of the first axis, as a view of rank - 1. */
  tensor_view operator()(std::int64_t i) const {
    require(rank() >= 1 && i >= 0 && i < shape_[0], "tensor_view: index ", i, " out of range for ",
            shape_.to_string());
    std::vector<std::int64_t> rest(shape_.dims().begin() + 1, shape_.dims().end());
    const joule::shape sub{std::span<const std::int64_t>(rest)};
    return {data_ + i * sub.numel(), sub};
  }

 private:
  T* data_ = nullptr;
  joule::shape shape_;
};

/** @brief An owning tensor of @p T in 64-byte aligned, zero-initialised host memory. */
template <class T>
class tensor {
 public:
  using value_type = T;

  tensor() = default;
  explicit tensor(const joule::shape& s) : buffer_(static_cast<std::size_t>(s.numel())), shape_(s) {}
  tensor(const joule::shape& s, std::initializer_list<T> values) : tensor(s) {
    require(static_cast<std::int64_t>(values.size()) == s.numel(), "tensor: ", values.size(),
            " values given for shape ", s.to_string());
    std::copy(values.begin(), values.end(), data());
  }
  /** @brief A tensor holding a copy of @p values. */
  static tensor copy_of(tensor_view<const T> values) {
    tensor t(values.shape());
    std::copy_n(values.data(), values.numel(), t.data());
    return t;
  }

  T* data() noexcept { return buffer_.data(); }
  const T* data() const noexcept { return buffer_.data(); }
  const joule::shape& shape() const noexcept { return shape_; }
  int rank() const noexcept { return shape_.rank(); }
  std::int64_t dim(int axis) const { return shape_[axis]; }
  std::int64_t numel() const { return shape_.numel(); }
  bool empty() const { return numel() == 0; }
  T& operator[](std::int64_t flat_index) noexcept { return data()[flat_index]; }
  const T& operator[](std::int64_t flat_index) const noexcept { return data()[flat_index]; }
  std::span<T> span() noexcept { return {data(), static_cast<std::size_t>(numel())}; }
  std::span<const T> span() const noexcept { return {data(), static_cast<std::size_t>(numel())}; }

  tensor_view<T> view() noexcept { return {data(), shape_}; }
  tensor_view<const T> view() const noexcept { return {data(), shape_}; }
  tensor_view<const T> cview() const noexcept { return {data(), shape_}; }
  operator tensor_view<T>() noexcept { return view(); }
  operator tensor_view<const T>() const noexcept { return view(); }

  /** @brief Changes the shape in place; the element count must stay the same. */
  void reshape(joule::shape s) {
    if (s.numel() != numel()) fail("reshape: cannot view ", shape_, " as ", s);
    shape_ = s;
  }

 private:
  aligned_buffer<T> buffer_;
  joule::shape shape_;
};

}  // namespace joule
