// The chart's content: the Pareto front (dominated and rejected candidates are off it), the panel
// built from a report (winner, rejected, unavailable listed under the plot, energy kind), the
// axes (log scale past a factor of 4, ticks inside the range), the report's table, JSON and CSV;
// and, with cairo, that an SVG and a PNG are written and a bad extension is refused.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include <joule/choose/chart.hpp>
#include <joule/choose/report.hpp>
#if JOULE_TEST_HAS_CAIRO
#include <joule/choose/chart_cairo.hpp>
#endif

#include "fakes.hpp"

#if JOULE_TEST_HAS_CAIRO
// Fontconfig, which cairo loads for its fonts, keeps its configuration until exit by design; under
// LeakSanitizer (the asan preset) that is reported as a leak that is not ours.
extern "C" const char* __lsan_default_suppressions() { return "leak:libfontconfig.so\n"; }
#endif

namespace {

using joule::tuning::chart_point;

chart_point pt(const char* label, double ms, double joules, bool rejected = false) {
  chart_point p;
  p.label = label;
  p.policy = std::string(label).substr(0, std::string(label).find('/'));
  p.latency_s = ms * 1e-3;
  p.joules = joules;
  p.rejected = rejected;
  return p;
}

TEST(Chart, ParetoFront) {
  std::vector<chart_point> points{pt("scalar/1", 2000, 6.0), pt("simd/1", 200, 0.5),   pt("simd/2", 130, 0.6),
                                  pt("blas/2", 150, 0.7),    pt("eigen/1", 180, 0.45), pt("eigen/2", 100, 2.0, true)};
  const auto front = joule::tuning::mark_pareto_front(points);
  // blas/2 is slower and costlier than simd/2; scalar/1 than everything; eigen/2 is rejected.
  ASSERT_EQ(front.size(), 2u);
  EXPECT_EQ(points[front[0]].label, "simd/2");
  EXPECT_EQ(points[front[1]].label, "eigen/1");
  EXPECT_FALSE(points[1].pareto);  // simd/1: eigen/1 is faster and cheaper
  EXPECT_FALSE(points[5].pareto);
}

TEST(Chart, Axes) {
  const auto lin = joule::tuning::make_axis({10, 12, 15});
  EXPECT_FALSE(lin.log);
  ASSERT_GE(lin.ticks.size(), 3u);
  for (double t : lin.ticks) EXPECT_TRUE(t >= lin.lo && t <= lin.hi) << t;
  EXPECT_LT(lin.position(10), lin.position(15));
  const auto log = joule::tuning::make_axis({0.1, 2300});
  EXPECT_TRUE(log.log);
  EXPECT_GE(log.ticks.size(), 4u);
  EXPECT_NEAR(log.position(log.lo), 0.0, 1e-12);
  EXPECT_NEAR(log.position(log.hi), 1.0, 1e-12);
  EXPECT_EQ(joule::tuning::tick_label(0.5), "0.5");
  EXPECT_EQ(joule::tuning::tick_label(2000), "2000");
}

joule::tuning::shootout_report sample_report() {
  choose_test::fake_world w;
  w.add("scalar", 1, {2.3, 6.0});
  w.add("simd", 1, {0.2, 0.5});
  w.add("simd", 2, {0.13, 0.6});
  w.add("blas", 2, {0.15, 0.7}, 0.1f);
  w.add_unavailable("cuda", "no CUDA device");
  choose_test::fake_meter meter(joule::energy::meter_kind::estimated);
  auto options = w.options();
  options.budget_s = 2;
  return joule::tuning::run_shootout(choose_test::test_subject(), w.candidates(), meter, nullptr, options,
                                     choose_test::test_machine());
}

TEST(Chart, PanelFromReport) {
  const auto report = sample_report();
  const auto panel = joule::tuning::panel_from(report);
  EXPECT_EQ(panel.title, "fakenet, batch 1");
  EXPECT_EQ(panel.energy_kind, "estimated");  // the meter's kind, not the fake figures' "measured"
  ASSERT_EQ(panel.points.size(), 4u);
  EXPECT_TRUE(panel.points[1].chosen);
  EXPECT_TRUE(panel.points[3].rejected);
  ASSERT_EQ(panel.left_out.size(), 1u);
  EXPECT_EQ(panel.left_out[0], "cuda: unavailable");
}

TEST(Chart, TableJsonAndCsv) {
  const auto report = sample_report();
  std::ostringstream table;
  table << report;
  const std::string t = table.str();
  EXPECT_NE(t.find("fakenet, batch 1 (input 1x3), energy estimated (fake)"), std::string::npos) << t;
  EXPECT_NE(t.find("* energy "), std::string::npos) << t;  // simd/1 wins energy, simd/2 the others
  EXPECT_NE(t.find("latency,edp"), std::string::npos) << t;
  EXPECT_NE(t.find("REJECTED (gate)"), std::string::npos) << t;
  EXPECT_NE(t.find("cuda        - unavailable: no CUDA device"), std::string::npos) << t;
  EXPECT_NE(t.find("measured once"), std::string::npos) << t;  // scalar's one run
  EXPECT_NE(t.find("default world average"), std::string::npos) << t;
  EXPECT_NE(t.find("=> chosen: simd/1"), std::string::npos) << t;

  const auto j = joule::tuning::to_json_report(report);
  EXPECT_EQ(j["chosen"], "simd/1");
  EXPECT_EQ(j["energy_kind"], "estimated");
  EXPECT_EQ(j["rows"].size(), 5u);
  EXPECT_EQ(j["rows"][4]["status"], "unavailable");
  EXPECT_DOUBLE_EQ(j["rows"][1]["joules_per_inference"].get<double>(), 0.5);

  const std::string csv = joule::tuning::csv_header() + joule::tuning::csv_rows(report);
  std::istringstream lines(csv);
  std::string line;
  int n = 0;
  const auto commas = [](const std::string& s) {
    int c = 0;
    bool quoted = false;
    for (char ch : s) quoted ^= ch == '"', c += (ch == ',' && !quoted);
    return c;
  };
  int header_commas = -1;
  while (std::getline(lines, line)) {
    if (header_commas < 0)
      header_commas = commas(line);
    else
      EXPECT_EQ(commas(line), header_commas) << line;
    ++n;
  }
  EXPECT_EQ(n, 6);
}

#if JOULE_TEST_HAS_CAIRO
TEST(Chart, WritesSvgAndPng) {
  choose_test::temp_dir dir;
  const auto report = sample_report();
  std::vector<joule::tuning::chart_panel> panels{joule::tuning::panel_from(report), joule::tuning::panel_from(report)};
  joule::tuning::render_chart(panels, dir.path() / "chart.svg");
  joule::tuning::render_chart(panels, dir.path() / "chart.png");
  std::ifstream svg(dir.path() / "chart.svg");
  std::string head(200, '\0');
  svg.read(head.data(), 200);
  EXPECT_NE(head.find("<svg"), std::string::npos);
  std::ifstream png(dir.path() / "chart.png", std::ios::binary);
  char magic[8] = {};
  png.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  EXPECT_THROW(joule::tuning::render_chart(panels, dir.path() / "chart.pdf"), joule::error);
}
#endif

}  // namespace
