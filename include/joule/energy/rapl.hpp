#pragma once
/**
 * @file rapl.hpp
 * @brief Linux powercap RAPL: package energy counters read from /sys/class/powercap.
 *
 * Layout (kernel Documentation/power/powercap/powercap.rst):
 *
 *     /sys/class/powercap/intel-rapl:0/{name, energy_uj, max_energy_range_uj}   name = package-0
 *     /sys/class/powercap/intel-rapl:0/intel-rapl:0:0/...                        name = core
 *     /sys/class/powercap/intel-rapl:0/intel-rapl:0:1/...                        name = uncore
 *     /sys/class/powercap/intel-rapl:0/intel-rapl:0:2/...                        name = dram
 *     /sys/class/powercap/intel-rapl:1/...                                       package-1 or psys
 *
 * The class directory also holds flat links to the subzones ("intel-rapl:0:0") and, on some
 * laptops, an "intel-rapl-mmio:0" zone that is a second view of package-0. Only zones named
 * intel-rapl:N are top-level zones; the others are never read as packages, so nothing is counted
 * twice. By default the meter's total is the sum of the package zones. Subzones (core, uncore,
 * dram) can be shown beside it but are never added to it: core and uncore are part of the package,
 * and joule does not add dram either, so a total always means "package energy". psys (the whole
 * SoC on client platforms) overlaps the packages and is the total only where no package exists.
 *
 * energy_uj counts microjoules and wraps to zero after max_energy_range_uj. A read that finds a
 * smaller value than the last adds the range once, which is right when at most one wrap happened
 * in between; a sampling_thread calling poll() every poll_interval() keeps that true for windows
 * of any length (several wraps per window are then several polls apart).
 */
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <joule/core/error.hpp>
#include <joule/energy/meter.hpp>
#include <joule/energy/sysfs.hpp>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace joule::energy {

/** @brief The smallest energy step of RAPL hardware: 2^-14 J on many Intel parts (finer elsewhere). */
inline constexpr double kRaplEnergyUnitJoules = 61.0e-6;
/** @brief How often RAPL hardware refreshes its counters (about 1 ms on Intel and AMD). */
inline constexpr double kRaplUpdateSeconds = 1.0e-3;

/** @brief Where and how to read RAPL. Every field has a default that reads the real machine. */
struct rapl_options {
  std::filesystem::path root = "/sys/class/powercap";
  /** @brief Also show core, uncore and dram subzones (never added to the total). */
  bool include_subzones = false;
  /**
   * @brief A power no zone will exceed, in watts. With the counter's range it sets how often the
   * counter must be polled so that it never wraps twice between two polls.
   */
  double max_power_watts = 2000;
  file_reader reader = read_small_file;
};

/** @brief One RAPL zone the meter reads. */
struct rapl_zone {
  std::string id;                     ///< "intel-rapl:0" or "intel-rapl:0:2"
  std::string name;                   ///< domain name: "package-0", "package-0/dram", "psys"
  std::filesystem::path energy_file;  ///< .../energy_uj
  std::uint64_t range_uj = 0;         ///< max_energy_range_uj: the counter wraps to 0 after it
  bool in_total = true;
};

namespace detail {

/** @brief The reason a RAPL file could not be read, with the root-only note for EACCES. */
inline std::string rapl_read_error(const std::filesystem::path& path, int error) {
  std::string reason = "cannot read " + path.string() + ": " + errno_text(error);
  if (error == EACCES || error == EPERM)
    reason +=
        " (energy_uj has been readable only by root since the November 2020 kernel change for "
        "CVE-2020-8694, the PLATYPUS attack; run as root or grant read access, for example "
        "'sudo chmod a+r " +
        path.string() + "' or a udev rule)";
  return reason;
}

/** @brief Reads a whole number of microjoules from @p path or throws joule::error with the reason. */
inline std::uint64_t read_rapl_number(const file_reader& reader, const std::filesystem::path& path) {
  const file_read r = reader(path);
  if (!r.ok()) fail(rapl_read_error(path, r.error));
  const auto value = parse_u64(r.text);
  if (!value) fail(path.string(), " holds ", quote_for_message(r.text), ", not a whole number of microjoules");
  return *value;
}

/** @brief Reads a zone's name file or throws joule::error. */
inline std::string read_rapl_name(const file_reader& reader, const std::filesystem::path& zone_dir) {
  const auto path = zone_dir / "name";
  const file_read r = reader(path);
  if (!r.ok()) fail(rapl_read_error(path, r.error));
  std::string name(trim(r.text));
  if (name.empty() || name.find_first_of(" /\t") != std::string::npos)
    fail(path.string(), " holds ", quote_for_message(r.text), ", not a zone name");
  return name;
}

/** @brief The zone directories "<prefix>:N" directly under @p dir, sorted by N. */
inline std::vector<std::pair<std::uint64_t, std::string>> rapl_children(const std::filesystem::path& dir,
                                                                        const std::string& prefix) {
  std::vector<std::pair<std::uint64_t, std::string>> found;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string entry = it->path().filename().string();
    if (!entry.starts_with(prefix + ":")) continue;
    // "intel-rapl:0" matches under the prefix "intel-rapl" but "intel-rapl:0:1" does not.
    if (const auto index = parse_u64(std::string_view(entry).substr(prefix.size() + 1)))
      found.emplace_back(*index, entry);
  }
  std::sort(found.begin(), found.end());
  return found;
}

/** @brief Reads name and max_energy_range_uj of one zone directory; throws joule::error. */
inline rapl_zone read_rapl_zone(const file_reader& reader, const std::filesystem::path& dir, std::string id,
                                std::string domain_name, bool in_total) {
  rapl_zone z;
  z.id = std::move(id);
  z.name = std::move(domain_name);
  z.energy_file = dir / "energy_uj";
  z.in_total = in_total;
  z.range_uj = read_rapl_number(reader, dir / "max_energy_range_uj");
  if (z.range_uj == 0) fail((dir / "max_energy_range_uj").string(), " holds 0: the counter's range must be positive");
  return z;
}

}  // namespace detail

/**
 * @brief Finds the RAPL zones to read under options.root.
 * @throws joule::error naming the file and the problem when the tree is absent or malformed.
 */
inline std::vector<rapl_zone> discover_rapl_zones(const rapl_options& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(options.root, ec))
    fail("no powercap tree at ", options.root.string(),
         " (the kernel exposes no RAPL here: a VM or container without it, a CPU without RAPL, or the "
         "intel_rapl_common/intel_rapl_msr modules not loaded)");
  const auto tops = detail::rapl_children(options.root, "intel-rapl");
  if (tops.empty())
    fail("the powercap tree at ", options.root.string(),
         " has no intel-rapl:N zones (the intel_rapl_msr module is not loaded, or this CPU has no RAPL)");

  std::vector<rapl_zone> packages, others;
  for (const auto& [index, id] : tops) {
    const fs::path dir = options.root / id;
    const std::string zone_name = detail::read_rapl_name(options.reader, dir);
    const bool is_package = zone_name.starts_with("package-");
    if (is_package)
      packages.push_back(detail::read_rapl_zone(options.reader, dir, id, zone_name, true));
    else if (zone_name == "psys" || options.include_subzones)
      others.push_back(detail::read_rapl_zone(options.reader, dir, id, zone_name, false));
    if (!options.include_subzones || !is_package) continue;
    for (const auto& [sub_index, sub_id] : detail::rapl_children(dir, id)) {
      const fs::path sub_dir = dir / sub_id;
      const std::string sub_name = detail::read_rapl_name(options.reader, sub_dir);
      std::string sub_label = zone_name;
      sub_label.append("/").append(sub_name);
      packages.push_back(detail::read_rapl_zone(options.reader, sub_dir, sub_id, std::move(sub_label), false));
    }
  }
  const bool have_package =
      std::any_of(packages.begin(), packages.end(), [](const rapl_zone& z) { return z.in_total; });
  if (!have_package) {
    // A platform with psys but no package zone: psys (the whole SoC) is the only total there is.
    auto psys = std::find_if(others.begin(), others.end(), [](const rapl_zone& z) { return z.name == "psys"; });
    if (psys == others.end())
      fail("the powercap tree at ", options.root.string(), " has no package-N or psys zone to measure");
    psys->in_total = true;
  }
  std::vector<rapl_zone> zones = std::move(packages);
  for (auto& z : others)
    if (z.in_total || options.include_subzones) zones.push_back(std::move(z));
  return zones;
}

/**
 * @brief Reads RAPL energy counters, accumulating across wraparound.
 *
 * read() and poll() each sample every zone; poll() must run at least every poll_interval() for a
 * window in which a counter could wrap more than once (measure() does this by itself).
 */
class rapl_meter final : public meter {
 public:
  /** @brief Opens @p zones (from discover_rapl_zones) and reads their starting values. */
  rapl_meter(std::vector<rapl_zone> zones, rapl_options options) : options_(std::move(options)) {
    require(!zones.empty(), "energy::rapl_meter: no zones to read");
    for (auto& z : zones) {
      const std::uint64_t start = read_counter(z);
      states_.push_back({std::move(z), start, 0});
    }
  }

  [[nodiscard]] std::string name() const override { return "rapl"; }
  [[nodiscard]] std::vector<domain_info> domains() const override {
    std::vector<domain_info> d;
    for (const auto& s : states_)
      d.push_back({s.zone.name, meter_kind::measured, s.zone.in_total, s.zone.energy_file.string()});
    return d;
  }
  energy_reading read() override {
    std::lock_guard lock(mutex_);
    sample_locked();
    energy_reading r;
    for (const auto& s : states_)
      r.domains.push_back(
          {s.zone.name, static_cast<double>(s.accumulated_uj) * 1e-6, meter_kind::measured, s.zone.in_total});
    r.when = steady_clock::now();
    return r;
  }
  [[nodiscard]] meter_resolution resolution() const override {
    return {kRaplEnergyUnitJoules, seconds{kRaplUpdateSeconds}};
  }
  /** @brief Half the time the fastest-wrapping counter takes to wrap at max_power_watts. */
  [[nodiscard]] seconds poll_interval() const override {
    double shortest = 0;
    for (const auto& s : states_) {
      const double wrap_s = static_cast<double>(s.zone.range_uj) * 1e-6 / std::max(options_.max_power_watts, 1.0);
      shortest = shortest == 0 ? wrap_s : std::min(shortest, wrap_s);
    }
    return seconds{std::max(shortest / 2, 1e-3)};
  }
  void poll() override {
    std::lock_guard lock(mutex_);
    sample_locked();
  }
  [[nodiscard]] std::string description() const override {
    std::string zones;
    for (const auto& s : states_)
      zones += (zones.empty() ? "" : ", ") + s.zone.name + (s.zone.in_total ? "" : " (shown, not added)");
    return "rapl: Linux powercap at " + options_.root.string() + ", zones " + zones +
           "; energy_uj with wraparound at max_energy_range_uj";
  }
  /** @brief The zones read, in domain order. */
  [[nodiscard]] std::vector<rapl_zone> zones() const {
    std::vector<rapl_zone> z;
    for (const auto& s : states_) z.push_back(s.zone);
    return z;
  }

 private:
  struct zone_state {
    rapl_zone zone;
    std::uint64_t last_uj;
    std::uint64_t accumulated_uj;
  };

  std::uint64_t read_counter(const rapl_zone& z) const {
    const std::uint64_t value = detail::read_rapl_number(options_.reader, z.energy_file);
    if (value > z.range_uj)
      fail(z.energy_file.string(), " holds ", value, " uJ, above its max_energy_range_uj of ", z.range_uj,
           " (a malformed zone)");
    return value;
  }
  void sample_locked() {
    for (auto& s : states_) {
      const std::uint64_t now = read_counter(s.zone);
      // A smaller value means the counter passed max_energy_range_uj and restarted from zero.
      s.accumulated_uj += now >= s.last_uj ? now - s.last_uj : s.zone.range_uj - s.last_uj + now;
      s.last_uj = now;
    }
  }

  rapl_options options_;
  std::vector<zone_state> states_;
  std::mutex mutex_;
};

/**
 * @brief Opens RAPL on this machine (or the tree at options.root): discovers the zones, reads them,
 * and checks that every package counter advances.
 */
inline open_result open_rapl(const rapl_options& options = {}, const advance_check& check = {}) {
  try {
    auto m = std::make_unique<rapl_meter>(discover_rapl_zones(options), options);
    if (auto stuck = detail::check_advances(*m, check); !stuck.empty()) return {nullptr, std::move(stuck)};
    return {std::move(m), {}};
  } catch (const joule::error& e) {
    return {nullptr, e.what()};
  }
}

}  // namespace joule::energy
