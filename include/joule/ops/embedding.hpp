#pragma once
/**
 * @file embedding.hpp
 * @brief ops::embedding: gathers one table row per id (BERT's word, position and type embeddings).
 *
 * The front end holds no arithmetic: it checks the views and every id, builds an embedding_op and
 * forwards it to the policy's kernel (policy/<backend>/embedding.hpp).
 */
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <joule/config.hpp>
#include <joule/core/check.hpp>
#include <joule/core/context.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/tensor.hpp>
#include <joule/ops/desc/embedding.hpp>
#include <joule/policy/policies.hpp>

#include <joule/policy/scalar/embedding.hpp>
#if JOULE_HAS_SIMD
#include <joule/policy/simd/embedding.hpp>
#endif
#if JOULE_CUDA_KERNELS
#include <joule/policy/cuda/embedding.cuh>
#endif

namespace joule::detail {
/** @brief "ids[1, 5]": the multi-index of flat position @p flat in ids of shape @p s. */
inline std::string embedding_id_position(const shape& s, std::int64_t flat) {
  std::vector<std::int64_t> index(static_cast<std::size_t>(s.rank()));
  for (int axis = s.rank() - 1; axis >= 0; --axis) {
    index[static_cast<std::size_t>(axis)] = s[axis] ? flat % s[axis] : 0;
    flat = s[axis] ? flat / s[axis] : 0;
  }
  std::string name = "ids[";
  for (std::size_t i = 0; i < index.size(); ++i) name += (i ? ", " : "") + std::to_string(index[i]);
  return name + "]";
}
}  // namespace joule::detail

namespace joule::ops {

/**
 * @brief out[..., :] = table[ids[...], :]: ids of any rank up to 4, table [vocab, dim], out of
 * shape ids.shape + [dim]. Every id is checked to lie in [0, vocab) before any row is copied; a
 * bad one is an error naming the id and its position. (Host policies only: a device policy's ids
 * are checked by the executor on the host before they are uploaded.)
 */
template <backend P>
void embedding(context<P>& ctx, tensor_view<const std::int64_t> ids, tensor_view<const float> table,
               tensor_view<float> out) {
  constexpr const char* op = "embedding";
  require(ids.rank() < kMaxRank, op, ": ids must have rank <= ", kMaxRank - 1, " (out adds an axis), got shape ",
          ids.shape());
  detail::check_view(op, "ids", ids);
  detail::check_rank(op, "table", table, 2);
  const std::int64_t vocab = table.dim(0), dim = table.dim(1);
  // A fixed array, not a vector: models call this on every run(), which must not allocate.
  std::array<std::int64_t, kMaxRank> out_dims{};
  std::copy(ids.shape().dims().begin(), ids.shape().dims().end(), out_dims.begin());
  out_dims[static_cast<std::size_t>(ids.rank())] = dim;
  detail::check_shape(op, "out", out,
                      shape{std::span<const std::int64_t>(out_dims.data(), static_cast<std::size_t>(ids.rank() + 1))});
  detail::check_no_overlap(op, "out", out, "table", table);
  detail::check_no_overlap(op, "out", out, "ids", ids);
  // Device ids cannot be read here: joule::executor checks them on the host at its input edge
  // (the model's check_input) before it uploads them.
  if constexpr (is_host_space<typename P::memory_space>) {
    for (std::int64_t i = 0; i < ids.numel(); ++i)
      if (ids[i] < 0 || ids[i] >= vocab)
        fail(op, ": id ", ids[i], " at ", detail::embedding_id_position(ids.shape(), i), " is out of range [0, ", vocab,
             ") for table ", table.shape());
  }
  if (out.numel() == 0) return;
  kernel_for<embedding_op, P>::run(ctx, embedding_op{.count = ids.numel(),
                                                     .vocab = vocab,
                                                     .dim = dim,
                                                     .ids = ids.data(),
                                                     .table = table.data(),
                                                     .out = out.data()});
}

}  // namespace joule::ops
