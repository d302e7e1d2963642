#pragma once
/**
 * @file epilogue.cuh
 * @brief The fused epilogue pass of the cuda policy: C = act(acc + bias + residual) in one read and
 * one write of C, after cuBLAS (gemm) or cuDNN (conv2d) has stored the accumulated values.
 *
 * cuBLAS and cuDNN cannot fuse every activation joule needs (GELU-erf, ReLU6) with a residual, so
 * the libraries write the raw product and this single elementwise pass applies the whole epilogue,
 * instead of one pass each for bias, residual and activation.
 */
#include <cstdint>

#include <cuda_runtime.h>

#include <joule/ops/desc/activation.hpp>
#include <joule/policy/cuda/check.hpp>
#include <joule/policy/cuda/context.hpp>
#include <joule/policy/cuda/detail/activation.cuh>
#include <joule/policy/cuda/detail/launch.cuh>

namespace joule::cuda_detail {

/**
 * @brief Where the epilogue applies: a [rows, cols] matrix C with row stride ldc. A column bias is
 * bias[j]; a row bias is bias[i % bias_period] (a convolution's output [n · c_out, pixels] takes its
 * bias from the channel i % c_out). The residual has row stride ldr. When !accumulated, C holds
 * nothing yet and the accumulator is 0 (a gemm with k = 0).
 */
struct epilogue_pass {
  std::int64_t rows = 0, cols = 0;
  float* c = nullptr;
  std::int64_t ldc = 0;
  const float* bias = nullptr;
  bias_axis axis = bias_axis::column;
  std::int64_t bias_period = 1;
  const float* residual = nullptr;
  std::int64_t ldr = 0;
  activation act = activation::none;
  bool accumulated = true;
};

/** @brief The order of the host's apply_epilogue: bias, then residual, then the activation. */
__device__ inline float epilogue_value(const epilogue_pass& p, float acc, std::int64_t i, std::int64_t j) {
  if (p.bias) acc += p.bias[p.axis == bias_axis::column ? j : i % p.bias_period];
  if (p.residual) acc += p.residual[i * p.ldr + j];
  return activate(p.act, acc);
}

// Kernels in these headers are templates on the element type (float for now): a template has the
// linkage a header-only library needs, where a plain __global__ function would be defined once per TU.
template <class T>
__global__ void epilogue_kernel(epilogue_pass p) {
  const std::int64_t total = p.rows * p.cols;
  for (std::int64_t e = grid_index(); e < total; e += grid_stride()) {
    const std::int64_t i = e / p.cols, j = e - i * p.cols;
    T* c = p.c + i * p.ldc + j;
    *c = epilogue_value(p, p.accumulated ? *c : T{0}, i, j);
  }
}

/** @brief True when the pass changes anything (an accumulated C with no bias, residual or activation does not). */
inline bool epilogue_needed(const epilogue_pass& p) {
  return !p.accumulated || p.bias || p.residual || p.act != activation::none;
}

/** @brief Launches the epilogue on @p ctx's stream when it changes anything. */
inline void run_epilogue(context<cuda>& ctx, const epilogue_pass& p, const char* op) {
  if (!epilogue_needed(p) || p.rows == 0 || p.cols == 0) return;
  epilogue_kernel<float><<<blocks_for(p.rows * p.cols), kBlockThreads, 0, ctx.stream()>>>(p);
  JOULE_CUDA_CHECK_LAUNCH(epilogue_kernel, op, " epilogue rows=", p.rows, " cols=", p.cols);
}

}  // namespace joule::cuda_detail
