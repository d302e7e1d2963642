#pragma once
// What the pooling conformance tests of every policy share (tests/ops/test_pool2d.cpp on the CPU
// policies, tests/cuda/test_cuda_ops.cu on cuda): the double-precision expected outputs and their
// error bounds, gamma(window + 2) · M (derived in test_pool2d.cpp).
#include <cstdint>
#include <vector>

#include <joule/ops/pool2d.hpp>

#include "../common/testing.hpp"
#include "../reference/pool2d.hpp"

namespace joule_test {

/** Every output's reference value and error bound. */
struct pool_expected {
  std::vector<double> want, bound;
};

/** The expected outputs of pool2d with @p p over @p input (host data @p x). */
inline pool_expected pool2d_expected(const joule::shape& input, const joule::ops::pool2d_params& p, const float* x) {
  const joule::shape out_shape = joule::ops::pool2d_output_shape(input, p);
  const joule_ref::pool2d_problem problem{p.kind,       input[0],    input[1], input[2],
                                          input[3],     p.kh,        p.kw,     p.stride_h,
                                          p.stride_w,   p.pad_h,     p.pad_w,  p.count_include_pad,
                                          out_shape[2], out_shape[3]};
  pool_expected r{std::vector<double>(out_shape.numel()), std::vector<double>(out_shape.numel())};
  for (std::int64_t i = 0; i < out_shape.numel(); ++i) {
    const auto e = joule_ref::pool2d_at(problem, x, i);
    r.want[i] = e.value;
    r.bound[i] = gamma(p.kh * p.kw + 2) * e.magnitude;
  }
  return r;
}

/** The expected outputs of global_avg_pool over @p input [n, c, h, w] (host data @p x). */
inline pool_expected global_avg_pool_expected(const joule::shape& input, const float* x) {
  const std::int64_t hw = input[2] * input[3], outputs = input[0] * input[1];
  pool_expected r{std::vector<double>(outputs), std::vector<double>(outputs)};
  for (std::int64_t i = 0; i < outputs; ++i) {
    const auto e = joule_ref::global_avg_pool_at(hw, x, i);
    r.want[i] = e.value;
    r.bound[i] = gamma(hw + 2) * e.magnitude;
  }
  return r;
}

}  // namespace joule_test
