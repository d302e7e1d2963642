// The blas policy's bits must not depend on what else in the process uses OpenBLAS. OpenBLAS has
// one process-wide thread count, and its result depends on it (Debian 12's OpenBLAS 0.3.21 runs its
// Prescott kernels on CPUs it does not know, which give different last bits with 1 and 2 threads).
// When each blas call set that count to its context's, an executor with 1 thread running beside
// one with 2 sometimes computed with 2: the executors test saw a ResNet output 2 ulp off under
// ThreadSanitizer. The blas kernels now keep OpenBLAS single-threaded and split across joule's own
// threads, so each context's output is fixed by its shape and thread count alone.
#include <barrier>
#include <cstring>
#include <thread>
#include <vector>

#include <joule/ops/gemm.hpp>

#include "../common/testing.hpp"

#if JOULE_HAS_BLAS
#include <cblas.h>
#endif

namespace {

using joule::shape;
using joule::tensor;

#if JOULE_HAS_BLAS
tensor<float> random_matrix(std::int64_t rows, std::int64_t cols, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  tensor<float> t(shape{rows, cols});
  for (auto& x : t.span()) x = dist(rng);
  return t;
}

bool same_bits(const tensor<float>& x, const tensor<float>& y) {
  return std::memcmp(x.data(), y.data(), static_cast<std::size_t>(x.numel()) * sizeof(float)) == 0;
}

TEST(concurrency_blas, leaves_openblas_single_threaded) {
  auto rng = joule_test::rng_for_test();
  const auto a = random_matrix(256, 147, rng), b = random_matrix(147, 1024, rng);
  tensor<float> c(shape{256, 1024});
  joule::context<joule::blas> ctx(2);
  openblas_set_num_threads(2);  // as a user's own code might
  joule::ops::gemm(ctx, a.cview(), b.cview(), c.view());
  EXPECT_EQ(openblas_get_num_threads(), 1);
}

TEST(concurrency_blas, one_and_two_thread_contexts_at_once_keep_their_bits) {
  // Shapes where this machine's OpenBLAS gave different bits with 1 and 2 threads (Prescott
  // kernels), each large enough for two threads; both contexts run them over and over at once.
  auto rng = joule_test::rng_for_test();
  const auto a = random_matrix(100, 27, rng), b = random_matrix(27, 4096, rng);
  const auto a2 = random_matrix(256, 147, rng), b2 = random_matrix(147, 1024, rng);
  struct runner {
    joule::context<joule::blas> ctx;
    const tensor<float>* a;
    const tensor<float>* b;
    tensor<float> alone;
  };
  std::vector<runner> runners;
  runners.push_back({joule::context<joule::blas>(1), &a, &b, tensor<float>(shape{100, 4096})});
  runners.push_back({joule::context<joule::blas>(2), &a, &b, tensor<float>(shape{100, 4096})});
  runners.push_back({joule::context<joule::blas>(1), &a2, &b2, tensor<float>(shape{256, 1024})});
  runners.push_back({joule::context<joule::blas>(2), &a2, &b2, tensor<float>(shape{256, 1024})});
  for (auto& r : runners) joule::ops::gemm(r.ctx, r.a->cview(), r.b->cview(), r.alone.view());

  constexpr int kRounds = 40;
  std::vector<int> mismatches(runners.size(), 0);
  std::barrier start(static_cast<std::ptrdiff_t>(runners.size()));
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < runners.size(); ++i)
    threads.emplace_back([&, i] {
      auto& r = runners[i];
      tensor<float> c(r.alone.shape());
      start.arrive_and_wait();
      for (int round = 0; round < kRounds; ++round) {
        joule::ops::gemm(r.ctx, r.a->cview(), r.b->cview(), c.view());
        if (!same_bits(c, r.alone)) ++mismatches[i];
      }
    });
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < runners.size(); ++i)
    EXPECT_EQ(mismatches[i], 0) << "runner " << i << " (threads " << runners[i].ctx.threads() << ")";
}
#else
TEST(concurrency_blas, leaves_openblas_single_threaded) { GTEST_SKIP() << "joule was built without OpenBLAS"; }
#endif

}  // namespace
