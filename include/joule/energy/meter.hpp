#pragma once
/**
 * @file meter.hpp
 * @brief The meter interface: named energy domains, monotonic readings in joules with a
 * steady-clock timestamp, and a kind (measured or estimated) carried by every domain.
 *
 * A meter reports cumulative energy since it was opened, per domain ("package-0", "gpu:0", "cpu").
 * A domain is either counted in the meter's total or only shown beside it (a RAPL subzone is
 * already part of its package and is never added to it). The kind of a total is derived from the
 * domains it adds up: one estimated domain makes the whole total estimated, so a measured figure
 * can never silently contain an estimate.
 */
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <joule/core/error.hpp>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace joule::energy {

using steady_clock = std::chrono::steady_clock;
using seconds = std::chrono::duration<double>;

/** @brief Where a figure comes from: a hardware or driver sensor, or joule's documented model. */
enum class meter_kind { measured, estimated };

/** @brief "measured" or "estimated", the words every report uses. */
inline const char* to_string(meter_kind kind) noexcept {
  return kind == meter_kind::measured ? "measured" : "estimated";
}

/** @brief The estimated kind wins: combining anything with an estimate gives an estimate. */
inline meter_kind combine(meter_kind a, meter_kind b) noexcept {
  return a == meter_kind::estimated || b == meter_kind::estimated ? meter_kind::estimated : meter_kind::measured;
}

/** @brief One energy domain of a meter, as described before any reading. */
struct domain_info {
  std::string name;  ///< "package-0", "package-0/dram", "psys", "gpu:0", "cpu"
  meter_kind kind = meter_kind::measured;
  bool in_total = true;  ///< false: overlaps a counted domain (a subzone), shown but never added
  std::string source;    ///< the file, event or API it is read from, for reports
};

/** @brief One domain's cumulative energy in a reading. */
struct domain_reading {
  std::string name;
  double joules = 0;  ///< cumulative since the meter was opened; never decreases
  meter_kind kind = meter_kind::measured;
  bool in_total = true;
};

/** @brief All domains of a meter read at one instant. */
struct energy_reading {
  std::vector<domain_reading> domains;
  steady_clock::time_point when{};

  /** @brief The sum of the domains counted in the total, in joules. */
  [[nodiscard]] double total_joules() const noexcept {
    double sum = 0;
    for (const auto& d : domains)
      if (d.in_total) sum += d.joules;
    return sum;
  }
  /** @brief Estimated when any domain counted in the total is estimated, else measured. */
  [[nodiscard]] meter_kind kind() const noexcept {
    meter_kind k = meter_kind::measured;
    for (const auto& d : domains)
      if (d.in_total) k = combine(k, d.kind);
    return k;
  }
  /** @brief The domain called @p name, or nullptr. */
  [[nodiscard]] const domain_reading* find(std::string_view name) const noexcept {
    for (const auto& d : domains)
      if (d.name == name) return &d;
    return nullptr;
  }
};

/** @brief Energy used between two readings of the same meter, in joules (total domains only). */
inline double joules_between(const energy_reading& before, const energy_reading& after) noexcept {
  return after.total_joules() - before.total_joules();
}

/** @brief Seconds between two readings, from their steady-clock timestamps. */
inline double seconds_between(const energy_reading& before, const energy_reading& after) noexcept {
  return seconds(after.when - before.when).count();
}

/**
 * @brief How finely a meter resolves energy: the smallest step of its counter and how often the
 * counter is refreshed. measure() sizes its windows from both.
 */
struct meter_resolution {
  double joules = 0;           ///< smallest energy step the counter shows
  seconds update_interval{0};  ///< how often the underlying counter or sensor is refreshed
};

/**
 * @brief An energy meter: a set of domains read together.
 *
 * read() and poll() may be called from different threads (measure() polls from a
 * sampling_thread); implementations guard their state with a mutex.
 */
class meter {
 public:
  virtual ~meter() = default;

  /** @brief Short name of the backend: "rapl", "perf-power", "nvml", "estimate", "rapl + nvml". */
  [[nodiscard]] virtual std::string name() const = 0;
  /** @brief The domains every reading will carry, in the same order. */
  [[nodiscard]] virtual std::vector<domain_info> domains() const = 0;
  /** @brief Reads every domain now. Throws joule::error if a sensor that worked stops working. */
  virtual energy_reading read() = 0;
  /** @brief The counter's step and refresh interval (see meter_resolution). */
  [[nodiscard]] virtual meter_resolution resolution() const = 0;
  /**
   * @brief How often poll() must run for readings to stay correct (counters that wrap, power
   * samples to integrate); zero when the meter needs no polling.
   */
  [[nodiscard]] virtual seconds poll_interval() const { return seconds{0}; }
  /** @brief Updates internal accumulators between reads (see poll_interval()). */
  virtual void poll() {}
  /** @brief One line saying how the meter gets its figures, for reports. */
  [[nodiscard]] virtual std::string description() const { return name(); }

  /** @brief Estimated when any domain counted in the total is estimated, else measured. */
  [[nodiscard]] meter_kind kind() const {
    meter_kind k = meter_kind::measured;
    for (const auto& d : domains())
      if (d.in_total) k = combine(k, d.kind);
    return k;
  }
  /** @brief "measured (rapl)" or "estimated (estimate)": the label every figure carries. */
  [[nodiscard]] std::string label() const { return std::string(to_string(kind())) + " (" + name() + ")"; }
};

/**
 * @brief A backend's answer when asked to open: a working meter, or the reason it cannot.
 */
struct open_result {
  std::unique_ptr<meter> opened;  ///< null when unavailable
  std::string reason;             ///< why it is unavailable (empty when opened)
  explicit operator bool() const noexcept { return opened != nullptr; }
};

/**
 * @brief How a probe checks that a counter advances: read, wait, read again, up to max_waits.
 *
 * Tests replace wait with a function that rewrites the fake counter file, so probing a fake tree
 * takes no time and never depends on timing.
 */
struct advance_check {
  std::function<void()> wait = [] { std::this_thread::sleep_for(std::chrono::milliseconds(5)); };
  int max_waits = 100;  ///< 100 x 5 ms: longer than the slowest refresh (NVML, about 100 ms)
};

namespace detail {

/**
 * @brief Reads @p m, then waits until every counted domain has advanced.
 * @return empty when all advanced, else the reason naming the domains that did not.
 */
inline std::string check_advances(meter& m, const advance_check& check) {
  const energy_reading first = m.read();
  energy_reading last = first;
  std::vector<std::string> stuck;
  for (int i = 0; i < std::max(check.max_waits, 1); ++i) {
    if (check.wait) check.wait();
    last = m.read();
    stuck.clear();
    for (std::size_t d = 0; d < last.domains.size() && d < first.domains.size(); ++d)
      if (last.domains[d].in_total && !(last.domains[d].joules > first.domains[d].joules))
        stuck.push_back(last.domains[d].name);
    if (stuck.empty()) return {};
  }
  std::ostringstream out;
  out << "the counter did not advance (";
  for (std::size_t i = 0; i < stuck.size(); ++i) out << (i ? ", " : "") << stuck[i];
  out << " unchanged over " << std::max(check.max_waits, 1) << " reads, "
      << static_cast<long long>(seconds(last.when - first.when).count() * 1000)
      << " ms): a frozen or fake sensor, as some VMs expose";
  return out.str();
}

}  // namespace detail

/**
 * @brief Calls meter::poll() every interval on a background thread until destroyed or stopped.
 *
 * Used for counters that wrap faster than a window (RAPL) and for power sensors whose samples are
 * integrated (NVML without an energy counter). An interval of zero starts no thread. An exception
 * thrown by poll() stops the thread and is rethrown by stop().
 */
class sampling_thread {
 public:
  sampling_thread(meter& m, seconds interval) : meter_(m), interval_(interval) {
    if (interval_.count() > 0) thread_ = std::thread([this] { loop(); });
  }
  sampling_thread(const sampling_thread&) = delete;
  sampling_thread& operator=(const sampling_thread&) = delete;
  ~sampling_thread() { halt(); }

  /** @brief Stops polling and rethrows what poll() threw, if anything. */
  void stop() {
    halt();
    if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
  }
  /** @brief Whether a thread is polling. */
  [[nodiscard]] bool running() const noexcept { return thread_.joinable(); }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (wake_.wait_for(lock, interval_, [this] { return stopping_; })) break;
      lock.unlock();
      try {
        meter_.poll();
      } catch (...) {
        lock.lock();
        failure_ = std::current_exception();
        return;
      }
      lock.lock();
    }
  }
  void halt() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  meter& meter_;
  seconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::exception_ptr failure_;
  std::thread thread_;
};

/**
 * @brief Several meters read as one (the CPU meter and the GPU meter): their domains side by side.
 *
 * Each domain keeps its own kind, so an estimated CPU beside a measured GPU makes the total
 * estimated while the GPU domain stays measured.
 */
class combined_meter final : public meter {
 public:
  explicit combined_meter(std::vector<std::unique_ptr<meter>> parts) : parts_(std::move(parts)) {
    require(!parts_.empty(), "energy::combined_meter: needs at least one meter");
    for (const auto& p : parts_) require(p != nullptr, "energy::combined_meter: a meter is null");
  }

  [[nodiscard]] std::string name() const override {
    std::string n;
    for (const auto& p : parts_) n += (n.empty() ? "" : " + ") + p->name();
    return n;
  }
  [[nodiscard]] std::vector<domain_info> domains() const override {
    std::vector<domain_info> all;
    for (const auto& p : parts_) {
      auto d = p->domains();
      all.insert(all.end(), d.begin(), d.end());
    }
    return all;
  }
  energy_reading read() override {
    energy_reading all;
    for (const auto& p : parts_) {
      auto r = p->read();
      all.domains.insert(all.domains.end(), r.domains.begin(), r.domains.end());
    }
    all.when = steady_clock::now();
    return all;
  }
  [[nodiscard]] meter_resolution resolution() const override {
    meter_resolution coarsest;
    for (const auto& p : parts_) {
      const auto r = p->resolution();
      coarsest.joules = std::max(coarsest.joules, r.joules);
      coarsest.update_interval = std::max(coarsest.update_interval, r.update_interval);
    }
    return coarsest;
  }
  [[nodiscard]] seconds poll_interval() const override {
    seconds shortest{0};
    for (const auto& p : parts_) {
      const auto i = p->poll_interval();
      if (i.count() > 0 && (shortest.count() == 0 || i < shortest)) shortest = i;
    }
    return shortest;
  }
  void poll() override {
    for (const auto& p : parts_) p->poll();
  }
  [[nodiscard]] std::string description() const override {
    std::string d;
    for (const auto& p : parts_) d += (d.empty() ? "" : "; ") + p->description();
    return d;
  }

  /** @brief The meters combined, in order. */
  [[nodiscard]] const std::vector<std::unique_ptr<meter>>& parts() const noexcept { return parts_; }

 private:
  std::vector<std::unique_ptr<meter>> parts_;
};

}  // namespace joule::energy
