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
#include <joule/core/precompiled.hpp>
#include <joule/nn/buffer.hpp>
#include <joule/nn/thread_contexts.hpp>
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

/** @brief Added to the attention scores of padding tokens: Hugging Face's original BERT convention. */
inline constexpr float kBertMaskedScore = -10000.f;

/** @brief Additive attention score of mask value @p m (1: attend, 0: padding; checked before). */
constexpr float bert_mask_score(std::int64_t m) noexcept { return m == 1 ? 0.f : kBertMaskedScore; }

/**
 * @brief What BERT runs on: token ids [batch, seq] (int64), and optionally an attention mask of
 * ones (attend) and zeros (padding) and token type ids, both [batch, seq] int64.
 */
struct bert_input {
  tensor_view<const std::int64_t> ids;
  tensor_view<const std::int64_t> mask{};
  tensor_view<const std::int64_t> token_types{};
  /**
   * @brief The mask already turned into additive attention scores [batch, seq] float (0 to attend,
   * kBertMaskedScore for padding); when given, @p mask is not read. A device executor fills it at its
   * input edge, where the mask is still on the host, so the model never reads device memory.
   */
  tensor_view<const float> mask_scores{};
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
  static constexpr float kMaskedScore = kBertMaskedScore;

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
    // Copied on the host, then moved to the policy's memory space (uploaded once for a device policy).
    auto copy = [&](const std::string& n) {
      auto own = tensor<float>::copy_of(w.at(prefix_ + n).cview());
      w.done_with(prefix_ + n);
      return to_space<typename P::memory_space>(std::move(own));
    };
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
    // With at least a sequence for every thread, on the host, each thread takes its share of the
    // sequences through all the layers on its own one-thread context (its rows of every buffer):
    // no join between operations. Against the threads sharing every operation (scripts/ab-models.sh
    // e9d68ad bert-base BATCH, Zen 5): 8 sequences 0.962-0.967, 2 sequences 0.985-0.991.
    sequence_threads_ = nn::share_threads<P>(options.threads, batch_);
    const std::int64_t b = batch_, s = seq_, h = config_.hidden;
    hidden_ = space_tensor(shape{b, s, h});
    scratch_hidden_ = space_tensor(shape{b, s, h});
    attention_ = space_tensor(shape{b, s, h});
    qkv_ = space_tensor(shape{b, s, 3 * h});
    intermediate_ = space_tensor(shape{b, s, config_.intermediate});
    token_type_rows_ = space_tensor(shape{b, s, h});
    mask_ = space_tensor(shape{b, s});
    example_ids_ = tensor<std::int64_t>(shape{b, s});
    flops_ = 0;
    for (const auto& lw : layers_)
      flops_ += lw.qkv.flops(b * s) + lw.attention_out.flops(b * s) + lw.up.flops(b * s) + lw.down.flops(b * s);
    flops_ += static_cast<double>(config_.layers) * 4.0 * b * s * s * h;  // scores and context products
    return report;
  }

  bert_input example_input() const { return {example_ids_.cview()}; }
  double flops() const noexcept { return flops_; }

  /**
   * @brief Checks @p in on the host without running anything: shapes as compiled, every token id in
   * [0, vocab), every token type in [0, type_vocab), mask values 0 or 1. A device executor calls it
   * at its input edge, before the upload: on the device nothing reads the ids back.
   */
  void check_input(const bert_input& in) const {
    check_shapes(in);
    const auto check_range = [&](tensor_view<const std::int64_t> ids, std::int64_t limit, const char* what) {
      for (std::int64_t i = 0; i < ids.numel(); ++i)
        if (ids[i] < 0 || ids[i] >= limit)
          fail(name(), ": ", what, " ", ids[i], " at ", detail::embedding_id_position(ids.shape(), i),
               " is out of range [0, ", limit, ")");
    };
    check_range(in.ids, config_.vocab, "token id");
    if (!in.token_types.is_none()) check_range(in.token_types, config_.type_vocab, "token type");
    if (!in.mask.is_none() && in.mask_scores.is_none())
      for (std::int64_t i = 0; i < in.mask.numel(); ++i)
        if (in.mask[i] != 0 && in.mask[i] != 1)
          fail(name(), ": attention mask values must be 0 or 1, got ", in.mask[i], " at position ", i);
  }

  tensor_view<const float> forward(context<P>& ctx, const bert_input& in) {
    check_shapes(in);
    const shape tokens{batch_, seq_};
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

    tensor_view<const float> mask = in.mask_scores;
    if (mask.is_none() && !in.mask.is_none()) {
      if constexpr (is_host_space<typename P::memory_space>) {
        for (std::int64_t i = 0; i < tokens.numel(); ++i) {
          const std::int64_t m = in.mask[i];
          if (m != 0 && m != 1) fail(name(), ": attention mask values must be 0 or 1, got ", m, " at position ", i);
          mask_[i] = bert_mask_score(m);
        }
        mask = mask_.cview();
      } else {
        // Device memory cannot be read here; joule::executor converts the mask at its input edge.
        fail(name(), ": on a device policy the attention mask must come as mask_scores (joule::executor does this)");
      }
    }

    // Each thread its share of the sequences, on its one-thread context (or all on ctx).
    workers_.run_shares(ctx, sequence_threads_, batch_,
                        [&](context<P>& c, int, std::int64_t begin, std::int64_t end) { encode(c, mask, begin, end); });
    return hidden_.cview();
  }

 private:
  /** Weights and activations live in the policy's memory space: host, or device memory for cuda. */
  using space_tensor = tensor<float, typename P::memory_space>;
  struct layer_weights {
    nn::linear<P> qkv, attention_out, up, down;
    std::string attention_norm, output_norm;
    space_tensor attention_gamma, attention_beta, output_gamma, output_beta;
  };

  /**
   * The encoder's layers on sequences [first, end): their rows of every buffer, @p mask's rows
   * (when given) for their attention. hidden_ holds the embeddings in, the last hidden state out.
   */
  void encode(context<P>& ctx, tensor_view<const float> mask, std::int64_t first, std::int64_t end) {
    const std::int64_t n = end - first;
    auto rows = [&](space_tensor& buffer) { return nn::items(buffer.view(), first, n); };
    const auto hidden = rows(hidden_), scratch = rows(scratch_hidden_), attention = rows(attention_);
    const auto qkv = rows(qkv_), intermediate = rows(intermediate_);
    const tensor_view<const float> their_mask = mask.is_none() ? mask : nn::items(mask, first, n);
    for (const auto& lw : layers_) {
      lw.qkv.forward(ctx, hidden, qkv);
      ops::attention_fused_qkv(ctx, qkv, their_mask, attention, config_.heads);
      lw.attention_out.forward(ctx, attention, scratch, hidden);
      ops::layer_norm(ctx, scratch, lw.attention_gamma.cview(), lw.attention_beta.cview(), scratch,
                      config_.layer_norm_eps);
      lw.up.forward(ctx, scratch, intermediate);
      lw.down.forward(ctx, intermediate, hidden, scratch);
      ops::layer_norm(ctx, hidden, lw.output_gamma.cview(), lw.output_beta.cview(), hidden, config_.layer_norm_eps);
    }
  }

  // Checks build their message only when they fail: run() allocates nothing.
  void check_shapes(const bert_input& in) const {
    const shape tokens{batch_, seq_};
    if (!(in.ids.shape() == tokens))
      fail(name(), ": token ids must be ", tokens, " (as compiled), got ", in.ids.shape());
    if (!in.mask.is_none() && !(in.mask.shape() == tokens))
      fail(name(), ": attention mask must be ", tokens, ", got ", in.mask.shape());
    if (!in.mask_scores.is_none() && !(in.mask_scores.shape() == tokens))
      fail(name(), ": attention mask scores must be ", tokens, ", got ", in.mask_scores.shape());
    if (!in.token_types.is_none() && !(in.token_types.shape() == tokens))
      fail(name(), ": token types must be ", tokens, ", got ", in.token_types.shape());
  }

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
  space_tensor word_, position_, token_type_, embedding_gamma_, embedding_beta_;
  std::int64_t batch_ = 0, seq_ = 0;
  double flops_ = 0;
  space_tensor hidden_, scratch_hidden_, attention_, qkv_, intermediate_, token_type_rows_, mask_;
  int sequence_threads_ = 1;          // threads taking a share of the sequences each (1: they share each operation)
  nn::thread_contexts<P> workers_;    // their one-thread contexts
  tensor<std::int64_t> example_ids_;  // on the host: the executor uploads it for a device policy
};

}  // namespace joule::models

#if JOULE_HAS_CUDA
namespace joule {
/**
 * @brief BERT's input edge for device policies: token ids and types are copied as they are (the
 * executor has checked them on the host with bert::check_input); the mask is turned into additive
 * scores here, on the host where it still is, and the scores are uploaded instead.
 */
template <>
struct device_input_edge<models::bert_input> {
  template <class Model>
  void plan(const Model&, const models::bert_input& example) {
    const shape tokens = example.ids.shape();
    ids = tensor<std::int64_t, device_space>(tokens);
    token_types = tensor<std::int64_t, device_space>(tokens);
    mask_scores = tensor<float, device_space>(tokens);
    host_scores = tensor<float>(tokens);
  }
  int signature(const models::bert_input& in) const noexcept {
    return (in.mask.is_none() && in.mask_scores.is_none() ? 0 : 1) + (in.token_types.is_none() ? 0 : 2);
  }
  models::bert_input upload(const models::bert_input& host, cudaStream_t stream, transfer_stats& stats) {
    const shape& tokens = ids.shape();
    const auto check = [&](const auto& v, const char* what) {
      require(v.shape() == tokens, "executor: ", what, " must be ", tokens, " (as compiled), got ", v.shape());
    };
    check(host.ids, "token ids");
    models::bert_input device{ids.cview()};
    detail::upload_async(ids.data(), host.ids.data(), tokens.numel(), stream, stats);
    if (!host.token_types.is_none()) {
      check(host.token_types, "token types");
      detail::upload_async(token_types.data(), host.token_types.data(), tokens.numel(), stream, stats);
      device.token_types = token_types.cview();
    }
    if (!host.mask_scores.is_none()) {
      check(host.mask_scores, "attention mask scores");
      detail::upload_async(mask_scores.data(), host.mask_scores.data(), tokens.numel(), stream, stats);
      device.mask_scores = mask_scores.cview();
    } else if (!host.mask.is_none()) {
      check(host.mask, "attention mask");
      for (std::int64_t i = 0; i < tokens.numel(); ++i) host_scores[i] = models::bert_mask_score(host.mask[i]);
      // From pageable memory the copy has read host_scores when it returns, so reuse is safe.
      detail::upload_async(mask_scores.data(), host_scores.data(), tokens.numel(), stream, stats);
      device.mask_scores = mask_scores.cview();
    }
    return device;
  }

  tensor<std::int64_t, device_space> ids, token_types;
  tensor<float, device_space> mask_scores;
  tensor<float> host_scores;
};
}  // namespace joule
#endif

JOULE_DETAIL_DECLARE_PRECOMPILED_MODEL(bert)
