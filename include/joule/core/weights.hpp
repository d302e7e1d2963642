#pragma once
/**
 * @file weights.hpp
 * @brief joule::weights (host tensors by name, held once), the manifest a model expects, and the
 * deterministic random initialisation used when no checkpoint is given.
 */
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <joule/core/error.hpp>
#include <joule/core/tensor.hpp>

namespace joule {

/** @brief How a tensor of a model is initialised when no checkpoint is given. */
enum class weight_init {
  he_normal,     ///< N(0, 2 / fan_in): convolutions followed by ReLU-like activations
  lecun_normal,  ///< N(0, 1 / fan_in): linear layers, projections
  bert_normal,   ///< N(0, 0.02^2): BERT's initializer_range for embeddings and dense layers
  zeros,         ///< biases, layer-norm shifts
  ones,          ///< layer-norm scales
  bn_mean,       ///< small running means, U(-0.1, 0.1), so that folding batch-norm is exercised
  bn_var,        ///< running variances around 1, U(0.5, 1.5)
  bn_gamma,      ///< scales around 1, U(0.5, 1.5)
  bn_beta,       ///< shifts, U(-0.1, 0.1)
};

/** @brief One tensor a model expects: its checkpoint name, its shape and how to make it up. */
struct weight_spec {
  std::string name;
  shape dims;
  weight_init init;
};

/**
 * @brief Host tensors by name, named as the ecosystem names them (torchvision state dicts,
 * Hugging Face BertModel), held once and shared read-only by every executor compiled from them.
 */
class weights {
 public:
  void insert(std::string name, tensor<float> value) {
    tensors_.insert_or_assign(std::move(name), entry{std::move(value)});
  }
  bool contains(std::string_view name) const { return tensors_.find(std::string(name)) != tensors_.end(); }
  std::size_t size() const noexcept { return tensors_.size(); }
  /** @brief The tensor called @p name; throws joule::error naming it when it is absent. */
  const tensor<float>& at(std::string_view name) const {
    const auto it = tensors_.find(std::string(name));
    require(it != tensors_.end(), "weights: no tensor named '", name, "'");
    require(!it->second.released, "weights: tensor '", name,
            "' was already freed: these weights were handed over to compile(), which frees each tensor once "
            "a layer has copied it");
    return it->second.value;
  }

  /**
   * @brief Marks these weights as handed over to one compile() (joule::compile(model,
   * std::move(w))): from now on, done_with() frees each tensor as soon as its layer holds its own
   * copy, so compiling peaks at the checkpoint plus one layer instead of twice the model (BERT-base:
   * 846 MB to about 500 MB in joule-run).
   */
  void free_tensors_once_copied() noexcept { free_once_copied_ = true; }

  /**
   * @brief Called by a layer's prepare() once it holds its own copy of tensor @p name: frees it on
   * weights handed over to compile(), does nothing otherwise (the same weights may then compile
   * any number of executors, from several threads). The names stay, so reports still list them.
   */
  void done_with(std::string_view name) const noexcept {
    if (!free_once_copied_) return;
    const auto it = tensors_.find(std::string(name));
    if (it == tensors_.end()) return;
    it->second.value = tensor<float>{};
    it->second.released = true;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(tensors_.size());
    for (const auto& [name, t] : tensors_) out.push_back(name);
    return out;
  }
  /** @brief Total bytes of the float32 data. */
  std::size_t bytes() const {
    std::size_t total = 0;
    for (const auto& [name, t] : tensors_) total += static_cast<std::size_t>(t.value.numel()) * sizeof(float);
    return total;
  }

 private:
  struct entry {
    explicit entry(tensor<float> v) : value(std::move(v)) {}
    tensor<float> value;
    bool released = false;
  };
  // mutable: done_with() frees a tensor through the const reference every prepare() receives, and
  // only on weights that free_tensors_once_copied() marked as owned by that one compile().
  mutable std::map<std::string, entry, std::less<>> tensors_;
  bool free_once_copied_ = false;
};

namespace detail {
/** SplitMix64: a tiny generator whose output is the same on every platform and standard library
 * (std::normal_distribution is not), so "random weights, seed 0" means the same numbers everywhere. */
class splitmix64 {
 public:
  explicit splitmix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /** Uniform in [0, 1) with 53 random bits. */
  double uniform() { return static_cast<double>(next() >> 11) * 0x1p-53; }
  /** Standard normal by Box-Muller. */
  double normal() {
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::uint64_t state_;
};

inline std::uint64_t name_hash(std::string_view s) {  // FNV-1a, stable across platforms
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}
}  // namespace detail

/**
 * @brief Deterministic random weights for a manifest: each tensor's values depend only on the
 * seed and the tensor's name, so adding a layer does not change the others.
 */
inline weights random_weights(const std::vector<weight_spec>& manifest, std::uint64_t seed = 0) {
  weights w;
  for (const auto& spec : manifest) {
    tensor<float> t(spec.dims);
    detail::splitmix64 rng(seed ^ detail::name_hash(spec.name));
    const std::int64_t fan_in = spec.dims.rank() >= 2 ? spec.dims.numel() / spec.dims[0] : 1;
    for (auto& x : t.span()) {
      double v = 0;
      switch (spec.init) {
        case weight_init::he_normal:
          v = rng.normal() * std::sqrt(2.0 / fan_in);
          break;
        case weight_init::lecun_normal:
          v = rng.normal() * std::sqrt(1.0 / fan_in);
          break;
        case weight_init::bert_normal:
          v = rng.normal() * 0.02;
          break;
        case weight_init::zeros:
          v = 0;
          break;
        case weight_init::ones:
          v = 1;
          break;
        case weight_init::bn_mean:
          v = rng.uniform() * 0.2 - 0.1;
          break;
        case weight_init::bn_var:
          v = 0.5 + rng.uniform();
          break;
        case weight_init::bn_gamma:
          v = 0.5 + rng.uniform();
          break;
        case weight_init::bn_beta:
          v = rng.uniform() * 0.2 - 0.1;
          break;
      }
      x = static_cast<float>(v);
    }
    w.insert(spec.name, std::move(t));
  }
  return w;
}

/** @brief What checking a checkpoint against a model's manifest found that was not an error. */
struct weight_report {
  std::vector<std::string> ignored;  ///< present, known to be unused (cls.* heads, num_batches_tracked)
  std::string to_string() const {
    if (ignored.empty()) return "all tensors used";
    std::string s = std::to_string(ignored.size()) + " tensor(s) ignored:";
    for (std::size_t i = 0; i < ignored.size() && i < 8; ++i) s += " " + ignored[i];
    if (ignored.size() > 8) s += " ...";
    return s;
  }
};

/**
 * @brief Checks @p w against @p manifest: every expected tensor present with its shape, nothing
 * unexpected except names @p is_ignored accepts. Throws one joule::error listing every missing,
 * misshapen and unexpected tensor by name.
 */
template <class IgnoredPredicate>
weight_report check_weights(const weights& w, const std::vector<weight_spec>& manifest, std::string_view model,
                            IgnoredPredicate is_ignored) {
  std::vector<std::string> missing, misshapen, unexpected;
  weight_report report;
  std::map<std::string, const weight_spec*, std::less<>> expected;
  for (const auto& spec : manifest) expected.emplace(spec.name, &spec);
  for (const auto& spec : manifest) {
    if (!w.contains(spec.name))
      missing.push_back(spec.name);
    else if (!(w.at(spec.name).shape() == spec.dims))
      misshapen.push_back(spec.name + " is " + w.at(spec.name).shape().to_string() + ", expected " +
                          spec.dims.to_string());
  }
  for (const auto& name : w.names()) {
    if (expected.count(name)) continue;
    if (is_ignored(name))
      report.ignored.push_back(name);
    else
      unexpected.push_back(name);
  }
  if (missing.empty() && misshapen.empty() && unexpected.empty()) return report;
  auto list = [](const std::vector<std::string>& names) {
    std::string s;
    for (std::size_t i = 0; i < names.size() && i < 20; ++i) s += (i ? ", " : "") + names[i];
    if (names.size() > 20) s += ", ... (" + std::to_string(names.size()) + " in all)";
    return s;
  };
  std::string message = std::string(model) + ": the weights do not fit the model.";
  if (!missing.empty()) message += " Missing: " + list(missing) + ".";
  if (!misshapen.empty()) message += " Wrong shape: " + list(misshapen) + ".";
  if (!unexpected.empty()) message += " Unexpected: " + list(unexpected) + ".";
  throw error(message);
}

}  // namespace joule
