#pragma once
/**
 * @file inverted_residual.hpp
 * @brief MobileNetV2's inverted residual block: 1x1 expand -> 3x3 depthwise -> 1x1 project
 * (+ the block's input), run on a host policy with each thread on its own share of the expanded
 * channels, in bands of rows when those would not stay in cache; on planes of 28 x 28 and smaller
 * channels-last (prepare_channels_last, forward_channels_last).
 */
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <joule/core/context.hpp>
#include <joule/core/executor.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/weights.hpp>
#include <joule/core/precompiled.hpp>
#include <joule/nn/conv_bn_act.hpp>
#include <joule/nn/thread_contexts.hpp>
#include <joule/ops/conv2d.hpp>
#include <joule/ops/depthwise_channels_last.hpp>
#include <joule/ops/gemm.hpp>

namespace joule::nn {

/** @brief Where an inverted residual block finds its tensors and how it is shaped. */
struct inverted_residual_spec {
  std::string prefix;  ///< checkpoint prefix of the block's layers ("features.2.conv.")
  std::int64_t in = 0, hidden = 0, out = 0, stride = 1;
};

/**
 * @brief torchvision's InvertedResidual at inference: [expand 1x1 + ReLU6 when hidden != in] ->
 * depthwise 3x3 (stride 1 or 2) + ReLU6 -> project 1x1, plus the input when the stride is 1 and
 * the channels are kept. Batch-norm is folded into each convolution.
 *
 * Layer by layer, MobileNetV2's layers are too small for two threads each (14x14 and 7x7 planes:
 * a fork and a join per layer, threads splitting 196 or 49 columns), and its first expanded
 * activations too large for the cache (96 channels of 112x112: 4.8 MB, written by the expand
 * layer and read back by the depthwise one from memory). On a host policy the block instead gives
 * each thread a share of the expanded channels: the thread expands them (its rows of the expand
 * weights), filters them (depthwise: channel by channel) and projects them (its columns of the
 * project weights) into a partial output, on its own one-thread context, so the expanded and
 * filtered channels never leave its core's cache. The partial outputs are summed after one join
 * (the project has no activation, so the sum is the output). When a thread's channels would not
 * fit in compile_options::band_bytes, the block runs in bands of output rows, each band expanding
 * the input rows its 3x3 windows read (one or two halo rows recomputed by the next band). A block
 * that does not expand has too few channels to share: each thread takes its own output rows,
 * every channel, in bands. A device policy runs the layers one after the other.
 */
template <backend P>
class inverted_residual {
 public:
  /** @brief One thread's activations in a band, when compile_options::band_bytes is 0: half a 2 MB L2. */
  static constexpr std::int64_t kDefaultBandBytes = std::int64_t{1} << 20;

  inverted_residual() = default;
  explicit inverted_residual(const inverted_residual_spec& spec)
      : spec_(spec), expands_(spec.hidden != spec.in), residual_(spec.stride == 1 && spec.in == spec.out) {
    int layer = 0;
    const std::string& name = spec.prefix;
    if (expands_) {
      expand_ = conv_bn_act<P>({name + "0.0", name + "0.1", spec.in, spec.hidden, 1, 1, 1, activation::relu6});
      layer = 1;
    }
    const std::string dw = name + std::to_string(layer);
    depthwise_ = conv_bn_act<P>(
        {dw + ".0", dw + ".1", spec.hidden, spec.hidden, 3, spec.stride, spec.hidden, activation::relu6});
    project_ = conv_bn_act<P>({name + std::to_string(layer + 1), name + std::to_string(layer + 2), spec.hidden,
                               spec.out, 1, 1, 1, activation::none});
  }

  const inverted_residual_spec& spec() const noexcept { return spec_; }

  void add_to_manifest(std::vector<weight_spec>& manifest) const {
    if (expands_) expand_.add_to_manifest(manifest);
    depthwise_.add_to_manifest(manifest);
    project_.add_to_manifest(manifest);
  }

  void prepare(const weights& w) {
    if (expands_) expand_.prepare(w);
    depthwise_.prepare(w);
    project_.prepare(w);
    channels_last_.clear();
  }

  /**
   * @brief Planes of at most this many pixels, in and out, run channels-last (prepare_channels_last).
   * One Emerald Rapids core, one thread's share of a block (bench/ab/mobilenet_v2_pieces.cpp): on
   * 28 x 28 (32 -> 96 of 192 -> 32) channels-last took 94 us against 132 NCHW; on 56 x 56 (24 -> 72
   * of 144 -> 24) 345 against 290, its activations outgrowing the L2 and 72 channels filling vectors
   * and panels badly.
   */
  static constexpr std::int64_t kChannelsLastMaxPixels = 28 * 28;

  /** @brief Whether blocks may run channels-last on policy P: a host policy whose gemm reads a B packed ahead. */
  static constexpr bool kPolicyRunsChannelsLast = !device_policy<P> && ops::gemm_b_panel_width<P> != 0;

  /** @brief The threads prepare_channels_last made shares for, or 0 when the block runs only NCHW. */
  int channels_last_threads() const noexcept { return static_cast<int>(channels_last_.size()); }

  /**
   * @brief After prepare(): when both the block's planes are small (kChannelsLastMaxPixels:
   * MobileNetV2's blocks from 28 x 28 on) and the policy's gemm reads a B packed ahead, makes
   * each of @p threads threads' share of the weights for a run channels-last (forward_channels_last)
   * on that many threads (plan(input, threads, ...).threads), and returns whether it did.
   *
   * Channels-last, each thread's share of the block is two GEMMs with the pixels as rows and its
   * weights packed ahead as B, and a depthwise convolution with the channels along the vectors
   * (ops::depthwise_conv2d_channels_last). NCHW, the pixels were the GEMMs' columns, 196 of 224 or
   * 49 of 64 computed, the activations packed per call, and the depthwise kernel masked every load
   * of its 14- and 7-wide rows. One Emerald Rapids core, 96 -> 288 -> 96 channels on 14 x 14
   * (bench/ab/mobilenet_v2_pieces.cpp): expand 75.1 us against 88.3, depthwise 16.6 against 30.5,
   * project 71.7 against 91.6. Costs a copy of the block's weights, rearranged.
   */
  bool prepare_channels_last(const shape& input, int threads) {
    channels_last_.clear();
    if constexpr (kPolicyRunsChannelsLast) {
      const shape filtered = filtered_shape(input);
      if (!expands_ || threads < 1 || input[2] * input[3] > kChannelsLastMaxPixels ||
          filtered[2] * filtered[3] > kChannelsLastMaxPixels)
        return false;
      constexpr std::int64_t width = ops::gemm_b_panel_width<P>;
      auto panels = [&](std::int64_t n, std::int64_t k) {
        return tensor<float>(shape{(n + width - 1) / width, k, width});
      };
      for (int t = 0; t < threads; ++t) {
        const std::int64_t c0 = spec_.hidden * t / threads, c1 = spec_.hidden * (t + 1) / threads, count = c1 - c0;
        channels_last_share share{c0, c1, panels(count, spec_.in), tensor<float>(shape{3, 3, count}),
                                  panels(spec_.out, count)};
        // expand: hidden[pixel, c] = x[pixel, :] · W_e[c, :]: B is W_e's rows [c0, c1), transposed.
        gemm_b_packing<P>::pack_columns(expand_.weight().data() + c0 * spec_.in, spec_.in, true, spec_.in, count, 0,
                                        count, share.expand.data());
        // depthwise: [count, 1, 3, 3] -> [3, 3, count], each tap's channels contiguous.
        const float* taps = depthwise_.weight().data() + c0 * 9;
        for (std::int64_t c = 0; c < count; ++c)
          for (std::int64_t tap = 0; tap < 9; ++tap) share.depthwise.data()[tap * count + c] = taps[c * 9 + tap];
        // project: out[pixel, o] = filtered[pixel, :] · W_p[o, c0 : c1]: B is those columns, transposed.
        gemm_b_packing<P>::pack_columns(project_.weight().data() + c0, spec_.hidden, true, count, spec_.out, 0,
                                        spec_.out, share.project.data());
        channels_last_.push_back(std::move(share));
      }
      return true;
    }
    return false;
  }

  /**
   * @brief Whether forward_channels_last runs @p input ([n, c, h, w] as NCHW shapes go) on a
   * context of @p threads threads: the block was prepared channels-last for the threads its plan
   * takes.
   */
  bool runs_channels_last(const shape& input, int threads, std::int64_t band_bytes) const {
    if (channels_last_.empty()) return false;
    const run_plan plan = this->plan(input, threads, band_bytes);
    return static_cast<std::int64_t>(channels_last_.size()) == plan.threads && plan.bands == 1;
  }

  /** @brief The expanded activation's shape for @p input (the input's own when the block does not expand). */
  shape hidden_shape(const shape& input) const { return expands_ ? expand_.output_shape(input) : input; }
  /** @brief The depthwise output's shape for @p input. */
  shape filtered_shape(const shape& input) const { return depthwise_.output_shape(hidden_shape(input)); }
  shape output_shape(const shape& input) const { return project_.output_shape(filtered_shape(input)); }

  double flops(const shape& input) const {
    return (expands_ ? expand_.flops(input) : 0.0) + depthwise_.flops(hidden_shape(input)) +
           project_.flops(filtered_shape(input));
  }

  /** @brief How the block runs on one image: threads sharing the channels, bands of rows, their scratch. */
  struct run_plan {
    int threads = 1;                   ///< threads, each on its share of the expanded channels (or rows)
    std::int64_t rows = 0, bands = 1;  ///< output rows per band (the last may have fewer), bands per image
    std::int64_t hidden_floats = 0;    ///< one band's expanded rows, every channel (scratch "hidden")
    std::int64_t filtered_floats = 0;  ///< one band's depthwise rows, every channel, and the partial outputs
    /**
     * Each thread takes its own output rows, every channel, in bands of `rows` (bands: the most
     * any thread runs), with its slice (a threads-th) of the scratch: a block that does not expand.
     */
    bool split_rows = false;
    bool layer_by_layer() const noexcept { return threads == 1 && bands == 1; }
  };

  /**
   * @brief The plan for @p input ([n, in, h, w]) on a context of @p threads threads, with at most
   * @p band_bytes (0: the default) of activations per thread and band (stride-2 blocks, and the
   * rows split of a block without expansion).
   * Layer by layer on a device policy, and on one thread for a block without expansion or a
   * stride-1 block; on several threads, a block without expansion splits its rows (split_rows).
   */
  run_plan plan(const shape& input, int threads, std::int64_t band_bytes) const {
    const shape filtered = filtered_shape(input);
    const std::int64_t out_h = filtered[2], out_w = filtered[3], w = input[3];
    run_plan plan{1, out_h, 1, 0, 0};
    if (device_policy<P>) return plan;
    const std::int64_t budget = band_bytes > 0 ? band_bytes : kDefaultBandBytes;
    if (!expands_) {
      // A block that does not expand (MobileNetV2's first, 32 channels of 112x112) has too few
      // channels to share. Run layer by layer on two threads, the depthwise layer split the
      // threads by channels and the project layer by pixels, so each thread read half its input
      // from the other core's cache: 0.65 ms, where the two layers alone took 0.27 + 0.26 (Zen 1,
      // bench/ab/mobilenet_v2_block1.cpp).
      // Instead each thread takes its own rows, in bands whose depthwise rows stay in its cache.
      const std::int64_t threads_used = std::clamp<std::int64_t>(threads, 1, out_h);
      if (threads_used == 1) return plan;
      const std::int64_t per_row = spec_.hidden * (spec_.stride * w + out_w) * std::int64_t{4};
      const std::int64_t most = div_up(out_h, threads_used);  // the most rows a thread takes
      plan.threads = static_cast<int>(threads_used);
      plan.split_rows = true;
      plan.rows = std::clamp<std::int64_t>(budget / per_row, 1, most);
      plan.bands = div_up(most, plan.rows);
      plan.hidden_floats = threads_used * spec_.hidden * band_span(plan.rows) * w;
      plan.filtered_floats = threads_used * spec_.hidden * plan.rows * out_w;
      return plan;
    }
    // At least 8 channels per thread: fewer would not pay for the partial outputs.
    plan.threads = static_cast<int>(std::clamp<std::int64_t>(spec_.hidden / 8, 1, std::max(threads, 1)));
    // Bands only at stride 2, where the expanded rows are 4 times the depthwise ones: at stride 1
    // the halo rows each band recomputes cost more than the cache saves (measured on 56x56 and
    // 28x28 blocks, 1-8% slower).
    if (spec_.stride == 1) {
      plan.hidden_floats = spec_.hidden * band_span(out_h) * w;
      plan.filtered_floats = (spec_.hidden + (plan.threads - 1) * spec_.out) * out_h * out_w;
      return plan;
    }
    // Per output row and thread: its channels' expanded rows (stride of them, and the band's halo),
    // their depthwise row, and a row of partial output.
    const std::int64_t share = div_up(spec_.hidden, plan.threads);
    const std::int64_t per_row =
        (share * (spec_.stride * w + out_w) + (plan.threads > 1 ? spec_.out * out_w : 0)) * std::int64_t{4};
    const std::int64_t rows = std::clamp<std::int64_t>(budget / std::max<std::int64_t>(per_row, 1), 1, out_h);
    plan.bands = div_up(out_h, rows);
    plan.rows = div_up(out_h, plan.bands);
    plan.bands = div_up(out_h, plan.rows);
    if (plan.layer_by_layer()) return plan;
    plan.hidden_floats = spec_.hidden * band_span(plan.rows) * w;
    plan.filtered_floats = (spec_.hidden + (plan.threads - 1) * spec_.out) * plan.rows * out_w;
    return plan;
  }

  /**
   * @brief out = block(in), for [n, in, h, w] -> [n, out, h', w']. @p hidden and @p filtered are
   * scratch in the policy's memory space of at least numel(hidden_shape(in)) and
   * numel(filtered_shape(in)) floats, and at least plan(in, ctx.threads()).hidden_floats and
   * filtered_floats; neither may overlap in or out. @p workers holds the one-thread contexts the
   * threads run their channels on.
   */
  void forward(context<P>& ctx, thread_contexts<P>& workers, tensor_view<const float> in, tensor_view<float> out,
               tensor_view<float> hidden, tensor_view<float> filtered, std::int64_t band_bytes = 0) const {
    const run_plan plan = this->plan(in.shape(), ctx.threads(), band_bytes);
    if (plan.layer_by_layer()) {
      layer_by_layer(ctx, in, out, hidden, filtered);
      return;
    }
    if constexpr (!device_policy<P>) {
      require(hidden.numel() >= plan.hidden_floats && filtered.numel() >= plan.filtered_floats, spec_.prefix,
              ": scratch of ", hidden.numel(), " and ", filtered.numel(), " floats is too small for a band (",
              plan.hidden_floats, " and ", plan.filtered_floats, ")");
      const std::int64_t n = in.shape()[0], out_h = out.shape()[2];
      const std::int64_t in_image = in.numel() / n, out_image = out.numel() / n;
      if (plan.threads > 1) workers.ensure(plan.threads);
      if (plan.split_rows) {
        const std::int64_t hidden_share = plan.hidden_floats / plan.threads;
        const std::int64_t filtered_share = plan.filtered_floats / plan.threads;
        for (std::int64_t image = 0; image < n; ++image)
          ctx.pool().run([&](int t) {
            if (t >= plan.threads) return;
            const std::int64_t end = out_h * (t + 1) / plan.threads;
            for (std::int64_t oy0 = out_h * t / plan.threads; oy0 < end; oy0 += plan.rows) {
              const band b{in.shape(),
                           in.data() + image * in_image,
                           out.data() + image * out_image,
                           oy0,
                           std::min(plan.rows, end - oy0),
                           hidden.data() + t * hidden_share,
                           filtered.data() + t * filtered_share};
              channels(workers.at(t), b, 0, spec_.hidden, b.y);
            }
          });
        return;
      }
      for (std::int64_t image = 0; image < n; ++image)
        for (std::int64_t oy0 = 0; oy0 < out_h; oy0 += plan.rows) {
          const band b{in.shape(),
                       in.data() + image * in_image,
                       out.data() + image * out_image,
                       oy0,
                       std::min(plan.rows, out_h - oy0),
                       hidden.data(),
                       filtered.data()};
          if (plan.threads == 1) {
            channels(ctx, b, 0, spec_.hidden, b.y);
            continue;
          }
          run_band(ctx, workers, plan, b);
        }
    }
  }

  /**
   * @brief out = block(in) channels-last, when runs_channels_last(in's NCHW shape, ctx.threads(),
   * band_bytes): @p in is [n, h, w, in] and @p out [n, h', w', out]. Scratch as forward()'s, no
   * overlap. Thread t takes its share of the hidden channels: expands it ([h · w, share], the
   * pixels as the GEMM's rows), filters it ([h' · w', share]) and projects it into a partial output
   * [h' · w', out] (thread 0 into the output, with the bias and the residual); after the join the
   * threads add the partial outputs into the output, each on its share of the pixels.
   */
  void forward_channels_last(context<P>& ctx, thread_contexts<P>& workers, tensor_view<const float> in,
                             tensor_view<float> out, tensor_view<float> hidden, tensor_view<float> filtered) const {
    if constexpr (kPolicyRunsChannelsLast) {
      const int threads = channels_last_threads();
      require(threads > 0 && in.rank() == 4 && in.dim(3) == spec_.in, spec_.prefix,
              ": forward_channels_last needs the block prepared channels-last and an input [n, h, w, ", spec_.in,
              "], got ", in.shape());
      const shape nchw{in.dim(0), in.dim(3), in.dim(1), in.dim(2)};
      const shape filtered_nchw = filtered_shape(nchw);
      const std::int64_t n = in.dim(0), in_pixels = in.dim(1) * in.dim(2);
      const std::int64_t out_pixels = filtered_nchw[2] * filtered_nchw[3];
      require(out.shape() == shape{n, filtered_nchw[2], filtered_nchw[3], spec_.out}, spec_.prefix, ": output must be ",
              shape{n, filtered_nchw[2], filtered_nchw[3], spec_.out}, ", got ", out.shape());
      const std::int64_t hidden_floats = spec_.hidden * in_pixels;
      const std::int64_t filtered_floats = (spec_.hidden + (threads - 1) * spec_.out) * out_pixels;  // and partials
      require(hidden.numel() >= hidden_floats && filtered.numel() >= filtered_floats, spec_.prefix, ": scratch of ",
              hidden.numel(), " and ", filtered.numel(), " floats is too small for an image (", hidden_floats, " and ",
              filtered_floats, ")");
      if (threads > 1) workers.ensure(threads);
      float* partials = filtered.data() + spec_.hidden * out_pixels;  // threads 1.. : [out_pixels, out] each
      for (std::int64_t image = 0; image < n; ++image) {
        const float* x = in.data() + image * in_pixels * spec_.in;
        float* y = out.data() + image * out_pixels * spec_.out;
        auto work = [&](context<P>& c, int t) {
          const channels_last_share& s = channels_last_[static_cast<std::size_t>(t)];
          run_share_channels_last(c, s, nchw, x, hidden.data() + s.c0 * in_pixels, filtered.data() + s.c0 * out_pixels,
                                  t == 0 ? y : partials + (t - 1) * out_pixels * spec_.out, t == 0);
        };
        if (threads == 1) {
          work(ctx, 0);
          continue;
        }
        ctx.pool().run([&](int t) {
          if (t < threads) work(workers.at(t), t);
        });
        const std::int64_t floats = out_pixels * spec_.out;
        ctx.pool().run([&](int t) {
          if (t >= threads) return;
          const std::int64_t i0 = floats * t / threads, i1 = floats * (t + 1) / threads;
          for (int u = 1; u < threads; ++u) {
            const float* part = partials + (u - 1) * floats;
            for (std::int64_t i = i0; i < i1; ++i) y[i] += part[i];
          }
        });
      }
    } else {
      fail(spec_.prefix, ": this policy does not run blocks channels-last");
    }
  }

 private:
  /** @brief One thread's share of the hidden channels and its weights, for a run channels-last. */
  struct channels_last_share {
    std::int64_t c0 = 0, c1 = 0;  ///< hidden channels [c0, c1)
    tensor<float> expand;         ///< the expand weight's rows [c0, c1) as a packed B [in, c1 - c0]
    tensor<float> depthwise;      ///< the depthwise weight's channels [c0, c1): [3, 3, c1 - c0]
    tensor<float> project;        ///< the project weight's columns [c0, c1) as a packed B [c1 - c0, out]
  };

  /** @brief One band of output rows of one image, and its scratch. */
  struct band {
    shape input;                     ///< the block's input shape (its h and w)
    const float* x = nullptr;        ///< the image's input [in, h, w]
    float* y = nullptr;              ///< the image's output [out, h', w']
    std::int64_t oy0 = 0, rows = 0;  ///< output rows [oy0, oy0 + rows)
    float* hidden = nullptr;         ///< the band's expanded rows [hidden, span, w]
    float* filtered = nullptr;       ///< the band's depthwise rows [hidden, rows, w'], then the partial outputs
  };

  /** @brief Expanded rows a band of @p rows output rows reads: its 3x3 windows' rows. */
  std::int64_t band_span(std::int64_t rows) const noexcept { return (rows - 1) * spec_.stride + 3; }
  static constexpr std::int64_t div_up(std::int64_t a, std::int64_t b) noexcept { return (a + b - 1) / b; }

  void layer_by_layer(context<P>& ctx, tensor_view<const float> in, tensor_view<float> out, tensor_view<float> hidden,
                      tensor_view<float> filtered) const {
    tensor_view<const float> expanded = in;
    if (expands_) {
      const tensor_view<float> h{hidden.data(), hidden_shape(in.shape())};
      expand_.forward(ctx, in, h);
      expanded = h;
    }
    const tensor_view<float> f{filtered.data(), filtered_shape(in.shape())};
    depthwise_.forward(ctx, expanded, f);
    project_.forward(ctx, f, out, residual_ ? in : tensor_view<const float>{});
  }

  /**
   * @brief Band @p b on plan.threads threads: thread t expands, filters and projects its share of
   * the channels into a partial output (thread 0 into the output itself, with the bias and the
   * residual), then, after the join, the partial outputs are added to the output, each thread on
   * its share of the output channels.
   */
  void run_band(context<P>& ctx, thread_contexts<P>& workers, const run_plan& plan, const band& b) const {
    const std::int64_t out_w = filtered_shape(b.input)[3], out_h = output_shape(b.input)[2];
    const std::int64_t pixels = b.rows * out_w;
    float* partials = b.filtered + spec_.hidden * pixels;  // threads 1.. : [out, rows, w'] each
    auto share = [&](int t, std::int64_t count) { return count * t / plan.threads; };
    ctx.pool().run([&](int t) {
      if (t >= plan.threads) return;
      channels(workers.at(t), b, share(t, spec_.hidden), share(t + 1, spec_.hidden),
               t == 0 ? b.y : partials + (t - 1) * spec_.out * pixels);
    });
    ctx.pool().run([&](int t) {
      if (t >= plan.threads) return;
      for (std::int64_t c = share(t, spec_.out); c < share(t + 1, spec_.out); ++c) {
        float* y = b.y + c * out_h * out_w + b.oy0 * out_w;
        for (int u = 1; u < plan.threads; ++u) {
          const float* part = partials + ((u - 1) * spec_.out + c) * pixels;
          for (std::int64_t i = 0; i < pixels; ++i) y[i] += part[i];
        }
      }
    });
  }

  /**
   * @brief Expanded channels [c0, c1) of band @p b: expands them over the input rows the band
   * reads, or copies those rows when the block does not expand (rows above and below the image as
   * zeros, so the depthwise layer runs unpadded along h),
   * filters them, and projects them into @p target: the output itself when c0 is 0 (with the bias
   * and the residual), else a partial output [out, rows, w'] of raw sums.
   */
  void channels(context<P>& ctx, const band& b, std::int64_t c0, std::int64_t c1, float* target) const {
    const std::int64_t h = b.input[2], w = b.input[3], s = spec_.stride, count = c1 - c0;  // 8 or more: plan()
    const shape filtered = filtered_shape(b.input);
    const std::int64_t out_h = filtered[2], out_w = filtered[3], pixels = b.rows * out_w;
    const std::int64_t first = b.oy0 * s - 1, span = band_span(b.rows);
    const std::int64_t lo = std::max<std::int64_t>(first, 0), hi = std::min(first + span, h);  // rows in the image
    const std::int64_t top = lo - first, real = hi - lo;
    float* hidden = b.hidden + c0 * span * w;
    // Zero rows above and below the image: only the first and the last band have them.
    for (std::int64_t c = 0; c < count; ++c) {
      float* plane = hidden + c * span * w;
      std::fill(plane, plane + top * w, 0.f);
      std::fill(plane + (top + real) * w, plane + span * w, 0.f);
    }
    if (expands_) {
      const gemm_op expand{
          .m = count,
          .n = real * w,
          .k = spec_.in,
          .a = expand_.weight().data() + c0 * spec_.in,
          .lda = spec_.in,
          .b = b.x + lo * w,
          .ldb = h * w,
          .c = hidden + top * w,
          .ldc = span * w,
          .ep = {.bias = expand_.bias().data() + c0, .axis = bias_axis::row, .act = activation::relu6}};
      kernel_for<gemm_op, P>::run(ctx, expand);
    } else {
      // The depthwise layer reads the block's input: the band's rows of it, copied.
      for (std::int64_t c = 0; c < count; ++c)
        std::copy_n(b.x + (c0 + c) * h * w + lo * w, real * w, hidden + c * span * w + top * w);
    }
    ops::conv2d_params dw = depthwise_.params();
    dw.pad_h = 0;  // the band holds its own padding rows
    dw.groups = count;
    ops::conv2d(
        ctx, tensor_view<const float>(hidden, shape{1, count, span, w}),
        tensor_view<const float>(depthwise_.weight().data() + c0 * 9, shape{count, 1, 3, 3}),  // 3x3 taps
        tensor_view<float>(b.filtered + c0 * pixels, shape{1, count, b.rows, out_w}), dw,
        {.bias = tensor_view<const float>(depthwise_.bias().data() + c0, shape{count}), .act = activation::relu6});
    const bool into_output = c0 == 0;
    epilogue ep{};
    if (into_output) {
      ep = {.bias = project_.bias().data(), .axis = bias_axis::row};
      if (residual_) {  // stride 1, same channels: the input has the output's layout
        ep.residual = b.x + b.oy0 * out_w;
        ep.ldr = out_h * out_w;
      }
    }
    const gemm_op project{.m = spec_.out,
                          .n = pixels,
                          .k = count,
                          .a = project_.weight().data() + c0,
                          .lda = spec_.hidden,
                          .b = b.filtered + c0 * pixels,
                          .ldb = pixels,
                          .c = into_output ? target + b.oy0 * out_w : target,
                          .ldc = into_output ? out_h * out_w : pixels,
                          .ep = ep};
    kernel_for<gemm_op, P>::run(ctx, project);
  }

  /**
   * @brief Share @p s of one image's hidden channels, channels-last: expand x ([h · w, in]) into
   * @p hidden ([h · w, share]), filter it into @p filtered ([h' · w', share]), project that into
   * @p target ([h' · w', out]): the output itself when @p into_output (with the bias and the
   * residual), else a partial output of raw sums.
   */
  void run_share_channels_last(context<P>& ctx, const channels_last_share& s, const shape& nchw, const float* x,
                               float* hidden, float* filtered, float* target, bool into_output) const {
    const std::int64_t count = s.c1 - s.c0, h = nchw[2], w = nchw[3];
    const shape filtered_nchw = filtered_shape(nchw);
    const std::int64_t out_pixels = filtered_nchw[2] * filtered_nchw[3];
    constexpr std::int64_t width = ops::gemm_b_panel_width<P>;
    gemm_op expand{.m = h * w,
                   .n = count,
                   .k = spec_.in,
                   .a = x,
                   .lda = spec_.in,
                   .b = s.expand.data(),
                   .ldb = width,
                   .c = hidden,
                   .ldc = count,
                   .ep = {.bias = expand_.bias().data() + s.c0, .axis = bias_axis::column, .act = activation::relu6}};
    expand.b_panel_width = width;
    kernel_for<gemm_op, P>::run(ctx, expand);
    ops::depthwise_conv2d_channels_last(
        ctx, tensor_view<const float>(hidden, shape{1, h, w, count}), s.depthwise.cview(),
        tensor_view<float>(filtered, shape{1, filtered_nchw[2], filtered_nchw[3], count}), spec_.stride, 1,
        tensor_view<const float>(depthwise_.bias().data() + s.c0, shape{count}), activation::relu6);
    epilogue ep{};
    if (into_output) {
      ep = {.bias = project_.bias().data(), .axis = bias_axis::column};
      if (residual_) {  // stride 1, same channels: the input has the output's layout
        ep.residual = x;
        ep.ldr = spec_.out;
      }
    }
    gemm_op project{.m = out_pixels,
                    .n = spec_.out,
                    .k = count,
                    .a = filtered,
                    .lda = count,
                    .b = s.project.data(),
                    .ldb = width,
                    .c = target,
                    .ldc = spec_.out,
                    .ep = ep};
    project.b_panel_width = width;
    kernel_for<gemm_op, P>::run(ctx, project);
  }

  inverted_residual_spec spec_;
  bool expands_ = false, residual_ = false;
  conv_bn_act<P> expand_, depthwise_, project_;
  std::vector<channels_last_share> channels_last_;  ///< one per thread, or none (prepare_channels_last)
};

}  // namespace joule::nn

JOULE_DETAIL_DECLARE_PRECOMPILED_CLASS(nn::inverted_residual)
