#pragma once
/**
 * @file memory_space.hpp
 * @brief Where a tensor's elements live: host_space (CPU memory) or device_space (GPU memory),
 * and the storage each space gives a joule::tensor.
 *
 * A policy names its space (`P::memory_space`); a model compiled for it keeps its weights and
 * activations in `tensor<float, P::memory_space>`, so the same model definition holds host buffers
 * for the CPU policies and device buffers for cuda. Device memory is managed with the CUDA runtime
 * API, which is plain host C++: translation units compiled by g++ can own device tensors too (the
 * executor's input and output edges, the chooser), only kernels need nvcc.
 */
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include <joule/config.hpp>
#include <joule/core/aligned_buffer.hpp>
#include <joule/core/error.hpp>

#if JOULE_HAS_CUDA
#include <cuda_runtime_api.h>
#endif

namespace joule {

/** @brief Memory space of host (CPU) policies: ordinary, 64-byte aligned memory. */
struct host_space {
  static constexpr const char* name() noexcept { return "host"; }
};
/** @brief Memory space of device (GPU) policies: memory from cudaMalloc, unreadable by the host. */
struct device_space {
  static constexpr const char* name() noexcept { return "device"; }
};

/** @brief True for the host space: code may dereference pointers into it. */
template <class Space>
inline constexpr bool is_host_space = std::is_same_v<Space, host_space>;

/**
 * @brief Host-device copies an executor made in run(): only at the model's input and output, so
 * these are the whole of its traffic (weights are uploaded once, at compile time, and not counted).
 * Always zero for host policies.
 */
struct transfer_stats {
  std::int64_t to_device_copies = 0;
  std::int64_t to_device_bytes = 0;
  std::int64_t to_host_copies = 0;
  std::int64_t to_host_bytes = 0;
  friend bool operator==(const transfer_stats&, const transfer_stats&) = default;
};

namespace detail {

/** @brief Owning storage of @p count elements in @p Space; specialised per space. */
template <class T, class Space>
class space_storage;

/** Host storage is the aligned buffer every CPU kernel already relies on. */
template <class T>
class space_storage<T, host_space> : public aligned_buffer<T> {
 public:
  using aligned_buffer<T>::aligned_buffer;
};

#if JOULE_HAS_CUDA
/** @brief Throws joule::error naming the CUDA runtime call and its error when @p status is not success. */
inline void cuda_runtime_require(cudaError_t status, const char* call) {
  if (status == cudaSuccess) return;
  fail(call, " failed: ", cudaGetErrorName(status), " (", cudaGetErrorString(status), ")");
}

/**
 * @brief Waits for the device to finish everything queued on it. The plain cudaMemcpy and
 * cudaMemset run on the legacy default stream, and joule's kernels on non-blocking streams
 * (context<cuda>) that do not wait for it: a memset or a device-to-device copy returns at once,
 * one from pageable host memory once its data is staged, before the DMA lands; a copy to the host
 * waits for the legacy stream only, not for the kernels that wrote its source. So the copies and
 * fills below wait here, after a copy to the device and before a copy from it. Seen on an H200:
 * the cuda softmax test's NaN fill of the output landed after the kernel had written a row.
 */
inline void wait_for_device(const char* what) { cuda_runtime_require(cudaDeviceSynchronize(), what); }

/**
 * Device storage: cudaMalloc'd and zero-filled, like the host buffer, so a tensor never holds
 * garbage in either space. Copies are device-to-device; the destructor never throws (a failed
 * cudaFree at exit, after the driver unloaded, is not the user's problem).
 */
template <class T>
class space_storage<T, device_space> {
  static_assert(std::is_trivially_copyable_v<T>, "device tensors hold trivially copyable types only");

 public:
  space_storage() = default;
  explicit space_storage(std::size_t count) : size_(count) {
    if (count == 0) return;
    require(count <= std::numeric_limits<std::size_t>::max() / sizeof(T), "device tensor: ", count,
            " elements do not fit in memory");
    void* p = nullptr;
    const cudaError_t status = cudaMalloc(&p, count * sizeof(T));
    if (status != cudaSuccess)
      fail("device tensor: cudaMalloc of ", count * sizeof(T), " bytes failed: ", cudaGetErrorName(status), " (",
           cudaGetErrorString(status), ")");
    data_ = static_cast<T*>(p);
    cuda_runtime_require(cudaMemset(data_, 0, count * sizeof(T)), "device tensor: cudaMemset");
    wait_for_device("device tensor: cudaMemset");
  }
  space_storage(const space_storage& other) : space_storage(other.size_) {
    if (size_) {
      wait_for_device("device tensor copy: the source's writers");
      cuda_runtime_require(cudaMemcpy(data_, other.data_, size_ * sizeof(T), cudaMemcpyDeviceToDevice),
                           "device tensor copy: cudaMemcpy");
      wait_for_device("device tensor copy: cudaMemcpy");
    }
  }
  space_storage& operator=(const space_storage& other) {
    if (this != &other) *this = space_storage(other);
    return *this;
  }
  space_storage(space_storage&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  space_storage& operator=(space_storage&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  ~space_storage() {
    if (data_) static_cast<void>(cudaFree(data_));
  }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

/** @brief cudaMemcpy kind for copying from space @p From to space @p To. */
template <class From, class To>
constexpr cudaMemcpyKind copy_kind() {
  if constexpr (is_host_space<From>)
    return is_host_space<To> ? cudaMemcpyHostToHost : cudaMemcpyHostToDevice;
  else
    return is_host_space<To> ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
}
#else
/** Without the toolkit a device tensor cannot exist; naming one is a compile error that says why. */
template <class T>
class space_storage<T, device_space> {
  static_assert(!std::is_same_v<T, T>, "joule: device tensors need the CUDA toolkit (build with JOULE_WITH_CUDA)");
};
#endif

}  // namespace detail
}  // namespace joule
