#pragma once
/** @file embedding.hpp @brief The embedding (gather) operator's contract. */
#include <cstdint>

namespace joule {

/**
 * @brief out[i, :] = table[ids[i], :] for i in [0, count); table is [vocab, dim].
 * The front end has checked that every id is in [0, vocab).
 */
struct embedding_op {
  std::int64_t count = 0, vocab = 0, dim = 0;
  const std::int64_t* ids = nullptr;
  const float* table = nullptr;
  float* out = nullptr;

  static constexpr const char* name() noexcept { return "embedding"; }
};

}  // namespace joule
