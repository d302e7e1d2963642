// Conformance of the cuda policy's kernels against the double-precision references in
// tests/reference, with the error bounds of the CPU conformance tests (tests/ops/test_*.cpp, where
// each bound is stated and justified), TF32 off: exact float32 is the default. Shapes: random ones,
// degenerate ones, and the reference models' real layers. Every test that needs a device skips
// with cuda::unavailable_reason() when there is none; the error-translation tests run everywhere.
//
// Also tested: a failed CUDA, cuBLAS or cuDNN status becomes a joule::error naming the call and the
// code; a context cannot be made without a device; after one warm-up run, a sequence of kernels
// (cuBLAS, cuDNN, own kernels) captures into a CUDA graph with no allocation and no new plan, and
// the graph's results are correct; making a plan while capturing is a clear error.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include <joule/ops/activation.hpp>
#include <joule/ops/add.hpp>
#include <joule/ops/attention.hpp>
#include <joule/ops/batch_norm.hpp>
#include <joule/ops/batched_matmul.hpp>
#include <joule/ops/conv2d.hpp>
#include <joule/ops/embedding.hpp>
#include <joule/ops/gemm.hpp>
#include <joule/ops/layer_norm.hpp>
#include <joule/ops/pool2d.hpp>
#include <joule/ops/softmax.hpp>
#include <joule/policy/cuda/check.hpp>

#include "../common/testing.hpp"
#include "../reference/activation.hpp"
#include "../reference/attention.hpp"
#include "../reference/batch_norm.hpp"
#include "../reference/batched_matmul.hpp"
#include "../reference/conv2d.hpp"
#include "../reference/gemm.hpp"
#include "../reference/layer_norm.hpp"
#include "../reference/pool2d.hpp"
#include "../reference/softmax.hpp"
#include "../ops/attention_cases.hpp"
#include "../ops/conv2d_cases.hpp"
#include "../ops/gemm_cases.hpp"
#include "../ops/pool2d_cases.hpp"
#include "device_buffer.hpp"

namespace {

using joule::activation;
using joule::cuda;
using joule::shape;
using joule::tensor;
using joule_test::device_buffer;
using joule_test::expect_error;
using joule_test::gamma;
using joule_test::kActivations;
using joule_test::kUnitRoundoff;
using joule_test::upload;
using cuda_context = joule::context<cuda>;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

#define SKIP_WITHOUT_DEVICE() JOULE_SKIP_IF_UNAVAILABLE(joule::cuda)

// ---- error translation: no device needed -------------------------------------------------------

cudaError_t pretend_cuda_malloc(void**, std::size_t) { return cudaErrorMemoryAllocation; }
cublasStatus_t pretend_cublas_sgemm(int) { return CUBLAS_STATUS_INVALID_VALUE; }
cudnnStatus_t pretend_cudnn_convolution_forward(int, int) { return CUDNN_STATUS_BAD_PARAM; }

TEST(cuda_errors, a_failed_runtime_call_names_the_call_the_code_and_the_context) {
  expect_error([] { JOULE_CUDA_CHECK(pretend_cuda_malloc(nullptr, 64), "workspace of ", 64, " bytes"); },
               "pretend_cuda_malloc failed: cudaErrorMemoryAllocation");
  expect_error([] { JOULE_CUDA_CHECK(pretend_cuda_malloc(nullptr, 64), "workspace of ", 64, " bytes"); },
               "(workspace of 64 bytes)");
  EXPECT_NO_THROW(JOULE_CUDA_CHECK(cudaSuccess));
}

TEST(cuda_errors, a_failed_cublas_call_names_the_call_and_the_status) {
  expect_error([] { JOULE_CUBLAS_CHECK(pretend_cublas_sgemm(3), "gemm m=", 1, " n=", 2); },
               "pretend_cublas_sgemm failed: CUBLAS_STATUS_INVALID_VALUE");
  expect_error([] { JOULE_CUBLAS_CHECK(pretend_cublas_sgemm(3), "gemm m=", 1, " n=", 2); }, "(gemm m=1 n=2)");
  EXPECT_NO_THROW(JOULE_CUBLAS_CHECK(CUBLAS_STATUS_SUCCESS));
}

TEST(cuda_errors, a_failed_cudnn_call_names_the_call_and_the_status) {
  expect_error([] { JOULE_CUDNN_CHECK(pretend_cudnn_convolution_forward(1, 3), "conv2d n=1 c=3"); },
               "pretend_cudnn_convolution_forward failed: CUDNN_STATUS_BAD_PARAM (conv2d n=1 c=3)");
  EXPECT_NO_THROW(JOULE_CUDNN_CHECK(CUDNN_STATUS_SUCCESS));
}

TEST(cuda_errors, the_call_name_is_the_function_not_its_arguments) {
  EXPECT_EQ(joule::detail::cuda_call_name("cudaMalloc(&p, bytes)"), "cudaMalloc");
  EXPECT_EQ(joule::detail::cuda_call_name(" ::cudaFree(p)"), "cudaFree");
  EXPECT_EQ(joule::detail::cuda_call_name("launch of softmax_kernel"), "launch of softmax_kernel");
}

TEST(cuda_errors, no_context_without_a_device) {
  if (cuda::available()) GTEST_SKIP() << "a CUDA device is present; this test checks the error without one";
  expect_error([] { cuda_context ctx; }, "the cuda policy cannot run here");
  expect_error([] { cuda_context ctx; }, cuda::unavailable_reason());
}

// ---- gemm ----------------------------------------------------------------------------------------

using joule_test::gemm_problem;

void check_gemm(cuda_context& ctx, const gemm_problem& pr, std::mt19937_64& rng, float nan_in_a = 0.f,
                float inf_in_b = 0.f) {
  const auto [a, b, bias, residual] = joule_test::random_gemm_inputs(pr, rng, nan_in_a, inf_in_b);
  auto da = upload(a), db = upload(b), dbias = upload(bias), dresidual = upload(residual);
  device_buffer<float> dc(pr.m * pr.n);
  dc.fill(kNaN);  // kernels must not read C
  joule::ops::gemm_options options{.trans_b = pr.trans_b, .alpha = pr.alpha, .act = pr.act};
  if (pr.with_bias) options.bias = dbias.cview(bias.shape());
  if (pr.with_residual) options.residual = dresidual.cview(residual.shape());
  joule::ops::gemm(ctx, da.cview(a.shape()), db.cview(b.shape()), dc.view(shape{pr.m, pr.n}), options);
  const auto c = dc.download();

  const auto ref =
      joule_ref::gemm(pr.m, pr.n, pr.k, a.data(), b.data(), pr.trans_b, pr.alpha, pr.with_bias ? bias.data() : nullptr,
                      pr.with_residual ? residual.data() : nullptr, pr.act);
  const auto bound = joule_test::gemm_bound(pr.k, ref);
  std::ostringstream what;
  what << "cuda gemm m=" << pr.m << " n=" << pr.n << " k=" << pr.k << " trans_b=" << pr.trans_b
       << " bias=" << pr.with_bias << " residual=" << pr.with_residual << " alpha=" << pr.alpha
       << " act=" << joule::activation_name(pr.act);
  joule_test::expect_within(c, ref.value, bound, what.str());
}

TEST(cuda_gemm, random_shapes_and_epilogues) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  for (int draw = 0; draw < 24; ++draw) check_gemm(ctx, joule_test::random_gemm_problem(rng), rng);
}

TEST(cuda_gemm, model_shapes) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  check_gemm(ctx, {131, 1100, 700, false, true, true, 1.f, activation::relu}, rng);
  check_gemm(ctx, {1, 3072, 768, true, true, false, 1.f, activation::gelu_erf}, rng);  // BERT FFN up, batch 1
  check_gemm(ctx, {128, 768, 3072, true, true, true, 1.f, activation::none}, rng);     // BERT FFN down + residual
  check_gemm(ctx, {128, 2304, 768, true, true, false, 1.f, activation::none}, rng);    // BERT fused QKV
  check_gemm(ctx, {1, 1000, 2048, true, true, false, 1.f, activation::none}, rng);     // ResNet-50 classifier
  check_gemm(ctx, {64, 1000, 1280, true, true, false, 1.f, activation::none}, rng);    // MobileNetV2, batch 64
}

TEST(cuda_gemm, degenerate_sizes) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  check_gemm(ctx, {1, 1, 1, false, true, true, 1.f, activation::none}, rng);
  check_gemm(ctx, {3, 5, 0, false, true, true, 1.f, activation::relu6}, rng);  // k = 0: act(bias + residual)
  check_gemm(ctx, {3, 5, 0, true, false, false, 1.f, activation::none}, rng);  // k = 0, no epilogue: zeros
  check_gemm(ctx, {0, 7, 4, true, true, false, 1.f, activation::none}, rng);   // empty batch
  check_gemm(ctx, {17, 1, 33, true, false, false, 1.f, activation::tanh}, rng);
}

TEST(cuda_gemm, nan_and_inf_stay_where_they_belong) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  for (activation act : {activation::none, activation::relu}) {
    check_gemm(ctx, {40, 50, 60, false, true, false, 1.f, act}, rng, kNaN);
    check_gemm(ctx, {40, 50, 60, true, false, false, 1.f, act}, rng, 0.f, kInf);
  }
}

TEST(cuda_gemm, front_end_errors_are_the_same_on_the_device) {
  SKIP_WITHOUT_DEVICE();
  cuda_context ctx;
  device_buffer<float> a(12), b(30), c(24);
  expect_error(
      [&] {
        joule::ops::gemm(ctx, a.cview(shape{4, 3}), b.cview(shape{5, 6}), c.view(shape{4, 6}));
      },
      "inner dimensions 3 and 5 differ");
  expect_error(
      [&] {
        joule::ops::gemm(ctx, a.cview(shape{4, 3}), b.cview(shape{3, 6}), c.view(shape{4, 5}));
      },
      "C must have shape [4, 6]");
}

// ---- batched_matmul ------------------------------------------------------------------------------

TEST(cuda_batched_matmul, dense_and_strided_items) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  struct problem {
    std::int64_t batch, m, n, k;
    bool trans_b;
    float alpha;
  };
  const problem problems[] = {{3, 17, 9, 33, false, 1.f},       {5, 8, 31, 12, true, 0.125f},
                              {12, 128, 128, 64, true, 0.125f}, {12, 128, 64, 128, false, 1.f},
                              {2, 4, 5, 0, false, 1.f},         {1, 1, 1, 1, true, 1.f}};
  for (const auto& pr : problems) {
    auto a = joule_test::random_tensor(rng, shape{pr.batch, pr.m, pr.k});
    auto b = joule_test::random_tensor(rng, pr.trans_b ? shape{pr.batch, pr.n, pr.k} : shape{pr.batch, pr.k, pr.n});
    auto da = upload(a), db = upload(b);
    device_buffer<float> dc(pr.batch * pr.m * pr.n);
    dc.fill(kNaN);
    const joule::batched_matmul_op op{.batch = pr.batch,
                                      .m = pr.m,
                                      .n = pr.n,
                                      .k = pr.k,
                                      .a = da.data(),
                                      .lda = pr.k,
                                      .stride_a = pr.m * pr.k,
                                      .b = db.data(),
                                      .ldb = pr.trans_b ? pr.k : pr.n,
                                      .stride_b = pr.n * pr.k,
                                      .trans_b = pr.trans_b,
                                      .c = dc.data(),
                                      .ldc = pr.n,
                                      .stride_c = pr.m * pr.n,
                                      .alpha = pr.alpha};
    joule::kernel<joule::batched_matmul_op, cuda>::run(ctx, op);
    const auto c = dc.download();
    const auto ref = joule_ref::batched_matmul(pr.batch, pr.m, pr.n, pr.k, a.data(), b.data(), pr.trans_b, pr.alpha);
    std::vector<double> bound(ref.value.size());
    for (std::size_t i = 0; i < bound.size(); ++i) bound[i] = gamma(pr.k + 2) * ref.magnitude[i] + 1e-37;
    std::ostringstream what;
    what << "cuda batched_matmul batch=" << pr.batch << " m=" << pr.m << " n=" << pr.n << " k=" << pr.k
         << " trans_b=" << pr.trans_b;
    joule_test::expect_within(c, ref.value, bound, what.str());
  }
}

// ---- elementwise: activation, add, batch_norm, embedding -----------------------------------------

std::vector<double> activation_bound(activation act, const joule_ref::elementwise_result& ref) {
  std::vector<double> bound(ref.value.size(), 0.0);
  if (act == activation::gelu_erf || act == activation::gelu_tanh || act == activation::tanh)
    for (std::size_t i = 0; i < bound.size(); ++i)
      bound[i] = 8 * kUnitRoundoff * (std::abs(ref.value[i]) + ref.magnitude[i]);
  return bound;
}

TEST(cuda_activation, every_activation_with_nan_and_inf) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  for (activation act : kActivations) {
    for (std::int64_t count : {std::int64_t{1}, std::int64_t{1000}, std::int64_t{802816}}) {  // 802816: 64·112·112
      auto x = joule_test::random_tensor(rng, shape{count}, -8.f, 8.f);
      x[0] = count > 2 ? kNaN : x[0];
      if (count > 2) x[1] = kInf, x[2] = -kInf;
      auto dx = upload(x);
      device_buffer<float> dy(count);
      dy.fill(kNaN);
      joule::ops::activate(ctx, dx.cview(x.shape()), dy.view(x.shape()), act);
      const auto ref = joule_ref::activate(act, x.data(), count);
      joule_test::expect_within(
          dy.download(), ref.value, activation_bound(act, ref),
          std::string("cuda activation ") + joule::activation_name(act) + " count=" + std::to_string(count));
      joule::ops::activate(ctx, dx.cview(x.shape()), dx.view(x.shape()), act);  // in place
      joule_test::expect_within(dx.download(), ref.value, activation_bound(act, ref),
                                std::string("cuda activation in place ") + joule::activation_name(act));
    }
  }
}

TEST(cuda_add, repeated_and_full_b_with_every_activation) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  for (activation act : kActivations) {
    for (const auto& [a_shape, b_shape] :
         {std::pair{shape{2, 128, 768}, shape{128, 768}}, std::pair{shape{1, 256, 56, 56}, shape{1, 256, 56, 56}},
          std::pair{shape{3, 7}, shape{7}}}) {
      auto a = joule_test::random_tensor(rng, a_shape);
      auto b = joule_test::random_tensor(rng, b_shape);
      auto da = upload(a), db = upload(b);
      device_buffer<float> dy(a.numel());
      dy.fill(kNaN);
      joule::ops::add(ctx, da.cview(a_shape), db.cview(b_shape), dy.view(a_shape), act);
      const auto ref = joule_ref::add(act, a.data(), a.numel(), b.data(), b.numel());
      std::vector<double> bound(ref.value.size());
      const bool exact = act == activation::none || act == activation::relu || act == activation::relu6;
      for (std::size_t i = 0; i < bound.size(); ++i)
        bound[i] =
            exact ? gamma(1) * ref.magnitude[i]
                  : 1.2 * gamma(1) * ref.magnitude[i] + 8 * kUnitRoundoff * (std::abs(ref.value[i]) + ref.magnitude[i]);
      std::ostringstream what;
      what << "cuda add a " << a_shape << " b " << b_shape << " act=" << joule::activation_name(act);
      joule_test::expect_within(dy.download(), ref.value, bound, what.str());
    }
  }
}

TEST(cuda_batch_norm, model_shapes_in_place_and_activations) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  for (const shape s : {shape{1, 64, 112, 112}, shape{2, 3, 5, 7}, shape{4, 10}, shape{1, 960, 7, 7}}) {
    for (activation act : {activation::none, activation::relu, activation::relu6}) {
      const std::int64_t c = s[1];
      auto x = joule_test::random_tensor(rng, s, -3.f, 3.f);
      auto mean = joule_test::random_tensor(rng, shape{c});
      auto var = joule_test::random_tensor(rng, shape{c}, 0.1f, 2.f);
      auto g = joule_test::random_tensor(rng, shape{c});
      auto beta = joule_test::random_tensor(rng, shape{c});
      auto dx = upload(x), dmean = upload(mean), dvar = upload(var), dg = upload(g), dbeta = upload(beta);
      joule::ops::batch_norm(ctx, dx.cview(s), dx.view(s), dmean.cview(mean.shape()), dvar.cview(var.shape()),
                             dg.cview(g.shape()), dbeta.cview(beta.shape()), 1e-5f, act);  // in place
      const auto y = dx.download();
      const std::int64_t inner = s.numel() / (s[0] * c);
      std::vector<double> want(s.numel()), bound(want.size());
      for (std::int64_t i = 0; i < s.numel(); ++i) {
        const auto e =
            joule_ref::batch_norm_at(c, inner, x.data(), mean.data(), var.data(), g.data(), beta.data(), 1e-5f, act, i);
        want[i] = e.value;
        bound[i] =
            1.2 * 8 * kUnitRoundoff * e.magnitude + 8 * kUnitRoundoff * (std::abs(e.value) + e.magnitude) + 1e-37;
      }
      std::ostringstream what;
      what << "cuda batch_norm " << s << " act=" << joule::activation_name(act);
      joule_test::expect_within(y, want, bound, what.str());
    }
  }
}

TEST(cuda_embedding, gathers_rows_exactly) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  for (const auto& [count, vocab, dim] : {std::tuple{std::int64_t{128}, std::int64_t{30522}, std::int64_t{768}},
                                          std::tuple{std::int64_t{7}, std::int64_t{2}, std::int64_t{768}},
                                          std::tuple{std::int64_t{1}, std::int64_t{512}, std::int64_t{5}}}) {
    auto table = joule_test::random_tensor(rng, shape{vocab, dim});
    std::vector<std::int64_t> ids(static_cast<std::size_t>(count));
    for (auto& id : ids) id = joule_test::uniform_int(rng, 0, vocab - 1);
    ids.front() = 0, ids.back() = vocab - 1;
    auto dtable = upload(table);
    device_buffer<std::int64_t> dids{std::span<const std::int64_t>(ids)};
    device_buffer<float> dout(count * dim);
    dout.fill(kNaN);
    // The kernel directly: the ids are device memory, which a front end cannot range-check.
    joule::kernel<joule::embedding_op, cuda>::run(
        ctx,
        {.count = count, .vocab = vocab, .dim = dim, .ids = dids.data(), .table = dtable.data(), .out = dout.data()});
    const auto out = dout.download();
    std::int64_t wrong = 0;
    for (std::int64_t i = 0; i < count; ++i)
      for (std::int64_t d = 0; d < dim; ++d) wrong += out[i * dim + d] == table[ids[i] * dim + d] ? 0 : 1;
    EXPECT_EQ(wrong, 0) << "cuda embedding count=" << count << " vocab=" << vocab << " dim=" << dim;
  }
}

// ---- softmax, layer_norm -------------------------------------------------------------------------

TEST(cuda_softmax, rows_of_every_width_with_nan_and_large_values) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  for (const auto& [rows, cols] : {std::pair<std::int64_t, std::int64_t>{1, 1},
                                   {3, 31},
                                   {17, 33},
                                   {1536, 128},
                                   {2, 1000},
                                   {4, 5000},
                                   {70000, 3}}) {
    auto x = joule_test::random_tensor(rng, shape{rows, cols}, -20.f, 20.f);
    if (rows > 2) {
      x[cols] = kNaN;      // row 1 only becomes NaN
      x[2 * cols] = 80.f;  // large but finite: must not overflow
    }
    auto dx = upload(x);
    device_buffer<float> dy(rows * cols);
    dy.fill(kNaN);
    joule::ops::softmax(ctx, dx.cview(x.shape()), dy.view(x.shape()));
    const auto ref = joule_ref::softmax(x.data(), rows, cols);
    std::ostringstream what;
    what << "cuda softmax rows=" << rows << " cols=" << cols;
    joule_test::expect_within(dy.download(), ref.value, ref.bound, what.str());
    joule::ops::softmax(ctx, dx.cview(x.shape()), dx.view(x.shape()));  // in place
    joule_test::expect_within(dx.download(), ref.value, ref.bound, what.str() + " in place");
  }
}

TEST(cuda_layer_norm, rows_with_and_without_residual_in_place) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  for (const auto& [rows, cols] :
       {std::pair<std::int64_t, std::int64_t>{1, 1}, {3, 41}, {128, 768}, {2, 5000}, {70000, 4}}) {
    for (bool with_residual : {false, true}) {
      auto x = joule_test::random_tensor(rng, shape{rows, cols}, -2.f, 4.f);  // a mean away from 0
      auto r = joule_test::random_tensor(rng, shape{rows, cols});
      auto g = joule_test::random_tensor(rng, shape{cols});
      auto beta = joule_test::random_tensor(rng, shape{cols});
      auto dx = upload(x), dr = upload(r), dg = upload(g), dbeta = upload(beta);
      const shape s{rows, cols};
      // y = x: in place, the BERT layer's residual + norm.
      joule::ops::layer_norm(ctx, dx.cview(s), dg.cview(g.shape()), dbeta.cview(beta.shape()), dx.view(s), 1e-12f,
                             with_residual ? dr.cview(s) : joule::tensor_view<const float>{});
      const auto ref = joule_ref::layer_norm(x.data(), with_residual ? r.data() : nullptr, g.data(), beta.data(), rows,
                                             cols, 1e-12f);
      std::ostringstream what;
      what << "cuda layer_norm rows=" << rows << " cols=" << cols << " residual=" << with_residual;
      joule_test::expect_within(dx.download(), ref.value, ref.bound, what.str());
    }
  }
}

// ---- pooling -------------------------------------------------------------------------------------

TEST(cuda_pool2d, max_and_average_on_model_and_edge_shapes) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  struct pool_case {
    joule::pool_kind kind;
    shape input;
    joule::ops::pool2d_params params;
  };
  const pool_case cases[] = {
      {joule::pool_kind::max,
       shape{1, 64, 112, 112},
       {.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}},
      {joule::pool_kind::max, shape{2, 3, 9, 10}, {.kh = 2, .kw = 3, .stride_h = 1, .stride_w = 2}},
      {joule::pool_kind::average,
       shape{2, 5, 11, 13},
       {.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}},
      {joule::pool_kind::average,
       shape{2, 5, 11, 13},
       {.kh = 3, .kw = 2, .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1, .count_include_pad = false}},
      {joule::pool_kind::average, shape{1, 2048, 7, 7}, {.kh = 7, .kw = 7}},
  };
  for (const auto& c : cases) {
    auto x = joule_test::random_tensor(rng, c.input);
    x[5] = kNaN;
    const shape out_shape = joule::ops::pool2d_output_shape(c.input, c.params);
    auto dx = upload(x);
    device_buffer<float> dy(out_shape.numel());
    dy.fill(kNaN);
    auto p = c.params;
    p.kind = c.kind;
    joule::ops::pool2d(ctx, dx.cview(c.input), dy.view(out_shape), p);
    const auto expected = joule_test::pool2d_expected(c.input, p, x.data());
    std::ostringstream what;
    what << "cuda pool2d " << (c.kind == joule::pool_kind::max ? "max" : "average") << " input " << c.input;
    joule_test::expect_within(dy.download(), expected.want, expected.bound, what.str());
  }
}

TEST(cuda_global_avg_pool, model_shapes) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  for (const shape s : {shape{1, 2048, 7, 7}, shape{64, 1280, 7, 7}, shape{2, 3, 1, 1}, shape{1, 5, 40, 40}}) {
    auto x = joule_test::random_tensor(rng, s);
    auto dx = upload(x);
    device_buffer<float> dy(s[0] * s[1]);
    dy.fill(kNaN);
    joule::ops::global_avg_pool(ctx, dx.cview(s), dy.view(shape{s[0], s[1]}));
    const auto expected = joule_test::global_avg_pool_expected(s, x.data());
    std::ostringstream what;
    what << "cuda global_avg_pool " << s;
    joule_test::expect_within(dy.download(), expected.want, expected.bound, what.str());
  }
}

// ---- attention -----------------------------------------------------------------------------------

using joule_test::attention_problem;
using joule_test::random_mask;

void check_attention(cuda_context& ctx, const attention_problem& pr, std::mt19937_64& rng) {
  const std::int64_t hidden = pr.heads * pr.head_dim;
  tensor<float> q, k, v, qkv;
  std::int64_t ld = hidden;
  const float *q_data, *k_data, *v_data;
  if (pr.fused) {
    qkv = joule_test::random_tensor(rng, shape{pr.batch, pr.seq_q, 3 * hidden});
    ld = 3 * hidden;
    q_data = qkv.data(), k_data = qkv.data() + hidden, v_data = qkv.data() + 2 * hidden;
  } else {
    q = joule_test::random_tensor(rng, shape{pr.batch, pr.seq_q, hidden});
    k = joule_test::random_tensor(rng, shape{pr.batch, pr.seq_k, hidden});
    v = joule_test::random_tensor(rng, shape{pr.batch, pr.seq_k, hidden});
    q_data = q.data(), k_data = k.data(), v_data = v.data();
  }
  const auto mask = random_mask(rng, pr.batch, pr.seq_k);
  auto dmask = upload(mask);
  const joule::tensor_view<const float> mask_view =
      pr.with_mask ? dmask.cview(mask.shape()) : joule::tensor_view<const float>{};
  const shape out_shape{pr.batch, pr.seq_q, hidden};
  device_buffer<float> dout(out_shape.numel());
  dout.fill(kNaN);
  if (pr.fused) {
    auto dqkv = upload(qkv);
    joule::ops::attention_fused_qkv(ctx, dqkv.cview(qkv.shape()), mask_view, dout.view(out_shape), pr.heads);
    ctx.synchronize();
  } else {
    auto dq = upload(q), dk = upload(k), dv = upload(v);
    joule::ops::attention(ctx, dq.cview(q.shape()), dk.cview(k.shape()), dv.cview(v.shape()), mask_view,
                          dout.view(out_shape), pr.heads);
    ctx.synchronize();
  }
  const auto ref = joule_ref::attention(pr.batch, pr.seq_q, pr.seq_k, pr.heads, pr.head_dim, q_data, ld, k_data, ld,
                                        v_data, ld, pr.with_mask ? mask.data() : nullptr);
  std::ostringstream what;
  what << "cuda " << (pr.fused ? "attention_fused_qkv" : "attention") << " batch=" << pr.batch << " seq_q=" << pr.seq_q
       << " seq_k=" << pr.seq_k << " heads=" << pr.heads << " head_dim=" << pr.head_dim << " mask=" << pr.with_mask;
  joule_test::expect_within(dout.download(), ref.value, ref.bound, what.str());
}

TEST(cuda_attention, random_and_model_shapes) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  check_attention(ctx, {1, 1, 1, 1, 1, false, false}, rng);
  check_attention(ctx, {2, 5, 9, 3, 7, true, false}, rng);   // head_dim < warp, seq_q != seq_k
  check_attention(ctx, {1, 3, 3, 1, 200, true, true}, rng);  // head_dim > the block's threads
  check_attention(ctx, {3, 17, 17, 4, 16, true, true}, rng);
  check_attention(ctx, {1, 128, 128, 12, 64, true, true}, rng);  // BERT-base, batch 1, fused projection
  check_attention(ctx, {2, 4, 20000, 2, 8, false, false}, rng);  // scores beyond 48 KiB of shared memory
}

// ---- conv2d --------------------------------------------------------------------------------------

using joule_test::conv_case;
using joule_test::stride_pad;

void check_conv(cuda_context& ctx, const conv_case& c, std::mt19937_64& rng, std::int64_t nan_index = -1) {
  const shape out_shape = joule::ops::conv2d_output_shape(c.input, c.weight, c.params);
  auto input = joule_test::random_tensor(rng, c.input);
  auto weight = joule_test::random_tensor(rng, c.weight);
  auto bias = joule_test::random_tensor(rng, shape{c.weight[0]});
  auto residual = joule_test::random_tensor(rng, out_shape);
  if (nan_index >= 0) input[nan_index] = kNaN;
  auto dinput = upload(input), dweight = upload(weight), dbias = upload(bias), dresidual = upload(residual);
  device_buffer<float> doutput(out_shape.numel());
  doutput.fill(kNaN);
  joule::ops::conv2d_epilogue ep{.act = c.act};
  if (c.bias) ep.bias = dbias.cview(bias.shape());
  if (c.residual) ep.residual = dresidual.cview(out_shape);
  joule::ops::conv2d(ctx, dinput.cview(c.input), dweight.cview(c.weight), doutput.view(out_shape), c.params, ep);
  const auto output = doutput.download();

  const auto& p = c.params;
  const std::int64_t depth = c.weight[1] * c.weight[2] * c.weight[3];
  const auto indices = joule_test::indices_to_check(rng, out_shape.numel(), depth);
  if (!joule_test::checks_every_output(out_shape.numel(), depth) && nan_index < 0) {
    std::int64_t unwritten = 0;
    for (const float v : output) unwritten += std::isnan(v) ? 1 : 0;
    EXPECT_EQ(unwritten, 0) << c.label << ": outputs left unwritten or NaN";
  }
  const auto r =
      joule_test::conv2d_check_at(c, input.data(), weight.data(), bias.data(), residual.data(), output, indices);
  std::ostringstream what;
  what << "cuda conv2d " << c.label << " input " << c.input << " weight " << c.weight << " stride " << p.stride_h << "x"
       << p.stride_w << " pad " << p.pad_h << "x" << p.pad_w << " dil " << p.dil_h << "x" << p.dil_w << " groups "
       << p.groups << " bias=" << c.bias << " residual=" << c.residual << " act=" << joule::activation_name(c.act);
  joule_test::expect_within(r.got, r.want, r.bound, what.str());
}

TEST(cuda_conv2d, random_shapes_and_epilogues) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  for (int draw = 0; draw < 30; ++draw) check_conv(ctx, joule_test::random_conv_case(rng), rng);
}

TEST(cuda_conv2d, resnet50_layers_batch_1_and_64) {
  auto rng = joule_test::rng_for_test();
  SKIP_WITHOUT_DEVICE();
  cuda_context ctx;
  for (std::int64_t n : {std::int64_t{1}, std::int64_t{64}}) {
    for (const auto& c : joule_test::resnet50_conv_cases(n)) check_conv(ctx, c, rng);
  }
}

TEST(cuda_conv2d, mobilenet_v2_layers) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  for (const auto& c : joule_test::mobilenet_v2_conv_cases()) check_conv(ctx, c, rng);
}

TEST(cuda_conv2d, degenerate_and_edge_shapes) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  check_conv(ctx, {"size 1", shape{1, 1, 1, 1}, shape{1, 1, 1, 1}, {}, true, true, activation::relu}, rng);
  check_conv(
      ctx,
      {"kernel = padded input", shape{2, 3, 3, 3}, shape{5, 3, 7, 7}, stride_pad(1, 2), true, false, activation::none},
      rng);
  check_conv(ctx,
             {"depthwise multiplier", shape{2, 4, 9, 10}, shape{8, 1, 3, 3}, stride_pad(1, 1, 4), true, true,
              activation::relu6},
             rng);
  check_conv(ctx,
             {"depthwise 5x5 dilated",
              shape{2, 6, 17, 19},
              shape{6, 1, 5, 5},
              {.stride_h = 2, .pad_h = 2, .pad_w = 1, .dil_h = 2, .dil_w = 2, .groups = 6},
              false,
              true,
              activation::gelu_erf},
             rng);
  check_conv(ctx,
             {"1x1 grouped", shape{2, 6, 5, 7}, shape{9, 2, 1, 1}, stride_pad(1, 0, 3), true, false, activation::tanh},
             rng);
  // A NaN input reaches exactly the outputs whose window holds it, on cuDNN's path and the own kernel's.
  check_conv(ctx,
             {"dense with NaN", shape{1, 3, 8, 8}, shape{4, 3, 3, 3}, stride_pad(1, 1), true, false, activation::relu},
             rng, 27);
  check_conv(
      ctx,
      {"depthwise with NaN", shape{1, 3, 8, 8}, shape{3, 1, 3, 3}, stride_pad(1, 1, 3), true, false, activation::relu},
      rng, 27);
}

TEST(cuda_conv2d, plans_are_made_once_per_geometry) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  const conv_case c{"3x3", shape{2, 16, 20, 20}, shape{32, 16, 3, 3}, stride_pad(1, 1), true, true, activation::relu};
  check_conv(ctx, c, rng);
  const std::size_t plans = ctx.plans_made(), growths = ctx.workspace_growths();
  EXPECT_EQ(plans, 1u);
  check_conv(ctx, c, rng);
  EXPECT_EQ(ctx.plans_made(), plans) << "the second run of one geometry must reuse its plan";
  EXPECT_EQ(ctx.workspace_growths(), growths) << "the second run of one geometry must not allocate";
  check_conv(ctx,
             {"depthwise", shape{1, 8, 9, 9}, shape{8, 1, 3, 3}, stride_pad(1, 1, 8), true, false, activation::relu6},
             rng);
  EXPECT_EQ(ctx.plans_made(), plans) << "depthwise convolutions need no cuDNN plan";
}

// ---- capture into a CUDA graph after a warm-up run ----------------------------------------------

TEST(cuda_graph, a_warmed_up_sequence_captures_and_replays_correctly) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  // A conv (cuDNN) + bias + residual + relu, a GEMM (cuBLAS) + GELU, softmax and layer_norm.
  const shape in_shape{1, 16, 14, 14}, w_shape{32, 16, 3, 3}, out_shape{1, 32, 14, 14};
  auto input = joule_test::random_tensor(rng, in_shape), weight = joule_test::random_tensor(rng, w_shape);
  auto bias = joule_test::random_tensor(rng, shape{32}), residual = joule_test::random_tensor(rng, out_shape);
  auto a = joule_test::random_tensor(rng, shape{32, 196}), b = joule_test::random_tensor(rng, shape{64, 196});
  auto g = joule_test::random_tensor(rng, shape{64}), beta = joule_test::random_tensor(rng, shape{64});
  auto dinput = upload(input), dweight = upload(weight), dbias = upload(bias), dresidual = upload(residual);
  auto da = upload(a), db = upload(b), dg = upload(g), dbeta = upload(beta);
  device_buffer<float> dconv(out_shape.numel()), dgemm(32 * 64), dsoft(32 * 64), dnorm(32 * 64);
  const auto forward = [&] {
    joule::ops::conv2d(
        ctx, dinput.cview(in_shape), dweight.cview(w_shape), dconv.view(out_shape), stride_pad(1, 1),
        {.bias = dbias.cview(shape{32}), .residual = dresidual.cview(out_shape), .act = activation::relu});
    joule::ops::gemm(ctx, da.cview(a.shape()), db.cview(b.shape()), dgemm.view(shape{32, 64}),
                     {.trans_b = true, .act = activation::gelu_erf});
    joule::ops::softmax(ctx, dgemm.cview(shape{32, 64}), dsoft.view(shape{32, 64}));
    joule::ops::layer_norm(ctx, dgemm.cview(shape{32, 64}), dg.cview(shape{64}), dbeta.cview(shape{64}),
                           dnorm.view(shape{32, 64}), 1e-5f, dsoft.cview(shape{32, 64}));
  };
  forward();  // warm-up: plans and workspace
  ctx.synchronize();
  const auto conv_warm = dconv.download(), norm_warm = dnorm.download();
  const std::size_t plans = ctx.plans_made(), growths = ctx.workspace_growths();
  dconv.fill(kNaN);
  dnorm.fill(kNaN);

  cudaGraph_t graph = nullptr;
  JOULE_CUDA_CHECK(cudaStreamBeginCapture(ctx.stream(), cudaStreamCaptureModeThreadLocal));
  forward();
  JOULE_CUDA_CHECK(cudaStreamEndCapture(ctx.stream(), &graph));
  EXPECT_EQ(ctx.plans_made(), plans);
  EXPECT_EQ(ctx.workspace_growths(), growths);
  cudaGraphExec_t exec = nullptr;
  JOULE_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  JOULE_CUDA_CHECK(cudaGraphLaunch(exec, ctx.stream()));
  ctx.synchronize();
  // The same kernels with the same algorithms on the same data: the replay reproduces the warm-up.
  EXPECT_EQ(dconv.download(), conv_warm);
  EXPECT_EQ(dnorm.download(), norm_warm);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}

TEST(cuda_graph, a_plan_made_while_capturing_is_a_clear_error) {
  SKIP_WITHOUT_DEVICE();
  cuda_context ctx;
  device_buffer<float> input(1 * 4 * 6 * 6), weight(5 * 4 * 3 * 3), output(1 * 5 * 6 * 6);
  cudaGraph_t graph = nullptr;
  JOULE_CUDA_CHECK(cudaStreamBeginCapture(ctx.stream(), cudaStreamCaptureModeThreadLocal));
  expect_error(
      [&] {
        joule::ops::conv2d(ctx, input.cview(shape{1, 4, 6, 6}), weight.cview(shape{5, 4, 3, 3}),
                           output.view(shape{1, 5, 6, 6}), stride_pad(1, 1));
      },
      "run the model once before capturing it");
  cudaStreamEndCapture(ctx.stream(), &graph);
  if (graph) cudaGraphDestroy(graph);
  cudaGetLastError();  // the abandoned capture leaves no error behind for the next test
}

// ---- TF32, when the user opts in ------------------------------------------------------------------
//
// TF32 keeps 10 mantissa bits of each operand: rounding (or truncating) both inputs of a product
// costs a relative 2^-10 each, so a product is within 2^-9 of the float32 one. GEMM bound:
// 1.2 · (2^-9 + gamma(k + 3)) · M + 8u · (|ref| + M). cuDNN may then also pick FFT or Winograd, whose
// error is relative to the whole tile, so convolutions are held to a norm-wise bound instead:
// ||out - ref||_2 <= 2^-7 · ||M||_2 (fails for wrong results, passes any honest TF32 algorithm).

TEST(cuda_tf32, gemm_when_allowed_stays_within_the_tf32_bound) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  ctx.set_allow_tf32(true);
  for (const gemm_problem& pr : {gemm_problem{128, 768, 768, true, true, true, 1.f, activation::gelu_erf},
                                 gemm_problem{64, 1000, 2048, true, true, false, 1.f, activation::none},
                                 gemm_problem{33, 17, 5, false, false, false, 0.5f, activation::relu}}) {
    auto a = joule_test::random_tensor(rng, shape{pr.m, pr.k});
    auto b = joule_test::random_tensor(rng, pr.trans_b ? shape{pr.n, pr.k} : shape{pr.k, pr.n});
    auto bias = joule_test::random_tensor(rng, shape{pr.n});
    auto residual = joule_test::random_tensor(rng, shape{pr.m, pr.n});
    auto da = upload(a), db = upload(b), dbias = upload(bias), dresidual = upload(residual);
    device_buffer<float> dc(pr.m * pr.n);
    joule::ops::gemm_options options{.trans_b = pr.trans_b, .alpha = pr.alpha, .act = pr.act};
    if (pr.with_bias) options.bias = dbias.cview(bias.shape());
    if (pr.with_residual) options.residual = dresidual.cview(residual.shape());
    joule::ops::gemm(ctx, da.cview(a.shape()), db.cview(b.shape()), dc.view(shape{pr.m, pr.n}), options);
    const auto ref =
        joule_ref::gemm(pr.m, pr.n, pr.k, a.data(), b.data(), pr.trans_b, pr.alpha,
                        pr.with_bias ? bias.data() : nullptr, pr.with_residual ? residual.data() : nullptr, pr.act);
    std::vector<double> bound(ref.value.size());
    for (std::size_t i = 0; i < bound.size(); ++i)
      bound[i] = 1.2 * (0x1p-9 + gamma(pr.k + 3)) * ref.magnitude[i] +
                 8 * kUnitRoundoff * (std::abs(ref.value[i]) + ref.magnitude[i]) + 1e-37;
    std::ostringstream what;
    what << "cuda gemm TF32 m=" << pr.m << " n=" << pr.n << " k=" << pr.k;
    joule_test::expect_within(dc.download(), ref.value, bound, what.str());
  }
}

TEST(cuda_tf32, conv2d_when_allowed_is_close_in_norm) {
  SKIP_WITHOUT_DEVICE();
  auto rng = joule_test::rng_for_test();
  cuda_context ctx;
  ctx.set_allow_tf32(true);
  const shape in_shape{2, 64, 28, 28}, w_shape{64, 64, 3, 3};
  const auto params = stride_pad(1, 1);
  const shape out_shape = joule::ops::conv2d_output_shape(in_shape, w_shape, params);
  auto input = joule_test::random_tensor(rng, in_shape), weight = joule_test::random_tensor(rng, w_shape);
  auto dinput = upload(input), dweight = upload(weight);
  device_buffer<float> doutput(out_shape.numel());
  joule::ops::conv2d(ctx, dinput.cview(in_shape), dweight.cview(w_shape), doutput.view(out_shape), params);
  const auto output = doutput.download();
  const joule_ref::conv2d_problem problem{
      in_shape[0], in_shape[1], in_shape[2], in_shape[3], w_shape[0],   3,           3, 1, 1, 1,
      1,           1,           1,           1,           out_shape[2], out_shape[3]};
  double error = 0, magnitude = 0;
  for (int s = 0; s < 2000; ++s) {
    const std::int64_t i = joule_test::uniform_int(rng, 0, out_shape.numel() - 1);
    const auto e = joule_ref::conv2d_at(problem, input.data(), weight.data(), nullptr, nullptr, activation::none, i);
    error += (output[i] - e.value) * (output[i] - e.value);
    magnitude += e.magnitude * e.magnitude;
  }
  EXPECT_LE(std::sqrt(error), 0x1p-7 * std::sqrt(magnitude)) << "cuda conv2d TF32 " << in_shape << " * " << w_shape;
}

TEST(cuda_context, tf32_is_off_by_default_and_can_be_allowed) {
  SKIP_WITHOUT_DEVICE();
  cuda_context ctx;
  EXPECT_FALSE(ctx.allow_tf32());
  ctx.set_allow_tf32(true);
  EXPECT_TRUE(ctx.allow_tf32());
  EXPECT_EQ(ctx.threads(), 1);
  EXPECT_NE(ctx.stream(), nullptr);
}

}  // namespace
