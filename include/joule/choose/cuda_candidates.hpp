#pragma once
/**
 * @file cuda_candidates.hpp
 * @brief The cuda policy as a chooser candidate in programs compiled by a host compiler.
 *
 * The cuda policy's kernels compile only under nvcc, and nvcc's front end is a poor host for the
 * rest of a program (CLI parsing, cairo, the CPU policies' intrinsics). So a host program does not
 * instantiate models<cuda> itself: it calls these type-erased factories, which are defined once in
 * cuda_candidates.cu, compiled by nvcc. In CMake:
 *
 * @code
 * add_executable(my_app main.cpp)
 * target_link_libraries(my_app PRIVATE joule::joule)
 * joule_add_cuda_candidates(my_app)  # adds cuda_candidates.cu and JOULE_CUDA_CANDIDATES=1
 * @endcode
 *
 * joule::choose and joule-shootout then race the GPU like any other policy; without it, cuda is
 * listed with the reason it cannot run (no device, or its kernels not in this program).
 */
#include <memory>

#include <joule/choose/candidate.hpp>
#include <joule/choose/family.hpp>
#include <joule/core/executor.hpp>
#include <joule/core/weights.hpp>
#include <joule/models/bert.hpp>
#include <joule/models/mobilenet_v2.hpp>
#include <joule/models/resnet.hpp>

namespace joule::tuning {

/** @brief A cuda executor of the model @p config bound to @p input, for measuring. */
std::unique_ptr<candidate_instance> make_cuda_instance(const models::resnet_config& config, const weights& w,
                                                       const compile_options& options,
                                                       std::shared_ptr<const image_input> input);
/** @copydoc make_cuda_instance */
std::unique_ptr<candidate_instance> make_cuda_instance(const models::mobilenet_v2_config& config, const weights& w,
                                                       const compile_options& options,
                                                       std::shared_ptr<const image_input> input);
/** @copydoc make_cuda_instance */
std::unique_ptr<candidate_instance> make_cuda_instance(const models::bert_config& config, const weights& w,
                                                       const compile_options& options,
                                                       std::shared_ptr<const token_input> input);

/** @brief A cuda executor of the model @p config, for choose() to return when cuda wins. */
std::unique_ptr<runner_base<tensor_view<const float>>> make_cuda_runner(const models::resnet_config& config,
                                                                        const weights& w,
                                                                        const compile_options& options);
/** @copydoc make_cuda_runner */
std::unique_ptr<runner_base<tensor_view<const float>>> make_cuda_runner(const models::mobilenet_v2_config& config,
                                                                        const weights& w,
                                                                        const compile_options& options);
/** @copydoc make_cuda_runner */
std::unique_ptr<runner_base<models::bert_input>> make_cuda_runner(const models::bert_config& config, const weights& w,
                                                                  const compile_options& options);

}  // namespace joule::tuning
