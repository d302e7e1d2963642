#pragma once
/**
 * @file conv2d.hpp
 * @brief eigen conv2d: im2col + Eigen's matrix product per image and group, then the epilogue as
 * one pass.
 *
 * The GEMM is the eigen gemm kernel itself (Eigen's product on output blocks split across the
 * context's threads, then detail::epilogue_pass with the bias along rows and the residual image as
 * ldr = out_h · out_w). A depthwise convolution is a GEMM per channel with a single output row, too
 * small for a library product: it goes to the fallback policy's kernel.
 */
#include <joule/config.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/conv2d.hpp>
#include <joule/policy/detail/im2col.hpp>
#include <joule/policy/eigen.hpp>
#include <joule/policy/eigen/gemm.hpp>
#include <joule/policy/scalar/conv2d.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/conv2d.hpp>
#endif

namespace joule {

template <>
struct kernel<conv2d_op, eigen> {
  static void run(cpu_context& ctx, const conv2d_op& op) {
    if (op.groups == op.c_in && op.groups == op.c_out)
      kernel_for<conv2d_op, eigen::fallback>::run(ctx, op);
    else
      detail::conv2d_as_gemm<eigen>(ctx, op);
  }
};

}  // namespace joule
