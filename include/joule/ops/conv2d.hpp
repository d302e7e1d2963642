#pragma once
/**
 * @file conv2d.hpp
 * @brief ops::conv2d: 2-D convolution (PyTorch's Conv2d) on NCHW float32 with a fused bias,
 * residual and activation.
 *
 * The front end holds no arithmetic: it checks shapes and parameters, builds a conv2d_op and
 * forwards it to the policy's kernel (policy/<backend>/conv2d.hpp), found along the policy's
 * fallback chain.
 */
#include <cstdint>
#include <vector>

#include <joule/config.hpp>
#include <joule/core/check.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/tensor.hpp>
#include <joule/core/precompiled.hpp>
#include <joule/ops/desc/conv2d.hpp>
#include <joule/ops/gemm.hpp>
#include <joule/policy/policies.hpp>

#include <joule/policy/scalar/conv2d.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/conv2d.hpp>
#endif
#if JOULE_HAS_BLAS
#include <joule/policy/blas/conv2d.hpp>
#endif
#if JOULE_HAS_EIGEN
#include <joule/policy/eigen/conv2d.hpp>
#endif
#if JOULE_CUDA_KERNELS
#include <joule/policy/cuda/conv2d.cuh>
#endif

namespace joule::ops {

/** @brief Geometry of ops::conv2d, with PyTorch's Conv2d defaults. */
struct conv2d_params {
  std::int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1, groups = 1;
};

/** @brief What ops::conv2d fuses after the convolution. Default-constructed views mean "none". */
struct conv2d_epilogue {
  tensor_view<const float> bias{};      ///< [c_out] (a folded batch-norm's shift goes here)
  tensor_view<const float> residual{};  ///< the output's shape, added before the activation
  activation act = activation::none;
};

/**
 * @brief Output shape [n, c_out, out_h, out_w] of a convolution of @p input [n, c, h, w] by
 * @p weight [c_out, c / groups, kh, kw], out = (in + 2 · pad - dil · (k - 1) - 1) / stride + 1.
 *
 * Throws joule::error naming the shapes for wrong ranks, empty kernels or channels, a channel
 * mismatch, strides or dilations <= 0, negative padding, padding beyond the dilated kernel extent
 * dil · (k - 1), groups that are <= 0 or do not divide both channel counts, and a kernel larger than
 * the padded input (an empty output).
 */
inline shape conv2d_output_shape(const shape& input, const shape& weight, const conv2d_params& p) {
  constexpr const char* op = "conv2d";
  require(input.rank() == 4, op, ": input must have rank 4 [n, c, h, w], got shape ", input);
  require(weight.rank() == 4, op, ": weight must have rank 4 [c_out, c_in / groups, kh, kw], got shape ", weight);
  require(p.stride_h > 0 && p.stride_w > 0, op, ": negative or zero strides (", p.stride_h, ", ", p.stride_w,
          ") for input ", input, " and weight ", weight);
  require(p.dil_h > 0 && p.dil_w > 0, op, ": negative or zero dilation (", p.dil_h, ", ", p.dil_w, ") for input ",
          input, " and weight ", weight);
  require(p.pad_h >= 0 && p.pad_w >= 0, op, ": negative padding (", p.pad_h, ", ", p.pad_w, ") for input ", input,
          " and weight ", weight);
  require(p.groups > 0, op, ": groups must be positive, got ", p.groups, " for input ", input, " and weight ", weight);
  const std::int64_t c_in = input[1], c_out = weight[0], kh = weight[2], kw = weight[3];
  require(c_in > 0 && c_out > 0 && kh > 0 && kw > 0, op, ": input ", input, " and weight ", weight,
          " must have at least one channel and a non-empty kernel");
  require(c_in % p.groups == 0 && c_out % p.groups == 0, op, ": groups = ", p.groups,
          " must divide the input channels and the output channels: input ", input, ", weight ", weight);
  require(weight[1] * p.groups == c_in, op, ": channel mismatch: input ", input, " has ", c_in, " channels but weight ",
          weight, " with groups = ", p.groups, " expects ", weight[1] * p.groups);
  const std::int64_t extent_h = p.dil_h * (kh - 1), extent_w = p.dil_w * (kw - 1);
  require(p.pad_h <= extent_h && p.pad_w <= extent_w, op, ": padding (", p.pad_h, ", ", p.pad_w,
          ") exceeds the dilated kernel extent dil * (k - 1) = (", extent_h, ", ", extent_w, ") of weight ", weight);
  const std::int64_t padded_h = input[2] + 2 * p.pad_h, padded_w = input[3] + 2 * p.pad_w;
  require(padded_h > extent_h && padded_w > extent_w, op,
          ": kernel larger than the padded input, the output would be empty: input ", input, " padded by (", p.pad_h,
          ", ", p.pad_w, ") against weight ", weight, " dilated by (", p.dil_h, ", ", p.dil_w, ")");
  return shape{input[0], c_out, (padded_h - extent_h - 1) / p.stride_h + 1, (padded_w - extent_w - 1) / p.stride_w + 1};
}

/** @brief Which GEMM of a convolution a weight is packed for (pack_conv2d_weight). */
enum class conv2d_packing {
  /**
   * The B of the GEMM that takes the output pixels as its rows, output^T [pixels, c_out] =
   * columns^T · weight^T: for small planes, one image per call (pack_gemm_b's panels of the weight
   * as [c_out, c_in · kh · kw], transposed).
   */
  pixels_as_rows,
  /**
   * The A of the usual lowering, output [c_out, pixels] = weight · columns: any plane, any number
   * of images (gemm_a_packing<P>'s row tiles of the weight as [c_out, c_in · kh · kw]).
   */
  channels_as_rows,
  /**
   * The 16 A's of Winograd's F(2x2, 3x3) (3x3 windows, stride 1, padding 1): U_ξ = (G g G^T)_ξ,
   * each [c_out, c_in] in gemm_a_packing<P>'s row tiles (conv2d_op::winograd_weight).
   */
  winograd_3x3,
  /**
   * The 36 A's of Winograd's F(4x4, 3x3), laid out as winograd_3x3's: 4x fewer multiply-adds than
   * the direct convolution (winograd_3x3: 2.25x), with larger rounding errors.
   */
  winograd_4x4_3x3,
};

/** @brief Whether @p packing is one of Winograd's; its output tile's side (2 or 4), else 0. */
constexpr std::int64_t winograd_tile(conv2d_packing packing) noexcept {
  return packing == conv2d_packing::winograd_3x3 ? 2 : packing == conv2d_packing::winograd_4x4_3x3 ? 4 : 0;
}

/**
 * @brief Whether policy @p P's conv2d can take its weight packed ahead of time for @p Packing
 * (ops::pack_conv2d_weight): with the pixels as rows, its gemm reads a constant B packed and A
 * transposed; with the channels as rows, a constant A packed.
 */
template <backend P, conv2d_packing Packing = conv2d_packing::pixels_as_rows>
inline constexpr bool conv2d_takes_packed_weight =
    Packing == conv2d_packing::pixels_as_rows     ? gemm_b_panel_width<P> > 0 && gemm_reads_a_transposed<P>
    : Packing == conv2d_packing::channels_as_rows ? gemm_a_tile_rows<P> > 0
                                                  : gemm_a_tile_rows<P> > 0 && conv2d_runs_winograd<P>;

/**
 * @brief The shape pack_conv2d_weight<P, Packing> gives a weight [c_out, c_in, kh, kw]:
 * [ceil(c_out / w), c_in · kh · kw, w], w the policy's panel width (pixels as rows) or tile height
 * (channels as rows); for winograd_3x3, [16 · ceil(c_out / w), c_in, w], the 16 U_ξ one after another
 * (winograd_4x4_3x3: 36).
 */
template <backend P, conv2d_packing Packing>
shape packed_conv2d_weight_shape(std::int64_t c_out, std::int64_t c_in, std::int64_t kh, std::int64_t kw) {
  constexpr std::int64_t w = Packing == conv2d_packing::pixels_as_rows ? gemm_b_panel_width<P> : gemm_a_tile_rows<P>;
  static_assert(w > 0, "this policy's conv2d reads its weight only as given");
  if constexpr (winograd_tile(Packing) > 0) {
    constexpr std::int64_t xis = (winograd_tile(Packing) + 2) * (winograd_tile(Packing) + 2);
    return shape{xis * ((c_out + w - 1) / w), c_in, w};
  }
  return shape{(c_out + w - 1) / w, c_in * kh * kw, w};
}

/**
 * @brief The (T + 2)^2 matrices U_ξ = (G g G^T)_ξ [c_out, c_in] of Winograd's F(T x T, 3x3), T =
 * @p tile (2 or 4), for a weight [c_out, c_in, 3, 3], ξ = (T + 2) i + j for row i and column j of
 * the transformed filter, with G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1] (T = 2) or
 * [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1] (T = 4, points
 * 0, ±1, ±2 and infinity). Computed in double, rounded once.
 */
inline std::vector<float> winograd_3x3_weight(tensor_view<const float> weight, std::int64_t tile = 2) {
  require(tile == 2 || tile == 4, "winograd_3x3_weight: the output tile must be 2 or 4, got ", tile);
  constexpr double kG2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  constexpr double kG4[6][3] = {{1.0 / 4, 0, 0},
                                {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                {0, 0, 1}};
  const std::int64_t alpha = tile + 2, c_out = weight.dim(0), c_in = weight.dim(1);
  const auto g_at = [&](std::int64_t i, int a) { return tile == 2 ? kG2[i][a] : kG4[i][a]; };
  std::vector<float> u(static_cast<std::size_t>(alpha * alpha * c_out * c_in));
  for (std::int64_t k = 0; k < c_out; ++k)
    for (std::int64_t c = 0; c < c_in; ++c) {
      const float* f = weight.data() + (k * c_in + c) * 9;
      double gg[6][3] = {};  // G g: rows of the filter combined
      for (std::int64_t i = 0; i < alpha; ++i)
        for (int col = 0; col < 3; ++col)
          for (int a = 0; a < 3; ++a) gg[i][col] += g_at(i, a) * f[3 * a + col];
      for (std::int64_t i = 0; i < alpha; ++i)
        for (std::int64_t j = 0; j < alpha; ++j) {
          double r = 0;  // (G g G^T)[i][j]
          for (int b = 0; b < 3; ++b) r += gg[i][b] * g_at(j, b);
          u[static_cast<std::size_t>(((alpha * i + j) * c_out + k) * c_in + c)] = static_cast<float>(r);
        }
    }
  return u;
}

/**
 * @brief @p weight [c_out, c_in, kh, kw] packed for policy @p P's conv2d, in the layout its GEMM
 * reads for @p Packing. A constant weight packed once takes that work out of every call.
 *
 * - pixels_as_rows lets the GEMM put the pixels, not the channels, along its register tile's rows:
 *   the 14 x 14 and 7 x 7 layers of ResNet-50 then fill whole tiles (their 196 and 49 pixels
 *   filled 224 and 64 columns of panels the other way round) and nothing is packed per call.
 * - channels_as_rows gives the usual lowering a weight whose tile of 12 rows the micro-kernel reads
 *   as one stream, 12 neighbouring floats a step, instead of 12 rows c_in · kh · kw floats apart.
 */
template <backend P, conv2d_packing Packing = conv2d_packing::pixels_as_rows>
tensor<float> pack_conv2d_weight(tensor_view<const float> weight) {
  static_assert(conv2d_takes_packed_weight<P, Packing>, "this policy's conv2d reads its weight only as given");
  detail::check_rank("pack_conv2d_weight", "weight", weight, 4);
  const std::int64_t c_out = weight.dim(0), depth = c_out == 0 ? 0 : weight.numel() / c_out;
  if constexpr (Packing == conv2d_packing::pixels_as_rows) {
    return pack_gemm_b<P>(weight.reshape(shape{c_out, depth}), true);
  } else if constexpr (winograd_tile(Packing) > 0) {
    constexpr std::int64_t tile = winograd_tile(Packing), xis = (tile + 2) * (tile + 2);
    require(weight.dim(2) == 3 && weight.dim(3) == 3, "pack_conv2d_weight: Winograd F(", tile, "x", tile,
            ", 3x3) needs a 3x3 weight, got ", weight.shape());
    const std::int64_t c_in = weight.dim(1);
    tensor<float> packed(packed_conv2d_weight_shape<P, Packing>(c_out, c_in, 3, 3));
    if (weight.numel() == 0) return packed;
    const std::vector<float> u = winograd_3x3_weight(weight, tile);
    const std::int64_t per_xi = packed.numel() / xis;
    for (std::int64_t xi = 0; xi < xis; ++xi)
      gemm_a_packing<P>::pack(u.data() + xi * c_out * c_in, c_in, c_out, c_in, packed.data() + xi * per_xi);
    return packed;
  } else {
    tensor<float> packed(packed_conv2d_weight_shape<P, Packing>(c_out, weight.dim(1), weight.dim(2), weight.dim(3)));
    if (weight.numel() > 0) gemm_a_packing<P>::pack(weight.data(), depth, c_out, depth, packed.data());
    return packed;
  }
}

/**
 * @brief A weight packed by pack_conv2d_weight, and what for: ops::conv2d's optional last argument.
 * A tensor view alone converts to one packed with the pixels as rows.
 */
struct packed_conv2d_weight {
  tensor_view<const float> data;
  conv2d_packing packing = conv2d_packing::pixels_as_rows;

  packed_conv2d_weight() = default;
  // Implicit: a view passed alone keeps the meaning it had before there were two packings.
  packed_conv2d_weight(tensor_view<const float> packed,  // NOLINT(google-explicit-constructor)
                       conv2d_packing how = conv2d_packing::pixels_as_rows)
      : data(packed), packing(how) {}
};

/**
 * @brief For front ends (ops::conv2d, ops::conv2d_max_pool): the conv2d_op of a convolution whose
 * shapes @p out_shape has checked, writing to @p output, with @p ep's bias (checked here: [c_out],
 * apart from the output) and activation; the residual and packed weights are the caller's.
 */
inline conv2d_op conv2d_desc(const char* op, tensor_view<const float> input, tensor_view<const float> weight,
                             tensor_view<float> output, const conv2d_params& p, const shape& out_shape,
                             const conv2d_epilogue& ep) {
  conv2d_op desc{.n = input.dim(0),
                 .c_in = input.dim(1),
                 .h = input.dim(2),
                 .w = input.dim(3),
                 .c_out = weight.dim(0),
                 .kh = weight.dim(2),
                 .kw = weight.dim(3),
                 .stride_h = p.stride_h,
                 .stride_w = p.stride_w,
                 .pad_h = p.pad_h,
                 .pad_w = p.pad_w,
                 .dil_h = p.dil_h,
                 .dil_w = p.dil_w,
                 .groups = p.groups,
                 .out_h = out_shape[2],
                 .out_w = out_shape[3],
                 .input = input.data(),
                 .weight = weight.data(),
                 .output = output.data(),
                 .ep = {}};
  desc.ep.act = ep.act;
  desc.ep.axis = bias_axis::row;
  if (!ep.bias.is_none()) {
    detail::check_shape(op, "bias", ep.bias, shape{desc.c_out});
    detail::check_no_overlap(op, "output", output, "bias", ep.bias);
    desc.ep.bias = ep.bias.data();
  }
  return desc;
}

/**
 * @brief output = act(conv2d(input, weight) + bias + residual), input [n, c_in, h, w], weight
 * [c_out, c_in / groups, kh, kw] (PyTorch's OIHW), output conv2d_output_shape(...).
 *
 * groups == c_in == c_out is a depthwise convolution. An empty batch (n = 0) does nothing. The
 * output must not overlap the input, weight, bias or residual. Throws joule::error naming the
 * shapes on any bad argument (see conv2d_output_shape).
 *
 * @p packed, when given, is pack_conv2d_weight<P, packed.packing>(weight) (groups must be 1): the
 * kernel may read it instead of @p weight where that is faster.
 */
template <backend P>
void conv2d(context<P>& ctx, tensor_view<const float> input, tensor_view<const float> weight, tensor_view<float> output,
            const conv2d_params& p = {}, const conv2d_epilogue& ep = {}, const packed_conv2d_weight& packed = {}) {
  constexpr const char* op = "conv2d";
  detail::check_rank(op, "input", input, 4);
  detail::check_rank(op, "weight", weight, 4);
  const shape out_shape = conv2d_output_shape(input.shape(), weight.shape(), p);
  detail::check_shape(op, "output", output, out_shape);
  conv2d_op desc = conv2d_desc(op, input, weight, output, p, out_shape, ep);
  if (!ep.residual.is_none()) {
    detail::check_shape(op, "residual", ep.residual, out_shape);
    detail::check_no_overlap(op, "output", output, "residual", ep.residual);
    desc.ep.residual = ep.residual.data();
  }
  detail::check_no_overlap(op, "output", output, "input", input);
  detail::check_no_overlap(op, "output", output, "weight", weight);
  if (!packed.data.is_none()) {
    // Checks a weight packed for Packing and hands it to the kernel, or says the policy takes none.
    auto take = [&]<conv2d_packing Packing>(const float*& field) {
      const char* what = Packing == conv2d_packing::pixels_as_rows     ? "with the pixels as rows"
                         : Packing == conv2d_packing::channels_as_rows ? "with the channels as rows"
                         : Packing == conv2d_packing::winograd_3x3     ? "for Winograd F(2x2, 3x3)"
                                                                       : "for Winograd F(4x4, 3x3)";
      if constexpr (!conv2d_takes_packed_weight<P, Packing>) {
        fail(op, ": this policy's conv2d takes no packed weight ", what, " (conv2d_takes_packed_weight is false)");
      } else {
        require(p.groups == 1, op, ": a packed weight needs groups = 1, got groups = ", p.groups);
        if constexpr (winograd_tile(Packing) > 0)
          require(desc.kh == 3 && desc.kw == 3 && p.stride_h == 1 && p.stride_w == 1 && p.dil_h == 1 && p.dil_w == 1 &&
                      p.pad_h == 1 && p.pad_w == 1,
                  op, ": a weight packed ", what,
                  " needs a 3x3 window, stride 1, dilation 1 and padding 1, got weight ", weight.shape(), ", stride (",
                  p.stride_h, ", ", p.stride_w, "), dilation (", p.dil_h, ", ", p.dil_w, "), padding (", p.pad_h, ", ",
                  p.pad_w, ")");
        detail::check_shape(op, "packed weight", packed.data,
                            packed_conv2d_weight_shape<P, Packing>(desc.c_out, desc.c_in, desc.kh, desc.kw));
        detail::check_no_overlap(op, "output", output, "packed weight", packed.data);
        field = packed.data.data();
      }
    };
    if (packed.packing == conv2d_packing::pixels_as_rows)
      take.template operator()<conv2d_packing::pixels_as_rows>(desc.packed_weight);
    else if (packed.packing == conv2d_packing::channels_as_rows)
      take.template operator()<conv2d_packing::channels_as_rows>(desc.packed_weight_rows);
    else if (packed.packing == conv2d_packing::winograd_3x3)
      take.template operator()<conv2d_packing::winograd_3x3>(desc.winograd_weight);
    else
      take.template operator()<conv2d_packing::winograd_4x4_3x3>(desc.winograd_weight);
    desc.winograd_tile = winograd_tile(packed.packing) > 0 ? winograd_tile(packed.packing) : 2;
  }
  if (output.numel() == 0) return;
  kernel_for<conv2d_op, P>::run(ctx, desc);
}

}  // namespace joule::ops

// With JOULE_PRECOMPILED_MODELS, compiled once in joule/precompiled.cpp.
#define JOULE_DETAIL_CONV2D(P)                                                                           \
  void ::joule::ops::conv2d<P>(::joule::context<P>&, ::joule::tensor_view<const float>,                  \
                               ::joule::tensor_view<const float>, ::joule::tensor_view<float>,           \
                               const ::joule::ops::conv2d_params&, const ::joule::ops::conv2d_epilogue&, \
                               const ::joule::ops::packed_conv2d_weight&)
JOULE_DETAIL_DECLARE_PRECOMPILED_FUNCTION(JOULE_DETAIL_CONV2D)
