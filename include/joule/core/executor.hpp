#pragma once
/**
 * @file executor.hpp
 * @brief joule::compile and joule::executor: one model definition, compiled for one policy.
 *
 * @code
 * auto w   = joule::random_weights(joule::models::resnet<joule::simd>{cfg}.manifest(), 0);
 * auto net = joule::compile<joule::simd>(joule::models::resnet<joule::simd>{cfg}, w, {.batch = 1});
 * joule::tensor_view<const float> logits = net.run(image);  // valid until the next run()
 * @endcode
 */
#include <concepts>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <joule/config.hpp>
#include <joule/core/context.hpp>
#include <joule/core/memory_space.hpp>
#include <joule/core/weights.hpp>
#include <joule/policy/backend.hpp>

namespace joule {

/** @brief What an executor is compiled for. */
struct compile_options {
  std::int64_t batch = 1;         ///< images or sequences per run()
  std::int64_t image_size = 224;  ///< vision models: input height and width
  std::int64_t seq_len = 128;     ///< BERT: tokens per sequence
  int threads = 0;                ///< threads of the executor's context (0: every hardware thread)
  /**
   * Device policies: let cuBLAS/cuDNN use TF32 tensor cores for float32 products (faster, 10-bit
   * mantissa inputs). Off by default, so every policy computes float32 as the reference does.
   */
  bool allow_tf32 = false;
  /**
   * Vision models: images taken through the network together, layer by layer (0: the policy's
   * default, see nn::images_per_pass). Outputs do not depend on it.
   */
  std::int64_t images_at_once = 0;
  /**
   * Vision models whose blocks run in bands of rows on a host policy (MobileNetV2's stride-2
   * blocks, see nn::inverted_residual): bytes of activations one thread's share of a band may hold
   * (0: the default, half a 2 MB L2 cache). Outputs do not depend on it.
   */
  std::int64_t band_bytes = 0;
};

/** @brief True for a policy whose tensors live in device memory (cuda). */
template <class P>
inline constexpr bool device_policy = !is_host_space<typename P::memory_space>;

/**
 * @brief What a model definition provides (models::resnet<P>, mobilenet_v2<P>, bert<P>): a name,
 * its policy, the tensors it expects, a prepare() that prepacks weights and plans every buffer for
 * the options, and a forward() that allocates nothing.
 */
template <class M>
concept model_definition = requires(M m, const M cm, const weights& w, const compile_options& o,
                                    context<typename M::policy>& ctx, const typename M::input_type& in) {
  typename M::policy;
  typename M::input_type;
  { cm.name() } -> std::convertible_to<std::string>;
  { cm.manifest() } -> std::same_as<std::vector<weight_spec>>;
  { m.prepare(w, o) } -> std::same_as<weight_report>;
  { m.forward(ctx, in) } -> std::same_as<tensor_view<const float>>;
  { m.example_input() } -> std::convertible_to<typename M::input_type>;
  { cm.flops() } -> std::convertible_to<double>;
};

/**
 * @brief A model compiled for one policy: weights prepacked in its own memory, buffers planned,
 * a context of its own. Executors share nothing mutable, so executors of different policies built
 * from one joule::weights may run from different threads at once; one executor runs on one thread
 * at a time.
 *
 * This is the host policies' executor; device policies get the specialisation in
 * core/device_executor.hpp (same interface, input and output copied at the edges, CUDA graphs).
 */
template <model_definition Model>
class executor {
 public:
  using policy = typename Model::policy;
  using input_type = typename Model::input_type;

  executor(Model model, const weights& w, const compile_options& options)
      : model_(std::move(model)), options_(options), context_(options.threads) {
    report_ = model_.prepare(w, options_);
    // One run on the model's example input sizes the scratch arena; after it, run() never allocates.
    model_.forward(context_, model_.example_input());
  }

  /** @brief Runs the model. The result lives in the executor until the next run(). */
  tensor_view<const float> run(const input_type& input) {
    // Threads keep spinning between the run's forks, not sleeping (thread_pool::busy_scope).
    const thread_pool::busy_scope busy(context_.pool());
    return model_.forward(context_, input);
  }

  const Model& model() const noexcept { return model_; }
  const compile_options& options() const noexcept { return options_; }
  context<policy>& ctx() noexcept { return context_; }
  /** @brief What checking the weights found that was not an error (ignored tensors). */
  const weight_report& weights_report() const noexcept { return report_; }
  /** @brief Floating-point operations of one run(). */
  double flops() const { return model_.flops(); }
  /** @brief Host-device copies made by run(): none for a host policy. */
  transfer_stats transfers() const noexcept { return {}; }

 private:
  Model model_;
  compile_options options_;
  context<policy> context_;
  weight_report report_;
};

namespace detail {
struct deduce_policy {};
}  // namespace detail

}  // namespace joule

#if JOULE_HAS_CUDA
#include <joule/core/device_executor.hpp>
#endif

namespace joule {

/**
 * @brief Compiles @p model for its policy. compile<P>(model, ...) states the policy at the call
 * site (and checks it); compile(model, ...) takes it from the model.
 */
template <class P = detail::deduce_policy, model_definition Model>
executor<Model> compile(Model model, const weights& w, const compile_options& options = {}) {
  static_assert(std::is_same_v<P, detail::deduce_policy> || std::is_same_v<P, typename Model::policy>,
                "joule::compile<P>: the model was instantiated for another policy");
  return executor<Model>(std::move(model), w, options);
}

/**
 * @brief compile() for weights that are needed only here: each tensor is freed as soon as its layer
 * holds its own copy, so compiling never holds the model twice (joule-run's BERT-base peak: 846 MB
 * with a const reference, about 500 MB this way). @p w is left empty, whatever happens.
 */
template <class P = detail::deduce_policy, model_definition Model>
executor<Model> compile(Model model, weights&& w, const compile_options& options = {}) {
  weights owned = std::move(w);
  w = weights{};
  owned.free_tensors_once_copied();
  return compile<P>(std::move(model), owned, options);
}

}  // namespace joule
