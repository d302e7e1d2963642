#pragma once
/**
 * @file device_executor.hpp
 * @brief joule::executor for device policies (cuda): the model runs on the GPU with its weights
 * and activations in device memory; the host input is copied in and the output copied out, the
 * only host-device traffic of run(), counted; the forward pass is replayed as a CUDA graph.
 *
 * Included by executor.hpp when the toolkit is on. The input edges (upload of a model's input)
 * use only the CUDA runtime API and compile anywhere; the executor itself runs the model's device
 * kernels and so can only be instantiated in a translation unit compiled by nvcc.
 */
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include <cuda_runtime_api.h>

#include <joule/config.hpp>
#include <joule/core/error.hpp>
#include <joule/core/executor.hpp>  // the primary template this specialises
#include <joule/core/memory_space.hpp>
#include <joule/core/tensor.hpp>

namespace joule {

/**
 * @brief How a model's input crosses from the host to the device: one specialisation per model
 * input type. An edge owns device staging buffers sized once (plan), and upload() copies a host
 * input into them on the executor's stream, counting the copies, and returns the same input type
 * pointing at device memory. signature() tells apart input forms that give different device work
 * (BERT with or without a mask), each of which gets its own CUDA graph.
 */
template <class Input>
struct device_input_edge;

namespace detail {
/** @brief cudaMemcpyAsync host -> device of @p count elements, counted in @p stats. */
template <class T>
void upload_async(T* device, const T* host, std::int64_t count, cudaStream_t stream, transfer_stats& stats) {
  const std::size_t bytes = static_cast<std::size_t>(count) * sizeof(T);
  if (bytes == 0) return;
  cuda_runtime_require(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream),
                       "executor input edge: cudaMemcpyAsync host to device");
  ++stats.to_device_copies;
  stats.to_device_bytes += static_cast<std::int64_t>(bytes);
}
}  // namespace detail

/** @brief The vision models' input edge: one float tensor, copied as is. */
template <>
struct device_input_edge<tensor_view<const float>> {
  template <class Model>
  void plan(const Model&, const tensor_view<const float>& example) {
    staging = tensor<float, device_space>(example.shape());
  }
  int signature(const tensor_view<const float>&) const noexcept { return 0; }
  tensor_view<const float> upload(const tensor_view<const float>& host, cudaStream_t stream, transfer_stats& stats) {
    // The model's own check names the model; this one guards the copy, which must not overrun.
    require(host.shape() == staging.shape(), "executor: input must be ", staging.shape(), " (as compiled), got ",
            host.shape());
    detail::upload_async(staging.data(), host.data(), host.numel(), stream, stats);
    return staging.cview();
  }
  tensor<float, device_space> staging;
};

namespace detail {
/** Models may check their input on the host before it is uploaded (BERT's token ids). */
template <class Model>
concept has_host_input_check = requires(const Model& m, const typename Model::input_type& in) {
  m.check_input(in);
};
}  // namespace detail

/**
 * @brief The executor of a device policy: same interface as the host one. Compiling uploads the
 * weights (the model's prepare()), sizes the input and output buffers, runs once (warm-up: sizes
 * the context's workspace, loads the libraries' kernels), then captures the forward pass into a
 * CUDA graph. run() = check the input on the host, copy it in, launch the graph, copy the output
 * out, synchronize: one graph launch instead of hundreds of kernel launches, which is what batch-1
 * latency is made of on a GPU.
 */
template <model_definition Model>
requires device_policy<typename Model::policy>
class executor<Model> {
  // Dependent on Model, so that merely including this header in a g++ translation unit is fine.
  static_assert(JOULE_CUDA_KERNELS != 0 && sizeof(Model) > 0,
                "joule::executor for a device policy (cuda) runs the policy's kernels, which only nvcc "
                "compiles: compile this translation unit as CUDA (a .cu file), or from host code use "
                "joule/choose/cuda_candidates.hpp, whose factories are defined in a .cu file");

 public:
  using policy = typename Model::policy;
  using input_type = typename Model::input_type;

  executor(Model model, const weights& w, const compile_options& options)
      : model_(std::move(model)), options_(options), context_(options.threads) {
    context_.set_allow_tf32(options.allow_tf32);
    report_ = model_.prepare(w, options_);
    const input_type example = model_.example_input();
    edge_.plan(model_, example);
    // Warm-up, eagerly: cuBLAS and cuDNN pick and load their kernels and the workspace reaches its
    // size, none of which may happen inside a graph capture.
    const auto device_in = edge_.upload(example, context_.stream(), transfers_);
    const tensor_view<const float> out = model_.forward(context_, device_in);
    output_ = tensor<float>(out.shape());
    context_.synchronize();
    capture(edge_.signature(example), device_in);
    transfers_ = {};  // count run()'s traffic only
  }

  /** @brief Runs the model on the device. The result (on the host) lives until the next run(). */
  tensor_view<const float> run(const input_type& input) {
    if constexpr (detail::has_host_input_check<Model>) model_.check_input(input);
    const int form = edge_.signature(input);
    require(form >= 0 && form < kForms, "executor: input form ", form, " out of range");
    const auto device_in = edge_.upload(input, context_.stream(), transfers_);
    if (!graphs_[static_cast<std::size_t>(form)].exec) capture(form, device_in);  // first use of this form
    const graph& g = graphs_[static_cast<std::size_t>(form)];
    detail::cuda_runtime_require(cudaGraphLaunch(g.exec, context_.stream()), "executor: cudaGraphLaunch");
    const std::size_t bytes = static_cast<std::size_t>(g.output.numel()) * sizeof(float);
    if (bytes) {
      detail::cuda_runtime_require(
          cudaMemcpyAsync(output_.data(), g.output.data(), bytes, cudaMemcpyDeviceToHost, context_.stream()),
          "executor output edge: cudaMemcpyAsync device to host");
      ++transfers_.to_host_copies;
      transfers_.to_host_bytes += static_cast<std::int64_t>(bytes);
    }
    context_.synchronize();
    return output_.cview();
  }

  const Model& model() const noexcept { return model_; }
  const compile_options& options() const noexcept { return options_; }
  context<policy>& ctx() noexcept { return context_; }
  const weight_report& weights_report() const noexcept { return report_; }
  double flops() const { return model_.flops(); }
  /** @brief Host-device copies made by run() since compiling (the warm-up's are not counted). */
  const transfer_stats& transfers() const noexcept { return transfers_; }
  /** @brief CUDA graphs captured so far: one per input form used (BERT: with/without mask, types). */
  int graphs_captured() const noexcept {
    int n = 0;
    for (const auto& g : graphs_) n += g.exec != nullptr;
    return n;
  }

 private:
  static constexpr int kForms = 4;
  // An instantiated graph, owned: moving an executor moves its graphs (they point at device
  // buffers, which do not move), destroying it destroys them.
  struct graph {
    cudaGraphExec_t exec = nullptr;
    tensor_view<const float> output;  // device memory the graph writes the result to

    graph() = default;
    graph(graph&& other) noexcept : exec(std::exchange(other.exec, nullptr)), output(other.output) {}
    graph& operator=(graph&& other) noexcept {
      std::swap(exec, other.exec);
      std::swap(output, other.output);
      return *this;
    }
    ~graph() {
      if (exec) static_cast<void>(cudaGraphExecDestroy(exec));
    }
  };

  // Records the forward pass on the context's stream into a graph. The model's buffers and the
  // edge's staging never move, so the recorded pointers stay valid for every later launch.
  void capture(int form, const input_type& device_in) {
    const cudaStream_t stream = context_.stream();
    detail::cuda_runtime_require(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal),
                                 "executor: cudaStreamBeginCapture");
    tensor_view<const float> out;
    try {
      out = model_.forward(context_, device_in);
    } catch (...) {
      cudaGraph_t broken = nullptr;  // leave the stream usable, then report the model's error
      if (cudaStreamEndCapture(stream, &broken) == cudaSuccess && broken) static_cast<void>(cudaGraphDestroy(broken));
      throw;
    }
    cudaGraph_t recorded = nullptr;
    detail::cuda_runtime_require(cudaStreamEndCapture(stream, &recorded), "executor: cudaStreamEndCapture");
    graph& g = graphs_[static_cast<std::size_t>(form)];
    const cudaError_t status = cudaGraphInstantiate(&g.exec, recorded, 0);
    static_cast<void>(cudaGraphDestroy(recorded));
    detail::cuda_runtime_require(status, "executor: cudaGraphInstantiate");
    require(out.shape() == output_.shape(), "executor: the model's output shape changed from ", output_.shape(), " to ",
            out.shape());
    g.output = out;
  }

  Model model_;
  compile_options options_;
  context<policy> context_;
  weight_report report_;
  device_input_edge<input_type> edge_;
  tensor<float> output_;  // the host copy run() returns
  std::array<graph, kForms> graphs_;
  transfer_stats transfers_;
};

}  // namespace joule
