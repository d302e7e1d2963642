#pragma once
// The test side of tests/energy/fake_nvml.cpp: loads the fake library (its path comes from the
// JOULE_FAKE_NVML_PATH compile definition) and exposes its setters.
#include <dlfcn.h>

#include <stdexcept>
#include <string>

namespace joule_test {

class fake_nvml {
 public:
  enum mode : int { supported = 0, energy_not_supported = 1, init_fails = 2, nothing_supported = 3, mixed = 4 };

  static const char* path() { return JOULE_FAKE_NVML_PATH; }

  fake_nvml(mode m, unsigned devices) {
    handle_ = ::dlopen(path(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) throw std::runtime_error(std::string("cannot load the fake NVML: ") + dlerror());
    configure_ = symbol<void (*)(int, unsigned)>("fake_nvml_configure");
    set_energy_ = symbol<void (*)(unsigned, unsigned long long)>("fake_nvml_set_energy");
    set_power_ = symbol<void (*)(unsigned, unsigned)>("fake_nvml_set_power");
    live_inits_ = symbol<int (*)()>("fake_nvml_live_inits");
    configure_(m, devices);
  }
  fake_nvml(const fake_nvml&) = delete;
  fake_nvml& operator=(const fake_nvml&) = delete;
  ~fake_nvml() { ::dlclose(handle_); }

  void set_energy_mj(unsigned device, unsigned long long mj) { set_energy_(device, mj); }
  void set_power_mw(unsigned device, unsigned mw) { set_power_(device, mw); }
  /** @brief nvmlInit_v2 calls not yet matched by nvmlShutdown. */
  int live_inits() { return live_inits_(); }

 private:
  template <class F>
  F symbol(const char* name) {
    void* p = ::dlsym(handle_, name);
    if (!p) throw std::runtime_error(std::string("the fake NVML lacks ") + name);
    return reinterpret_cast<F>(p);
  }
  void* handle_ = nullptr;
  void (*configure_)(int, unsigned) = nullptr;
  void (*set_energy_)(unsigned, unsigned long long) = nullptr;
  void (*set_power_)(unsigned, unsigned) = nullptr;
  int (*live_inits_)() = nullptr;
};

}  // namespace joule_test
