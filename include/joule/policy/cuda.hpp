#pragma once
/** @file cuda.hpp @brief The cuda policy's tag, declared in every build so the chooser can list it. */
#include <string>

#include <joule/config.hpp>
#include <joule/policy/backend.hpp>

#if JOULE_HAS_CUDA
#include <cuda_runtime_api.h>
#endif

namespace joule {

/**
 * @brief NVIDIA GPUs through the CUDA runtime, cuBLAS and cuDNN. Its kernels compile only in
 * translation units built by nvcc; the tag is always here, and available() says why not when no
 * toolkit was found at build time or no device is present at run time.
 */
struct cuda {
  using fallback = no_fallback;  // device memory: every op must have a device kernel
  using memory_space = device_space;
  static constexpr const char* name() noexcept { return "cuda"; }
  static bool available() noexcept { return unavailable_reason().empty(); }
  static std::string unavailable_reason() {
#if JOULE_HAS_CUDA
    int devices = 0;
    const cudaError_t status = cudaGetDeviceCount(&devices);
    if (status != cudaSuccess)
      return std::string("no usable CUDA device: cudaGetDeviceCount returned ") + cudaGetErrorName(status) + " (" +
             cudaGetErrorString(status) + ")";
    if (devices == 0) return "no CUDA device is present";
    return {};
#else
    return "joule was built without the CUDA toolkit (JOULE_WITH_CUDA)";
#endif
  }
};

template <class Policy>
class context;
#if JOULE_HAS_CUDA
}  // namespace joule
// The stream, handles and scratch of the cuda policy: plain C++ over the toolkit's C headers, so
// every translation unit of a CUDA build sees the same definition (kernels still need nvcc).
#include <joule/policy/cuda/context.hpp>
#else
/** @brief Declared, never defined without the toolkit: using it is a compile error, not a CPU context. */
template <>
class context<cuda>;
}  // namespace joule
#endif
