// The definitions of joule/choose/cuda_candidates.hpp: the three reference models compiled for the
// cuda policy, once, by nvcc. Added to a program by joule_add_cuda_candidates(<target>) in CMake;
// see the header for why this is a separate translation unit.
#include <joule/choose/choose.hpp>
#include <joule/choose/cuda_candidates.hpp>

static_assert(JOULE_CUDA_KERNELS, "cuda_candidates.cu must be compiled by nvcc with JOULE_HAS_CUDA");

namespace joule::tuning {
namespace {
template <class Model, class InputData, class Config>
std::unique_ptr<candidate_instance> instance(const Config& config, const weights& w, const compile_options& options,
                                             std::shared_ptr<const InputData> input) {
  return std::make_unique<detail::model_instance<Model, InputData>>(Model{config}, w, options, std::move(input));
}
template <class Model, class Config>
std::unique_ptr<runner_base<typename Model::input_type>> runner(const Config& config, const weights& w,
                                                                const compile_options& options) {
  return std::make_unique<detail::executor_runner<Model>>(Model{config}, w, options);
}
}  // namespace

std::unique_ptr<candidate_instance> make_cuda_instance(const models::resnet_config& config, const weights& w,
                                                       const compile_options& options,
                                                       std::shared_ptr<const image_input> input) {
  return instance<models::resnet<cuda>>(config, w, options, std::move(input));
}
std::unique_ptr<candidate_instance> make_cuda_instance(const models::mobilenet_v2_config& config, const weights& w,
                                                       const compile_options& options,
                                                       std::shared_ptr<const image_input> input) {
  return instance<models::mobilenet_v2<cuda>>(config, w, options, std::move(input));
}
std::unique_ptr<candidate_instance> make_cuda_instance(const models::bert_config& config, const weights& w,
                                                       const compile_options& options,
                                                       std::shared_ptr<const token_input> input) {
  return instance<models::bert<cuda>>(config, w, options, std::move(input));
}

std::unique_ptr<runner_base<tensor_view<const float>>> make_cuda_runner(const models::resnet_config& config,
                                                                        const weights& w,
                                                                        const compile_options& options) {
  return runner<models::resnet<cuda>>(config, w, options);
}
std::unique_ptr<runner_base<tensor_view<const float>>> make_cuda_runner(const models::mobilenet_v2_config& config,
                                                                        const weights& w,
                                                                        const compile_options& options) {
  return runner<models::mobilenet_v2<cuda>>(config, w, options);
}
std::unique_ptr<runner_base<models::bert_input>> make_cuda_runner(const models::bert_config& config, const weights& w,
                                                                  const compile_options& options) {
  return runner<models::bert<cuda>>(config, w, options);
}

}  // namespace joule::tuning
