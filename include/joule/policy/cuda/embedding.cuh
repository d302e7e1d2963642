#pragma once
/** @file embedding.cuh @brief cuda embedding: a gather of table rows, one thread per output element. */
#include <cstdint>

#include <joule/core/kernel.hpp>
#include <joule/ops/desc/embedding.hpp>
#include <joule/policy/cuda.hpp>
#include <joule/policy/cuda/check.hpp>
#include <joule/policy/cuda/context.hpp>
#include <joule/policy/cuda/detail/launch.cuh>

namespace joule {

namespace cuda_detail {
// Consecutive threads copy consecutive elements of one row, so reads and writes are coalesced.
// The ids were range-checked by the front end; they are still clamped here, so that a bad id can
// never make the device read outside the table.
template <class T>
__global__ void embedding_kernel(std::int64_t count, std::int64_t vocab, std::int64_t dim, const std::int64_t* ids,
                                 const T* table, T* out) {
  const std::int64_t total = count * dim;
  for (std::int64_t e = grid_index(); e < total; e += grid_stride()) {
    const std::int64_t row = e / dim, col = e - row * dim;
    std::int64_t id = ids[row];
    id = id < 0 ? 0 : (id >= vocab ? vocab - 1 : id);
    out[e] = table[id * dim + col];
  }
}
}  // namespace cuda_detail

template <>
struct kernel<embedding_op, cuda> {
  static void run(context<cuda>& ctx, const embedding_op& op) {
    const std::int64_t total = op.count * op.dim;
    if (total == 0) return;
    cuda_detail::embedding_kernel<float>
        <<<cuda_detail::blocks_for(total), cuda_detail::kBlockThreads, 0, ctx.stream()>>>(op.count, op.vocab, op.dim,
                                                                                          op.ids, op.table, op.out);
    JOULE_CUDA_CHECK_LAUNCH(embedding_kernel, "embedding count=", op.count, " vocab=", op.vocab, " dim=", op.dim);
  }
};

}  // namespace joule
