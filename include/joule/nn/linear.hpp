#pragma once
/** @file linear.hpp @brief PyTorch's Linear: y = act(x · W^T + b [+ residual]). */
#include <algorithm>
#include <string>
#include <vector>

#include <joule/core/context.hpp>
#include <joule/core/weights.hpp>
#include <joule/core/precompiled.hpp>
#include <joule/ops/gemm.hpp>

namespace joule::nn {

/**
 * @brief A Linear layer whose weight may be the concatenation of several checkpoint tensors
 * (BERT's query, key and value projections become one [3·hidden, hidden] GEMM).
 */
template <backend P>
class linear {
 public:
  linear() = default;
  /** @brief One Linear named @p prefix ("encoder.layer.0.intermediate.dense"). */
  linear(std::string prefix, std::int64_t in, std::int64_t out, activation act = activation::none,
         weight_init init = weight_init::lecun_normal)
      : linear(std::vector<std::string>{std::move(prefix)}, in, out, act, init) {}
  /** @brief Several Linears over the same input, fused along the output axis in this order. */
  linear(std::vector<std::string> prefixes, std::int64_t in, std::int64_t out_each, activation act = activation::none,
         weight_init init = weight_init::lecun_normal)
      : prefixes_(std::move(prefixes)), in_(in), out_each_(out_each), act_(act), init_(init) {}

  std::int64_t in_features() const noexcept { return in_; }
  std::int64_t out_features() const noexcept { return out_each_ * static_cast<std::int64_t>(prefixes_.size()); }

  void add_to_manifest(std::vector<weight_spec>& manifest, const std::string& name_prefix = "") const {
    for (const auto& p : prefixes_) {
      manifest.push_back({name_prefix + p + ".weight", shape{out_each_, in_}, init_});
      manifest.push_back({name_prefix + p + ".bias", shape{out_each_}, weight_init::zeros});
    }
  }

  /**
   * @brief Copies (and concatenates) the checkpoint tensors into this layer's own storage, on the
   * host, then moves it to the policy's memory space (uploaded once, for a device policy).
   */
  void prepare(const weights& w, const std::string& name_prefix = "") {
    // Packed for the policy's GEMM (as ops::pack_gemm_b does) when it reads B so, else PyTorch's [out, in].
    tensor<float> weight(panel_width > 0 ? shape{(out_features() + panel_width - 1) / panel_width, in_, panel_width}
                                         : shape{out_features(), in_});
    tensor<float> bias(shape{out_features()});
    for (std::size_t i = 0; i < prefixes_.size(); ++i) {
      const auto& wi = w.at(name_prefix + prefixes_[i] + ".weight");
      const auto& bi = w.at(name_prefix + prefixes_[i] + ".bias");
      const auto first_row = static_cast<std::int64_t>(i) * out_each_;
      if constexpr (panel_width > 0)  // straight into the panels: no second copy of the weight
        gemm_b_packing<P>::pack_columns(wi.data(), in_, /*trans=*/true, in_, out_features(), first_row, out_each_,
                                        weight.data());
      else
        std::copy_n(wi.data(), wi.numel(), weight.data() + first_row * in_);
      std::copy_n(bi.data(), bi.numel(), bias.data() + i * bi.numel());
      w.done_with(name_prefix + prefixes_[i] + ".weight");
      w.done_with(name_prefix + prefixes_[i] + ".bias");
    }
    weight_ = to_space<space>(std::move(weight));
    bias_ = to_space<space>(std::move(bias));
  }

  double flops(std::int64_t rows) const { return 2.0 * rows * in_ * out_features(); }

  void forward(context<P>& ctx, tensor_view<const float> x, tensor_view<float> y,
               tensor_view<const float> residual = {}) const {
    if constexpr (panel_width > 0) {
      // ops::linear's checks, for a weight ops::gemm takes packed: x [..., in] -> y [..., out].
      require(x.rank() >= 1 && x.dim(-1) == in_ && y.rank() == x.rank() && y.dim(-1) == out_features() &&
                  y.shape().prefix(y.rank() - 1) == x.shape().prefix(x.rank() - 1),
              "linear: input ", x.shape(), " and output ", y.shape(), " do not fit a ", in_, " -> ", out_features(),
              " layer");
      const std::int64_t rows = x.shape().prefix(x.rank() - 1);
      const shape rows_in{rows, in_}, rows_out{rows, out_features()};
      ops::gemm_options options{.bias = bias_.cview(), .act = act_};
      if (!residual.is_none()) {
        require(residual.shape() == y.shape(), "linear: residual must have the output's shape ", y.shape(), ", got ",
                residual.shape());
        options.residual = residual.reshape(rows_out);
      }
      ops::gemm(ctx, x.reshape(rows_in), weight_.cview(), y.reshape(rows_out), options);
    } else {
      ops::linear(ctx, x, weight_.cview(), bias_.cview(), y, act_, residual);
    }
  }

 private:
  using space = typename P::memory_space;
  /**
   * @brief The width of the panels the weight is kept in, packed once for the policy's GEMM
   * (ops::pack_gemm_b), or 0 to keep PyTorch's [out, in]. Packing B on every call was 14% of
   * BERT-base's batch-1 time on simd (perf); packed at compile, the GEMM reads the panels in place.
   */
  static constexpr std::int64_t panel_width = ops::gemm_b_panel_width<P>;

  std::vector<std::string> prefixes_;
  std::int64_t in_ = 0, out_each_ = 0;
  activation act_ = activation::none;
  weight_init init_ = weight_init::lecun_normal;
  tensor<float, space> weight_;
  tensor<float, space> bias_;
};

}  // namespace joule::nn

JOULE_DETAIL_DECLARE_PRECOMPILED_CLASS(nn::linear)
