// The vision operators x every CPU policy at the batch-1 shapes of ResNet-50 and MobileNetV2:
// convolutions (stem, 1x1 reduce / expand, 3x3 at stride 1 and 2, 1x1 stride-2 downsample, depthwise
// 3x3 at every resolution), ResNet-50's 3x3/2 max pool, the global average pools, and batch-norm.
//
//   build/release/bench/bench_ops_vision --benchmark_min_time=0.5
//   JOULE_BENCH_THREADS=1 build/release/bench/bench_ops_vision   # one core: steadier on a shared machine
//   # the layers on small planes with and without the packed weight, interleaved:
//   build/release/bench/bench_ops_vision --benchmark_filter='conv2d.*(resnet50|last).*/simd'
//       --benchmark_enable_random_interleaving=true --benchmark_repetitions=5
//
// How flops are counted:
//   conv2d           2 · n · c_out · out_h · out_w · (c_in / groups) · kh · kw (the multiply-adds;
//                    bias, residual and activation ignored)
//   max pool         1 comparison per window position per output: n · c · out_h · out_w · kh · kw
//   global avg pool  1 add per input element: n · c · h · w
//   batch_norm       2 per element (y = x · scale + shift; the activation ignored)
// Pools and batch-norm are memory-bound and also report bytes_per_second: bytes read plus bytes
// written once.
#include <tuple>
#include <utility>

#include <joule/ops/batch_norm.hpp>
#include <joule/ops/conv2d.hpp>
#include <joule/ops/pool2d.hpp>

#include "bench_common.hpp"

namespace {

struct conv_shape {
  const char* what;
  std::int64_t c_in, size, c_out, k, stride, pad, groups;
  bool residual;
  joule::activation act;
  std::int64_t batch = 1;  // images per call (the simd policy takes them as one GEMM)
};

using joule::activation;

// torchvision's ResNet-50 (v1.5) and MobileNetV2 at batch 1, batch-norm folded into the bias.
constexpr conv_shape kConvs[] = {
    {"resnet50.conv1_7x7s2", 3, 224, 64, 7, 2, 3, 1, false, activation::relu},
    {"resnet50.layer1_1x1_reduce", 256, 56, 64, 1, 1, 0, 1, false, activation::relu},
    {"resnet50.layer1_3x3", 64, 56, 64, 3, 1, 1, 1, false, activation::relu},
    {"resnet50.layer1_1x1_expand_residual", 64, 56, 256, 1, 1, 0, 1, true, activation::relu},
    {"resnet50.layer2_3x3s2", 128, 56, 128, 3, 2, 1, 1, false, activation::relu},
    {"resnet50.layer2_downsample_1x1s2", 256, 56, 512, 1, 2, 0, 1, false, activation::none},
    {"resnet50.layer3_3x3", 256, 14, 256, 3, 1, 1, 1, false, activation::relu},
    {"resnet50.layer3_1x1_reduce", 1024, 14, 256, 1, 1, 0, 1, false, activation::relu},
    {"resnet50.layer3_1x1_expand_residual", 256, 14, 1024, 1, 1, 0, 1, true, activation::relu},
    {"resnet50.layer4_3x3s2", 512, 14, 512, 3, 2, 1, 1, false, activation::relu},
    {"resnet50.layer4_downsample_1x1s2", 1024, 14, 2048, 1, 2, 0, 1, false, activation::none},
    {"resnet50.layer4_3x3", 512, 7, 512, 3, 1, 1, 1, false, activation::relu},
    {"resnet50.layer4_1x1_reduce", 2048, 7, 512, 1, 1, 0, 1, false, activation::relu},
    {"resnet50.layer4_1x1_expand_residual", 512, 7, 2048, 1, 1, 0, 1, true, activation::relu},
    {"resnet50.layer3_3x3_batch8", 256, 14, 256, 3, 1, 1, 1, false, activation::relu, 8},
    {"resnet50.layer4_3x3_batch8", 512, 7, 512, 3, 1, 1, 1, false, activation::relu, 8},
    {"resnet50.layer4_1x1_reduce_batch8", 2048, 7, 512, 1, 1, 0, 1, false, activation::relu, 8},
    {"mobilenet_v2.stem_3x3s2", 3, 224, 32, 3, 2, 1, 1, false, activation::relu6},
    {"mobilenet_v2.expand_1x1_56", 24, 56, 144, 1, 1, 0, 1, false, activation::relu6},
    {"mobilenet_v2.last_1x1_7", 320, 7, 1280, 1, 1, 0, 1, false, activation::relu6},
    {"mobilenet_v2.dw_3x3_112_c32", 32, 112, 32, 3, 1, 1, 32, false, activation::relu6},
    {"mobilenet_v2.dw_3x3s2_112_c96", 96, 112, 96, 3, 2, 1, 96, false, activation::relu6},
    {"mobilenet_v2.dw_3x3_56_c144", 144, 56, 144, 3, 1, 1, 144, false, activation::relu6},
    {"mobilenet_v2.dw_3x3_28_c192", 192, 28, 192, 3, 1, 1, 192, false, activation::relu6},
    {"mobilenet_v2.dw_3x3s2_14_c576", 576, 14, 576, 3, 2, 1, 576, false, activation::relu6},
    {"mobilenet_v2.dw_3x3_7_c960", 960, 7, 960, 3, 1, 1, 960, false, activation::relu6},
};

void set_bytes(benchmark::State& state, double bytes_per_iteration) {
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes_per_iteration * static_cast<double>(state.iterations())));
}

void register_all() {
  using joule::shape;
  using joule::tensor;

  // Every shape as given, then the dense ones with outputs of at most 14 x 14 with the weight packed
  // ahead (ops::pack_conv2d_weight, as the models pack those layers'), for a policy that takes one.
  for (const bool packed : {false, true})
    for (const auto& s : kConvs) {
      if (packed && (s.groups != 1 || (s.size + 2 * s.pad - s.k) / s.stride + 1 > 14)) continue;
      joule_bench::register_for_each_policy(
          std::string(packed ? "conv2d_packed/" : "conv2d/") + s.what,
          [s, packed]<class P>(benchmark::State& state, joule::context<P>& ctx) {
            const shape in_shape{s.batch, s.c_in, s.size, s.size}, w_shape{s.c_out, s.c_in / s.groups, s.k, s.k};
            const joule::ops::conv2d_params p{
                .stride_h = s.stride, .stride_w = s.stride, .pad_h = s.pad, .pad_w = s.pad, .groups = s.groups};
            const shape out_shape = joule::ops::conv2d_output_shape(in_shape, w_shape, p);
            const auto x = joule_bench::random_tensor(in_shape, 1);
            const auto w = joule_bench::random_tensor(w_shape, 2);
            const auto bias = joule_bench::random_tensor(shape{s.c_out}, 3);
            const auto residual = joule_bench::random_tensor(out_shape, 4);
            tensor<float> y(out_shape);
            joule::ops::conv2d_epilogue ep{.bias = bias.cview(), .act = s.act};
            if (s.residual) ep.residual = residual.cview();
            tensor<float> packed_weight;
            if constexpr (joule::ops::conv2d_takes_packed_weight<P>) {
              if (packed) packed_weight = joule::ops::pack_conv2d_weight<P>(w.cview());
            } else if (packed) {
              state.SkipWithError("this policy's conv2d takes no packed weight");
              return;
            }
            for (auto _ : state) {
              joule::ops::conv2d(ctx, x.cview(), w.cview(), y.view(), p, ep, packed_weight.cview());
              benchmark::DoNotOptimize(y.data());
            }
            joule_bench::set_gflops(
                state, 2.0 * static_cast<double>(out_shape.numel()) * static_cast<double>(w_shape.numel() / s.c_out));
          });
    }

  joule_bench::register_for_each_policy(
      "max_pool/resnet50.3x3s2_[1,64,112,112]", []<class P>(benchmark::State& state, joule::context<P>& ctx) {
        const auto x = joule_bench::random_tensor(shape{1, 64, 112, 112}, 1);
        const joule::ops::pool2d_params p{
            .kind = joule::pool_kind::max, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
        tensor<float> y(joule::ops::pool2d_output_shape(x.shape(), p));
        for (auto _ : state) {
          joule::ops::pool2d(ctx, x.cview(), y.view(), p);
          benchmark::DoNotOptimize(y.data());
        }
        joule_bench::set_gflops(state, 9.0 * static_cast<double>(y.numel()));
        set_bytes(state, 4.0 * static_cast<double>(x.numel() + y.numel()));
      });

  for (const auto& [what, c] : {std::pair{"resnet50_[1,2048,7,7]", std::int64_t{2048}},
                                std::pair{"mobilenet_v2_[1,1280,7,7]", std::int64_t{1280}}}) {
    joule_bench::register_for_each_policy(std::string("global_avg_pool/") + what,
                                          [c]<class P>(benchmark::State& state, joule::context<P>& ctx) {
                                            const auto x = joule_bench::random_tensor(shape{1, c, 7, 7}, 1);
                                            tensor<float> y(shape{1, c});
                                            for (auto _ : state) {
                                              joule::ops::global_avg_pool(ctx, x.cview(), y.view());
                                              benchmark::DoNotOptimize(y.data());
                                            }
                                            joule_bench::set_gflops(state, static_cast<double>(x.numel()));
                                            set_bytes(state, 4.0 * static_cast<double>(x.numel() + y.numel()));
                                          });
  }

  for (const auto& [what, c, size] : {std::tuple{"resnet50_[1,64,112,112]", std::int64_t{64}, std::int64_t{112}},
                                      std::tuple{"mobilenet_v2_[1,144,56,56]", std::int64_t{144}, std::int64_t{56}}}) {
    joule_bench::register_for_each_policy(
        std::string("batch_norm/") + what, [c, size]<class P>(benchmark::State& state, joule::context<P>& ctx) {
          const auto x = joule_bench::random_tensor(shape{1, c, size, size}, 1);
          const auto mean = joule_bench::random_tensor(shape{c}, 2), gamma = joule_bench::random_tensor(shape{c}, 3);
          const auto beta = joule_bench::random_tensor(shape{c}, 4);
          auto var = joule_bench::random_tensor(shape{c}, 5);
          for (auto& v : var.span()) v = v * v + 0.1f;
          tensor<float> y(x.shape());
          for (auto _ : state) {
            joule::ops::batch_norm(ctx, x.cview(), y.view(), mean.cview(), var.cview(), gamma.cview(), beta.cview(),
                                   1e-5f, activation::relu);
            benchmark::DoNotOptimize(y.data());
          }
          joule_bench::set_gflops(state, 2.0 * static_cast<double>(x.numel()));
          set_bytes(state, 8.0 * static_cast<double>(x.numel()));
        });
  }
}

}  // namespace

JOULE_BENCHMARK_MAIN(register_all)
