#pragma once
/**
 * @file gemm.hpp
 * @brief simd gemm: packed, register-blocked GEMM over xsimd batches with a fused epilogue.
 *
 * Goto-style blocking: a kc x nc block of B is packed into panels kLanes * kPanelVectors wide
 * (zero-padded, so the micro-kernel never branches on the column count), and a kRows x panel tile
 * of C is accumulated in registers over kc. On few rows the first row tile reads B in place and
 * packs it as it goes (b_in_place_applies). The epilogue runs on the tile while it is still in
 * registers, on the last k block. The same source builds the AVX-512, AVX2 or SSE kernel,
 * whichever xsimd::default_arch the compiler flags select.
 *
 * A GEMM of a few rows (m <= kSmallRows: a linear layer at batch 1, the fc of a vision model) is a
 * matrix-vector product in disguise: every element of B is used m times, so packing B costs as much
 * as the arithmetic. It skips packing and streams B once (small_m_gemm): with B transposed ([n, k],
 * a weight matrix), as dot products along k; otherwise as rows of B scaled and added along n.
 *
 * A constant B (a Linear weight) can come packed already (ops::pack_gemm_b, gemm_op::b_panel_width:
 * the blocks gemm_block would build, for the whole matrix): then nothing is packed per call, and
 * the first row tile prefetches the next panel into L2 while it multiplies this one. B may also be
 * made on demand (gemm_op::b_rows: a convolution's im2col rows), a row of a block at a time, and A
 * read transposed (gemm_op::trans_a: a convolution's columns matrix with the pixels as C's rows).
 */
#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/gemm.hpp>
#include <joule/policy/detail/im2col.hpp>
#include <joule/policy/simd.hpp>
#include <joule/policy/simd/vector_math.hpp>

namespace joule {

namespace simd_detail {

// Rows of the register tile (see gemm_blocking). -DJOULE_GEMM_ROWS=n overrides it only to measure
// another tile (docs/results.md compares 6 and 12 on AVX-512); n must leave registers for B.
#ifndef JOULE_GEMM_ROWS
#define JOULE_GEMM_ROWS (kLanes >= 16 ? 12 : 6)
#endif
// Vectors per row of the register tile; -DJOULE_GEMM_PANEL_VECTORS=v, with JOULE_GEMM_ROWS, only to
// measure another tile (docs/results.md, 2026-12-07 evening: 6 x 4 vectors on channels-last 1x1 layers).
#ifndef JOULE_GEMM_PANEL_VECTORS
#define JOULE_GEMM_PANEL_VECTORS 2
#endif

struct gemm_blocking {
  // The register tile holds kRows x kPanelVectors accumulators, plus kPanelVectors vectors of B and
  // one broadcast of A: 12 + 2 + 1 of AVX2's 16 registers, 24 + 2 + 1 of AVX-512's 32. The taller
  // AVX-512 tile halves the loads per FMA (14 per 24 FMAs against 8 per 12).
  static constexpr std::int64_t kRows = JOULE_GEMM_ROWS;                   // rows of the register tile
  static constexpr std::int64_t kPanelVectors = JOULE_GEMM_PANEL_VECTORS;  // vectors per row of the register tile
  static constexpr std::int64_t kPanel = kPanelVectors * kLanes;
  static constexpr std::int64_t kKc = 256;  // depth of a packed block (A rows stay in L1)
  static constexpr std::int64_t kNc = 512;  // columns of a packed block (B block stays in L2)
};

/**
 * @brief Where rows [pc, pc + kc) of panel @p panel (columns [panel · kPanel, + kPanel)) start in a
 * B packed ahead of time (gemm_b_packing<simd>) with @p panels panels over depth @p k.
 *
 * The layout is the one gemm_block packs per call, kept for the whole matrix: panels grouped by
 * kNc columns; within a group, one slab per k block of kKc rows, holding that block of each of
 * the group's panels one after another. A k block of a column group is then one contiguous run
 * (512 KB), as the per-call packing makes it. Panel after panel over the whole depth measured
 * slower on BERT's ffn_down (k = 3072): its 16 panels of a block, 384 KB apart, fell into the
 * same L2 sets.
 */
constexpr std::int64_t packed_panel_offset(std::int64_t k, std::int64_t panels, std::int64_t panel, std::int64_t pc,
                                           std::int64_t kc) noexcept {
  constexpr std::int64_t kGroup = gemm_blocking::kNc / gemm_blocking::kPanel;  // panels per column group
  const std::int64_t group = panel / kGroup, in_group = std::min(kGroup, panels - group * kGroup);
  return (group * kGroup * k + pc * in_group + panel % kGroup * kc) * gemm_blocking::kPanel;
}

/**
 * @brief Packs B[pc : pc + kc, jc : jc + nc] into kPanel-wide, zero-padded panels.
 *
 * Packing is pure memory traffic, and on the convolutions' GEMMs (m = output channels, often 64)
 * each packed float feeds only m FMAs: a scalar copy loop cost a fifth of the GEMM. Full panels are
 * copied a vector at a time. B transposed stays a scalar transpose: xsimd 8.1's gather on AVX-512
 * falls back to building a mask lane by lane, which measured slower than the scalar loop.
 */
inline void pack_b(const gemm_op& op, std::int64_t pc, std::int64_t kc, std::int64_t jc, std::int64_t nc,
                   float* packed) {
  constexpr std::int64_t kPanel = gemm_blocking::kPanel;
  constexpr std::int64_t kV = gemm_blocking::kPanelVectors;
  const std::int64_t full_panels = nc / kPanel;
  if (op.b_rows) {
    // B made on demand (a convolution's im2col rows): each row of the block is made in L1, then
    // dealt into the panels, zero-padded to a whole panel.
    alignas(64) float row[gemm_blocking::kNc + kPanel];
    const std::int64_t panels = (nc + kPanel - 1) / kPanel;
    std::fill(row + nc, row + panels * kPanel, 0.f);
    for (std::int64_t p = 0; p < kc; ++p) {
      op.b_rows(op.b_source, pc + p, jc, nc, row);
      for (std::int64_t q = 0; q < panels; ++q)
#pragma GCC unroll 4
        for (std::int64_t v = 0; v < kV; ++v)
          batch::load_aligned(row + q * kPanel + v * kLanes).store_aligned(packed + (q * kc + p) * kPanel + v * kLanes);
    }
    return;
  }
  if (!op.trans_b) {
    // Row by row, so that B is read in long contiguous runs the hardware prefetcher follows (a
    // panel at a time would read kc rows kPanel floats each, a stride the prefetcher loses).
    for (std::int64_t p = 0; p < kc; ++p) {
      const float* src = op.b + (pc + p) * op.ldb + jc;
      for (std::int64_t q = 0; q < full_panels; ++q)
#pragma GCC unroll 4
        for (std::int64_t v = 0; v < kV; ++v)
          batch::load_unaligned(src + q * kPanel + v * kLanes)
              .store_aligned(packed + (q * kc + p) * kPanel + v * kLanes);
    }
  }
  for (std::int64_t q = 0; q < nc; q += kPanel) {
    const std::int64_t cols = std::min(kPanel, nc - q);
    float* dst = packed + q * kc;
    if (!op.trans_b) {
      if (cols == kPanel) continue;  // packed above
      const float* src = op.b + pc * op.ldb + jc + q;
      for (std::int64_t p = 0; p < kc; ++p, src += op.ldb)
#pragma GCC unroll 4
        for (std::int64_t v = 0; v < kV; ++v)
          load_first(src + v * kLanes, std::clamp<std::int64_t>(cols - v * kLanes, 0, kLanes))
              .store_aligned(dst + p * kPanel + v * kLanes);
    } else {
      for (std::int64_t j = 0; j < kPanel; ++j) {
        if (j < cols) {
          const float* src = op.b + (jc + q + j) * op.ldb + pc;
          for (std::int64_t p = 0; p < kc; ++p) dst[p * kPanel + j] = src[p];
        } else {
          for (std::int64_t p = 0; p < kc; ++p) dst[p * kPanel + j] = 0.f;
        }
      }
    }
  }
}

/** @brief Where a register tile goes and what to do with it when it gets there. */
struct tile_target {
  float* c = nullptr;
  std::int64_t ldc = 0, row = 0, col = 0, rows = 0, cols = 0;
  bool first_k_block = false, last_k_block = false;
  /**
   * @brief Where in the next panel of B to prefetch into L2 while this one is multiplied, or null.
   * Set over a B packed ahead of time, whose panels come from memory, and waiting on each line
   * would stall the FMAs (packing per call read them with many loads in flight instead): row tile
   * by row tile, the first tile fetches the whole next panel; panel by panel (kPanelOuterRows),
   * each tile of the panel a share of it.
   */
  const float* prefetch_b = nullptr;
  std::int64_t prefetch_b_lines = 0;  ///< cache lines from prefetch_b, spread over the tile's k steps
  /**
   * @brief The next row tile's A at this k block (prefetch_a_rows rows of stride lda; packed, kRows
   * cache lines per kLine steps; read transposed, prefetch_a_rows columns), to prefetch while the
   * first panel is multiplied, or null. A read in place is a layer's weights: at batch 1 they come
   * from memory, once per layer (MobileNetV2's last 1x1 layer, 1280 x 320 weights over two 7x7
   * panels: 34% slower with cold weights than with cached ones; the prefetch takes 21% off the
   * cold time). A packed is a convolution's weights packed ahead, or a Linear's input packed per
   * call (BERT at 8 sequences: 3 MB, out of L2 by the time the next k block comes back to it). A
   * read transposed is a layer's input with its pixels as rows (conv2d_pixel_rows.hpp), a line or
   * two per step a plane (196 floats on 14 x 14) apart, half of it last written by the other core
   * at two threads: ResNet-50's 14 x 14 1x1 layers at batch 1 took 0.74-0.90 of the time with the
   * prefetch (in the model, bench/ab/resnet50_in_model.sh), the model 0.968 and 0.976
   * (scripts/ab-models.sh); one thread an image (batch 2) and MobileNetV2 were level.
   */
  const float* prefetch_a = nullptr;
  std::int64_t prefetch_a_rows = 0;
  /**
   * @brief Columns of the tile in C's image at c, when its columns run on into the next image's
   * (gemm_op::images), or 0: columns [split, cols) are that next image's [0, cols - split), its C
   * at c_next and its residual at residual_next (both at the tile's first row, column 0).
   */
  std::int64_t split = 0;
  float* c_next = nullptr;
  const float* residual_next = nullptr;
  /**
   * @brief Full panels of B, one after another kc · kPanel floats apart, to multiply by the same A
   * in one call: the tile, then the tile kPanel columns on, and so on (gemm_block's row_panel_run).
   * Only the first takes prefetch_a; none may take prefetch_b or split.
   */
  std::int64_t panels = 1;
  /**
   * @brief Row tiles of Rows rows, one after another, to multiply by the same panels in one call:
   * the tile, then the tile Rows rows down (its A Rows rows on, or the next kRows-row tile of an A
   * packed ahead), and so on (gemm_block's row_tile_run). They share prefetch_b_lines evenly.
   */
  std::int64_t row_tiles = 1;
  /** @brief B's row stride when the micro-kernel reads B in place (b_read::in_place, in_place_packing). */
  std::int64_t ldb = 0;
  /** @brief Where b_read::in_place_packing copies the panels it reads, packed, for the row tiles after. */
  float* pack_b_to = nullptr;
};

/**
 * @brief Stores a whole tile (a full panel wide) in registers: the partial sum of a k block before
 * the last (@p Finish false: no epilogue), or the finished tile of a GEMM without alpha (bias along
 * @p Axis, residual, activation @p Act). Every choice of the generic epilogue_vector() is made once
 * per tile, not per vector. Convolutions with few input channels (MobileNetV2's 1x1 layers: k of 16
 * to 96) spend as long on the epilogue of a tile as on its multiply-adds; GEMMs deeper than kKc
 * (BERT's linear layers, ResNet-50's 3x3 layers) store a partial sum per k block, and through
 * store_tile_generic each cost a copy of the tile out and back.
 */
template <std::int64_t Rows, bool Finish, activation Act, bias_axis Axis>
[[gnu::always_inline]] inline void store_full_tile(const gemm_op& op, batch (&acc)[Rows][gemm_blocking::kPanelVectors],
                                                   const tile_target& t) noexcept {
  constexpr std::int64_t kV = gemm_blocking::kPanelVectors;
  const float* residual = Finish && op.ep.residual ? op.ep.residual + t.row * op.ep.ldr + t.col : nullptr;
  const bool bias = Finish && op.ep.bias;
  batch column_bias[kV];
#pragma GCC unroll 4
  for (std::int64_t v = 0; v < kV; ++v)
    column_bias[v] =
        Axis == bias_axis::column && bias ? batch::load_unaligned(op.ep.bias + t.col + v * kLanes) : batch(0.f);
#pragma GCC unroll 16
  for (std::int64_t r = 0; r < Rows; ++r) {
    float* c_row = t.c + r * t.ldc;
    const batch row_bias = Axis == bias_axis::row && bias ? batch(op.ep.bias[t.row + r]) : batch(0.f);
#pragma GCC unroll 4
    for (std::int64_t v = 0; v < kV; ++v) {
      batch sum = acc[r][v];
      if (!t.first_k_block) sum += batch::load_unaligned(c_row + v * kLanes);
      if constexpr (Finish) {
        if (bias) sum += Axis == bias_axis::row ? row_bias : column_bias[v];
        if (residual) sum += batch::load_unaligned(residual + r * op.ep.ldr + v * kLanes);
        sum = activate(Act, sum);
      }
      sum.store_unaligned(c_row + v * kLanes);
    }
  }
}

/** @brief store_full_tile's finished tile for a run-time activation it has a kernel for; false if none. */
template <std::int64_t Rows, bias_axis Axis>
[[gnu::always_inline]] inline bool store_finished_tile(const gemm_op& op,
                                                       batch (&acc)[Rows][gemm_blocking::kPanelVectors],
                                                       const tile_target& t) noexcept {
  switch (op.ep.act) {
    case activation::none:
      store_full_tile<Rows, true, activation::none, Axis>(op, acc, t);
      return true;
    case activation::relu:
      store_full_tile<Rows, true, activation::relu, Axis>(op, acc, t);
      return true;
    case activation::relu6:
      store_full_tile<Rows, true, activation::relu6, Axis>(op, acc, t);
      return true;
    default:  // GELU's erf and the like: out of line (store_tile_generic)
      return false;
  }
}

/**
 * @brief Stores a tile with any epilogue, or a partial sum (a k block before the last), and the
 * ragged last panel: the generic counterpart of store_full_tile.
 *
 * Out of line on purpose. Inlined into micro_kernel, its epilogue_vector() (GELU's erf, tanh, the
 * bias along either axis) raised the register pressure of the whole function, and GCC 12 kept
 * one of the 12-row tile's 24 accumulators on the stack through the k loop: a load and a store
 * around one FMA of every step (objdump of micro_kernel<12, ...>). Taking the tile as an array
 * costs 24 stores and loads per tile; the loop now has every accumulator in a register. ResNet-50
 * (scripts/ab-models.sh, medians of per-round ratios): 0.97-0.98 at batch 1, 16 and 64.
 */
template <std::int64_t Rows>
[[gnu::noinline]] void store_tile_generic(const gemm_op& op, const batch (&acc)[Rows][gemm_blocking::kPanelVectors],
                                          const tile_target& t) {
  constexpr std::int64_t kV = gemm_blocking::kPanelVectors;
  constexpr std::int64_t kPanel = gemm_blocking::kPanel;
  if (t.cols == kPanel) {
    // C is written once, never re-read.
#pragma GCC unroll 16
    for (std::int64_t r = 0; r < Rows; ++r) {
      float* c_row = t.c + r * t.ldc;
#pragma GCC unroll 4
      for (std::int64_t v = 0; v < kV; ++v) {
        batch sum = acc[r][v];
        if (!t.first_k_block) sum += batch::load_unaligned(c_row + v * kLanes);
        if (t.last_k_block) sum = epilogue_vector(op.ep, op.alpha, sum, t.row + r, t.col + v * kLanes);
        sum.store_unaligned(c_row + v * kLanes);
      }
    }
    return;
  }
  // A ragged last panel: the same, loading and storing only the columns that exist.
#pragma GCC unroll 16
  for (std::int64_t r = 0; r < Rows; ++r) {
    float* c_row = t.c + r * t.ldc;
#pragma GCC unroll 4
    for (std::int64_t v = 0; v < kV; ++v) {
      const std::int64_t count = std::clamp<std::int64_t>(t.cols - v * kLanes, 0, kLanes);
      if (count == 0) continue;
      batch sum = acc[r][v];
      if (!t.first_k_block) sum += load_first(c_row + v * kLanes, count);
      if (t.last_k_block) sum = epilogue_vector(op.ep, op.alpha, sum, t.row + r, t.col + v * kLanes, count);
      store_first(sum, c_row + v * kLanes, count);
    }
  }
}

/**
 * @brief Stores a tile whose columns run from one image's C into the next's (tile_target::split):
 * each vector under two lane masks, one per image, the partial sum of the k blocks before loaded
 * the same way, and the epilogue on the last k block. Out of line, as store_tile_generic is.
 * These panels went through a buffer (straddling_panel): a copy of the partial sum in and of the
 * tile out, per image and k block, and a second pass for the epilogue; ResNet-50's 7 x 7 layers at
 * 8 images a call straddle in 7 of their 13 panels.
 */
template <std::int64_t Rows>
[[gnu::noinline]] void store_split_tile(const gemm_op& op, const batch (&acc)[Rows][gemm_blocking::kPanelVectors],
                                        const tile_target& t) {
  constexpr std::int64_t kV = gemm_blocking::kPanelVectors;
  const bool finish = t.last_k_block;
#pragma GCC unroll 4
  for (std::int64_t v = 0; v < kV; ++v) {
    const std::int64_t lo = v * kLanes, count = std::clamp<std::int64_t>(t.cols - lo, 0, kLanes);
    if (count == 0) continue;
    const std::int64_t in_first = std::clamp<std::int64_t>(t.split - lo, 0, count);
    const std::uint32_t first = (1u << in_first) - 1u, second = ((1u << count) - 1u) & ~first;
    // The next image's column at lane 0 (negative where the first lanes are the first image's).
    const std::int64_t next_col = lo - t.split;
    batch column_bias(0.f);
    if (finish && op.ep.bias && op.ep.axis == bias_axis::column)
      column_bias = load_lanes(op.ep.bias + t.col + lo, first) + load_lanes(op.ep.bias + next_col, second);
#pragma GCC unroll 16
    for (std::int64_t r = 0; r < Rows; ++r) {
      float* c_first = t.c + r * t.ldc + lo;
      float* c_second = t.c_next + r * t.ldc + next_col;
      batch sum = acc[r][v];
      if (!t.first_k_block) sum += load_lanes(c_first, first) + load_lanes(c_second, second);
      if (finish) {
        if (op.alpha != 1.f) sum *= batch(op.alpha);
        if (op.ep.bias) sum += op.ep.axis == bias_axis::row ? batch(op.ep.bias[t.row + r]) : column_bias;
        if (op.ep.residual)
          sum += load_lanes(op.ep.residual + (t.row + r) * op.ep.ldr + t.col + lo, first) +
                 load_lanes(t.residual_next + r * op.ep.ldr + next_col, second);
        sum = activate(op.ep.act, sum);
      }
      store_lanes(sum, c_first, first);
      store_lanes(sum, c_second, second);
    }
  }
}

/**
 * @brief Hands a finished tile to gemm_op::tile_sink: the tile plus C's partial sum of the k blocks
 * before (unless this is the first), through an aligned buffer in L1. Out of line, as
 * store_tile_generic is, so that the k loop keeps every accumulator in a register.
 */
template <std::int64_t Rows>
[[gnu::noinline]] void sink_tile(const gemm_op& op, const batch (&acc)[Rows][gemm_blocking::kPanelVectors],
                                 const tile_target& t) {
  constexpr std::int64_t kV = gemm_blocking::kPanelVectors, kPanel = gemm_blocking::kPanel;
  alignas(64) float tile[Rows * kPanel];
#pragma GCC unroll 16
  for (std::int64_t r = 0; r < Rows; ++r)
#pragma GCC unroll 4
    for (std::int64_t v = 0; v < kV; ++v) {
      const std::int64_t count = std::clamp<std::int64_t>(t.cols - v * kLanes, 0, kLanes);
      batch sum = acc[r][v];
      if (!t.first_k_block && count > 0) sum += load_first(t.c + r * t.ldc + v * kLanes, count);
      sum.store_aligned(tile + r * kPanel + v * kLanes);
    }
  op.tile_sink(op.sink_target, tile, kPanel, t.row, t.col, Rows, t.cols);
}

/**
 * @brief How the micro-kernel reads A: rows of stride lda (as stored), columns of stride lda
 * (gemm_op::trans_a: a convolution's columns matrix, the Rows values broadcast at each step
 * neighbouring pixels), or packed ahead (gemm_op::a_packed: each step's Rows values are one
 * contiguous run, and a tile's A over its whole depth one stream).
 */
enum class a_layout { rows = 0, columns = 1, packed = 2 };

/**
 * @brief How the micro-kernel reads B: packed in panels (kc rows of kPanel floats), or in place,
 * rows tile_target::ldb apart (a 1x1 convolution's input, B as stored), and then perhaps copying
 * each row it reads into the packed panel for the row tiles after it (tile_target::pack_b_to).
 */
enum class b_read { packed, in_place, in_place_packing };

/**
 * @brief Accumulates a Rows x kPanel tile over kc and stores it to @p t. B comes packed; A is read
 * as @p Layout says (a_layout).
 */
template <std::int64_t Rows, bool PrefetchB, a_layout Layout, b_read BRead = b_read::packed>
[[gnu::always_inline]] inline void micro_kernel_tile(const gemm_op& op, const float* a, std::int64_t kc,
                                                     const float* packed_b, const tile_target& t) {
  constexpr std::int64_t kV = gemm_blocking::kPanelVectors;
  constexpr std::int64_t kPanel = gemm_blocking::kPanel;
  // The accumulators must live in registers: at -O2 GCC does not unroll these fixed-trip loops
  // by itself and keeps acc[][] in memory (a load and a store around every FMA), hence the pragmas.
  batch acc[Rows][kV];
#pragma GCC unroll 16
  for (std::int64_t r = 0; r < Rows; ++r)
#pragma GCC unroll 4
    for (std::int64_t v = 0; v < kV; ++v) acc[r][v] = batch(0.f);
  // After the first k block the tile adds C's partial sum, written a whole block of C ago (BERT's
  // 1024 rows x 512 columns: 2 MB, out of L2): fetched now, it arrives while the tile is summed.
  if (!t.first_k_block)
#pragma GCC unroll 16
    for (std::int64_t r = 0; r < Rows; ++r)
      for (std::int64_t line = 0; line < kPanel; line += 64 / std::int64_t{sizeof(float)})
        __builtin_prefetch(t.c + r * t.ldc + line, 1, 3);
  // A's rows as bases three rows apart: each row is then base + (0, 1 or 2) · lda, an addressing
  // mode, so the loop needs 5 general registers for A instead of 12, which GCC had partly parked
  // in vector registers (MobileNetV2 2-3% faster, alternated in one process).
  constexpr bool kRowsOfA = Layout == a_layout::rows;
  const std::int64_t lda = Layout == a_layout::packed ? gemm_blocking::kRows : op.lda;
  const float* a_rows[4];
  for (std::int64_t i = 0; i < 4; ++i) a_rows[i] = kRowsOfA && 3 * i < Rows ? a + 3 * i * lda : a;
  constexpr std::int64_t kLine = 64 / sizeof(float);
  // The lines the epilogue will touch that the loop does not: C's (written; a single k block's C
  // has not been read) and the residual's, both often from memory (a pass of 8 images' activations
  // outgrow the caches). Fetched a row of the tile at a time over the k steps, so that the stores
  // and the residual's loads at the end do not wait on them all at once.
  const float* residual = t.last_k_block && op.ep.residual ? op.ep.residual + t.row * op.ep.ldr + t.col : nullptr;
  const bool fetch_c = t.first_k_block && t.last_k_block && !op.tile_sink;  // a sink's tile never reaches C
  const std::int64_t epilogue_steps = (kc + kLine - 1) / kLine;
  constexpr bool kBInPlace = BRead != b_read::packed;
  // B read in place: its rows are prefetched this many steps ahead, as no hardware prefetcher follows
  // rows a plane apart (12.5 KB on 56 x 56); 8 steps ahead measured slower than 16 and 24 on
  // ResNet-50's 256 -> 64 and 256 -> 128 layers (build/ab/resnet50_layers 1 3).
  constexpr std::int64_t kBAhead = 24;
  // Step p of depth: B's row p times A's column p, into every accumulator.
  const auto multiply_step = [&](std::int64_t p) __attribute__((always_inline)) {
    batch b[kV];
#pragma GCC unroll 4
    for (std::int64_t v = 0; v < kV; ++v)
      b[v] = kBInPlace ? batch::load_unaligned(packed_b + p * t.ldb + v * kLanes)
                       : batch::load_aligned(packed_b + p * kPanel + v * kLanes);
    if constexpr (kBInPlace) {
      // kBAhead rows on, into the next panel's first rows near the end of this one.
      const float* ahead =
          p + kBAhead < kc ? packed_b + (p + kBAhead) * t.ldb : packed_b + kPanel + (p + kBAhead - kc) * t.ldb;
      __builtin_prefetch(ahead, 0, 3);
      __builtin_prefetch(ahead + kPanel - 1, 0, 3);
    }
    if constexpr (BRead == b_read::in_place_packing) {
#pragma GCC unroll 4
      for (std::int64_t v = 0; v < kV; ++v) b[v].store_aligned(t.pack_b_to + p * kPanel + v * kLanes);
    }
#pragma GCC unroll 16
    for (std::int64_t r = 0; r < Rows; ++r) {
      const batch a_rp = kRowsOfA                     ? batch(a_rows[r / 3][(r % 3) * lda + p])
                         : Layout == a_layout::packed ? batch(a[p * gemm_blocking::kRows + r])
                                                      : batch(a[p * lda + r]);
#pragma GCC unroll 4
      for (std::int64_t v = 0; v < kV; ++v) acc[r][v] = xsimd::fma(a_rp, b[v], acc[r][v]);
    }
  };
  // Each line's share of the epilogue's rows and of B's prefetched lines starts where the last
  // line's ended: one division per line for each, not two (ResNet-50 and MobileNetV2 at batch 1,
  // whose tiles are a few lines deep, 0.987-0.988 of the time: scripts/ab-models.sh).
  std::int64_t step = 0, epilogue_row = 0, b_line = 0;
  for (std::int64_t p0 = 0; p0 < kc; p0 += kLine, ++step) {
    const std::int64_t epilogue_end = Rows * (step + 1) / epilogue_steps;
    for (std::int64_t r = std::exchange(epilogue_row, epilogue_end); r < epilogue_end; ++r)
      for (std::int64_t line = 0; line < kPanel; line += kLine) {
        if (fetch_c) __builtin_prefetch(t.c + r * t.ldc + line, 1, 3);
        if (residual) __builtin_prefetch(residual + r * op.ep.ldr + line, 0, 3);
      }
    // One cache line of each row of the next tile's A per line of this one (packed: the next tile's
    // kRows lines for these kLine steps, as many as this tile reads; columns: the lines of the
    // next tile's prefetch_a_rows pixels at each of these steps, p · lda apart, one or two a step).
    const std::int64_t p1 = std::min(kc, p0 + kLine);
    if constexpr (Layout == a_layout::columns) {
      if (t.prefetch_a)
        for (std::int64_t p = p0; p < p1; ++p) {
          __builtin_prefetch(t.prefetch_a + p * lda, 0, 3);
          __builtin_prefetch(t.prefetch_a + p * lda + t.prefetch_a_rows - 1, 0, 3);
        }
    } else {
      for (std::int64_t r = 0; r < t.prefetch_a_rows; ++r)
        __builtin_prefetch(
            Layout == a_layout::packed ? t.prefetch_a + p0 * lda + r * kLine : t.prefetch_a + r * lda + p0, 0, 3);
    }
    if constexpr (PrefetchB)
      for (std::int64_t end = t.prefetch_b_lines * p1 / kc, l = std::exchange(b_line, end); l < end; ++l)
        __builtin_prefetch(t.prefetch_b + l * kLine, 0, 2);
    // A whole line's kLine steps are unrolled: each step's loads of A and B are then at constant
    // offsets from the line's start, and the 16 steps one straight run of 384 multiply-adds. As a
    // loop of one step, BERT's linear layers at 8 sequences took 1.06-1.09x the time (unrolled by 4
    // or 8: 1.03 and 1.05x; Emerald Rapids, one thread and two: docs/results.md).
    if (p1 - p0 == kLine) {
#pragma GCC unroll 16
      for (std::int64_t i = 0; i < kLine; ++i) multiply_step(p0 + i);
    } else {
      for (std::int64_t p = p0; p < p1; ++p) multiply_step(p);
    }
  }
  // The stores out of line take a copy, not acc itself: acc's address never escapes, so it stays
  // in registers.
  const auto out_of_line = [&](auto store) {
    batch out[Rows][kV];
#pragma GCC unroll 16
    for (std::int64_t r = 0; r < Rows; ++r)
#pragma GCC unroll 4
      for (std::int64_t v = 0; v < kV; ++v) out[r][v] = acc[r][v];
    store(op, out, t);
  };
  if (t.split > 0) return out_of_line(store_split_tile<Rows>);
  if (t.last_k_block && op.tile_sink) return out_of_line(sink_tile<Rows>);
  if (t.cols == kPanel) {
    if (!t.last_k_block) return store_full_tile<Rows, false, activation::none, bias_axis::row>(op, acc, t);
    if (op.alpha == 1.f &&
        (op.ep.bias && op.ep.axis == bias_axis::column ? store_finished_tile<Rows, bias_axis::column>(op, acc, t)
                                                       : store_finished_tile<Rows, bias_axis::row>(op, acc, t)))
      return;
  }
  out_of_line(store_tile_generic<Rows>);
}

/**
 * @brief micro_kernel_tile for each of @p t's panels (tile_target::panels). A tile a few lines
 * deep pays for the call and its set-up out of few multiply-adds: on MobileNetV2's 16 -> 96 layer
 * at 112 x 112 (k = 16, one line) a fifth of micro_kernel<6>'s samples fell before its k loop (Zen
 * 1, perf annotate). A run of panels pays them once: that layer one thread 0.84-0.89 of the time.
 */
template <std::int64_t Rows, bool PrefetchB, a_layout Layout, b_read BRead = b_read::packed>
inline void micro_kernel(const gemm_op& op, const float* a, std::int64_t kc, const float* packed_b,
                         const tile_target& t) {
  constexpr std::int64_t kPanel = gemm_blocking::kPanel, kLine = 64 / sizeof(float);
  const std::int64_t a_step = Layout == a_layout::packed    ? gemm_blocking::kRows * op.k
                              : Layout == a_layout::columns ? Rows
                                                            : Rows * op.lda;
  tile_target tile = t;
  for (std::int64_t i = 0; i < t.row_tiles; ++i) {
    const std::int64_t first = t.prefetch_b_lines * i / t.row_tiles;  // tile i's share of the prefetch
    tile.prefetch_b = t.prefetch_b ? t.prefetch_b + first * kLine : nullptr;
    tile.prefetch_b_lines = t.prefetch_b_lines * (i + 1) / t.row_tiles - first;
    tile.c = t.c + i * Rows * t.ldc;
    tile.row = t.row + i * Rows;
    tile_target panel = tile;
    for (std::int64_t q = 0; q < t.panels; ++q) {
      micro_kernel_tile<Rows, PrefetchB, Layout, BRead>(
          op, a + i * a_step, kc, packed_b + q * (BRead == b_read::packed ? kc : 1) * kPanel, panel);
      if constexpr (BRead == b_read::in_place_packing) panel.pack_b_to += kc * kPanel;
      panel.c += kPanel;
      panel.col += kPanel;
      panel.prefetch_a = nullptr;  // fetched while the first panel was multiplied
      panel.prefetch_a_rows = 0;
    }
  }
}

using micro_kernel_fn = void (*)(const gemm_op&, const float*, std::int64_t, const float*, const tile_target&);

template <bool PrefetchB, a_layout Layout, b_read BRead, std::int64_t... Rows>
constexpr std::array<micro_kernel_fn, sizeof...(Rows)> micro_kernels(std::integer_sequence<std::int64_t, Rows...>) {
  return {&micro_kernel<Rows + 1, PrefetchB, Layout, BRead>...};
}

/**
 * @brief The micro-kernel for a tile of @p rows rows, A packed, B read in place (tile_target::ldb),
 * copying it packed to tile_target::pack_b_to when @p packing.
 */
inline micro_kernel_fn micro_kernel_b_in_place(std::int64_t rows, bool packing) noexcept {
  using rows_sequence = std::make_integer_sequence<std::int64_t, gemm_blocking::kRows>;
  static constexpr std::array<std::array<micro_kernel_fn, gemm_blocking::kRows>, 2> kernels{
      micro_kernels<false, a_layout::packed, b_read::in_place>(rows_sequence{}),
      micro_kernels<false, a_layout::packed, b_read::in_place_packing>(rows_sequence{})};
  return kernels[packing ? 1 : 0][rows - 1];
}

/**
 * @brief The micro-kernel for a tile of @p rows rows (1 .. kRows: the full tile, or the last rows
 * of C), with or without prefetching the next panel of B (tile_target::prefetch_b), reading A as
 * @p layout says.
 */
inline micro_kernel_fn micro_kernel_for(std::int64_t rows, bool prefetch_b, a_layout layout) noexcept {
  using rows_sequence = std::make_integer_sequence<std::int64_t, gemm_blocking::kRows>;
  static constexpr std::array<std::array<micro_kernel_fn, gemm_blocking::kRows>, 6> kernels{
      micro_kernels<false, a_layout::rows, b_read::packed>(rows_sequence{}),
      micro_kernels<true, a_layout::rows, b_read::packed>(rows_sequence{}),
      micro_kernels<false, a_layout::columns, b_read::packed>(rows_sequence{}),
      micro_kernels<true, a_layout::columns, b_read::packed>(rows_sequence{}),
      micro_kernels<false, a_layout::packed, b_read::packed>(rows_sequence{}),
      micro_kernels<true, a_layout::packed, b_read::packed>(rows_sequence{})};
  return kernels[2 * static_cast<int>(layout) + (prefetch_b ? 1 : 0)][rows - 1];
}

/**
 * @brief One panel of a GEMM over images (gemm_op::images) whose columns [first_column, first_column
 * + width) run from one image into the next: the tile is accumulated in a buffer, then each image's
 * columns are copied to that image's C, finished (epilogue_row) after the last k block.
 *
 * Images follow one another without padding (gemm_image_columns_align<simd> is 1): rounded up to
 * whole panels, ResNet-50's 7 x 7 layers would compute 64 columns per image for 49 (23% of their
 * multiply-adds wasted) and its 14 x 14 ones 224 for 196. Most panels then still fall within one
 * image; the few that do not pay two copies of a 12 x 32 tile per k block.
 */
inline void straddling_panel(const gemm_op& op, micro_kernel_fn kernel, const float* a, std::int64_t kc,
                             const float* panel, std::int64_t row, std::int64_t rows, std::int64_t first_column,
                             std::int64_t width, bool first_k_block, bool last_k_block) {
  constexpr std::int64_t kPanel = gemm_blocking::kPanel;
  alignas(64) float tile[gemm_blocking::kRows * kPanel] = {};
  // body(image, column within the image, offset in the tile, count) for each image's run of columns.
  auto for_each_image = [&](auto&& body) {
    for (std::int64_t g = first_column, end = first_column + width; g < end;) {
      const std::int64_t image = g / op.image_columns, j = g - image * op.image_columns;
      const std::int64_t run = std::min(op.image_columns - j, end - g);
      const std::int64_t real = std::clamp<std::int64_t>(op.n - j, 0, run);  // past n: padding
      if (real > 0) body(image, j, g - first_column, real);
      g += run;
    }
  };
  if (!first_k_block)  // the sums of the k blocks before
    for_each_image([&](std::int64_t image, std::int64_t j, std::int64_t offset, std::int64_t count) {
      const float* c = op.c + image * op.c_image_stride + row * op.ldc + j;
      for (std::int64_t r = 0; r < rows; ++r) detail::copy_floats(c + r * op.ldc, count, tile + r * kPanel + offset);
    });
  // Not the last k block for the kernel: it stores the raw sums, the epilogue comes per image below.
  const tile_target t{tile, kPanel, row, 0, rows, kPanel, first_k_block, false, nullptr, 0, nullptr, 0};
  kernel(op, a, kc, panel, t);
  for_each_image([&](std::int64_t image, std::int64_t j, std::int64_t offset, std::int64_t count) {
    float* c = op.c + image * op.c_image_stride + row * op.ldc + j;
    epilogue ep = op.ep;
    if (ep.residual) ep.residual += image * op.c_image_stride;
    for (std::int64_t r = 0; r < rows; ++r) {
      detail::copy_floats(tile + r * kPanel + offset, count, c + r * op.ldc);
      if (last_k_block) epilogue_row(ep, op.alpha, c + r * op.ldc, row + r, j, count);
    }
  });
}

/**
 * @brief Rows of C up to which gemm_block runs a B packed ahead panel by panel (every row tile of a
 * panel, then the next panel) rather than row tile by row tile. A B packed ahead is a layer's
 * weights, read from memory once per call: row tile by row tile, the first tile streams each block
 * from memory while the others read it from L2, so a call's memory traffic comes in bursts at a
 * fifth (ResNet-50's 7 x 7 layers at batch 1: 5 row tiles) to an eleventh of the time and outruns
 * the bandwidth there. Panel by panel, each panel is fetched while the previous one is multiplied by
 * all the row tiles, a share of it per tile: a steady stream. A is then read once per panel: a k
 * block of up to kPanelOuterRows rows (256 KB) stays in L2.
 */
inline constexpr std::int64_t kPanelOuterRows = 256;

/**
 * @brief How rows [first, end) of C are cut into register tiles: tile r starts at start(r) and has
 * rows(r) rows (0 past the last tile).
 */
struct row_tiling {
  std::int64_t first = 0, end = 0, count = 0;
  std::int64_t base = gemm_blocking::kRows, longer = 0;  ///< tile r has base + (r < longer) rows, end permitting
  std::int64_t start(std::int64_t r) const noexcept { return first + r * base + std::min(r, longer); }
  std::int64_t rows(std::int64_t r) const noexcept {
    return r < count ? std::min(base + (r < longer ? 1 : 0), end - start(r)) : 0;
  }
};

/** @brief Rows below which a last row tile is too short to keep the FMA units busy (tile_rows). */
inline constexpr std::int64_t kShortTailRows = 4;

/**
 * @brief Whether @p rows fill whole kRows-row tiles or leave a last one of kShortTailRows or more:
 * the rows an A packed in tiles (pack_a_applies, conv2d_pixel_rows' columns_into_tiles) may have,
 * since packed tiles cannot be evened out (tile_rows).
 */
inline bool fills_row_tiles(std::int64_t rows) noexcept {
  const std::int64_t tail = rows % gemm_blocking::kRows;
  return tail == 0 || tail >= kShortTailRows;
}

/**
 * @brief kRows rows a tile and a ragged last one; but where that last one would have fewer than
 * kShortTailRows rows and A is not packed in kRows-row tiles, the same number of tiles evened out. A
 * tile of 1 to 3 rows has 2 to 6 accumulators, fewer than the FMA units' latency times their count
 * (8 on Zen 5), and waits on each step: ResNet-50's 7 x 7 layers at batch 1, with their 49 pixels
 * as rows, were 4 tiles of 12 and one of 1 that took a third of a full tile's time; evened out,
 * 10, 10, 10, 10 and 9.
 */
inline row_tiling tile_rows(const gemm_op& op, std::int64_t first, std::int64_t end) noexcept {
  constexpr std::int64_t kRows = gemm_blocking::kRows;
  row_tiling t{first, end, (end - first + kRows - 1) / kRows};
  if (!op.a_packed && !fills_row_tiles(end - first) && t.count > 1) {
    t.base = (end - first) / t.count;
    t.longer = (end - first) % t.count;
  }
  return t;
}

/** @brief Rows of C up to which gemm_block packs B as its first row tile reads it (b_in_place_applies). */
inline constexpr std::int64_t kPackWhileReadingRows = 128;

/**
 * @brief Whether gemm_block's first row tile of each block reads B where it lies, rows ldb apart,
 * and copies it into the packed panels as it goes (b_read::in_place_packing; a single row tile
 * only reads it, b_read::in_place), instead of a pass that packs the block first: B as stored (a
 * 1x1 convolution's input at batch 1), A packed, at most kPackWhileReadingRows rows. Only a ragged
 * last panel is packed ahead. The packing pass reads every float of B once more, from L2 or
 * further, and writes it, for 2 · m multiply-adds: on few rows it costs a sizeable share.
 * ResNet-50's 1x1 layers at batch 1 (build/ab/resnet50_layers 1 0, two threads; the Intel Xeon of
 * 2026-12-07): 256 -> 64 on 56 x 56 0.386-0.396 -> 0.329-0.345 ms, 256 -> 128 0.69-0.75 ->
 * 0.63-0.67, 512 -> 128 on 28 x 28 0.346-0.358 -> 0.318-0.359; MobileNetV2 at batch 1 0.961 and
 * 0.965 of the time (scripts/ab-models.sh, 100 rounds), ResNet-50 0.996. On more rows the copy is
 * spread over more tiles and gains less than reading B a plane apart costs: with every row count,
 * ResNet-50 read 1.003-1.009 (its 64 -> 256 layers slower). Only the GEMM kernel itself asks for
 * it: Winograd's GEMMs (conv2d_winograd.hpp, A packed, up to 128 output channels) made ResNet-50
 * at batch 64 1.016 of the time with it (scripts/ab-models.sh, 10 rounds), level at batch 1.
 */
inline bool b_in_place_applies(const gemm_op& op) noexcept {
  return op.m <= kPackWhileReadingRows && op.a_packed && !op.b_panel_width && !op.b_rows && !op.trans_b &&
         op.images <= 1 && !op.tile_sink;
}

/**
 * @brief Computes C[i0:i1, j0:j1] (j0 on a panel boundary), packing B blocks into @p packed
 * (kKc * kNc floats), or reading them in place when B came packed (op.b_panel_width). With
 * @p first_tile_packs_b (b_in_place_applies), the first row tile of each block packs B as it reads
 * it; otherwise the block is packed before the tiles run.
 */
inline void gemm_block(const gemm_op& op, std::int64_t i0, std::int64_t i1, std::int64_t j0, std::int64_t j1,
                       float* packed, bool first_tile_packs_b = false) {
  using blk = gemm_blocking;
  constexpr std::int64_t kLine = 64 / sizeof(float);
  // The op with C and the residual moved to the image whose columns are being computed
  // (gemm_op::images), updated only when the image changes.
  gemm_op target = op;
  std::int64_t target_image = 0;
  const bool packed_ahead = op.b_panel_width != 0;
  const bool panel_outer = packed_ahead && i1 - i0 <= kPanelOuterRows;
  const std::int64_t all_panels = (op.n + blk::kPanel - 1) / blk::kPanel;
  const row_tiling tiling = tile_rows(op, i0, i1);
  const std::int64_t row_tiles = tiling.count;
  const a_layout layout = op.a_packed ? a_layout::packed : op.trans_a ? a_layout::columns : a_layout::rows;
  // Rows [pc, pc + kc) of B's panel of columns [column, column + kPanel), B packed ahead.
  auto packed_panel = [&](std::int64_t column, std::int64_t pc, std::int64_t kc) {
    return op.b + packed_panel_offset(op.k, all_panels, column / blk::kPanel, pc, kc);
  };
  for (std::int64_t jc = j0; jc < j1; jc += blk::kNc) {
    const std::int64_t nc = std::min(blk::kNc, j1 - jc);
    for (std::int64_t pc = 0; pc < op.k; pc += blk::kKc) {
      const std::int64_t kc = std::min(blk::kKc, op.k - pc);
      // Columns [jc, jc + in_place) are read where they lie (b_in_place_applies): whole panels.
      const std::int64_t in_place = first_tile_packs_b ? nc / blk::kPanel * blk::kPanel : 0;
      if (!packed_ahead && in_place < nc) pack_b(op, pc, kc, jc + in_place, nc - in_place, packed + in_place * kc);
      // Rows [pc, pc + kc) of the panel of columns [jc + q, jc + q + kPanel).
      auto panel_at = [&](std::int64_t q) { return packed_ahead ? packed_panel(jc + q, pc, kc) : packed + q * kc; };
      // Row tile [ir, ir + kRows) x panel q, prefetching prefetch_b_lines lines from prefetch_b (B
      // packed ahead), and the next row tile's A when prefetch_a_next says so.
      // Forced inline: outlined (GCC did so once the split store's arguments were added), it made
      // ResNet-50 at 8 images 4.8% slower, in layers with no split panel as well.
      auto tile = [&](std::int64_t r, std::int64_t q, const float* prefetch_b, std::int64_t prefetch_b_lines,
                      bool prefetch_a_next, std::int64_t panels = 1, std::int64_t row_run = 1)
          __attribute__((always_inline)) {
        const std::int64_t ir = tiling.start(r), rows = tiling.rows(r), next_rows = tiling.rows(r + 1);
        const bool prefetch_a = prefetch_a_next && next_rows > 0;
        const float* a = op.a_packed  ? op.a + ir * op.k + pc * blk::kRows
                         : op.trans_a ? op.a + pc * op.lda + ir
                                      : op.a + ir * op.lda + pc;
        const std::int64_t a_row_stride = op.a_packed ? op.k : op.trans_a ? 1 : op.lda;  // from A's row ir to ir + 1
        const float* panel = panel_at(q);
        const bool prefetch = prefetch_b != nullptr && prefetch_b_lines > 0;
        // Column j of image `image` (gemm_op::images; image 0 and j = jc + q without images).
        const std::int64_t image = op.images > 1 ? (jc + q) / op.image_columns : 0;
        const std::int64_t j = jc + q - image * op.image_columns;
        const std::int64_t width = std::min(blk::kPanel, nc - q);
        // A panel that runs on into the next image: stored straight to both images' C when it
        // spans two and no padding (store_split_tile), else through a buffer.
        const bool straddles = op.images > 1 && j + width > op.image_columns;
        const std::int64_t split = straddles ? op.image_columns - j : 0;
        if (straddles && (op.image_columns != op.n || width - split > op.image_columns))
          return straddling_panel(op, micro_kernel_for(rows, false, layout), a, kc, panel, ir, rows, jc + q, width,
                                  pc == 0, pc + kc >= op.k);
        if (image != target_image) {
          target.c = op.c + image * op.c_image_stride;
          target.ep.residual = op.ep.residual ? op.ep.residual + image * op.c_image_stride : nullptr;
          target_image = image;
        }
        tile_target t{
            target.c + ir * op.ldc + j,
            op.ldc,
            ir,
            j,
            rows,
            straddles ? width : std::min(width, op.n - j),
            pc == 0,
            pc + kc >= op.k,
            prefetch ? prefetch_b : nullptr,
            prefetch ? prefetch_b_lines : 0,
            prefetch_a && q == 0 ? a + rows * a_row_stride : nullptr,
            prefetch_a && q == 0 ? (op.a_packed ? blk::kRows : next_rows) : 0,
            split,
            straddles ? op.c + (image + 1) * op.c_image_stride + ir * op.ldc : nullptr,
            straddles && op.ep.residual ? op.ep.residual + (image + 1) * op.c_image_stride + ir * op.ep.ldr : nullptr,
            panels,
            row_run};
        if (q < in_place && r == 0) {        // the first row tile reads B in place, and packs it for the others
          const bool packs = row_tiles > 1;  // a single row tile has no one to pack for
          t.ldb = op.ldb;
          t.pack_b_to = packs ? packed + q * kc : nullptr;
          return micro_kernel_b_in_place(rows, packs)(target, a, kc, op.b + pc * op.ldb + jc + q, t);
        }
        micro_kernel_for(rows, prefetch, layout)(target, a, kc, panel, t);
      };
      // Full panels from column q on that one micro-kernel call can take (tile_target::panels): in one
      // image's C, whole, each kc · kPanel floats after the one before; at least 1.
      auto row_panel_run = [&](std::int64_t q) {
        if (op.images > 1 || op.tile_sink) return std::int64_t{1};
        const std::int64_t full = (std::min(nc, op.n - jc) - q) / blk::kPanel;
        std::int64_t run = 1;
        while (run < full && panel_at(q + run * blk::kPanel) == panel_at(q) + run * kc * blk::kPanel) ++run;
        return run;
      };
      // Row tiles from tile r on that one micro-kernel call can take (tile_target::row_tiles): as
      // many rows each, in one image's C, and only a few lines deep (kShallowDepth); at least 1.
      // Deeper tiles have little to gain (the set-up measured 5.7% of a 64-step tile), and BERT at
      // batch 1 (k blocks of 256) read 1.02-1.03 in three A/Bs with it, within their quartiles.
      constexpr std::int64_t kShallowDepth = 128;
      auto row_tile_run = [&](std::int64_t r) {
        if (op.images > 1 || op.tile_sink || kc > kShallowDepth) return std::int64_t{1};
        std::int64_t run = 1;
        while (r + run < row_tiles && tiling.rows(r + run) == tiling.rows(r)) ++run;
        return run;
      };
      if (panel_outer) {
        // The panel after this one, which may start the next k block or the next block of columns.
        const bool next_in_k = pc + kc < op.k;
        const std::int64_t next_pc = next_in_k ? pc + kc : 0, next_kc = std::min(blk::kKc, op.k - next_pc);
        for (std::int64_t q = 0; q < nc; q += blk::kPanel) {
          const std::int64_t lines = (q + blk::kPanel < nc ? kc : next_kc) * blk::kPanel / kLine;
          const float* next = q + blk::kPanel < nc ? panel_at(q + blk::kPanel)
                              : next_in_k          ? packed_panel(jc, next_pc, next_kc)
                              : jc + blk::kNc < j1 ? packed_panel(jc + blk::kNc, 0, next_kc)
                                                   : nullptr;
          for (std::int64_t r = 0; r < row_tiles;) {
            const std::int64_t run = row_tile_run(r);
            const std::int64_t first = lines * r / row_tiles, last = lines * (r + run) / row_tiles;
            // A read transposed is the next tile's A fetched by the first panel's tiles
            // (tile_target::prefetch_a); on the later panels it is in L2, and fetching it again
            // measured 1.03x the model's time.
            tile(r, q, next ? next + first * kLine : nullptr, last - first, op.trans_a && run == 1, 1, run);
            r += run;
          }
        }
        continue;
      }
      // A convolution's A is its weights, read once per layer from memory: the next row tile's are
      // prefetched while the first panel is multiplied. A Linear's A as stored is its input, in
      // cache already (B came packed ahead), and prefetching it measured 0-2% slower on BERT;
      // packed, it is prefetched (scripts/ab-models.sh, Zen 5: BERT at 8 sequences 0.932,
      // ResNet-50 at batch 1 0.950, MobileNetV2 at batch 64 0.905).
      const bool prefetch_a = (!packed_ahead && !op.trans_a) || op.a_packed;
      for (std::int64_t r = 0; r < row_tiles; ++r)
        for (std::int64_t q = 0; q < nc;) {
          const bool prefetch = packed_ahead && r == 0 && q + blk::kPanel < nc;
          const std::int64_t panels = prefetch ? 1 : row_panel_run(q);
          tile(r, q, prefetch ? panel_at(q + blk::kPanel) : nullptr, kc * blk::kPanel / kLine, prefetch_a, panels);
          q += panels * blk::kPanel;
        }
    }
  }
}

/** @brief Rows of A up to which small_m_gemm runs instead of the packed kernel. */
inline constexpr std::int64_t kSmallRows = 4;

/**
 * @brief Whether @p threads threads share a GEMM of @p m rows, @p columns columns out by columns
 * (whole panels each) rather than by row tiles (whole tiles each): whichever costs the busiest
 * thread less, by a rough count per step of depth, in multiply-add lanes:
 *
 * - its multiply-adds, counting the padding of a last panel (32 columns) or tile (12 rows). On
 *   small planes the columns divide badly: ResNet-50's 3x3 layers on 14 x 14 pixels have 196
 *   columns, 7 panels, 224 columns computed, 4 panels for one thread and 3 for the other, where
 *   their 256 rows are 22 tiles, 11 each;
 * - kCopyCost per float of A it reads from memory (all of A once per block of kNc columns it
 *   computes, when split by columns; its own rows, once per block of all the columns, when split by
 *   rows), and per float of B it packs (its panels, or every panel), unless B came packed ahead.
 *   The 7 x 7 layers' 49 columns are 2 panels: one each, and each thread would stream all of a
 *   9.4 MB weight (ResNet-50 layer 4 at batch 1: 1.13-1.18x the time of the row split).
 *
 * A tie, within kColumnsMargin, stays with the columns (BERT's linear layers at 8 sequences).
 */
inline bool split_by_columns(std::int64_t m, std::int64_t columns, int threads, bool b_packed_ahead) noexcept {
  using blk = gemm_blocking;
  if (m < threads * blk::kRows) return true;
  constexpr double kCopyCost = 8;          // lanes of multiply-add per float copied or read from memory
  constexpr double kColumnsMargin = 1.03;  // rows must save 3%
  using detail::ceil_div;
  const std::int64_t panels = ceil_div(columns, blk::kPanel), tiles = ceil_div(m, blk::kRows);
  const std::int64_t my_columns = ceil_div(panels, threads) * blk::kPanel;  // split by columns
  const std::int64_t my_rows = ceil_div(tiles, threads) * blk::kRows;       // split by rows
  const double b_cost = b_packed_ahead ? 0 : kCopyCost;
  const double by_columns = static_cast<double>(my_columns * tiles * blk::kRows) +
                            kCopyCost * static_cast<double>(m * ceil_div(my_columns, blk::kNc)) +
                            b_cost * static_cast<double>(my_columns);
  const double by_rows = static_cast<double>(my_rows * panels * blk::kPanel) +
                         kCopyCost * static_cast<double>(std::min(m, my_rows) * ceil_div(columns, blk::kNc)) +
                         b_cost * static_cast<double>(panels * blk::kPanel);
  return by_rows * kColumnsMargin >= by_columns;
}

/** @brief Columns of C from which an A as stored is packed per call (pack_a_applies). */
inline constexpr std::int64_t kPackAColumns = 512;

/**
 * @brief Whether the simd gemm packs A per call (gemm_a_packing<simd>) before multiplying, for a C
 * of at least kPackAColumns columns: an A as stored (not packed ahead), or an A stored transposed
 * whose rows fill whole row tiles or leave a last one of at least kShortTailRows.
 *
 * Read in place, each step of the micro-kernel broadcasts one float from each of 12 rows lda
 * apart: 12 cache lines live per 16 steps, all in one L1 set when lda is a multiple of 1024
 * floats (BERT's ffn_down, ResNet-50's 1x1 layers on 1024 and 2048 channels). Packed, a step
 * reads 12 neighbouring floats and a tile's A is one sequential stream. The copy costs m · k
 * loads and stores per call against the GEMM's 2 · m · n · k flops: BERT's linear layers, packing
 * included, took 0.96-1.00 of the time (A packed ahead: 0.90-0.95). A convolution's weight comes
 * packed ahead instead (ops::conv2d_packing::channels_as_rows): ResNet-50's 3x3 layer 4 at 8
 * images took 1.03-1.06 of the time packing its 9.4 MB weight per call, 0.94-0.97 packed ahead.
 *
 * Transposed (gemm_op::trans_a: a convolution's input with its pixels as rows), a step's 12 floats
 * sit in one or two cache lines of their own, lda floats after the last step's: a tile's A over a
 * k block of 256 spans 24 KB of lines for 12 KB of floats, and with the panel of B it multiplies
 * (32 KB) outgrows L1 (48 KB), so every later panel reads both back from L2. Packed, the tile's A
 * is 12 KB in one stream. ResNet-50's 14 x 14 layers at batch 1 (build/ab/resnet50_layers 1 2,
 * weights flushed; the Intel Xeon with AVX-512 and AMX of 2026-12-07): 256 -> 1024 0.383 ->
 * 0.356-0.366 ms, the strided 512 -> 1024 downsample 0.81 -> 0.72-0.76; on one thread 256 -> 1024
 * 0.69-0.71 -> 0.62-0.65. With fewer columns the copy is spread over too few panels: 1024 -> 256
 * (8 panels) 0.332 -> 0.355-0.375 on two threads. A tile that packing leaves short (rows % 12
 * below kShortTailRows: the 7 x 7 layers' 49 pixels) would cost more than packing saves; read in
 * place, those rows are evened out over the tiles (tile_rows).
 */
inline bool pack_a_applies(const gemm_op& op, std::int64_t columns) noexcept {
  if (op.a_packed || columns < kPackAColumns) return false;
  return op.trans_a ? fills_row_tiles(op.m) : op.m > kSmallRows;
}

/**
 * @brief C[i0 : i0 + Rows, j : j + Cols] of a GEMM with B transposed ([n, k]): Rows x Cols dot
 * products along k, each a vector accumulator reduced once at the end. Raw sums, no epilogue.
 */
template <int Rows, int Cols>
inline void dot_tile(const gemm_op& op, std::int64_t i0, std::int64_t j) noexcept {
  batch acc[Rows][Cols];
#pragma GCC unroll 4
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < Cols; ++c) acc[r][c] = batch(0.f);
  const float* a = op.a + i0 * op.lda;
  const float* b = op.b + j * op.ldb;
  std::int64_t p = 0;
  for (; p + kLanes <= op.k; p += kLanes) {
    batch bv[Cols];
#pragma GCC unroll 8
    for (int c = 0; c < Cols; ++c) bv[c] = batch::load_unaligned(b + c * op.ldb + p);
#pragma GCC unroll 4
    for (int r = 0; r < Rows; ++r) {
      const batch av = batch::load_unaligned(a + r * op.lda + p);
#pragma GCC unroll 8
      for (int c = 0; c < Cols; ++c) acc[r][c] = xsimd::fma(av, bv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < Rows; ++r)
    for (int c = 0; c < Cols; ++c) {
      float sum = xsimd::hadd(acc[r][c]);
      for (std::int64_t q = p; q < op.k; ++q) sum += a[r * op.lda + q] * b[c * op.ldb + q];
      op.c[(i0 + r) * op.ldc + j + c] = sum;
    }
}

/**
 * @brief C[i0 : i0 + Rows, j : j + Vectors · kLanes] of a GEMM with B as stored ([k, n]): each row
 * of B, scaled by A[i, p], added to a register tile. Raw sums, no epilogue.
 */
template <int Rows, int Vectors>
inline void axpy_tile(const gemm_op& op, std::int64_t i0, std::int64_t j) noexcept {
  batch acc[Rows][Vectors];
#pragma GCC unroll 4
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v) acc[r][v] = batch(0.f);
  const float* a = op.a + i0 * op.lda;
  for (std::int64_t p = 0; p < op.k; ++p) {
    const float* b = op.b + p * op.ldb + j;
    batch bv[Vectors];
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v) bv[v] = batch::load_unaligned(b + v * kLanes);
#pragma GCC unroll 4
    for (int r = 0; r < Rows; ++r) {
      const batch av(a[r * op.lda + p]);
#pragma GCC unroll 4
      for (int v = 0; v < Vectors; ++v) acc[r][v] = xsimd::fma(av, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < Rows; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v) acc[r][v].store_unaligned(op.c + (i0 + r) * op.ldc + j + v * kLanes);
}

/** @brief Rows [i0, i0 + Rows), columns [j0, j1) of a small-m GEMM, epilogue included. */
template <int Rows>
inline void small_m_rows(const gemm_op& op, std::int64_t i0, std::int64_t j0, std::int64_t j1) noexcept {
  // Tiles of at most 8 accumulators, so that with B's vectors they fit AVX2's 16 registers.
  std::int64_t j = j0;
  if (op.trans_b) {
    constexpr int kCols = Rows == 1 ? 8 : Rows == 2 ? 4 : 2;
    for (; j + kCols <= j1; j += kCols) dot_tile<Rows, kCols>(op, i0, j);
    for (; j < j1; ++j) dot_tile<Rows, 1>(op, i0, j);
  } else {
    constexpr int kVectors = Rows <= 2 ? 4 : 2;
    for (; j + kVectors * kLanes <= j1; j += kVectors * kLanes) axpy_tile<Rows, kVectors>(op, i0, j);
    for (; j + kLanes <= j1; j += kLanes) axpy_tile<Rows, 1>(op, i0, j);
    for (; j < j1; ++j)  // fewer than kLanes columns left
      for (int r = 0; r < Rows; ++r) {
        float sum = 0.f;
        for (std::int64_t p = 0; p < op.k; ++p) sum += op.a[(i0 + r) * op.lda + p] * op.b[p * op.ldb + j];
        op.c[(i0 + r) * op.ldc + j] = sum;
      }
  }
  for (int r = 0; r < Rows; ++r) epilogue_row(op.ep, op.alpha, op.c + (i0 + r) * op.ldc + j0, i0 + r, j0, j1 - j0);
}

/** @brief Columns [j0, j1) of every row of a GEMM with m <= kSmallRows, no packing. */
inline void small_m_gemm(const gemm_op& op, std::int64_t j0, std::int64_t j1) noexcept {
  switch (op.m) {
    case 4:
      small_m_rows<4>(op, 0, j0, j1);
      break;
    case 3:
      small_m_rows<3>(op, 0, j0, j1);
      break;
    case 2:
      small_m_rows<2>(op, 0, j0, j1);
      break;
    default:
      small_m_rows<1>(op, 0, j0, j1);
      break;
  }
}

}  // namespace simd_detail

/** @brief The simd gemm reads a constant B packed ahead of time (simd_detail::packed_panel_offset). */
template <>
struct gemm_b_packing<simd> {
  static constexpr std::int64_t width = simd_detail::gemm_blocking::kPanel;

  static void pack_columns(const float* src, std::int64_t ld, bool trans, std::int64_t k, std::int64_t n,
                           std::int64_t first_col, std::int64_t cols, float* packed) noexcept {
    using blk = simd_detail::gemm_blocking;
    const std::int64_t panels = (n + width - 1) / width;
    for (std::int64_t j0 = 0; j0 < cols;) {
      const std::int64_t panel = (first_col + j0) / width, lane0 = (first_col + j0) % width;
      const std::int64_t run = std::min(width - lane0, cols - j0);  // the columns that land in this panel
      for (std::int64_t pc = 0; pc < k; pc += blk::kKc) {
        const std::int64_t kc = std::min(blk::kKc, k - pc);
        float* dst = packed + simd_detail::packed_panel_offset(k, panels, panel, pc, kc) + lane0;
        if (!trans) {
          for (std::int64_t p = 0; p < kc; ++p) std::copy_n(src + (pc + p) * ld + j0, run, dst + p * width);
        } else {
          // src's rows become the panel's columns: strips 16 deep keep the strided writes in L1.
          constexpr std::int64_t kStrip = 16;
          for (std::int64_t p0 = 0; p0 < kc; p0 += kStrip)
            for (std::int64_t j = 0; j < run; ++j)
              for (std::int64_t p = p0; p < std::min(kc, p0 + kStrip); ++p)
                dst[p * width + j] = src[(j0 + j) * ld + pc + p];
        }
      }
      j0 += run;
    }
  }
};

/**
 * @brief The simd gemm reads a constant A packed ahead of time in row tiles of the micro-kernel's
 * height (gemm_op::a_packed): each k step's kRows values contiguous.
 */
template <>
struct gemm_a_packing<simd> {
  static constexpr std::int64_t rows = simd_detail::gemm_blocking::kRows;

  /**
   * @brief As pack, from A stored transposed (gemm_op::trans_a): row i, step p at src[p · lda + i].
   * A tile's step is then its rows' floats side by side already: one masked copy a vector (rows is
   * 12 of AVX-512's 16 lanes, 6 of AVX2's 8; two vectors where a vector holds 4), zeros below m.
   * The tiles are @p tile_stride floats apart (rows · k: a whole A; rows · depth: steps [p0, p0 + k)
   * of an A of that depth, packed at packed = its tiles' start + p0 · rows).
   */
  static void pack_transposed(const float* src, std::int64_t lda, std::int64_t m, std::int64_t k, float* packed,
                              std::int64_t tile_stride) noexcept {
    using simd_detail::kLanes;
    for (std::int64_t i0 = 0; i0 < m; i0 += rows) {
      float* tile = packed + i0 / rows * tile_stride;
      const std::int64_t tile_rows = std::min(rows, m - i0);
      for (std::int64_t p = 0; p < k; ++p)
        for (std::int64_t r0 = 0; r0 < rows; r0 += kLanes)
          simd_detail::store_first(
              simd_detail::load_first(src + p * lda + i0 + r0, std::clamp<std::int64_t>(tile_rows - r0, 0, kLanes)),
              tile + p * rows + r0, std::min(kLanes, rows - r0));
    }
  }

  static void pack(const float* src, std::int64_t lda, std::int64_t m, std::int64_t k, float* packed) noexcept {
    for (std::int64_t i0 = 0; i0 < m; i0 += rows) {
      float* tile = packed + i0 * k;
      const std::int64_t tile_rows = std::min(rows, m - i0);
      std::int64_t p = 0;
#if XSIMD_WITH_AVX512F
      // 16 steps at a time: the tile's rows as 16 vectors (zeros below them), transposed in
      // registers, each step's rows stored with one masked store. A scalar copy, 12 reads in
      // 12 rows per float written, cost a tenth of BERT's ffn_down.
      static_assert(rows <= simd_detail::kLanes);
      constexpr __mmask16 kStepMask = static_cast<__mmask16>((1u << rows) - 1);
      for (; p + simd_detail::kLanes <= k; p += simd_detail::kLanes) {
        __m512 r[16];
        for (std::int64_t i = 0; i < 16; ++i)
          r[i] = i < tile_rows ? _mm512_loadu_ps(src + (i0 + i) * lda + p) : _mm512_setzero_ps();
        simd_detail::transpose_16x16(r);
        for (std::int64_t j = 0; j < 16; ++j) _mm512_mask_storeu_ps(tile + (p + j) * rows, kStepMask, r[j]);
      }
#endif
      for (; p < k; ++p) {
        for (std::int64_t r = 0; r < tile_rows; ++r) tile[p * rows + r] = src[(i0 + r) * lda + p];
        for (std::int64_t r = tile_rows; r < rows; ++r) tile[p * rows + r] = 0.f;
      }
    }
  }
};

/** @brief The simd gemm packs B made on demand (gemm_op::b_rows) as it packs B from memory. */
template <>
inline constexpr bool gemm_makes_b_on_demand<simd> = true;

/** @brief The simd gemm hands finished tiles to gemm_op::tile_sink (simd_detail::sink_tile). */
template <>
inline constexpr bool gemm_takes_tile_sink<simd> = true;

/** @brief The simd gemm reads A stored transposed (gemm_op::trans_a): a convolution's columns. */
template <>
inline constexpr bool gemm_reads_a_transposed<simd> = true;

/**
 * @brief The simd gemm takes several images as one GEMM, side by side with no padding: a panel may
 * run from one image into the next (simd_detail::straddling_panel).
 */
template <>
inline constexpr std::int64_t gemm_image_columns_align<simd> = 1;

template <>
struct kernel<gemm_op, simd> {
  static void run(cpu_context& ctx, const gemm_op& op) {
    using blk = simd_detail::gemm_blocking;
    if (op.k == 0 && op.tile_sink) {  // nothing to accumulate: zero tiles
      alignas(64) float zeros[blk::kRows * blk::kPanel] = {};
      for (std::int64_t i = 0; i < op.m; i += blk::kRows)
        for (std::int64_t j = 0; j < op.n; j += blk::kPanel)
          op.tile_sink(op.sink_target, zeros, blk::kPanel, i, j, std::min(blk::kRows, op.m - i),
                       std::min(blk::kPanel, op.n - j));
      return;
    }
    if (op.k == 0) {  // nothing to accumulate: C = act(bias + residual)
      for (std::int64_t i = 0; i < op.m; ++i) {
        std::fill(op.c + i * op.ldc, op.c + i * op.ldc + op.n, 0.f);
        simd_detail::epilogue_row(op.ep, op.alpha, op.c + i * op.ldc, i, 0, op.n);
      }
      return;
    }
    if (op.m == 0 || op.n == 0) return;
    const std::int64_t columns = op.images > 1 ? op.images * op.image_columns : op.n;
    const std::int64_t flops_per_thread = 2 * op.m * columns * op.k / ctx.threads();
    const int threads = flops_per_thread < 200000 ? 1 : ctx.threads();
    // A few rows: stream B, columns split across threads. A B packed ahead costs nothing more to
    // read than B as stored, and the micro-kernel reads it.
    if (op.m <= simd_detail::kSmallRows && !op.b_panel_width && !op.b_rows && !op.trans_a && !op.a_packed &&
        !op.tile_sink) {
      if (threads == 1) return simd_detail::small_m_gemm(op, 0, op.n);
      // Whole vectors per thread, so that only the last thread has a ragged edge.
      const std::int64_t vectors = (op.n + simd_detail::kLanes - 1) / simd_detail::kLanes;
      ctx.pool().run([&](int t) {
        if (t >= threads) return;
        const std::int64_t j0 = std::min(op.n, vectors * t / threads * simd_detail::kLanes);
        const std::int64_t j1 = std::min(op.n, vectors * (t + 1) / threads * simd_detail::kLanes);
        if (j0 < j1) simd_detail::small_m_gemm(op, j0, j1);
      });
      return;
    }
    // Each thread owns a block of C and packs its own B blocks: whole panels of columns each, or
    // whole tiles of rows each, whichever shares the work out more evenly (split_by_columns).
    const std::int64_t panels = (columns + blk::kPanel - 1) / blk::kPanel;
    const std::int64_t tiles = (op.m + blk::kRows - 1) / blk::kRows;
    const bool split_columns = simd_detail::split_by_columns(op.m, columns, threads, op.b_panel_width != 0);
    scratch_frame frame(ctx);
    // A as stored, over many columns, is packed first (simd_detail::pack_a_applies).
    const bool pack_a = simd_detail::pack_a_applies(op, columns);
    float* packed_a = pack_a ? frame.take<float>(tiles * blk::kRows * op.k) : nullptr;
    gemm_op packed_a_op = op;
    packed_a_op.a = packed_a;
    packed_a_op.a_packed = true;
    const gemm_op& run_op = pack_a ? packed_a_op : op;
    const bool first_tile_packs_b = simd_detail::b_in_place_applies(run_op);
    auto pack_tiles = [&](std::int64_t t0, std::int64_t t1) {
      if (t0 >= t1) return;
      const std::int64_t first = t0 * blk::kRows, rows = std::min(op.m, t1 * blk::kRows) - first;
      float* tiles_out = packed_a + first * op.k;
      if (op.trans_a)
        gemm_a_packing<simd>::pack_transposed(op.a + first, op.lda, rows, op.k, tiles_out, blk::kRows * op.k);
      else
        gemm_a_packing<simd>::pack(op.a + first * op.lda, op.lda, rows, op.k, tiles_out);
    };
    // Split by columns, every thread reads all of A: it is packed in a fork of its own first.
    if (pack_a && split_columns) {
      if (threads == 1)
        pack_tiles(0, tiles);
      else
        ctx.pool().run([&](int t) {
          if (t < threads) pack_tiles(tiles * t / threads, tiles * (t + 1) / threads);
        });
    }
    // Units [u0, u1), whole panels or whole row tiles, as many as the thread's measured speed asks
    // for (thread_pool::run_shares).
    ctx.pool().run_shares(split_columns ? panels : tiles, threads, [&](int, std::int64_t u0, std::int64_t u1) {
      scratch_frame own(ctx.thread_scratch());
      float* mine = op.b_panel_width ? nullptr : own.take<float>(blk::kKc * blk::kNc);
      if (split_columns) {
        simd_detail::gemm_block(run_op, 0, op.m, u0 * blk::kPanel, std::min(columns, u1 * blk::kPanel), mine,
                                first_tile_packs_b);
      } else {
        if (pack_a) pack_tiles(u0, u1);  // the thread's own rows of A
        simd_detail::gemm_block(run_op, u0 * blk::kRows, std::min(op.m, u1 * blk::kRows), 0, columns, mine,
                                first_tile_packs_b);
      }
    });
  }
};

}  // namespace joule
