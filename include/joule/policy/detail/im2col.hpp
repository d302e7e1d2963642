#pragma once
/**
 * @file im2col.hpp
 * @brief How the CPU policies' sliding-window kernels (convolution, pooling) see their input.
 *
 * - im2col and conv2d_as_gemm: a convolution lowered to one GEMM per image and group, run by the
 *   policy's own gemm kernel with the convolution's bias, residual and activation as its epilogue.
 *   The simd, blas and eigen convolutions share this lowering and differ only in their GEMM (and
 *   simd's makes the columns matrix a block at a time as it packs it).
 * - padded_plane: one input plane copied with its padding written out and its columns split by
 *   stride phase, so that a vector kernel reads the taps of kLanes neighbouring windows as one
 *   contiguous load, with no border tests (the simd depthwise convolution and pooling).
 * - parallel_ranges: a fork that tells each range its thread index, for per-thread scratch.
 *
 * The rearrangements are memory-bound copies in plain loops, except two that GCC at -O2 leaves
 * scalar and that would otherwise dominate a small depthwise layer: the padding fill and the
 * stride-2 column split are vectorised when the simd policy is built.
 */
#include <algorithm>
#include <cstdint>

#include <joule/config.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/conv2d.hpp>
#include <joule/ops/desc/gemm.hpp>
#include <joule/ops/desc/pool2d.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/vector_math.hpp>
#endif

namespace joule::detail {

/** @brief The geometry of a 2-D sliding window over one [h, w] plane (floor mode). */
struct window_geometry {
  std::int64_t h = 0, w = 0, kh = 1, kw = 1;
  std::int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1;
  std::int64_t out_h = 0, out_w = 0;
};

inline window_geometry geometry_of(const conv2d_op& op) noexcept {
  return {op.h,     op.w,     op.kh,    op.kw,    op.stride_h, op.stride_w,
          op.pad_h, op.pad_w, op.dil_h, op.dil_w, op.out_h,    op.out_w};
}

inline window_geometry geometry_of(const pool2d_op& op) noexcept {
  return {op.h, op.w, op.kh, op.kw, op.stride_h, op.stride_w, op.pad_h, op.pad_w, 1, 1, op.out_h, op.out_w};
}

/** @brief ceil(a / b) for a >= 0, b > 0. */
constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) noexcept { return (a + b - 1) / b; }

/**
 * @brief The output columns [begin, end) whose tap at input column offset @p x0 (ix = ox · stride +
 * x0) lands inside [0, w); outside them the tap reads padding.
 */
struct column_span {
  std::int64_t begin, end;
};
inline column_span valid_columns(std::int64_t x0, std::int64_t stride, std::int64_t w, std::int64_t out_w) noexcept {
  const std::int64_t begin = std::min(out_w, x0 >= 0 ? std::int64_t{0} : ceil_div(-x0, stride));
  const std::int64_t end = w - x0 > 0 ? std::clamp(ceil_div(w - x0, stride), begin, out_w) : begin;
  return {begin, end};
}

#if JOULE_HAS_SIMD
/**
 * @brief Two vectors [a0 .. a(N-1)], [b0 .. b(N-1)] as [evens of a | evens of b] (even_lanes) or
 * [odds of a | odds of b] (odd_lanes): each vector is permuted so that the halves wanted sit in
 * the right half, then one blend picks them. Stride-2 reads, as contiguous loads.
 */
struct evens_low {
  static constexpr unsigned get(unsigned i, unsigned n) { return i < n / 2 ? 2 * i : 2 * (i - n / 2) + 1; }
};
struct odds_low {
  static constexpr unsigned get(unsigned i, unsigned n) { return i < n / 2 ? 2 * i + 1 : 2 * (i - n / 2); }
};
struct low_half {
  static constexpr bool get(unsigned i, unsigned n) { return i < n / 2; }
};
/** @brief The even lanes of a then b (Odd = false) or their odd lanes (Odd = true). */
template <bool Odd>
simd_detail::batch phase_lanes(simd_detail::batch a, simd_detail::batch b) noexcept {
  using index_batch = xsimd::batch<std::uint32_t>;
  constexpr auto even_first = xsimd::make_batch_constant<index_batch, evens_low>();
  constexpr auto odd_first = xsimd::make_batch_constant<index_batch, odds_low>();
  const xsimd::batch_bool<float> low = xsimd::make_batch_bool_constant<simd_detail::batch, low_half>();
  if constexpr (Odd)
    return xsimd::select(low, xsimd::swizzle(a, odd_first), xsimd::swizzle(b, even_first));
  else
    return xsimd::select(low, xsimd::swizzle(a, even_first), xsimd::swizzle(b, odd_first));
}
inline simd_detail::batch even_lanes(simd_detail::batch a, simd_detail::batch b) noexcept {
  return phase_lanes<false>(a, b);
}
inline simd_detail::batch odd_lanes(simd_detail::batch a, simd_detail::batch b) noexcept {
  return phase_lanes<true>(a, b);
}
#endif

/** @brief p[0, count) = value, with vector stores when the simd policy is built (GCC -O2 would not). */
inline void fill_floats(float* p, std::int64_t count, float value) noexcept {
  std::int64_t i = 0;
#if JOULE_HAS_SIMD
  using simd_detail::kLanes;
  const simd_detail::batch v(value);
  for (; i + kLanes <= count; i += kLanes) v.store_unaligned(p + i);
  if (i < count) simd_detail::store_first(v, p + i, count - i);
#else
  for (; i < count; ++i) p[i] = value;
#endif
}

/**
 * @brief dst[0, count) = src[0, count), nothing read or written past them: whole vectors, then one
 * partial vector, when the simd policy is built. The rows copied here (im2col's, 7 to 224 floats)
 * are short enough that a memmove call per row cost more than the copy.
 */
inline void copy_floats(const float* src, std::int64_t count, float* dst) noexcept {
  std::int64_t i = 0;
#if JOULE_HAS_SIMD
  using simd_detail::kLanes;
  for (; i + kLanes <= count; i += kLanes) simd_detail::batch::load_unaligned(src + i).store_unaligned(dst + i);
  if (i < count) simd_detail::store_first(simd_detail::load_first(src + i, count - i), dst + i, count - i);
#else
  for (; i < count; ++i) dst[i] = src[i];
#endif
}

#if JOULE_HAS_SIMD
/**
 * @brief Whether a window reads its input "flat": at stride 1 with an output as wide as the input
 * (ResNet-50's 3x3 convolutions, MobileNetV2's stride-1 depthwise ones), output pixel j = oy · w + ox
 * reads its tap (ky, kx) at input pixel j + (ky · dh - ph) · w + kx · dw - pw, across row ends too.
 * kLanes neighbouring outputs then read each tap as one load, masked where it falls on padding.
 */
inline bool reads_flat(const window_geometry& g) noexcept {
  return g.stride_h == 1 && g.stride_w == 1 && g.out_w == g.w;
}

/** @brief Where the taps of a flat window read (reads_flat), for every vector of output pixels. */
struct flat_taps {
  std::int64_t taps = 0, vectors = 0;
  const std::int64_t* offsets = nullptr;  ///< [tap]: input offset from an output's flat index
  const std::uint32_t* lanes = nullptr;   ///< [vector][tap]: the lanes (bit l) that read input, not padding
};

/**
 * @brief The tap offsets and lane masks of @p g (reads_flat), in scratch from @p frame. The masks
 * depend only on the geometry: made once per call, shared by every plane. A tap reads input where
 * both its row and its column exist: per vector, the lanes of each kernel row and column, then
 * their intersections; pixel coordinates advance without division (a version dividing per lane
 * cost 6x the convolution on 112 x 112 planes).
 */
inline flat_taps plan_flat_taps(const window_geometry& g, scratch_frame& frame) {
  using simd_detail::kLanes;
  const std::int64_t taps = g.kh * g.kw, pixels = g.out_h * g.out_w, vectors = ceil_div(pixels, kLanes);
  auto* offsets = frame.take<std::int64_t>(taps);
  auto* lanes = frame.take<std::uint32_t>(vectors * taps);
  auto* row_ok = frame.take<std::uint32_t>(g.kh);  // per ky: the lanes whose input row exists
  auto* column_ok = frame.take<std::uint32_t>(g.kw);
  for (std::int64_t ky = 0; ky < g.kh; ++ky)
    for (std::int64_t kx = 0; kx < g.kw; ++kx)
      offsets[ky * g.kw + kx] = (ky * g.dil_h - g.pad_h) * g.w + kx * g.dil_w - g.pad_w;
  std::int64_t oy = 0, ox = 0;
  for (std::int64_t v = 0; v < vectors; ++v) {
    std::fill(row_ok, row_ok + g.kh, 0u);
    std::fill(column_ok, column_ok + g.kw, 0u);
    for (std::int64_t l = 0; l < kLanes && v * kLanes + l < pixels; ++l) {
      for (std::int64_t ky = 0; ky < g.kh; ++ky) {
        const std::int64_t iy = oy + ky * g.dil_h - g.pad_h;
        if (iy >= 0 && iy < g.h) row_ok[ky] |= 1u << l;
      }
      for (std::int64_t kx = 0; kx < g.kw; ++kx) {
        const std::int64_t ix = ox + kx * g.dil_w - g.pad_w;
        if (ix >= 0 && ix < g.w) column_ok[kx] |= 1u << l;
      }
      if (++ox == g.out_w) ox = 0, ++oy;
    }
    for (std::int64_t t = 0; t < taps; ++t) lanes[v * taps + t] = row_ok[t / g.kw] & column_ok[t % g.kw];
  }
  return {taps, vectors, offsets, lanes};
}
#endif

/**
 * @brief Whether im2col gathers a window's taps (window_origins) where it does not read flat: with
 * AVX-512, whose masked gathers read kLanes taps at any stride and skip the padding lanes.
 */
#if JOULE_HAS_SIMD && defined(__AVX512F__)
inline constexpr bool kGathersWindows = true;
#else
inline constexpr bool kGathersWindows = false;
#endif

/**
 * @brief Where each output pixel's window starts (its tap (0, 0)), for im2col by gathers: input row
 * iy0 = oy · sh - ph, column ix0 = ox · sw - pw, and offset iy0 · w + ix0, per output pixel j. A
 * tap (ky, kx) of pixel j then reads offset[j] + ky · dh · w + kx · dw where its row and column
 * exist. Strided windows (ResNet-50's stride-2 layers and 7x7 stem): made row by row from the
 * input, every 7- or 14-wide output row cost a division, border tests and a short copy, and the
 * columns took a third of ResNet-50's layer-4 stride-2 3x3 at 8 images (perf); gathers need none.
 */
struct window_origins {
  const std::int32_t* row = nullptr;     ///< [pixel]: iy0
  const std::int32_t* column = nullptr;  ///< [pixel]: ix0
  const std::int32_t* offset = nullptr;  ///< [pixel]: iy0 · w + ix0
};

/** @brief The window_origins of @p g, in scratch from @p frame, readable a vector past the last pixel. */
inline window_origins plan_window_origins(const window_geometry& g, scratch_frame& frame) {
  const std::int64_t pixels = g.out_h * g.out_w, padded = pixels + 16;
  auto* row = frame.take<std::int32_t>(padded);
  auto* column = frame.take<std::int32_t>(padded);
  auto* offset = frame.take<std::int32_t>(padded);
  std::int64_t j = 0;
  for (std::int64_t oy = 0; oy < g.out_h; ++oy)
    for (std::int64_t ox = 0; ox < g.out_w; ++ox, ++j) {
      row[j] = static_cast<std::int32_t>(oy * g.stride_h - g.pad_h);
      column[j] = static_cast<std::int32_t>(ox * g.stride_w - g.pad_w);
      offset[j] = static_cast<std::int32_t>(row[j] * g.w + column[j]);
    }
  std::fill(row + pixels, row + padded, -1);  // never read as taps: past the segment's lanes
  std::fill(column + pixels, column + padded, -1);
  std::fill(offset + pixels, offset + padded, 0);
  return {row, column, offset};
}

/**
 * @brief Whether im2col of @p g gathers (window_origins): with AVX-512, on output rows at most half
 * a vector wide (ResNet-50's last stage, 7 wide), when it does not read flat, on planes that int32
 * offsets reach. Wider rows copy faster than they gather: ResNet-50's stem (112-wide rows) took
 * 1.38 the time with gathers at 8 images, its 14- and 28-wide stride-2 layers the same time.
 */
inline bool gathers_window(const window_geometry& g) noexcept {
#if JOULE_HAS_SIMD
  if (reads_flat(g) || 2 * g.out_w > simd_detail::kLanes) return false;
#endif
  return kGathersWindows && g.h * g.w < (std::int64_t{1} << 30) && g.out_h * g.out_w < (std::int64_t{1} << 30);
}

#if JOULE_HAS_SIMD
/**
 * @brief Whether a window reads its input by phases: stride 2 on a plane of even sides, with an
 * output half the plane each way (ResNet-50's stride-2 3x3 and 1x1 layers). Each plane is then
 * split into its four phases (split_phases), row parity py and column parity px: phase
 * py · 2 + px holds input[2 i + py][2 j + px] at (i, j), an out_h x out_w plane, and tap (ky, kx)
 * of output (oy, ox) is its phase's pixel (oy + dy, ox + dx): a flat read at offset
 * dy · out_w + dx, masked where it falls off the plane, as a stride-1 window's (reads_flat).
 */
inline bool reads_phases(const window_geometry& g) noexcept {
  return g.stride_h == 2 && g.stride_w == 2 && g.dil_h == 1 && g.dil_w == 1 && g.h % 2 == 0 && g.w % 2 == 0 &&
         g.out_h == g.h / 2 && g.out_w == g.w / 2;
}

/** @brief Where the taps of a window read by phases (reads_phases) read. */
struct phase_taps {
  flat_taps flat;                       ///< each tap's offset in its phase, and the lanes it reads
  const std::int64_t* phase = nullptr;  ///< [tap]: which phase it reads (0 .. 3)
  unsigned used = 0;                    ///< bit p: some tap reads phase p (a 1x1 window: phase 0 only)
};

inline phase_taps plan_phase_taps(const window_geometry& g, scratch_frame& frame) {
  using simd_detail::kLanes;
  const std::int64_t taps = g.kh * g.kw, vectors = ceil_div(g.out_h * g.out_w, kLanes);
  auto* offsets = frame.take<std::int64_t>(taps);
  auto* phase = frame.take<std::int64_t>(taps);
  auto* lanes = frame.take<std::uint32_t>(vectors * taps);
  std::fill(lanes, lanes + vectors * taps, 0u);
  unsigned used = 0;
  const auto floor_half = [](std::int64_t a) { return a >= 0 ? a / 2 : -((1 - a) / 2); };
  for (std::int64_t t = 0; t < taps; ++t) {
    const std::int64_t ay = t / g.kw - g.pad_h, ax = t % g.kw - g.pad_w;
    const std::int64_t dy = floor_half(ay), dx = floor_half(ax);
    offsets[t] = dy * g.out_w + dx;
    phase[t] = (ay - 2 * dy) * 2 + (ax - 2 * dx);
    used |= 1u << phase[t];
    std::int64_t j = 0;
    for (std::int64_t oy = 0; oy < g.out_h; ++oy)
      for (std::int64_t ox = 0; ox < g.out_w; ++ox, ++j)
        if (oy + dy >= 0 && oy + dy < g.out_h && ox + dx >= 0 && ox + dx < g.out_w)
          lanes[j / kLanes * taps + t] |= 1u << (j % kLanes);
  }
  return {{taps, vectors, offsets, lanes}, phase, used};
}

/**
 * @brief The phases of one h x w plane (reads_phases) that @p pt reads, one after another, each
 * out_h x out_w: the same number of floats as the plane.
 */
inline void split_phases(const window_geometry& g, const phase_taps& pt, const float* plane, float* phases) noexcept {
  using simd_detail::batch;
  using simd_detail::kLanes;
  const std::int64_t pw = g.out_w, phase_floats = g.out_h * g.out_w;
  for (std::int64_t iy = 0; iy < g.h; ++iy) {
    const std::int64_t even_phase = iy % 2 * 2;  // this row's phase of even columns; + 1: of odd ones
    if ((pt.used >> even_phase & 3u) == 0) continue;
    const float* row = plane + iy * g.w;
    float* even = phases + even_phase * phase_floats + iy / 2 * pw;
    float* odd = even + phase_floats;
    const bool odd_used = (pt.used >> (even_phase + 1) & 1u) != 0;
    for (std::int64_t x = 0; x < g.w; x += 2 * kLanes) {
      const std::int64_t n = std::min(2 * kLanes, g.w - x);
      const batch low = simd_detail::load_first(row + x, std::min(kLanes, n));
      const batch high = n > kLanes ? simd_detail::load_first(row + x + kLanes, n - kLanes) : batch(0.f);
      simd_detail::store_first(even_lanes(low, high), even + x / 2, n / 2);
      if (odd_used) simd_detail::store_first(odd_lanes(low, high), odd + x / 2, n / 2);
    }
  }
}

/**
 * @brief Splits @p planes planes of @p input (h x w each, one after another) into their phases
 * (split_phases) at @p phases, split across the context's threads.
 */
inline void split_planes_into_phases(cpu_context& ctx, const window_geometry& g, const phase_taps& pt,
                                     const float* input, std::int64_t planes, float* phases) {
  const std::int64_t plane = g.h * g.w;
  ctx.parallel_for(planes, std::max<std::int64_t>(1, 16384 / plane), [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) split_phases(g, pt, input + p * plane, phases + p * plane);
  });
}

/**
 * @brief Floats kept free before and after a buffer of phases, so that the masked loads' pointers
 * stay in it: a tap reads at most ceil(max(pad, k - 1 - pad) / 2) rows and columns of its phase
 * away from the output pixel, and a load spans a vector.
 */
inline std::int64_t phase_margin(const window_geometry& g) noexcept {
  const std::int64_t rows = (std::max(g.pad_h, g.kh - 1 - g.pad_h) + 1) / 2;
  const std::int64_t columns = (std::max(g.pad_w, g.kw - 1 - g.pad_w) + 1) / 2;
  return rows * g.out_w + columns + simd_detail::kLanes;
}
#endif

/**
 * @brief Where im2col's rows come from: the geometry and the planes of one image and group, or of
 * several images as one GEMM's columns (gemm_op::images).
 */
struct im2col_source {
  const window_geometry* g = nullptr;
  const float* input = nullptr;  ///< [channels, h, w]: the first image's
#if JOULE_HAS_SIMD
  const flat_taps* flat = nullptr;  ///< set when the window reads flat (reads_flat)
  /// Set when the window reads by phases (reads_phases): input then holds each plane's phases
  /// (split_phases), and the rows are made as a flat window's.
  const phase_taps* phases = nullptr;
#endif
  const window_origins* origins = nullptr;  ///< set when im2col gathers the taps (gathers_window)
  std::int64_t images = 1;                  ///< images side by side in the columns
  std::int64_t image_columns = 0;           ///< columns per image (out_h · out_w and zero padding), when images > 1
  std::int64_t image_floats = 0;            ///< floats from one image's input to the next
};

#if JOULE_HAS_SIMD
/**
 * @brief out[ox] = row[2 · ox + x0] for ox in [ox0, ox1), 0 where that column is outside [0, w):
 * per kLanes outputs, the even lanes of the 2 · kLanes input columns from 2 · ox + x0, loaded under
 * a mask of the columns inside the row (masked lanes read nothing: the window may start left of
 * the row, at the padding, and end right of it).
 */
inline void stride_2_row(const float* row, std::int64_t x0, std::int64_t w, std::int64_t ox0, std::int64_t ox1,
                         float* out) noexcept {
  using simd_detail::kLanes;
  constexpr std::uint64_t kAll = (std::uint64_t{1} << kLanes) - 1;
  for (std::int64_t ox = ox0; ox < ox1; ox += kLanes) {
    const std::int64_t first = 2 * ox + x0;  // the input column of the low load's lane 0
    const std::int64_t lo = std::clamp<std::int64_t>(-first, 0, 2 * kLanes);
    const std::int64_t hi = std::clamp<std::int64_t>(w - first, lo, 2 * kLanes);
    const std::uint64_t inside = ((std::uint64_t{1} << hi) - 1) & ~((std::uint64_t{1} << lo) - 1);
    const float* p = row + first;
    const simd_detail::batch low = simd_detail::load_lanes(p, static_cast<std::uint32_t>(inside & kAll));
    const simd_detail::batch high = simd_detail::load_lanes(p + kLanes, static_cast<std::uint32_t>(inside >> kLanes));
    simd_detail::store_first(even_lanes(low, high), out + ox, std::min(kLanes, ox1 - ox));
  }
}
#endif

#if JOULE_HAS_SIMD
/**
 * @brief Pixels [j0, j0 + count) of tap @p t of a flat window (or of one read by phases): from
 * @p in, the input at the tap's offset from pixel j0, one load a vector masked to the lanes that
 * read input, not padding.
 */
inline void flat_tap_row(const flat_taps& f, std::int64_t t, const float* in, std::int64_t j0, std::int64_t count,
                         float* dst) noexcept {
  using simd_detail::kLanes;
  const std::int64_t shift = j0 % kLanes, first = j0 / kLanes;
  // Several images side by side (gemm_op::images) start a segment at any pixel: the masks of the
  // two vectors a load spans, shifted together.
  constexpr std::uint32_t kAll = (1u << kLanes) - 1;
  auto lanes_at = [&](std::int64_t v) {  // the lanes of pixels [j0 + v · kLanes, + kLanes)
    const std::uint32_t low = f.lanes[(first + v) * f.taps + t] >> shift;
    const bool next = shift != 0 && first + v + 1 < f.vectors;
    return (low | (next ? f.lanes[(first + v + 1) * f.taps + t] << (kLanes - shift) : 0u)) & kAll;
  };
  std::int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes)
    simd_detail::load_lanes(in + i, lanes_at(i / kLanes)).store_unaligned(dst + i);
  if (i < count) simd_detail::store_first(simd_detail::load_lanes(in + i, lanes_at(i / kLanes)), dst + i, count - i);
}

/**
 * @brief The columns of channels [c0, c1) of one image read by phases (reads_phases), on planes
 * of at most kPhaseFloats (im2col_by_phases_applies): each plane split into its phases in a
 * buffer that stays in L1, then every tap's row of the columns read flat from its phase. Made an
 * output row at a time (stride_2_row, or gathers on 7-wide rows), ResNet-50's 3x3/2 layers'
 * columns at batch 1 took 0.100 ms (28 -> 14) and 0.104 ms (14 -> 7); by phases 0.036 and 0.028
 * (bench/ab/im2col_layers.cpp).
 */
inline constexpr std::int64_t kPhaseFloats = 64 * 64, kPhaseMargin = kPhaseFloats / 2;
inline bool im2col_by_phases_applies(const window_geometry& g) noexcept {
  return reads_phases(g) && g.h * g.w <= kPhaseFloats && phase_margin(g) <= kPhaseMargin;
}
/**
 * @brief The kh · kw rows of the columns matrix of one input @p plane read by phases, out_h · out_w
 * floats apart at @p rows: the plane split into @p phases (a buffer with phase_margin(g) floats
 * free on each side), then each tap's row read flat from its phase.
 */
inline void channel_rows_by_phases(const window_geometry& g, const phase_taps& pt, const float* plane, float* phases,
                                   float* rows) noexcept {
  const std::int64_t pixels = g.out_h * g.out_w;
  split_phases(g, pt, plane, phases);
  for (std::int64_t t = 0; t < pt.flat.taps; ++t)
    flat_tap_row(pt.flat, t, phases + pt.phase[t] * pixels + pt.flat.offsets[t], 0, pixels, rows + t * pixels);
}

/**
 * @brief Floats of a buffer for one plane's phases (channel_rows_by_phases): kPhaseFloats and their
 * margins; the phases start phase_margin(g) floats in.
 */
inline constexpr std::int64_t kPhaseBufferFloats = kPhaseFloats + 2 * kPhaseMargin;

inline void im2col_by_phases(const window_geometry& g, const phase_taps& pt, const float* input, std::int64_t c0,
                             std::int64_t c1, float* cols) noexcept {
  const std::int64_t plane = g.h * g.w, pixels = g.out_h * g.out_w, taps = pt.flat.taps;
  alignas(64) float buffer[kPhaseBufferFloats];
  for (std::int64_t c = c0; c < c1; ++c)
    channel_rows_by_phases(g, pt, input + c * plane, buffer + phase_margin(g), cols + c * taps * pixels);
}
#endif

/** @brief im2col_row_segment for the one image whose planes start at @p input (j0 + count <= its pixels). */
inline void image_row_segment(const im2col_source& s, const float* input, std::int64_t r, std::int64_t j0,
                              std::int64_t count, float* dst) noexcept {
  const window_geometry& g = *s.g;
  const std::int64_t taps = g.kh * g.kw, c = r / taps, ky = r % taps / g.kw, kx = r % g.kw;
  const float* plane = input + c * g.h * g.w;
#if JOULE_HAS_SIMD
  // A flat window (every stride-1 3x3 layer of ResNet-50): the row is the plane shifted by the
  // tap's offset, one masked load per vector, instead of one short copy per output row (a 14-wide
  // row is one partial vector, and finding it cost more than copying it).
  if (s.flat || s.phases) {
    // A window read by phases (reads_phases) reads as a flat one, from its tap's phase of the plane.
    const flat_taps& f = s.phases ? s.phases->flat : *s.flat;
    const std::int64_t t = r % taps;
    const std::int64_t phase_floats = g.out_h * g.out_w;
    const float* in = plane + (s.phases ? s.phases->phase[t] * phase_floats : 0) + f.offsets[t] + j0;
    // The first tap of a channel reads its plane from L3 or memory (a pass's planes outgrow L2 at
    // batch 16 and up: ResNet-50's layer 1, 8 images of 64 x 56 x 56, 6.4 MB): the next channel's
    // span, from its first tap's offset to its last's, is fetched while this one's taps are made
    // (by phases: the span around the segment of each phase).
    if (t == 0) {
      constexpr std::int64_t kLine = 64 / sizeof(float);
      if (s.phases) {
        const std::int64_t reach = g.out_w + 1;
        for (std::int64_t p = 0; p < 4; ++p) {
          if ((s.phases->used >> p & 1u) == 0) continue;
          const float* next = plane + g.h * g.w + p * phase_floats + std::max<std::int64_t>(0, j0 - reach);
          for (std::int64_t i = 0; i < count + 2 * reach; i += kLine) __builtin_prefetch(next + i, 0, 3);
        }
      } else {
        const float* next = plane + g.h * g.w + f.offsets[0] + j0;
        const std::int64_t span = count + f.offsets[taps - 1] - f.offsets[0];
        for (std::int64_t i = 0; i < span; i += kLine) __builtin_prefetch(next + i, 0, 3);
      }
    }
    flat_tap_row(f, t, in, j0, count, dst);
    return;
  }
#endif
  if (r % taps == 0 && count > 0) {  // the next channel's input rows, as the flat path above does
    constexpr std::int64_t kLine = 64 / sizeof(float);
    const std::int64_t oy0 = j0 / g.out_w, oy1 = (j0 + count - 1) / g.out_w;
    const std::int64_t iy0 = std::max<std::int64_t>(0, oy0 * g.stride_h - g.pad_h);
    const std::int64_t iy1 = std::min(g.h, oy1 * g.stride_h - g.pad_h + (g.kh - 1) * g.dil_h + 1);
    const float* next = plane + g.h * g.w;
    for (std::int64_t i = iy0 * g.w; i < iy1 * g.w; i += kLine) __builtin_prefetch(next + i, 0, 3);
  }
#if JOULE_HAS_SIMD && defined(__AVX512F__)
  if (s.origins) {  // kLanes taps per masked gather; lanes on padding read nothing and stay 0
    static_assert(simd_detail::kLanes == 16);
    const __m512i tap_row = _mm512_set1_epi32(static_cast<int>(ky * g.dil_h));
    const __m512i tap_column = _mm512_set1_epi32(static_cast<int>(kx * g.dil_w));
    const __m512i tap_offset = _mm512_set1_epi32(static_cast<int>(ky * g.dil_h * g.w + kx * g.dil_w));
    const __m512i rows = _mm512_set1_epi32(static_cast<int>(g.h)), columns = _mm512_set1_epi32(static_cast<int>(g.w));
    for (std::int64_t i = 0; i < count; i += 16) {
      const std::int64_t j = j0 + i, n = std::min<std::int64_t>(16, count - i);
      const __mmask16 live = static_cast<__mmask16>((1u << n) - 1u);
      const __m512i iy = _mm512_add_epi32(_mm512_loadu_si512(s.origins->row + j), tap_row);
      const __m512i ix = _mm512_add_epi32(_mm512_loadu_si512(s.origins->column + j), tap_column);
      // Unsigned compares: a negative row or column is a huge unsigned one, so one test per bound.
      const __mmask16 inside = _mm512_mask_cmplt_epu32_mask(_mm512_cmplt_epu32_mask(iy, rows), ix, columns) & live;
      const __m512i at = _mm512_add_epi32(_mm512_loadu_si512(s.origins->offset + j), tap_offset);
      const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), inside, at, plane, 4);
      _mm512_mask_storeu_ps(dst + i, live, v);
    }
    return;
  }
#endif
  const std::int64_t x0 = kx * g.dil_w - g.pad_w;
  const column_span cs = valid_columns(x0, g.stride_w, g.w, g.out_w);
  // One division per segment: the rows after its first start at column 0 (a segment spans a few
  // output rows of 7 to 112 pixels, and a division per row cost as much as copying it).
  for (std::int64_t j = j0, end = j0 + count, oy = j0 / g.out_w, ox0 = j0 % g.out_w; j < end; ++oy, ox0 = 0) {
    const std::int64_t ox1 = std::min(g.out_w, ox0 + (end - j));
    float* out = dst + (j - j0) - ox0;  // out[ox] is output column ox of this row
    const std::int64_t iy = oy * g.stride_h - g.pad_h + ky * g.dil_h;
    if (iy < 0 || iy >= g.h) {
      fill_floats(out + ox0, ox1 - ox0, 0.f);
    } else {
      const float* src = plane + iy * g.w;
#if JOULE_HAS_SIMD
      // Stride 2 on rows of at most two vectors (the 28- and 14-wide rows of ResNet-50's strided
      // layers; its 7-wide ones are gathered, above): two loads masked to the input row make the
      // padding's zeros too, one loop with no clamps or fills. Alone (one thread, rows of 512
      // columns as the GEMM packs them), the 14-wide layer's columns took 0.63-0.67 of the time of
      // the fill, vector loop and masked tail below, the 28-wide one's 0.82-0.84; the stem's
      // 112-wide rows are faster below, with plain loads between their ends (masked throughout:
      // 1.08-1.14).
      if (g.stride_w == 2 && g.dil_w == 1 && ox1 - ox0 <= 2 * simd_detail::kLanes) {
        stride_2_row(src, x0, g.w, ox0, ox1, out);
        j += ox1 - ox0;
        continue;
      }
#endif
      const std::int64_t begin = std::clamp(cs.begin, ox0, ox1), finish = std::clamp(cs.end, begin, ox1);
      fill_floats(out + ox0, begin - ox0, 0.f);
      if (g.stride_w == 1) {
        copy_floats(src + begin + x0, finish - begin, out + begin);
      } else {
        std::int64_t ox = begin;
#if JOULE_HAS_SIMD
        // Stride 2 (every strided convolution of ResNet-50 and MobileNetV2): the even lanes of two
        // contiguous loads, while both stay inside this input row.
        using simd_detail::kLanes;
        if (g.stride_w == 2) {
          for (; ox < finish && 2 * (ox + kLanes) + x0 <= g.w; ox += kLanes) {
            const float* p = src + 2 * ox + x0;
            const simd_detail::batch v =
                even_lanes(simd_detail::batch::load_unaligned(p), simd_detail::batch::load_unaligned(p + kLanes));
            if (ox + kLanes <= finish)
              v.store_unaligned(out + ox);
            else
              simd_detail::store_first(v, out + ox, finish - ox);
          }
          // The rest of the row, all of it on rows narrower than two vectors (ResNet-50's 14- and
          // 7-wide stride-2 outputs), which went one float at a time: the same even lanes, from
          // loads masked at the last float the row's taps read (ix = 2 · ox + x0 < w).
          for (; ox < finish; ox += kLanes) {
            const float* p = src + 2 * ox + x0;
            const std::int64_t count = std::min(kLanes, finish - ox), span = 2 * count - 1;
            const simd_detail::batch low = simd_detail::load_first(p, std::min(kLanes, span));
            const simd_detail::batch high =
                span > kLanes ? simd_detail::load_first(p + kLanes, span - kLanes) : simd_detail::batch(0.f);
            simd_detail::store_first(even_lanes(low, high), out + ox, count);
          }
        }
#endif
        for (; ox < finish; ++ox) out[ox] = src[ox * g.stride_w + x0];
      }
      fill_floats(out + finish, ox1 - finish, 0.f);
    }
    j += ox1 - ox0;
  }
}

/**
 * @brief Columns [j0, j0 + count) of row @p r of the columns matrix (im2col) of @p source: with
 * r = (c · kh + ky) · kw + kx and j = oy · out_w + ox, dst[j - j0] = input[c][oy · sh - ph + ky · dh]
 * [ox · sw - pw + kx · dw], 0 where that position is padding. Over several images (source.images),
 * column j is column j % image_columns of image j / image_columns, 0 past that image's pixels.
 * The signature is gemm_op::b_rows'.
 */
inline void im2col_row_segment(const void* source, std::int64_t r, std::int64_t j0, std::int64_t count,
                               float* dst) noexcept {
  const auto& s = *static_cast<const im2col_source*>(source);
  if (s.images <= 1) return image_row_segment(s, s.input, r, j0, count, dst);
  const std::int64_t pixels = s.g->out_h * s.g->out_w;
  for (std::int64_t j = j0, end = j0 + count; j < end;) {
    const std::int64_t image = j / s.image_columns, column = j - image * s.image_columns;
    const std::int64_t run = std::min(s.image_columns - column, end - j);
    const std::int64_t real = std::clamp<std::int64_t>(pixels - column, 0, run);
    if (real > 0) image_row_segment(s, s.input + image * s.image_floats, r, column, real, dst + (j - j0));
    fill_floats(dst + (j - j0) + real, run - real, 0.f);
    j += run;
  }
}

/**
 * @brief im2col_row_segment for a 1x1, stride-1, unpadded convolution over several images
 * (im2col_source::images > 1): row r is input channel r's plane of each image in turn, so each
 * image's run is a plain copy. The flat window's path (image_row_segment) made each vector from a
 * mask looked up per tap and vector, a seventh of the time of ResNet-50's 1x1 layers at 8 images.
 * The next channel's runs are fetched while this one's are copied, as the flat path does.
 */
inline void plane_row_segment(const void* source, std::int64_t r, std::int64_t j0, std::int64_t count,
                              float* dst) noexcept {
  const auto& s = *static_cast<const im2col_source*>(source);
  const std::int64_t pixels = s.g->h * s.g->w;
  constexpr std::int64_t kLine = 64 / sizeof(float);
  for (std::int64_t j = j0, end = j0 + count; j < end;) {
    const std::int64_t image = j / s.image_columns, column = j - image * s.image_columns;
    const std::int64_t run = std::min(s.image_columns - column, end - j);
    const std::int64_t real = std::clamp<std::int64_t>(pixels - column, 0, run);
    const float* src = s.input + image * s.image_floats + r * pixels + column;
    for (std::int64_t i = 0; i < real; i += kLine) __builtin_prefetch(src + pixels + i, 0, 3);
    copy_floats(src, real, dst + (j - j0));
    fill_floats(dst + (j - j0) + real, run - real, 0.f);
    j += run;
  }
}

/**
 * @brief The columns matrix of @p channels planes of @p input ([channels, h, w]), row by row
 * (im2col_row_segment): channels · kh · kw rows of out_h · out_w columns. Rows are split across
 * the context's threads.
 */
inline void im2col(cpu_context& ctx, const window_geometry& g, std::int64_t channels, const float* input, float* cols) {
  const std::int64_t taps = g.kh * g.kw, pixels = g.out_h * g.out_w;
  scratch_frame frame(ctx);
  const window_origins origins = gathers_window(g) ? plan_window_origins(g, frame) : window_origins{};
  im2col_source source{&g, input};
  if (origins.row) source.origins = &origins;
#if JOULE_HAS_SIMD
  // A flat window's rows are the plane shifted, one masked load a vector (image_row_segment): row
  // by row, ResNet-50's 7-wide stage-4 3x3 columns took 0.166 ms at batch 1, a fifth of the layer.
  const flat_taps taps_flat = reads_flat(g) ? plan_flat_taps(g, frame) : flat_taps{};
  if (taps_flat.offsets) source.flat = &taps_flat;
  if (im2col_by_phases_applies(g)) {
    const phase_taps phases = plan_phase_taps(g, frame);
    ctx.parallel_for(channels, std::max<std::int64_t>(1, 16384 / (taps * pixels)),
                     [&](std::int64_t c0, std::int64_t c1) { im2col_by_phases(g, phases, input, c0, c1, cols); });
    return;
  }
#endif
  ctx.parallel_for(channels * taps, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(pixels, 1)),
                   [&](std::int64_t r0, std::int64_t r1) {
                     for (std::int64_t r = r0; r < r1; ++r)
                       im2col_row_segment(&source, r, 0, pixels, cols + r * pixels);
                   });
}

/**
 * @brief A convolution as GEMMs on policy @p P's gemm kernel: for each image and group,
 * output[c_out/g, pixels] = weight[c_out/g, c_in/g · kh · kw] · cols, with the bias (along rows) and
 * the residual fused as the GEMM's epilogue. A 1x1, stride-1, unpadded convolution multiplies the
 * input planes directly: they already are its columns matrix. A kernel that takes B made on
 * demand (gemm_makes_b_on_demand, the simd one) makes the columns as it packs them, a block at a
 * time in cache, instead of reading back a columns matrix written out first (7 MB for ResNet-50's
 * first 3x3 layer); one that takes images (gemm_image_columns_align) gets every image of the call
 * as one GEMM.
 */
template <class P>
void conv2d_as_gemm(cpu_context& ctx, const conv2d_op& op) {
  const std::int64_t cin_g = op.c_in / op.groups, cout_g = op.c_out / op.groups;
  const std::int64_t depth = cin_g * op.kh * op.kw, pixels = op.out_h * op.out_w, in_plane = op.h * op.w;
  const bool direct =
      op.kh == 1 && op.kw == 1 && op.stride_h == 1 && op.stride_w == 1 && op.pad_h == 0 && op.pad_w == 0;
  constexpr bool on_demand = gemm_makes_b_on_demand<P>;
  // Several images as one GEMM where the kernel takes them: each block of weights is then read
  // once for all of them, not once per image, and a 7x7 layer has enough columns for every thread.
  constexpr std::int64_t align = gemm_image_columns_align<P>;
  const bool as_one = align > 0 && op.n > 1 && op.groups == 1 && depth > 0;
  const window_geometry g = geometry_of(op);
  scratch_frame frame(ctx);
  float* cols = direct || on_demand ? nullptr : frame.take<float>(depth * pixels);
#if JOULE_HAS_SIMD
  const bool flat = on_demand && (as_one || !direct) && reads_flat(g);
  const flat_taps taps = flat ? plan_flat_taps(g, frame) : flat_taps{};
  // A stride-2 window with more than one tap on even planes, out to rows of at most a vector,
  // reads flat from the planes' phases, split once per pass: made an output row at a time as the
  // GEMM packs them, the 14- and 7-wide rows took one masked load pair and a permute, or a gather,
  // each. ResNet-50's 3x3/2 layers at 8 images (build/ab/resnet50_layers 8 0, alternated): 28 -> 14
  // and 14 -> 7 0.93 of the time each; 56 -> 28 at batch 1 1.10, and its 1x1/2 layers 1.07-1.16.
  const bool phased = on_demand && !direct && reads_phases(g) && g.kh * g.kw > 1 && g.out_w <= simd_detail::kLanes;
  const phase_taps phase_plan = phased ? plan_phase_taps(g, frame) : phase_taps{};
  const std::int64_t pass_planes = (as_one ? op.n : 1) * cin_g;
  float* phase_buffer =
      phased ? frame.take<float>(pass_planes * in_plane + 2 * phase_margin(g)) + phase_margin(g) : nullptr;
  const bool gather = on_demand && !direct && !phased && gathers_window(g);
#else
  const bool gather = on_demand && !direct && gathers_window(g);
#endif
  const window_origins origins = gather ? plan_window_origins(g, frame) : window_origins{};
  const std::int64_t passes = as_one ? 1 : op.n;
  for (std::int64_t b = 0; b < passes; ++b) {
    for (std::int64_t grp = 0; grp < op.groups; ++grp) {
      const float* in = op.input + (b * op.c_in + grp * cin_g) * in_plane;
#if JOULE_HAS_SIMD
      if (phased) split_planes_into_phases(ctx, g, phase_plan, in, pass_planes, phase_buffer);
      im2col_source source{&g, phased ? phase_buffer : in, flat ? &taps : nullptr};
      if (phased) source.phases = &phase_plan;
#else
      im2col_source source{&g, in};
#endif
      if (gather) source.origins = &origins;
      if (!direct && !on_demand) im2col(ctx, g, cin_g, in, cols);
      const std::int64_t out_offset = (b * op.c_out + grp * cout_g) * pixels;
      gemm_op gemm{.m = cout_g,
                   .n = pixels,
                   .k = depth,
                   .a = op.weight + grp * cout_g * depth,
                   .lda = depth,
                   .b = direct ? in : cols,
                   .ldb = pixels,
                   .trans_b = false,
                   .c = op.output + out_offset,
                   .ldc = pixels,
                   .alpha = 1.f,
                   .ep = {}};
      if (on_demand && (as_one || !direct)) {
        gemm.b_rows = direct ? &plane_row_segment : &im2col_row_segment;
        gemm.b_source = &source;
      }
      if (as_one) {
        source.images = gemm.images = op.n;
        source.image_columns = gemm.image_columns = ceil_div(pixels, align) * align;
        source.image_floats = op.c_in * in_plane;
        gemm.c_image_stride = op.c_out * pixels;
      }
      if (op.packed_weight_rows) {  // groups == 1 (ops::conv2d checks)
        gemm.a = op.packed_weight_rows;
        gemm.a_packed = true;
      }
      gemm.ep.bias = op.ep.bias ? op.ep.bias + grp * cout_g : nullptr;
      gemm.ep.axis = bias_axis::row;
      gemm.ep.residual = op.ep.residual ? op.ep.residual + out_offset : nullptr;
      gemm.ep.ldr = pixels;
      gemm.ep.act = op.ep.act;
      kernel_for<gemm_op, P>::run(ctx, gemm);
    }
  }
}

/** @brief Floats of slack after every phase row: one AVX-512 register, the widest vector read. */
inline constexpr std::int64_t kPlaneSlack = 16;

/**
 * @brief Layout of a padded, phase-split copy of one input plane.
 *
 * Padded row pr holds input row pr - pad_h (or padding); its padded column x = j · phases + q is
 * stored at phase q, index j. For an output column ox and a tap at padded column offset off, the
 * value sits at phase off % phases, index ox + off / phases: kLanes neighbouring outputs read one
 * contiguous vector whatever the stride. Every phase row has kPlaneSlack floats beyond the last
 * index a window reads, so a whole vector may be loaded at the last output columns.
 */
struct padded_plane {
  std::int64_t rows = 0, phases = 1, phase_len = 0;

  std::int64_t row_floats() const noexcept { return phases * phase_len; }
  std::int64_t plane_floats() const noexcept { return rows * row_floats(); }
  /** @brief Scratch floats one plane needs: the plane, and its unsplit rows when there are phases. */
  std::int64_t scratch_floats() const noexcept { return phases > 1 ? 2 * plane_floats() : plane_floats(); }
  /** @brief Where padded row @p pr, padded column offset @p off sits for output column 0, in floats. */
  std::int64_t offset(std::int64_t pr, std::int64_t off) const noexcept {
    return pr * row_floats() + off % phases * phase_len + off / phases;
  }
};

/**
 * @brief offsets[ky · kw + kx] = distance, in floats of a padded_plane, from output (oy, ox)'s
 * window origin to its tap (ky, kx), the same for every output: computed once per call so that
 * inner loops do no division by the stride.
 */
inline void window_tap_offsets(const padded_plane& pl, const window_geometry& g, std::int64_t* offsets) noexcept {
  for (std::int64_t ky = 0; ky < g.kh; ++ky)
    for (std::int64_t kx = 0; kx < g.kw; ++kx) offsets[ky * g.kw + kx] = pl.offset(ky * g.dil_h, kx * g.dil_w);
}

/** @brief The layout for @p g: only the padded rows and columns that some window reads. */
inline padded_plane plan_padded_plane(const window_geometry& g) noexcept {
  const std::int64_t rows = (g.out_h - 1) * g.stride_h + g.dil_h * (g.kh - 1) + 1;
  const std::int64_t cols = (g.out_w - 1) * g.stride_w + g.dil_w * (g.kw - 1) + 1;
  const std::int64_t len = ceil_div(ceil_div(cols, g.stride_w) + kPlaneSlack, kPlaneSlack) * kPlaneSlack;
  return {rows, g.stride_w, len};
}

/**
 * @brief dst[0, count) = src[0, count), and possibly beyond, up to the next whole vector when
 * @p readable floats from src and @p writable floats at dst allow it: the caller overwrites what
 * lies past count. The rows copied here are short (7 to 112 floats in MobileNetV2): a memmove call
 * per row cost as much as the depthwise convolution itself, and a scalar tail most of the rest.
 */
inline void copy_row(const float* src, std::int64_t count, std::int64_t readable, std::int64_t writable,
                     float* dst) noexcept {
  std::int64_t i = 0;
#if JOULE_HAS_SIMD
  using simd_detail::kLanes;
  const std::int64_t whole = std::min(readable, writable) / kLanes * kLanes;
  for (; i < count && i + kLanes <= whole; i += kLanes)
    simd_detail::batch::load_unaligned(src + i).store_unaligned(dst + i);
  if (i < count) copy_floats(src + i, count - i, dst + i);
#else
  for (; i < count; ++i) dst[i] = src[i];
#endif
}

/**
 * @brief Splits padded row @p row (phases · phase_len floats) into its phases:
 * dst[q · phase_len + j] = row[j · phases + q].
 */
inline void split_phases(const padded_plane& pl, const float* row, float* dst) noexcept {
#if JOULE_HAS_SIMD
  if (pl.phases == 2) {
    using simd_detail::batch;
    using simd_detail::kLanes;
    for (std::int64_t j = 0; j < pl.phase_len; j += kLanes) {
      const batch a = batch::load_aligned(row + 2 * j);
      const batch b = batch::load_aligned(row + 2 * j + kLanes);
      even_lanes(a, b).store_aligned(dst + j);
      odd_lanes(a, b).store_aligned(dst + pl.phase_len + j);
    }
    return;
  }
#endif
  for (std::int64_t q = 0; q < pl.phases; ++q)
    for (std::int64_t j = 0; j < pl.phase_len; ++j) dst[q * pl.phase_len + j] = row[j * pl.phases + q];
}

/**
 * @brief Writes the padded, phase-split copy of @p src ([h, w]) to @p dst (pl.scratch_floats()
 * floats, 64-byte aligned), with @p pad_value in the padding and the slack: 0 for a convolution or
 * an average, -inf for a max, so padding never changes a result.
 */
inline void fill_padded_plane(const padded_plane& pl, const window_geometry& g, const float* src, float pad_value,
                              float* dst) noexcept {
  const std::int64_t len = pl.row_floats();
  // Input columns that land in a padded row (all of them: len exceeds pad_w + w).
  const std::int64_t columns = std::clamp<std::int64_t>(len - g.pad_w, 0, g.w);
  // With several phases, every padded row is built first and split after, in a second pass: a
  // split reading a row just written would wait on the copy's misaligned stores, row after row.
  float* padded = pl.phases == 1 ? dst : dst + pl.plane_floats();
  for (std::int64_t pr = 0; pr < pl.rows; ++pr) {
    float* row = padded + pr * len;
    const std::int64_t iy = pr - g.pad_h;
    if (iy < 0 || iy >= g.h || columns == 0) {
      fill_floats(row, len, pad_value);
      continue;
    }
    // Padding only where the input does not land: each float of the row is written once.
    fill_floats(row, g.pad_w, pad_value);
    copy_row(src + iy * g.w, columns, (g.h - iy) * g.w, len - g.pad_w, row + g.pad_w);
    fill_floats(row + g.pad_w + columns, len - g.pad_w - columns, pad_value);
  }
  if (pl.phases > 1)
    for (std::int64_t pr = 0; pr < pl.rows; ++pr) split_phases(pl, padded + pr * len, dst + pr * len);
}

/** @brief Threads worth using for @p count independent items totalling @p work operations. */
inline int threads_for(const cpu_context& ctx, std::int64_t count, std::int64_t work,
                       std::int64_t min_work_per_thread = 65536) noexcept {
  const std::int64_t by_work = std::max<std::int64_t>(1, work / min_work_per_thread);
  return static_cast<int>(std::min<std::int64_t>({ctx.threads(), count, by_work}));
}

/**
 * @brief Splits [0, count) into @p threads contiguous ranges, each sized by its thread's measured
 * speed (thread_pool::run_shares), and calls body(t, begin, end) for range t, each range on one
 * thread. Unlike cpu_context::parallel_for, the body learns its range index, so each range can use
 * its own slice of scratch memory taken before the fork.
 */
template <class Body>
void parallel_ranges(cpu_context& ctx, int threads, std::int64_t count, Body&& body) {
  if (threads <= 1) {
    if (count > 0) body(0, std::int64_t{0}, count);
    return;
  }
  ctx.pool().run_shares(count, threads, body);
}

}  // namespace joule::detail
