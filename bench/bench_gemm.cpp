// gemm / linear x every CPU policy at the GEMM shapes of the three reference models at batch 1,
// plus one large square SGEMM for the machine's peak. GFLOP/s = 2·m·n·k per iteration.
//
//   build/release/bench/bench_gemm --benchmark_min_time=0.5
//   JOULE_BENCH_THREADS=1 build/release/bench/bench_gemm   # one core: steadier on a shared machine
#include <joule/ops/gemm.hpp>

#include "bench_common.hpp"

namespace {

struct gemm_shape {
  const char* what;
  std::int64_t m, n, k;
  bool trans_b;  // a Linear weight [n, k]
};

// m·n·k of the GEMMs the models run at batch 1: convolutions as W[c_out, c_in·kh·kw] · columns,
// BERT's linear layers as x[seq, in] · Wᵀ.
constexpr gemm_shape kShapes[] = {
    {"resnet50.conv1_7x7", 64, 112 * 112, 147, false},
    {"resnet50.layer1_1x1_reduce", 64, 56 * 56, 256, false},
    {"resnet50.layer1_3x3", 64, 56 * 56, 576, false},
    {"resnet50.layer1_1x1_expand", 256, 56 * 56, 64, false},
    {"resnet50.layer3_3x3", 256, 14 * 14, 2304, false},
    {"resnet50.layer4_1x1_expand", 2048, 7 * 7, 512, false},
    {"resnet50.fc", 1, 1000, 2048, true},
    {"mobilenet_v2.expand_1x1_56", 144, 56 * 56, 24, false},
    {"mobilenet_v2.project_1x1_14", 96, 14 * 14, 576, false},
    {"mobilenet_v2.last_1x1", 1280, 7 * 7, 320, false},
    {"bert.qkv", 128, 2304, 768, true},
    {"bert.attn_out", 128, 768, 768, true},
    {"bert.ffn_up", 128, 3072, 768, true},
    {"bert.ffn_down", 128, 768, 3072, true},
    {"square_2048", 2048, 2048, 2048, false},
};

void register_all() {
  for (const auto& s : kShapes) {
    joule_bench::register_for_each_policy(
        std::string("gemm/") + s.what,
        [s]<class P>(benchmark::State& state, joule::context<P>& ctx) {
          const auto a = joule_bench::random_tensor(joule::shape{s.m, s.k}, 1);
          const auto b = joule_bench::random_tensor(s.trans_b ? joule::shape{s.n, s.k} : joule::shape{s.k, s.n}, 2);
          const auto bias = joule_bench::random_tensor(joule::shape{s.n}, 3);
          joule::tensor<float> c(joule::shape{s.m, s.n});
          const joule::ops::gemm_options options{
              .trans_b = s.trans_b, .bias = bias.cview(), .act = joule::activation::relu};
          for (auto _ : state) {
            joule::ops::gemm(ctx, a.cview(), b.cview(), c.view(), options);
            benchmark::DoNotOptimize(c.data());
          }
          joule_bench::set_gflops(state, 2.0 * s.m * s.n * s.k);
        },
        joule_bench::bench_threads());
  }
  // The same GEMMs with B packed ahead of time (ops::pack_gemm_b: what nn::linear does with its
  // weight), on the policies whose GEMM reads packed panels: "<shape>/<policy>_packed" beside
  // "<shape>/<policy>" shows what packing B on every call costs.
  joule::cpu_policies::for_each([&]<class P>() {
    if constexpr (joule::ops::gemm_b_panel_width < P >> 0) {
      if (!P::available()) return;
      for (const auto& s : kShapes) {
        benchmark::RegisterBenchmark(
            (std::string("gemm/") + s.what + "/" + P::name() + "_packed").c_str(),
            [s](benchmark::State& state) {
              joule::context<P> ctx(joule_bench::bench_threads());
              const auto a = joule_bench::random_tensor(joule::shape{s.m, s.k}, 1);
              const auto b = joule_bench::random_tensor(s.trans_b ? joule::shape{s.n, s.k} : joule::shape{s.k, s.n}, 2);
              const auto panels = joule::ops::pack_gemm_b<P>(b.cview(), s.trans_b);
              const auto bias = joule_bench::random_tensor(joule::shape{s.n}, 3);
              joule::tensor<float> c(joule::shape{s.m, s.n});
              const joule::ops::gemm_options options{.bias = bias.cview(), .act = joule::activation::relu};
              for (auto _ : state) {
                joule::ops::gemm(ctx, a.cview(), panels.cview(), c.view(), options);
                benchmark::DoNotOptimize(c.data());
              }
              joule_bench::set_gflops(state, 2.0 * s.m * s.n * s.k);
              state.SetLabel(std::string(P::name()) + " packed");
            })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  });
}

}  // namespace

JOULE_BENCHMARK_MAIN(register_all)
