#pragma once
/**
 * @file perf_power.hpp
 * @brief The perf "power" PMU: the same RAPL counters as powercap, read through perf_event_open.
 *
 * Layout (kernel arch/x86/events/rapl.c):
 *
 *     /sys/bus/event_source/devices/power/type                 dynamic PMU type number, e.g. "23"
 *     /sys/bus/event_source/devices/power/cpumask              one CPU per package, e.g. "0,36"
 *     /sys/bus/event_source/devices/power/format/event         "config:0-7"
 *     /sys/bus/event_source/devices/power/events/energy-pkg    "event=0x02"
 *     /sys/bus/event_source/devices/power/events/energy-pkg.scale   "2.3283064365386962890625e-10"
 *     /sys/bus/event_source/devices/power/events/energy-pkg.unit    "Joules"
 *
 * Each package's counter is opened system-wide on the CPU the cpumask names for it. The kernel
 * extends the 32-bit hardware counter to 64 bits itself (it polls it on a timer), so this meter
 * needs no polling and sees no wraparound. Opening system-wide events needs CAP_PERFMON (or
 * CAP_SYS_ADMIN) or kernel.perf_event_paranoid <= 0.
 *
 * The syscalls are injectable (perf_syscalls) so the whole path, sysfs parsing to scaled joules,
 * is tested on a fake tree; the real syscall is also tested for the reason it gives when it fails.
 */
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <joule/core/error.hpp>
#include <joule/energy/meter.hpp>
#include <joule/energy/rapl.hpp>
#include <joule/energy/sysfs.hpp>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace joule::energy {

/** @brief The three system calls the meter makes, replaceable in tests. */
struct perf_syscalls {
  /** @brief Opens a system-wide counter on @p cpu: a file descriptor, or -errno. */
  std::function<int(const perf_event_attr&, int cpu)> open;
  /** @brief Reads the 64-bit count of @p fd into value: 0, or an errno value. */
  std::function<int(int fd, std::uint64_t& value)> read;
  std::function<void(int fd)> close;
};

/** @brief The real perf_event_open(2), read(2) and close(2). */
inline perf_syscalls system_perf_syscalls() {
  perf_syscalls s;
  s.open = [](const perf_event_attr& attr, int cpu) -> int {
    perf_event_attr copy = attr;
    const long fd = ::syscall(SYS_perf_event_open, &copy, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    return fd < 0 ? -errno : static_cast<int>(fd);
  };
  s.read = [](int fd, std::uint64_t& value) -> int {
    const ssize_t n = ::read(fd, &value, sizeof value);
    if (n == static_cast<ssize_t>(sizeof value)) return 0;
    return n < 0 ? errno : EIO;
  };
  s.close = [](int fd) { ::close(fd); };
  return s;
}

/** @brief Where and how to read the power PMU. Every default reads the real machine. */
struct perf_power_options {
  std::filesystem::path root = "/sys/bus/event_source/devices/power";
  /** @brief Also show energy-cores, energy-gpu, energy-ram, energy-psys (never added to the total). */
  bool include_subdomains = false;
  std::filesystem::path paranoid_file = "/proc/sys/kernel/perf_event_paranoid";
  file_reader reader = read_small_file;
  perf_syscalls syscalls = system_perf_syscalls();
};

/** @brief One event of the power PMU, as its sysfs files describe it. */
struct perf_power_event {
  std::string event;         ///< "energy-pkg"
  std::uint32_t type = 0;    ///< the PMU's perf_event_attr.type
  std::uint64_t config = 0;  ///< perf_event_attr.config built from the event's terms and the format files
  double scale = 0;          ///< joules per count (from the .scale file)
};

namespace detail {

inline std::string read_perf_file(const file_reader& reader, const std::filesystem::path& path) {
  const file_read r = reader(path);
  if (!r.ok()) fail("cannot read ", path.string(), ": ", errno_text(r.error));
  return std::string(trim(r.text));
}

/** @brief Places one "name=value" term of an event file into config using format/<name>. */
inline void apply_perf_term(const perf_power_options& o, std::string_view term, std::uint64_t& config,
                            const std::filesystem::path& event_file) {
  const auto eq = term.find('=');
  if (eq == std::string_view::npos) fail(event_file.string(), ": term '", term, "' is not name=value");
  const std::string name(trim(term.substr(0, eq)));
  const std::string_view text = trim(term.substr(eq + 1));
  const bool hex = text.starts_with("0x") || text.starts_with("0X");
  const auto value = parse_u64(text, hex ? 16 : 10);
  if (!value) fail(event_file.string(), ": term '", term, "' has no numeric value");

  // format/<name> says which config bits the term occupies, e.g. "config:0-7" or "config:21".
  unsigned low = 0, high = 7;
  const auto format_file = o.root / "format" / name;
  const file_read f = o.reader(format_file);
  if (f.ok()) {
    std::string_view spec = trim(f.text);
    if (!spec.starts_with("config:"))
      fail(format_file.string(), " holds ", quote_for_message(f.text), ", not config:<bits>");
    spec.remove_prefix(7);
    const auto dash = spec.find('-');
    const auto lo = parse_u64(spec.substr(0, dash));
    const auto hi = dash == std::string_view::npos ? lo : parse_u64(spec.substr(dash + 1));
    if (!lo || !hi || *hi < *lo || *hi > 63)
      fail(format_file.string(), " holds ", quote_for_message(f.text), ", not config:<bits>");
    low = static_cast<unsigned>(*lo);
    high = static_cast<unsigned>(*hi);
  } else if (name != "event") {
    fail("cannot read ", format_file.string(), ": ", errno_text(f.error), " (needed for the term '", term, "')");
  }
  const unsigned width = high - low + 1;
  if (width < 64 && *value >> width)
    fail(event_file.string(), ": '", term, "' does not fit config bits ", low, "-", high);
  config |= *value << low;
}

/** @brief The PMU's perf_event_paranoid setting as text, for messages ("2", or "unknown"). */
inline std::string perf_paranoid(const perf_power_options& o) {
  const file_read r = o.reader(o.paranoid_file);
  return r.ok() ? std::string(trim(r.text)) : std::string("unknown");
}

inline std::string perf_open_error(const perf_power_options& o, const std::string& event, int cpu, int error) {
  std::string reason =
      "perf_event_open(power/" + event + ", cpu " + std::to_string(cpu) + ") failed: " + errno_text(error);
  if (error == EACCES || error == EPERM)
    reason +=
        " (system-wide perf events need CAP_PERFMON or CAP_SYS_ADMIN, or kernel.perf_event_paranoid <= 0; it is " +
        perf_paranoid(o) + " here; a container's seccomp filter can also forbid the call)";
  else if (error == ENOSYS)
    reason += " (the kernel has no perf events, or a seccomp filter blocks the call)";
  else if (error == ENOENT || error == ENODEV || error == EINVAL || error == EOPNOTSUPP)
    reason += " (the kernel does not know this PMU type or event)";
  return reason;
}

}  // namespace detail

/**
 * @brief Reads one event of the power PMU from its sysfs files.
 * @throws joule::error naming the file when a file is missing or malformed, or the unit is not Joules.
 */
inline perf_power_event read_perf_power_event(const perf_power_options& o, const std::string& event) {
  perf_power_event e;
  e.event = event;
  const auto type_file = o.root / "type";
  const std::string type_text = detail::read_perf_file(o.reader, type_file);
  const auto type = detail::parse_u64(type_text);
  if (!type || *type > 0xffffffffu)
    fail(type_file.string(), " holds ", detail::quote_for_message(type_text), ", not a PMU type number");
  e.type = static_cast<std::uint32_t>(*type);

  const auto event_file = o.root / "events" / event;
  const std::string terms_text = detail::read_perf_file(o.reader, event_file);
  std::string_view terms = terms_text;
  if (terms.empty()) fail(event_file.string(), " is empty");
  while (!terms.empty()) {
    const auto comma = terms.find(',');
    detail::apply_perf_term(o, terms.substr(0, comma), e.config, event_file);
    terms = comma == std::string_view::npos ? std::string_view{} : terms.substr(comma + 1);
  }

  const auto scale_file = o.root / "events" / (event + ".scale");
  const std::string scale_text = detail::read_perf_file(o.reader, scale_file);
  const auto scale = detail::parse_double(scale_text);
  if (!scale || *scale <= 0)
    fail(scale_file.string(), " holds ", detail::quote_for_message(scale_text), ", not a positive scale");
  e.scale = *scale;

  const auto unit_file = o.root / "events" / (event + ".unit");
  const std::string unit = detail::read_perf_file(o.reader, unit_file);
  if (unit != "Joules")
    fail(unit_file.string(), " says ", detail::quote_for_message(unit), "; joule reads only events counted in Joules");
  return e;
}

/** @brief Energy counters of the power PMU, one per package and event, opened system-wide. */
class perf_power_meter final : public meter {
 public:
  /** @brief One counter to open: an event on a CPU, shown as a domain. */
  struct counter_spec {
    perf_power_event event;
    int cpu = 0;
    std::string domain;
    bool in_total = true;
  };

  /** @brief Opens every counter; throws joule::error with the syscall's reason when one fails. */
  perf_power_meter(std::vector<counter_spec> specs, perf_power_options options) : options_(std::move(options)) {
    require(!specs.empty(), "energy::perf_power_meter: no counters to open");
    try {
      for (auto& spec : specs) {
        perf_event_attr attr{};
        attr.size = sizeof attr;
        attr.type = spec.event.type;
        attr.config = spec.event.config;
        const int fd = options_.syscalls.open(attr, spec.cpu);
        if (fd < 0) fail(detail::perf_open_error(options_, spec.event.event, spec.cpu, -fd));
        counters_.push_back({std::move(spec), fd, 0});
        counters_.back().start = read_count(counters_.back());
      }
    } catch (...) {
      close_all();
      throw;
    }
  }
  perf_power_meter(const perf_power_meter&) = delete;
  perf_power_meter& operator=(const perf_power_meter&) = delete;
  ~perf_power_meter() override { close_all(); }

  [[nodiscard]] std::string name() const override { return "perf-power"; }
  [[nodiscard]] std::vector<domain_info> domains() const override {
    std::vector<domain_info> d;
    for (const auto& c : counters_)
      d.push_back({c.spec.domain, meter_kind::measured, c.spec.in_total,
                   "perf power/" + c.spec.event.event + " on cpu " + std::to_string(c.spec.cpu)});
    return d;
  }
  energy_reading read() override {
    std::lock_guard lock(mutex_);
    energy_reading r;
    for (const auto& c : counters_) {
      const std::uint64_t now = read_count(c);
      r.domains.push_back({c.spec.domain, static_cast<double>(now - c.start) * c.spec.event.scale, meter_kind::measured,
                           c.spec.in_total});
    }
    r.when = steady_clock::now();
    return r;
  }
  [[nodiscard]] meter_resolution resolution() const override {
    return {kRaplEnergyUnitJoules, seconds{kRaplUpdateSeconds}};
  }
  [[nodiscard]] std::string description() const override {
    std::string list;
    for (const auto& c : counters_) list += (list.empty() ? "" : ", ") + c.spec.domain;
    return "perf-power: perf_event_open on the power PMU at " + options_.root.string() + ", domains " + list;
  }

 private:
  struct open_counter {
    counter_spec spec;
    int fd;
    std::uint64_t start;
  };

  std::uint64_t read_count(const open_counter& c) const {
    std::uint64_t value = 0;
    if (const int error = options_.syscalls.read(c.fd, value); error != 0)
      fail("reading perf counter power/", c.spec.event.event, " on cpu ", c.spec.cpu,
           " failed: ", detail::errno_text(error));
    if (value < c.start) fail("perf counter power/", c.spec.event.event, " on cpu ", c.spec.cpu, " went backwards");
    return value;
  }
  void close_all() noexcept {
    for (const auto& c : counters_)
      if (options_.syscalls.close) options_.syscalls.close(c.fd);
    counters_.clear();
  }

  perf_power_options options_;
  std::vector<open_counter> counters_;
  std::mutex mutex_;
};

/**
 * @brief The counters to open on this machine: energy-pkg on each CPU of the PMU's cpumask (one
 * per package), plus the sub-domains when asked.
 * @throws joule::error naming the file when the PMU is absent or its files are malformed.
 */
inline std::vector<perf_power_meter::counter_spec> discover_perf_power(const perf_power_options& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(o.root, ec))
    fail("no power PMU at ", o.root.string(),
         " (the kernel exposes no RAPL perf events here: a VM, a CPU without RAPL, or a kernel without the RAPL perf "
         "driver)");

  std::vector<int> cpus{0};
  const auto mask_file = o.root / "cpumask";
  if (const file_read mask = o.reader(mask_file); mask.ok()) {
    const auto parsed = detail::parse_cpu_list(mask.text);
    if (!parsed || parsed->empty())
      fail(mask_file.string(), " holds ", detail::quote_for_message(mask.text), ", not a CPU list");
    cpus = *parsed;
  }
  const auto has = [&](const std::string& event) { return fs::exists(o.root / "events" / event, ec); };

  std::vector<perf_power_meter::counter_spec> specs;
  if (has("energy-pkg")) {
    const auto pkg = read_perf_power_event(o, "energy-pkg");
    for (std::size_t k = 0; k < cpus.size(); ++k) {
      const std::string package = "package-" + std::to_string(k);
      specs.push_back({pkg, cpus[k], package, true});
      if (!o.include_subdomains) continue;
      for (const auto& [event, sub] :
           {std::pair{"energy-cores", "core"}, {"energy-gpu", "uncore"}, {"energy-ram", "dram"}})
        if (has(event)) specs.push_back({read_perf_power_event(o, event), cpus[k], package + "/" + sub, false});
    }
  }
  if (has("energy-psys") && (specs.empty() || o.include_subdomains))
    specs.push_back({read_perf_power_event(o, "energy-psys"), cpus.front(), "psys", specs.empty()});
  if (specs.empty()) fail("the power PMU at ", o.root.string(), " has no energy-pkg or energy-psys event");
  return specs;
}

/** @brief Opens the power PMU's counters and checks that every package counter advances. */
inline open_result open_perf_power(const perf_power_options& options = {}, const advance_check& check = {}) {
  try {
    auto m = std::make_unique<perf_power_meter>(discover_perf_power(options), options);
    if (auto stuck = detail::check_advances(*m, check); !stuck.empty()) return {nullptr, std::move(stuck)};
    return {std::move(m), {}};
  } catch (const joule::error& e) {
    return {nullptr, e.what()};
  }
}

}  // namespace joule::energy
