#pragma once
/**
 * @file nvml.hpp
 * @brief NVIDIA GPUs through NVML, loaded with dlopen at run time (no link-time dependency).
 *
 * Per GPU, joule reads nvmlDeviceGetTotalEnergyConsumption (millijoules since the driver loaded,
 * Volta and newer) where the driver supports it. Where it answers NVML_ERROR_NOT_SUPPORTED, joule
 * integrates nvmlDeviceGetPowerUsage samples (milliwatts) with the trapezoid rule; the meter then
 * asks to be polled every power_sample_interval, and measure() runs a sampling_thread that does so.
 * Both figures come from the board's own sensor, so both are labelled measured; the domain's
 * source says which method was used.
 *
 * joule declares the handful of NVML entry points it calls itself (their C signatures are stable
 * across drivers), so neither the NVML header nor the library is needed to build.
 */
#include <dlfcn.h>

#include <cstdint>
#include <functional>
#include <joule/core/error.hpp>
#include <joule/energy/meter.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace joule::energy {

/** @brief NVML_SUCCESS. */
inline constexpr int kNvmlSuccess = 0;
/** @brief NVML_ERROR_NOT_SUPPORTED: the device lacks the queried feature. */
inline constexpr int kNvmlErrorNotSupported = 3;
/**
 * @brief How often NVML's energy counter and power reading are refreshed: 100 ms, as measured on
 * an H100 with tests/energy/energy_check (docs/energy.md) and reported for other recent
 * data-centre GPUs by Yang, Adamek and Armour (SC'24). measure() sizes its windows from it.
 */
inline constexpr double kNvmlUpdateSeconds = 0.1;

/** @brief Where NVML is loaded from and how power is sampled where integration is needed. */
struct nvml_options {
  std::string library = "libnvidia-ml.so.1";
  /** @brief Interval between power samples when a GPU has no energy counter. */
  seconds power_sample_interval{0.02};
  /** @brief Integrate power even where the energy counter works (to compare the two methods). */
  bool force_power_integration = false;
  /** @brief The clock that timestamps power samples; tests inject a fake one. */
  std::function<steady_clock::time_point()> now = [] { return steady_clock::now(); };
};

namespace detail {

/** @brief libnvidia-ml loaded and initialised; shut down and unloaded when the last user goes. */
class nvml_library {
 public:
  using device_t = void*;  // nvmlDevice_t is an opaque pointer
  using init_fn = int (*)();
  using shutdown_fn = int (*)();
  using count_fn = int (*)(unsigned*);
  using handle_fn = int (*)(unsigned, device_t*);
  using name_fn = int (*)(device_t, char*, unsigned);
  using energy_fn = int (*)(device_t, unsigned long long*);
  using power_fn = int (*)(device_t, unsigned*);
  using error_string_fn = const char* (*)(int);

  /** @brief dlopen()s @p path and calls nvmlInit_v2; throws joule::error with the reason. */
  explicit nvml_library(const std::string& path) : path_(path) {
    dlerror();
    handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      const char* why = dlerror();
      fail("cannot load ", path, ": ", why ? why : "unknown dlopen error",
           " (no NVIDIA driver here, or its library is not on the loader's path)");
    }
    try {
      init = symbol<init_fn>("nvmlInit_v2");
      shutdown = symbol<shutdown_fn>("nvmlShutdown");
      device_count = symbol<count_fn>("nvmlDeviceGetCount_v2");
      device_handle = symbol<handle_fn>("nvmlDeviceGetHandleByIndex_v2");
      device_name = symbol<name_fn>("nvmlDeviceGetName");
      power_usage = symbol<power_fn>("nvmlDeviceGetPowerUsage");
      error_text = symbol<error_string_fn>("nvmlErrorString");
      // Older drivers (before the Volta-era API) lack the energy counter; power is still there.
      total_energy = reinterpret_cast<energy_fn>(::dlsym(handle_, "nvmlDeviceGetTotalEnergyConsumption"));
      if (const int rc = init(); rc != kNvmlSuccess) fail("nvmlInit_v2 failed: ", describe(rc));
    } catch (...) {
      ::dlclose(handle_);
      throw;
    }
  }
  nvml_library(const nvml_library&) = delete;
  nvml_library& operator=(const nvml_library&) = delete;
  ~nvml_library() {
    shutdown();
    ::dlclose(handle_);
  }

  /** @brief "Not Supported (NVML error 3)". */
  [[nodiscard]] std::string describe(int rc) const {
    const char* text = error_text ? error_text(rc) : nullptr;
    return std::string(text ? text : "unknown error") + " (NVML error " + std::to_string(rc) + ")";
  }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

  init_fn init = nullptr;
  shutdown_fn shutdown = nullptr;
  count_fn device_count = nullptr;
  handle_fn device_handle = nullptr;
  name_fn device_name = nullptr;
  energy_fn total_energy = nullptr;
  power_fn power_usage = nullptr;
  error_string_fn error_text = nullptr;

 private:
  template <class F>
  F symbol(const char* name) {
    void* p = ::dlsym(handle_, name);
    if (!p) fail(path_, " has no symbol ", name, " (not an NVML library, or a driver too old for joule)");
    return reinterpret_cast<F>(p);
  }

  std::string path_;
  void* handle_ = nullptr;
};

}  // namespace detail

/** @brief Energy of every NVIDIA GPU NVML sees, one domain "gpu:N" each. */
class nvml_meter final : public meter {
 public:
  /**
   * @brief Loads NVML and picks each GPU's method.
   * @throws joule::error when the library cannot be loaded or initialised, or no GPU can be metered.
   */
  explicit nvml_meter(nvml_options options = {}) : options_(std::move(options)) {
    lib_ = std::make_shared<detail::nvml_library>(options_.library);
    unsigned count = 0;
    if (const int rc = lib_->device_count(&count); rc != kNvmlSuccess)
      fail("nvmlDeviceGetCount_v2 failed: ", lib_->describe(rc));
    if (count == 0) fail("NVML sees no GPU");
    for (unsigned i = 0; i < count; ++i) {
      std::string why;
      if (!add_device(i, why)) skipped_.push_back("gpu:" + std::to_string(i) + ": " + why);
    }
    if (devices_.empty()) {
      std::string all;
      for (const auto& s : skipped_) all += (all.empty() ? "" : "; ") + s;
      fail("no GPU can be metered: ", all);
    }
  }

  [[nodiscard]] std::string name() const override { return "nvml"; }
  [[nodiscard]] std::vector<domain_info> domains() const override {
    std::vector<domain_info> d;
    for (const auto& g : devices_) d.push_back({g.domain, meter_kind::measured, true, source(g)});
    return d;
  }
  energy_reading read() override {
    std::lock_guard lock(mutex_);
    energy_reading r;
    for (auto& g : devices_) {
      if (g.counter)
        r.domains.push_back(
            {g.domain, static_cast<double>(read_energy_mj(g) - g.start_mj) * 1e-3, meter_kind::measured, true});
      else {
        sample_power(g);
        r.domains.push_back({g.domain, g.integrated_j, meter_kind::measured, true});
      }
    }
    r.when = steady_clock::now();
    return r;
  }
  [[nodiscard]] meter_resolution resolution() const override { return {1e-3, seconds{kNvmlUpdateSeconds}}; }
  /** @brief power_sample_interval when some GPU integrates power, else zero. */
  [[nodiscard]] seconds poll_interval() const override {
    for (const auto& g : devices_)
      if (!g.counter) return options_.power_sample_interval;
    return seconds{0};
  }
  void poll() override {
    std::lock_guard lock(mutex_);
    for (auto& g : devices_)
      if (!g.counter) sample_power(g);
  }
  [[nodiscard]] std::string description() const override {
    std::string d = "nvml: " + lib_->path();
    for (const auto& g : devices_) d += "; " + g.domain + " " + g.gpu_name + " (" + source(g) + ")";
    for (const auto& s : skipped_) d += "; not metered: " + s;
    return d;
  }
  /**
   * @brief The power of GPU @p domain now, in watts, from nvmlDeviceGetPowerUsage (on a GPU that
   * integrates power this is also one more sample of the integral).
   */
  double power_watts(const std::string& domain) {
    std::lock_guard lock(mutex_);
    for (auto& g : devices_) {
      if (g.domain != domain) continue;
      if (!g.counter) {
        sample_power(g);
        return g.last_watts;
      }
      unsigned milliwatts = 0;
      if (const int rc = lib_->power_usage(g.handle, &milliwatts); rc != kNvmlSuccess)
        fail("nvmlDeviceGetPowerUsage(", g.domain, ") failed: ", lib_->describe(rc));
      return milliwatts * 1e-3;
    }
    fail("energy::nvml_meter: no domain ", domain);
  }
  /** @brief True when GPU @p domain ("gpu:0") integrates power samples instead of reading a counter. */
  [[nodiscard]] bool integrates_power(const std::string& domain) const {
    for (const auto& g : devices_)
      if (g.domain == domain) return !g.counter;
    fail("energy::nvml_meter: no domain ", domain);
  }

 private:
  struct gpu {
    std::string domain;
    std::string gpu_name;
    detail::nvml_library::device_t handle = nullptr;
    bool counter = true;
    unsigned long long start_mj = 0;
    double integrated_j = 0;
    double last_watts = 0;
    steady_clock::time_point last_time{};
  };

  bool add_device(unsigned index, std::string& why) {
    gpu g;
    g.domain = "gpu:" + std::to_string(index);
    if (const int rc = lib_->device_handle(index, &g.handle); rc != kNvmlSuccess) {
      why = "nvmlDeviceGetHandleByIndex_v2 failed: " + lib_->describe(rc);
      return false;
    }
    char name[96] = {};
    g.gpu_name =
        lib_->device_name(g.handle, name, sizeof name) == kNvmlSuccess ? std::string(name) : std::string("unnamed GPU");

    std::string counter_why = "nvmlDeviceGetTotalEnergyConsumption is missing from this driver";
    if (lib_->total_energy && !options_.force_power_integration) {
      const int rc = lib_->total_energy(g.handle, &g.start_mj);
      if (rc == kNvmlSuccess) {
        devices_.push_back(std::move(g));
        return true;
      }
      counter_why = "nvmlDeviceGetTotalEnergyConsumption: " + lib_->describe(rc);
      if (rc != kNvmlErrorNotSupported) {
        why = counter_why;
        return false;
      }
    }
    unsigned milliwatts = 0;
    if (const int rc = lib_->power_usage(g.handle, &milliwatts); rc != kNvmlSuccess) {
      why = counter_why + ", and nvmlDeviceGetPowerUsage: " + lib_->describe(rc);
      return false;
    }
    g.counter = false;
    g.last_watts = milliwatts * 1e-3;
    g.last_time = options_.now();
    devices_.push_back(std::move(g));
    return true;
  }
  unsigned long long read_energy_mj(const gpu& g) const {
    unsigned long long mj = 0;
    if (const int rc = lib_->total_energy(g.handle, &mj); rc != kNvmlSuccess)
      fail("nvmlDeviceGetTotalEnergyConsumption(", g.domain, ") failed: ", lib_->describe(rc));
    if (mj < g.start_mj) fail("the NVML energy counter of ", g.domain, " went backwards (driver reloaded?)");
    return mj;
  }
  void sample_power(gpu& g) {
    unsigned milliwatts = 0;
    if (const int rc = lib_->power_usage(g.handle, &milliwatts); rc != kNvmlSuccess)
      fail("nvmlDeviceGetPowerUsage(", g.domain, ") failed: ", lib_->describe(rc));
    const auto t = options_.now();
    const double watts = milliwatts * 1e-3;
    g.integrated_j += 0.5 * (g.last_watts + watts) * seconds(t - g.last_time).count();
    g.last_watts = watts;
    g.last_time = t;
  }
  std::string source(const gpu& g) const {
    if (g.counter) return "NVML total energy counter";
    return "NVML power samples every " +
           std::to_string(static_cast<int>(options_.power_sample_interval.count() * 1000)) + " ms, trapezoid rule";
  }

  nvml_options options_;
  std::shared_ptr<detail::nvml_library> lib_;
  std::vector<gpu> devices_;
  std::vector<std::string> skipped_;
  std::mutex mutex_;
};

/** @brief Opens NVML and checks that every GPU's figure advances. */
inline open_result open_nvml(const nvml_options& options = {}, const advance_check& check = {}) {
  try {
    auto m = std::make_unique<nvml_meter>(options);
    if (auto stuck = detail::check_advances(*m, check); !stuck.empty()) return {nullptr, std::move(stuck)};
    return {std::move(m), {}};
  } catch (const joule::error& e) {
    return {nullptr, e.what()};
  }
}

}  // namespace joule::energy
