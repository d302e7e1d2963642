#pragma once
/**
 * @file device_buffer.hpp
 * @brief Test-only device memory: upload a host tensor, run a kernel on the device pointer,
 * download the result. Deliberately independent of joule's device tensors, so the kernels'
 * tests do not depend on the code the models use to move data.
 */
#include <cstdint>
#include <span>
#include <vector>

#include <cuda_runtime_api.h>

#include <joule/core/tensor.hpp>
#include <joule/policy/cuda/check.hpp>

namespace joule_test {

/** @brief @p count elements of T in device memory, freed on destruction. */
template <class T>
class device_buffer {
 public:
  explicit device_buffer(std::int64_t count) : count_(count) {
    if (count > 0) JOULE_CUDA_CHECK(cudaMalloc(&data_, static_cast<std::size_t>(count) * sizeof(T)), "test upload");
  }
  /** @brief A device copy of @p host. */
  explicit device_buffer(std::span<const T> host) : device_buffer(static_cast<std::int64_t>(host.size())) {
    if (count_ > 0) {
      JOULE_CUDA_CHECK(cudaMemcpy(data_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), "test upload");
      landed("test upload");
    }
  }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  ~device_buffer() {
    if (data_) cudaFree(data_);
  }

  T* data() const noexcept { return data_; }
  std::int64_t size() const noexcept { return count_; }
  /** @brief A view of the device memory with shape @p s (never dereferenced on the host). */
  joule::tensor_view<T> view(joule::shape s) const { return {data_, s}; }
  joule::tensor_view<const T> cview(joule::shape s) const { return {data_, s}; }

  /** @brief Copies the device memory back, after the work queued on every stream has finished. */
  std::vector<T> download() const {
    std::vector<T> host(static_cast<std::size_t>(count_));
    JOULE_CUDA_CHECK(cudaDeviceSynchronize(), "test download: a kernel failed");
    if (count_ > 0)
      JOULE_CUDA_CHECK(cudaMemcpy(host.data(), data_, host.size() * sizeof(T), cudaMemcpyDeviceToHost),
                       "test download");
    return host;
  }
  /** @brief Overwrites every element with @p value (the kernels under test must not read their output). */
  void fill(T value) {
    std::vector<T> host(static_cast<std::size_t>(count_), value);
    if (count_ > 0) {
      JOULE_CUDA_CHECK(cudaMemcpy(data_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), "test fill");
      landed("test fill");
    }
  }

 private:
  /**
   * @brief Waits until a copy from the host has landed. cudaMemcpy from pageable memory returns once
   * the data is staged, and the kernels under test run on non-blocking streams that do not wait
   * for the legacy stream's DMA: on an H200 the NaN fill of an output landed after the softmax
   * kernel had written a row of it (cuda_softmax, 1536 x 128, in one of two runs).
   */
  static void landed(const char* what) { JOULE_CUDA_CHECK(cudaDeviceSynchronize(), what); }

  T* data_ = nullptr;
  std::int64_t count_ = 0;
};

/** @brief A device copy of a host tensor. */
template <class T>
device_buffer<T> upload(const joule::tensor<T>& host) {
  return device_buffer<T>(std::span<const T>(host.data(), static_cast<std::size_t>(host.numel())));
}

}  // namespace joule_test
