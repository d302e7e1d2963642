#pragma once
/**
 * @file family.hpp
 * @brief Model families: one model definition and its configuration, instantiable for every
 * policy (resnet_family{cfg}.instantiate<P>() is models::resnet<P>{cfg}), with what the chooser
 * needs to know about it: a stable hash of the configuration, the input shape, and a
 * deterministic input for the correctness gate.
 */
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include <joule/choose/wisdom.hpp>
#include <joule/core/executor.hpp>
#include <joule/core/tensor.hpp>
#include <joule/core/weights.hpp>
#include <joule/models/bert.hpp>
#include <joule/models/mobilenet_v2.hpp>
#include <joule/models/resnet.hpp>

namespace joule {

/**
 * @brief A model template and its configuration: instantiate<P>() gives Model<P>{config}.
 * Used by joule::choose to compile the same model for every policy.
 */
template <template <class> class Model, class Config>
struct model_family {
  Config config;

  template <class P>
  Model<P> instantiate() const {
    return Model<P>{config};
  }
};

namespace models {
/** @brief ResNet for every policy: resnet_family{resnet50_config()}. */
using resnet_family = model_family<resnet, resnet_config>;
/** @brief MobileNetV2 for every policy. */
using mobilenet_v2_family = model_family<mobilenet_v2, mobilenet_v2_config>;
/** @brief BERT for every policy. */
using bert_family = model_family<bert, bert_config>;
}  // namespace models

namespace tuning {

/** @brief A vision model's input, owned: one NCHW float tensor of N(0, 1) values. */
struct image_input {
  tensor<float> image;
  tensor_view<const float> view() const { return image.cview(); }
};

/** @brief BERT's input, owned: token ids drawn uniformly from the vocabulary. */
struct token_input {
  tensor<std::int64_t> ids;
  models::bert_input view() const { return {ids.cview()}; }
};

/** @brief What the chooser needs to know about a model family's configuration. */
template <class Config>
struct family_traits;

namespace detail {
inline image_input random_image(std::int64_t batch, std::int64_t channels, std::int64_t size, std::uint64_t seed) {
  image_input in{tensor<float>(shape{batch, channels, size, size})};
  joule::detail::splitmix64 rng(seed);
  for (auto& x : in.image.span()) x = static_cast<float>(rng.normal());
  return in;
}
inline std::string dims(std::initializer_list<std::int64_t> d) {
  std::string s;
  for (auto x : d) s.append(s.empty() ? "" : "x").append(std::to_string(x));
  return s;
}
}  // namespace detail

template <>
struct family_traits<models::resnet_config> {
  using input_data = image_input;
  static nlohmann::json config_json(const models::resnet_config& c) {
    return {{"family", "resnet"},
            {"layers", c.layers},
            {"base_width", c.base_width},
            {"num_classes", c.num_classes},
            {"in_channels", c.in_channels}};
  }
  static std::string input_shape(const models::resnet_config& c, const compile_options& o) {
    return detail::dims({o.batch, c.in_channels, o.image_size, o.image_size});
  }
  static input_data make_input(const models::resnet_config& c, const compile_options& o, std::uint64_t seed) {
    return detail::random_image(o.batch, c.in_channels, o.image_size, seed);
  }
};

template <>
struct family_traits<models::mobilenet_v2_config> {
  using input_data = image_input;
  static nlohmann::json config_json(const models::mobilenet_v2_config& c) {
    nlohmann::json settings = nlohmann::json::array();
    for (const auto& s : c.settings) settings.push_back({s.expand, s.channels, s.repeats, s.stride});
    return {{"family", "mobilenet_v2"},
            {"width_mult", c.width_mult},
            {"num_classes", c.num_classes},
            {"settings", settings},
            {"round_nearest", c.round_nearest}};
  }
  static std::string input_shape(const models::mobilenet_v2_config&, const compile_options& o) {
    return detail::dims({o.batch, 3, o.image_size, o.image_size});
  }
  static input_data make_input(const models::mobilenet_v2_config&, const compile_options& o, std::uint64_t seed) {
    return detail::random_image(o.batch, 3, o.image_size, seed);
  }
};

template <>
struct family_traits<models::bert_config> {
  using input_data = token_input;
  static nlohmann::json config_json(const models::bert_config& c) {
    return {{"family", "bert"},
            {"layers", c.layers},
            {"hidden", c.hidden},
            {"heads", c.heads},
            {"intermediate", c.intermediate},
            {"vocab", c.vocab},
            {"max_positions", c.max_positions},
            {"type_vocab", c.type_vocab},
            {"layer_norm_eps", c.layer_norm_eps}};
  }
  static std::string input_shape(const models::bert_config&, const compile_options& o) {
    return detail::dims({o.batch, o.seq_len});
  }
  static input_data make_input(const models::bert_config& c, const compile_options& o, std::uint64_t seed) {
    token_input in{tensor<std::int64_t>(shape{o.batch, o.seq_len})};
    joule::detail::splitmix64 rng(seed);
    for (auto& id : in.ids.span()) id = static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(c.vocab));
    return in;
  }
};

/** @brief The stable hash of a configuration, part of every wisdom key. */
template <class Config>
std::string config_hash(const Config& config) {
  return stable_hash(family_traits<Config>::config_json(config).dump());
}

}  // namespace tuning
}  // namespace joule
