#pragma once
/**
 * @file bert.hpp
 * @brief BERT encoder (Hugging Face BertModel's layout and names), one definition for every policy.
 */
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <joule/core/executor.hpp>
#include <joule/core/weights.hpp>
#include <joule/nn/buffer.hpp>
#include <joule/nn/linear.hpp>
#include <joule/ops/add.hpp>
#include <joule/ops/attention.hpp>
#include <joule/ops/embedding.hpp>
#include <joule/ops/layer_norm.hpp>

namespace joule::models {

/** @brief Shape of a BERT encoder. The defaults are bert-base-uncased. */
struct bert_config {
  std::int64_t layers = 12, hidden = 768, heads = 12, intermediate = 3072;
  std::int64_t vocab = 30522, max_positions = 512, type_vocab = 2;
  float layer_norm_eps = 1e-12f;

  std::string name() const {
    const bert_config base{};
    if (layers == base.layers && hidden == base.hidden && heads == base.heads && intermediate == base.intermediate &&
        vocab == base.vocab && max_positions == base.max_positions && type_vocab == base.type_vocab)
      return "bert-base";
    return "bert[l" + std::to_string(layers) + ",h" + std::to_string(hidden) + ",a" + std::to_string(heads) + ",i" +
           std::to_string(intermediate) + ",v" + std::to_string(vocab) + ",p" + std::to_string(max_positions) + ",t" +
           std::to_string(type_vocab) + "]";
  }
};

inline bert_config bert_base_config() { return {}; }
/** @brief A small BERT for tests: two layers, hidden 32, 4 heads. */
inline bert_config bert_small_config() { return {2, 32, 4, 64, 100, 40, 2, 1e-12f}; }

/**
 * @brief What BERT runs on: token ids [batch, seq] (int64), and optionally an attention mask of
 * ones (attend) and zeros (padding) and token type ids, both [batch, seq] int64.
 */
struct bert_input {
  tensor_view<const std::int64_t> ids;
  tensor_view<const std::int64_t> mask{};
  tensor_view<const std::int64_t> token_types{};
};

/**
 * @brief BERT encoder on policy @p P: embeddings (word + position + token type, layer-norm), then
 * per layer self-attention (query, key and value fused into one GEMM) with output projection,
 * residual and layer-norm, and the GELU (erf) feed-forward with residual and layer-norm. The output
 * is the last hidden state [batch, seq, hidden]. Checkpoint names are Hugging Face BertModel's, with
 * or without a "bert." prefix; heads (cls.*) and the pooler are ignored and reported.
 */
template <backend P>
class bert {
 public:
  using policy = P;
  using input_type = bert_input;
  /** Added to the attention scores of padding tokens: Hugging Face's original BERT convention. */
  static constexpr float kMaskedScore = -10000.f;

  explicit bert(bert_config config) : config_(config) {
    require(config_.heads > 0 && config_.hidden % config_.heads == 0, "bert: hidden size ", config_.hidden,
            " is not divisible by ", config_.heads, " heads");
    for (std::int64_t i = 0; i < config_.layers; ++i) {
      const std::string l = "encoder.layer." + std::to_string(i) + ".";
      layer_weights lw;
      lw.qkv = nn::linear<P>({l + "attention.self.query", l + "attention.self.key", l + "attention.self.value"},
                             config_.hidden, config_.hidden, activation::none, weight_init::bert_normal);
      lw.attention_out = nn::linear<P>(l + "attention.output.dense", config_.hidden, config_.hidden, activation::none,
                                       weight_init::bert_normal);
      lw.attention_norm = l + "attention.output.LayerNorm";
      lw.up = nn::linear<P>(l + "intermediate.dense", config_.hidden, config_.intermediate, activation::gelu_erf,
                            weight_init::bert_normal);
      lw.down = nn::linear<P>(l + "output.dense", config_.intermediate, config_.hidden, activation::none,
                              weight_init::bert_normal);
      lw.output_norm = l + "output.LayerNorm";
      layers_.push_back(std::move(lw));
    }
  }

  std::string name() const { return config_.name(); }
  const bert_config& config() const noexcept { return config_; }

  std::vector<weight_spec> manifest() const { return manifest_with_prefix(""); }

  /** @brief Heads and buffers a BertModel / BertForPreTraining checkpoint holds that the encoder does not use. */
  static bool ignored_weight(std::string_view name) {
    if (name.starts_with("bert.")) name.remove_prefix(5);
    return name.starts_with("cls.") || name.starts_with("pooler.") || name == "embeddings.position_ids";
  }

  weight_report prepare(const weights& w, const compile_options& options) {
    // Checkpoints saved from BertForPreTraining and friends prefix the encoder with "bert.".
    prefix_ = w.contains("bert.embeddings.word_embeddings.weight") ? "bert." : "";
    auto report = check_weights(w, manifest_with_prefix(prefix_), name(), ignored_weight);
    require(options.batch >= 0 && options.seq_len >= 1 && options.seq_len <= config_.max_positions, name(),
            ": seq_len must be in [1, ", config_.max_positions, "] and batch >= 0, got seq_len ", options.seq_len,
            " and batch ", options.batch);
    auto copy = [&](const std::string& n) { return tensor<float>::copy_of(w.at(prefix_ + n).cview()); };
    word_ = copy("embeddings.word_embeddings.weight");
    position_ = copy("embeddings.position_embeddings.weight");
    token_type_ = copy("embeddings.token_type_embeddings.weight");
    embedding_gamma_ = copy("embeddings.LayerNorm.weight");
    embedding_beta_ = copy("embeddings.LayerNorm.bias");
    for (auto& lw : layers_) {
      lw.qkv.prepare(w, prefix_);
      lw.attention_out.prepare(w, prefix_);
      lw.up.prepare(w, prefix_);
      lw.down.prepare(w, prefix_);
      lw.attention_gamma = copy(lw.attention_norm + ".weight");
      lw.attention_beta = copy(lw.attention_norm + ".bias");
      lw.output_gamma = copy(lw.output_norm + ".weight");
      lw.output_beta = copy(lw.output_norm + ".bias");
    }

    batch_ = options.batch;
    seq_ = options.seq_len;
    const std::int64_t b = batch_, s = seq_, h = config_.hidden;
    hidden_ = tensor<float>(shape{b, s, h});
    scratch_hidden_ = tensor<float>(shape{b, s, h});
    attention_ = tensor<float>(shape{b, s, h});
    qkv_ = tensor<float>(shape{b, s, 3 * h});
    intermediate_ = tensor<float>(shape{b, s, config_.intermediate});
    token_type_rows_ = tensor<float>(shape{b, s, h});
    mask_ = tensor<float>(shape{b, s});
    example_ids_ = tensor<std::int64_t>(shape{b, s});
    flops_ = 0;
    for (const auto& lw : layers_)
      flops_ += lw.qkv.flops(b * s) + lw.attention_out.flops(b * s) + lw.up.flops(b * s) + lw.down.flops(b * s);
    flops_ += static_cast<double>(config_.layers) * 4.0 * b * s * s * h;  // scores and context products
    return report;
  }

  bert_input example_input() const { return {example_ids_.cview()}; }
  double flops() const noexcept { return flops_; }

  tensor_view<const float> forward(context<P>& ctx, const bert_input& in) {
    const shape tokens{batch_, seq_};
    // Checks build their message only when they fail: run() allocates nothing.
    if (!(in.ids.shape() == tokens)) fail(name(), ": token ids must be ", tokens, " (as compiled), got ", in.ids.shape());
    if (!in.mask.is_none() && !(in.mask.shape() == tokens))
      fail(name(), ": attention mask must be ", tokens, ", got ", in.mask.shape());
    if (!in.token_types.is_none() && !(in.token_types.shape() == tokens))
      fail(name(), ": token types must be ", tokens, ", got ", in.token_types.shape());
    const std::int64_t h = config_.hidden;

    // Embeddings: word + position (rows 0..seq-1) + token type, then layer-norm.
    ops::embedding(ctx, in.ids, word_.cview(), hidden_.view());
    ops::add(ctx, hidden_.cview(), tensor_view<const float>(position_.data(), shape{seq_, h}), hidden_.view());
    if (in.token_types.is_none()) {
      ops::add(ctx, hidden_.cview(), tensor_view<const float>(token_type_.data(), shape{h}), hidden_.view());
    } else {
      ops::embedding(ctx, in.token_types, token_type_.cview(), token_type_rows_.view());
      ops::add(ctx, hidden_.cview(), token_type_rows_.cview(), hidden_.view());
    }
    ops::layer_norm(ctx, hidden_.cview(), embedding_gamma_.cview(), embedding_beta_.cview(), hidden_.view(),
                    config_.layer_norm_eps);

    tensor_view<const float> mask{};
    if (!in.mask.is_none()) {
      for (std::int64_t i = 0; i < tokens.numel(); ++i) {
        const std::int64_t m = in.mask[i];
        if (m != 0 && m != 1) fail(name(), ": attention mask values must be 0 or 1, got ", m, " at position ", i);
        mask_[i] = m == 1 ? 0.f : kMaskedScore;
      }
      mask = mask_.cview();
    }

    for (const auto& lw : layers_) {
      lw.qkv.forward(ctx, hidden_.cview(), qkv_.view());
      ops::attention_fused_qkv(ctx, qkv_.cview(), mask, attention_.view(), config_.heads);
      lw.attention_out.forward(ctx, attention_.cview(), scratch_hidden_.view(), hidden_.cview());
      ops::layer_norm(ctx, scratch_hidden_.cview(), lw.attention_gamma.cview(), lw.attention_beta.cview(),
                      scratch_hidden_.view(), config_.layer_norm_eps);
      lw.up.forward(ctx, scratch_hidden_.cview(), intermediate_.view());
      lw.down.forward(ctx, intermediate_.cview(), hidden_.view(), scratch_hidden_.cview());
      ops::layer_norm(ctx, hidden_.cview(), lw.output_gamma.cview(), lw.output_beta.cview(), hidden_.view(),
                      config_.layer_norm_eps);
    }
    return hidden_.cview();
  }

 private:
  struct layer_weights {
    nn::linear<P> qkv, attention_out, up, down;
    std::string attention_norm, output_norm;
    tensor<float> attention_gamma, attention_beta, output_gamma, output_beta;
  };

  std::vector<weight_spec> manifest_with_prefix(const std::string& p) const {
    const std::int64_t h = config_.hidden;
    std::vector<weight_spec> m{
        {p + "embeddings.word_embeddings.weight", shape{config_.vocab, h}, weight_init::bert_normal},
        {p + "embeddings.position_embeddings.weight", shape{config_.max_positions, h}, weight_init::bert_normal},
        {p + "embeddings.token_type_embeddings.weight", shape{config_.type_vocab, h}, weight_init::bert_normal},
        {p + "embeddings.LayerNorm.weight", shape{h}, weight_init::ones},
        {p + "embeddings.LayerNorm.bias", shape{h}, weight_init::zeros}};
    for (const auto& lw : layers_) {
      lw.qkv.add_to_manifest(m, p);
      lw.attention_out.add_to_manifest(m, p);
      m.push_back({p + lw.attention_norm + ".weight", shape{h}, weight_init::ones});
      m.push_back({p + lw.attention_norm + ".bias", shape{h}, weight_init::zeros});
      lw.up.add_to_manifest(m, p);
      lw.down.add_to_manifest(m, p);
      m.push_back({p + lw.output_norm + ".weight", shape{h}, weight_init::ones});
      m.push_back({p + lw.output_norm + ".bias", shape{h}, weight_init::zeros});
    }
    return m;
  }

  bert_config config_;
  std::vector<layer_weights> layers_;
  std::string prefix_;
  tensor<float> word_, position_, token_type_, embedding_gamma_, embedding_beta_;
  std::int64_t batch_ = 0, seq_ = 0;
  double flops_ = 0;
  tensor<float> hidden_, scratch_hidden_, attention_, qkv_, intermediate_, token_type_rows_, mask_;
  tensor<std::int64_t> example_ids_;
};

}  // namespace joule::models
