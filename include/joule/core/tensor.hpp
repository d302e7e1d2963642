#pragma once
/**
 * @file tensor.hpp
 * @brief joule::tensor (owning) and joule::tensor_view (non-owning), contiguous and row-major.
 *
 * Layout is always dense row-major (C order), the layout of PyTorch's contiguous tensors and of
 * NumPy's default arrays, so that .npy and safetensors data map onto a view with no copy.
 *
 * A tensor lives in a memory space (core/memory_space.hpp): `tensor<float>` is host memory, as it
 * always was; `tensor<float, device_space>` is GPU memory. A view is a pointer and a shape in
 * either space: the host may pass a device view around and hand it to device kernels, but must
 * never read through it (element access is offered on host tensors only).
 */
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <type_traits>
#include <vector>

#include <joule/core/aligned_buffer.hpp>
#include <joule/core/error.hpp>
#include <joule/core/memory_space.hpp>
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
  requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>) tensor_view(tensor_view<U> other)
      : data_(other.data()), shape_(other.shape()) {}

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
    require(rank() >= 1 && i >= 0 && i < shape_[0], "tensor_view: index ", i, " out of range for ", shape_.to_string());
    std::vector<std::int64_t> rest(shape_.dims().begin() + 1, shape_.dims().end());
    const joule::shape sub{std::span<const std::int64_t>(rest)};
    return {data_ + i * sub.numel(), sub};
  }

 private:
  T* data_ = nullptr;
  joule::shape shape_;
};

/**
 * @brief An owning tensor of @p T in memory space @p Space: 64-byte aligned, zero-initialised host
 * memory (the default), or zero-initialised device memory. Element access (operator[], span(),
 * values) exists only for host tensors, so host code cannot read device memory by accident.
 */
template <class T, class Space = host_space>
class tensor {
  static constexpr bool kHost = is_host_space<Space>;

 public:
  using value_type = T;
  using memory_space = Space;

  tensor() = default;
  explicit tensor(const joule::shape& s) : buffer_(static_cast<std::size_t>(s.numel())), shape_(s) {}
  tensor(const joule::shape& s, std::initializer_list<T> values) requires kHost : tensor(s) {
    require(static_cast<std::int64_t>(values.size()) == s.numel(), "tensor: ", values.size(),
            " values given for shape ", s.to_string());
    std::copy(values.begin(), values.end(), data());
  }
  /** @brief A host tensor holding a copy of the host view @p values (see to_space for devices). */
  static tensor copy_of(tensor_view<const T> values) requires kHost {
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
  T& operator[](std::int64_t flat_index) noexcept requires kHost { return data()[flat_index]; }
  const T& operator[](std::int64_t flat_index) const noexcept requires kHost { return data()[flat_index]; }
  std::span<T> span() noexcept requires kHost { return {data(), static_cast<std::size_t>(numel())}; }
  std::span<const T> span() const noexcept requires kHost { return {data(), static_cast<std::size_t>(numel())}; }

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
  detail::space_storage<T, Space> buffer_;
  joule::shape shape_;
};

/**
 * @brief @p t in memory space @p To. Host to host moves (no copy: models call this on every
 * weight they prepare, for every policy); any other pair copies with cudaMemcpy.
 */
template <class To, class T, class From>
tensor<T, To> to_space(tensor<T, From>&& t) {
  if constexpr (std::is_same_v<To, From>) {
    return std::move(t);
  } else {
#if JOULE_HAS_CUDA
    tensor<T, To> out(t.shape());
    if (t.numel()) {
      // The copy runs on the legacy stream: it waits for the kernels that wrote t, and they for it
      // (detail::wait_for_device).
      detail::wait_for_device("to_space: the source's writers");
      detail::cuda_runtime_require(cudaMemcpy(out.data(), t.data(), static_cast<std::size_t>(t.numel()) * sizeof(T),
                                              detail::copy_kind<From, To>()),
                                   "to_space: cudaMemcpy");
      detail::wait_for_device("to_space: cudaMemcpy");
    }
    return out;
#else
    static_assert(std::is_same_v<To, From>, "joule::to_space: device memory needs JOULE_WITH_CUDA");
#endif
  }
}
/** @brief A copy of @p t in memory space @p To. */
template <class To, class T, class From>
tensor<T, To> to_space(const tensor<T, From>& t) {
  return to_space<To>(tensor<T, From>(t));
}

/** @brief A host copy of @p t, wherever it lives (tests and tools read device results with it). */
template <class T, class Space>
tensor<T> copy_to_host(const tensor<T, Space>& t) {
  return to_space<host_space>(t);
}

#if JOULE_HAS_CUDA
/** @brief A host copy of the device view @p v (a model's output before the executor's edge). */
template <class T>
tensor<std::remove_const_t<T>> copy_to_host(tensor_view<T> v, device_space) {
  tensor<std::remove_const_t<T>> out(v.shape());
  if (v.numel()) {
    detail::wait_for_device("copy_to_host: the kernels that wrote it");  // they run on other streams
    detail::cuda_runtime_require(
        cudaMemcpy(out.data(), v.data(), static_cast<std::size_t>(v.numel()) * sizeof(T), cudaMemcpyDeviceToHost),
        "copy_to_host: cudaMemcpy");
  }
  return out;
}
#endif

}  // namespace joule
