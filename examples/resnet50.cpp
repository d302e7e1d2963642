// ResNet-50 on the simd policy: load a torchvision checkpoint if one is given, else use random
// weights, classify one image, print the top-5 classes.
//
//   resnet50 [resnet50.safetensors [image.npy]]     image: float32 [1, 3, 224, 224], normalised
#include <algorithm>
#include <iostream>
#include <numeric>

#include <joule/joule.hpp>

int main(int argc, char** argv) try {
  using policy = joule::simd;  // pinned at compile time: no dispatch at run time
  joule::models::resnet<policy> model{joule::models::resnet50_config()};
  const joule::weights w = argc > 1 ? joule::io::load_weights(argv[1]) : joule::random_weights(model.manifest(), 0);
  auto net = joule::compile<policy>(std::move(model), w, {.batch = 1, .image_size = 224});

  joule::tensor<float> image(joule::shape{1, 3, 224, 224});
  if (argc > 2)
    image = joule::io::read_npy_f32(argv[2]);
  else
    for (std::int64_t i = 0; i < image.numel(); ++i) image[i] = static_cast<float>((i * 7 % 255) / 255.0 - 0.5);

  const auto logits = net.run(image.cview());
  std::vector<int> order(1000);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + 5, order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  std::cout << "top-5 classes:";
  for (int k = 0; k < 5; ++k) std::cout << " " << order[k] << " (" << logits[order[k]] << ")";
  std::cout << "\n" << net.flops() / 1e9 << " GFLOP per image on " << policy::name() << "\n";
} catch (const std::exception& e) {
  std::cerr << "resnet50: " << e.what() << "\n";
  return 1;
}
