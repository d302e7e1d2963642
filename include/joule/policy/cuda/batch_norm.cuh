#pragma once
/** @file batch_norm.cuh @brief cuda batch_norm: inference batch normalisation and activation in one pass. */
#include <cstdint>

#include <joule/core/kernel.hpp>
#include <joule/ops/desc/batch_norm.hpp>
#include <joule/policy/cuda.hpp>
#include <joule/policy/cuda/check.hpp>
#include <joule/policy/cuda/context.hpp>
#include <joule/policy/cuda/detail/activation.cuh>
#include <joule/policy/cuda/detail/launch.cuh>

namespace joule {

namespace cuda_detail {
// y = x · scale + shift with scale and shift computed exactly as the scalar kernel does (IEEE
// sqrtf and division, nvcc's defaults), so the two agree to the last multiply-add. Recomputing
// them per element costs less than a second pass over the channels would.
template <class T>
__global__ void batch_norm_kernel(batch_norm_op op) {
  const std::int64_t total = op.n * op.c * op.inner;
  for (std::int64_t e = grid_index(); e < total; e += grid_stride()) {
    const std::int64_t ch = (e / op.inner) % op.c;
    const T scale = op.gamma[ch] / sqrtf(op.var[ch] + op.eps);
    const T shift = op.beta[ch] - op.mean[ch] * scale;
    op.y[e] = activate(op.act, op.x[e] * scale + shift);  // read, then written by this thread: y may be x
  }
}
}  // namespace cuda_detail

template <>
struct kernel<batch_norm_op, cuda> {
  static void run(context<cuda>& ctx, const batch_norm_op& op) {
    const std::int64_t total = op.n * op.c * op.inner;
    if (total == 0) return;
    cuda_detail::batch_norm_kernel<float>
        <<<cuda_detail::blocks_for(total), cuda_detail::kBlockThreads, 0, ctx.stream()>>>(op);
    JOULE_CUDA_CHECK_LAUNCH(batch_norm_kernel, "batch_norm n=", op.n, " c=", op.c, " inner=", op.inner);
  }
};

}  // namespace joule
