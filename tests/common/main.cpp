// gtest main for every joule test: draws (or reads) the run's seed and prints it first, so any
// failure with random shapes can be replayed with JOULE_TEST_SEED=<seed>.
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include "testing.hpp"

namespace joule_test {
std::uint64_t run_seed() {
  static const std::uint64_t seed = [] {
    if (const char* env = std::getenv("JOULE_TEST_SEED")) return std::uint64_t{std::stoull(env)};
    return (std::uint64_t{std::random_device{}()} << 32) | std::uint64_t{std::random_device{}()};
  }();
  return seed;
}
}  // namespace joule_test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::cout << "joule test seed: " << joule_test::run_seed()
            << " (replay with JOULE_TEST_SEED=" << joule_test::run_seed() << ")\n";
  return RUN_ALL_TESTS();
}
