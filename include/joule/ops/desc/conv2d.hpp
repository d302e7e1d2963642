#pragma once
/** @file conv2d.hpp @brief The conv2d operator's contract. */
#include <cstdint>

#include <joule/ops/desc/activation.hpp>

namespace joule {

/**
 * @brief 2-D cross-correlation (PyTorch's Conv2d) on NCHW float32, with a fused epilogue.
 *
 * input [n, c_in, h, w]; weight [c_out, c_in / groups, kh, kw] (OIHW, PyTorch's layout);
 * output [n, c_out, out_h, out_w] with out = (in + 2·pad - dil·(k - 1) - 1) / stride + 1.
 * Epilogue: output = act(conv + bias[c_out] + residual), residual of the output's shape (ep.axis
 * and ep.ldr are unused). Folded batch-norm arrives as scaled weights and a bias. groups == c_in
 * == c_out is a depthwise convolution. Output never aliases input or weight.
 */
struct conv2d_op {
  std::int64_t n = 0, c_in = 0, h = 0, w = 0;
  std::int64_t c_out = 0, kh = 0, kw = 0;
  std::int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1;
  std::int64_t groups = 1;
  std::int64_t out_h = 0, out_w = 0;
  const float* input = nullptr;
  const float* weight = nullptr;
  float* output = nullptr;
  epilogue ep;
  /**
   * @brief The weight packed as the B of the GEMM that takes the output pixels as its rows
   * (ops::pack_conv2d_weight: gemm_b_packing<P> of the [c_out, c_in · kh · kw] weight, transposed),
   * or null. Only a kernel whose policy reads A transposed (gemm_reads_a_transposed<P>) is given
   * one, only with groups == 1; it may use it or the weight, which is always there too.
   */
  const float* packed_weight = nullptr;
  /**
   * @brief The weight packed as the A of the usual lowering (ops::pack_conv2d_weight with
   * conv2d_packing::channels_as_rows: gemm_a_packing<P> of the [c_out, c_in · kh · kw] weight), or
   * null. Only a kernel whose policy packs A (gemm_a_packing<P>) is given one, only with groups ==
   * 1; it may use it or the weight, which is always there too.
   */
  const float* packed_weight_rows = nullptr;
  /**
   * @brief The weight transformed for Winograd's F(T x T, 3x3), T = winograd_tile
   * (ops::pack_conv2d_weight with conv2d_packing::winograd_3x3 for T = 2, winograd_4x4_3x3 for
   * T = 4: U_ξ = (G g G^T)_ξ for the (T + 2)^2 elements ξ of a transformed tile, each a [c_out,
   * c_in] matrix packed by gemm_a_packing<P>), or null. Only a kernel whose policy has
   * conv2d_runs_winograd<P> is given one, only for a 3x3 window, stride 1, dilation 1, padding 1
   * and groups == 1; it may use it or the weight, which is always there too.
   */
  const float* winograd_weight = nullptr;
  /** @brief The output tile's side T of winograd_weight's F(T x T, 3x3): 2 or 4. */
  std::int64_t winograd_tile = 2;

  static constexpr const char* name() noexcept { return "conv2d"; }
};

/**
 * @brief Whether policy @p P's conv2d runs 3x3 stride-1 convolutions by Winograd's F(2x2, 3x3) and
 * F(4x4, 3x3) from a weight transformed ahead (conv2d_op::winograd_weight). Its gemm must pack A (gemm_a_packing).
 */
template <class P>
inline constexpr bool conv2d_runs_winograd = false;

}  // namespace joule
