// One thread's share of a MobileNetV2 block on a small plane, piece by piece, as the block ran
// NCHW (the pixels as the GEMMs' columns, the activations packed per call; the depthwise kernel
// for small planes, flat_depthwise_conv2d) and as it runs channels-last
// (nn::inverted_residual::forward_channels_last: the pixels as the GEMMs' rows, the weights packed
// ahead; ops::depthwise_conv2d_channels_last). One-thread context, warm caches, the pieces
// alternated in rounds of 100 calls; median and first quartile of the rounds.
//
//   c++ -std=gnu++20 -O3 -DNDEBUG -march=native -DJOULE_HAS_SIMD=1 -Iinclude \
//       bench/ab/mobilenet_v2_pieces.cpp -o build/ab/mobilenet_v2_pieces -lpthread
//   build/ab/mobilenet_v2_pieces IN HIDDEN_SHARE SIZE [ROUNDS]    # 96 288 14: blocks 12-13 on 2 threads
#include <joule/joule.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <vector>

using namespace joule;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s IN HIDDEN_SHARE SIZE [ROUNDS]\n", argv[0]);
    return 2;
  }
  const std::int64_t cin = std::atoi(argv[1]), hid = std::atoi(argv[2]), size = std::atoi(argv[3]);
  const int rounds = argc > 4 ? std::atoi(argv[4]) : 41;
  const std::int64_t cout = cin, px = size * size;
  context<simd> ctx(1);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0, 1);
  tensor<float> x(shape{1, cin, size, size}), we(shape{hid, cin, 1, 1}), be(shape{hid}), h(shape{1, hid, size, size}),
      wd(shape{hid, 1, 3, 3}), bd(shape{hid}), f(shape{1, hid, size, size}), wp(shape{cout, hid, 1, 1}),
      bp(shape{cout}), y(shape{1, cout, size, size});
  tensor<float> x_cl(shape{1, size, size, cin}), h_cl(shape{1, size, size, hid}), wd_cl(shape{3, 3, hid}),
      f_cl(shape{1, size, size, hid}), y_cl(shape{1, size, size, cout});
  for (auto* t : {&x, &we, &be, &wd, &bd, &wp, &bp, &x_cl, &h_cl, &wd_cl}) {
    for (auto& v : t->span()) v = u(rng) * 0.1f;
  }
  // B of the channels-last GEMMs: W_e^T [cin, hid] and W_p^T [hid, cout], packed ahead.
  const tensor<float> expand_b = ops::pack_gemm_b<simd>(we.cview().reshape(shape{hid, cin}), true);
  const tensor<float> project_b = ops::pack_gemm_b<simd>(wp.cview().reshape(shape{cout, hid}), true);
  constexpr std::int64_t width = ops::gemm_b_panel_width<simd>;
  auto expand_nchw = [&] {
    const gemm_op g{.m = hid,
                    .n = px,
                    .k = cin,
                    .a = we.data(),
                    .lda = cin,
                    .b = x.data(),
                    .ldb = px,
                    .c = h.data(),
                    .ldc = px,
                    .ep = {.bias = be.data(), .axis = bias_axis::row, .act = activation::relu6}};
    kernel<gemm_op, simd>::run(ctx, g);
  };
  auto depthwise_nchw = [&] {
    ops::conv2d(ctx, h.cview(), wd.cview(), f.view(),
                {.stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1, .groups = hid},
                {.bias = bd.cview(), .act = activation::relu6});
  };
  auto project_nchw = [&] {
    const gemm_op g{.m = cout,
                    .n = px,
                    .k = hid,
                    .a = wp.data(),
                    .lda = hid,
                    .b = f.data(),
                    .ldb = px,
                    .c = y.data(),
                    .ldc = px,
                    .ep = {.bias = bp.data(), .axis = bias_axis::row}};
    kernel<gemm_op, simd>::run(ctx, g);
  };
  auto expand_cl = [&] {
    gemm_op g{.m = px,
              .n = hid,
              .k = cin,
              .a = x_cl.data(),
              .lda = cin,
              .b = expand_b.data(),
              .ldb = width,
              .c = h_cl.data(),
              .ldc = hid,
              .ep = {.bias = be.data(), .axis = bias_axis::column, .act = activation::relu6}};
    g.b_panel_width = width;
    kernel<gemm_op, simd>::run(ctx, g);
  };
  auto depthwise_cl = [&] {
    ops::depthwise_conv2d_channels_last(ctx, h_cl.cview(), wd_cl.cview(), f_cl.view(), 1, 1, bd.cview(),
                                        activation::relu6);
  };
  auto project_cl = [&] {
    gemm_op g{.m = px,
              .n = cout,
              .k = hid,
              .a = f_cl.data(),
              .lda = hid,
              .b = project_b.data(),
              .ldb = width,
              .c = y_cl.data(),
              .ldc = cout,
              .ep = {.bias = bp.data(), .axis = bias_axis::column}};
    g.b_panel_width = width;
    kernel<gemm_op, simd>::run(ctx, g);
  };
  struct piece {
    const char* name;
    std::function<void()> run;
  };
  const std::vector<piece> pieces{{"expand NCHW", expand_nchw},       {"expand channels-last", expand_cl},
                                  {"depthwise NCHW", depthwise_nchw}, {"depthwise channels-last", depthwise_cl},
                                  {"project NCHW", project_nchw},     {"project channels-last", project_cl}};
  std::vector<std::vector<double>> us(pieces.size());
  for (int r = 0; r < rounds; ++r)
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      const auto start = std::chrono::steady_clock::now();
      for (int k = 0; k < 100; ++k) pieces[i].run();
      us[i].push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
                      100);
    }
  std::printf("in %lld, hidden share %lld, %lld x %lld, one thread, %d rounds\n", static_cast<long long>(cin),
              static_cast<long long>(hid), static_cast<long long>(size), static_cast<long long>(size), rounds);
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    std::sort(us[i].begin(), us[i].end());
    std::printf("%-24s %8.2f us (q1 %7.2f)\n", pieces[i].name, us[i][us[i].size() / 2], us[i][us[i].size() / 4]);
  }
}
