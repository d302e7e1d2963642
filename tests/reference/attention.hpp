#pragma once
// Double-precision reference for multi-head attention, and the composed error bound of a float32
// kernel (two GEMMs around a softmax) stated and justified in tests/ops/test_attention.cpp.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "softmax.hpp"

namespace joule_ref {

struct attention_result {
  std::vector<double> value;  ///< out [batch, seq_q, heads · head_dim], exact as double
  std::vector<double> bound;  ///< the largest error a correct float32 kernel may make, per element
};

/**
 * @brief out = softmax(Q Kᵀ / sqrt(head_dim) + mask) V per batch item and head, for Q, K, V with
 * row strides ldq, ldk, ldv (the fused layout) and mask [batch, seq_k] or null.
 */
inline attention_result attention(std::int64_t batch, std::int64_t seq_q, std::int64_t seq_k, std::int64_t heads,
                                  std::int64_t head_dim, const float* q, std::int64_t ldq, const float* k,
                                  std::int64_t ldk, const float* v, std::int64_t ldv, const float* mask) {
  const double u = 0x1p-24;
  auto gamma_of = [u](std::int64_t n) { return n * u / (1 - n * u); };
  const std::int64_t hidden = heads * head_dim;
  attention_result r{std::vector<double>(batch * seq_q * hidden), std::vector<double>(batch * seq_q * hidden)};
  const double scale = 1 / std::sqrt(double(head_dim));
  std::vector<double> s(seq_k), sigma(seq_k), p(seq_k), rho(seq_k);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t h = 0; h < heads; ++h)
      for (std::int64_t i = 0; i < seq_q; ++i) {
        const float* q_row = q + (b * seq_q + i) * ldq + h * head_dim;
        double max = -std::numeric_limits<double>::infinity();
        for (std::int64_t j = 0; j < seq_k; ++j) {
          const float* k_row = k + (b * seq_k + j) * ldk + h * head_dim;
          double dot = 0, magnitude = 0;
          for (std::int64_t d = 0; d < head_dim; ++d) {
            dot += double(q_row[d]) * k_row[d];
            magnitude += std::abs(double(q_row[d]) * k_row[d]);
          }
          const double m = mask ? mask[b * seq_k + j] : 0.0;
          s[j] = scale * dot + m;
          sigma[j] = gamma_of(head_dim + 4) * (scale * magnitude + std::abs(m));
          max = s[j] > max ? s[j] : max;
        }
        double sum = 0;
        for (std::int64_t j = 0; j < seq_k; ++j) sum += p[j] = std::exp(s[j] - max);
        double sigma_mean = 0, w = 0, spread_mean = 0;  // sums over the keys with p > 0
        for (std::int64_t j = 0; j < seq_k; ++j) {
          p[j] /= sum;
          if (p[j] > 0) {
            sigma_mean += p[j] * sigma[j];
            w += p[j] * std::exp(sigma[j]);
            spread_mean += p[j] * std::abs(s[j] - max);
          }
        }
        for (std::int64_t j = 0; j < seq_k; ++j) {
          if (!(p[j] > 0)) continue;
          const double perturbed = std::max(std::exp(sigma[j] + sigma_mean) - 1, 1 - std::exp(-sigma[j]) / w);
          const double rounded = gamma_of(seq_k) + (2 * kExpErrorUnits + 2 + std::abs(s[j] - max) + spread_mean) * u;
          rho[j] = perturbed + rounded;
        }
        for (std::int64_t c = 0; c < head_dim; ++c) {
          double value = 0, bound = 0, v_max = 0;
          for (std::int64_t j = 0; j < seq_k; ++j) {
            const double vj = v[(b * seq_k + j) * ldv + h * head_dim + c];
            value += p[j] * vj;
            v_max = std::max(v_max, std::abs(vj));
            if (p[j] > 0) bound += p[j] * std::abs(vj) * (rho[j] + gamma_of(seq_k) * (1 + rho[j]));
          }
          const std::int64_t at = (b * seq_q + i) * hidden + h * head_dim + c;
          r.value[at] = value;
          r.bound[at] = bound + static_cast<double>(seq_k) * 0x1p-125 * v_max;
        }
      }
  return r;
}

}  // namespace joule_ref
