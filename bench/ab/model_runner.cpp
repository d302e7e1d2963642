// One side of an A/B comparison (scripts/ab-models.sh): compiled twice, against two revisions'
// headers, into one program. The older side is compiled with -Djoule=joule_old, so that its
// namespace, and every inline function in it, differs from the newer side's and the linker keeps
// both. Each side builds one executor of the simd policy from the same random weights and returns a
// function that runs it once.
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include <joule/choose/family.hpp>
#include <joule/joule.hpp>
#include <joule/models/bert.hpp>
#include <joule/models/mobilenet_v2.hpp>
#include <joule/models/resnet.hpp>

#ifndef AB_SIDE
#error "compile with -DAB_SIDE=old or -DAB_SIDE=new"
#endif
#define AB_CAT2(a, b) a##b
#define AB_CAT(a, b) AB_CAT2(a, b)

namespace {

using namespace joule;

template <class Family, class Model, class Config>
std::function<void()> make_runner(const Family& family, const compile_options& options) {
  const auto weights = random_weights(family.template instantiate<scalar>().manifest(), 0);
  auto net = std::make_shared<executor<Model>>(family.template instantiate<simd>(), weights, options);
  using traits = tuning::family_traits<Config>;
  auto input = std::make_shared<typename traits::input_data>(traits::make_input(family.config, options, 1));
  return [net, input] { net->run(input->view()); };
}

}  // namespace

/** @brief A runner for @p model ("resnet50", "mobilenet_v2" or "bert-base"), or an empty function. */
std::function<void()> AB_CAT(make_runner_, AB_SIDE)(const std::string& model, int batch, int images_at_once) {
  // Two threads, as the six rows run; JOULE_AB_THREADS=N for another count (scripts/vs-ort-paired.sh's THREADS).
  const char* threads = std::getenv("JOULE_AB_THREADS");
  compile_options options{.batch = batch, .threads = threads ? std::atoi(threads) : 2};
  if (model == "bert-base")
    return make_runner<models::bert_family, models::bert<simd>, models::bert_config>(
        models::bert_family{models::bert_base_config()}, options);
  options.images_at_once = images_at_once;
  if (model == "resnet50")
    return make_runner<models::resnet_family, models::resnet<simd>, models::resnet_config>(
        models::resnet_family{models::resnet50_config()}, options);
  if (model == "mobilenet_v2")
    return make_runner<models::mobilenet_v2_family, models::mobilenet_v2<simd>, models::mobilenet_v2_config>(
        models::mobilenet_v2_family{models::mobilenet_v2_config()}, options);
  return {};
}
