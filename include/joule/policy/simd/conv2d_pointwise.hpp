#pragma once
/**
 * @file conv2d_pointwise.hpp
 * @brief simd 1x1 stride-1 conv2d on a small plane (at most 14 x 14 pixels, one image), AVX-512:
 * a register tile of 6 pixels x 64 output channels, reading the NCHW input in place and the weight
 * as conv2d_pixel_rows packs it (two of its 32-column panels side by side). A run of up to 53
 * pixels of a block of 64 channels takes the depth 64 steps at a time, tile after tile, their sums
 * parked in an L1 buffer between (so those steps' weight, 16 KB, is read from L1 by all of the run's
 * tiles); then the run's sums are turned around into the NCHW output 16 x 16 at a time with the
 * bias, residual and activation (transpose_block).
 *
 * The pixels-as-rows GEMM (conv2d_pixel_rows.hpp) holds 12 pixels x 32 channels: per step 12
 * broadcasts and 2 loads for 24 FMAs. This tile loads 6 + 4, the shape of ONNX Runtime's pointwise
 * kernel (MLAS, snchwc.cpp), without its blocked activations. ResNet-50's 14 x 14 and 7 x 7 1x1
 * layers with 512 input channels and more took 0.85-0.95 of the time alone with the weight in L3
 * (bench/ab/pointwise_1x1.cpp), the model at batch 1 0.987 and 0.989 against a control of 0.996
 * (docs/results.md, 2026-12-08).
 */
#include <algorithm>
#include <cstdint>

#include <joule/core/context.hpp>
#include <joule/ops/desc/conv2d.hpp>
#include <joule/policy/detail/im2col.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/conv2d_pixel_rows.hpp>
#include <joule/policy/simd/gemm.hpp>

namespace joule::simd_detail {

/** @brief The register tile: up to kPointwisePixels pixels x kPointwiseChannels output channels. */
inline constexpr std::int64_t kPointwisePixels = 6;
inline constexpr std::int64_t kPointwiseChannels = 2 * gemm_blocking::kPanel;  // two panels of the packed weight
/** @brief Pixels a run's tiles cover before their sums are turned around (3 x 16, 8 tiles), plus up to
 * kPointwisePixels - 1 more where the plane would end in a shorter run. */
inline constexpr std::int64_t kPointwiseRun = 48;
/**
 * @brief Steps of depth a run's tiles take in turn: that much of the weight (64 x 64 floats, 16 KB)
 * stays in L1 while the run's 8 tiles read it, and comes from L2 or beyond once a run.
 */
inline constexpr std::int64_t kPointwiseDepth = 64;

/**
 * @brief Whether conv2d_pointwise runs @p op: AVX-512 (the tile's 24 accumulators, 4 vectors of
 * weight and a broadcast take 29 of its 32 registers), a weight packed with the pixels as rows, one
 * image, a 1x1 stride-1 unpadded window, output channels in whole blocks of 64, a plane of at most
 * 196 pixels (larger planes run the GEMM's way, whose panels they fill), and 512 input channels or
 * more: ResNet-50's 256 -> 1024 layers on 14 x 14, faster alone, were 0.06-0.07 ms slower each in
 * the model, where they read an input the Winograd layer before had just written.
 */
inline bool pointwise_applies(const conv2d_op& op) noexcept {
#if XSIMD_WITH_AVX512F
  return gemm_blocking::kPanel == 32 && op.packed_weight != nullptr && op.groups == 1 && op.n == 1 && op.kh == 1 &&
         op.kw == 1 && op.stride_h == 1 && op.stride_w == 1 && op.pad_h == 0 && op.pad_w == 0 &&
         op.c_out % kPointwiseChannels == 0 && op.out_h * op.out_w <= 196 && op.c_in >= 512;
#else
  (void)op;
  return false;
#endif
}

/**
 * @brief Lines of weight a tile fetches into L1 for the run's next steps of depth while it runs its
 * own: per_group lines from lo and as many from hi (the two panels) every 8 steps, up to `lines`.
 */
struct pointwise_fetch {
  const float* lo = nullptr;
  const float* hi = nullptr;
  std::int64_t lines = 0, per_group = 0;
};

/**
 * @brief @p steps steps of depth for Pixels pixels x 64 channels: sums[i][j] (row stride
 * kPointwiseChannels) += sum over p of a[p · plane + i] · weight row p, channel j, where the weight's
 * rows are @p b's (channels 0-31, kPanel floats a row) and @p b + @p hi's (32-63). First: the sums
 * start from zero instead of @p sums.
 */
template <std::int64_t Pixels, bool First>
[[gnu::always_inline]] inline void pointwise_tile(const float* a, std::int64_t plane, const float* b, std::int64_t hi,
                                                  std::int64_t steps, const pointwise_fetch& fetch,
                                                  float* sums) noexcept {
  constexpr std::int64_t kV = kPointwiseChannels / kLanes, kPanel = gemm_blocking::kPanel, kUnroll = 8;
  constexpr std::int64_t kLine = 64 / sizeof(float);
  std::int64_t fetched = 0;
  batch acc[Pixels][kV];
#pragma GCC unroll 8
  for (std::int64_t i = 0; i < Pixels; ++i)
#pragma GCC unroll 4
    for (std::int64_t v = 0; v < kV; ++v)
      acc[i][v] = First ? batch(0.f) : batch::load_aligned(sums + i * kPointwiseChannels + v * kLanes);
  const auto step = [&](std::int64_t p) __attribute__((always_inline)) {
    const batch b0 = batch::load_aligned(b + p * kPanel), b1 = batch::load_aligned(b + p * kPanel + kLanes);
    const batch b2 = batch::load_aligned(b + hi + p * kPanel), b3 = batch::load_aligned(b + hi + p * kPanel + kLanes);
#pragma GCC unroll 8
    for (std::int64_t i = 0; i < Pixels; ++i) {
      const batch x(a[p * plane + i]);
      acc[i][0] = xsimd::fma(x, b0, acc[i][0]);
      acc[i][1] = xsimd::fma(x, b1, acc[i][1]);
      acc[i][2] = xsimd::fma(x, b2, acc[i][2]);
      acc[i][3] = xsimd::fma(x, b3, acc[i][3]);
    }
  };
  std::int64_t p = 0;
  for (; p + kUnroll <= steps; p += kUnroll) {
    for (std::int64_t j = 0; j < fetch.per_group && fetched < fetch.lines; ++j, ++fetched) {
      __builtin_prefetch(fetch.lo + fetched * kLine, 0, 3);
      __builtin_prefetch(fetch.hi + fetched * kLine, 0, 3);
    }
#pragma GCC unroll 8
    for (std::int64_t q = 0; q < kUnroll; ++q) step(p + q);
  }
  for (; p < steps; ++p) step(p);
#pragma GCC unroll 8
  for (std::int64_t i = 0; i < Pixels; ++i)
#pragma GCC unroll 4
    for (std::int64_t v = 0; v < kV; ++v) acc[i][v].store_aligned(sums + i * kPointwiseChannels + v * kLanes);
}

/** @brief pointwise_tile for a tile of 1 to kPointwisePixels pixels (a run's last may be short). */
template <bool First>
inline void pointwise_tile_of(std::int64_t pixels, const float* a, std::int64_t plane, const float* b, std::int64_t hi,
                              std::int64_t steps, const pointwise_fetch& fetch, float* sums) noexcept {
  switch (pixels) {
    case 6:
      return pointwise_tile<6, First>(a, plane, b, hi, steps, fetch, sums);
    case 5:
      return pointwise_tile<5, First>(a, plane, b, hi, steps, fetch, sums);
    case 4:
      return pointwise_tile<4, First>(a, plane, b, hi, steps, fetch, sums);
    case 3:
      return pointwise_tile<3, First>(a, plane, b, hi, steps, fetch, sums);
    case 2:
      return pointwise_tile<2, First>(a, plane, b, hi, steps, fetch, sums);
    default:
      return pointwise_tile<1, First>(a, plane, b, hi, steps, fetch, sums);
  }
}

/**
 * @brief The convolution (pointwise_applies). The threads take blocks of 64 output channels: each
 * reads the whole input and its blocks' share of the weight. Within a block, runs of up to
 * kPointwiseRun pixels; a run's tiles take kPointwiseDepth steps of depth each in turn, their sums
 * parked in an L1 buffer between, so that the weight's rows for those steps are read from L1 by all
 * of them; then the run's sums go into the output through transpose_block (bias, residual,
 * activation). Holding the sums in registers over the whole depth instead, each tile read the
 * block's whole weight from L2 (256 KB at 1024 input channels, 4 lines a step): faster alone, with
 * the weight warm, but not in ResNet-50, where each layer's weight comes from L3.
 */
inline void conv2d_pointwise(cpu_context& ctx, const conv2d_op& op) {
  constexpr std::int64_t kP = kPointwisePixels, kPanel = gemm_blocking::kPanel, kLine = 64 / sizeof(float);
  const std::int64_t pixels = op.out_h * op.out_w, blocks = op.c_out / kPointwiseChannels, depth = op.c_in;
  const std::int64_t panels = op.c_out / kPanel;
  const int threads = detail::threads_for(ctx, blocks, blocks * kPointwiseChannels * pixels * depth, 1 << 20);
  detail::parallel_ranges(ctx, threads, blocks, [&](int, std::int64_t f0, std::int64_t f1) {
    // A run of up to kPointwiseRun + kP - 1 pixels: a last run shorter than a tile joins the one
    // before (49 pixels are one run, not 48 and one that would read the block's weight for a pixel).
    alignas(64) float sums[(kPointwiseRun + kP) * kPointwiseChannels];
    for (std::int64_t f = f0; f < f1; ++f) {
      for (std::int64_t q0 = 0, q1 = 0; q0 < pixels; q0 = q1) {
        q1 = std::min(pixels, q0 + kPointwiseRun);
        if (pixels - q1 < kP) q1 = pixels;
        for (std::int64_t pc = 0; pc < depth; pc += gemm_blocking::kKc) {
          const std::int64_t kc = std::min(gemm_blocking::kKc, depth - pc);
          // Panel 2f's rows of this k block (packed_panel_offset), then panel 2f + 1's right after them.
          const float* block = op.packed_weight + packed_panel_offset(depth, panels, 2 * f, pc, kc);
          for (std::int64_t d = 0; d < kc; d += kPointwiseDepth) {
            const std::int64_t steps = std::min(kPointwiseDepth, kc - d);
            const float* b = block + d * kPanel;
            const float* a = op.input + (pc + d) * pixels;
            const bool first = pc == 0 && d == 0;
            // The weight's next steps (of this k block, the next, or the next block of channels),
            // fetched into L1 by the first and the last run's tiles, a share each: the first run
            // reads each step's weight from beyond L2, the last one ends on the next block's.
            pointwise_fetch fetch;
            // The steps after these: [nd, nd + 64) of k block npc of block nf.
            std::int64_t nf = f, npc = pc, nd = d + kPointwiseDepth;
            if (nd >= kc) {
              nd = 0, npc += kc;
              if (npc >= depth) npc = 0, ++nf;
            }
            const std::int64_t next_kc = std::min(gemm_blocking::kKc, depth - npc);
            const float* next =
                nf < f1 && (nf == f || q1 == pixels)
                    ? op.packed_weight + packed_panel_offset(depth, panels, 2 * nf, npc, next_kc) + nd * kPanel
                    : nullptr;
            const float* next_hi = next ? next + next_kc * kPanel : nullptr;
            const std::int64_t next_steps = std::min(kPointwiseDepth, next_kc - nd);
            const bool fetching = next != nullptr && (q0 == 0 || q1 == pixels);
            const std::int64_t run_tiles = detail::ceil_div(q1 - q0, kP), groups = std::max<std::int64_t>(1, steps / 8);
            const std::int64_t lines = fetching ? next_steps * kPanel / kLine : 0;  // of each panel
            const std::int64_t share = detail::ceil_div(lines, run_tiles);
            for (std::int64_t p = q0; p < q1; p += kP) {
              float* tile_sums = sums + (p - q0) * kPointwiseChannels;
              const std::int64_t t = (p - q0) / kP, from = std::min(lines, t * share);
              if (fetching)
                fetch = {next + from * kLine, next_hi + from * kLine, std::min(lines, from + share) - from,
                         detail::ceil_div(share, groups)};
              const std::int64_t count = std::min(kP, q1 - p);
              if (first)
                pointwise_tile_of<true>(count, a + p, pixels, b, kc * kPanel, steps, fetch, tile_sums);
              else
                pointwise_tile_of<false>(count, a + p, pixels, b, kc * kPanel, steps, fetch, tile_sums);
            }
          }
        }
        for (std::int64_t i = 0; i < q1 - q0; i += kLanes)
          for (std::int64_t j = 0; j < kPointwiseChannels; j += kLanes)
            transpose_block(op, sums + i * kPointwiseChannels + j, kPointwiseChannels, f * kPointwiseChannels + j,
                            kLanes, q0 + i, std::min(kLanes, q1 - q0 - i), op.ep.residual, op.output);
      }
    }
  });
}

}  // namespace joule::simd_detail
