// Conformance of ops::conv2d and ops::fold_batch_norm on every CPU policy against the double-precision
// reference in tests/reference/conv2d.hpp.
//
// Error bound (per output): 1.2 · gamma(K + 3) · M + 8u · (|ref| + M), u = 2^-24, K = c_in / groups ·
// kh · kw, M = sum |w · x| over the window + |bias| + |residual|. A convolution output is a dot product
// of K terms plus the bias and the residual, so gamma(K + 3) is Higham's worst case for any float32
// summation order (direct loops, im2col + blocked / vectorised / FMA GEMM, BLAS, Eigen); 1.2 and
// 8u · (|ref| + M) carry it through the activation exactly as in test_gemm.cpp. Layers too large to
// check every output against a double reference within a few seconds are checked at 3000 random
// outputs plus the first and last, and every output is checked to have been written (the output is
// filled with NaN before the call, so a kernel that skips or reads it fails).
//
// fold_batch_norm: conv(x, w') + b' and batch_norm(conv(x, w) + b) are each compared with the exact
// s · (conv(x, w) + b - mean) + beta, s = gamma / sqrt(var + eps), and with each other. The folded
// weight w' = fl(w · s) adds one rounding per product, hence 1.2 · gamma(K + 4) · M1 + 8u · (|ref| +
// M1) with M1 = sum |w s x| + |b'|. The unfolded path adds the batch-norm's roundings (scale ~3u,
// shift ~5u, multiply-add ~2u, see test_batch_norm.cpp) on top of gamma(K + 3) · |s| · Mz, hence
// 1.2 · gamma(K + 11) · M2 + 8u · (|ref| + M2) with M2 = |s| · (sum |w x| + |b|) + |mean · s| + |beta|.
// The two results must agree within the sum of both bounds. The folded values themselves are the
// double-precision products rounded once: within u of the exact ones, relatively.
//
// Shapes: random draws of dense, two-group and depthwise convolutions with 1x1 / 3x3 / 5x5 / 7x7
// (sometimes non-square) kernels, strides 1 and 2, padding 0 to 2, dilation 1 and 2, batch 1 to 3,
// stride-1 depthwise convolutions with "same" width (read in place by simd) of widths 1 to 33,
// widths up to ~50 (not multiples of the vector width), with and without bias and residual, under
// every activation; every kind of layer of ResNet-50 (7x7/2 stem on 3 channels, 1x1 stride 1 with a
// residual, 1x1 stride 2, 3x3 stride 1 and 2) and MobileNetV2 (3x3/2 stem, 1x1 expand and project,
// depthwise 3x3 stride 1 and 2 at 112, 56, 28, 14 and 7 with 32 to 960 channels) at batch 1; size 1;
// an empty batch (n = 0 is a no-op, also with null pointers); a kernel as large as the padded input;
// a depthwise multiplier (groups = c_in, c_out = 2 c_in, not the depthwise kernel).
// NaN: one NaN input pixel must make exactly the outputs whose window holds it NaN (including none,
// when a stride-2 1x1 convolution skips it).
//
// Bad input tested (message fragment): input / weight of the wrong rank ("input must have rank 4",
// "weight must have rank 4"); channel mismatch ("channel mismatch"); stride <= 0 ("negative or zero
// strides"); dilation <= 0 ("negative or zero dilation"); negative padding ("negative padding");
// padding beyond the dilated kernel ("exceeds the dilated kernel extent"); groups <= 0 ("groups must
// be positive"); groups not dividing c_in or c_out ("must divide the input channels"); empty channels
// or kernel ("at least one channel"); a kernel larger than the padded input ("output would be empty");
// output of the wrong shape ("output must have shape [1, 8, 6, 6]"); bias not [c_out] ("bias must
// have shape [8]"); residual not the output's shape ("residual must have shape [1, 8, 6, 6]"); a null
// pointer ("null data pointer"); a misaligned pointer ("not aligned"); output overlapping the input
// or the residual ("output overlaps input", "output overlaps residual"); fold_batch_norm with a
// weight of rank 1 ("conv_weight must have rank >= 2"), parameters or a bias not [c_out] ("gamma must
// have shape [4]", "conv_bias must have shape [4]"), var + eps <= 0 ("is not positive"); a packed
// weight of the wrong shape ("packed weight must have shape"), packed for the other lowering (refused
// by its shape), with groups ("needs groups = 1"), or given to a policy whose conv2d takes none
// ("takes no packed weight with the pixels as rows", "... with the channels as rows").
//
// Packed weights (simd): the resnet50 cases and small planes of ragged pixel and channel counts,
// with the weight packed by ops::pack_conv2d_weight with the pixels as rows, which the kernel reads
// as the B of its GEMM with the pixels as rows; and the resnet50 (1 and 3 images) and mobilenet_v2
// cases and ragged channel counts with the weight packed with the channels as rows, which the
// usual lowering reads as its GEMM's A.
#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include <joule/ops/batch_norm.hpp>
#include <joule/ops/conv2d.hpp>

#include "../common/testing.hpp"
#include "../reference/conv2d.hpp"
#include "conv2d_cases.hpp"

namespace {

using joule_test::expect_error;

using joule::activation;
using joule::shape;
using joule::tensor;
using joule::ops::conv2d_params;
using joule_test::gamma;
using joule_test::kUnitRoundoff;

using joule_test::conv2d_check_at;
using joule_test::conv_case;
using joule_test::describe;
using joule_test::indices_to_check;
using joule_test::mobilenet_v2_conv_cases;
using joule_test::problem_of;
using joule_test::random_conv_case;
using joule_test::resnet50_conv_cases;
using joule_test::stride_pad;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

using joule::ops::conv2d_packing;

/** @brief How a conformance case hands the kernel its weight: as given, or packed for one lowering. */
enum class weight_as { given, pixels_as_rows, channels_as_rows, winograd_3x3, winograd_4x4_3x3 };

template <class P>
class conv2d_conformance : public ::testing::Test {
 protected:
  void SetUp() override { JOULE_SKIP_IF_UNAVAILABLE(P); }

 public:
  /**
   * Runs @p c on policy P with random data (and a NaN at input element @p nan_index when >= 0) and
   * checks it against the reference.
   */
  void check(joule::context<P>& ctx, const conv_case& c, std::mt19937_64& rng, std::int64_t nan_index = -1,
             weight_as how = weight_as::given) {
    const shape out_shape = joule::ops::conv2d_output_shape(c.input, c.weight, c.params);
    auto input = joule_test::random_tensor(rng, c.input);
    auto weight = joule_test::random_tensor(rng, c.weight);
    auto bias = joule_test::random_tensor(rng, shape{c.weight[0]});
    auto residual = joule_test::random_tensor(rng, out_shape);
    if (nan_index >= 0) input[nan_index] = kNaN;
    tensor<float> output(out_shape);
    for (auto& v : output.span()) v = kNaN;  // kernels must write, not read, the output
    joule::ops::conv2d_epilogue ep{.act = c.act};
    if (c.bias) ep.bias = bias.cview();
    if (c.residual) ep.residual = residual.cview();
    tensor<float> packed_weight;
    if constexpr (joule::ops::conv2d_takes_packed_weight<P, conv2d_packing::pixels_as_rows>)
      if (how == weight_as::pixels_as_rows)
        packed_weight = joule::ops::pack_conv2d_weight<P, conv2d_packing::pixels_as_rows>(weight.cview());
    if constexpr (joule::ops::conv2d_takes_packed_weight<P, conv2d_packing::channels_as_rows>)
      if (how == weight_as::channels_as_rows)
        packed_weight = joule::ops::pack_conv2d_weight<P, conv2d_packing::channels_as_rows>(weight.cview());
    if constexpr (joule::ops::conv2d_takes_packed_weight<P, conv2d_packing::winograd_3x3>) {
      if (how == weight_as::winograd_3x3)
        packed_weight = joule::ops::pack_conv2d_weight<P, conv2d_packing::winograd_3x3>(weight.cview());
      if (how == weight_as::winograd_4x4_3x3)
        packed_weight = joule::ops::pack_conv2d_weight<P, conv2d_packing::winograd_4x4_3x3>(weight.cview());
    }
    const conv2d_packing packing = how == weight_as::channels_as_rows   ? conv2d_packing::channels_as_rows
                                   : how == weight_as::winograd_3x3     ? conv2d_packing::winograd_3x3
                                   : how == weight_as::winograd_4x4_3x3 ? conv2d_packing::winograd_4x4_3x3
                                                                        : conv2d_packing::pixels_as_rows;
    const std::string speeds = joule_test::set_uneven_speeds(ctx, calls_++);  // any ranges must do
    joule::ops::conv2d(ctx, input.cview(), weight.cview(), output.view(), c.params, ep,
                       {packed_weight.cview(), packing});

    const char* packed_note = how == weight_as::pixels_as_rows     ? " packed, pixels as rows"
                              : how == weight_as::channels_as_rows ? " packed, channels as rows"
                              : how == weight_as::winograd_3x3     ? " packed for Winograd F(2x2, 3x3)"
                              : how == weight_as::winograd_4x4_3x3 ? " packed for Winograd F(4x4, 3x3)"
                                                                   : "";
    const std::string what =
        std::string(P::name()) + " " + describe(c) + packed_note + " threads=" + std::to_string(ctx.threads()) + speeds;
    const std::int64_t depth = c.weight[1] * c.weight[2] * c.weight[3];
    const auto indices = indices_to_check(rng, output.numel(), depth);
    if (static_cast<std::int64_t>(indices.size()) < output.numel() && nan_index < 0) {
      std::int64_t unwritten = 0;
      for (const float v : output.span()) unwritten += std::isnan(v) ? 1 : 0;
      EXPECT_EQ(unwritten, 0) << what << ": outputs left unwritten or NaN";
    }
    const int winograd_tile = how == weight_as::winograd_3x3 ? 2 : how == weight_as::winograd_4x4_3x3 ? 4 : 0;
    const auto r = conv2d_check_at(c, input.data(), weight.data(), bias.data(), residual.data(), output.span(), indices,
                                   winograd_tile);
    joule_test::expect_within(r.got, r.want, r.bound, what);
  }

 private:
  int calls_ = 0;
};
TYPED_TEST_SUITE(conv2d_conformance, joule_test::cpu_policy_types, joule_test::policy_name);

TYPED_TEST(conv2d_conformance, random_shapes_and_epilogues) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  for (int draw = 0; draw < 30; ++draw) this->check(ctx, random_conv_case(rng), rng);
}

TYPED_TEST(conv2d_conformance, resnet50_layers) {
  // torchvision's ResNet-50 (v1.5: stride in the 3x3) at batch 1, batch-norm folded into a bias.
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  for (const auto& c : resnet50_conv_cases(1)) this->check(ctx, c, rng);
}

TYPED_TEST(conv2d_conformance, mobilenet_v2_layers) {
  // torchvision's MobileNetV2 at batch 1: stem, 1x1 expand / project, and every depthwise 3x3 it has.
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  for (const auto& c : mobilenet_v2_conv_cases()) this->check(ctx, c, rng);
}

TYPED_TEST(conv2d_conformance, depthwise_3x3_wide_rows_read_in_place) {
  // Depthwise 3x3 with a column of padding either side, at stride 1 on rows two vectors wide or
  // more and at stride 2 on any: the simd policy reads the rows in place (depthwise_inplace.hpp),
  // masking the vectors at a row's two ends. Widths at, just under and over one and several vectors
  // of AVX2 and AVX-512 (the last tile one vector, two, or a partial one; odd and even widths at
  // stride 2), heights that leave 1 to 3 rows after the 4-row bands, padding 1 and 0 along h
  // (MobileNetV2's bands hold their own rows), bias, residual and activations, two images, 1 and 2
  // threads.
  auto rng = joule_test::rng_for_test();
  for (int threads : {1, 2}) {
    joule::context<TypeParam> ctx(threads);
    for (std::int64_t w : {1, 2, 7, 16, 24, 31, 32, 33, 47, 48, 49, 56, 64, 65, 112})
      for (std::int64_t h : {3, 4, 5, 6, 7, 9}) {
        const std::int64_t pad_h = (w + h) % 2;
        this->check(ctx,
                    {"depthwise 3x3 rows",
                     shape{2, 3, h, w},
                     shape{3, 1, 3, 3},
                     {.pad_h = pad_h, .pad_w = 1, .groups = 3},
                     true,
                     pad_h == 1,
                     activation::relu6},
                    rng);
        this->check(ctx,
                    {"depthwise 3x3/2 rows",
                     shape{2, 3, h, w + 1},
                     shape{3, 1, 3, 3},
                     {.stride_h = 2, .stride_w = 2, .pad_h = 1 - pad_h, .pad_w = 1, .groups = 3},
                     pad_h == 1,
                     false,
                     activation::relu},
                    rng);
      }
  }
}

TYPED_TEST(conv2d_conformance, stride_2_rows_every_edge) {
  // Stride-2 windows: the simd policy makes each output row of its im2col from the even lanes of
  // two loads masked to the input row (rows up to two vectors wide) or from plain loads between a
  // padded start and a masked tail (wider rows). Every input width from 1 to 70 (outputs of 1 to 36,
  // less than one vector to more than two, even and odd), kernels 1, 3 and 7 wide with no padding,
  // some, and as much as the kernel's width less one (rows that start and end on padding), every
  // output checked, on 1 and 2 threads; the largest cases also with the pixels as rows.
  auto rng = joule_test::rng_for_test();
  for (int threads : {1, 2}) {
    joule::context<TypeParam> ctx(threads);
    for (std::int64_t w = 1; w <= 70; ++w)
      for (const auto& [k, pad] :
           {std::pair<std::int64_t, std::int64_t>{1, 0}, {3, 0}, {3, 1}, {3, 2}, {7, 3}, {7, 6}}) {
        if (w + 2 * pad < k) continue;
        const conv_case c{"stride 2", shape{1, 2, 5, w}, shape{3, 2, k, k}, stride_pad(2, pad), true,
                          false,      activation::none};
        this->check(ctx, c, rng);
        if (w >= 60) this->check(ctx, c, rng, -1, weight_as::pixels_as_rows);
      }
  }
}

TYPED_TEST(conv2d_conformance, few_input_channels_every_edge) {
  // A first layer's few input channels (1 to 4): the simd policy convolves directly, the output
  // channels in the lanes (64 or 32 a register tile), from the input rows padded per thread, and
  // the last tile of a row overlapping the one before it. Output widths 16 to 40 (whole tiles and
  // not), kernels 1 to 7 wide, strides 1 to 3 (columns the stride never reads at the row's end),
  // no padding to as much as the kernel's width less one, dilation 2, non-square windows, 32 to 128
  // output channels, a residual, every activation, 1 to 3 images over 1 to 3 threads (a thread's
  // rows running on into the next image).
  auto rng = joule_test::rng_for_test();
  const activation acts[] = {activation::none, activation::relu, activation::relu6, activation::gelu_erf};
  int i = 0;
  for (int threads : {1, 2, 3}) {
    joule::context<TypeParam> ctx(threads);
    for (std::int64_t c_in : {1, 3, 4})
      for (std::int64_t c_out : {32, 64, 96, 128})
        for (const auto& [kh, kw, stride, pad, dil] : {std::array<std::int64_t, 5>{7, 7, 2, 3, 1},
                                                       {3, 3, 2, 1, 1},
                                                       {1, 1, 1, 0, 1},
                                                       {3, 5, 1, 2, 1},
                                                       {5, 3, 3, 4, 1},
                                                       {3, 3, 1, 1, 2},
                                                       {7, 7, 2, 0, 1}}) {
          const std::int64_t n = 1 + i % 3, h = 9 + i % 5, w = (18 + i % 25) * stride + i % 3;
          ++i;
          const conv_case c{"few channels",
                            shape{n, c_in, h, w},
                            shape{c_out, c_in, kh, kw},
                            {.stride_h = stride,
                             .stride_w = stride,
                             .pad_h = std::min(pad, (kh - 1) * dil),
                             .pad_w = std::min(pad, (kw - 1) * dil),
                             .dil_h = dil,
                             .dil_w = dil},
                            i % 2 == 0,
                            i % 4 == 1,
                            acts[i % 4]};
          this->check(ctx, c, rng);
        }
  }
}

TYPED_TEST(conv2d_conformance, same_width_planes_read_flat) {
  // Stride-1 convolutions whose output is as wide as the input: the simd policy reads each plane
  // in place as one flat row of pixels, a masked load per tap, in its depthwise kernel and in the
  // im2col rows of its GEMM. Planes narrower than, as wide as and wider than a vector, a plane
  // smaller than one vector, output taller or shorter than the input (pad_h != the kernel's half
  // height), dilated 5x5, a residual, two images, 1 and 2 threads; depthwise, grouped and dense.
  auto rng = joule_test::rng_for_test();
  for (int threads : {1, 2}) {
    joule::context<TypeParam> ctx(threads);
    for (std::int64_t w : {1, 3, 7, 8, 14, 16, 17, 33}) {
      this->check(
          ctx, {"same 3x3", shape{2, 5, 9, w}, shape{5, 1, 3, 3}, stride_pad(1, 1, 5), true, true, activation::relu6},
          rng);
      this->check(ctx,
                  {"same 5x5 dilated, taller",
                   shape{1, 3, 6, w},
                   shape{3, 1, 5, 5},
                   {.pad_h = 5, .pad_w = 4, .dil_h = 2, .dil_w = 2, .groups = 3},
                   true,
                   false,
                   activation::none},
                  rng);
      this->check(ctx,
                  {"same 3x1, shorter",
                   shape{1, 4, 7, w},
                   shape{4, 1, 3, 1},
                   {.pad_h = 0, .pad_w = 0, .groups = 4},
                   false,
                   true,
                   activation::relu},
                  rng);
      this->check(
          ctx, {"dense same 3x3", shape{2, 5, 9, w}, shape{7, 5, 3, 3}, stride_pad(1, 1), true, true, activation::relu},
          rng);
      this->check(ctx,
                  {"grouped 5x5 dilated, taller",
                   shape{1, 6, 6, w},
                   shape{4, 3, 5, 5},
                   {.pad_h = 5, .pad_w = 4, .dil_h = 2, .dil_w = 2, .groups = 2},
                   true,
                   true,
                   activation::none},
                  rng);
      this->check(
          ctx, {"dense 3x1, shorter", shape{1, 4, 7, w}, shape{13, 4, 3, 1}, {}, false, false, activation::relu}, rng);
    }
    // Deeper than one packed block (k = 40 · 9 = 360) and wider than one column block (1320 pixels).
    this->check(ctx,
                {"dense same 3x3, large", shape{1, 40, 40, 33}, shape{14, 40, 3, 3}, stride_pad(1, 1), true, true,
                 activation::relu},
                rng);
  }
}

TYPED_TEST(conv2d_conformance, several_images_as_one_gemm) {
  // The simd policy lowers a batch of images to one GEMM, the images' pixels side by side, so that
  // a 32-column panel may run from one image into the next (or over several): 7x7 planes (49
  // pixels) over 5 and 9 images, a 1x1 layer with a residual, stride 2, 9 images of 14x14 (1764
  // columns: several column blocks; depth 297: two k blocks, the first's sums read back across
  // images), planes smaller than a vector read flat from any pixel (3x5: 15 pixels, 11 images,
  // 5x5 kernel), stride 2 on even planes read by phases (3x3 and 5x5), and 2x2 planes with a
  // residual deeper than a k block, on 1 and 2 threads.
  auto rng = joule_test::rng_for_test();
  for (int threads : {1, 2}) {
    joule::context<TypeParam> ctx(threads);
    this->check(ctx,
                {"5 images 7x7", shape{5, 8, 7, 7}, shape{12, 8, 3, 3}, stride_pad(1, 1), true, true, activation::relu},
                rng);
    this->check(ctx,
                {"9 images 1x1 + residual", shape{9, 16, 7, 7}, shape{20, 16, 1, 1}, stride_pad(1, 0), true, true,
                 activation::relu},
                rng);
    this->check(
        ctx,
        {"3 images stride 2", shape{3, 6, 9, 11}, shape{5, 6, 3, 3}, stride_pad(2, 1), false, true, activation::none},
        rng);
    this->check(
        ctx,
        {"9 images 14x14", shape{9, 33, 14, 14}, shape{13, 33, 3, 3}, stride_pad(1, 1), true, false, activation::relu6},
        rng);
    this->check(
        ctx, {"11 images 3x5", shape{11, 4, 3, 5}, shape{14, 4, 5, 5}, stride_pad(1, 2), true, true, activation::relu},
        rng);
    // Stride 2 on even planes out to rows of at most a vector: made from the planes' phases.
    this->check(ctx,
                {"5 images stride 2 by phases", shape{5, 12, 14, 10}, shape{9, 12, 3, 3}, stride_pad(2, 1), true, true,
                 activation::relu},
                rng);
    this->check(ctx,
                {"3 images 5x5 stride 2 by phases", shape{3, 7, 8, 8}, shape{6, 7, 5, 5}, stride_pad(2, 2), true, false,
                 activation::none},
                rng);
    this->check(ctx,
                {"7 images 2x2 + residual", shape{7, 300, 2, 2}, shape{26, 300, 1, 1}, stride_pad(1, 0), true, true,
                 activation::none},
                rng);
  }
}

TYPED_TEST(conv2d_conformance, packed_weight_pixels_as_rows) {
  // With a packed weight the simd policy runs small planes with the pixels as its GEMM's rows (A
  // read transposed, each finished tile of the output turned back by 16 x 16 blocks as the GEMM hands
  // it over, gemm_op::tile_sink): ResNet-50's layers (the large
  // planes fall back to the usual lowering), then pixel counts that leave ragged row tiles and
  // ragged 16-pixel blocks (1, 35, 49, 169, 196), output channels that are not a multiple of the
  // vector width or the 32-column panel (5, 20, 37), several k blocks (depth 576, 1152) and column
  // blocks (c_out 600), the input packed into row tiles (c_out 512 and up), strided 1x1, 2x2, 3x3,
  // 5x5 and 7x7 (read by phases: their columns made straight into row tiles), a 5x5 window read
  // flat, every activation, on 1 and 2 threads.
  if constexpr (!joule::ops::conv2d_takes_packed_weight<TypeParam>) {
    GTEST_SKIP() << TypeParam::name() << "'s conv2d reads its weight only as given: nothing to pack";
  } else {
    auto rng = joule_test::rng_for_test();
    joule::context<TypeParam> ctx(2);
    for (const auto& c : resnet50_conv_cases(1)) this->check(ctx, c, rng, -1, weight_as::pixels_as_rows);
    for (int threads : {1, 2}) {
      joule::context<TypeParam> t_ctx(threads);
      const conv_case cases[] = {
          {"1x1 one pixel", shape{1, 24, 1, 1}, shape{40, 24, 1, 1}, stride_pad(1, 0), true, true, activation::relu},
          {"1x1 5x7", shape{1, 64, 5, 7}, shape{37, 64, 1, 1}, stride_pad(1, 0), true, false, activation::relu6},
          {"1x1 7x7 deep", shape{1, 1152, 7, 7}, shape{20, 1152, 1, 1}, stride_pad(1, 0), true, true, activation::none},
          {"1x1 13x13", shape{1, 48, 13, 13}, shape{5, 48, 1, 1}, stride_pad(1, 0), false, true, activation::tanh},
          {"1x1 14x14 wide", shape{1, 64, 14, 14}, shape{600, 64, 1, 1}, stride_pad(1, 0), true, true,
           activation::relu},
          // 512 output channels and more: the input is packed into row tiles first (pack_a_applies),
          // here a last tile of 11 rows, a ragged panel, a depth of no whole vector; then whole tiles.
          {"1x1 5x7 wide, A packed", shape{1, 45, 5, 7}, shape{520, 45, 1, 1}, stride_pad(1, 0), true, true,
           activation::relu6},
          {"1x1 12x12 wide, A packed", shape{1, 300, 12, 12}, shape{512, 300, 1, 1}, stride_pad(1, 0), false, true,
           activation::none},
          {"1x1 stride 2", shape{1, 96, 27, 27}, shape{48, 96, 1, 1}, stride_pad(2, 0), true, false,
           activation::gelu_erf},
          {"3x3 stride 2 to 7x7", shape{1, 64, 14, 14}, shape{33, 64, 3, 3}, stride_pad(2, 1), true, true,
           activation::relu},
          {"3x3 7x7 deep", shape{1, 128, 7, 7}, shape{64, 128, 3, 3}, stride_pad(1, 1), true, false,
           activation::gelu_tanh},
          // Stride 1 with "same" width: the columns are made flat, a masked load per tap and vector.
          {"5x5 6x11 flat", shape{1, 24, 6, 11}, shape{19, 24, 5, 5}, stride_pad(1, 2), true, true, activation::relu},
          // Stride 2 on even planes to half their size: the columns are made from the four phases.
          {"3x3 stride 2 10x16 phases", shape{1, 20, 10, 16}, shape{23, 20, 3, 3}, stride_pad(2, 1), true, true,
           activation::relu},
          {"5x5 stride 2 12x12 phases", shape{1, 9, 12, 12}, shape{17, 9, 5, 5}, stride_pad(2, 2), true, false,
           activation::none},
          {"7x7 stride 2 16x16 phases", shape{1, 16, 16, 16}, shape{10, 16, 7, 7}, stride_pad(2, 3), false, true,
           activation::relu},
          // Read by phases, the columns go straight into the GEMM's row tiles a block of channels
          // at a time: 16 channels and 4 (a 1x1 window), 4 and 2 (2x2).
          {"1x1 stride 2 12x10 phases", shape{1, 20, 12, 10}, shape{24, 20, 1, 1}, stride_pad(2, 0), true, true,
           activation::relu6},
          {"2x2 stride 2 8x12 phases", shape{1, 6, 8, 12}, shape{9, 6, 2, 2}, stride_pad(2, 0), true, false,
           activation::none},
      };
      for (const auto& c : cases) this->check(t_ctx, c, rng, -1, weight_as::pixels_as_rows);
    }
  }
}

TYPED_TEST(conv2d_conformance, packed_weight_pointwise_small_planes) {
  // 1x1 stride-1 layers on small planes with 512 input channels or more and output channels in
  // blocks of 64: on AVX-512 the simd policy runs them with a 6-pixel x 64-channel tile
  // (conv2d_pointwise.hpp), runs of up to 53 pixels taking the depth 64 steps at a time. A plane
  // smaller than a tile (5 pixels) and of one tile (6), a last run merged into the one before
  // (49 = 48 + 1, 52 = 48 + 4) or standing alone (54 = 48 + 6, 110 = 48 + 48 + 14), ragged last
  // tiles, depths that end in a ragged k block (520, 600, 513) or a ragged 64 steps (520: 256 + 256
  // + 8), one block of channels (64: one thread has none) and many, with and without a residual,
  // every activation, on 1 and 2 threads.
  if constexpr (!joule::ops::conv2d_takes_packed_weight<TypeParam>) {
    GTEST_SKIP() << TypeParam::name() << "'s conv2d reads its weight only as given: nothing to pack";
  } else {
    auto rng = joule_test::rng_for_test();
    for (int threads : {1, 2}) {
      joule::context<TypeParam> t_ctx(threads);
      const conv_case cases[] = {
          {"1x1 1x5, under a tile", shape{1, 512, 1, 5}, shape{64, 512, 1, 1}, stride_pad(1, 0), true, true,
           activation::relu},
          {"1x1 2x3, one tile", shape{1, 512, 2, 3}, shape{128, 512, 1, 1}, stride_pad(1, 0), true, false,
           activation::none},
          {"1x1 4x13, runs 52", shape{1, 520, 4, 13}, shape{128, 520, 1, 1}, stride_pad(1, 0), true, false,
           activation::relu6},
          {"1x1 6x9, runs 48 + 6", shape{1, 600, 6, 9}, shape{192, 600, 1, 1}, stride_pad(1, 0), false, true,
           activation::none},
          {"1x1 7x7, depth 513", shape{1, 513, 7, 7}, shape{256, 513, 1, 1}, stride_pad(1, 0), true, true,
           activation::gelu_tanh},
          {"1x1 11x10", shape{1, 512, 11, 10}, shape{320, 512, 1, 1}, stride_pad(1, 0), true, true, activation::tanh},
          {"1x1 14x14 deep", shape{1, 1024, 14, 14}, shape{64, 1024, 1, 1}, stride_pad(1, 0), true, false,
           activation::gelu_erf},
          {"1x1 7x7 wide + residual", shape{1, 512, 7, 7}, shape{2048, 512, 1, 1}, stride_pad(1, 0), true, true,
           activation::relu},
      };
      for (const auto& c : cases) this->check(t_ctx, c, rng, -1, weight_as::pixels_as_rows);
    }
  }
}

TYPED_TEST(conv2d_conformance, packed_weight_channels_as_rows) {
  // With a weight packed with the channels as rows the simd policy's usual lowering reads it as its
  // GEMM's A, in tiles of 12 rows: ResNet-50's layers at 1 and 3 images (one GEMM over every image),
  // MobileNetV2's (its depthwise layers take no packed weight and run as given), then output
  // channels that leave a ragged last tile (1, 5, 13, 37) or fill tiles exactly (24), several k
  // blocks (depth 576, 1152, 2304), the direct 1x1 lowering (no im2col) and strided ones, panels
  // that run from one image into the next two or three, every activation, on 1 and 2 threads.
  if constexpr (!joule::ops::conv2d_takes_packed_weight<TypeParam, conv2d_packing::channels_as_rows>) {
    GTEST_SKIP() << TypeParam::name() << "'s conv2d reads its weight only as given: nothing to pack";
  } else {
    auto rng = joule_test::rng_for_test();
    joule::context<TypeParam> ctx(2);
    for (const std::int64_t n : {1, 3})
      for (const auto& c : resnet50_conv_cases(n)) this->check(ctx, c, rng, -1, weight_as::channels_as_rows);
    for (const auto& c : mobilenet_v2_conv_cases())
      this->check(ctx, c, rng, -1, c.params.groups == 1 ? weight_as::channels_as_rows : weight_as::given);
    for (int threads : {1, 2}) {
      joule::context<TypeParam> t_ctx(threads);
      const conv_case cases[] = {
          {"1x1 one channel", shape{1, 24, 9, 9}, shape{1, 24, 1, 1}, stride_pad(1, 0), true, true, activation::relu},
          {"1x1 5 channels", shape{2, 64, 5, 7}, shape{5, 64, 1, 1}, stride_pad(1, 0), true, false, activation::relu6},
          {"1x1 13 channels deep", shape{1, 1152, 7, 7}, shape{13, 1152, 1, 1}, stride_pad(1, 0), true, true,
           activation::none},
          {"1x1 24 channels wide plane", shape{1, 48, 40, 40}, shape{24, 48, 1, 1}, stride_pad(1, 0), false, true,
           activation::tanh},
          {"1x1 stride 2", shape{2, 96, 27, 27}, shape{37, 96, 1, 1}, stride_pad(2, 0), true, false,
           activation::gelu_erf},
          {"3x3 37 channels", shape{1, 64, 30, 30}, shape{37, 64, 3, 3}, stride_pad(1, 1), true, true,
           activation::relu},
          {"3x3 deep, 2 images", shape{2, 256, 9, 9}, shape{40, 256, 3, 3}, stride_pad(1, 1), true, false,
           activation::gelu_tanh},
          {"7x7 stride 2", shape{1, 3, 45, 45}, shape{16, 3, 7, 7}, stride_pad(2, 3), true, false, activation::relu},
          // Panels across two images, stored under masks to both, over two k blocks, with the
          // residual; and panels across three (15 columns an image), through a buffer.
          {"1x1 3 images of 7x7, deep", shape{3, 300, 7, 7}, shape{20, 300, 1, 1}, stride_pad(1, 0), true, true,
           activation::relu},
          {"1x1 3 images of 3x5", shape{3, 40, 3, 5}, shape{14, 40, 1, 1}, stride_pad(1, 0), true, true,
           activation::relu6},
      };
      for (const auto& c : cases) this->check(t_ctx, c, rng, -1, weight_as::channels_as_rows);
    }
  }
}

// With a weight transformed for Winograd's F(2x2, 3x3) (F(4x4, 3x3)) the simd policy runs 3x3
// stride-1 layers as 16 (36) GEMMs over 2 x 2 (4 x 4) output tiles: ResNet-50's at 1 and 3 images,
// then planes whose height and width are no multiple of the tile (the last tiles partly outside:
// 1x1, 1x5, 5x1, 7x7, 9x13, 5x70, 6x6), rows of tiles wider than a vector (40 and 70 wide), more
// tiles than one chunk (2 x 64 x 60 x 60: tile rows split across threads, several chunks each),
// few tiles and many channels (7 x 7 x 512: output channels split), output channels that leave a
// ragged row tile (1, 5, 13, 37), one input channel, several k blocks (c_in 576), every
// activation, with and without bias and residual, on 1 and 2 threads. Planes of at most 7 tiles a
// row take two rows of tiles a vector (F(2x2, 3x3): 14 x 14, 7 x 7, 9x13, 1x5, 5x1, 6x6 here;
// F(4x4, 3x3): 28 x 28, 26x27, 7 x 7, 9x13, 6x6, 1x5, 5x1), with odd and even counts of tile rows
// per thread and chunk, and rows of different images side by side. Each output is checked against the double reference
// within Winograd's own error bound (winograd_magnitude).
template <class P>
void check_winograd(conv2d_conformance<P>& test, weight_as how) {
  auto rng = joule_test::rng_for_test();
  {
    joule::context<P> ctx(2);
    const auto same_3x3 = [](const conv_case& c) {
      return c.weight[2] == 3 && c.weight[3] == 3 && c.params.stride_h == 1 && c.params.groups == 1;
    };
    for (const std::int64_t n : {1, 3})
      for (const auto& c : resnet50_conv_cases(n))
        if (same_3x3(c)) test.check(ctx, c, rng, -1, how);
    for (int threads : {1, 2}) {
      joule::context<P> t_ctx(threads);
      const conv_case cases[] = {
          {"one pixel", shape{1, 8, 1, 1}, shape{5, 8, 3, 3}, stride_pad(1, 1), true, true, activation::relu},
          {"1x5", shape{2, 16, 1, 5}, shape{13, 16, 3, 3}, stride_pad(1, 1), true, false, activation::relu6},
          {"5x1", shape{1, 16, 5, 1}, shape{1, 16, 3, 3}, stride_pad(1, 1), false, true, activation::none},
          {"7x7 one input channel", shape{1, 1, 7, 7}, shape{24, 1, 3, 3}, stride_pad(1, 1), true, true,
           activation::tanh},
          {"9x13", shape{2, 32, 9, 13}, shape{37, 32, 3, 3}, stride_pad(1, 1), true, true, activation::gelu_erf},
          {"40 wide", shape{1, 24, 10, 40}, shape{16, 24, 3, 3}, stride_pad(1, 1), false, false, activation::gelu_tanh},
          {"70 wide, odd", shape{1, 8, 5, 70}, shape{12, 8, 3, 3}, stride_pad(1, 1), true, true, activation::relu},
          {"many chunks", shape{2, 64, 60, 60}, shape{64, 64, 3, 3}, stride_pad(1, 1), true, true, activation::relu},
          {"7x7 wide channels", shape{1, 512, 7, 7}, shape{512, 512, 3, 3}, stride_pad(1, 1), true, true,
           activation::relu},
          {"deep", shape{1, 576, 6, 6}, shape{40, 576, 3, 3}, stride_pad(1, 1), true, false, activation::none},
          {"28x28, 3 images", shape{3, 16, 28, 28}, shape{20, 16, 3, 3}, stride_pad(1, 1), true, true,
           activation::relu},
          {"26x27", shape{1, 8, 26, 27}, shape{12, 8, 3, 3}, stride_pad(1, 1), true, false, activation::relu6},
      };
      for (const auto& c : cases) test.check(t_ctx, c, rng, -1, how);
    }
  }
}

TYPED_TEST(conv2d_conformance, packed_weight_winograd_3x3) {
  if constexpr (!joule::ops::conv2d_takes_packed_weight<TypeParam, conv2d_packing::winograd_3x3>)
    GTEST_SKIP() << TypeParam::name() << "'s conv2d runs no Winograd convolution: nothing to transform";
  else
    check_winograd(*this, weight_as::winograd_3x3);
}

TYPED_TEST(conv2d_conformance, packed_weight_winograd_4x4_3x3) {
  if constexpr (!joule::ops::conv2d_takes_packed_weight<TypeParam, conv2d_packing::winograd_4x4_3x3>)
    GTEST_SKIP() << TypeParam::name() << "'s conv2d runs no Winograd convolution: nothing to transform";
  else
    check_winograd(*this, weight_as::winograd_4x4_3x3);
}

TYPED_TEST(conv2d_conformance, degenerate_and_edge_shapes) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(1);
  this->check(ctx, {"size 1", shape{1, 1, 1, 1}, shape{1, 1, 1, 1}, {}, true, true, activation::relu}, rng);
  this->check(
      ctx,
      {"kernel = padded input", shape{2, 3, 3, 3}, shape{5, 3, 7, 7}, stride_pad(1, 2), true, false, activation::none},
      rng);
  this->check(ctx,
              {"depthwise multiplier", shape{2, 4, 9, 10}, shape{8, 1, 3, 3}, stride_pad(1, 1, 4), true, true,
               activation::relu6},
              rng);
  this->check(ctx,
              {"wide depthwise", shape{1, 3, 5, 100}, shape{3, 1, 3, 3}, stride_pad(2, 1, 3), true, true,
               activation::gelu_tanh},
              rng);
  this->check(ctx,
              {"wide dense",
               shape{1, 3, 4, 83},
               shape{4, 3, 3, 5},
               {.stride_w = 2, .pad_h = 1, .pad_w = 2},
               true,
               true,
               activation::tanh},
              rng);
  this->check(ctx,
              {"depthwise 5x5 dilated",
               shape{2, 6, 17, 19},
               shape{6, 1, 5, 5},
               {.stride_h = 2, .pad_h = 2, .pad_w = 1, .dil_h = 2, .dil_w = 2, .groups = 6},
               false,
               true,
               activation::gelu_erf},
              rng);
  this->check(ctx,
              {"1x1 grouped", shape{2, 6, 5, 7}, shape{9, 2, 1, 1}, stride_pad(1, 0, 3), true, false, activation::none},
              rng);
  // An empty batch is a no-op, with allocated tensors and with null pointers alike.
  tensor<float> input(shape{0, 3, 8, 8}), weight(shape{4, 3, 3, 3}), output(shape{0, 4, 6, 6}), bias(shape{4});
  tensor<float> residual(shape{0, 4, 6, 6});
  EXPECT_NO_THROW(joule::ops::conv2d(ctx, input.cview(), weight.cview(), output.view(), {},
                                     {.bias = bias.cview(), .residual = residual.cview(), .act = activation::relu}));
  EXPECT_NO_THROW(joule::ops::conv2d(ctx, joule::tensor_view<const float>(nullptr, shape{0, 3, 8, 8}), weight.cview(),
                                     joule::tensor_view<float>(nullptr, shape{0, 4, 6, 6})));
}

TYPED_TEST(conv2d_conformance, nan_stays_in_its_windows) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  const conv_case cases[] = {
      {"dense 3x3", shape{2, 3, 9, 11}, shape{4, 3, 3, 3}, stride_pad(1, 1), true, false, activation::relu},
      {"1x1 direct", shape{1, 4, 5, 7}, shape{6, 4, 1, 1}, stride_pad(1, 0), true, true, activation::none},
      {"1x1 stride 2", shape{1, 4, 9, 9}, shape{6, 4, 1, 1}, stride_pad(2, 0), false, false, activation::relu6},
      {"depthwise 3x3/2", shape{1, 8, 13, 37}, shape{8, 1, 3, 3}, stride_pad(2, 1, 8), true, false, activation::relu},
      {"grouped 5x5 dilated",
       shape{1, 4, 12, 12},
       shape{6, 2, 5, 5},
       {.pad_h = 2, .pad_w = 2, .dil_h = 2, .dil_w = 2, .groups = 2},
       true,
       false,
       activation::none},
  };
  for (const auto& c : cases) {
    const std::int64_t numel = c.input.numel(), plane = c.input[2] * c.input[3];
    // A corner, an interior pixel of another channel, and the pixel at (1, 1): the last one is
    // skipped by stride-2 1x1 windows, so there no output may turn NaN.
    for (std::int64_t at : {std::int64_t{0}, numel - plane / 2 - 1, plane + c.input[3] + 1})
      this->check(ctx, c, rng, at);
  }
}

TYPED_TEST(conv2d_conformance, folded_batch_norm_matches_conv_then_batch_norm) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  const conv_case cases[] = {
      {"dense 3x3", shape{2, 8, 10, 12}, shape{6, 8, 3, 3}, stride_pad(1, 1), true, false, activation::relu},
      {"depthwise 3x3/2", shape{1, 8, 15, 21}, shape{8, 1, 3, 3}, stride_pad(2, 1, 8), false, false, activation::relu6},
      {"1x1", shape{1, 16, 7, 7}, shape{24, 16, 1, 1}, stride_pad(1, 0), true, false, activation::none},
  };
  for (const auto& c : cases) {
    const std::int64_t c_out = c.weight[0];
    auto x = joule_test::random_tensor(rng, c.input);
    auto w = joule_test::random_tensor(rng, c.weight);
    auto b = joule_test::random_tensor(rng, shape{c_out});
    auto gamma_t = joule_test::random_tensor(rng, shape{c_out}, -2.f, 2.f);
    auto beta = joule_test::random_tensor(rng, shape{c_out});
    auto mean = joule_test::random_tensor(rng, shape{c_out});
    auto var = joule_test::random_tensor(rng, shape{c_out}, 0.1f, 2.f);
    const float eps = 1e-3f;
    const joule::tensor_view<const float> conv_bias = c.bias ? b.cview() : joule::tensor_view<const float>{};
    const auto folded = joule::ops::fold_batch_norm(w.cview(), conv_bias, gamma_t.cview(), beta.cview(), mean.cview(),
                                                    var.cview(), eps);
    const shape out_shape = joule::ops::conv2d_output_shape(c.input, c.weight, c.params);
    tensor<float> y_folded(out_shape), y_unfolded(out_shape);
    joule::ops::conv2d(ctx, x.cview(), folded.weight.cview(), y_folded.view(), c.params,
                       {.bias = folded.bias.cview(), .act = c.act});
    joule::ops::conv2d(ctx, x.cview(), w.cview(), y_unfolded.view(), c.params, {.bias = conv_bias});
    joule::ops::batch_norm(ctx, y_unfolded.cview(), y_unfolded.view(), mean.cview(), var.cview(), gamma_t.cview(),
                           beta.cview(), eps, c.act);

    const auto problem = problem_of(c.input, c.weight, c.params);
    const std::int64_t depth = c.weight[1] * c.weight[2] * c.weight[3], pixels = out_shape[2] * out_shape[3];
    std::vector<double> want(out_shape.numel()), bound_folded(want.size()), bound_unfolded(want.size()),
        bound_both(want.size());
    for (std::int64_t i = 0; i < out_shape.numel(); ++i) {
      const std::int64_t o = i / pixels % c_out;
      const double s = gamma_t[o] / std::sqrt(static_cast<double>(var[o]) + eps);
      const auto conv = joule_ref::conv2d_at(problem, x.data(), w.data(), nullptr, nullptr, activation::none, i);
      const double bias = c.bias ? b[o] : 0.0;
      const double folded_bias = (bias - mean[o]) * s + beta[o];
      const double exact = conv.value * s + folded_bias;
      const double m1 = std::abs(s) * conv.magnitude + std::abs(folded_bias);
      const double m2 = std::abs(s) * (conv.magnitude + std::abs(bias)) + std::abs(mean[o] * s) + std::abs(beta[o]);
      want[i] = joule_ref::activation(c.act, exact);
      bound_folded[i] = 1.2 * gamma(depth + 4) * m1 + 8 * kUnitRoundoff * (std::abs(want[i]) + m1) + 1e-37;
      bound_unfolded[i] = 1.2 * gamma(depth + 11) * m2 + 8 * kUnitRoundoff * (std::abs(want[i]) + m2) + 1e-37;
      bound_both[i] = bound_folded[i] + bound_unfolded[i];
    }
    const std::string what = std::string(TypeParam::name()) + " fold " + describe(c);
    joule_test::expect_within(y_folded.span(), want, bound_folded, what + " (folded)");
    joule_test::expect_within(y_unfolded.span(), want, bound_unfolded, what + " (conv then batch_norm)");
    std::vector<double> unfolded(y_unfolded.span().begin(), y_unfolded.span().end());
    joule_test::expect_within(y_folded.span(), unfolded, bound_both, what + " (folded vs unfolded)");
  }
}

TEST(fold_batch_norm, rounds_the_double_precision_fold_once) {
  auto rng = joule_test::rng_for_test();
  for (const shape weight_shape : {shape{4, 3, 3, 3}, shape{4, 1, 3, 3}, shape{4, 10}}) {
    for (const bool with_bias : {false, true}) {
      auto w = joule_test::random_tensor(rng, weight_shape);
      auto b = joule_test::random_tensor(rng, shape{4});
      auto g = joule_test::random_tensor(rng, shape{4}, -2.f, 2.f);
      auto beta = joule_test::random_tensor(rng, shape{4});
      auto mean = joule_test::random_tensor(rng, shape{4});
      auto var = joule_test::random_tensor(rng, shape{4}, 0.f, 2.f);
      var[0] = 0.f;  // var + eps > 0 still
      const auto folded =
          joule::ops::fold_batch_norm(w.cview(), with_bias ? b.cview() : joule::tensor_view<const float>{}, g.cview(),
                                      beta.cview(), mean.cview(), var.cview());
      ASSERT_EQ(folded.weight.shape(), weight_shape);
      ASSERT_EQ(folded.bias.shape(), shape{4});
      const std::int64_t per_channel = weight_shape.numel() / 4;
      std::vector<double> want_w(w.numel()), want_b(4);
      for (std::int64_t o = 0; o < 4; ++o) {
        const double s = g[o] / std::sqrt(static_cast<double>(var[o]) + static_cast<double>(1e-5f));
        for (std::int64_t i = 0; i < per_channel; ++i) want_w[o * per_channel + i] = w[o * per_channel + i] * s;
        want_b[o] = ((with_bias ? b[o] : 0.0) - mean[o]) * s + beta[o];
      }
      joule_test::expect_close(folded.weight.span(), want_w, kUnitRoundoff, 1e-37, "folded weight");
      joule_test::expect_close(folded.bias.span(), want_b, kUnitRoundoff, 1e-37, "folded bias");
    }
  }
}

TYPED_TEST(conv2d_conformance, bad_input_is_a_clear_error) {
  joule::context<TypeParam> ctx(1);
  tensor<float> x(shape{1, 4, 8, 8}), w(shape{8, 4, 3, 3}), y(shape{1, 8, 6, 6});
  const auto run = [&](joule::tensor_view<const float> in, joule::tensor_view<const float> weight,
                       joule::tensor_view<float> out, const conv2d_params& p = {},
                       const joule::ops::conv2d_epilogue& ep = {}) { joule::ops::conv2d(ctx, in, weight, out, p, ep); };
  tensor<float> rank3(shape{4, 8, 8}), rank2(shape{8, 36});
  expect_error([&] { run(rank3.cview(), w.cview(), y.view()); }, "input must have rank 4");
  expect_error([&] { run(x.cview(), rank2.cview(), y.view()); }, "weight must have rank 4");
  tensor<float> w3(shape{8, 3, 3, 3});
  expect_error([&] { run(x.cview(), w3.cview(), y.view()); }, "channel mismatch");
  expect_error([&] { run(x.cview(), w.cview(), y.view(), {.stride_h = 0}); }, "negative or zero strides");
  expect_error([&] { run(x.cview(), w.cview(), y.view(), {.stride_w = -1}); }, "negative or zero strides");
  expect_error([&] { run(x.cview(), w.cview(), y.view(), {.dil_h = 0}); }, "negative or zero dilation");
  expect_error([&] { run(x.cview(), w.cview(), y.view(), {.dil_w = -2}); }, "negative or zero dilation");
  expect_error([&] { run(x.cview(), w.cview(), y.view(), {.pad_h = -1}); }, "negative padding");
  expect_error([&] { run(x.cview(), w.cview(), y.view(), {.pad_w = 3}); }, "exceeds the dilated kernel extent");
  tensor<float> w1x1(shape{8, 4, 1, 1});
  expect_error([&] { run(x.cview(), w1x1.cview(), y.view(), {.pad_h = 1}); }, "exceeds the dilated kernel extent");
  expect_error([&] { run(x.cview(), w.cview(), y.view(), {.groups = 0}); }, "groups must be positive");
  expect_error([&] { run(x.cview(), w.cview(), y.view(), {.groups = -4}); }, "groups must be positive");
  tensor<float> w_g3(shape{6, 1, 3, 3});
  expect_error([&] { run(x.cview(), w_g3.cview(), y.view(), {.groups = 3}); }, "must divide the input channels");
  tensor<float> w_odd(shape{3, 2, 3, 3});
  expect_error([&] { run(x.cview(), w_odd.cview(), y.view(), {.groups = 2}); }, "must divide the input channels");
  tensor<float> w_empty(shape{0, 4, 3, 3});
  expect_error([&] { run(x.cview(), w_empty.cview(), y.view()); }, "at least one channel");
  tensor<float> small(shape{1, 1, 2, 2}), w5(shape{1, 1, 5, 5}), y1(shape{1, 1, 1, 1});
  expect_error([&] { run(small.cview(), w5.cview(), y1.view(), {.pad_h = 1, .pad_w = 1}); }, "output would be empty");
  expect_error(
      [&] {
        joule::ops::conv2d_output_shape(shape{1, 1, 2, 2}, shape{1, 1, 5, 5}, {});
      },
      "output would be empty");
  tensor<float> y_bad(shape{1, 8, 8, 8});
  expect_error([&] { run(x.cview(), w.cview(), y_bad.view()); }, "output must have shape [1, 8, 6, 6]");
  tensor<float> bias_bad(shape{7}), residual_bad(shape{1, 8, 6, 5});
  expect_error([&] { run(x.cview(), w.cview(), y.view(), {}, {.bias = bias_bad.cview()}); },
               "bias must have shape [8]");
  expect_error([&] { run(x.cview(), w.cview(), y.view(), {}, {.residual = residual_bad.cview()}); },
               "residual must have shape [1, 8, 6, 6]");
  expect_error([&] { run(joule::tensor_view<const float>(nullptr, x.shape()), w.cview(), y.view()); },
               "null data pointer");
  std::vector<char> raw(600 * sizeof(float));
  const auto* misaligned = reinterpret_cast<const float*>(raw.data() + 2);
  expect_error([&] { run(joule::tensor_view<const float>(misaligned, x.shape()), w.cview(), y.view()); },
               "not aligned");
  // The output placed inside the input's memory, then on the residual's.
  tensor<float> shared(shape{1024});
  expect_error(
      [&] {
        run(joule::tensor_view<const float>(shared.data(), x.shape()), w.cview(),
            joule::tensor_view<float>(shared.data() + 128, y.shape()));
      },
      "output overlaps input");
  expect_error([&] { run(x.cview(), w.cview(), y.view(), {}, {.residual = y.cview()}); }, "output overlaps residual");
  // A packed weight: of the wrong shape, with groups, or given to a policy that takes none.
  tensor<float> packed_bad(shape{1, 35, 32});
  const auto run_packed = [&](joule::tensor_view<const float> packed, const conv2d_params& p = {}) {
    joule::ops::conv2d(ctx, x.cview(), w.cview(), y.view(), p, {}, packed);
  };
  if constexpr (joule::ops::conv2d_takes_packed_weight<TypeParam>) {
    constexpr std::int64_t width = joule::ops::gemm_b_panel_width<TypeParam>;
    expect_error([&] { run_packed(packed_bad.cview()); },
                 "packed weight must have shape [1, 36, " + std::to_string(width) + "]");
    const auto packed = joule::ops::pack_conv2d_weight<TypeParam>(w.cview());
    tensor<float> w_g2(shape{8, 2, 3, 3});
    expect_error([&] { joule::ops::conv2d(ctx, x.cview(), w_g2.cview(), y.view(), {.groups = 2}, {}, packed.cview()); },
                 "a packed weight needs groups = 1");
    expect_error([&] { joule::ops::pack_conv2d_weight<TypeParam>(rank2.cview()); }, "weight must have rank 4");
  } else {
    expect_error([&] { run_packed(packed_bad.cview()); }, "takes no packed weight with the pixels as rows");
  }
  // The same for a weight packed with the channels as rows; one packed the other way is refused by
  // its shape.
  const auto run_rows = [&](joule::tensor_view<const float> packed, const conv2d_params& p = {}) {
    joule::ops::conv2d(ctx, x.cview(), w.cview(), y.view(), p, {}, {packed, conv2d_packing::channels_as_rows});
  };
  if constexpr (joule::ops::conv2d_takes_packed_weight<TypeParam, conv2d_packing::channels_as_rows>) {
    constexpr std::int64_t rows = joule::ops::gemm_a_tile_rows<TypeParam>;
    // The 8 output channels fill one row tile of 12 (AVX-512) or two of 6 (AVX2).
    constexpr std::int64_t tiles = (8 + rows - 1) / rows;
    const std::string want =
        "packed weight must have shape [" + std::to_string(tiles) + ", 36, " + std::to_string(rows) + "]";
    expect_error([&] { run_rows(packed_bad.cview()); }, want);
    if constexpr (joule::ops::conv2d_takes_packed_weight<TypeParam>) {
      const auto for_pixels = joule::ops::pack_conv2d_weight<TypeParam>(w.cview());
      expect_error([&] { run_rows(for_pixels.cview()); }, want);
    }
    const auto packed = joule::ops::pack_conv2d_weight<TypeParam, conv2d_packing::channels_as_rows>(w.cview());
    tensor<float> w_g2(shape{8, 2, 3, 3});
    expect_error(
        [&] {
          joule::ops::conv2d(ctx, x.cview(), w_g2.cview(), y.view(), {.groups = 2}, {},
                             {packed.cview(), conv2d_packing::channels_as_rows});
        },
        "a packed weight needs groups = 1");
    expect_error([&] { joule::ops::pack_conv2d_weight<TypeParam, conv2d_packing::channels_as_rows>(rank2.cview()); },
                 "weight must have rank 4");
  } else {
    expect_error([&] { run_rows(packed_bad.cview()); }, "takes no packed weight with the channels as rows");
  }
  // A weight transformed for Winograd: only for a 3x3 window at stride 1, dilation 1, padding 1,
  // of its own shape, from a 3x3 weight.
  const conv2d_params same{.pad_h = 1, .pad_w = 1};
  tensor<float> y_same(shape{1, 8, 8, 8});
  const auto run_winograd = [&](joule::tensor_view<const float> packed, const conv2d_params& p,
                                joule::tensor_view<float> out) {
    joule::ops::conv2d(ctx, x.cview(), w.cview(), out, p, {}, {packed, conv2d_packing::winograd_3x3});
  };
  if constexpr (joule::ops::conv2d_takes_packed_weight<TypeParam, conv2d_packing::winograd_3x3>) {
    constexpr std::int64_t rows = joule::ops::gemm_a_tile_rows<TypeParam>;
    // The 8 output channels fill one row tile of 12 (AVX-512) or two of 6 (AVX2).
    constexpr std::int64_t tiles = (8 + rows - 1) / rows;
    const auto packed = joule::ops::pack_conv2d_weight<TypeParam, conv2d_packing::winograd_3x3>(w.cview());
    EXPECT_EQ(packed.shape(), (shape{16 * tiles, 4, rows}));
    run_winograd(packed.cview(), same, y_same.view());  // accepted
    const std::string needs = "needs a 3x3 window, stride 1, dilation 1 and padding 1";
    expect_error([&] { run_winograd(packed.cview(), {}, y.view()); }, needs);
    tensor<float> y_strided(shape{1, 8, 4, 4}), y_dilated(shape{1, 8, 6, 6});
    expect_error(
        [&] { run_winograd(packed.cview(), {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}, y_strided.view()); },
        needs);
    expect_error(
        [&] { run_winograd(packed.cview(), {.pad_h = 1, .pad_w = 1, .dil_h = 2, .dil_w = 2}, y_dilated.view()); },
        needs);
    expect_error([&] { run_winograd(packed_bad.cview(), same, y_same.view()); },
                 "packed weight must have shape [" + std::to_string(16 * tiles) + ", 4, " + std::to_string(rows) + "]");
    const auto for_rows = joule::ops::pack_conv2d_weight<TypeParam, conv2d_packing::channels_as_rows>(w.cview());
    expect_error([&] { run_winograd(for_rows.cview(), same, y_same.view()); }, "packed weight must have shape");
    tensor<float> w1x1(shape{8, 4, 1, 1});
    expect_error([&] { joule::ops::pack_conv2d_weight<TypeParam, conv2d_packing::winograd_3x3>(w1x1.cview()); },
                 "needs a 3x3 weight, got [8, 4, 1, 1]");
    // F(4x4, 3x3): 36 transformed matrices; a weight transformed for the other tile is refused.
    const auto packed_4x4 = joule::ops::pack_conv2d_weight<TypeParam, conv2d_packing::winograd_4x4_3x3>(w.cview());
    EXPECT_EQ(packed_4x4.shape(), (shape{36 * tiles, 4, rows}));
    const auto run_4x4 = [&](joule::tensor_view<const float> p, const conv2d_params& params,
                             joule::tensor_view<float> out) {
      joule::ops::conv2d(ctx, x.cview(), w.cview(), out, params, {}, {p, conv2d_packing::winograd_4x4_3x3});
    };
    run_4x4(packed_4x4.cview(), same, y_same.view());  // accepted
    expect_error([&] { run_4x4(packed_4x4.cview(), {}, y.view()); }, "for Winograd F(4x4, 3x3) " + needs);
    expect_error([&] { run_4x4(packed.cview(), same, y_same.view()); },
                 "packed weight must have shape [" + std::to_string(36 * tiles) + ", 4, " + std::to_string(rows) + "]");
    expect_error([&] { run_winograd(packed_4x4.cview(), same, y_same.view()); },
                 "packed weight must have shape [" + std::to_string(16 * tiles) + ", 4, " + std::to_string(rows) + "]");
    expect_error([&] { joule::ops::pack_conv2d_weight<TypeParam, conv2d_packing::winograd_4x4_3x3>(w1x1.cview()); },
                 "Winograd F(4x4, 3x3) needs a 3x3 weight, got [8, 4, 1, 1]");
    expect_error([&] { (void)joule::ops::winograd_3x3_weight(w.cview(), 3); }, "the output tile must be 2 or 4, got 3");
  } else {
    expect_error([&] { run_winograd(packed_bad.cview(), same, y_same.view()); },
                 "takes no packed weight for Winograd F(2x2, 3x3)");
  }
}

TEST(fold_batch_norm, bad_input_is_a_clear_error) {
  tensor<float> w(shape{4, 3, 3, 3}), p4(shape{4}), p5(shape{5}), rank1(shape{4});
  expect_error([&] { joule::ops::fold_batch_norm(rank1.cview(), {}, p4.cview(), p4.cview(), p4.cview(), p4.cview()); },
               "conv_weight must have rank >= 2");
  expect_error([&] { joule::ops::fold_batch_norm(w.cview(), {}, p5.cview(), p4.cview(), p4.cview(), p4.cview()); },
               "gamma must have shape [4]");
  expect_error(
      [&] { joule::ops::fold_batch_norm(w.cview(), p5.cview(), p4.cview(), p4.cview(), p4.cview(), p4.cview()); },
      "conv_bias must have shape [4]");
  tensor<float> var(shape{4}, {1.f, 1.f, -1.f, 1.f});
  expect_error([&] { joule::ops::fold_batch_norm(w.cview(), {}, p4.cview(), p4.cview(), p4.cview(), var.cview()); },
               "is not positive");
  expect_error([&] { joule::ops::fold_batch_norm(w.cview(), {}, p4.cview(), p4.cview(), p4.cview(), p4.cview(), 0.f); },
               "is not positive");
}

}  // namespace
