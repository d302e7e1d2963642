#pragma once
// Fake sysfs trees for the energy tests: a temporary directory that removes itself, file writing
// that creates parent directories, RAPL zones and a power PMU laid out as the kernel lays them out,
// and a file reader that fails chosen files with a chosen errno (how "readable only by root" is
// simulated: the tests run as root here, and root ignores permission bits).
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <joule/energy/sysfs.hpp>
#include <map>
#include <stdexcept>
#include <string>

namespace joule_test {

namespace fs = std::filesystem;

/** @brief A fresh directory under the system temp dir, removed with everything in it. */
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "joule-energy-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  [[nodiscard]] const fs::path& path() const noexcept { return path_; }
  [[nodiscard]] fs::path operator/(const std::string& rest) const { return path_ / rest; }

 private:
  fs::path path_;
};

/** @brief Writes @p text to @p path, creating directories on the way. */
inline void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

/** @brief Creates a RAPL zone directory (name, energy_uj, max_energy_range_uj) at @p dir. */
inline void add_rapl_zone(const fs::path& dir, const std::string& name, std::uint64_t energy_uj,
                          std::uint64_t range_uj = 262143328850ULL) {
  write_file(dir / "name", name + "\n");
  write_file(dir / "energy_uj", std::to_string(energy_uj) + "\n");
  write_file(dir / "max_energy_range_uj", std::to_string(range_uj) + "\n");
}

/** @brief Sets a zone's counter, as the kernel would between two reads. */
inline void set_energy(const fs::path& zone_dir, std::uint64_t energy_uj) {
  write_file(zone_dir / "energy_uj", std::to_string(energy_uj) + "\n");
}

/**
 * @brief A file_reader that fails the listed files with their errno and reads the others normally.
 */
inline joule::energy::file_reader failing_reader(std::map<fs::path, int> failures) {
  return [failures = std::move(failures)](const fs::path& p) -> joule::energy::file_read {
    if (const auto it = failures.find(p); it != failures.end()) return {{}, it->second};
    return joule::energy::read_small_file(p);
  };
}

/** @brief Writes a power PMU as arch/x86/events/rapl.c exposes it, with the given events. */
inline void add_power_pmu(const fs::path& root, const std::string& cpumask = "0",
                          std::map<std::string, std::string> events = {{"energy-pkg", "event=0x02"}}) {
  write_file(root / "type", "23\n");
  write_file(root / "cpumask", cpumask + "\n");
  write_file(root / "format" / "event", "config:0-7\n");
  for (const auto& [name, terms] : events) {
    write_file(root / "events" / name, terms + "\n");
    write_file(root / "events" / (name + ".scale"), "2.3283064365386962890625e-10\n");
    write_file(root / "events" / (name + ".unit"), "Joules\n");
  }
}

}  // namespace joule_test
