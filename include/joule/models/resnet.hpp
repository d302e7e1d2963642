#pragma once
/**
 * @file resnet.hpp
 * @brief ResNet with bottleneck blocks (torchvision's ResNet-50 layout, v1.5: stride on the 3x3),
 * one definition for every policy, reading torchvision state-dict names.
 */
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <joule/core/executor.hpp>
#include <joule/core/weights.hpp>
#include <joule/core/precompiled.hpp>
#include <joule/nn/buffer.hpp>
#include <joule/nn/conv_bn_act.hpp>
#include <joule/nn/linear.hpp>
#include <joule/nn/thread_contexts.hpp>
#include <joule/ops/pool2d.hpp>

namespace joule::models {

/** @brief Shape of a bottleneck ResNet. The defaults are torchvision's resnet50. */
struct resnet_config {
  std::array<int, 4> layers{3, 4, 6, 3};  ///< bottleneck blocks per stage
  std::int64_t base_width = 64;           ///< stem channels and the first stage's bottleneck width
  std::int64_t num_classes = 1000;
  std::int64_t in_channels = 3;

  std::string name() const {
    const resnet_config r50{};
    if (layers == r50.layers && base_width == r50.base_width && num_classes == r50.num_classes &&
        in_channels == r50.in_channels)
      return "resnet50";
    return "resnet[" + std::to_string(layers[0]) + "," + std::to_string(layers[1]) + "," + std::to_string(layers[2]) +
           "," + std::to_string(layers[3]) + "]w" + std::to_string(base_width) + "c" + std::to_string(num_classes);
  }
};

/** @brief torchvision's resnet50. */
inline resnet_config resnet50_config() { return {}; }
/** @brief A small ResNet for tests: one block per stage (so every stage has a downsample), width 8. */
inline resnet_config resnet_small_config() { return {{1, 1, 1, 1}, 8, 10, 3}; }

/**
 * @brief ResNet on policy @p P: conv1/bn1/relu, max pool, four stages of bottlenecks, global
 * average pool, fc. Input [batch, in_channels, H, W] float32 (NCHW); output logits [batch, classes].
 */
template <backend P>
class resnet {
 public:
  using policy = P;
  using input_type = tensor_view<const float>;
  static constexpr std::int64_t kExpansion = 4;

  explicit resnet(resnet_config config) : config_(config) {
    const auto w = config_.base_width;
    stem_ = nn::conv_bn_act<P>({"conv1", "bn1", config_.in_channels, w, 7, 2, 1, activation::relu});
    std::int64_t in = w;
    for (int stage = 0; stage < 4; ++stage) {
      const std::int64_t width = w << stage, out = width * kExpansion;
      for (int i = 0; i < config_.layers[stage]; ++i) {
        const std::int64_t stride = (stage > 0 && i == 0) ? 2 : 1;
        const std::string name = "layer" + std::to_string(stage + 1) + "." + std::to_string(i);
        // The last two stages' planes (14 x 14 and 7 x 7 at 224 x 224) are small: their 1x1
        // layers and strided 3x3 keep a packed weight for a policy that then runs them with the
        // pixels as its GEMM's rows (nn::conv_bn_act_spec::pack_weight). So does the last stage's
        // stride-1 3x3, which runs Winograd from 2 images a call: at batch 1 its 49 pixels are 5
        // row tiles of 10 where the usual lowering's 2 panels compute 64 columns (whole model
        // 0.986 and 0.987, ab-models.sh, Emerald Rapids; on Zen 5 it had measured 1.021).
        const bool small_planes = stage >= 2, small_3x3 = stage >= 2 && (stride == 2 || stage == 3);
        bottleneck b;
        b.conv1 =
            nn::conv_bn_act<P>({name + ".conv1", name + ".bn1", in, width, 1, 1, 1, activation::relu, small_planes});
        // The 3x3 layers run by Winograd (bench/ab/winograd_layers.cpp, times against the usual
        // lowering, Zen 5): F(4x4, 3x3) on the 56 x 56 and 28 x 28 planes (0.52 and 0.70 at 1 image,
        // 0.53 and 0.46 at 16; F(2x2, 3x3) 0.83, 0.82, 0.72, 0.59); F(2x2, 3x3) on 14 x 14, whose
        // 4 x 4 tiles would overhang it and fill a quarter of a vector's lanes (F(4x4, 3x3) 1.06 at 1
        // image, F(2x2, 3x3) 0.71), but F(4x4, 3x3) there from 2 images a call, where its fewer
        // multiply-adds win (Emerald Rapids, 2, 4, 8 images: F(4x4) 0.49, 0.42, 0.45, F(2x2) 0.60,
        // 0.59, 0.61; in the model at batch 16 the five layers took 30 ms for 41, for 5 x 5.2 MB
        // more weight; bench/ab/winograd_layers.cpp); the last stage's from 2 images a call only:
        // at batch 1 its 16 tiles do not pay for reading the larger transformed weight (1.12 the
        // time of the usual lowering at 1 image, 0.65-0.70 at 2 and more). F(4x4) there won at 8 images alone (0.50
        // against 0.59), for 2 x 21 MB more weight; in the model at batch 16 it gained nothing clear.
        b.conv2 = nn::conv_bn_act<P>({name + ".conv2", name + ".bn2", width, width, 3, stride, 1, activation::relu,
                                      small_3x3, stage == 3 ? 2 : 1, stage <= 1 ? 4 : 2, stage == 2 ? 2 : 0});
        // ReLU after the residual add, which the convolution's epilogue does before its activation.
        b.conv3 =
            nn::conv_bn_act<P>({name + ".conv3", name + ".bn3", width, out, 1, 1, 1, activation::relu, small_planes});
        b.has_downsample = stride != 1 || in != out;
        if (b.has_downsample)
          b.downsample = nn::conv_bn_act<P>(
              {name + ".downsample.0", name + ".downsample.1", in, out, 1, stride, 1, activation::none, small_planes});
        blocks_.push_back(std::move(b));
        in = out;
      }
    }
    fc_ = nn::linear<P>("fc", in, config_.num_classes);
  }

  std::string name() const { return config_.name(); }
  const resnet_config& config() const noexcept { return config_; }

  std::vector<weight_spec> manifest() const {
    std::vector<weight_spec> m;
    stem_.add_to_manifest(m);
    for (const auto& b : blocks_) {
      b.conv1.add_to_manifest(m);
      b.conv2.add_to_manifest(m);
      b.conv3.add_to_manifest(m);
      if (b.has_downsample) b.downsample.add_to_manifest(m);
    }
    fc_.add_to_manifest(m);
    return m;
  }

  static bool ignored_weight(std::string_view name) { return nn::is_batch_norm_counter(name); }

  weight_report prepare(const weights& w, const compile_options& options) {
    auto report = check_weights(w, manifest(), name(), ignored_weight);
    require(options.batch >= 0 && options.image_size >= 32, name(), ": batch must be >= 0 and image_size >= 32, got ",
            options.batch, " and ", options.image_size);
    // Eight images per pass on the simd policy: layer 4's 3x3 weights are 9.4 MB over 7x7 planes,
    // and simd multiplies the pass's images as one GEMM. joule-run, batch 16, alternated four
    // times: 836 ms (median) against 995 ms one image at a time.
    pass_ = nn::images_per_pass<P>(options, 8);
    // With at least an image for every thread, on the host, each thread takes its share of the
    // batch whole, on its own one-thread context and buffers, in passes of at most 8 images: no
    // join between layers, each core keeps its images' activations, and a layer's work is not split
    // where it divides badly (a 14 x 14 plane's 17 row tiles, a 7 x 7 plane's 5). Against the
    // threads sharing every layer (scripts/ab-models.sh e9d68ad resnet50 BATCH, Zen 5): batch 64
    // 0.951-0.966, batch 8 0.953, batch 2 0.910.
    image_threads_ = nn::share_threads<P>(options.threads, options.batch);
    if (image_threads_ > 1 && options.images_at_once == 0)
      pass_ = std::min(pass_, (options.batch + image_threads_ - 1) / image_threads_);
    // The stem and the first stage, though, one image at a time: their weights are small and their
    // planes large, and 8 images' activations (25.7 MB into layer 1's 1x1 layers) stream through
    // memory where one image's stay in cache (bench/ab/resnet50_layers, Zen 5: stem and stage 1
    // 4.5 ms an image at 8 images a call, 3.8 ms at one). scripts/ab-models.sh, batch 16, against
    // every layer at 8: 0.973 and 0.986 (8 rounds), batch 64 0.980; with stage 2 as well 0.974 and
    // 1.022, stages 1-3 0.992, two images at a time 0.993. Not when the caller set images_at_once.
    early_pass_ = options.images_at_once == 0 && !device_policy<P> ? std::min<std::int64_t>(pass_, 1) : pass_;
    early_blocks_ = early_pass_ < pass_ ? static_cast<std::size_t>(config_.layers[0]) : 0;
    stem_.prepare(w);
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      auto& b = blocks_[i];
      const std::int64_t images = i < early_blocks_ ? early_pass_ : pass_;
      b.conv1.prepare(w, images);
      b.conv2.prepare(w, images);
      b.conv3.prepare(w, images);
      if (b.has_downsample) b.downsample.prepare(w, images);
    }
    fc_.prepare(w);

    // Walk the shapes of one pass (pass_ images) once: remember each block's, count the flops,
    // size the buffers for that many images.
    input_shape_ = shape{options.batch, config_.in_channels, options.image_size, options.image_size};
    const shape pass_input = nn::with_batch(input_shape_, pass_);
    flops_ = stem_.flops(pass_input);
    stem_shape_ = stem_.output_shape(pass_input);
    pool_shape_ = ops::pool2d_output_shape(stem_shape_, max_pool());
    // The stem and the early blocks hold early_pass_ images at a time, the rest pass_.
    const std::int64_t early_images = early_blocks_ > 0 ? early_pass_ : pass_;
    auto floats_for = [&](const shape& one_pass, std::int64_t images) {
      return pass_ > 0 ? one_pass.numel() / pass_ * images : 0;
    };
    std::int64_t largest = std::max(floats_for(stem_shape_, early_images), floats_for(pool_shape_, early_images));
    shape s = pool_shape_;
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      auto& b = blocks_[i];
      b.in = s;
      b.mid1 = b.conv1.output_shape(s);
      b.mid2 = b.conv2.output_shape(b.mid1);
      b.out = b.conv3.output_shape(b.mid2);
      flops_ += b.conv1.flops(s) + b.conv2.flops(b.mid1) + b.conv3.flops(b.mid2) +
                (b.has_downsample ? b.downsample.flops(s) : 0.0);
      const std::int64_t images = i < early_blocks_ ? early_images : pass_;
      largest = std::max({largest, floats_for(b.mid1, images), floats_for(b.mid2, images), floats_for(b.out, images)});
      s = b.out;
    }
    features_shape_ = shape{options.batch, s[1]};
    flops_ = (pass_ > 0 ? flops_ / static_cast<double>(pass_) * static_cast<double>(options.batch) : 0.0) +
             fc_.flops(options.batch);
    buffers_.clear();
    buffers_.resize(static_cast<std::size_t>(image_threads_));
    // One image shared by the threads (batch 1): the blocks on planes of 14 x 14 and smaller each
    // write their output to a buffer of their own (6 MB in all for ResNet-50), not to the one
    // the block before last read. Both cores read every block's input, and a block writing where
    // the other core read a block earlier took longer than one writing lines untouched since the
    // last run: stage 3 and 4's conv3 (800 and 400 KB of output) 0.90-0.96 of the time in the
    // model (bench/ab/resnet50_in_model.sh, alternated), the earlier stages level. The outputs lie
    // one after another in one buffer, on huge pages (aligned_buffer): 800 and 400 KB each, on
    // buffers of their own they had 4 KiB pages, and the GEMM writing an output's channel rows
    // (pixel_rows_sink) crosses many.
    const bool own_outputs = image_threads_ == 1 && pass_ == 1 && !device_policy<P>;
    constexpr std::int64_t kPageFloats = 4096 / sizeof(float);  // each output starts on a page of its own
    own_output_at_.assign(blocks_.size(), -1);
    std::int64_t own_floats = 0;
    for (std::size_t i = 0; i < blocks_.size() && own_outputs; ++i)
      if (blocks_[i].out[2] * blocks_[i].out[3] <= 14 * 14) {
        own_output_at_[i] = own_floats;
        own_floats += (blocks_[i].out.numel() + kPageFloats - 1) / kPageFloats * kPageFloats;
      }
    for (auto& set : buffers_) {
      for (auto& buffer : set.activations) buffer = space_tensor(shape{largest});
      // The early blocks' output for a whole pass, where the later blocks take it up.
      if (early_blocks_ > 0) set.boundary = space_tensor(shape{blocks_[early_blocks_ - 1].out.numel()});
      set.own_outputs = own_floats > 0 ? space_tensor(shape{own_floats}) : space_tensor{};
    }
    pooled_ = space_tensor(features_shape_);
    logits_ = space_tensor(shape{options.batch, config_.num_classes});
    example_ = tensor<float>(input_shape_);
    return report;
  }

  tensor_view<const float> example_input() const { return example_.cview(); }
  const shape& input_shape() const noexcept { return input_shape_; }
  double flops() const noexcept { return flops_; }

  tensor_view<const float> forward(context<P>& ctx, tensor_view<const float> image) {
    if (!(image.shape() == input_shape_))
      fail(name(), ": input must be ", input_shape_, " (as compiled), got ", image.shape());
    // pass_ images at a time through every layer up to the pooled features, then one fc for all.
    const std::int64_t batch = input_shape_[0];
    auto run_images = [&](context<P>& c, buffer_set& buffers, std::int64_t begin, std::int64_t end) {
      for (std::int64_t first = begin; first < end; first += pass_) {
        const std::int64_t n = std::min(pass_, end - first);
        features(c, buffers, nn::items(image, first, n), nn::items(pooled_.view(), first, n));
      }
    };
    // Each thread its share of the images, on its one-thread context and buffers (or all on ctx).
    workers_.run_shares(ctx, image_threads_, batch, [&](context<P>& c, int t, std::int64_t begin, std::int64_t end) {
      run_images(c, buffers_[static_cast<std::size_t>(t)], begin, end);
    });
    fc_.forward(ctx, pooled_.cview(), logits_.view());
    return logits_.cview();
  }

 private:
  /** Activations live in the policy's memory space: host memory, or device memory for cuda. */
  using space_tensor = tensor<float, typename P::memory_space>;
  /** One thread's activations: block input/output ping-pong, two temporaries, downsample. */
  struct buffer_set {
    std::array<space_tensor, 5> activations;
    space_tensor boundary;     // the early blocks' output for a pass
    space_tensor own_outputs;  // the blocks' own outputs, one after another (own_output_at_)
  };

  /**
   * Stem, blocks and global average pool for the @p image.dim(0) images of one pass: the stem and
   * the first early_blocks_ blocks early_pass_ images at a time into buffers.boundary, then the rest.
   */
  void features(context<P>& ctx, buffer_set& buffers, tensor_view<const float> image, tensor_view<float> pooled) {
    const std::int64_t n = image.shape()[0];
    tensor_view<const float> current;
    if (early_blocks_ == 0 || early_pass_ >= n) {
      current = run_blocks(ctx, buffers, stem(ctx, buffers, image), 0, blocks_.size(), nullptr);
    } else {
      const auto boundary = nn::view_as(buffers.boundary, nn::with_batch(blocks_[early_blocks_ - 1].out, n));
      for (std::int64_t first = 0; first < n; first += early_pass_) {
        const std::int64_t count = std::min(early_pass_, n - first);
        const auto out = nn::items(boundary, first, count);
        run_blocks(ctx, buffers, stem(ctx, buffers, nn::items(image, first, count)), 0, early_blocks_, &out);
      }
      current = run_blocks(ctx, buffers, boundary, early_blocks_, blocks_.size(), nullptr);
    }
    ops::global_avg_pool(ctx, current, pooled);
  }

  /** The stem and max pool of the @p image.dim(0) images: their output, in buffers.activations[0]. */
  tensor_view<float> stem(context<P>& ctx, buffer_set& buffers, tensor_view<const float> image) {
    const std::int64_t n = image.shape()[0];
    const auto pooled = nn::view_as(buffers.activations[0], nn::with_batch(pool_shape_, n));
    if constexpr (conv2d_fuses_max_pool<P>) {
      // The stem's output (3.2 MB an image at 224 x 224) pooled as it is made, never written out.
      stem_.forward_max_pool(ctx, image, pooled, max_pool());
    } else {
      const auto stem_out = nn::view_as(buffers.activations[2], nn::with_batch(stem_shape_, n));
      stem_.forward(ctx, image, stem_out);
      ops::pool2d(ctx, stem_out, pooled, max_pool());
    }
    return pooled;
  }

  /**
   * Blocks [first, last) on @p input's images (in @p buffers: activations[0] or [1], or boundary);
   * the last block writes to @p last_out when given, else to activations[0] or [1]. Returns the
   * last output.
   */
  tensor_view<const float> run_blocks(context<P>& ctx, buffer_set& buffers, tensor_view<const float> input,
                                      std::size_t first, std::size_t last, const tensor_view<float>* last_out) {
    const std::int64_t n = input.shape()[0];
    auto at = [n](space_tensor& buffer, const shape& s) { return nn::view_as(buffer, nn::with_batch(s, n)); };
    auto& [x, y, t1, t2, t3] = buffers.activations;
    tensor_view<const float> current = input;
    space_tensor* spare = current.data() == x.data() ? &y : &x;
    for (std::size_t i = first; i < last; ++i) {
      const auto& b = blocks_[i];
      const auto mid1 = at(t1, b.mid1), mid2 = at(t2, b.mid2);
      b.conv1.forward(ctx, current, mid1);
      b.conv2.forward(ctx, mid1, mid2);
      tensor_view<const float> identity = current;
      if (b.has_downsample) {
        const auto projected = at(t3, b.out);
        b.downsample.forward(ctx, current, projected);
        identity = projected;
      }
      const std::int64_t own = own_output_at_[i];
      const auto out = i + 1 == last && last_out ? *last_out
                       : own >= 0 ? tensor_view<float>{buffers.own_outputs.data() + own, nn::with_batch(b.out, n)}
                                  : at(*spare, b.out);
      b.conv3.forward(ctx, mid2, out, identity);
      spare = current.data() == x.data() ? &x : &y;
      current = out;
    }
    return current;
  }

  struct bottleneck {
    nn::conv_bn_act<P> conv1, conv2, conv3, downsample;
    bool has_downsample = false;
    shape in, mid1, mid2, out;
  };
  static ops::pool2d_params max_pool() {
    return {.kind = pool_kind::max, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
  }

  resnet_config config_;
  nn::conv_bn_act<P> stem_;
  std::vector<bottleneck> blocks_;
  nn::linear<P> fc_;
  shape input_shape_, stem_shape_, pool_shape_, features_shape_;  // stem, pool, blocks: for pass_ images
  std::int64_t pass_ = 1;                                         // images per pass (nn::images_per_pass)
  std::int64_t early_pass_ = 1;   // images at a time through the stem and the first early_blocks_ blocks
  std::size_t early_blocks_ = 0;  // 0: every layer takes pass_ images at a time
  double flops_ = 0;
  int image_threads_ = 1;            // threads taking a share of the images each (1: the threads share each layer)
  std::vector<buffer_set> buffers_;  // one set per such thread
  std::vector<std::int64_t> own_output_at_;  // [block]: where its own output starts in own_outputs, or -1
  nn::thread_contexts<P> workers_;           // their one-thread contexts
  space_tensor pooled_, logits_;
  tensor<float> example_;  // on the host: the executor uploads it for a device policy
};

}  // namespace joule::models

JOULE_DETAIL_DECLARE_PRECOMPILED_MODEL(resnet)
