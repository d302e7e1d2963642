// choose_and_run: the chooser as a library, in a few lines.
//
//   choose_and_run            # MobileNetV2 at batch 1, on random weights, least energy with p95 <= 50 ms
//
// 1. choose once: every policy and thread count is compiled, measured (or read from the wisdom
//    file) and gated against the scalar policy's output; the best by the objective is returned
//    compiled, behind one virtual call per run();
// 2. run the chosen executor as often as needed;
// 3. or pin a policy at compile time: joule::compile<P> is a typed executor with no dispatch at all.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <random>

#include <joule/choose/choose.hpp>

int main() try {
  const auto cfg = joule::models::mobilenet_v2_default_config();
  const joule::weights w = joule::random_weights(joule::models::mobilenet_v2<joule::scalar>{cfg}.manifest(), 0);
  // or: joule::weights w = joule::io::load_weights("mobilenet_v2.safetensors");  (torchvision names)

  // 1. Choose once (the second time, the wisdom file answers at once: only the winner is compiled).
  auto pick = joule::choose(joule::models::mobilenet_v2_family{cfg}, w, {.batch = 1},
                            joule::objective::least_energy{.p95_bound_ms = 50});
  std::cout << pick.report;  // every candidate: latency, J/inference (measured or estimated), ...
  if (!pick) return 2;       // no candidate met the bound; the report says which came closest

  // 2. Run the winner.
  joule::tensor<float> image(joule::shape{1, 3, 224, 224});  // an image, normalised as torchvision does
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  for (auto& x : image.span()) x = normal(rng);
  const joule::tensor_view<const float> logits = pick.executor.run(image.cview());
  std::cout << "ran " << pick.executor.policy() << " on " << pick.executor.threads() << " thread(s): logits "
            << logits.shape() << "\n";

  // 3. The typed path: the policy is a template argument, nothing is dispatched at run time.
  auto pinned =
      joule::compile<joule::scalar>(joule::models::mobilenet_v2<joule::scalar>{cfg}, w, {.batch = 1, .threads = 1});
  const auto reference = pinned.run(image.cview());
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < reference.span().size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(logits.span()[i]) - reference.span()[i]));
    scale = std::max(scale, std::abs(static_cast<double>(reference.span()[i])));
  }
  std::cout << "max |chosen - scalar| / max |scalar| = " << worst / scale << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "choose_and_run: " << e.what() << "\n";
  return 1;
}
