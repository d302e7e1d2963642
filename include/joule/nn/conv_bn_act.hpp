#pragma once
/** @file conv_bn_act.hpp @brief Convolution + batch-norm (folded at compile time) + activation. */
#include <string>
#include <string_view>
#include <vector>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/weights.hpp>
#include <joule/core/precompiled.hpp>
#include <joule/ops/batch_norm.hpp>
#include <joule/ops/conv2d.hpp>
#include <joule/ops/conv2d_max_pool.hpp>
#include <joule/ops/desc/gemm.hpp>
#include <joule/ops/gemm.hpp>

namespace joule::nn {

/**
 * @brief True for BatchNorm2d's step counter (`<prefix>.num_batches_tracked`), which PyTorch state
 * dicts carry and inference never reads: models with batch-norm ignore it (and report it).
 */
inline bool is_batch_norm_counter(std::string_view name) { return name.ends_with(".num_batches_tracked"); }

/** @brief Where a conv_bn_act finds its tensors and how it is shaped. */
struct conv_bn_act_spec {
  std::string conv;  ///< checkpoint prefix of the convolution ("layer1.0.conv1")
  std::string bn;    ///< checkpoint prefix of its batch-norm ("layer1.0.bn1")
  std::int64_t in = 0, out = 0, kernel = 1, stride = 1, groups = 1;
  activation act = activation::none;
  /**
   * @brief Keep the weight packed with the pixels as rows (ops::conv2d_packing::pixels_as_rows),
   * where the policy takes one and the layer runs one image per call: for layers on small planes,
   * which that policy then runs with the pixels as its GEMM's rows. Otherwise the weight is kept
   * packed with the channels as rows, where the policy takes that. Either costs the weight's memory
   * a second time.
   */
  bool pack_weight = false;
  /**
   * @brief For a 3x3 stride-1 layer, where the policy runs Winograd's F(2x2, 3x3): transform the
   * weight for it (ops::conv2d_packing::winograd_3x3) when a call runs at least this many images.
   * The transformed weight is 16/9 the size of the weight and is read once per call: on a small
   * plane of few tiles that read dominates (ResNet-50's 7 x 7 layers at batch 1: 16 tiles, 1.13x
   * the time of the usual lowering; bench/ab/winograd_layers.cpp).
   */
  std::int64_t winograd_min_images = 1;
  /**
   * @brief The output tile of that Winograd: 2 for F(2x2, 3x3) (ops::conv2d_packing::winograd_3x3),
   * 4 for F(4x4, 3x3) (winograd_4x4_3x3: fewer multiply-adds, a transformed weight 4x the weight's
   * size, tiles of 4 x 4 that waste more of a plane whose side is not a multiple of 4).
   */
  std::int64_t winograd_tile = 2;
  /**
   * @brief From this many images a call, F(4x4, 3x3) instead of winograd_tile (0: never). On a
   * plane whose side is not a multiple of 4, F(4x4)'s overhanging tiles cost more than they save at
   * one image, and its 4x larger weight is read once per call; over a few images its fewer
   * multiply-adds win (ResNet-50's 14 x 14 layers: the figures are in models/resnet.hpp).
   */
  std::int64_t winograd_4x4_min_images = 0;
};

/**
 * @brief The Conv2d -> BatchNorm2d -> activation unit of ResNet and MobileNetV2 (torchvision's
 * Conv2dNormActivation), with "same" padding (kernel - 1) / 2. Compiling folds the batch-norm
 * into the convolution's weights and bias, so running is one convolution with a fused epilogue
 * (bias, optional residual, activation).
 */
template <backend P>
class conv_bn_act {
 public:
  conv_bn_act() = default;
  explicit conv_bn_act(conv_bn_act_spec spec) : spec_(std::move(spec)) {}

  const conv_bn_act_spec& spec() const noexcept { return spec_; }

  void add_to_manifest(std::vector<weight_spec>& manifest) const {
    const shape channels{spec_.out};
    manifest.push_back({spec_.conv + ".weight", shape{spec_.out, spec_.in / spec_.groups, spec_.kernel, spec_.kernel},
                        weight_init::he_normal});
    manifest.push_back({spec_.bn + ".weight", channels, weight_init::bn_gamma});
    manifest.push_back({spec_.bn + ".bias", channels, weight_init::bn_beta});
    manifest.push_back({spec_.bn + ".running_mean", channels, weight_init::bn_mean});
    manifest.push_back({spec_.bn + ".running_var", channels, weight_init::bn_var});
  }

  /**
   * @brief Folds the batch-norm (eps 1e-5, PyTorch's default) into this layer's own weights, on
   * the host, then moves them to the policy's memory space (uploaded once, for a device policy).
   * Then packs the weight for the GEMM the layer will run, where the policy takes a packed weight:
   * with spec().pack_weight and @p images_per_call 1, with the pixels as rows (the simd conv2d puts
   * the pixels along its GEMM's rows one image at a time); otherwise, with the channels as rows
   * (the usual lowering, one GEMM for all of a call's images). A 3x3 stride-1 layer instead keeps
   * its weight transformed for Winograd's F(2x2, 3x3) or F(4x4, 3x3) where the policy runs that
   * (spec().winograd_min_images, spec().winograd_tile, spec().winograd_4x4_min_images). Depthwise
   * layers keep theirs as is.
   */
  void prepare(const weights& w, std::int64_t images_per_call = 1) {
    auto folded = ops::fold_batch_norm(w.at(spec_.conv + ".weight").cview(), {}, w.at(spec_.bn + ".weight").cview(),
                                       w.at(spec_.bn + ".bias").cview(), w.at(spec_.bn + ".running_mean").cview(),
                                       w.at(spec_.bn + ".running_var").cview(), 1e-5f);
    for (const char* suffix : {".weight", ".bias", ".running_mean", ".running_var"}) w.done_with(spec_.bn + suffix);
    w.done_with(spec_.conv + ".weight");
    weight_ = to_space<space>(std::move(folded.weight));
    bias_ = to_space<space>(std::move(folded.bias));
    if (spec_.groups != 1) return;
    using ops::conv2d_packing;
    if constexpr (ops::conv2d_takes_packed_weight<P, conv2d_packing::winograd_3x3>) {
      if (spec_.kernel == 3 && spec_.stride == 1 && images_per_call >= spec_.winograd_min_images) {
        require(spec_.winograd_tile == 2 || spec_.winograd_tile == 4, "conv_bn_act ", spec_.conv,
                ": winograd_tile must be 2 or 4, got ", spec_.winograd_tile);
        const bool four = spec_.winograd_tile == 4 ||
                          (spec_.winograd_4x4_min_images > 0 && images_per_call >= spec_.winograd_4x4_min_images);
        packing_ = four ? conv2d_packing::winograd_4x4_3x3 : conv2d_packing::winograd_3x3;
        packed_weight_ = four ? ops::pack_conv2d_weight<P, conv2d_packing::winograd_4x4_3x3>(weight_.cview())
                              : ops::pack_conv2d_weight<P, conv2d_packing::winograd_3x3>(weight_.cview());
        return;
      }
    }
    if constexpr (ops::conv2d_takes_packed_weight<P, conv2d_packing::pixels_as_rows>) {
      if (spec_.pack_weight && images_per_call == 1) {
        packed_weight_ = ops::pack_conv2d_weight<P, conv2d_packing::pixels_as_rows>(weight_.cview());
        packing_ = conv2d_packing::pixels_as_rows;
        return;
      }
    }
    if constexpr (ops::conv2d_takes_packed_weight<P, conv2d_packing::channels_as_rows>) {
      packed_weight_ = ops::pack_conv2d_weight<P, conv2d_packing::channels_as_rows>(weight_.cview());
      packing_ = conv2d_packing::channels_as_rows;
    }
  }

  ops::conv2d_params params() const noexcept {
    const std::int64_t pad = (spec_.kernel - 1) / 2;
    return {.stride_h = spec_.stride, .stride_w = spec_.stride, .pad_h = pad, .pad_w = pad, .groups = spec_.groups};
  }

  shape output_shape(const shape& input) const {
    return ops::conv2d_output_shape(input, shape{spec_.out, spec_.in / spec_.groups, spec_.kernel, spec_.kernel},
                                    params());
  }

  /** @brief Multiply-adds x 2 for one call on @p input. */
  double flops(const shape& input) const {
    const std::int64_t in_per_group = spec_.in / spec_.groups;  // input channels each output channel reads
    return 2.0 * static_cast<double>(output_shape(input).numel()) * static_cast<double>(in_per_group) * spec_.kernel *
           spec_.kernel;
  }

  /** @brief out = act(conv(in) + bias [+ residual]). */
  void forward(context<P>& ctx, tensor_view<const float> in, tensor_view<float> out,
               tensor_view<const float> residual = {}) const {
    ops::conv2d(ctx, in, weight_.cview(), out, params(),
                {.bias = bias_.cview(), .residual = residual, .act = spec_.act}, {packed_weight_.cview(), packing_});
  }

  /**
   * @brief Whether forward_channels_last runs this layer: a 1x1, stride-1, ungrouped layer whose
   * weight prepare() packed with the pixels as rows (spec().pack_weight, one image a call), on a
   * host policy whose gemm reads that packed B.
   */
  bool runs_channels_last() const noexcept {
    if constexpr (is_host_space<space> && ops::gemm_b_panel_width<P> != 0)
      return spec_.kernel == 1 && spec_.stride == 1 && spec_.groups == 1 &&
             packing_ == ops::conv2d_packing::pixels_as_rows && packed_weight_.numel() > 0;
    return false;
  }

  /**
   * @brief out = act(conv(in) + bias) channels-last, when runs_channels_last(): @p in [n, h, w,
   * in], @p out [n, h, w, out], no overlap. A 1x1 layer channels-last is one GEMM with every
   * pixel of the n images as a row: the input read in place as A, the weight packed ahead as B,
   * the bias and activation in the epilogue. ops::conv2d on an NCHW input with the same packed
   * weight reads the input transposed and writes the output transposed, a tile's 16 channels 49
   * floats apart on a 7 x 7 plane: MobileNetV2's last layer (320 -> 1280 on 7 x 7) took 1.57 ms
   * that way against 1.24 ms channels-last on one Zen 1 core (0.74 and 0.63 on two).
   */
  void forward_channels_last(context<P>& ctx, tensor_view<const float> in, tensor_view<float> out) const {
    if constexpr (is_host_space<space> && ops::gemm_b_panel_width<P> != 0) {
      require(runs_channels_last(), spec_.conv,
              ": channels-last runs only a 1x1, stride-1, ungrouped layer whose weight was packed with the pixels "
              "as rows (pack_weight, one image a call)");
      require(in.rank() == 4 && in.dim(3) == spec_.in, spec_.conv, ": channels-last input must be [n, h, w, ", spec_.in,
              "], got ", in.shape());
      const shape want{in.dim(0), in.dim(1), in.dim(2), spec_.out};
      require(out.shape() == want, spec_.conv, ": channels-last output must be ", want, ", got ", out.shape());
      joule::detail::check_no_overlap(spec_.conv.c_str(), "out", out, "in", in);
      if (out.numel() == 0) return;
      constexpr std::int64_t width = ops::gemm_b_panel_width<P>;
      gemm_op op{.m = in.numel() / spec_.in,
                 .n = spec_.out,
                 .k = spec_.in,
                 .a = in.data(),
                 .lda = spec_.in,
                 .b = packed_weight_.data(),
                 .ldb = width,
                 .c = out.data(),
                 .ldc = spec_.out,
                 .ep = {.bias = bias_.data(), .axis = bias_axis::column, .act = spec_.act}};
      op.b_panel_width = width;
      kernel_for<gemm_op, P>::run(ctx, op);
    } else {
      fail(spec_.conv, ": this policy does not run layers channels-last");
    }
  }

  /**
   * @brief out = max_pool(act(conv(in) + bias)), @p pool a max pooling, for a policy that runs
   * the two together (conv2d_fuses_max_pool<P>; ops::conv2d_max_pool).
   */
  void forward_max_pool(context<P>& ctx, tensor_view<const float> in, tensor_view<float> out,
                        const ops::pool2d_params& pool) const requires conv2d_fuses_max_pool<P> {
    ops::conv2d_max_pool(ctx, in, weight_.cview(), out, params(), {.bias = bias_.cview(), .act = spec_.act}, pool);
  }

  /** @brief The folded weight [out, in / groups, kernel, kernel] and bias [out] (after prepare). */
  tensor_view<const float> weight() const noexcept { return weight_.cview(); }
  tensor_view<const float> bias() const noexcept { return bias_.cview(); }

 private:
  using space = typename P::memory_space;
  conv_bn_act_spec spec_;
  tensor<float, space> weight_;
  tensor<float, space> bias_;
  tensor<float, space> packed_weight_;  ///< empty unless the policy takes a packed weight (prepare)
  ops::conv2d_packing packing_ = ops::conv2d_packing::pixels_as_rows;  ///< what packed_weight_ is for
};

}  // namespace joule::nn

JOULE_DETAIL_DECLARE_PRECOMPILED_CLASS(nn::conv_bn_act)
