#pragma once
/**
 * @file mobilenet_v2.hpp
 * @brief MobileNetV2 (torchvision's layout and names), one definition for every policy.
 */
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <joule/core/executor.hpp>
#include <joule/core/weights.hpp>
#include <joule/core/precompiled.hpp>
#include <joule/nn/buffer.hpp>
#include <joule/nn/channels_last.hpp>
#include <joule/nn/conv_bn_act.hpp>
#include <joule/nn/inverted_residual.hpp>
#include <joule/nn/linear.hpp>
#include <joule/nn/thread_contexts.hpp>
#include <joule/ops/pool2d.hpp>

namespace joule::models {

/** @brief One row of MobileNetV2's table: expansion t, channels c, repeats n, first stride s. */
struct inverted_residual_setting {
  std::int64_t expand, channels, repeats, stride;
};

/** @brief Shape of a MobileNetV2. The defaults are torchvision's mobilenet_v2(). */
struct mobilenet_v2_config {
  double width_mult = 1.0;
  std::int64_t num_classes = 1000;
  std::vector<inverted_residual_setting> settings{{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                                  {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  std::int64_t round_nearest = 8;

  std::string name() const {
    const mobilenet_v2_config d{};
    bool same_settings = settings.size() == d.settings.size();
    for (std::size_t i = 0; same_settings && i < settings.size(); ++i)
      same_settings = settings[i].expand == d.settings[i].expand && settings[i].channels == d.settings[i].channels &&
                      settings[i].repeats == d.settings[i].repeats && settings[i].stride == d.settings[i].stride;
    if (same_settings && width_mult == 1.0 && num_classes == 1000 && round_nearest == 8) return "mobilenet_v2";
    std::string s = "mobilenet_v2[";
    for (const auto& r : settings)
      s += std::to_string(r.expand) + "," + std::to_string(r.channels) + "," + std::to_string(r.repeats) + "," +
           std::to_string(r.stride) + ";";
    return s + "]x" + std::to_string(width_mult) + "c" + std::to_string(num_classes);
  }
};

inline mobilenet_v2_config mobilenet_v2_default_config() { return {}; }
/** @brief A small MobileNetV2 for tests: an expansion-1 block, residual blocks, strides 1 and 2. */
inline mobilenet_v2_config mobilenet_v2_small_config() {
  return {0.25, 10, {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 2, 2}, {4, 48, 1, 1}}, 8};
}

namespace detail {
/** torchvision's _make_divisible: round to a multiple of @p divisor, never below 90% of @p v. */
inline std::int64_t make_divisible(double v, std::int64_t divisor) {
  std::int64_t rounded =
      std::max<std::int64_t>(divisor, static_cast<std::int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (static_cast<double>(rounded) < 0.9 * v) rounded += divisor;
  return rounded;
}
}  // namespace detail

/**
 * @brief MobileNetV2 on policy @p P: features (stem conv, inverted residual blocks, last 1x1 conv,
 * all with batch-norm folded and ReLU6), global average pool, classifier (dropout is an identity at
 * inference). Input [batch, 3, H, W]; output logits [batch, classes].
 */
template <backend P>
class mobilenet_v2 {
  /** Activations live in the policy's memory space: host memory, or device memory for cuda. */
  using space_tensor = tensor<float, typename P::memory_space>;
  /** The activation buffers of one pass: block input/output ping-pong, expanded, depthwise output. */
  using buffer_set = std::array<space_tensor, 4>;

 public:
  using policy = P;
  using input_type = tensor_view<const float>;

  explicit mobilenet_v2(mobilenet_v2_config config) : config_(std::move(config)) {
    std::int64_t in = detail::make_divisible(32 * config_.width_mult, config_.round_nearest);
    last_channel_ = detail::make_divisible(1280 * std::max(1.0, config_.width_mult), config_.round_nearest);
    stem_ = nn::conv_bn_act<P>({"features.0.0", "features.0.1", 3, in, 3, 2, 1, activation::relu6});
    int index = 1;
    for (const auto& row : config_.settings) {
      const std::int64_t out = detail::make_divisible(row.channels * config_.width_mult, config_.round_nearest);
      for (std::int64_t i = 0; i < row.repeats; ++i, ++index) {
        const std::int64_t hidden = static_cast<std::int64_t>(std::llround(static_cast<double>(in * row.expand)));
        blocks_.emplace_back(nn::inverted_residual_spec{"features." + std::to_string(index) + ".conv.", in, hidden, out,
                                                        i == 0 ? row.stride : 1});
        in = out;
      }
    }
    const std::string last = "features." + std::to_string(index);
    // A 1x1 layer on 7 x 7 planes: its weight is also kept packed, for a policy that then runs it
    // with the pixels as its GEMM's rows (nn::conv_bn_act_spec::pack_weight).
    last_ = nn::conv_bn_act<P>({last + ".0", last + ".1", in, last_channel_, 1, 1, 1, activation::relu6, true});
    classifier_ = nn::linear<P>("classifier.1", last_channel_, config_.num_classes);
  }

  std::string name() const { return config_.name(); }
  const mobilenet_v2_config& config() const noexcept { return config_; }

  std::vector<weight_spec> manifest() const {
    std::vector<weight_spec> m;
    stem_.add_to_manifest(m);
    for (const auto& b : blocks_) b.add_to_manifest(m);
    last_.add_to_manifest(m);
    classifier_.add_to_manifest(m);
    return m;
  }

  static bool ignored_weight(std::string_view name) { return nn::is_batch_norm_counter(name); }

  weight_report prepare(const weights& w, const compile_options& options) {
    auto report = check_weights(w, manifest(), name(), ignored_weight);
    require(options.batch >= 0 && options.image_size >= 32, name(), ": batch must be >= 0 and image_size >= 32, got ",
            options.batch, " and ", options.image_size);
    require(options.band_bytes >= 0, name(), ": band_bytes must be >= 0, got ", options.band_bytes);
    // One image per pass on a host policy: its weights are small, and eight at once measured
    // slower (joule-run, batch 16, alternated: 122 ms median against 112 ms).
    pass_ = nn::images_per_pass<P>(options, 1);
    stem_.prepare(w);
    for (auto& b : blocks_) b.prepare(w);
    last_.prepare(w, pass_);
    classifier_.prepare(w);

    // The shapes of one pass (pass_ images): the buffers are sized for that many images.
    input_shape_ = shape{options.batch, 3, options.image_size, options.image_size};
    const shape pass_input = nn::with_batch(input_shape_, pass_);
    stem_shape_ = stem_.output_shape(pass_input);
    flops_ = stem_.flops(pass_input);
    std::int64_t largest = stem_shape_.numel();
    shape s = stem_shape_;
    block_inputs_.clear();
    // With a pass for every thread (batch 2 and up on two threads), each thread takes whole passes
    // on its own one-thread context and buffers: no join between layers, and each core keeps its
    // image's activations. Batch 16, two threads: 100 ms against 114 ms with the threads sharing
    // every block (two one-thread executors on half the batch each, against one, alternated).
    const int threads = options.threads > 0 ? options.threads : hardware_threads();
    const std::int64_t passes = pass_ > 0 ? (options.batch + pass_ - 1) / pass_ : 0;
    image_threads_ = nn::share_threads<P>(options.threads, passes);
    const int block_threads = image_threads_ > 1 ? 1 : threads;
    for (auto& b : blocks_) {
      block_inputs_.push_back(s);
      flops_ += b.flops(s);
      // A block shared out by channels or run in bands takes its scratch from the same buffers.
      const auto plan = b.plan(s, block_threads, options.band_bytes);
      b.prepare_channels_last(s, plan.threads);
      largest = std::max({largest, b.hidden_shape(s).numel(), b.filtered_shape(s).numel(), b.output_shape(s).numel(),
                          plan.hidden_floats, plan.filtered_floats});
      s = b.output_shape(s);
    }
    band_bytes_ = options.band_bytes;
    last_shape_ = last_.output_shape(s);
    flops_ += last_.flops(s);
    flops_ = (pass_ > 0 ? flops_ / static_cast<double>(pass_) * static_cast<double>(options.batch) : 0.0) +
             classifier_.flops(options.batch);
    largest = std::max(largest, last_shape_.numel());
    buffers_.clear();
    buffers_.resize(static_cast<std::size_t>(image_threads_));
    for (auto& set : buffers_)
      for (auto& buffer : set) buffer = space_tensor(shape{largest});
    pooled_ = space_tensor(shape{options.batch, last_channel_});
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
    // pass_ images at a time through every layer up to the pooled features, then one classifier for all.
    const std::int64_t batch = input_shape_[0], passes = pass_ > 0 ? (batch + pass_ - 1) / pass_ : 0;
    auto run_pass = [&](context<P>& c, buffer_set& buffers, std::int64_t pass) {
      const std::int64_t first = pass * pass_, n = std::min(pass_, batch - first);
      features(c, buffers, nn::items(image, first, n), nn::items(pooled_.view(), first, n));
    };
    // Whole passes per thread, each on its one-thread context and buffers (or all on ctx).
    workers_.run_shares(ctx, image_threads_, passes, [&](context<P>& c, int t, std::int64_t begin, std::int64_t end) {
      for (std::int64_t pass = begin; pass < end; ++pass) run_pass(c, buffers_[static_cast<std::size_t>(t)], pass);
    });
    classifier_.forward(ctx, pooled_.cview(), logits_.view());
    return logits_.cview();
  }

 private:
  /**
   * Stem, blocks, last convolution and global average pool for the @p image.dim(0) images of one
   * pass, in @p buffers.
   */
  void features(context<P>& ctx, buffer_set& buffers, tensor_view<const float> image, tensor_view<float> pooled) {
    const std::int64_t n = image.shape()[0];
    auto at = [n](space_tensor& buffer, const shape& s) { return nn::view_as(buffer, nn::with_batch(s, n)); };
    auto& [x, y, t1, t2] = buffers;
    tensor_view<float> current = at(x, stem_shape_);
    stem_.forward(ctx, image, current);
    space_tensor* spare = &y;
    space_tensor* const first = &x;  // a lambda may not capture the structured bindings (clang)
    space_tensor* const second = &y;
    auto next = [&](tensor_view<float> out) {  // out, in *spare, becomes the current activation
      spare = current.data() == first->data() ? first : second;
      current = out;
    };
    // Blocks on small planes run channels-last (nn::inverted_residual::prepare_channels_last): the
    // activation is moved into that layout before the first of a run of them and back after the last.
    bool channels_last = false;
    auto relayout = [&](const shape& nchw, bool to_channels_last) {
      if constexpr (!device_policy<P>) {
        const shape nhwc{nchw[0], nchw[2], nchw[3], nchw[1]};
        const tensor_view<const float> from(current.data(), to_channels_last ? nchw : nhwc);
        const auto out = nn::view_as(*spare, to_channels_last ? nhwc : nchw);
        if (to_channels_last)
          nn::to_channels_last(from, out);
        else
          nn::to_nchw(from, out);
        next(out);
        channels_last = to_channels_last;
      }
    };
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      const auto& b = blocks_[i];
      const shape in = nn::with_batch(block_inputs_[i], n), out_nchw = b.output_shape(in);
      const bool wants_channels_last = b.runs_channels_last(in, ctx.threads(), band_bytes_);
      if (wants_channels_last != channels_last) relayout(in, wants_channels_last);
      const auto out =
          nn::view_as(*spare, wants_channels_last ? shape{n, out_nchw[2], out_nchw[3], out_nchw[1]} : out_nchw);
      if (wants_channels_last)
        b.forward_channels_last(ctx, workers_, current, out, t1.view(), t2.view());
      else
        b.forward(ctx, workers_, current, out, t1.view(), t2.view(), band_bytes_);
      next(out);
    }
    const shape last = nn::with_batch(last_shape_, n);
    if constexpr (!device_policy<P>) {
      // The last 1x1 layer and the pool read the blocks' channels-last output as it is: no move
      // back to NCHW, and the layer's GEMM reads its input in place and writes its output in order.
      if (channels_last && last_.runs_channels_last()) {
        const auto out = nn::view_as(t1, shape{n, last[2], last[3], last[1]});
        last_.forward_channels_last(ctx, current, out);
        nn::global_avg_pool_channels_last(out, pooled);
        return;
      }
    }
    if (channels_last) relayout(nn::with_batch(blocks_.back().output_shape(block_inputs_.back()), n), false);
    const auto out = nn::view_as(t1, last);
    last_.forward(ctx, current, out);
    ops::global_avg_pool(ctx, tensor_view<const float>(out), pooled);
  }

  mobilenet_v2_config config_;
  std::int64_t last_channel_ = 0;
  nn::conv_bn_act<P> stem_, last_;
  std::vector<nn::inverted_residual<P>> blocks_;
  std::vector<shape> block_inputs_;  // each block's input shape for one pass (pass_ images)
  std::int64_t band_bytes_ = 0;      // compile_options::band_bytes
  nn::thread_contexts<P> workers_;   // one-thread contexts: the threads' passes, or their share of a block
  nn::linear<P> classifier_;
  shape input_shape_, stem_shape_, last_shape_;
  double flops_ = 0;
  std::int64_t pass_ = 1;            // images per pass (nn::images_per_pass); the shapes above are for pass_ images
  int image_threads_ = 1;            // threads taking whole passes each (1: the threads share each layer)
  std::vector<buffer_set> buffers_;  // one set per such thread
  space_tensor pooled_, logits_;
  tensor<float> example_;  // on the host: the executor uploads it for a device policy
};

}  // namespace joule::models

JOULE_DETAIL_DECLARE_PRECOMPILED_MODEL(mobilenet_v2)
