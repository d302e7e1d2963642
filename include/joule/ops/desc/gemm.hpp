#pragma once
/** @file gemm.hpp @brief The gemm operator's contract: what every gemm kernel receives. */
#include <cstdint>

#include <joule/ops/desc/activation.hpp>

namespace joule {

/**
 * @brief C = act(alpha · A · op(B) + bias + residual), row-major float32.
 *
 * A is [m, k] with row stride lda; B is [k, n] with row stride ldb, or [n, k] when trans_b (the
 * layout of a PyTorch Linear weight); C is [m, n] with row stride ldc. The front end has checked
 * every size, stride and pointer; k may be 0 (then C = act(bias + residual)). C never aliases A or B.
 *
 * When b_panel_width is w > 0, B was packed ahead of time by gemm_b_packing<P> (ops::pack_gemm_b:
 * a constant weight, packed once at compile) into ceil(n / w) · k · w floats in a layout only that
 * policy's kernel reads; ldb and trans_b are then unused. Only a kernel whose policy specialises
 * gemm_b_packing is ever given such a B.
 */
struct gemm_op {
  std::int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  std::int64_t lda = 0;
  const float* b = nullptr;
  std::int64_t ldb = 0;
  bool trans_b = false;
  float* c = nullptr;
  std::int64_t ldc = 0;
  float alpha = 1.f;
  epilogue ep;
  std::int64_t b_panel_width = 0;  ///< 0: B as ldb and trans_b say; w: B packed in panels w columns wide
  /**
   * @brief When set, B is made on demand instead of read from b: b_rows(b_source, p, j0, count, dst)
   * writes B[p, j0 : j0 + count) to dst (a convolution's im2col rows, made as the kernel packs
   * them, so that the columns matrix is never written out). Only a kernel whose policy has
   * gemm_makes_b_on_demand<P> is ever given one.
   */
  void (*b_rows)(const void* b_source, std::int64_t p, std::int64_t j0, std::int64_t count, float* dst) = nullptr;
  const void* b_source = nullptr;
  /**
   * @brief Columns in images, only with b_rows (a convolution over several images as one GEMM, so
   * that each block of A, the weights, serves every image): when images > 1, B has images ·
   * image_columns columns, column g · image_columns + j being column j of image g for j < n and
   * padding (b_rows makes zeros, nothing is stored) for j in [n, image_columns); image g's C starts
   * at c + g · c_image_stride, its residual at ep.residual + g · c_image_stride. image_columns is a
   * multiple of gemm_image_columns_align<P>; only a kernel whose policy sets it is given images.
   */
  std::int64_t images = 1, image_columns = 0, c_image_stride = 0;
  /**
   * @brief A stored transposed: A[i, p] at a[p · lda + i] ([k, m] with row stride lda), as a
   * convolution's columns matrix is when its pixels are the GEMM's rows. Only a kernel whose policy
   * has gemm_reads_a_transposed<P> is ever given it.
   */
  bool trans_a = false;
  /**
   * @brief A packed ahead of time by gemm_a_packing<P> (a convolution's constant weight, packed once
   * at compile): row tiles of gemm_a_packing<P>::rows rows, the last one zero-padded, tile t at
   * a + t · rows · k, A[t · rows + r, p] at [p · rows + r]; lda and trans_a are then unused. Only a
   * kernel whose policy specialises gemm_a_packing is ever given one.
   */
  bool a_packed = false;
  /**
   * @brief When set, each finished tile of C goes to tile_sink instead of C: tile_sink(sink_target,
   * tile, ld, row, col, rows, cols) gets C[row : row + rows, col : col + cols] summed over the whole
   * depth, alpha 1, no epilogue (ep must be empty, images 1), in @p tile with row stride @p ld. C then holds
   * only the partial sums of the depth blocks before the last. A convolution with its pixels as the
   * GEMM's rows turns each tile straight into its NCHW output, instead of writing C out and
   * transposing it in a second pass. Only a kernel whose policy has gemm_takes_tile_sink<P> is ever
   * given one.
   */
  void (*tile_sink)(const void* sink_target, const float* tile, std::int64_t ld, std::int64_t row, std::int64_t col,
                    std::int64_t rows, std::int64_t cols) = nullptr;
  const void* sink_target = nullptr;

  static constexpr const char* name() noexcept { return "gemm"; }
};

/**
 * @brief How policy @p P's gemm kernel wants a constant B packed ahead of time, when it does:
 * a specialisation provides
 *
 *     static constexpr std::int64_t width;  // columns per panel: the packed B holds ceil(n / width) · k · width floats
 *     static void pack_columns(const float* src, std::int64_t ld, bool trans, std::int64_t k, std::int64_t n,
 *                              std::int64_t first_col, std::int64_t cols, float* packed) noexcept;
 *
 * pack_columns writes columns [first_col, first_col + cols) of a packed B of n columns from src,
 * [k, cols] with row stride ld, or [cols, k] when trans (a Linear weight's rows), into zeroed
 * memory. The primary template is empty: the policy's gemm reads B only as given.
 */
template <class P>
struct gemm_b_packing {};

/**
 * @brief How policy @p P's gemm kernel wants a constant A packed ahead of time, when it does: a
 * specialisation provides
 *
 *     static constexpr std::int64_t rows;  // rows per tile: the packed A holds ceil(m / rows) · rows · k floats
 *     static void pack(const float* src, std::int64_t lda, std::int64_t m, std::int64_t k, float* packed) noexcept;
 *
 * pack writes A ([m, k], row stride lda) into that layout (gemm_op::a_packed), padding included.
 * The primary template is empty: the policy's gemm reads A only as given.
 */
template <class P>
struct gemm_a_packing {};

/** @brief Whether policy @p P's gemm kernel takes B made on demand (gemm_op::b_rows). */
template <class P>
inline constexpr bool gemm_makes_b_on_demand = false;

/** @brief Whether policy @p P's gemm kernel hands its finished tiles to gemm_op::tile_sink. */
template <class P>
inline constexpr bool gemm_takes_tile_sink = false;

/** @brief Whether policy @p P's gemm kernel reads A stored transposed (gemm_op::trans_a). */
template <class P>
inline constexpr bool gemm_reads_a_transposed = false;

/**
 * @brief What policy @p P's gemm kernel rounds each image's columns up to when it takes several
 * images as one GEMM (gemm_op::images), or 0 when it takes one image at a time.
 */
template <class P>
inline constexpr std::int64_t gemm_image_columns_align = 0;

}  // namespace joule
