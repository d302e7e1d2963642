#pragma once
/**
 * @file conv2d.cuh
 * @brief cuda conv2d: cuDNN for dense and grouped convolutions (the algorithm found once per
 * geometry and cached in the context), an own direct kernel for depthwise ones; both end in the
 * fused epilogue (bias, residual, activation).
 *
 * Depthwise convolutions (one input channel per output channel, MobileNetV2's 3 x 3 layers) are
 * memory-bound: a direct kernel reads each input once per tap from cache and fuses the epilogue,
 * where cuDNN's grouped algorithms are known to be slow for them, above all at batch 1.
 */
#include <climits>
#include <cstdint>
#include <memory>
#include <ostream>

#include <cudnn.h>

#include <joule/core/error.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/conv2d.hpp>
#include <joule/policy/cuda.hpp>
#include <joule/policy/cuda/check.hpp>
#include <joule/policy/cuda/context.hpp>
#include <joule/policy/cuda/detail/activation.cuh>
#include <joule/policy/cuda/detail/launch.cuh>
#include <joule/policy/cuda/epilogue.cuh>

namespace joule {

namespace cuda_detail {

/** @brief Streams "conv2d n=1 c_in=3 h=224 w=224 c_out=64 k=7x7 ..." for error messages. */
struct conv_geometry {
  const conv2d_op& op;
  friend std::ostream& operator<<(std::ostream& out, const conv_geometry& g) {
    const conv2d_op& o = g.op;
    return out << "conv2d n=" << o.n << " c_in=" << o.c_in << " h=" << o.h << " w=" << o.w << " c_out=" << o.c_out
               << " k=" << o.kh << "x" << o.kw << " stride=" << o.stride_h << "x" << o.stride_w << " pad=" << o.pad_h
               << "x" << o.pad_w << " dil=" << o.dil_h << "x" << o.dil_w << " groups=" << o.groups;
  }
};

/** @brief True when every output channel reads exactly one input channel (depthwise, or a channel multiplier). */
inline bool is_depthwise(const conv2d_op& op) { return op.c_in == op.groups; }

// One thread per output element: the taps that land inside the input, then the epilogue, in the
// scalar kernel's order (acc + bias, + residual, activation).
template <class T>
__global__ void depthwise_conv2d_kernel(conv2d_op op) {
  const std::int64_t pixels = op.out_h * op.out_w, total = op.n * op.c_out * pixels;
  const std::int64_t multiplier = op.c_out / op.groups;  // output channels per input channel
  for (std::int64_t e = grid_index(); e < total; e += grid_stride()) {
    const std::int64_t plane = e / pixels, pixel = e - plane * pixels;
    const std::int64_t b = plane / op.c_out, oc = plane - b * op.c_out;
    const std::int64_t oy = pixel / op.out_w, ox = pixel - oy * op.out_w;
    const T* in = op.input + (b * op.c_in + oc / multiplier) * op.h * op.w;
    const T* filter = op.weight + oc * op.kh * op.kw;
    float acc = 0.f;
    for (std::int64_t ky = 0; ky < op.kh; ++ky) {
      const std::int64_t iy = oy * op.stride_h - op.pad_h + ky * op.dil_h;
      if (iy < 0 || iy >= op.h) continue;
      for (std::int64_t kx = 0; kx < op.kw; ++kx) {
        const std::int64_t ix = ox * op.stride_w - op.pad_w + kx * op.dil_w;
        if (ix < 0 || ix >= op.w) continue;
        acc += filter[ky * op.kw + kx] * in[iy * op.w + ix];
      }
    }
    if (op.ep.bias) acc += op.ep.bias[oc];
    if (op.ep.residual) acc += op.ep.residual[e];
    op.output[e] = activate(op.ep.act, acc);
  }
}

/** @brief cuDNN's descriptors and chosen algorithm for one convolution geometry, made once. */
struct conv_plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  std::size_t workspace_bytes = 0;

  conv_plan() = default;
  conv_plan(const conv_plan&) = delete;
  conv_plan& operator=(const conv_plan&) = delete;
  ~conv_plan() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
  }
};

inline int cudnn_int(std::int64_t value, const conv2d_op& op, const char* what) {
  require(value >= 0 && value <= INT_MAX, conv_geometry{op}, ": ", what, " = ", value,
          " exceeds cuDNN's int range on the cuda policy");
  return static_cast<int>(value);
}

/**
 * @brief True for the algorithms that sum the products directly (GEMM-like or direct), whose
 * error per output is Higham's gamma(K) bound as on the CPU policies. FFT and Winograd transform
 * the operands, with errors relative to whole tiles instead of each output: excluded from exact
 * float32, allowed once the user accepts TF32's approximation.
 */
inline bool sums_products_directly(cudnnConvolutionFwdAlgo_t algo) {
  return algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM || algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
         algo == CUDNN_CONVOLUTION_FWD_ALGO_GEMM || algo == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
}

/**
 * @brief Describes @p op to cuDNN and picks the fastest algorithm cuDNN measures for it. Without
 * TF32 only exact float32 algorithms qualify (FMA math, products summed directly); if cuDNN offers
 * none, implicit GEMM, which supports every NCHW float convolution without workspace.
 */
inline std::shared_ptr<conv_plan> make_conv_plan(context<cuda>& ctx, const conv2d_op& op) {
  const conv_geometry where{op};
  auto plan = std::make_shared<conv_plan>();
  const int n = cudnn_int(op.n, op, "n"), c_in = cudnn_int(op.c_in, op, "c_in"), h = cudnn_int(op.h, op, "h"),
            w = cudnn_int(op.w, op, "w"), c_out = cudnn_int(op.c_out, op, "c_out");
  const int out_h = cudnn_int(op.out_h, op, "out_h"), out_w = cudnn_int(op.out_w, op, "out_w");
  JOULE_CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan->x), where);
  JOULE_CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c_in, h, w), where);
  JOULE_CUDNN_CHECK(cudnnCreateFilterDescriptor(&plan->w), where);
  JOULE_CUDNN_CHECK(cudnnSetFilter4dDescriptor(plan->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, c_out,
                                               cudnn_int(op.c_in / op.groups, op, "c_in / groups"),
                                               cudnn_int(op.kh, op, "kh"), cudnn_int(op.kw, op, "kw")),
                    where);
  JOULE_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&plan->conv), where);
  JOULE_CUDNN_CHECK(
      cudnnSetConvolution2dDescriptor(plan->conv, cudnn_int(op.pad_h, op, "pad_h"), cudnn_int(op.pad_w, op, "pad_w"),
                                      cudnn_int(op.stride_h, op, "stride_h"), cudnn_int(op.stride_w, op, "stride_w"),
                                      cudnn_int(op.dil_h, op, "dil_h"), cudnn_int(op.dil_w, op, "dil_w"),
                                      CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
      where);
  JOULE_CUDNN_CHECK(cudnnSetConvolutionGroupCount(plan->conv, cudnn_int(op.groups, op, "groups")), where);
  const cudnnMathType_t math = ctx.allow_tf32() ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
  JOULE_CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv, math), where);
  // cuDNN's idea of the output must be the front end's; a difference is a bug worth a clear message.
  int dims[4] = {};
  JOULE_CUDNN_CHECK(
      cudnnGetConvolution2dForwardOutputDim(plan->conv, plan->x, plan->w, &dims[0], &dims[1], &dims[2], &dims[3]),
      where);
  require(dims[0] == n && dims[1] == c_out && dims[2] == out_h && dims[3] == out_w, where, ": cuDNN computes output [",
          dims[0], ", ", dims[1], ", ", dims[2], ", ", dims[3], "] but the operator expects [", n, ", ", c_out, ", ",
          out_h, ", ", out_w, "]");
  JOULE_CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan->y), where);
  JOULE_CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c_out, out_h, out_w),
                    where);

  // cudnnFind... runs every algorithm once on scratch memory it allocates itself and returns them
  // fastest first: it synchronises, which is why plans are made in the warm-up run, never in a graph.
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT] = {};
  int returned = 0;
  JOULE_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(ctx.cudnn(), plan->x, plan->w, plan->conv, plan->y,
                                                         CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf),
                    where);
  // Exact float32 keeps the descriptor at FMA math whatever a result reports (FMA math restricts
  // execution to FMA kernels, so nothing can switch to TF32 later); with TF32 allowed, a result's
  // own math type is set, as cuDNN asks.
  bool found = false;
  for (int i = 0; i < returned && !found; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
    if (ctx.allow_tf32()) {
      JOULE_CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv, perf[i].mathType), where);
    } else {
      const bool tensor_cores =
          perf[i].mathType == CUDNN_TENSOR_OP_MATH || perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
      if (tensor_cores || !sums_products_directly(perf[i].algo)) continue;
    }
    plan->algo = perf[i].algo;
    found = true;
  }
  if (!found) {
    plan->algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
    JOULE_CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv, math), where);
  }
  // The size for the algorithm and math type finally set, rather than the one measured by Find.
  JOULE_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(ctx.cudnn(), plan->x, plan->w, plan->conv, plan->y,
                                                            plan->algo, &plan->workspace_bytes),
                    where);
  return plan;
}

}  // namespace cuda_detail

template <>
struct kernel<conv2d_op, cuda> {
  static void run(context<cuda>& ctx, const conv2d_op& op) {
    const std::int64_t pixels = op.out_h * op.out_w, total = op.n * op.c_out * pixels;
    if (total == 0) return;
    if (cuda_detail::is_depthwise(op)) {
      cuda_detail::depthwise_conv2d_kernel<float>
          <<<cuda_detail::blocks_for(total), cuda_detail::kBlockThreads, 0, ctx.stream()>>>(op);
      JOULE_CUDA_CHECK_LAUNCH(depthwise_conv2d_kernel, cuda_detail::conv_geometry{op});
      return;
    }
    const cuda_detail::plan_key key{.values = {op.n, op.c_in, op.h, op.w, op.c_out, op.kh, op.kw, op.stride_h,
                                               op.stride_w, op.pad_h, op.pad_w, op.dil_h, op.dil_w, op.groups,
                                               ctx.allow_tf32() ? 1 : 0}};
    const cuda_detail::conv_plan& plan = ctx.plan<cuda_detail::conv_plan>(
        key, [&] { return cuda_detail::make_conv_plan(ctx, op); }, "conv2d");
    void* workspace = plan.workspace_bytes ? ctx.workspace(plan.workspace_bytes) : nullptr;
    const float one = 1.f, zero = 0.f;
    JOULE_CUDNN_CHECK(cudnnConvolutionForward(ctx.cudnn(), &one, plan.x, op.input, plan.w, op.weight, plan.conv,
                                              plan.algo, workspace, plan.workspace_bytes, &zero, plan.y, op.output),
                      cuda_detail::conv_geometry{op});
    // The output [n, c_out, pixels] as n · c_out rows: the bias of row r is channel r mod c_out.
    cuda_detail::run_epilogue(ctx,
                              {.rows = op.n * op.c_out,
                               .cols = pixels,
                               .c = op.output,
                               .ldc = pixels,
                               .bias = op.ep.bias,
                               .axis = bias_axis::row,
                               .bias_period = op.c_out,
                               .residual = op.ep.residual,
                               .ldr = pixels,
                               .act = op.ep.act},
                              "conv2d");
  }
};

}  // namespace joule
