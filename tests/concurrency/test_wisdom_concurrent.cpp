// Many writers of one wisdom file at once: 8 processes x 20 rounds (each round opens the file,
// records one entry of its own and saves), and 4 threads x 10 rounds in one process, each thread
// with its own wisdom_file (flock locks conflict between separate open() calls, in one process or
// several). Afterwards every entry of every writer is in the file, the file is valid JSON with the
// expected format version, and no temporary or set-aside file is left. The writer holds an flock
// on <file>.lock around re-read, merge and atomic rename (choose/wisdom.hpp); without it, writers
// that read before another's rename would drop that writer's entries, which these counts catch.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <joule/choose/wisdom.hpp>

namespace {

namespace fs = std::filesystem;
using joule::tuning::wisdom_file;

class wisdom_concurrent : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "joule_wisdom_concurrent_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  static joule::tuning::wisdom_entry entry(const std::string& model) {
    joule::tuning::wisdom_entry e;
    e.key.machine.cpu_model = "Test CPU";
    e.key.machine.cores = 2;
    e.key.model = model;
    e.key.config_hash = "0123456789abcdef";
    e.key.input = "1x3x32x32";
    e.key.policy = "simd";
    e.key.meter_kind = "estimated";
    e.result.median_s = e.result.p95_s = e.result.mean_s = 0.01;
    e.result.joules_per_run = 0.1;
    e.result.runs = 3;
    e.result.meter = "estimate";
    e.gate.reference = "scalar/1";
    e.recorded_at = joule::tuning::utc_now();
    return e;
  }

  // Every writer's entries are in the file, which is whole, valid JSON; nothing is left beside it.
  void expect_complete(const fs::path& path, const std::vector<std::string>& models) const {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    const auto doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(doc.is_discarded()) << "the wisdom file is not valid JSON:\n" << text.str().substr(0, 400);
    EXPECT_EQ(doc.at("format_version"), joule::tuning::kWisdomFormatVersion);
    EXPECT_EQ(doc.at("entries").size(), models.size());

    const wisdom_file wisdom(path);
    EXPECT_TRUE(wisdom.notes().empty()) << wisdom.notes().front();
    for (const auto& model : models)
      EXPECT_EQ(wisdom.lookup(entry(model).key).what, joule::tuning::wisdom_lookup::status::found) << model;
    for (const auto& f : fs::directory_iterator(dir_)) {
      const auto name = f.path().filename().string();
      EXPECT_TRUE(name == "wisdom.json" || name == "wisdom.json.lock") << "left behind: " << name;
    }
  }

  fs::path dir_;
};

TEST_F(wisdom_concurrent, eight_processes_twenty_rounds_lose_nothing) {
  constexpr int kWriters = 8, kRounds = 20;
  const auto path = dir_ / "wisdom.json";
  // The writers wait at a pipe so that they all start at once, not one after the other's fork.
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(go[1]);
      char byte;
      if (::read(go[0], &byte, 1) != 0) ::_exit(3);  // released when the parent closes its end
      try {
        for (int r = 0; r < kRounds; ++r) {
          wisdom_file wisdom(path);
          wisdom.record(entry("writer-" + std::to_string(w) + "-round-" + std::to_string(r)));
          wisdom.save();
          if (!wisdom.notes().empty()) ::_exit(2);  // a writer saw a corrupt file or a leftover
        }
      } catch (...) {
        ::_exit(1);
      }
      ::_exit(0);
    }
    children.push_back(child);
  }
  ::close(go[0]);
  ::close(go[1]);
  for (const pid_t c : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(c, &status, 0), c);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "writer exit status " << status;
  }
  std::vector<std::string> models;
  for (int w = 0; w < kWriters; ++w)
    for (int r = 0; r < kRounds; ++r) models.push_back("writer-" + std::to_string(w) + "-round-" + std::to_string(r));
  expect_complete(path, models);
}

TEST_F(wisdom_concurrent, four_threads_ten_rounds_lose_nothing) {
  constexpr int kThreads = 4, kRounds = 10;
  const auto path = dir_ / "wisdom.json";
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      try {
        for (int r = 0; r < kRounds; ++r) {
          wisdom_file wisdom(path);
          wisdom.record(entry("thread-" + std::to_string(t) + "-round-" + std::to_string(r)));
          wisdom.save();
        }
      } catch (...) {
        failures[static_cast<std::size_t>(t)] = 1;
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[static_cast<std::size_t>(t)], 0) << "thread " << t;
  std::vector<std::string> models;
  for (int t = 0; t < kThreads; ++t)
    for (int r = 0; r < kRounds; ++r) models.push_back("thread-" + std::to_string(t) + "-round-" + std::to_string(r));
  expect_complete(path, models);
}

}  // namespace
