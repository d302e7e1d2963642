#pragma once
/**
 * @file check.hpp
 * @brief Turns a failed CUDA runtime, cuBLAS or cuDNN call into a joule::error naming the call and its code.
 *
 * @code
 * JOULE_CUDNN_CHECK(cudnnConvolutionForward(...), "conv2d n=", n, " c=", c);
 * // throws joule::error("cudnnConvolutionForward failed: CUDNN_STATUS_BAD_PARAM (conv2d n=1 c=3)")
 * @endcode
 *
 * The extra arguments describe what was being done; like joule::require's, they are streamed only
 * when the call failed, so a check on a hot path costs one comparison. Plain C++ (the three
 * libraries' headers are C): usable from host code built with the toolkit, not only from nvcc.
 */
#include <cstring>
#include <string>
#include <string_view>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <joule/core/error.hpp>

namespace joule::detail {

/** @brief "cudaMalloc" from the stringified call "cudaMalloc(&p, bytes)": the name a user can look up. */
inline std::string_view cuda_call_name(const char* call) {
  const std::string_view text(call);
  const auto paren = text.find('(');
  const std::string_view name = paren == std::string_view::npos ? text : text.substr(0, paren);
  const auto first = name.find_first_not_of(" \t\n:");
  const auto last = name.find_last_not_of(" \t\n");
  return first == std::string_view::npos ? text : name.substr(first, last - first + 1);
}

/** @brief Throws "<call> failed: <code> (<what>)", or "<call> failed: <code>" when @p what is empty. */
template <class... What>
[[noreturn]] void fail_cuda_call(const char* call, const char* code, const char* description, What&&... what) {
  std::string message = concat(cuda_call_name(call), " failed: ", code);
  if (description && *description && std::strcmp(description, code) != 0) message += concat(": ", description);
  if constexpr (sizeof...(What) > 0) {
    const std::string context = concat(std::forward<What>(what)...);
    if (!context.empty()) message += concat(" (", context, ")");
  }
  throw error(message);
}

template <class... What>
void check_cuda_status(cudaError_t status, const char* call, What&&... what) {
  if (status == cudaSuccess) return;
  fail_cuda_call(call, cudaGetErrorName(status), cudaGetErrorString(status), std::forward<What>(what)...);
}

template <class... What>
void check_cublas_status(cublasStatus_t status, const char* call, What&&... what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail_cuda_call(call, cublasGetStatusName(status), cublasGetStatusString(status), std::forward<What>(what)...);
}

template <class... What>
void check_cudnn_status(cudnnStatus_t status, const char* call, What&&... what) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  fail_cuda_call(call, cudnnGetErrorString(status), "", std::forward<What>(what)...);
}

}  // namespace joule::detail

/** @brief Evaluates a CUDA runtime call; throws joule::error with its name, code and the optional context. */
#define JOULE_CUDA_CHECK(call, ...) ::joule::detail::check_cuda_status((call), #call __VA_OPT__(, ) __VA_ARGS__)
/** @brief Evaluates a cuBLAS call; throws joule::error with its name, code and the optional context. */
#define JOULE_CUBLAS_CHECK(call, ...) ::joule::detail::check_cublas_status((call), #call __VA_OPT__(, ) __VA_ARGS__)
/** @brief Evaluates a cuDNN call; throws joule::error with its name, code and the optional context. */
#define JOULE_CUDNN_CHECK(call, ...) ::joule::detail::check_cudnn_status((call), #call __VA_OPT__(, ) __VA_ARGS__)

/**
 * @brief Checks the launch of @p kernel just made (a bad configuration, no device) with
 * cudaGetLastError. A kernel's own faults show up at the next synchronising call, which
 * context<cuda>::synchronize() checks.
 */
#define JOULE_CUDA_CHECK_LAUNCH(kernel, ...) \
  ::joule::detail::check_cuda_status(cudaGetLastError(), "launch of " #kernel __VA_OPT__(, ) __VA_ARGS__)
