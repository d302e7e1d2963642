// Conformance of ops::embedding on every CPU policy. A gather does no arithmetic, so the bound is
// exact: every output row must equal its table row bit for bit (memcmp, so NaN payloads and
// signed zeros in the table are copied as they are).
//
// Bad input tested (message fragment): an id below 0 and an id >= vocab, each named with its
// position ("id -1 at ids[1, 2] is out of range [0, 50)", "id 50 at ids[0, 4]"), a table that is
// not rank 2 ("table must have rank 2"), out of the wrong shape ("out must have shape"), ids of
// rank 5 (out would need rank 6: "ids must have rank <= 4"), a null data pointer for the table
// and for the ids ("null data pointer"), a misaligned table pointer ("not aligned"), out
// overlapping the table ("out overlaps table"). Edge cases: ids of rank 0 (one id, out [dim]) to
// 3, dims not multiples of the vector width, dim 1, repeated ids, the first and last rows, no ids,
// BERT-base's 128 ids into the 30522 x 768 word table, several thread counts.
#include <cstring>
#include <limits>

#include <joule/ops/embedding.hpp>

#include "../common/testing.hpp"

namespace {

using joule_test::expect_error;

using joule::shape;
using joule::tensor;

/** A table whose every element is a distinct bit pattern, cheap enough for BERT's 23 M floats. */
tensor<float> make_table(std::int64_t vocab, std::int64_t dim, std::uint32_t seed) {
  tensor<float> t(shape{vocab, dim});
  std::uint32_t state = seed | 1u;
  for (auto& x : t.span()) {
    state = state * 1664525u + 1013904223u;  // an LCG: only distinctness matters here
    x = static_cast<float>(static_cast<std::int32_t>(state >> 8)) * 0x1p-20f;
  }
  return t;
}

template <class P>
class embedding_conformance : public ::testing::Test {
 protected:
  void SetUp() override { JOULE_SKIP_IF_UNAVAILABLE(P); }

  void check(joule::context<P>& ctx, const tensor<std::int64_t>& ids, const tensor<float>& table) {
    const std::int64_t dim = table.dim(1);
    std::vector<std::int64_t> out_dims(ids.shape().dims().begin(), ids.shape().dims().end());
    out_dims.push_back(dim);
    tensor<float> out(shape{std::span<const std::int64_t>(out_dims)});
    std::fill_n(out.data(), out.numel(), std::numeric_limits<float>::quiet_NaN());
    joule::ops::embedding(ctx, ids.cview(), table.cview(), out.view());
    for (std::int64_t i = 0; i < ids.numel(); ++i)
      ASSERT_EQ(std::memcmp(out.data() + i * dim, table.data() + ids[i] * dim, sizeof(float) * dim), 0)
          << P::name() << " embedding ids " << ids.shape() << " table " << table.shape() << ": row for id " << ids[i]
          << " at position " << i << " differs (threads=" << ctx.threads() << ")";
  }
};
TYPED_TEST_SUITE(embedding_conformance, joule_test::cpu_policy_types, joule_test::policy_name);

tensor<std::int64_t> random_ids(std::mt19937_64& rng, shape s, std::int64_t vocab) {
  tensor<std::int64_t> ids(s);
  for (auto& id : ids.span()) id = joule_test::uniform_int(rng, 0, vocab - 1);
  return ids;
}

TYPED_TEST(embedding_conformance, random_shapes) {
  auto rng = joule_test::rng_for_test();
  for (int threads : {1, 2, 3}) {
    joule::context<TypeParam> ctx(threads);
    for (int draw = 0; draw < 12; ++draw) {
      const auto vocab = joule_test::uniform_int(rng, 1, 500), dim = joule_test::uniform_int(rng, 1, 200);
      const auto table = make_table(vocab, dim, static_cast<std::uint32_t>(rng()));
      const auto rank = joule_test::uniform_int(rng, 0, 3);
      std::vector<std::int64_t> dims(rank);
      for (auto& d : dims) d = joule_test::uniform_int(rng, 1, 30);
      this->check(ctx, random_ids(rng, shape{std::span<const std::int64_t>(dims)}, vocab), table);
    }
  }
}

TYPED_TEST(embedding_conformance, degenerate_sizes_and_special_values) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  auto table = make_table(50, 19, 7);
  table[0] = std::numeric_limits<float>::quiet_NaN();
  table[1] = -0.f;
  table[19 * 49 + 18] = -std::numeric_limits<float>::infinity();
  this->check(ctx, tensor<std::int64_t>(shape{8}, {0, 49, 0, 0, 49, 3, 3, 0}), table);  // repeats, first, last
  this->check(ctx, random_ids(rng, shape{0}, 50), table);
  this->check(ctx, random_ids(rng, shape{2, 0}, 50), table);
  this->check(ctx, tensor<std::int64_t>(shape{}, {17}), table);  // one id: out is [dim]
  this->check(ctx, random_ids(rng, shape{33}, 10), make_table(10, 1, 3));
}

TYPED_TEST(embedding_conformance, bert_base_word_embeddings) {
  auto rng = joule_test::rng_for_test();
  joule::context<TypeParam> ctx(2);
  const auto table = make_table(30522, 768, 11);
  this->check(ctx, random_ids(rng, shape{128}, 30522), table);
  this->check(ctx, random_ids(rng, shape{1, 128}, 30522), table);
}

TYPED_TEST(embedding_conformance, bad_input_is_a_clear_error) {
  joule::context<TypeParam> ctx(1);
  const auto table = make_table(50, 8, 1);
  tensor<float> out(shape{2, 5, 8});
  tensor<std::int64_t> negative(shape{2, 5}, {0, 1, 2, 3, 4, 5, 6, -1, 8, 9});
  expect_error([&] { joule::ops::embedding(ctx, negative.cview(), table.cview(), out.view()); },
               "embedding: id -1 at ids[1, 2] is out of range [0, 50) for table [50, 8]");
  tensor<std::int64_t> too_big(shape{2, 5}, {0, 1, 2, 3, 50, 5, 6, 7, 8, 9});
  expect_error([&] { joule::ops::embedding(ctx, too_big.cview(), table.cview(), out.view()); },
               "embedding: id 50 at ids[0, 4] is out of range [0, 50)");
  tensor<std::int64_t> ids(shape{2, 5});
  tensor<float> table3(shape{1, 50, 8});
  expect_error([&] { joule::ops::embedding(ctx, ids.cview(), table3.cview(), out.view()); },
               "embedding: table must have rank 2, got shape [1, 50, 8]");
  tensor<float> out_bad(shape{10, 8});
  expect_error([&] { joule::ops::embedding(ctx, ids.cview(), table.cview(), out_bad.view()); },
               "embedding: out must have shape [2, 5, 8], got [10, 8]");
  tensor<std::int64_t> ids5(shape{1, 1, 1, 2, 5});
  expect_error([&] { joule::ops::embedding(ctx, ids5.cview(), table.cview(), out.view()); },
               "embedding: ids must have rank <= 4 (out adds an axis), got shape [1, 1, 1, 2, 5]");
  expect_error(
      [&] {
        joule::ops::embedding(ctx, ids.cview(), joule::tensor_view<const float>(nullptr, shape{50, 8}), out.view());
      },
      "embedding: table has shape [50, 8] but a null data pointer");
  expect_error(
      [&] {
        joule::ops::embedding(ctx, joule::tensor_view<const std::int64_t>(nullptr, shape{2, 5}), table.cview(),
                              out.view());
      },
      "embedding: ids has shape [2, 5] but a null data pointer");
  std::vector<char> raw(512 * sizeof(float));
  const auto* misaligned = reinterpret_cast<const float*>(raw.data() + 1);
  expect_error(
      [&] {
        joule::ops::embedding(ctx, ids.cview(), joule::tensor_view<const float>(misaligned, shape{50, 8}), out.view());
      },
      "embedding: table data pointer is not aligned");
  tensor<float> shared(shape{400});
  expect_error(
      [&] {
        joule::ops::embedding(ctx, ids.cview(), joule::tensor_view<const float>(shared.data(), shape{40, 8}),
                              joule::tensor_view<float>(shared.data() + 16, shape{2, 5, 8}));
      },
      "embedding: out overlaps table");
}

}  // namespace
