#pragma once
// What the gemm conformance tests of every policy share (tests/ops/test_gemm.cpp on the CPU
// policies, tests/cuda/test_cuda_ops.cu on cuda): the problem, the random problem generator and the
// error bound (derived in test_gemm.cpp). The generator draws from the rng in a fixed order, so a
// seed gives the same shapes everywhere.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <joule/ops/desc/activation.hpp>

#include "../common/activations.hpp"
#include "../common/testing.hpp"
#include "../reference/gemm.hpp"

namespace joule_test {

/** One gemm to run: C = act(alpha · A · op(B) + bias + residual), A m x k. */
struct gemm_problem {
  std::int64_t m, n, k;
  bool trans_b, with_bias, with_residual;
  float alpha;
  joule::activation act;
};

/** A random problem of up to 70 x 90 x 300 with a random epilogue. */
inline gemm_problem random_gemm_problem(std::mt19937_64& rng) {
  // Braced initialisation evaluates left to right: the draw order is fixed.
  return gemm_problem{
      uniform_int(rng, 1, 70), uniform_int(rng, 1, 90), uniform_int(rng, 1, 300),    rng() % 2 == 0,
      rng() % 2 == 0,          rng() % 3 == 0,          rng() % 4 == 0 ? 0.5f : 1.f, kActivations[rng() % 6]};
}

/** Random A, B, bias and residual for a problem; NaN / Inf placed in A / B when nonzero. */
struct gemm_inputs {
  joule::tensor<float> a, b, bias, residual;
};

inline gemm_inputs random_gemm_inputs(const gemm_problem& pr, std::mt19937_64& rng, float nan_in_a = 0.f,
                                      float inf_in_b = 0.f) {
  // Drawn in this order (A, B, bias, residual), so a seed gives the same data on every policy.
  gemm_inputs in;
  in.a = random_tensor(rng, joule::shape{pr.m, pr.k});
  in.b = random_tensor(rng, pr.trans_b ? joule::shape{pr.n, pr.k} : joule::shape{pr.k, pr.n});
  in.bias = random_tensor(rng, joule::shape{pr.n});
  in.residual = random_tensor(rng, joule::shape{pr.m, pr.n});
  if (nan_in_a != 0.f && in.a.numel() > 0) in.a[in.a.numel() / 2] = nan_in_a;
  if (inf_in_b != 0.f && in.b.numel() > 0) in.b[in.b.numel() / 3] = inf_in_b;
  return in;
}

/** The per-element error bound 1.2 · gamma(k + 3) · M + 8u · (|ref| + M) of test_gemm.cpp. */
inline std::vector<double> gemm_bound(std::int64_t k, const joule_ref::gemm_result& ref) {
  std::vector<double> bound(ref.value.size());
  for (std::size_t i = 0; i < bound.size(); ++i)
    bound[i] =
        1.2 * gamma(k + 3) * ref.magnitude[i] + 8 * kUnitRoundoff * (std::abs(ref.value[i]) + ref.magnitude[i]) + 1e-37;
  return bound;
}

}  // namespace joule_test
