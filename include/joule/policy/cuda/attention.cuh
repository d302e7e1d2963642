#pragma once
/**
 * @file attention.cuh
 * @brief cuda attention: one fused kernel, one block per (batch item, head, query). The query row
 * and that row's scores live in shared memory; scores, softmax and the weighted sum of V's rows are
 * computed without writing the [seq_q, seq_k] score matrix to device memory.
 */
#include <cstddef>
#include <cstdint>
#include <memory>

#include <cuda_runtime.h>

#include <joule/core/error.hpp>
#include <joule/core/kernel.hpp>
#include <joule/ops/desc/attention.hpp>
#include <joule/policy/cuda.hpp>
#include <joule/policy/cuda/check.hpp>
#include <joule/policy/cuda/context.hpp>
#include <joule/policy/cuda/detail/launch.cuh>
#include <joule/policy/cuda/detail/reduce.cuh>

namespace joule {

namespace cuda_detail {

/** @brief Threads per attention block: four warps, one key per warp at a time. */
inline constexpr int kAttentionThreads = 128;

/** @brief Shared memory of one attention block: the query, the scores and the output partial sums. */
inline std::size_t attention_shared_bytes(const attention_op& op) {
  return static_cast<std::size_t>(op.head_dim + op.seq_k + kAttentionThreads) * sizeof(float);
}

template <class T>
__global__ void attention_kernel(attention_op op);

/**
 * @brief The dynamic shared memory attention_kernel may use on the context's device: the opt-in
 * maximum less the kernel's static scratch, raised once per context (cudaFuncSetAttribute to the
 * maximum, so a later, smaller request never lowers it under an earlier, larger one).
 */
struct attention_shared_plan {
  std::size_t max_dynamic = 0;
};

inline std::shared_ptr<attention_shared_plan> make_attention_shared_plan(context<cuda>& ctx) {
  int optin = 0;
  JOULE_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, ctx.device()), "attention");
  auto plan = std::make_shared<attention_shared_plan>();
  const std::size_t scratch = kWarpSize * sizeof(float);
  plan->max_dynamic = static_cast<std::size_t>(optin) > scratch ? static_cast<std::size_t>(optin) - scratch : 0;
  JOULE_CUDA_CHECK(cudaFuncSetAttribute(attention_kernel<float>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(plan->max_dynamic)),
                   "attention: raising the shared memory limit to ", plan->max_dynamic, " bytes");
  return plan;
}

template <class T>
__global__ void attention_kernel(attention_op op) {
  extern __shared__ float shared[];
  __shared__ float scratch[kWarpSize];
  float* q_row = shared;
  float* scores = q_row + op.head_dim;
  float* partial = scores + op.seq_k;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize, warps = blockDim.x / kWarpSize;
  const std::int64_t rows = op.batch * op.heads * op.seq_q;
  for (std::int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    // row = (b · heads + h) · seq_q + i: query i of head h of item b; head h is columns
    // [h · head_dim, (h + 1) · head_dim) of Q, K, V and out.
    const std::int64_t i = row % op.seq_q, bh = row / op.seq_q, h = bh % op.heads, b = bh / op.heads;
    const T* q = op.q + (b * op.seq_q + i) * op.ldq + h * op.head_dim;
    const T* k = op.k + b * op.seq_k * op.ldk + h * op.head_dim;
    const T* v = op.v + b * op.seq_k * op.ldv + h * op.head_dim;
    const T* mask = op.mask ? op.mask + b * op.seq_k : nullptr;
    T* out = op.out + (b * op.seq_q + i) * op.ldo + h * op.head_dim;

    for (std::int64_t d = threadIdx.x; d < op.head_dim; d += blockDim.x) q_row[d] = q[d];
    __syncthreads();
    // Scores: a warp per key, its lanes along head_dim, so each warp reads one contiguous K row.
    for (std::int64_t j = warp; j < op.seq_k; j += warps) {
      float dot = 0.f;
      for (std::int64_t d = lane; d < op.head_dim; d += kWarpSize) dot += q_row[d] * k[j * op.ldk + d];
      dot = warp_sum(dot);
      if (lane == 0) scores[j] = op.scale * dot + (mask ? mask[j] : 0.f);
    }
    __syncthreads();
    // Softmax of the scores as the scalar softmax_row: maximum (skipping NaN), exp and sum, scale.
    float local_max = -INFINITY;
    for (std::int64_t j = threadIdx.x; j < op.seq_k; j += blockDim.x) local_max = fmaxf(local_max, scores[j]);
    const float max = block_max(local_max, scratch);
    float local_sum = 0.f;
    for (std::int64_t j = threadIdx.x; j < op.seq_k; j += blockDim.x) {
      const float e = expf(scores[j] - max);
      scores[j] = e;
      local_sum += e;
    }
    const float inv = 1.f / block_sum(local_sum, scratch);  // its barriers publish the exps
    for (std::int64_t j = threadIdx.x; j < op.seq_k; j += blockDim.x) scores[j] *= inv;
    __syncthreads();
    // out = scores · V: consecutive threads take consecutive columns (coalesced V reads). When the
    // block has more threads than head_dim, groups of head_dim threads split the keys and their
    // partial sums are added in a fixed order.
    if (op.head_dim <= blockDim.x) {
      const std::int64_t groups = blockDim.x / op.head_dim, group = threadIdx.x / op.head_dim;
      const std::int64_t d = threadIdx.x % op.head_dim;
      if (group < groups) {
        float acc = 0.f;
        for (std::int64_t j = group; j < op.seq_k; j += groups) acc += scores[j] * v[j * op.ldv + d];
        partial[group * op.head_dim + d] = acc;
      }
      __syncthreads();
      if (threadIdx.x < op.head_dim) {
        float acc = 0.f;
        for (std::int64_t g = 0; g < groups; ++g) acc += partial[g * op.head_dim + threadIdx.x];
        out[threadIdx.x] = acc;
      }
    } else {
      for (std::int64_t d = threadIdx.x; d < op.head_dim; d += blockDim.x) {
        float acc = 0.f;
        for (std::int64_t j = 0; j < op.seq_k; ++j) acc += scores[j] * v[j * op.ldv + d];
        out[d] = acc;
      }
    }
    __syncthreads();  // the next row overwrites q_row, scores and partial
  }
}

}  // namespace cuda_detail

template <>
struct kernel<attention_op, cuda> {
  static void run(context<cuda>& ctx, const attention_op& op) {
    const std::int64_t rows = op.batch * op.heads * op.seq_q;
    if (rows == 0 || op.head_dim == 0) return;
    const std::size_t shared = cuda_detail::attention_shared_bytes(op);
    constexpr std::size_t kDefaultShared = 48 * 1024;  // usable by any kernel without opting in
    if (shared > kDefaultShared) {
      // Long sequences need the device's opt-in shared memory (up to ~227 KiB on Hopper), raised
      // once per context as a plan, so a captured run makes no such call.
      const auto& plan = ctx.plan<cuda_detail::attention_shared_plan>(
          {}, [&] { return cuda_detail::make_attention_shared_plan(ctx); }, "attention");
      require(shared <= plan.max_dynamic, "attention: seq_k = ", op.seq_k, " and head_dim = ", op.head_dim, " need ",
              shared, " bytes of shared memory per block on the cuda policy, more than the ", plan.max_dynamic,
              " this device allows");
    }
    cuda_detail::attention_kernel<float>
        <<<cuda_detail::blocks_for(rows, 1), cuda_detail::kAttentionThreads, shared, ctx.stream()>>>(op);
    JOULE_CUDA_CHECK_LAUNCH(attention_kernel, "attention batch=", op.batch, " seq_q=", op.seq_q, " seq_k=", op.seq_k,
                            " heads=", op.heads, " head_dim=", op.head_dim);
  }
};

}  // namespace joule
