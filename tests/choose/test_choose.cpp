// joule::choose on the small test models (real executors, a fake meter, budgets of 50 ms): every
// compiled policy and thread count is a candidate, cuda is listed with its reason, the winner runs
// and agrees with the scalar policy, a second call reuses the wisdom, an unsatisfiable bound
// chooses nothing and run() says why, and bad options are errors that name the option.
//
// Agreement bound: the winner's logits against the scalar executor's within 1e-3 of the largest
// |logit|, the chooser's own gate tolerance (float32 sums in another order over a few hundred
// terms per output stay orders of magnitude below it).
#include <gtest/gtest.h>

#include <joule/choose/choose.hpp>

#include "fakes.hpp"

namespace {

using choose_test::row;

joule::choose_options fast_options(const std::filesystem::path& wisdom, joule::energy::meter& meter) {
  joule::choose_options o;
  o.threads = {1, 2};
  o.budget_s = 0.05;
  o.wisdom_path = wisdom;
  o.meter = &meter;
  return o;
}

double max_relative_difference(joule::tensor_view<const float> a, joule::tensor_view<const float> b) {
  double scale = 0, worst = 0;
  for (std::size_t i = 0; i < a.span().size(); ++i) {
    scale = std::max(scale, std::abs(static_cast<double>(b.span()[i])));
    worst = std::max(worst, std::abs(static_cast<double>(a.span()[i]) - b.span()[i]));
  }
  return worst / scale;
}

TEST(Choose, ChoosesRunsAndRemembers) {
  choose_test::temp_dir dir;
  choose_test::fake_meter meter;
  const auto cfg = joule::models::resnet_small_config();
  const auto w = joule::random_weights(joule::models::resnet<joule::scalar>{cfg}.manifest(), 7);
  const joule::compile_options options{.batch = 1, .image_size = 32};
  auto pick = joule::choose(joule::models::resnet_family{cfg}, w, options, joule::objective::least_energy{},
                            fast_options(dir.path() / "wisdom.json", meter));
  ASSERT_TRUE(pick) << pick.report;
  EXPECT_EQ(pick.report.reference, "scalar/1");

  // Every compiled policy at every thread count (scalar once), cuda listed with its reason.
  std::size_t expected = 0;
  joule::cpu_policies::for_each([&]<class P>() {
    if (P::available()) expected += std::is_same_v<P, joule::scalar> ? 1 : 2;
  });
  std::size_t measured = 0;
  for (const auto& r : pick.report.rows) measured += r.status == joule::tuning::row_status::measured ? 1 : 0;
  EXPECT_EQ(measured, expected) << pick.report;
  const auto& cuda = row(pick.report, "cuda/1");
  EXPECT_EQ(cuda.status, joule::tuning::row_status::unavailable);
  EXPECT_FALSE(cuda.note.empty());

  // The winner runs and agrees with the scalar executor.
  const auto input = joule::tuning::family_traits<joule::models::resnet_config>::make_input(cfg, options, 99);
  auto scalar = joule::compile(joule::models::resnet<joule::scalar>{cfg}, w, options);
  const auto expected_out = joule::tensor<float>::copy_of(scalar.run(input.view()));
  const auto out = pick.executor.run(input.view());
  EXPECT_LE(max_relative_difference(out, expected_out.cview()), 1e-3);
  EXPECT_EQ(pick.executor.policy(), pick.report.chosen()->policy);
  EXPECT_EQ(pick.executor.threads(), pick.report.chosen()->threads);

  // The second time, everything comes from the wisdom file.
  auto again = joule::choose(joule::models::resnet_family{cfg}, w, options, joule::objective::least_energy{},
                             fast_options(dir.path() / "wisdom.json", meter));
  EXPECT_EQ(again.report.measured_now, 0u);
  EXPECT_EQ(again.report.reused, expected);
  EXPECT_EQ(again.report.chosen()->name(), pick.report.chosen()->name());
}

TEST(Choose, UnsatisfiableBoundChoosesNothing) {
  choose_test::temp_dir dir;
  choose_test::fake_meter meter;
  const auto cfg = joule::models::bert_small_config();
  const auto w = joule::random_weights(joule::models::bert<joule::scalar>{cfg}.manifest(), 3);
  auto how = fast_options(dir.path() / "wisdom.json", meter);
  how.policies = {"scalar", "simd"};
  how.threads = {1};
  auto pick = joule::choose(joule::models::bert_family{cfg}, w, {.batch = 1, .seq_len = 8},
                            joule::objective::least_energy{.p95_bound_ms = 1e-6}, how);
  EXPECT_FALSE(pick);
  EXPECT_NE(pick.report.verdict.find("nothing chosen: no candidate meets p95 latency <= 0.001 us"), std::string::npos)
      << pick.report.verdict;
  const auto input =
      joule::tuning::family_traits<joule::models::bert_config>::make_input(cfg, {.batch = 1, .seq_len = 8}, 1);
  try {
    pick.executor.run(input.view());
    FAIL() << "run() on an empty choice must throw";
  } catch (const joule::error& e) {
    EXPECT_NE(std::string(e.what()).find("no executor was chosen: nothing chosen"), std::string::npos) << e.what();
  }
}

TEST(Choose, BadOptionsAreErrors) {
  choose_test::fake_meter meter;
  const auto cfg = joule::models::mobilenet_v2_small_config();
  const auto w = joule::random_weights(joule::models::mobilenet_v2<joule::scalar>{cfg}.manifest(), 3);
  joule::choose_options how;
  how.meter = &meter;
  how.use_wisdom = false;
  how.policies = {"simd", "tpu"};
  try {
    joule::choose(joule::models::mobilenet_v2_family{cfg}, w, {.batch = 1, .image_size = 32}, {}, how);
    FAIL();
  } catch (const joule::error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown policy 'tpu'; known policies: scalar, simd, blas, eigen, cuda"),
              std::string::npos)
        << e.what();
  }
  how.policies = {};
  how.threads = {0};
  EXPECT_THROW(joule::choose(joule::models::mobilenet_v2_family{cfg}, w, {.batch = 1, .image_size = 32}, {}, how),
               joule::error);
}

TEST(Choose, ConfigHashNamesTheConfiguration) {
  const auto a = joule::tuning::config_hash(joule::models::resnet50_config());
  EXPECT_EQ(a, joule::tuning::config_hash(joule::models::resnet50_config()));
  EXPECT_NE(a, joule::tuning::config_hash(joule::models::resnet_small_config()));
  auto cfg = joule::models::bert_base_config();
  const auto b = joule::tuning::config_hash(cfg);
  cfg.layer_norm_eps = 1e-5f;
  EXPECT_NE(b, joule::tuning::config_hash(cfg));
}

}  // namespace
