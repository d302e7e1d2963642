// The elementwise and transformer operators x every CPU policy at BERT-base's batch-1, seq-128
// shapes: GELU on the intermediate activation, the embedding sum, softmax over 12 heads' scores,
// the residual layer norm, the word-embedding gather, the attention products, and attention.
//
//   build/release/bench/bench_ops_transformer --benchmark_min_time=0.5
//
// How flops are counted: one per arithmetic operation of the operator's defining formula, a
// transcendental function (erf, exp) counting as one, and a comparison (max) as one:
//   gelu (erf)   5 per element: x/sqrt 2, erf, 1 + ., x/2, the product
//   add          1 per element
//   softmax      5 per element: the max, x - max, exp, the sum, the multiply by 1/sum
//   layer_norm   9 per element with a residual: x + r; the mean's sum; z - mean, its square and
//                sum; then z - mean, times 1/std, times gamma, plus beta (per-row scalars ignored)
//   embedding    0: a gather does no arithmetic (see bytes_per_second instead)
//   batched_matmul / the two products of attention: 2·m·n·k
//   attention    2 products (4·heads·seq_q·seq_k·head_dim) + 7 per score: the scale, the mask
//                add, and softmax's 5
// Memory-bound operators also report bytes_per_second: bytes read plus bytes written once.
#include <joule/ops/activation.hpp>
#include <joule/ops/add.hpp>
#include <joule/ops/attention.hpp>
#include <joule/ops/batched_matmul.hpp>
#include <joule/ops/embedding.hpp>
#include <joule/ops/layer_norm.hpp>
#include <joule/ops/softmax.hpp>

#include "bench_common.hpp"

namespace {

// BERT-base at batch 1.
constexpr std::int64_t kSeq = 128, kHidden = 768, kHeads = 12, kHeadDim = 64, kIntermediate = 3072, kVocab = 30522;

void set_bytes(benchmark::State& state, double bytes_per_iteration) {
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes_per_iteration * static_cast<double>(state.iterations())));
}

/** BERT's word-embedding table (94 MB), filled once and shared by every policy's run. */
const joule::tensor<float>& word_table() {
  static const auto table = joule_bench::random_tensor(joule::shape{kVocab, kHidden}, 7);
  return table;
}

void register_all() {
  using joule::shape;
  using joule::tensor;

  joule_bench::register_for_each_policy("gelu/[128,3072]",
                                        []<class P>(benchmark::State& state, joule::context<P>& ctx) {
                                          const auto x = joule_bench::random_tensor(shape{kSeq, kIntermediate}, 1);
                                          tensor<float> y(x.shape());
                                          for (auto _ : state) {
                                            joule::ops::gelu(ctx, x.cview(), y.view());
                                            benchmark::DoNotOptimize(y.data());
                                          }
                                          const double n = static_cast<double>(x.numel());
                                          joule_bench::set_gflops(state, 5 * n);
                                          set_bytes(state, 8 * n);
                                        });

  joule_bench::register_for_each_policy("add/[1,128,768]+[128,768]",
                                        []<class P>(benchmark::State& state, joule::context<P>& ctx) {
                                          const auto a = joule_bench::random_tensor(shape{1, kSeq, kHidden}, 1);
                                          const auto b = joule_bench::random_tensor(shape{kSeq, kHidden}, 2);
                                          tensor<float> y(a.shape());
                                          for (auto _ : state) {
                                            joule::ops::add(ctx, a.cview(), b.cview(), y.view());
                                            benchmark::DoNotOptimize(y.data());
                                          }
                                          const double n = static_cast<double>(a.numel());
                                          joule_bench::set_gflops(state, n);
                                          set_bytes(state, 12 * n);
                                        });

  joule_bench::register_for_each_policy("softmax/[12*128,128]",
                                        []<class P>(benchmark::State& state, joule::context<P>& ctx) {
                                          const auto x = joule_bench::random_tensor(shape{kHeads * kSeq, kSeq}, 1);
                                          tensor<float> y(x.shape());
                                          for (auto _ : state) {
                                            joule::ops::softmax(ctx, x.cview(), y.view());
                                            benchmark::DoNotOptimize(y.data());
                                          }
                                          const double n = static_cast<double>(x.numel());
                                          joule_bench::set_gflops(state, 5 * n);
                                          set_bytes(state, 8 * n);
                                        });

  joule_bench::register_for_each_policy(
      "layer_norm/[128,768]+residual", []<class P>(benchmark::State& state, joule::context<P>& ctx) {
        const auto x = joule_bench::random_tensor(shape{kSeq, kHidden}, 1);
        const auto residual = joule_bench::random_tensor(shape{kSeq, kHidden}, 2);
        const auto gamma = joule_bench::random_tensor(shape{kHidden}, 3);
        const auto beta = joule_bench::random_tensor(shape{kHidden}, 4);
        tensor<float> y(x.shape());
        for (auto _ : state) {
          joule::ops::layer_norm(ctx, x.cview(), gamma.cview(), beta.cview(), y.view(), 1e-12f, residual.cview());
          benchmark::DoNotOptimize(y.data());
        }
        const double n = static_cast<double>(x.numel());
        joule_bench::set_gflops(state, 9 * n);
        set_bytes(state, 12 * n);
      });

  joule_bench::register_for_each_policy("embedding/128_of_[30522,768]",
                                        []<class P>(benchmark::State& state, joule::context<P>& ctx) {
                                          const auto& table = word_table();
                                          tensor<std::int64_t> ids(shape{kSeq});
                                          std::mt19937_64 rng(5);
                                          for (auto& id : ids.span()) id = static_cast<std::int64_t>(rng() % kVocab);
                                          tensor<float> out(shape{kSeq, kHidden});
                                          for (auto _ : state) {
                                            joule::ops::embedding(ctx, ids.cview(), table.cview(), out.view());
                                            benchmark::DoNotOptimize(out.data());
                                          }
                                          joule_bench::set_gflops(state, 0);
                                          set_bytes(state, 8.0 * kSeq * kHidden);
                                        });

  joule_bench::register_for_each_policy(
      "batched_matmul/[12,128,64]x[12,128,64]^T", []<class P>(benchmark::State& state, joule::context<P>& ctx) {
        const auto a = joule_bench::random_tensor(shape{kHeads, kSeq, kHeadDim}, 1);
        const auto b = joule_bench::random_tensor(shape{kHeads, kSeq, kHeadDim}, 2);
        tensor<float> c(shape{kHeads, kSeq, kSeq});
        for (auto _ : state) {
          joule::ops::batched_matmul(ctx, a.cview(), b.cview(), c.view(), true, 0.125f);
          benchmark::DoNotOptimize(c.data());
        }
        joule_bench::set_gflops(state, 2.0 * kHeads * kSeq * kSeq * kHeadDim);
      });

  const double attention_flops = 4.0 * kHeads * kSeq * kSeq * kHeadDim + 7.0 * kHeads * kSeq * kSeq;
  joule_bench::register_for_each_policy(
      "attention/12_heads_seq_128_masked", [attention_flops]<class P>(benchmark::State& state, joule::context<P>& ctx) {
        const auto q = joule_bench::random_tensor(shape{1, kSeq, kHidden}, 1);
        const auto k = joule_bench::random_tensor(shape{1, kSeq, kHidden}, 2);
        const auto v = joule_bench::random_tensor(shape{1, kSeq, kHidden}, 3);
        tensor<float> mask(shape{1, kSeq});
        for (std::int64_t j = 100; j < kSeq; ++j) mask[j] = -10000.f;  // padding after 100 tokens
        tensor<float> out(shape{1, kSeq, kHidden});
        for (auto _ : state) {
          joule::ops::attention(ctx, q.cview(), k.cview(), v.cview(), mask.cview(), out.view(), kHeads);
          benchmark::DoNotOptimize(out.data());
        }
        joule_bench::set_gflops(state, attention_flops);
      });

  joule_bench::register_for_each_policy("attention_fused_qkv/12_heads_seq_128",
                                        [attention_flops]<class P>(benchmark::State& state, joule::context<P>& ctx) {
                                          const auto qkv = joule_bench::random_tensor(shape{1, kSeq, 3 * kHidden}, 1);
                                          tensor<float> out(shape{1, kSeq, kHidden});
                                          for (auto _ : state) {
                                            joule::ops::attention_fused_qkv(ctx, qkv.cview(), {}, out.view(), kHeads);
                                            benchmark::DoNotOptimize(out.data());
                                          }
                                          joule_bench::set_gflops(
                                              state, attention_flops - 1.0 * kHeads * kSeq * kSeq);  // no mask add
                                        });
}

}  // namespace

JOULE_BENCHMARK_MAIN(register_all)
