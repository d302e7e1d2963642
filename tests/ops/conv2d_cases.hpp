#pragma once
// What the conv2d conformance tests of every policy share (tests/ops/test_conv2d.cpp on the CPU
// policies, tests/cuda/test_cuda_ops.cu on cuda): the case description, the random case generator,
// the model layers, which outputs to check and their error bound (derived in test_conv2d.cpp).
// The generators draw from the rng in a fixed order, so a seed gives the same shapes everywhere.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <joule/ops/conv2d.hpp>

#include "../common/activations.hpp"
#include "../common/testing.hpp"
#include "../reference/conv2d.hpp"

namespace joule_test {

/** One convolution to run: shapes, geometry and epilogue. */
struct conv_case {
  const char* label;
  joule::shape input, weight;
  joule::ops::conv2d_params params;
  bool bias = false, residual = false;
  joule::activation act = joule::activation::none;
};

inline joule::ops::conv2d_params stride_pad(std::int64_t stride, std::int64_t pad, std::int64_t groups = 1) {
  return {.stride_h = stride, .stride_w = stride, .pad_h = pad, .pad_w = pad, .groups = groups};
}

inline std::string describe(const conv_case& c) {
  std::ostringstream out;
  out << c.label << " input " << c.input << " weight " << c.weight << " stride (" << c.params.stride_h << ", "
      << c.params.stride_w << ") pad (" << c.params.pad_h << ", " << c.params.pad_w << ") dil (" << c.params.dil_h
      << ", " << c.params.dil_w << ") groups " << c.params.groups << " bias=" << c.bias << " residual=" << c.residual
      << " act=" << joule::activation_name(c.act);
  return out.str();
}

inline joule_ref::conv2d_problem problem_of(const joule::shape& input, const joule::shape& weight,
                                            const joule::ops::conv2d_params& p) {
  const joule::shape out = joule::ops::conv2d_output_shape(input, weight, p);
  return {input[0],   input[1], input[2], input[3], weight[0], weight[2], weight[3], p.stride_h,
          p.stride_w, p.pad_h,  p.pad_w,  p.dil_h,  p.dil_w,   p.groups,  out[2],    out[3]};
}

/** Whether every output is checked against the double reference (else a random sample). */
inline bool checks_every_output(std::int64_t outputs, std::int64_t depth) { return outputs * depth <= 4'000'000; }

/** Every output index when a full double-precision check is cheap, else a random sample and both ends. */
inline std::vector<std::int64_t> indices_to_check(std::mt19937_64& rng, std::int64_t outputs, std::int64_t depth) {
  constexpr std::int64_t kSamples = 3000;
  std::vector<std::int64_t> indices;
  if (checks_every_output(outputs, depth)) {
    for (std::int64_t i = 0; i < outputs; ++i) indices.push_back(i);
    return indices;
  }
  indices = {0, outputs - 1};
  for (std::int64_t s = 0; s < kSamples; ++s) indices.push_back(uniform_int(rng, 0, outputs - 1));
  return indices;
}

/** The outputs at the checked indices, the reference values and their error bounds. */
struct conv2d_checked {
  std::vector<float> got;
  std::vector<double> want, bound;
};

/**
 * The magnitude that bounds the rounding error of output @p index computed by Winograd's
 * F(T x T, 3x3), T = @p tile (2 or 4; 3x3 window, stride 1, padding 1): sum over input channels c
 * and the (T + 2)^2 elements ξ of the transformed tile of |A^T|·(|G| |g_c| |G^T|)_ξ ·
 * (|B^T| |d_c| |B|)_ξ·|A|, d_c the (T + 2) x (T + 2) input patch of the output's tile. Each stage's
 * roundings are relative to these absolute values (F(2x2, 3x3): 2 additions per input transform
 * element, the c_in-term dot product of the GEMM, 3-term sums twice in the output transform, the
 * transformed weight rounded once: an error within gamma(c_in + 8) of it; F(4x4, 3x3): up to 4
 * operations per 1-D input transform and 5 per 1-D output transform, within gamma(c_in + 16)).
 * Unlike the direct sum's, it counts products that cancel in exact arithmetic, so it is not
 * bounded by sum |w x|.
 */
inline double winograd_magnitude(const conv_case& c, const float* input, const float* weight, std::int64_t index,
                                 int tile = 2) {
  const std::int64_t c_out = c.weight[0], c_in = c.input[1], h = c.input[2], w = c.input[3];
  const std::int64_t ox = index % w, oy = index / w % h, k = index / (w * h) % c_out, n = index / (w * h * c_out);
  // |G|, |B^T| and |A^T| of F(2x2, 3x3) and of F(4x4, 3x3), row-major, alpha = tile + 2 wide.
  constexpr double kG2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}, {0, 0, 1}};
  constexpr double kBt2[4][4] = {{1, 0, 1, 0}, {0, 1, 1, 0}, {0, 1, 1, 0}, {0, 1, 0, 1}};
  constexpr double kAt2[2][4] = {{1, 1, 1, 0}, {0, 1, 1, 1}};
  constexpr double kG4[6][3] = {{1.0 / 4, 0, 0},
                                {1.0 / 6, 1.0 / 6, 1.0 / 6},
                                {1.0 / 6, 1.0 / 6, 1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                {0, 0, 1}};
  constexpr double kBt4[6][6] = {{4, 0, 5, 0, 1, 0}, {0, 4, 4, 1, 1, 0}, {0, 4, 4, 1, 1, 0},
                                 {0, 2, 1, 2, 1, 0}, {0, 2, 1, 2, 1, 0}, {0, 4, 0, 5, 0, 1}};
  constexpr double kAt4[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, 1, 2, 2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, 1, 8, 8, 1}};
  const int alpha = tile + 2;
  const auto g_of = [&](int i, int a) { return tile == 2 ? kG2[i][a] : kG4[i][a]; };
  const auto bt_of = [&](int i, int a) { return tile == 2 ? kBt2[i][a] : kBt4[i][a]; };
  const auto at_of = [&](int i, int a) { return tile == 2 ? kAt2[i][a] : kAt4[i][a]; };
  const std::int64_t y0 = oy / tile * tile - 1, x0 = ox / tile * tile - 1;
  double total = 0;
  for (std::int64_t ci = 0; ci < c_in; ++ci) {
    double d[6][6] = {}, g[3][3], u[6][6] = {}, v[6][6] = {};
    for (int a = 0; a < alpha; ++a)
      for (int b = 0; b < alpha; ++b) {
        const std::int64_t y = y0 + a, x = x0 + b;
        d[a][b] = y < 0 || y >= h || x < 0 || x >= w ? 0.0 : std::abs(input[((n * c_in + ci) * h + y) * w + x]);
      }
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) g[a][b] = std::abs(weight[((k * c_in + ci) * 3 + a) * 3 + b]);
    for (int i = 0; i < alpha; ++i)
      for (int j = 0; j < alpha; ++j) {
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b) u[i][j] += g_of(i, a) * g[a][b] * g_of(j, b);
        for (int a = 0; a < alpha; ++a)
          for (int b = 0; b < alpha; ++b) v[i][j] += bt_of(i, a) * d[a][b] * bt_of(j, b);
      }
    for (int i = 0; i < alpha; ++i)
      for (int j = 0; j < alpha; ++j)
        total += at_of(static_cast<int>(oy % tile), i) * at_of(static_cast<int>(ox % tile), j) * u[i][j] * v[i][j];
  }
  return total;
}

/**
 * Evaluates the reference at @p indices for case @p c with the given host data (bias and residual
 * used only when the case has them) and pairs it with @p output. With @p winograd_tile 2 or 4, the
 * bound is that of Winograd's F(T x T, 3x3) (winograd_magnitude) on top of the epilogue's.
 */
inline conv2d_checked conv2d_check_at(const conv_case& c, const float* input, const float* weight, const float* bias,
                                      const float* residual, std::span<const float> output,
                                      const std::vector<std::int64_t>& indices, int winograd_tile = 0) {
  const auto problem = problem_of(c.input, c.weight, c.params);
  const std::int64_t depth = c.weight[1] * c.weight[2] * c.weight[3];
  conv2d_checked r;
  for (const std::int64_t i : indices) {
    const auto e = joule_ref::conv2d_at(problem, input, weight, c.bias ? bias : nullptr,
                                        c.residual ? residual : nullptr, c.act, i);
    r.got.push_back(output[i]);
    r.want.push_back(e.value);
    const double sum_error = winograd_tile > 0 ? 1.2 * gamma(c.input[1] + (winograd_tile == 2 ? 8 : 16)) *
                                                         winograd_magnitude(c, input, weight, i, winograd_tile) +
                                                     1.2 * gamma(3) * e.magnitude
                                               : 1.2 * gamma(depth + 3) * e.magnitude;
    r.bound.push_back(sum_error + 8 * kUnitRoundoff * (std::abs(e.value) + e.magnitude) + 1e-37);
  }
  return r;
}

/** A random dense, two-group or depthwise convolution within the geometry the op supports. */
inline conv_case random_conv_case(std::mt19937_64& rng) {
  constexpr std::int64_t kKernels[] = {1, 3, 5, 7};
  const std::int64_t kh = kKernels[rng() % 4], kw = rng() % 4 == 0 ? kKernels[rng() % 4] : kh;
  joule::ops::conv2d_params p;
  p.stride_h = 1 + static_cast<std::int64_t>(rng() % 2);
  p.stride_w = 1 + static_cast<std::int64_t>(rng() % 2);
  p.dil_h = kh > 1 ? 1 + static_cast<std::int64_t>(rng() % 2) : 1;
  p.dil_w = kw > 1 ? 1 + static_cast<std::int64_t>(rng() % 2) : 1;
  p.pad_h = std::min<std::int64_t>(rng() % 3, p.dil_h * (kh - 1));
  p.pad_w = std::min<std::int64_t>(rng() % 3, p.dil_w * (kw - 1));
  const std::int64_t h = std::max<std::int64_t>(1, p.dil_h * (kh - 1) + 1 - 2 * p.pad_h) + uniform_int(rng, 0, 12);
  const std::int64_t w = std::max<std::int64_t>(1, p.dil_w * (kw - 1) + 1 - 2 * p.pad_w) + uniform_int(rng, 0, 40);
  const std::int64_t n = uniform_int(rng, 1, 3);
  std::int64_t c_in, c_out;
  switch (rng() % 3) {
    case 0:
      c_in = uniform_int(rng, 1, 12), c_out = uniform_int(rng, 1, 12);
      break;
    case 1:
      p.groups = 2;
      c_in = 2 * uniform_int(rng, 1, 6), c_out = 2 * uniform_int(rng, 1, 6);
      break;
    default:
      c_in = c_out = p.groups = uniform_int(rng, 1, 24);
      break;
  }
  return {"random",       joule::shape{n, c_in, h, w}, joule::shape{c_out, c_in / p.groups, kh, kw}, p, rng() % 2 == 0,
          rng() % 3 == 0, kActivations[rng() % 6]};
}

/** torchvision's ResNet-50 (v1.5: stride in the 3x3) at batch @p n, batch-norm folded into a bias. */
inline std::vector<conv_case> resnet50_conv_cases(std::int64_t n) {
  using joule::activation;
  using joule::shape;
  return {
      {"resnet50 stem 7x7/2", shape{n, 3, 224, 224}, shape{64, 3, 7, 7}, stride_pad(2, 3), true, false,
       activation::relu},
      {"resnet50 layer1 1x1 expand + identity", shape{n, 64, 56, 56}, shape{256, 64, 1, 1}, stride_pad(1, 0), true,
       true, activation::relu},
      {"resnet50 layer1 3x3", shape{n, 64, 56, 56}, shape{64, 64, 3, 3}, stride_pad(1, 1), true, false,
       activation::relu},
      {"resnet50 layer2 3x3/2", shape{n, 128, 56, 56}, shape{128, 128, 3, 3}, stride_pad(2, 1), true, false,
       activation::relu},
      {"resnet50 layer2 downsample 1x1/2", shape{n, 256, 56, 56}, shape{512, 256, 1, 1}, stride_pad(2, 0), true, false,
       activation::none},
      {"resnet50 layer4 1x1 reduce", shape{n, 2048, 7, 7}, shape{512, 2048, 1, 1}, stride_pad(1, 0), true, false,
       activation::relu},
  };
}

/** torchvision's MobileNetV2 at batch 1: stem, 1x1 expand / project, and every depthwise 3x3 it has. */
inline std::vector<conv_case> mobilenet_v2_conv_cases() {
  using joule::activation;
  using joule::shape;
  const auto dw = [](const char* label, std::int64_t c, std::int64_t size, std::int64_t stride) {
    return conv_case{label, shape{1, c, size, size}, shape{c, 1, 3, 3}, stride_pad(stride, 1, c), true,
                     false, activation::relu6};
  };
  return {
      {"mobilenet_v2 stem 3x3/2", shape{1, 3, 224, 224}, shape{32, 3, 3, 3}, stride_pad(2, 1), true, false,
       activation::relu6},
      dw("mobilenet_v2 dw 112 c32", 32, 112, 1),
      dw("mobilenet_v2 dw/2 112 c96", 96, 112, 2),
      dw("mobilenet_v2 dw 56 c144", 144, 56, 1),
      dw("mobilenet_v2 dw/2 56 c144", 144, 56, 2),
      dw("mobilenet_v2 dw 28 c192", 192, 28, 1),
      dw("mobilenet_v2 dw/2 28 c192", 192, 28, 2),
      dw("mobilenet_v2 dw 14 c384", 384, 14, 1),
      dw("mobilenet_v2 dw 14 c576", 576, 14, 1),
      dw("mobilenet_v2 dw/2 14 c576", 576, 14, 2),
      dw("mobilenet_v2 dw 7 c960", 960, 7, 1),
      {"mobilenet_v2 1x1 expand 28", shape{1, 32, 28, 28}, shape{192, 32, 1, 1}, stride_pad(1, 0), true, false,
       activation::relu6},
      {"mobilenet_v2 1x1 project 28 + residual", shape{1, 192, 28, 28}, shape{32, 192, 1, 1}, stride_pad(1, 0), true,
       true, activation::none},
      {"mobilenet_v2 last 1x1 7", shape{1, 320, 7, 7}, shape{1280, 320, 1, 1}, stride_pad(1, 0), true, false,
       activation::relu6},
  };
}

}  // namespace joule_test
