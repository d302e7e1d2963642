// Conformance of ops::gemm and ops::linear on every CPU policy against the double-precision
// reference in tests/reference/gemm.hpp.
//
// Error bound (per element): 1.2 · gamma(k + 3) · M + 8u · (|ref| + M), u = 2^-24, where M is
// |alpha| · sum_p |a_ip b_pj| + |bias_j| + |residual_ij|. gamma(k + 3) is Higham's worst case
// for a float32 sum of k products plus the bias and residual additions, in any order (blocked,
// vectorised, FMA); 1.2 is the largest slope of the activations (GELU's is 1.13) carrying that
// error through; 8u · (|ref| + M) covers the activation's own rounding (erf and tanh to a few ulp,
// and 1 + erf(x) cancelling for very negative x, where the error scales with |x| <= M).
//
// Bad input tested: inner dimensions that differ; C of the wrong shape; bias and residual of the
// wrong shape; operands of the wrong rank; a null data pointer with a non-empty shape; a float
// pointer that is not 4-byte aligned; C overlapping A in memory; linear with a weight whose input
// size differs from the input's, and an output whose leading axes differ. Edge cases: sizes that
// are not multiples of the vector width, m = n = k = 1, k = 0 (C = act(bias)), an empty batch
// (m = 0), a NaN in A that must stay in its row and an Inf in B that must stay in its column.
// B packed ahead of time (ops::pack_gemm_b, the simd policy): the same problems through the packed
// panels; panels of the wrong shape, packed B with trans_b, and packed B on a policy that does not
// read panels are clear errors. Finished tiles handed to gemm_op::tile_sink (the simd policy) reach
// it once each, summed over the whole depth.
#include <algorithm>
#include <cstring>

#include <joule/ops/gemm.hpp>

#include "../common/testing.hpp"
#include "../reference/gemm.hpp"
#include "gemm_cases.hpp"

namespace {

using joule_test::expect_error;

using joule::activation;
using joule::shape;
using joule::tensor;
using joule_test::gamma;
using joule_test::kUnitRoundoff;

template <class P>
class gemm_conformance : public ::testing::Test {
 protected:
  void SetUp() override { JOULE_SKIP_IF_UNAVAILABLE(P); }

  using problem = joule_test::gemm_problem;

  /** Runs one problem on policy P with random data and checks it against the reference. */
  /** With @p packed, B goes to the kernel packed ahead of time by ops::pack_gemm_b<P>, as nn::linear does. */
  void check(joule::context<P>& ctx, const problem& pr, std::mt19937_64& rng, float nan_in_a = 0.f,
             float inf_in_b = 0.f, bool packed = false) {
    const auto [a, b, bias, residual] = joule_test::random_gemm_inputs(pr, rng, nan_in_a, inf_in_b);
    tensor<float> c(shape{pr.m, pr.n});
    for (auto& x : c.span()) x = std::numeric_limits<float>::quiet_NaN();  // kernels must not read C
    joule::ops::gemm_options options{.trans_b = pr.trans_b, .alpha = pr.alpha, .act = pr.act};
    if (pr.with_bias) options.bias = bias.cview();
    if (pr.with_residual) options.residual = residual.cview();
    const std::string speeds = joule_test::set_uneven_speeds(ctx, calls_++);  // any ranges must do
    if constexpr (joule::ops::gemm_b_panel_width < P >> 0) {
      if (packed) {
        const tensor<float> panels = joule::ops::pack_gemm_b<P>(b.cview(), pr.trans_b);
        options.trans_b = false;
        joule::ops::gemm(ctx, a.cview(), panels.cview(), c.view(), options);
      }
    }
    if (!packed) joule::ops::gemm(ctx, a.cview(), b.cview(), c.view(), options);

    const auto ref =
        joule_ref::gemm(pr.m, pr.n, pr.k, a.data(), b.data(), pr.trans_b, pr.alpha,
                        pr.with_bias ? bias.data() : nullptr, pr.with_residual ? residual.data() : nullptr, pr.act);
    const auto bound = joule_test::gemm_bound(pr.k, ref);
    std::ostringstream what;
    what << P::name() << " gemm m=" << pr.m << " n=" << pr.n << " k=" << pr.k << " trans_b=" << pr.trans_b
         << " bias=" << pr.with_bias << " residual=" << pr.with_residual << " alpha=" << pr.alpha
         << " act=" << joule::activation_name(pr.act) << " threads=" << ctx.threads() << " packed=" << packed << speeds;
    joule_test::expect_within(c.span(), ref.value, bound, what.str());
  }

 private:
  int calls_ = 0;
};
TYPED_TEST_SUITE(gemm_conformance, joule_test::cpu_policy_types, joule_test::policy_name);

TYPED_TEST(gemm_conformance, random_shapes_and_epilogues) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  for (int draw = 0; draw < 24; ++draw) this->check(ctx, joule_test::random_gemm_problem(rng), rng);
}

TYPED_TEST(gemm_conformance, large_shapes_cross_every_block) {
  // Deeper than one packed k block, wider than one packed column block, split across threads.
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  this->check(ctx, {131, 1100, 700, false, true, true, 1.f, activation::relu}, rng);
  this->check(ctx, {257, 67, 530, true, true, false, 1.f, activation::gelu_erf}, rng);
  this->check(ctx, {1, 3072, 768, true, true, false, 1.f, activation::gelu_erf}, rng);  // BERT, batch 1
}

TYPED_TEST(gemm_conformance, small_planes_shared_by_rows) {
  // Few columns over many rows: the simd policy shares these out between two threads by row tiles
  // (simd_detail::split_by_columns): ResNet-50's 3x3 layer on 14 x 14 pixels (7 panels, the last
  // with 4 columns), its 7 x 7 layers (2 panels), a ragged last tile (m = 250), deeper than a k
  // block; and a wide one that stays split by columns, for contrast.
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  this->check(ctx, {256, 196, 600, false, true, true, 1.f, activation::relu}, rng);
  this->check(ctx, {250, 49, 300, false, true, false, 1.f, activation::relu6}, rng);
  this->check(ctx, {512, 49, 40, true, false, true, 0.5f, activation::none}, rng);
  this->check(ctx, {64, 900, 70, false, true, false, 1.f, activation::relu}, rng);
}

TYPED_TEST(gemm_conformance, few_rows_matrix_vector_products) {
  // m <= 4 (a linear layer at batch 1, a vision model's fc): the simd policy streams B without
  // packing, as dot products (B transposed) or scaled rows (B as stored). Ragged k and n, one and
  // two threads, every row count of that path and the first one past it.
  auto rng = joule_test::rng_for_test();
  for (int threads : {1, 2}) {
    joule::context<TypeParam> ctx(threads);
    for (std::int64_t m : {1, 2, 3, 4, 5})
      for (bool trans_b : {true, false}) {
        this->check(ctx, {m, 1000, 2048, trans_b, true, false, 1.f, activation::none}, rng);  // ResNet-50's fc
        this->check(ctx, {m, 37, 19, trans_b, true, true, 0.5f, activation::relu}, rng);
        this->check(ctx, {m, 7, 3, trans_b, false, false, 1.f, activation::tanh}, rng);
        this->check(ctx, {m, 129, 1, trans_b, true, true, 1.f, activation::relu6}, rng);
      }
  }
}

TYPED_TEST(gemm_conformance, b_packed_ahead_of_time_gives_the_same_products) {
  // nn::linear packs its weight once for a policy whose GEMM reads panels (ops::pack_gemm_b): every
  // path of that kernel must read them, from B as stored and from B^T (a Linear weight), with a
  // ragged last panel, deeper than a k block, wider than a column block, with few rows (the
  // streaming path), on one and two threads.
  if constexpr (joule::ops::gemm_b_panel_width<TypeParam> == 0) {
    GTEST_SKIP() << TypeParam::name() << "'s gemm reads B only as given: nothing to pack";
  } else {
    auto rng = joule_test::rng_for_test();
    for (int threads : {1, 2}) {
      joule::context<TypeParam> ctx(threads);
      for (int draw = 0; draw < 12; ++draw) this->check(ctx, joule_test::random_gemm_problem(rng), rng, 0.f, 0.f, true);
      this->check(ctx, {131, 1100, 700, false, true, true, 1.f, activation::relu}, rng, 0.f, 0.f, true);
      this->check(ctx, {257, 67, 530, true, true, false, 1.f, activation::gelu_erf}, rng, 0.f, 0.f, true);
      this->check(ctx, {128, 2304, 768, true, true, true, 1.f, activation::none}, rng, 0.f, 0.f, true);  // BERT QKV
      // Over 256 rows (row tile by row tile), two k blocks, and on two threads the second thread's
      // columns start inside a group of kNc packed columns and run into the next: the micro-kernel's
      // runs of panels (tile_target::panels) must stop where the packed panels stop following on.
      this->check(ctx, {300, 768, 300, true, true, false, 1.f, activation::relu}, rng, 0.f, 0.f, true);
      // Up to 256 rows (panel by panel) and shallow: one micro-kernel call takes a run of row tiles
      // (tile_target::row_tiles), with A packed per call (600 columns) and as stored, whose tiles of
      // 200 rows are evened out to 6 and 5 rows on AVX2.
      this->check(ctx, {200, 600, 100, true, true, true, 1.f, activation::none}, rng, 0.f, 0.f, true);
      this->check(ctx, {200, 100, 60, false, true, false, 1.f, activation::relu6}, rng, 0.f, 0.f, true);
      for (std::int64_t m : {1, 2, 3, 4, 5}) {
        this->check(ctx, {m, 1000, 300, true, true, false, 1.f, activation::none}, rng, 0.f, 0.f, true);
        this->check(ctx, {m, 37, 19, false, true, true, 0.5f, activation::relu}, rng, 0.f, 0.f, true);
        this->check(ctx, {m, 7, 1, true, false, false, 1.f, activation::tanh}, rng, 0.f, 0.f, true);
      }
      this->check(ctx, {3, 5, 0, false, true, true, 1.f, activation::relu6}, rng, 0.f, 0.f, true);  // k = 0
      this->check(ctx, {40, 50, 60, true, false, false, 1.f, activation::relu}, rng, 0.f,
                  std::numeric_limits<float>::infinity(), true);
    }
  }
}

TYPED_TEST(gemm_conformance, finished_tiles_go_to_the_sink) {
  // A kernel that takes gemm_op::tile_sink (the simd policy: a convolution with its pixels as rows
  // writes its NCHW output from each tile) hands every element of C to the sink exactly once, summed
  // over the whole depth, and keeps only partial sums in C: A as stored, stored transposed and B
  // packed ahead (as the convolution gives them), one k block and several (depth > 256), ragged
  // row tiles and panels, several column blocks (n > 512), k = 0, one and two threads.
  if constexpr (!joule::gemm_takes_tile_sink<TypeParam>) {
    GTEST_SKIP() << TypeParam::name() << "'s gemm takes no tile sink (gemm_takes_tile_sink is false): it writes C only";
  } else {
    struct sink {
      std::int64_t n = 0;
      std::vector<float> out;
      std::vector<int> writes;
      static void take(const void* target, const float* tile, std::int64_t ld, std::int64_t row, std::int64_t col,
                       std::int64_t rows, std::int64_t cols) {
        auto& s = *const_cast<sink*>(static_cast<const sink*>(target));
        for (std::int64_t i = 0; i < rows; ++i)
          for (std::int64_t j = 0; j < cols; ++j) {
            s.out[(row + i) * s.n + col + j] = tile[i * ld + j];
            ++s.writes[(row + i) * s.n + col + j];
          }
      }
    };
    auto rng = joule_test::rng_for_test();
    const joule_test::gemm_problem problems[] = {{1, 1, 1, false, false, false, 1.f, activation::none},
                                                 {5, 37, 300, false, false, false, 1.f, activation::none},
                                                 {196, 256, 1024, false, false, false, 1.f, activation::none},
                                                 {49, 600, 520, false, false, false, 1.f, activation::none},
                                                 {30, 70, 0, false, false, false, 1.f, activation::none}};
    for (int threads : {1, 2}) {
      joule::context<TypeParam> ctx(threads);
      for (const auto& pr : problems)
        for (int variant = 0; variant < 3; ++variant) {  // A as stored; A transposed; B packed ahead
          const auto [a, b, bias, residual] = joule_test::random_gemm_inputs(pr, rng);
          std::vector<float> a_t(static_cast<std::size_t>(pr.m * pr.k));
          for (std::int64_t i = 0; i < pr.m; ++i)
            for (std::int64_t p = 0; p < pr.k; ++p) a_t[p * pr.m + i] = a.data()[i * pr.k + p];
          const tensor<float> panels = joule::ops::pack_gemm_b<TypeParam>(b.cview(), false);
          std::vector<float> partial(static_cast<std::size_t>(pr.m * pr.n), std::numeric_limits<float>::quiet_NaN());
          sink s{pr.n, std::vector<float>(partial.size()), std::vector<int>(partial.size())};
          joule::gemm_op op{.m = pr.m,
                            .n = pr.n,
                            .k = pr.k,
                            .a = a.data(),
                            .lda = pr.k,
                            .b = b.data(),
                            .ldb = pr.n,
                            .c = partial.data(),
                            .ldc = pr.n,
                            .alpha = 1.f,
                            .ep = {}};
          if (variant == 1) {
            op.a = a_t.data();
            op.lda = pr.m;
            op.trans_a = true;
          }
          if (variant == 2) {
            op.b = panels.data();
            op.b_panel_width = joule::ops::gemm_b_panel_width<TypeParam>;
          }
          op.tile_sink = &sink::take;
          op.sink_target = &s;
          joule::kernel<joule::gemm_op, TypeParam>::run(ctx, op);
          const auto ref =
              joule_ref::gemm(pr.m, pr.n, pr.k, a.data(), b.data(), false, 1.f, nullptr, nullptr, activation::none);
          std::ostringstream what;
          what << TypeParam::name() << " gemm to a sink m=" << pr.m << " n=" << pr.n << " k=" << pr.k
               << " variant=" << variant << " threads=" << threads;
          joule_test::expect_within(s.out, ref.value, joule_test::gemm_bound(pr.k, ref), what.str());
          EXPECT_EQ(std::count(s.writes.begin(), s.writes.end(), 1), static_cast<std::ptrdiff_t>(s.writes.size()))
              << what.str() << ": an element of C reached the sink other than once";
        }
    }
  }
}

TYPED_TEST(gemm_conformance, a_packed_per_call_over_many_columns) {
  // From 512 columns the simd policy packs A into tiles of 12 rows before multiplying: row counts
  // that leave a ragged last tile (5, 13, 37) or fill tiles (24), depths that are not a multiple of
  // the 16-step transpose (1, 17, 300), B as stored, transposed and packed ahead, the columns split
  // across threads (few rows: A packed in a fork of its own) and the rows (each thread packs its
  // own tiles), a NaN in A that must land in its row only, on one and two threads.
  auto rng = joule_test::rng_for_test();
  for (int threads : {1, 2}) {
    joule::context<TypeParam> ctx(threads);
    for (std::int64_t m : {5, 13, 24, 37})
      for (std::int64_t k : {1, 17, 300}) {
        this->check(ctx, {m, 520, k, false, true, false, 1.f, activation::relu}, rng);
        this->check(ctx, {m, 600, k, true, false, true, 0.5f, activation::none}, rng);
      }
    this->check(ctx, {300, 512, 70, false, true, true, 1.f, activation::gelu_erf}, rng);  // rows split
    this->check(ctx, {64, 768, 1030, true, true, false, 1.f, activation::none}, rng);     // several k blocks
    this->check(ctx, {37, 700, 33, false, true, false, 1.f, activation::none}, rng,
                std::numeric_limits<float>::quiet_NaN());
    if constexpr (joule::ops::gemm_b_panel_width < TypeParam >> 0)
      this->check(ctx, {29, 530, 260, true, true, true, 1.f, activation::relu6}, rng, 0.f, 0.f, true);
  }
}

TYPED_TEST(gemm_conformance, b_read_in_place_and_packed_by_the_first_row_tile) {
  // With A packed and few rows (up to 128), the simd policy's first row tile of each block reads B
  // where it lies and packs it for the tiles after it; a single tile only reads it; a ragged last
  // panel is packed ahead. Rows of one tile (12), one and a row (13), the limit (128) and past it
  // (129); depths of one k block and of three, the last short (600); widths of a whole column block
  // (512), three blocks with a ragged last panel (1100) and one with a ragged panel only (530); an
  // Inf in B that must stay in its column; one and two threads, uneven speeds.
  auto rng = joule_test::rng_for_test();
  for (int threads : {1, 2}) {
    joule::context<TypeParam> ctx(threads);
    for (std::int64_t m : {12, 13, 128, 129})
      for (std::int64_t k : {40, 600}) {
        this->check(ctx, {m, 1100, k, false, true, true, 1.f, activation::relu}, rng);
        this->check(ctx, {m, 512, k, false, false, false, 0.5f, activation::none}, rng);
      }
    this->check(ctx, {64, 530, 300, false, true, false, 1.f, activation::relu6}, rng, 0.f,
                std::numeric_limits<float>::infinity());
  }
}

TYPED_TEST(gemm_conformance, degenerate_sizes) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(1);
  this->check(ctx, {1, 1, 1, false, true, true, 1.f, activation::none}, rng);
  this->check(ctx, {3, 5, 0, false, true, true, 1.f, activation::relu6}, rng);  // k = 0: act(bias + residual)
  this->check(ctx, {0, 7, 4, true, true, false, 1.f, activation::none}, rng);   // empty batch
  this->check(ctx, {17, 1, 33, true, false, false, 1.f, activation::tanh}, rng);
}

TYPED_TEST(gemm_conformance, nan_and_inf_stay_where_they_belong) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  for (activation act : {activation::none, activation::relu}) {
    this->check(ctx, {40, 50, 60, false, true, false, 1.f, act}, rng, std::numeric_limits<float>::quiet_NaN());
    this->check(ctx, {40, 50, 60, true, false, false, 1.f, act}, rng, 0.f, std::numeric_limits<float>::infinity());
  }
}

TYPED_TEST(gemm_conformance, linear_flattens_leading_axes) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  auto x = joule_test::random_tensor(rng, shape{2, 3, 10});
  auto w = joule_test::random_tensor(rng, shape{7, 10});
  auto bias = joule_test::random_tensor(rng, shape{7});
  tensor<float> y(shape{2, 3, 7});
  joule::ops::linear(ctx, x.cview(), w.cview(), bias.cview(), y.view(), activation::gelu_erf);
  const auto ref = joule_ref::gemm(6, 7, 10, x.data(), w.data(), true, 1.f, bias.data(), nullptr, activation::gelu_erf);
  std::vector<double> bound(ref.value.size());
  for (std::size_t i = 0; i < bound.size(); ++i)
    bound[i] = 1.2 * gamma(13) * ref.magnitude[i] + 8 * kUnitRoundoff * (std::abs(ref.value[i]) + ref.magnitude[i]);
  joule_test::expect_within(y.span(), ref.value, bound, "linear");
}

TYPED_TEST(gemm_conformance, bad_input_is_a_clear_error) {
  joule::context<TypeParam> ctx(1);
  tensor<float> a(shape{4, 3}), b(shape{5, 6}), c(shape{4, 6}), b_ok(shape{3, 6});
  expect_error([&] { joule::ops::gemm(ctx, a.cview(), b.cview(), c.view()); }, "inner dimensions 3 and 5 differ");
  tensor<float> c_bad(shape{4, 5});
  expect_error([&] { joule::ops::gemm(ctx, a.cview(), b_ok.cview(), c_bad.view()); }, "C must have shape [4, 6]");
  tensor<float> bias_bad(shape{5});
  expect_error([&] { joule::ops::gemm(ctx, a.cview(), b_ok.cview(), c.view(), {.bias = bias_bad.cview()}); },
               "bias must have shape [6]");
  tensor<float> residual_bad(shape{6, 4});
  expect_error([&] { joule::ops::gemm(ctx, a.cview(), b_ok.cview(), c.view(), {.residual = residual_bad.cview()}); },
               "residual must have shape [4, 6]");
  tensor<float> rank3(shape{1, 4, 3});
  expect_error([&] { joule::ops::gemm(ctx, rank3.cview(), b_ok.cview(), c.view()); }, "A must have rank 2");
  expect_error(
      [&] {
        joule::ops::gemm(ctx, joule::tensor_view<const float>(nullptr, shape{4, 3}), b_ok.cview(), c.view());
      },
      "null data pointer");
  std::vector<char> raw(64 * sizeof(float));
  const auto* misaligned = reinterpret_cast<const float*>(raw.data() + 1);
  expect_error(
      [&] {
        joule::ops::gemm(ctx, joule::tensor_view<const float>(misaligned, shape{4, 3}), b_ok.cview(), c.view());
      },
      "not aligned");
  tensor<float> square(shape{4, 4});
  expect_error([&] { joule::ops::gemm(ctx, square.cview(), square.cview(), square.view()); }, "C overlaps A");
  // B packed in panels (rank 3): only for a policy whose GEMM reads them, and only in their shape.
  constexpr std::int64_t width = joule::ops::gemm_b_panel_width<TypeParam>;
  if constexpr (width == 0) {
    tensor<float> panels(shape{1, 3, 16});
    expect_error([&] { joule::ops::gemm(ctx, a.cview(), panels.cview(), c.view()); }, "reads B only as [k, n]");
  } else {
    const tensor<float> panels = joule::ops::pack_gemm_b<TypeParam>(b_ok.cview());
    EXPECT_EQ(panels.shape(), (shape{1, 3, width}));
    tensor<float> too_deep(shape{1, 4, width}), too_narrow(shape{1, 3, width / 2});
    expect_error([&] { joule::ops::gemm(ctx, a.cview(), too_deep.cview(), c.view()); },
                 "must be [1, 3, " + std::to_string(width) + "], got [1, 4, " + std::to_string(width) + "]");
    expect_error([&] { joule::ops::gemm(ctx, a.cview(), too_narrow.cview(), c.view()); }, "must be [1, 3, ");
    tensor<float> c_wide(shape{4, width + 1});  // needs two panels
    expect_error([&] { joule::ops::gemm(ctx, a.cview(), panels.cview(), c_wide.view()); }, "must be [2, 3, ");
    expect_error([&] { joule::ops::gemm(ctx, a.cview(), panels.cview(), c.view(), {.trans_b = true}); },
                 "trans_b does not apply");
  }
  tensor<float> w(shape{7, 9}), x(shape{2, 10}), y(shape{2, 7});
  expect_error([&] { joule::ops::linear(ctx, x.cview(), w.cview(), {}, y.view()); }, "weight must be [out, 10]");
  tensor<float> w_ok(shape{7, 10}), y_bad(shape{3, 7});
  expect_error([&] { joule::ops::linear(ctx, x.cview(), w_ok.cview(), {}, y_bad.view()); }, "leading axes");
}

}  // namespace
