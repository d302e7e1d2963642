// The wisdom cache: a second shootout reuses every measurement of the first and measures nothing;
// a changed key (compiler, meter kind, model config) makes the entry stale and it is re-measured
// with the reason said; --retune measures anyway; --wisdom-only measures nothing and lists what it
// lacks; a corrupt, hand-edited or foreign-version file is set aside, reported and rebuilt; a
// write interrupted by an exception or by the process being killed leaves the previous file
// intact; two writers merge their entries under the lock.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <optional>
#include <sstream>

#include <gtest/gtest.h>

#include "fakes.hpp"

namespace {

namespace fs = std::filesystem;
using choose_test::fake_world;
using choose_test::row;
using joule::tuning::row_status;
using joule::tuning::run_shootout;
using joule::tuning::wisdom_file;

fake_world small_world() {
  fake_world w;
  w.add("scalar", 1, {0.1, 1.0});
  w.add("simd", 1, {0.02, 0.3});
  w.add("blas", 2, {0.01, 0.2});
  return w;
}

joule::tuning::shootout_report shoot(fake_world& w, wisdom_file& wisdom, joule::tuning::shootout_options options,
                                     joule::tuning::machine_key machine = choose_test::test_machine(),
                                     joule::tuning::shootout_subject subject = choose_test::test_subject()) {
  choose_test::fake_meter meter;
  return run_shootout(subject, w.candidates(), meter, &wisdom, options, machine);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

std::vector<fs::path> files_starting(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> out;
  for (const auto& f : fs::directory_iterator(dir))
    if (f.path().filename().string().starts_with(prefix)) out.push_back(f.path());
  return out;
}

bool notes_mention(const std::vector<std::string>& notes, const std::string& fragment) {
  for (const auto& n : notes)
    if (n.find(fragment) != std::string::npos) return true;
  return false;
}

TEST(Wisdom, SecondRunReusesEverythingAndMeasuresNothing) {
  choose_test::temp_dir dir;
  const auto path = dir.path() / "sub" / "wisdom.json";  // the directory is created on first save
  auto w1 = small_world();
  wisdom_file first(path);
  const auto r1 = shoot(w1, first, w1.options());
  EXPECT_EQ(r1.measured_now, 3u);
  EXPECT_EQ(r1.reused, 0u);
  ASSERT_TRUE(fs::exists(path));

  auto w2 = small_world();
  wisdom_file second(path);
  EXPECT_EQ(second.size(), 3u);
  const auto r2 = shoot(w2, second, w2.options());
  EXPECT_EQ(r2.measured_now, 0u);
  EXPECT_EQ(r2.reused, 3u);
  EXPECT_EQ(w2.measurements(), 0);
  EXPECT_EQ(w2.builds("scalar/1") + w2.builds("simd/1") + w2.builds("blas/2"), 0);
  ASSERT_TRUE(r2.winner);
  EXPECT_EQ(r2.chosen()->name(), r1.chosen()->name());
  for (std::size_t i = 0; i < r1.rows.size(); ++i) {
    EXPECT_TRUE(r2.rows[i].from_wisdom);
    EXPECT_EQ(r2.rows[i].result->joules_per_run, r1.rows[i].result->joules_per_run);
    EXPECT_EQ(r2.rows[i].result->median_s, r1.rows[i].result->median_s);
    EXPECT_EQ(r2.rows[i].gate->max_error, r1.rows[i].gate->max_error);
  }
}

TEST(Wisdom, ChangedKeyIsStaleAndReMeasured) {
  choose_test::temp_dir dir;
  const auto path = dir.path() / "wisdom.json";
  auto w1 = small_world();
  wisdom_file first(path);
  shoot(w1, first, w1.options());

  auto machine = choose_test::test_machine();
  machine.compiler = "gcc 13.1.0";
  auto w2 = small_world();
  wisdom_file second(path);
  const auto r2 = shoot(w2, second, w2.options(), machine);
  EXPECT_EQ(r2.measured_now, 3u);
  EXPECT_EQ(r2.reused, 0u);
  EXPECT_NE(row(r2, "simd/1").note.find("stale wisdom: compiler changed (gcc 12.2.0 -> gcc 13.1.0)"), std::string::npos)
      << row(r2, "simd/1").note;
  EXPECT_EQ(wisdom_file(path).size(), 6u);  // both machines' entries are kept

  // Another model configuration is another key altogether (missing, not stale).
  auto subject = choose_test::test_subject();
  subject.config_hash = "fedcba9876543210";
  auto w3 = small_world();
  wisdom_file third(path);
  const auto r3 = shoot(w3, third, w3.options(), choose_test::test_machine(), subject);
  EXPECT_EQ(r3.measured_now, 3u);
  EXPECT_EQ(row(r3, "simd/1").note, "");
}

TEST(Wisdom, ChangedMeterKindIsStale) {
  choose_test::temp_dir dir;
  const auto path = dir.path() / "wisdom.json";
  auto w1 = small_world();
  wisdom_file first(path);
  shoot(w1, first, w1.options());
  auto w2 = small_world();
  wisdom_file second(path);
  choose_test::fake_meter estimated(joule::energy::meter_kind::estimated);
  const auto r2 = run_shootout(choose_test::test_subject(), w2.candidates(), estimated, &second, w2.options(),
                               choose_test::test_machine());
  EXPECT_EQ(r2.measured_now, 3u);
  EXPECT_NE(row(r2, "blas/2").note.find("meter_kind changed (measured -> estimated)"), std::string::npos)
      << row(r2, "blas/2").note;
}

TEST(Wisdom, RetuneMeasuresAnywayAndWisdomOnlyMeasuresNothing) {
  choose_test::temp_dir dir;
  const auto path = dir.path() / "wisdom.json";
  {
    auto w = small_world();
    wisdom_file wf(path);
    auto options = w.options();
    options.wisdom_only = true;
    const auto r = shoot(w, wf, options);
    EXPECT_EQ(w.measurements(), 0);
    EXPECT_FALSE(r.winner);
    EXPECT_EQ(row(r, "simd/1").status, row_status::not_measured);
    EXPECT_EQ(row(r, "simd/1").note, "no wisdom; --wisdom-only forbids measuring");
    EXPECT_NE(r.verdict.find("--wisdom-only forbids measuring them"), std::string::npos) << r.verdict;
    EXPECT_FALSE(fs::exists(path));
  }
  {
    auto w = small_world();
    wisdom_file wf(path);
    shoot(w, wf, w.options());
  }
  {
    auto w = small_world();
    wisdom_file wf(path);
    auto options = w.options();
    options.retune = true;
    const auto r = shoot(w, wf, options);
    EXPECT_EQ(r.measured_now, 3u);
    EXPECT_EQ(row(r, "blas/2").note, "re-measured: --retune");
  }
  {
    auto w = small_world();
    wisdom_file wf(path);
    auto options = w.options();
    options.wisdom_only = true;
    const auto r = shoot(w, wf, options);
    EXPECT_EQ(w.measurements(), 0);
    ASSERT_TRUE(r.winner);
    EXPECT_EQ(r.chosen()->name(), "blas/2");
  }
}

TEST(Wisdom, RejectedCandidatesStayRejected) {
  choose_test::temp_dir dir;
  const auto path = dir.path() / "wisdom.json";
  fake_world w1;
  w1.add("scalar", 1, {0.1, 1.0});
  w1.add("simd", 1, {0.01, 0.1}, 0.5f);
  wisdom_file first(path);
  EXPECT_EQ(row(shoot(w1, first, w1.options()), "simd/1").status, row_status::rejected);
  fake_world w2;
  w2.add("scalar", 1, {0.1, 1.0});
  w2.add("simd", 1, {0.01, 0.1}, 0.5f);
  wisdom_file second(path);
  const auto r2 = shoot(w2, second, w2.options());
  EXPECT_EQ(w2.measurements(), 0);
  EXPECT_EQ(row(r2, "simd/1").status, row_status::rejected);
  EXPECT_NE(row(r2, "simd/1").note.find("(from wisdom)"), std::string::npos);
  EXPECT_EQ(r2.chosen()->name(), "scalar/1");
}

TEST(Wisdom, PartialWisdomBuildsTheReferenceForTheGate) {
  choose_test::temp_dir dir;
  const auto path = dir.path() / "wisdom.json";
  fake_world w1;
  w1.add("scalar", 1, {0.1, 1.0});
  wisdom_file first(path);
  shoot(w1, first, w1.options());
  fake_world w2;
  w2.add("scalar", 1, {0.1, 1.0});
  w2.add("simd", 1, {0.01, 0.1}, 1e-2f);
  wisdom_file second(path);
  const auto r2 = shoot(w2, second, w2.options());
  EXPECT_TRUE(row(r2, "scalar/1").from_wisdom);
  EXPECT_EQ(w2.builds("scalar/1"), 1);  // built once for its output, not measured
  EXPECT_EQ(row(r2, "simd/1").status, row_status::rejected);
}

TEST(Wisdom, CorruptFileIsSetAsideAndRebuilt) {
  choose_test::temp_dir dir;
  const auto path = dir.path() / "wisdom.json";
  write_text(path, "{\"format_version\": 1, \"entries\": {\"abc\": ");  // cut off mid-write by hand
  auto w = small_world();
  wisdom_file wf(path);
  EXPECT_EQ(wf.size(), 0u);
  EXPECT_TRUE(notes_mention(wf.notes(), "it is not valid JSON; it will be rebuilt")) << wf.notes().at(0);
  const auto aside = files_starting(dir.path(), "wisdom.json.corrupt-");
  ASSERT_EQ(aside.size(), 1u);
  EXPECT_EQ(read_text(aside[0]), "{\"format_version\": 1, \"entries\": {\"abc\": ");
  const auto r = shoot(w, wf, w.options());
  EXPECT_TRUE(notes_mention(r.notes, "set aside"));
  EXPECT_EQ(r.measured_now, 3u);
  EXPECT_EQ(wisdom_file(path).size(), 3u);
}

TEST(Wisdom, HandEditedEntryIsNotTrusted) {
  choose_test::temp_dir dir;
  const auto path = dir.path() / "wisdom.json";
  {
    auto w = small_world();
    wisdom_file wf(path);
    shoot(w, wf, w.options());
  }
  // Make blas/2 look four times better than it measured, without fixing the hash.
  auto doc = nlohmann::json::parse(read_text(path));
  for (auto& [hash, e] : doc["entries"].items())
    if (e["key"]["policy"] == "blas") e["key"]["threads"] = 8;
  write_text(path, doc.dump());
  wisdom_file wf(path);
  EXPECT_EQ(wf.size(), 0u);
  EXPECT_TRUE(notes_mention(wf.notes(), "its hash is not its key's")) << wf.notes().at(0);
  EXPECT_EQ(files_starting(dir.path(), "wisdom.json.corrupt-").size(), 1u);
}

TEST(Wisdom, EntryMissingAFieldIsCorrupt) {
  choose_test::temp_dir dir;
  const auto path = dir.path() / "wisdom.json";
  {
    auto w = small_world();
    wisdom_file wf(path);
    shoot(w, wf, w.options());
  }
  auto doc = nlohmann::json::parse(read_text(path));
  doc["entries"].begin().value()["result"].erase("median_s");
  write_text(path, doc.dump());
  wisdom_file wf(path);
  EXPECT_EQ(wf.size(), 0u);
  EXPECT_TRUE(notes_mention(wf.notes(), "does not validate")) << wf.notes().at(0);
}

TEST(Wisdom, ForeignVersionIsSetAside) {
  choose_test::temp_dir dir;
  const auto path = dir.path() / "wisdom.json";
  write_text(path, R"({"format_version": 2, "entries": {}})");
  wisdom_file wf(path);
  EXPECT_TRUE(notes_mention(wf.notes(), "its format_version is 2, this joule reads 1"));
  EXPECT_EQ(files_starting(dir.path(), "wisdom.json.format-2-").size(), 1u);
  EXPECT_FALSE(fs::exists(path));
}

// A wisdom file with entries, and its bytes, for the interruption tests.
std::string make_previous(const fs::path& path) {
  auto w = small_world();
  wisdom_file wf(path);
  shoot(w, wf, w.options());
  return read_text(path);
}

joule::tuning::wisdom_entry extra_entry() {
  joule::tuning::wisdom_entry e;
  e.key.machine = choose_test::test_machine();
  e.key.model = "other";
  e.key.policy = "simd";
  e.key.meter_kind = "measured";
  e.result.median_s = e.result.p95_s = e.result.mean_s = 0.5;
  e.result.joules_per_run = 2;
  e.result.runs = 3;
  e.gate.reference = "scalar/1";
  e.recorded_at = joule::tuning::utc_now();
  return e;
}

TEST(Wisdom, WriteInterruptedByAnErrorLeavesThePreviousFile) {
  choose_test::temp_dir dir;
  const auto path = dir.path() / "wisdom.json";
  const std::string previous = make_previous(path);
  joule::tuning::wisdom_options options;
  options.after_partial_write = [] { throw joule::error("disk full (simulated)"); };
  wisdom_file wf(path, options);
  wf.record(extra_entry());
  EXPECT_THROW(wf.save(), joule::error);
  EXPECT_EQ(read_text(path), previous);
  EXPECT_TRUE(files_starting(dir.path(), "wisdom.json.tmp.").empty());
}

TEST(Wisdom, WriteInterruptedByACrashLeavesThePreviousFile) {
  choose_test::temp_dir dir;
  const auto path = dir.path() / "wisdom.json";
  const std::string previous = make_previous(path);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    joule::tuning::wisdom_options options;
    options.after_partial_write = [] { ::raise(SIGKILL); };
    wisdom_file wf(path, options);
    wf.record(extra_entry());
    wf.save();
    ::_exit(0);  // not reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(read_text(path), previous);
  const auto leftovers = files_starting(dir.path(), "wisdom.json.tmp.");
  ASSERT_EQ(leftovers.size(), 1u);  // the half-written temporary file of the killed writer
  EXPECT_LT(fs::file_size(leftovers[0]), previous.size() + 200);

  // The next writer removes it and writes a whole file.
  wisdom_file wf(path);
  EXPECT_EQ(wf.size(), 3u);
  wf.record(extra_entry());
  wf.save();
  EXPECT_TRUE(files_starting(dir.path(), "wisdom.json.tmp.").empty());
  EXPECT_TRUE(notes_mention(wf.notes(), "left by an interrupted write"));
  EXPECT_EQ(wisdom_file(path).size(), 4u);
}

TEST(Wisdom, ConcurrentWritersMergeTheirEntries) {
  choose_test::temp_dir dir;
  const auto path = dir.path() / "wisdom.json";
  // Both open the (empty) file before either writes: a naive writer would lose the other's entries.
  wisdom_file a(path), b(path);
  auto ea = extra_entry(), eb = extra_entry();
  ea.key.model = "model-a";
  eb.key.model = "model-b";
  a.record(ea);
  b.record(eb);
  a.save();
  b.save();
  EXPECT_EQ(wisdom_file(path).size(), 2u);

  // And from processes writing at the same moment.
  constexpr int kWriters = 4, kEntries = 5;
  std::vector<pid_t> children;
  for (int p = 0; p < kWriters; ++p) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      for (int i = 0; i < kEntries; ++i) {
        wisdom_file wf(path);
        auto e = extra_entry();
        e.key.model = "writer-" + std::to_string(p) + "-" + std::to_string(i);
        wf.record(e);
        wf.save();
      }
      ::_exit(0);
    }
    children.push_back(child);
  }
  for (pid_t c : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(c, &status, 0), c);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(wisdom_file(path).size(), 2u + kWriters * kEntries);
}

TEST(Wisdom, DefaultPathFollowsTheEnvironment) {
  struct restore {
    std::vector<std::pair<std::string, std::optional<std::string>>> saved;
    restore() {
      for (const char* name : {"JOULE_WISDOM", "XDG_CACHE_HOME", "HOME"}) {
        const char* v = std::getenv(name);
        saved.emplace_back(name, v ? std::optional<std::string>(v) : std::nullopt);
      }
    }
    ~restore() {
      for (const auto& [name, value] : saved)
        value ? ::setenv(name.c_str(), value->c_str(), 1) : ::unsetenv(name.c_str());
    }
  } guard;
  ::setenv("JOULE_WISDOM", "/tmp/explicit.json", 1);
  EXPECT_EQ(wisdom_file::default_path(), fs::path("/tmp/explicit.json"));
  ::unsetenv("JOULE_WISDOM");
  ::setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(wisdom_file::default_path(), fs::path("/tmp/xdg/joule/wisdom.json"));
  ::unsetenv("XDG_CACHE_HOME");
  ::setenv("HOME", "/home/someone", 1);
  EXPECT_EQ(wisdom_file::default_path(), fs::path("/home/someone/.cache/joule/wisdom.json"));
}

TEST(Wisdom, GpuFieldsAreKeyedOnlyWhereAGpuIsUsed) {
  auto machine = choose_test::test_machine();
  machine.gpu_model = "NVIDIA H100 80GB HBM3";
  machine.gpu_driver = "12.4";
  joule::tuning::candidate cpu, gpu;
  cpu.policy = "simd";
  gpu.policy = "cuda";
  gpu.uses_gpu = true;
  const auto subject = choose_test::test_subject();
  const auto kind = joule::energy::meter_kind::measured;
  EXPECT_EQ(joule::tuning::make_key(subject, cpu, machine, kind, cpu.uses_gpu).machine.gpu_model, "unused");
  EXPECT_EQ(joule::tuning::make_key(subject, gpu, machine, kind, gpu.uses_gpu).machine.gpu_model,
            "NVIDIA H100 80GB HBM3");
  // A new GPU driver leaves CPU candidates' wisdom valid.
  auto updated = machine;
  updated.gpu_driver = "12.6";
  EXPECT_EQ(joule::tuning::make_key(subject, cpu, machine, kind), joule::tuning::make_key(subject, cpu, updated, kind));
  EXPECT_NE(joule::tuning::make_key(subject, gpu, machine, kind, true),
            joule::tuning::make_key(subject, gpu, updated, kind, true));
}

TEST(Wisdom, KeyHashIsStable) {
  joule::tuning::wisdom_key k;
  k.machine = choose_test::test_machine();
  k.model = "resnet50";
  k.config_hash = "0123456789abcdef";
  k.input = "1x3x224x224";
  k.policy = "simd";
  k.threads = 2;
  k.meter_kind = "estimated";
  // Pinned: a change here invalidates every user's wisdom and needs a new format_version.
  EXPECT_EQ(joule::tuning::hash_of(k), joule::tuning::hash_of(k));
  EXPECT_EQ(joule::tuning::hash_of(k).size(), 16u);
  auto k2 = k;
  k2.threads = 1;
  EXPECT_NE(joule::tuning::hash_of(k), joule::tuning::hash_of(k2));
  EXPECT_EQ(joule::tuning::stable_hash(""), "cbf29ce484222325");
  EXPECT_EQ(joule::tuning::stable_hash("a"), "af63dc4c8601ec8c");
}

}  // namespace

namespace {
// A GPU candidate's energy is kept per domain (the board's, measured, and the host CPU's share,
// here estimated): both survive the wisdom file with their own kind; wisdom written before domains
// were kept (no "domains" field) still reads, with none.
TEST(Wisdom, EnergyDomainsRoundTripAndOlderEntriesStillRead) {
  joule::tuning::measurement m;
  m.median_s = m.p95_s = m.mean_s = 0.01;
  m.joules_per_run = 3;
  m.runs = 4;
  m.domains = {{"gpu:0", 2.5, joule::energy::meter_kind::measured, true},
               {"cpu", 0.5, joule::energy::meter_kind::estimated, true}};
  const nlohmann::json j = m;
  const auto back = j.get<joule::tuning::measurement>();
  EXPECT_EQ(back.domains, m.domains);

  nlohmann::json older = j;
  older.erase("domains");
  EXPECT_TRUE(older.get<joule::tuning::measurement>().domains.empty());

  nlohmann::json bad = j;
  bad["domains"][0]["kind"] = "guessed";
  EXPECT_THROW(bad.get<joule::tuning::measurement>(), joule::error);
}
}  // namespace
