#pragma once
/**
 * @file conv2d.hpp
 * @brief blas conv2d: im2col + cblas_sgemm per image and group, then the epilogue as one pass.
 *
 * The GEMM is the blas gemm kernel itself (it splits the product across the context's threads, calls
 * cblas_sgemm with beta = 0 and runs detail::epilogue_pass with the bias along rows and the residual
 * image as ldr = out_h · out_w). A depthwise convolution is a GEMM per channel with a single output
 * row, where a BLAS call costs more than the arithmetic: it goes to the fallback policy's kernel.
 */
#include <joule/config.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/conv2d.hpp>
#include <joule/policy/blas.hpp>
#include <joule/policy/blas/gemm.hpp>
#include <joule/policy/detail/im2col.hpp>
#include <joule/policy/scalar/conv2d.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/conv2d.hpp>
#endif

namespace joule {

template <>
struct kernel<conv2d_op, blas> {
  static void run(cpu_context& ctx, const conv2d_op& op) {
    if (op.groups == op.c_in && op.groups == op.c_out)
      kernel_for<conv2d_op, blas::fallback>::run(ctx, op);
    else
      detail::conv2d_as_gemm<blas>(ctx, op);
  }
};

}  // namespace joule
