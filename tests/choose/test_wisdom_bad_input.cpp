// Wisdom files edited or damaged in ways the fuzzer found (tests/fuzz/regressions/wisdom): a number
// where the reader converts to an integer must be a JSON integer. nlohmann converts a JSON float to
// int with a plain cast, undefined behaviour for 1e300; the reader now rejects the entry, and the
// file is set aside and rebuilt like any other corrupt wisdom.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <joule/choose/wisdom.hpp>

#include "fakes.hpp"

namespace {

namespace fs = std::filesystem;
using joule::tuning::wisdom_file;

// A valid one-entry wisdom file with @p edit applied to its entry.
void write_wisdom(const fs::path& path, const std::function<void(nlohmann::json&)>& edit) {
  joule::tuning::wisdom_entry e;
  e.key.machine = choose_test::test_machine();
  e.key.model = "fakenet";
  e.key.policy = "simd";
  e.key.meter_kind = "estimated";
  e.result.median_s = e.result.p95_s = e.result.mean_s = 0.5;
  e.result.runs = 3;
  e.recorded_at = "2026-01-01T00:00:00Z";
  {
    wisdom_file wf(path);
    wf.record(e);
    wf.save();
  }
  std::ifstream in(path);
  auto doc = nlohmann::json::parse(in);
  edit(doc["entries"].begin().value());
  std::ofstream(path) << doc.dump();
}

struct integer_field_case {
  const char* what;
  std::function<void(nlohmann::json&)> edit;
  const char* message;
};

TEST(WisdomBadInput, FloatWhereAnIntegerBelongsIsCorruptNotUndefined) {
  const integer_field_case cases[] = {
      {"runs 1e300", [](nlohmann::json& e) { e["result"]["runs"] = 1e300; }, "'runs' must be an integer, got 1e+300"},
      {"runs 3.0", [](nlohmann::json& e) { e["result"]["runs"] = 3.0; }, "'runs' must be an integer, got 3.0"},
      {"batch -1e300", [](nlohmann::json& e) { e["key"]["batch"] = -1e300; }, "'batch' must be an integer"},
      {"threads 1e20", [](nlohmann::json& e) { e["key"]["threads"] = 1e20; }, "'threads' must be an integer"},
      {"cores 1e10", [](nlohmann::json& e) { e["key"]["machine"]["cores"] = 1e10; }, "'cores' must be an integer"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    choose_test::temp_dir dir;
    const auto path = dir.path() / "wisdom.json";
    write_wisdom(path, c.edit);
    const wisdom_file wf(path);
    EXPECT_EQ(wf.size(), 0u);
    ASSERT_EQ(wf.notes().size(), 1u);
    EXPECT_NE(wf.notes()[0].find("does not validate"), std::string::npos) << wf.notes()[0];
    EXPECT_NE(wf.notes()[0].find(c.message), std::string::npos) << wf.notes()[0];
    EXPECT_FALSE(fs::exists(path));  // set aside, to be rebuilt
  }
}

TEST(WisdomBadInput, IntegersStillRead) {
  choose_test::temp_dir dir;
  const auto path = dir.path() / "wisdom.json";
  write_wisdom(path, [](nlohmann::json&) {});
  const wisdom_file wf(path);
  EXPECT_EQ(wf.size(), 1u);
  EXPECT_TRUE(wf.notes().empty());
}

}  // namespace
