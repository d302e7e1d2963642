#pragma once
/** @file conv2d_max_pool.hpp @brief The conv2d_max_pool operator's contract. */
#include <joule/ops/desc/conv2d.hpp>
#include <joule/ops/desc/pool2d.hpp>

namespace joule {

/**
 * @brief A convolution (its epilogue's bias and activation, no residual) and then max pooling of
 * its output: ResNet's stem and the pool after it. conv.output is unused: the convolution's output
 * [n, c_out, conv.out_h, conv.out_w] is pool's input and need not exist in memory; pool.output
 * [n, c_out, pool.out_h, pool.out_w] is the result.
 */
struct conv2d_max_pool_op {
  conv2d_op conv;
  pool2d_op pool;  ///< kind max; n, c, h, w those of the convolution's output; input unused
  static constexpr const char* name() noexcept { return "conv2d_max_pool"; }
};

/**
 * @brief Whether policy @p P runs conv2d_max_pool_op, without writing the convolution's output
 * out. A model asks before it calls ops::conv2d_max_pool; otherwise it runs ops::conv2d and
 * ops::pool2d.
 */
template <class P>
inline constexpr bool conv2d_fuses_max_pool = false;

}  // namespace joule
