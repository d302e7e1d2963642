// MobileNetV2 on the policy chosen at compile time, for a batch of images: load a torchvision
// checkpoint if one is given, else random weights; print each image's best class.
//
//   mobilenet_v2 [mobilenet_v2.safetensors [images.npy]]     images: float32 [N, 3, 224, 224]
#include <algorithm>
#include <iostream>

#include <joule/joule.hpp>

int main(int argc, char** argv) try {
  using policy = joule::eigen;
  joule::models::mobilenet_v2<policy> model{joule::models::mobilenet_v2_default_config()};
  const joule::weights w = argc > 1 ? joule::io::load_weights(argv[1]) : joule::random_weights(model.manifest(), 0);

  joule::tensor<float> images(joule::shape{4, 3, 224, 224});
  if (argc > 2) images = joule::io::read_npy_f32(argv[2]);
  auto net = joule::compile<policy>(std::move(model), w, {.batch = images.dim(0), .image_size = images.dim(2)});

  const auto logits = net.run(images.cview());  // [N, 1000]
  for (std::int64_t n = 0; n < logits.dim(0); ++n) {
    const float* row = logits.data() + n * 1000;
    std::cout << "image " << n << ": class " << (std::max_element(row, row + 1000) - row) << "\n";
  }
} catch (const std::exception& e) {
  std::cerr << "mobilenet_v2: " << e.what() << "\n";
  return 1;
}
