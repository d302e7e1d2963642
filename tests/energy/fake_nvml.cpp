// A stand-in for libnvidia-ml.so.1: the NVML entry points joule calls, with behaviour set by the
// tests through fake_nvml_configure / fake_nvml_set_* (found with dlsym on the same handle joule
// dlopen()s, so both see one state). Energy and power are whatever the test last set, so every
// figure a test checks is exact.
#include <cstring>

namespace {

constexpr int kSuccess = 0;
constexpr int kNotSupported = 3;
constexpr int kInvalidArgument = 2;
constexpr int kDriverNotLoaded = 9;
constexpr unsigned kMaxDevices = 4;

// Modes, shared with tests/energy/fake_nvml.hpp.
enum mode : int { supported = 0, energy_not_supported = 1, init_fails = 2, nothing_supported = 3, mixed = 4 };

struct device {
  unsigned long long energy_mj = 0;
  unsigned power_mw = 0;
};

int g_mode = supported;
unsigned g_count = 1;
device g_devices[kMaxDevices];
int g_inits = 0;
int g_shutdowns = 0;

bool energy_supported(unsigned index) {
  if (g_mode == supported) return true;
  if (g_mode == mixed) return index == 0;
  return false;
}

int index_of(void* handle, unsigned& index) {
  for (unsigned i = 0; i < g_count; ++i)
    if (handle == &g_devices[i]) {
      index = i;
      return kSuccess;
    }
  return kInvalidArgument;
}

}  // namespace

extern "C" {

void fake_nvml_configure(int mode, unsigned count) {
  g_mode = mode;
  g_count = count < kMaxDevices ? count : kMaxDevices;
  for (auto& d : g_devices) d = device{};
  g_inits = g_shutdowns = 0;
}
void fake_nvml_set_energy(unsigned index, unsigned long long millijoules) { g_devices[index].energy_mj = millijoules; }
void fake_nvml_set_power(unsigned index, unsigned milliwatts) { g_devices[index].power_mw = milliwatts; }
int fake_nvml_live_inits() { return g_inits - g_shutdowns; }

int nvmlInit_v2() {
  if (g_mode == init_fails) return kDriverNotLoaded;
  ++g_inits;
  return kSuccess;
}
int nvmlShutdown() {
  ++g_shutdowns;
  return kSuccess;
}
int nvmlDeviceGetCount_v2(unsigned* count) {
  *count = g_count;
  return kSuccess;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned index, void** handle) {
  if (index >= g_count) return kInvalidArgument;
  *handle = &g_devices[index];
  return kSuccess;
}
int nvmlDeviceGetName(void* handle, char* name, unsigned length) {
  unsigned index = 0;
  if (index_of(handle, index) != kSuccess) return kInvalidArgument;
  const char text[] = "Fake GPU";
  if (length < sizeof text) return kInvalidArgument;
  std::memcpy(name, text, sizeof text);
  return kSuccess;
}
int nvmlDeviceGetTotalEnergyConsumption(void* handle, unsigned long long* energy) {
  unsigned index = 0;
  if (index_of(handle, index) != kSuccess) return kInvalidArgument;
  if (!energy_supported(index)) return kNotSupported;
  *energy = g_devices[index].energy_mj;
  return kSuccess;
}
int nvmlDeviceGetPowerUsage(void* handle, unsigned* power) {
  unsigned index = 0;
  if (index_of(handle, index) != kSuccess) return kInvalidArgument;
  if (g_mode == nothing_supported) return kNotSupported;
  *power = g_devices[index].power_mw;
  return kSuccess;
}
const char* nvmlErrorString(int result) {
  switch (result) {
    case kSuccess:
      return "Success";
    case kInvalidArgument:
      return "Invalid Argument";
    case kNotSupported:
      return "Not Supported";
    case kDriverNotLoaded:
      return "Driver Not Loaded";
    default:
      return "Unknown Error";
  }
}

}  // extern "C"
