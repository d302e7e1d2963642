#pragma once
// What the model tests of every policy share (tests/models/test_models.cpp on the CPU policies,
// tests/cuda/test_cuda_models.cu on cuda): the golden fixtures PyTorch produced for the small
// configurations (tests/data, written by tools/make_golden.py), the normwise error they are
// compared with, and the full-size configurations checked against the scalar policy.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <utility>

#include <joule/io/npy.hpp>
#include <joule/io/weights.hpp>
#include <joule/models/bert.hpp>
#include <joule/models/mobilenet_v2.hpp>
#include <joule/models/resnet.hpp>

#include "../common/testing.hpp"

namespace joule_test {

inline const std::string kData = JOULE_TEST_DATA_DIR;

/** max |got - want| / max |want| of two tensors of the same size. */
inline double normwise_error(joule::tensor_view<const float> got, joule::tensor_view<const float> want) {
  return normwise_error(got.data(), want.data(), want.numel());
}

/** A vision model's golden fixture: checkpoint, input batch and PyTorch's output. */
struct vision_golden {
  joule::weights w;
  joule::tensor<float> input, expected;
};

/** Loads tests/data/<name>.safetensors, <name>.input.npy and <name>.expected.npy. */
inline vision_golden load_vision_golden(const std::string& name) {
  return {joule::io::load_weights(kData + "/" + name + ".safetensors"),
          joule::io::read_npy_f32(kData + "/" + name + ".input.npy"),
          joule::io::read_npy_f32(kData + "/" + name + ".expected.npy")};
}

/** BERT's golden fixture: checkpoint, ids, mask, token types and PyTorch's output. */
struct bert_fixture {
  joule::weights w = joule::io::load_weights(kData + "/bert_small.safetensors");
  joule::tensor<std::int64_t> ids = joule::io::read_npy_i64(kData + "/bert_small.ids.npy");
  joule::tensor<std::int64_t> mask = joule::io::read_npy_i64(kData + "/bert_small.mask.npy");
  joule::tensor<std::int64_t> types = joule::io::read_npy_i64(kData + "/bert_small.token_types.npy");
  joule::tensor<float> expected = joule::io::read_npy_f32(kData + "/bert_small.expected.npy");
};

/**
 * ResNet-50, MobileNetV2 and BERT-base as configured for real use, at a reduced input size, on
 * policy P with @p threads: the same random weights must give the scalar policy's output within 1e-4.
 */
template <class P>
void expect_full_size_configurations_agree_with_scalar(int threads) {
  auto check = [&]<class Model, class Scalar>(Model model, Scalar reference_model, const joule::compile_options& o,
                                              const auto& input) {
    const auto w = joule::random_weights(model.manifest(), 7);
    auto net = joule::compile(std::move(model), w, o);
    auto reference = joule::compile(std::move(reference_model), w, o);
    const auto got = joule::tensor<float>::copy_of(net.run(input));
    EXPECT_LE(normwise_error(got.cview(), reference.run(input)), 1e-4) << net.model().name();
  };
  using S = joule::scalar;
  const joule::compile_options vision{.batch = 1, .image_size = 64, .threads = threads};
  std::mt19937_64 rng(1);
  const joule::tensor<float> image = random_tensor(rng, joule::shape{1, 3, 64, 64});
  check(joule::models::resnet<P>{joule::models::resnet50_config()},
        joule::models::resnet<S>{joule::models::resnet50_config()}, vision, image.cview());
  check(joule::models::mobilenet_v2<P>{joule::models::mobilenet_v2_default_config()},
        joule::models::mobilenet_v2<S>{joule::models::mobilenet_v2_default_config()}, vision, image.cview());
  joule::tensor<std::int64_t> ids(joule::shape{1, 16});
  for (std::int64_t i = 0; i < 16; ++i) ids[i] = (i * 7919) % 30522;
  check(joule::models::bert<P>{joule::models::bert_base_config()},
        joule::models::bert<S>{joule::models::bert_base_config()}, {.batch = 1, .seq_len = 16, .threads = threads},
        joule::models::bert_input{ids.cview()});
}

}  // namespace joule_test
